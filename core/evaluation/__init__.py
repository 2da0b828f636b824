"""Evaluation and ablation: metrics, test sets, the confusion-matrix image.

    metrics.py         pure functions: top-k accuracy, per-class accuracy, confusion matrix
    test_set.py        which videos an evaluation scores; dataset labels -> model outputs
    evaluate.py        a checkpoint on a dataset, K clips per video: clip and video level
    confusion_plot.py  the confusion matrix as a PNG (matplotlib, Agg canvas)
"""

from core.evaluation.evaluate import DEFAULT_CLIPS_PER_VIDEO, Evaluation, VideoResult, evaluate, text_report
from core.evaluation.metrics import (
    confusion_matrix,
    group_accuracy,
    mean_class_accuracy,
    per_class_accuracy,
    predictions,
    ranking,
    row_normalised,
    summarise,
    topk_accuracy,
    topk_correct,
)
from core.evaluation.test_set import PARTS, TestSet, class_mapping, select_test_set

__all__ = [
    "DEFAULT_CLIPS_PER_VIDEO",
    "PARTS",
    "Evaluation",
    "TestSet",
    "VideoResult",
    "class_mapping",
    "confusion_matrix",
    "evaluate",
    "group_accuracy",
    "mean_class_accuracy",
    "per_class_accuracy",
    "predictions",
    "ranking",
    "row_normalised",
    "select_test_set",
    "summarise",
    "text_report",
    "topk_accuracy",
    "topk_correct",
]
