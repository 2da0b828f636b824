"""The dataset panel's splitter and its table's column widths are kept between runs, as the window's layout is: they
came back at their defaults on every start.  A damaged or out-of-range saved value gives that default, never a
collapsed table or a column too narrow to find."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QSplitter

from viewer import settings as app_settings
from viewer.dataset.rows import COL_CLASS, COL_CONFIDENCE, COL_SPLIT, COL_VIDEO, COLUMNS
from viewer.main_window import MainWindow


def _window(qtbot) -> MainWindow:  # noqa: ANN001
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.resize(760, 700)  # inside the offscreen screen (800x800)
    win.show()
    win.dataset.dock.show()
    qtbot.waitUntil(lambda: _splitter(win).width() > 0)
    return win


def _splitter(win: MainWindow) -> QSplitter:
    return win.dataset.panel.findChild(QSplitter)


def _layout(win: MainWindow) -> tuple[list[int], list[int]]:
    panel = win.dataset.panel
    header = panel.table.horizontalHeader()
    return _splitter(win).sizes(), [header.sectionSize(c) for c in range(len(COLUMNS) - 1)]  # the last one stretches


def test_the_splitter_and_column_widths_come_back_in_the_next_window(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    first = _window(qtbot)
    panel = first.dataset.panel
    splitter = _splitter(first)
    total = sum(splitter.sizes())
    splitter.moveSplitter(total // 3, 1)  # what a drag of the handle does: the table gets a third
    panel.table.horizontalHeader().resizeSection(COL_VIDEO, 120)  # what a drag of a column's edge does
    panel.table.horizontalHeader().resizeSection(COL_CLASS, 150)
    arranged = _layout(first)
    assert arranged[0][0] < arranged[0][1] and arranged[1][COL_VIDEO] == 120
    copies = itertools.count()

    def on_disk() -> bool:  # saved shortly after the change, not only on close (a copy: Qt shares a file's values in a process)
        if not app_settings.settings_path().is_file():
            return False
        saved = QSettings(str(shutil.copyfile(app_settings.settings_path(), tmp_path / f"copy{next(copies)}.ini")), QSettings.Format.IniFormat)
        return saved.value("dataset_panel/splitter") == [str(s) for s in arranged[0]]

    qtbot.waitUntil(on_disk, timeout=10000)
    panel.table.horizontalHeader().resizeSection(COL_SPLIT, 90)  # and closed at once: saved on the way out
    arranged = _layout(first)
    first.close()

    second = _window(qtbot)
    assert _layout(second) == arranged
    second.close()


@pytest.mark.parametrize("splitter", ["garbage", "0, 400", "300", "300, 400, 500", "-5, 400", "300, 9999999", "12.5, 400", ""])
def test_a_damaged_or_out_of_range_value_gives_the_default(qtbot, tmp_path: Path, monkeypatch, splitter: str) -> None:  # noqa: ANN001
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "clean"))
    default = _window(qtbot)
    expected = _layout(default)
    default.close()

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "edited"))
    path = app_settings.settings_path()
    path.parent.mkdir(parents=True)
    widths = ["abc", "3", "-40", "9999999", "55"] + [""] * (len(COLUMNS) - 5)  # Video, Class, Split, Frames, Duration
    path.write_text(f"[dataset_panel]\nsplitter={splitter}\ncolumn_widths={', '.join(widths)}\n")
    edited = _window(qtbot)
    sizes, columns = _layout(edited)
    assert sizes == expected[0]
    assert columns[4] == 55  # the one valid width
    assert columns[:4] == expected[1][:4] and columns[5:] == expected[1][5:]
    edited.close()


def test_widths_of_another_number_of_columns_are_not_applied(qtbot, monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    path = app_settings.settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[dataset_panel]\ncolumn_widths=" + ", ".join(["77"] * (len(COLUMNS) + 1)) + "\n")
    win = _window(qtbot)
    header = win.dataset.panel.table.horizontalHeader()
    assert 77 not in {header.sectionSize(c) for c in (COL_VIDEO, COL_SPLIT, COL_CONFIDENCE)}
    win.close()


def test_a_drag_of_a_column_edge_is_one_write_however_many_steps(qtbot, monkeypatch) -> None:  # noqa: ANN001
    """Each step of a drag restarts the save's delay: the header's signal restarted the timer with the column's index
    as its delay (``QTimer.start(msec)``), so a drag of the first column's edge wrote the settings at every step."""
    win = _window(qtbot)
    writes: list[tuple[list[int], list[int]]] = []
    monkeypatch.setattr(app_settings, "save_dataset_panel_layout", lambda sizes, widths: writes.append((sizes, widths)))
    header = win.dataset.panel.table.horizontalHeader()
    for width in (100, 110, 120, 130):  # the steps of one drag of the first column's edge
        header.resizeSection(COL_VIDEO, width)
        QCoreApplication.processEvents()
        QCoreApplication.processEvents()
    assert writes == []
    win.dataset.panel_layout.save()  # the delay ends (or the window closes): the drag's one write
    assert len(writes) == 1 and writes[0][1][COL_VIDEO] == 130
    win.close()
