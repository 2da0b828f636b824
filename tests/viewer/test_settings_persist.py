"""Settings persist between runs: a second window restores what the first one saved."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QToolBar

from viewer import settings as app_settings
from viewer.main_window import MainWindow


def _window(qtbot) -> MainWindow:  # noqa: ANN001
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.show()
    return win


def test_settings_live_in_the_tests_own_config_folder() -> None:
    """Qt caches the config folder per process; ours is resolved per call, so tests do not share one file."""
    assert str(app_settings.settings_path()).startswith(os.environ["XDG_CONFIG_HOME"])
    app_settings.save_preference("flow_method", "tvl1")
    app_settings.flush()
    assert "flow_method=tvl1" in app_settings.settings_path().read_text()
    assert app_settings.load_preferences().flow_method == "tvl1"


def test_a_second_window_restores_what_the_first_saved(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    first = _window(qtbot)
    assert first.method_box.currentText() == "dis" and not first.overlay_actions["warp_error"].isChecked()  # a first run
    first.method_box.setCurrentText("farneback")
    first.state.set_threshold(0.55)
    first.overlay_actions["warp_error"].setChecked(True)
    first.overlay_target_box.setCurrentIndex(first.overlay_target_box.findData("rgb"))
    first.overlay_opacity.setValue(40)
    first.findChild(QToolBar, "inspectToolbar").setVisible(False)
    first.dataset.dock.show()  # open when the window closed, but with no dataset listed
    first.resize(760, 700)  # inside the offscreen screen (800x800): restoreGeometry keeps a window on screen
    app_settings.set_last_folder(str(tmp_path))
    first.close()

    second = _window(qtbot)
    assert second.method_box.currentText() == "farneback" and second.flow.method == "farneback"
    assert second.state.noise_threshold == 0.55 and second.timeline.threshold_line.value() == 0.55
    assert second.overlay_actions["warp_error"].isChecked() and not second.overlay_actions["inconsistency"].isChecked()
    assert second.overlays.choice.names == ("warp_error",) and second.overlays.choice.target == "rgb"
    assert second.overlay_target_actions["rgb"].isChecked() and second.overlay_target_box.currentData() == "rgb"
    assert second.overlays.choice.opacity == 0.4 and second.overlay_opacity.value() == 40
    assert not second.findChild(QToolBar, "inspectToolbar").isVisibleTo(second)  # the layout (saveState)
    assert not second.dataset.dock.isVisibleTo(second)  # an empty dataset dock is not brought back to take a third of the window
    assert (second.width(), second.height()) == (760, 700)  # the geometry (saveGeometry)
    assert app_settings.last_folder() == str(tmp_path)
    second.close()


def _hand_edited(text: str) -> None:
    path = app_settings.settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_hand_edited_settings_file_gives_defaults_not_a_crash(qtbot) -> None:  # noqa: ANN001
    _hand_edited(
        "[preferences]\nflow_method=no-such-method\ndevice=tpu\noverlay_inconsistency=perhaps\n"
        "overlay_target=sideways\noverlay_opacity=7\nnoise_threshold=nan\n"
        "[window]\ngeometry=garbage\nstate=@ByteArray(garbage)\n"
    )
    prefs = app_settings.load_preferences(methods=["dis", "tvl1"], devices=["cpu"])
    assert prefs == app_settings.Preferences()
    win = _window(qtbot)
    assert win.method_box.currentText() == "dis" and win.overlays.choice.names == () and win.state.noise_threshold == 0.35
    win.close()


def test_values_of_another_type_in_the_settings_file_read_as_defaults(qtbot) -> None:  # noqa: ANN001
    """Qt reads ``@Size(3 4)`` or ``@Point(1 2)`` as a QSize or a QPoint: the window could not be built (TypeError:
    'QSize' object is not iterable, from the recent checkpoints), and ``@ByteArray(abc)`` listed the recent files
    "b'a'", "b'b'" and "b'c'"."""
    _hand_edited(
        "[General]\nrecent_files=@ByteArray(abc)\nlast_folder=@Rect(1 2 3 4)\n"
        "[models]\nrecent=@Size(3 4)\nchosen=@Point(5 6)\n"
        "[preferences]\nflow_method=@ByteArray(tvl1)\noverlay_target=@Point(1 1)\n"
        "[flow]\ncolour_scale=@Size(1 1)\nlocked_radius=@Point(1 2)\nraft_weights\\raft-large=@Point(1 2)\n"
    )
    assert app_settings.recent_files() == [] and app_settings.recent_checkpoints() == []
    assert app_settings.last_folder() == str(Path.home()) and app_settings.chosen_checkpoint() is None
    assert app_settings.load_preferences() == app_settings.Preferences()
    assert app_settings.colour_scale() == ("video", 0.0) and app_settings.raft_weights() == {}
    win = _window(qtbot)
    assert win.recent_menu.actions() == [] and win.method_box.currentText() == "dis"
    win.close()


def test_device_choice_is_saved_and_an_absent_device_reads_as_the_default() -> None:
    app_settings.save_preference("device", "cuda")
    assert app_settings.load_preferences(devices=["cpu"]).device == "auto"
    assert app_settings.load_preferences(devices=["cpu", "cuda"]).device == "cuda"


def test_the_layout_is_saved_as_it_changes_not_only_on_close(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    """The layout was saved on close only: a viewer killed or crashed lost the docks, toolbars and size the user had
    arranged.  Read here from the file on disk (a copy: Qt shares a settings file's values within a process) and by a
    second window, while the first is still open."""
    first = _window(qtbot)
    first.findChild(QToolBar, "inspectToolbar").setVisible(False)
    first.classify_ui.attention_dock.hide()
    first.resize(760, 700)  # inside the offscreen screen (800x800)
    copies = itertools.count()

    def on_disk() -> bool:
        if not app_settings.settings_path().is_file():
            return False
        copy = shutil.copyfile(app_settings.settings_path(), tmp_path / f"copy{next(copies)}.ini")
        saved = QSettings(str(copy), QSettings.Format.IniFormat)
        return saved.value("window/state") == first.saveState() and saved.value("window/geometry") == first.saveGeometry()

    qtbot.waitUntil(on_disk, timeout=10000)
    second = _window(qtbot)
    assert not second.findChild(QToolBar, "inspectToolbar").isVisibleTo(second)
    assert not second.classify_ui.attention_dock.isVisibleTo(second) and second.classify_ui.results_dock.isVisibleTo(second)
    assert (second.width(), second.height()) == (760, 700)
    second.close()
    first.close()


def test_a_settings_file_that_cannot_be_written_is_said_once(qtbot) -> None:  # noqa: ANN001
    """A file where the settings folder should be (as a read-only folder, Qt cannot write there): every choice was
    lost at each run without a word."""
    folder = app_settings.settings_path().parent
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("not a folder")
    win = _window(qtbot)
    errors: list[str] = []
    win.notifier.errorRaised.connect(lambda title, message: errors.append(f"{title}: {message}"))
    qtbot.waitUntil(lambda: bool(errors), timeout=10000)
    win.resize(700, 650)  # another layout saved: said once
    qtbot.wait(1500)
    assert errors == [f"Settings are not saved: {app_settings.settings_path()}: cannot be written (its folder is read-only, or is not a "
                      "folder): the choices made now are not kept"]
    win.close()
