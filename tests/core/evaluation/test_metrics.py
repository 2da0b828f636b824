"""Metric functions on hand-made scores: exact values, ties, absent classes, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.evaluation.confusion_plot import confusion_png
from core.evaluation.metrics import (
    confusion_matrix,
    group_accuracy,
    mean_class_accuracy,
    per_class_accuracy,
    predictions,
    row_normalised,
    summarise,
    topk_accuracy,
    topk_correct,
)

# 5 samples, 4 classes.  Rankings: s0 [1,0,2,3]  s1 [2,3,1,0]  s2 [0,1,2,3] (all tied)
# s3 [3,2,1,0]  s4 [1,3,0,2]
SCORES = np.array(
    [
        [2.0, 5.0, 1.0, 0.0],
        [-1.0, 0.5, 3.0, 2.0],
        [7.0, 7.0, 7.0, 7.0],
        [0.1, 0.2, 0.3, 0.4],
        [1.0, 9.0, -3.0, 4.0],
    ]
)
LABELS = np.array([1, 3, 0, 0, 2])
NAMES = ("a", "b", "c", "d")


def test_topk_accuracy_exact_values():
    assert topk_correct(SCORES, LABELS, 1).tolist() == [True, False, True, False, False]
    assert topk_accuracy(SCORES, LABELS, 1) == pytest.approx(2 / 5)
    assert topk_accuracy(SCORES, LABELS, 2) == pytest.approx(3 / 5)  # s1: 3 is second
    assert topk_accuracy(SCORES, LABELS, 3) == pytest.approx(3 / 5)
    assert topk_accuracy(SCORES, LABELS, 4) == 1.0
    assert topk_accuracy(SCORES, LABELS, 5) == 1.0  # k is capped at the class count


def test_ties_go_to_the_lower_class_index():
    assert predictions(SCORES).tolist() == [1, 2, 0, 3, 1]
    tied = np.zeros((1, 6))
    assert topk_correct(tied, np.array([4]), 4).tolist() == [False]
    assert topk_correct(tied, np.array([3]), 4).tolist() == [True]


def test_confusion_matrix_and_per_class_accuracy():
    matrix = confusion_matrix(LABELS, predictions(SCORES), 4)
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[1, 1] = 1  # s0
    expected[3, 2] = 1  # s1
    expected[0, 0] = 1  # s2
    expected[0, 3] = 1  # s3
    expected[2, 1] = 1  # s4
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.dtype == np.int64 and matrix.sum() == 5
    per_class = per_class_accuracy(matrix)
    np.testing.assert_allclose(per_class, [0.5, 1.0, 0.0, 0.0])
    assert mean_class_accuracy(per_class) == pytest.approx(0.375)


def test_a_class_without_samples_is_nan_not_zero():
    matrix = confusion_matrix(np.array([0, 0, 2]), np.array([0, 1, 2]), 3)
    per_class = per_class_accuracy(matrix)
    assert per_class[0] == 0.5 and math.isnan(per_class[1]) and per_class[2] == 1.0
    assert mean_class_accuracy(per_class) == pytest.approx(0.75)  # the mean skips the absent class
    np.testing.assert_allclose(row_normalised(matrix), [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def test_group_accuracy_counts_only_the_groups_true_classes():
    # samples of classes {0, 1}: s0 (label 1, right), s2 (label 0, right), s3 (label 0, predicted 3: wrong)
    assert group_accuracy(SCORES, LABELS, [0, 1]) == pytest.approx(2 / 3)
    assert group_accuracy(SCORES, LABELS, [2, 3]) == 0.0
    assert math.isnan(group_accuracy(SCORES, LABELS, []))


def test_summarise_is_json_ready_with_exact_values():
    summary = summarise(SCORES, LABELS, NAMES)
    assert summary == {
        "count": 5,
        "top1": pytest.approx(0.4),
        "top5": 1.0,
        "mean_class_accuracy": pytest.approx(0.375),
        "per_class": {"a": 0.5, "b": 1.0, "c": 0.0, "d": 0.0},
        "support": {"a": 2, "b": 1, "c": 1, "d": 1},
    }
    empty = summarise(np.zeros((0, 4)), np.zeros(0, dtype=np.int64), NAMES)
    assert empty["count"] == 0 and empty["top1"] is None and empty["per_class"]["a"] is None


@pytest.mark.parametrize(
    "scores, labels, message",
    [
        (np.zeros(4), np.zeros(4, dtype=int), r"\(N, C\).*\(4,\)"),
        (np.zeros((3, 4)), np.zeros(2, dtype=int), r"matching scores \(3, 4\).*\(2,\)"),
        (np.zeros((2, 4)), np.array([0, 4]), r"\[0, 4\).*0 to 4"),
        (np.zeros((2, 4)), np.array([0.0, 1.0]), "integer"),
        (np.array([[0.0, np.nan]]), np.array([0]), "NaN"),
    ],
)
def test_bad_input_is_a_value_error_that_shows_it(scores, labels, message):
    with pytest.raises(ValueError, match=message):
        topk_accuracy(scores, labels, 1)


def test_confusion_and_summary_refuse_mismatched_sizes():
    with pytest.raises(ValueError, match="equal-length"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 2)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        confusion_matrix(np.array([0, 2]), np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="3 class names"):
        summarise(SCORES, LABELS, ("a", "b", "c"))
    with pytest.raises(ValueError, match="square"):
        per_class_accuracy(np.zeros((2, 3)))


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_confusion_png_grows_with_the_class_count():
    small = confusion_png(np.eye(10, dtype=int) * 3, [f"class{i}" for i in range(10)], title="ten")
    counts = confusion_png(np.eye(10, dtype=int) * 3, [f"class{i}" for i in range(10)], mode="counts")
    rng = np.random.default_rng(0)
    big_matrix = np.diag(rng.integers(1, 30, 101)) + (rng.random((101, 101)) < 0.02)
    big = confusion_png(big_matrix, [f"SomeLongClassName{i:03d}" for i in range(101)])
    (sw, sh), (bw, bh) = _png_size(small), _png_size(big)
    assert _png_size(counts) == (sw, sh) and counts != small
    assert bw > 3 * sw and bh > 3 * sh  # 101 classes get room for their labels
    with pytest.raises(ValueError, match=r"\(3, 3\).*4 class names"):
        confusion_png(np.eye(3), ["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="mode"):
        confusion_png(np.eye(2), ["a", "b"], mode="percent")
