"""Export legends: "label: low [bar] high" never draws the bar over the label or the values, at any width."""

from __future__ import annotations

import numpy as np
import pytest

from core.export.legend import ROW_HEIGHT, LegendEntry, legend_layout, legend_rows

# the bundled demo model's key on the bundled sample: the label alone is over half a 516 px export
ATTENTION = LegendEntry("RGB view: attention, layer 2, mean of heads", "0.00173", "0.0181",
                        np.linspace(0, 255, 64 * 3).reshape(64, 3).astype(np.uint8), unit="softmax weight")


def _check(lines, width: int) -> None:
    for line in lines:
        spans = sorted((x0, x1) for _kind, x0, x1, _text in line)
        assert all(0 <= x0 < x1 <= width for x0, x1 in spans), (spans, width)
        assert all(a1 < b0 for (_a0, a1), (b0, _b1) in zip(spans, spans[1:])), f"overlap at width {width}: {line}"
        assert sum(1 for kind, *_ in line if kind == "bar") <= 1


@pytest.mark.parametrize("width", [64, 90, 130, 200, 300, 516, 700, 1400])
def test_no_item_of_a_legend_line_overlaps_another(width: int) -> None:
    lines = legend_layout(ATTENTION, width)
    _check(lines, width)
    assert any(kind == "bar" for line in lines for kind, *_ in line)  # the colours are always shown
    strip = legend_rows([ATTENTION], width)
    assert strip.shape == (ROW_HEIGHT * len(lines), width, 3)


def test_a_wide_export_keeps_one_line_and_a_narrow_one_keeps_both_values_whole() -> None:
    sample = legend_layout(ATTENTION, 516)  # the sample's export, which hid the low value under the bar
    assert len(sample) == 1 and sample[0][0][3] == "RGB view: attention, layer 2, mean of heads: 0.00173"
    assert sample[0][-1][3] == "0.0181 softmax weight"
    narrower = legend_layout(ATTENTION, 400)
    assert [[text for _k, _x0, _x1, text in line] for line in narrower] == [
        ["RGB view: attention, layer 2, mean of heads:"], ["0.00173", "", "0.0181 softmax weight"]]
    narrow = legend_layout(ATTENTION, 130)
    assert narrow[0][0][3].endswith("...")  # the label shortened, never drawn under the bar
    assert narrow[1][0][3] == "0.00173 to 0.0181"  # the values whole (their unit gives way)
    assert [kind for kind, *_ in narrow[2]] == ["bar"]  # too narrow for values beside a bar: a line of its own


def test_the_bar_is_drawn_in_its_place_left_to_right() -> None:
    strip = legend_rows([ATTENTION], 400)
    _kind, x0, x1, _text = legend_layout(ATTENTION, 400)[1][1]
    row = strip[ROW_HEIGHT + 10, x0:x1]  # the second line carries the bar
    assert row[0].tolist() == ATTENTION.colours[0].tolist() and row[-1].tolist() == ATTENTION.colours[-1].tolist()
    assert np.all(np.diff(row[:, 0].astype(int)) >= 0)
