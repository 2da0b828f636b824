"""The legend under the views: a colour key for every heat map shown.

Two rows of fixed height: the model's maps (attention, rollout, relevance or a
class activation map, one key per view, with the clip's range and unit, and
what the shaded border means), then the flow-quality overlays (each scale's
gradient, range and unit).  Each map has its own key, so two warm maps on one
view (attention and inconsistency on the flow) are both explained.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtGui import QImage, QPalette, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from core.export.heatmap import HeatScale
from core.export.legend import LegendEntry, scale_entry
from viewer.widgets.steady_label import SteadyLabel

BAR_SIZE = (80, 12)
POOLED_LABELS = 11  # a lead, three keys of three labels each and a hint: what a row shows at most in practice
NO_OVERLAY_HINT = "Flow inspection: no overlay (toolbar: Inconsistency I, Warp error W)"
NO_MAPS_HINT = "Model heat maps: none shown (classify a clip, C)"


def gradient_pixmap(colours: np.ndarray, width: int = BAR_SIZE[0], height: int = BAR_SIZE[1]) -> QPixmap:
    """``colours`` ((n, 3) uint8, low to high) stretched over a bar, opaque, as drawn at full alpha."""
    colours = np.asarray(colours, np.uint8)[np.linspace(0, len(colours) - 1, width).astype(np.int64), :3]
    strip = np.ascontiguousarray(np.broadcast_to(colours[None], (height, width, 3)))
    image = QImage(strip.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())  # copy: the QImage must not outlive the numpy buffer


class LegendRow(QWidget):
    """One line: an optional lead text, then "label low [gradient] high" per entry, or a hint."""

    def __init__(self, hint: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.default_hint = hint
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self.entries: list[LegendEntry] = []
        self.lead, self.note = "", ""
        self._widgets: list[tuple[str, QLabel]] = []
        self._pool: list[QLabel] = []  # every label the row has made, in order; those past the items are hidden
        # the note ends the row and takes the room left: elided there, whole in its tooltip (a plain label past the
        # row's edge was cut mid-word, "(it never see", at 1280 px with an overlay's key before it)
        self.note_label = SteadyLabel("", chars=1)
        self.note_label.setForegroundRole(QPalette.ColorRole.Mid)  # grey as the hints: by role, so it follows the palette
        self.note_label.setObjectName("legendNote")
        self.note_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._layout.addWidget(self.note_label, 1)
        self._rebuild([("text", "", None)] * POOLED_LABELS)  # made and polished with the window, not on the first video
        self.hint = QLabel(hint)
        # wider than the window: cut at the right edge rather than widen the window (tooltips tell the rest)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.set_entries([])

    def set_entries(self, entries: list[LegendEntry], lead: str | None = None, note: str | None = None) -> None:
        """Show ``entries`` after ``lead``, then ``note`` (shown with or without entries); a ``None`` keeps the last.

        A row of the same shape (a new clip's range, another layer) only changes its texts and bars in
        place: rebuilding the labels cost ~3 ms of GUI time per prediction."""
        self.entries = list(entries)
        self.lead = self.lead if lead is None else lead
        self.note = self.note if note is None else note
        self.note_label.setText(f"  {self.note}" if self.note else "")
        self.note_label.setToolTip(self.note)
        items = self._items()
        if [kind for kind, *_ in items] != [kind for kind, _widget in self._widgets]:
            self._rebuild(items)
            return
        for (kind, value, extra), (_kind, widget) in zip(items, self._widgets):
            if kind == "bar":
                if widget.property("colours") != value:
                    widget.setPixmap(gradient_pixmap(extra[0]))
                    widget.setProperty("colours", value)
                widget.setToolTip(extra[1])
            elif widget.text() != value:
                widget.setText(value)

    def _items(self) -> list[tuple[str, Any, Any]]:
        """The row as ("text" | "hint" | "bar", text or the colours' bytes, None or (colours, tooltip))."""
        items: list[tuple[str, Any, Any]] = []
        shared = ""  # the entries' common map name, said once in the lead
        if not self.entries:
            items.append(("hint", self.default_hint, None))
        else:
            groups = {(entry.group, entry.unit) for entry in self.entries}
            name, unit = groups.pop() if len(groups) == 1 and all(e.group and e.short for e in self.entries) else ("", "")
            shared = name
            lead_text = " ".join(t for t in (self.lead, f"{name} ({unit}, per clip):" if shared else "") if t)
            if lead_text:
                items.append(("text", lead_text, None))
        for entry in self.entries:
            items.append(("text", f"  {entry.short if shared else entry.label}  {entry.low}", None))
            items.append(("bar", np.asarray(entry.colours).tobytes(), (entry.colours, entry.note)))
            items.append(("text", entry.high if shared else entry.high_text, None))
        return items

    def _rebuild(self, items: list[tuple[str, Any, Any]]) -> None:
        """Give the row a new shape with the labels it has (more only when it never had as many): a new
        label is polished by the style on the GUI thread, ~1 ms each, paid on opening a video before."""
        while len(self._pool) < len(items):
            label = QLabel()
            self._layout.insertWidget(len(self._pool), label)  # before the note
            self._pool.append(label)
        self._widgets = []
        for label, (kind, value, extra) in zip(self._pool, items):
            if kind == "bar":
                label.setPixmap(gradient_pixmap(extra[0]))
                label.setProperty("colours", value)
                label.setToolTip(extra[1])
            else:
                label.setText(value)
                label.setProperty("colours", None)
                label.setToolTip("")
            label.setForegroundRole(QPalette.ColorRole.Mid if kind == "hint" else QPalette.ColorRole.WindowText)
            label.setVisible(True)
            self._widgets.append((kind, label))
        for label in self._pool[len(items):]:
            label.clear()  # texts() reads every label's text
            label.setVisible(False)
        self.hint = next((w for _kind, w in self._widgets if w.text() == self.default_hint), QLabel(self.default_hint))

    def texts(self) -> list[str]:
        """Every label's text in the row, in order (what a reader sees)."""
        labels = [w.text() for w in self.findChildren(QLabel) if w.text()]
        return labels + ([self.note_label.text()] if self.note_label.text() else [])


class HeatLegend(QWidget):
    """The model's maps above the flow-quality scales.

    Both rows keep one fixed height whatever they show: hiding and showing them
    re-laid the window out, and repainting every view and axis at new sizes
    stalled the GUI thread ~30 ms on each overlay toggle."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("qualityLegend")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.maps_row = LegendRow(NO_MAPS_HINT)
        self.maps_row.setObjectName("mapsLegend")
        self.quality_row = LegendRow(NO_OVERLAY_HINT)
        self.quality_row.setObjectName("qualityScales")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(2)
        layout.addWidget(self.maps_row)
        layout.addWidget(self.quality_row)
        self.scales: list[HeatScale] = []
        row_height = max(BAR_SIZE[1], self.quality_row.hint.sizeHint().height())
        self.setFixedHeight(2 * row_height + 6)

    @property
    def hint(self) -> QLabel:
        """The quality row's hint (shown while no quality overlay is on)."""
        return self.quality_row.hint

    def set_scales(self, scales: list[HeatScale], target: str = "") -> None:
        """The flow-quality overlays shown, on ``target`` ("rgb" or "flow")."""
        self.scales = list(scales)
        lead = "" if not target else f"Overlay on the {target.upper() if target == 'rgb' else target} view:"
        self.quality_row.set_entries([scale_entry(scale) for scale in self.scales], lead)

    def set_map_entries(self, entries: list[LegendEntry], note: str = "") -> None:
        """The model's heat maps shown (one entry per view), and a note (what the shaded border is)."""
        self.maps_row.set_entries(entries, "")
        self.quality_row.set_entries(self.quality_row.entries, note=note)  # the crop's note: after the overlay keys, elided if they leave too little room

    def texts(self) -> list[str]:
        """Every text the legend shows, both rows."""
        return self.maps_row.texts() + self.quality_row.texts()
