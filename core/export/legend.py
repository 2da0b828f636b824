"""Legends: what a colour means, for every heat map the viewer draws, on screen and in exports.

A :class:`LegendEntry` is plain data (a label, the value at each end, the
colours from left to right), built here from a quality scale or from a
prediction's maps and drawn by the viewer's legend widget or, for exports, by
:func:`legend_rows` (OpenCV text and gradient strips under the image).  One
entry per map and per view, so two warm maps sharing a view each have their key.

A prediction's heat maps are coloured per clip (the clip's minimum to its
maximum, :func:`core.export.prediction_heat.normalised_volume`); their entries
give that range in the map's own unit, so a legend says how strong the
brightest colour is, not just "high".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from core.export.heatmap import LEGEND_HEIGHT, HeatScale
from core.export.prediction_heat import FLOW, RGB, AttentionChoice, choice_for, heat_lut, heat_renderer

ROW_HEIGHT = LEGEND_HEIGHT
VIEW_NAMES = {RGB: "RGB", FLOW: "flow"}
# what each kind of map measures, and in what unit
KIND_WORDS = {
    "attention": ("attention", "softmax weight"),  # the class token's, one layer
    "rollout": ("attention rollout", "share of the input"),
    "relevance": ("relevance (Chefer et al.)", "a.u."),
    "cam": ("class activation", "a.u."),
}


@dataclass(frozen=True)
class LegendEntry:
    """One colour key: ``label`` from ``low`` (left) to ``high`` ``unit`` (right) over ``colours`` ((n, 3) uint8)."""

    label: str
    low: str
    high: str
    colours: np.ndarray
    note: str = ""  # the longer explanation (a tooltip)
    group: str = ""  # what several entries share (the map's name): a legend row may say it once ...
    short: str = ""  # ... and label each entry with this instead (the view's name)
    unit: str = ""

    @property
    def high_text(self) -> str:
        """The right end's text with its unit."""
        return f"{self.high} {self.unit}".strip()


def scale_entry(scale: HeatScale) -> LegendEntry:
    """A flow-quality scale's key: 0 to its fixed maximum (and above)."""
    return LegendEntry(
        scale.label, "0", f"{scale.maximum:g}+", np.ascontiguousarray(scale.lut()[:, :3]),
        f"{scale.label}: transparent near 0, saturated at {scale.maximum:g} {scale.unit} and above (a fixed scale: same colour, same value on every frame)",
        unit=scale.unit,
    )


def kind_words(maps: Any, choice: AttentionChoice) -> tuple[str, str]:
    """The drawn map's name (with its layer and head when it has them) and unit."""
    name, unit = KIND_WORDS.get(choice.kind, (choice.kind, "a.u."))
    if choice.kind == "attention" and hasattr(maps, "num_layers"):
        head = "mean of heads" if choice.head is None else f"head {choice.head + 1}"
        name = f"{name}, layer {choice.layer % maps.num_layers + 1}, {head}"
    return name, unit


def map_entries(maps: Any, choice: AttentionChoice) -> list[LegendEntry]:
    """One key per view the maps draw on: the drawn map's name, its clip-wide range and unit."""
    renderer, choice = heat_renderer(maps), choice_for(maps, choice)
    name, unit = kind_words(maps, choice)
    entries = []
    for view in (RGB, FLOW):
        stream = renderer.stream_for_view(maps, view)
        if stream is None:
            continue
        values = np.asarray(maps.volume(stream, choice.kind, layer=choice.layer, head=choice.head), dtype=np.float32)
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        seen = "" if stream == view else f" ({stream} stream)"
        entries.append(LegendEntry(
            f"{VIEW_NAMES[view]} view{seen}: {name}", f"{low:.3g}", f"{high:.3g}", np.ascontiguousarray(heat_lut()[:, :3]),
            f"{name} on the {VIEW_NAMES[view]} view, coloured from the clip's lowest value ({low:.3g}, transparent) to its highest "
            f"({high:.3g} {unit}, pale yellow): one scale for every frame of the clip",
            group=name, short=f"{VIEW_NAMES[view]}{seen}", unit=unit,
        ))
    return entries


# Drawn text: OpenCV's plain font at 0.4 (about 7 px a character); a colour bar is never narrower than these.
_FONT_SCALE = 0.4
_MIN_BAR = 48
_MIN_BAR_UNDER = 24
_GAP = 6
_Item = tuple[str, int, int, str]  # ("text" | "bar", left x, right x, the text)


def _text_width(text: str) -> int:
    import cv2

    return cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, _FONT_SCALE, 1)[0][0]


