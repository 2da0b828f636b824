"""Classification metrics as pure functions of scores and labels.

Everything here takes plain arrays (``scores`` ``(N, C)``: logits or
probabilities, anything whose order ranks the classes; ``labels`` ``(N,)``
class indices) and returns numbers, so the same code scores a video-level
evaluation, a clip-level one and every ablation variant, and the tests can
check exact values on hand-made inputs.

Ties are broken towards the lower class index (a stable sort), so a row of
equal scores predicts class 0: the result never depends on the platform.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    if scores.ndim != 2 or scores.shape[1] < 1:
        raise ValueError(f"scores must be an (N, C) array with C >= 1, got shape {scores.shape}")
    if labels.ndim != 1 or labels.shape[0] != scores.shape[0]:
        raise ValueError(f"labels must be an (N,) array matching scores {scores.shape}, got shape {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise ValueError(f"labels must be in [0, {scores.shape[1]}), got values from {labels.min()} to {labels.max()}")
    if not np.isfinite(scores).all():
        raise ValueError("scores hold NaN or inf")
    return scores, labels.astype(np.int64)


def ranking(scores: np.ndarray) -> np.ndarray:
    """Class indices per row, best first; ties go to the lower index."""
    return np.argsort(-np.asarray(scores), axis=1, kind="stable")


def predictions(scores: np.ndarray) -> np.ndarray:
    """The top-1 class of each row (ties to the lower index)."""
    scores, _ = _check(scores, np.zeros(len(np.asarray(scores)), dtype=np.int64))
    return ranking(scores)[:, 0]


def topk_correct(scores: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per sample, whether the true class is among the ``k`` best (``k`` is capped at C)."""
    scores, labels = _check(scores, labels)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    top = ranking(scores)[:, : min(k, scores.shape[1])]
    return (top == labels[:, None]).any(axis=1)


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Share of samples whose true class is among the ``k`` best scores; NaN for no samples."""
    correct = topk_correct(scores, labels, k)
    return float(correct.mean()) if correct.size else math.nan


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """``(C, C)`` int64 counts: row = true class, column = predicted class."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    if labels.shape != predicted.shape or labels.ndim != 1:
        raise ValueError(f"labels and predictions must be equal-length 1-D arrays, got {labels.shape} and {predicted.shape}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    for name, values in (("labels", labels), ("predictions", predicted)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} must be in [0, {num_classes}), got values from {values.min()} to {values.max()}")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def per_class_accuracy(matrix: np.ndarray) -> np.ndarray:
    """Recall of each class from a confusion matrix; NaN where a class has no samples."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {matrix.shape}")
    support = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(matrix) / np.maximum(support, 1), np.nan)


def row_normalised(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows of classes without samples stay zero)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    support = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, support, out=np.zeros_like(matrix), where=support > 0)


def mean_class_accuracy(per_class: np.ndarray) -> float:
    """The mean of per-class accuracies over classes that have samples (NaN if none has)."""
    values = np.asarray(per_class, dtype=np.float64)
    present = values[~np.isnan(values)]
    return float(present.mean()) if present.size else math.nan


def group_accuracy(scores: np.ndarray, labels: np.ndarray, classes: Sequence[int]) -> float:
    """Top-1 accuracy on the samples whose true class is in ``classes`` (predictions
    may be any class: confusing MoveLeft with Red counts as wrong); NaN for none."""
    scores, labels = _check(scores, labels)
    keep = np.isin(labels, np.asarray(list(classes), dtype=np.int64))
    if not keep.any():
        return math.nan
    return float((ranking(scores[keep])[:, 0] == labels[keep]).mean())


def summarise(scores: np.ndarray, labels: np.ndarray, class_names: Sequence[str]) -> dict:
    """The JSON-ready summary every evaluation reports: ``count``, ``top1``, ``top5``,
    ``mean_class_accuracy``, ``per_class`` (name -> accuracy or ``None``) and ``support``
    (name -> samples).  ``top5`` is top-min(5, C).  No samples -> accuracies ``None``."""
    scores, labels = _check(scores, labels)
    if scores.shape[1] != len(class_names):
        raise ValueError(f"scores have {scores.shape[1]} classes but {len(class_names)} class names were given")
    matrix = confusion_matrix(labels, ranking(scores)[:, 0], len(class_names))
    per_class = per_class_accuracy(matrix)
    return {
        "count": int(len(labels)),
        "top1": _json_number(topk_accuracy(scores, labels, 1)),
        "top5": _json_number(topk_accuracy(scores, labels, 5)),
        "mean_class_accuracy": _json_number(mean_class_accuracy(per_class)),
        "per_class": {name: _json_number(value) for name, value in zip(class_names, per_class)},
        "support": {name: int(n) for name, n in zip(class_names, matrix.sum(axis=1))},
    }


def _json_number(value: float) -> float | None:
    """JSON has no NaN: an undefined accuracy is ``None`` (null)."""
    return None if math.isnan(value) else float(value)
