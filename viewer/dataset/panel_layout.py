"""The dataset panel's own layout kept between runs: the table's width beside the figures, and its column widths.

The window's layout (:mod:`viewer.layout_autosave`) holds where the dock is, not what is inside it: the splitter
and the columns came back at their defaults on every start.  Restored when the panel is made, from values
:mod:`viewer.settings` checks (a damaged or out-of-range value gives that default); saved shortly after the user
drags the splitter or a column's edge (one write per drag), and when the window closes.  The sort order is not
kept: a dataset's rows are listed in their own order, without a sort arrow (see :meth:`DatasetPanel._on_listed`).
"""

from __future__ import annotations

from viewer import settings as app_settings
from viewer.dataset.panel import DatasetPanel
from viewer.layout_autosave import LAYOUT_SAVE_DELAY_MS, DelayedSave


class PanelLayoutAutosave(DelayedSave):
    """Restores ``panel``'s splitter and column widths now, and saves them :data:`LAYOUT_SAVE_DELAY_MS` after a change."""

    def __init__(self, panel: DatasetPanel, delay_ms: int = LAYOUT_SAVE_DELAY_MS) -> None:
        super().__init__(panel, delay_ms)
        self._panel = panel
        self._restore()
        self._saved = self._layout()  # what the settings hold now: not written again until it changes
        panel.splitter.splitterMoved.connect(self.changed)
        panel.table.horizontalHeader().sectionResized.connect(self.changed)

    def _restore(self) -> None:
        sizes = app_settings.dataset_splitter_sizes(self._panel.splitter.count())
        if sizes is not None:
            self._panel.splitter.setSizes(sizes)
        header = self._panel.table.horizontalHeader()
        for column, width in enumerate(app_settings.dataset_column_widths(header.count())):
            if width is not None:
                header.resizeSection(column, width)

    def _layout(self) -> tuple[list[int], list[int]]:
        header = self._panel.table.horizontalHeader()
        return self._panel.splitter.sizes(), [header.sectionSize(c) for c in range(header.count())]

    def _write(self, layout: tuple[list[int], list[int]]) -> None:
        app_settings.save_dataset_panel_layout(*layout)