def _fitted(text: str, room: int) -> str:
    """``text`` cut short with "..." until it fits ``room`` pixels (whole when it fits)."""
    if _text_width(text) <= room:
        return text
    while text and _text_width(text + "...") > room:
        text = text[:-1]
    return text.rstrip() + "..."


def _scale_line(low: str, high: str, width: int, min_bar: int) -> list[_Item] | None:
    """"low [bar] high" across ``width`` (``None`` when the bar would be under ``min_bar`` px)."""
    low_w, high_w = _text_width(low), _text_width(high)
    bar_x0, bar_x1 = 4 + low_w + _GAP, width - 4 - high_w - _GAP
    if bar_x1 - bar_x0 < min_bar:
        return None
    return [("text", 4, 4 + low_w, low), ("bar", bar_x0, bar_x1, ""), ("text", bar_x1 + _GAP, bar_x1 + _GAP + high_w, high)]


def legend_layout(entry: LegendEntry, width: int) -> list[list[_Item]]:
    """The lines an entry takes at ``width`` px, none of whose items overlap: "label: low [bar] high" on
    one line where it fits, else the label (shortened if need be) over "low [bar] high", else over
    "low to high" and a bar of the whole width (a very narrow export)."""
    label = f"{entry.label}: {entry.low}"
    one = _scale_line(label, entry.high_text, width, _MIN_BAR)
    if one is not None:
        return [one]
    title = _fitted(f"{entry.label}:", width - 8)
    heading = [("text", 4, 4 + _text_width(title), title)]
    under = _scale_line(entry.low, entry.high_text, width, _MIN_BAR_UNDER)
    if under is not None:
        return [heading, under]
    values = f"{entry.low} to {entry.high_text}"
    if _text_width(values) > width - 8:  # the numbers matter more than their unit
        values = _fitted(f"{entry.low} to {entry.high}", width - 8)
    return [heading, [("text", 4, 4 + _text_width(values), values)], [("bar", 4, width - 4, "")]]


MIN_LEGEND_WIDTH = 64


def legend_width(image_width: int) -> int:
    """The width a legend under an image ``image_width`` wide is drawn at: the image's, or the least a legend needs."""
    return max(int(image_width), MIN_LEGEND_WIDTH)


def with_legend(image: np.ndarray, legend: np.ndarray, *, background: tuple[int, int, int] = (32, 33, 36)) -> np.ndarray:
    """``image`` above ``legend`` (drawn at :func:`legend_width`): an image narrower than a legend can be (a 16x16
    video's two views side by side are 36 px) is widened on its right with the background; its export failed with
    "a legend needs at least 64 pixels of width"."""
    extra = legend.shape[1] - image.shape[1]
    if extra > 0:
        image = np.concatenate([image, np.full((image.shape[0], extra, 3), background, np.uint8)], axis=1)
    return np.concatenate([image, legend], axis=0)


def legend_rows(entries: Sequence[LegendEntry], width: int, *, background: tuple[int, int, int] = (32, 33, 36)) -> np.ndarray:
    """A strip under an export's views, so an image says what its colours mean without the viewer:
    ``ROW_HEIGHT`` rows per line of :func:`legend_layout` ("label: low [gradient] high" per entry
    where the width allows; the same entries always take the same height at one width)."""
    import cv2

    if width < MIN_LEGEND_WIDTH:
        raise ValueError(f"a legend needs at least {MIN_LEGEND_WIDTH} pixels of width, got {width}")
    rows = []
    for entry in entries:
        colours = np.asarray(entry.colours, np.uint8)
        for line in legend_layout(entry, width):
            band = np.empty((ROW_HEIGHT, width, 3), np.uint8)
            band[:] = background
            for kind, x0, x1, text in line:
                if kind == "bar":
                    band[5:17, x0:x1] = colours[np.linspace(0, len(colours) - 1, x1 - x0).astype(np.int64)][None, :, :3]
                else:
                    cv2.putText(band, text, (x0, 15), cv2.FONT_HERSHEY_SIMPLEX, _FONT_SCALE, (230, 230, 230), 1, cv2.LINE_AA)
            rows.append(band)
    if not rows:
        return np.zeros((0, width, 3), np.uint8)
    return np.concatenate(rows, axis=0)


def legend_band(scales: Sequence[HeatScale], width: int, *, background: tuple[int, int, int] = (32, 33, 36)) -> np.ndarray:
    """The flow-quality scales' rows (``LEGEND_HEIGHT`` each), for exports."""
    return legend_rows([scale_entry(scale) for scale in scales], width, background=background)
