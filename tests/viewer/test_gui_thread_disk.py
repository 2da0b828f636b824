"""The GUI thread asks the file system nothing while a video is scrubbed or scanned: a stat of a frame
image, or a listing of a folder of frames, can stall for seconds on a network drive."""

from __future__ import annotations

import threading
import traceback
from pathlib import Path

import cv2
import numpy as np

from media import decode_index, index_frame, write_video
from viewer.main_window import MainWindow


def _frame_folder(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(count):
        cv2.imwrite(str(folder / f"{i:04d}.png"), index_frame(i, 64, 32)[:, :, ::-1])
    return folder


def _record_gui_thread_calls(monkeypatch, owner: object, name: str) -> list[str]:  # noqa: ANN001
    calls: list[str] = []
    real = getattr(owner, name)

    def watched(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if threading.current_thread() is threading.main_thread():
            calls.append("".join(traceback.format_stack(limit=6)))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, watched)
    return calls


def test_scrubbing_a_folder_of_frames_stats_no_image_on_the_gui_thread(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Video.cached checked a decoded folder frame's file stamp (a stat) on the GUI thread at every scrub step."""
    import core.video.image_sequence as image_sequence

    folder = _frame_folder(tmp_path, 6)
    window.open_video(str(folder))
    qtbot.waitUntil(lambda: window.video.shown_index == 0, timeout=10000)
    calls = _record_gui_thread_calls(monkeypatch, image_sequence, "_stamp")
    for frame in (1, 2, 1, 0, 2):  # back to frames already decoded: their pictures sit in the cache
        window.state.set_frame(frame)
        qtbot.waitUntil(lambda: window.video.shown_index == frame, timeout=10000)
        assert decode_index(window.video.current_frame) == frame
    assert calls == [], calls[0]


def test_the_flow_scan_of_a_folder_lists_no_folder_on_the_gui_thread(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The scan memo's key (every image of the folder listed and stat'ed) was computed on the GUI thread when a scan
    started and when it finished."""
    import core.flow.cache as flow_cache

    calls = _record_gui_thread_calls(monkeypatch, flow_cache, "video_identity")
    window.method_box.setCurrentText("dis")
    window.open_video(str(_frame_folder(tmp_path, 8)))

    def scanned(method: str) -> bool:
        noise = window.state.flow_noise
        return (window.flow.method == method and noise.size == 7 and bool(np.isfinite(noise).all())
                and not window.jobs.is_busy("flow-scan") and window.flow.current() is not None)

    qtbot.waitUntil(lambda: scanned("dis"), timeout=30000)
    dis_noise = window.state.flow_noise.copy()
    window.method_box.setCurrentText("farneback")
    qtbot.waitUntil(lambda: scanned("farneback"), timeout=30000)
    window.method_box.setCurrentText("dis")  # scanned before: the memo's numbers
    qtbot.waitUntil(lambda: scanned("dis") and "kept from before" in window.scan_label.text(), timeout=30000)
    assert np.array_equal(window.state.flow_noise, dis_noise)
    assert calls == [], calls[0]


def test_a_folder_opened_after_a_video_shows_its_own_first_frame_with_it(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """The folder's first frame comes with its opening (read by the opening job): the previous video's frame is
    never left beside the new video's title, timeline and emptied flow view while a worker fetches it."""

    window.open_video(str(write_video(tmp_path / "clip.mp4", 12)))
    qtbot.waitUntil(lambda: window.video.shown_index == 0 and window.state.frame_count == 12, timeout=10000)
    window.state.set_frame(7)
    qtbot.waitUntil(lambda: window.video.shown_index == 7, timeout=10000)
    folder = _frame_folder(tmp_path, 5)
    seen: list[tuple[tuple[int, ...], int]] = []
    window.video.videoOpened.connect(lambda _path: seen.append((window.rgb_view.current_image().shape, window.video.shown_index)))
    window.open_video(str(folder))
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    assert seen == [((32, 64, 3), 0)]
    assert decode_index(window.rgb_view.current_image()) == 0 and window.rgb_view.caption.text() == "frame 0"


def test_png_and_prediction_exports_write_nothing_on_the_gui_thread(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The view's PNG and a prediction were checked (a probe file made in the target folder) and written on the GUI
    thread: a slow or network drive froze the window for as long as the write took."""
    import json

    import viewer.export as export
    from core.export.image import GAP

    from core.inference import Prediction
    from core.sampling import CropMap

    on_gui = {name: _record_gui_thread_calls(monkeypatch, export, name) for name in ("check_writable", "write_png", "write_predictions")}
    window.open_video(str(write_video(tmp_path / "clip.mp4", 12)))
    qtbot.waitUntil(lambda: window.state.frame_count == 12 and window.video.shown_index == 0, timeout=10000)

    with qtbot.waitSignal(window.export.exported, timeout=20000):
        assert window.export.export_png(str(tmp_path / "out" / "view.png"))
    assert cv2.imread(str(tmp_path / "out" / "view.png")).shape[:2] == (64, 128 + GAP + 128)

    window.export.set_prediction(Prediction(
        class_names=("A", "B"), logits=np.zeros(2, np.float32), probabilities=np.array([0.25, 0.75], np.float32),
        top=[("B", 0.75), ("A", 0.25)], start=4, frame_indices=(4, 5, 6, 7), flow_frame_indices=None, padded=0,
        crop_map=CropMap(64, 128, 64, 128, 64, 32, 0), flow_method="dis", flow_fell_back=False, flow_note="",
        timings_ms={"total": 3.0},
    ))
    with qtbot.waitSignal(window.export.exported, timeout=20000):
        assert window.export.export_predictions(str(tmp_path / "out" / "p.json"))
    assert json.loads((tmp_path / "out" / "p.json").read_text())["label"] == "B"
    assert {name: len(stacks) for name, stacks in on_gui.items()} == {"check_writable": 0, "write_png": 0, "write_predictions": 0}


def test_a_dataset_export_checks_its_target_off_the_gui_thread(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The dataset table's target was checked (a probe file made in its folder) on the GUI thread."""
    import core.export.target as target

    on_gui = _record_gui_thread_calls(monkeypatch, target, "check_writable")
    messages: list[str] = []
    window.dataset.controller.finished.connect(lambda channel, message: messages.append(message))
    window.dataset.controller.export_csv(str(tmp_path / "table.csv"))
    qtbot.waitUntil(lambda: bool(messages), timeout=20000)
    assert messages == [f"table written to {tmp_path / 'table.csv'}"] and (tmp_path / "table.csv").exists()
    assert on_gui == []
    window.dataset.controller.export_csv(str(tmp_path))  # a folder: refused, in one line naming it
    qtbot.waitUntil(lambda: window.notifier.last_error is not None, timeout=20000)
    assert window.notifier.last_error == f"{tmp_path}: is a folder, not a file name" and on_gui == []


def test_the_true_class_badge_reads_no_file_on_the_gui_thread(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The badge under the model line read the checkpoint's header, the video's sidecar and looked for a synthetic
    dataset's manifest on the GUI thread at every model change and video opened."""
    import shutil

    import core.models.checkpoint as checkpoint
    import core.models.domain as domain

    from core.resources import SAMPLE_VIDEO

    on_gui = {name: _record_gui_thread_calls(monkeypatch, owner, name)
              for owner, name in ((checkpoint, "read_checkpoint_info"), (domain, "synthetic_sidecar_class"), (domain, "in_synthetic_dataset"))}
    badge = window.dataset.badge
    qtbot.waitUntil(lambda: window.classify.classify_state.model.config is not None, timeout=20000)
    qtbot.waitUntil(lambda: badge.domain_label.text().startswith("Trained on synthetic shapes"), timeout=20000)
    video = tmp_path / "clip.mp4"
    shutil.copy(SAMPLE_VIDEO, video)
    shutil.copy(SAMPLE_VIDEO.with_suffix(".json"), video.with_suffix(".json"))  # its sidecar: the class it was rendered from
    window.open_video(str(video))
    qtbot.waitUntil(lambda: "(from the sample description)" in badge.truth_label.text(), timeout=20000)
    assert not badge.note_label.isVisible()  # a rendered clip: no caveat
    window.open_video(str(write_video(tmp_path / "real.mp4", 12)))  # no sidecar, nowhere near a synthetic dataset
    qtbot.waitUntil(lambda: badge.note_label.isVisible() and "are not real actions" in badge.note_label.text(), timeout=20000)
    assert not badge.truth_label.isVisible()
    other = SAMPLE_VIDEO.parent / "demo_convnet.safetensors"  # another model: its header is read for the badge
    window.classify.load_checkpoint(other)
    qtbot.waitUntil(lambda: window.classify.checkpoint == other and badge.domain_label.text() != "", timeout=20000)
    assert badge.domain_label.text().startswith("Trained on synthetic shapes") and badge.note_label.isVisible()
    assert {name: len(calls) for name, calls in on_gui.items()} == dict.fromkeys(on_gui, 0)


def _record_viewer_stats(monkeypatch) -> list[str]:  # noqa: ANN001
    """``os.stat``/``os.lstat`` calls made on the GUI thread from the viewer's own code (a path resolved, a file checked)."""
    import os
    import sys

    viewer_dir = str(Path(__file__).resolve().parents[2] / "viewer") + os.sep
    calls: list[str] = []
    for name in ("stat", "lstat"):
        real = getattr(os, name)

        def watched(*args, _real=real, _name=name, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if threading.current_thread() is threading.main_thread():
                frame = sys._getframe(1)
                while frame is not None and not frame.f_code.co_filename.startswith(viewer_dir):
                    frame = frame.f_back
                if frame is not None:
                    calls.append(f"{_name} from {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
            return _real(*args, **kwargs)

        monkeypatch.setattr(os, name, watched)
    return calls


def test_opening_a_video_and_a_dataset_row_of_it_resolves_no_path_on_the_gui_thread(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The recent-files entry and the dataset's "is this row the video shown?" resolved paths (a stat per part of the path)
    on the GUI thread."""
    from viewer import settings as app_settings

    video = write_video(tmp_path / "clip.mp4", 12)
    calls = _record_viewer_stats(monkeypatch)
    window.open_video(str(video))
    qtbot.waitUntil(lambda: str(video) in app_settings.recent_files() and window.video.shown_index == 0, timeout=10000)
    window.dataset.open_video_at(str(tmp_path / "." / "clip.mp4"), 5)  # the video shown, however spelt: no reopening
    assert window.state.frame_index == 5 and not window.video.opening
    assert calls == [], calls
