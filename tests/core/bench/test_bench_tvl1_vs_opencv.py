"""bench flow's TV-L1 reading: side by side with a baseline solver, and honest when OpenCV contrib is missing."""

from __future__ import annotations

import numpy as np
import pytest

import core.bench.flow_tvl1 as reading
from core.bench.timing import format_table
from core.flow.groundtruth import FlowPair
from core.flow.synthetic import smooth_texture


def _shifted_pair() -> FlowPair:
    texture = smooth_texture(80, 90, seed=2)
    flow = np.zeros((2, 64, 64), np.float32)
    flow[0] = 2.0  # texture column c sits at c - 10 in frame 0 and at c - 8 in frame 1: 2 px to the right
    frame0, frame1 = texture[8:72, 10:74], texture[8:72, 8:72]
    return FlowPair("shift", np.ascontiguousarray(frame0), np.ascontiguousarray(frame1), flow, np.ones((64, 64), bool))


class _ZeroFlow:
    """A stand-in baseline that always answers "no motion"."""

    def calc(self, a, b, _flow):  # noqa: ANN001, ANN201
        return np.zeros((*a.shape, 2), np.float32)


def test_table_compares_each_pair_and_counts_where_ours_is_at_or_under(monkeypatch: pytest.MonkeyPatch) -> None:
    pair = _shifted_pair()
    monkeypatch.setattr(reading, "dual_tvl1", lambda: _ZeroFlow())
    text = reading.accuracy_table([pair], format_table)
    assert "shift" in text and "at or under OpenCV's EPE on 1/1 pairs" in text


def test_table_says_when_opencv_was_not_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "dual_tvl1", lambda: None)
    text = reading.accuracy_table([_shifted_pair()], format_table)
    assert "was not measured" in text and "ours EPE" in text and "OpenCV DualTVL1 EPE" not in text
    line = reading.speed_line(np.stack([_shifted_pair().frame0, _shifted_pair().frame1] * 2), repeats=1)
    assert "s per pair" in line and "not installed" in line
