"""Every flow length the viewer states is in the video's pixels: a video over 480 lines has its flow computed
smaller (960x960 at 480x480, a factor 2), yet the colour radius (caption, spin box, lock), the timeline's mean
motion, the flow-metrics export and the inconsistency overlay's fixed scale all mean lengths in the frame the user
sees, so the same on-screen motion reads the same on a 960 and a 480 video."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np

from core.export.heatmap import INCONSISTENCY_SCALE, TOP_ALPHA
from media import panning_frames
from viewer.main_window import MainWindow
from viewer.quality_overlay import OverlayChoice

STEP = 4.0  # video pixels a frame, rightwards, on both videos
FRAMES = 5


def _panning_frames(folder: Path, side: int) -> Path:
    return panning_frames(folder, side, STEP, FRAMES)


def _open(qtbot, window: MainWindow, folder: Path) -> None:  # noqa: ANN001
    window.open_video(str(folder))
    qtbot.waitUntil(lambda: window.state.info is not None and Path(window.state.info.path) == folder
                    and window.flow.current() is not None, timeout=60000)


def _saturation(image: np.ndarray) -> float:
    """Median HSV saturation of the picture's middle: 1 for a motion at (or past) the radius, less below it."""
    h, w = image.shape[:2]
    middle = image[h // 4: 3 * h // 4, w // 4: 3 * w // 4].reshape(-1, 3).astype(np.float64)
    top = middle.max(axis=1)
    return float(np.median((top - middle.min(axis=1)) / np.maximum(top, 1)))


def test_the_auto_radius_and_its_caption_are_in_the_videos_pixels(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """The same on-screen motion settles the same auto radius on both videos, and the big video's caption states
    its analysis radius times 2: it said the analysis pixels' half (2 px for a 4 px motion)."""
    big, small = _panning_frames(tmp_path / "big", 960), _panning_frames(tmp_path / "small", 480)
    _open(qtbot, window, big)
    assert window.flow.current().image.shape[:2] == (480, 480)  # analysed at half size
    analysis = window.flow.encoding.max_radius
    assert f"colours saturate at {analysis * 2:g} px (auto)" in window.flow_view.caption.text(), window.flow_view.caption.text()
    big_radius = analysis * 2
    _open(qtbot, window, small)
    assert window.flow.current().image.shape[:2] == (480, 480)  # its own size
    small_radius = window.flow.encoding.max_radius
    assert f"colours saturate at {small_radius:g} px (auto)" in window.flow_view.caption.text()
    assert abs(big_radius - small_radius) <= 0.1 * small_radius and abs(small_radius - STEP) <= 0.5, (big_radius, small_radius)


def test_a_locked_radius_colours_the_same_on_screen_motion_alike_on_every_video(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """Locking R = the motion (4 video px) colours it fully saturated on both videos: on the big one the encoding
    is R / 2 at the analysis size (it was R, so the motion, 2 analysis px, came out half saturated)."""
    big, small = _panning_frames(tmp_path / "big", 960), _panning_frames(tmp_path / "small", 480)
    _open(qtbot, window, big)
    window.radius_box.setValue(STEP)
    qtbot.waitUntil(lambda: window.flow.current() is not None, timeout=60000)
    assert window.flow.encoding.max_radius == STEP / 2 and not window.flow.auto_radius
    assert f"colours saturate at {STEP:g} px (locked)" in window.flow_view.caption.text(), window.flow_view.caption.text()
    big_saturation = _saturation(window.flow.current().image)

    _open(qtbot, window, small)
    assert window.flow.encoding.max_radius == STEP and window.radius_box.value() == STEP
    assert f"colours saturate at {STEP:g} px (locked)" in window.flow_view.caption.text()
    small_saturation = _saturation(window.flow.current().image)
    assert big_saturation > 0.9 and small_saturation > 0.9, (big_saturation, small_saturation)
    assert abs(big_saturation - small_saturation) < 0.05, (big_saturation, small_saturation)

    _open(qtbot, window, big)  # the lock goes back to R / 2 on the big video
    assert window.flow.encoding.max_radius == STEP / 2


def _scanned(qtbot, window: MainWindow, folder: Path) -> np.ndarray:  # noqa: ANN001
    """Open ``folder``, let the scan finish and return the mean motions the timeline plots."""
    _open(qtbot, window, folder)
    qtbot.waitUntil(lambda: np.isfinite(window.state.flow_magnitude).all(), timeout=60000)
    curve = window.timeline.magnitude_curve
    qtbot.waitUntil(lambda: curve.getData()[1] is not None and np.isfinite(curve.getData()[1]).all(), timeout=10000)
    return np.asarray(curve.getData()[1], np.float64)


def test_the_timelines_mean_motion_is_in_the_videos_pixels(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """A 4 px/frame pan plots ~4 on both videos: the big one's curve was the analysis size's 2."""
    big = _scanned(qtbot, window, _panning_frames(tmp_path / "big", 960))
    assert window.flow.video_pixels == 2.0 and len(big) == FRAMES - 1
    small = _scanned(qtbot, window, _panning_frames(tmp_path / "small", 480))
    assert window.flow.video_pixels == 1.0
    assert np.all(np.abs(big - STEP) < 0.5) and np.all(np.abs(small - STEP) < 0.5), (big, small)
    assert np.allclose(big, small, rtol=0.1, atol=0), (big, small)


def _exported(qtbot, window: MainWindow, folder: Path, out: Path) -> tuple[list[dict[str, str]], dict]:  # noqa: ANN001
    """The flow metrics of ``folder``'s video as CSV rows and as the JSON document."""
    _open(qtbot, window, folder)
    out.mkdir()
    for name in ("metrics.csv", "metrics.json"):
        with qtbot.waitSignal(window.export.exported, timeout=60000):
            window.export.export_flow_metrics(str(out / name))
    with open(out / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows, json.loads((out / "metrics.json").read_text())


def test_the_flow_metrics_export_states_lengths_in_the_videos_pixels(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """Mean, 95th percentile and largest motion read ~4 for a 4 px/frame pan on both videos, the big one's
    forward-backward error is its analysis size's doubled, and the JSON says the unit."""
    big_rows, big_json = _exported(qtbot, window, _panning_frames(tmp_path / "big", 960), tmp_path / "big_out")
    analysis_fb = window.flow.current().quality.fb_error_mean  # pair 0, measured at 480x480
    small_rows, small_json = _exported(qtbot, window, _panning_frames(tmp_path / "small", 480), tmp_path / "small_out")
    for column in ("magnitude_mean", "magnitude_p95"):
        big, small = (np.array([float(r[column]) for r in rows]) for rows in (big_rows, small_rows))
        assert np.all(np.abs(big - STEP) < 0.5) and np.allclose(big, small, rtol=0.1, atol=0), (column, big, small)
    assert all(float(r["magnitude_max"]) >= STEP - 0.5 for r in big_rows), [r["magnitude_max"] for r in big_rows]
    # the export reads the flow back from the disk cache (float16): close to the view's own measure, not bitwise
    assert abs(float(big_rows[0]["fb_error_mean"]) - 2 * analysis_fb) <= 0.02 + 0.1 * analysis_fb, (big_rows[0], analysis_fb)
    assert [p["magnitude_mean"] for p in big_json["pairs"]] == [float(r["magnitude_mean"]) for r in big_rows]
    for data in (big_json, small_json):
        assert data["units"]["magnitude_mean"] == data["units"]["fb_error_mean"] == "video pixels", data["units"]


def test_the_inconsistency_overlay_saturates_at_2_of_the_videos_pixels(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """The same on-screen inconsistency (a ramp of 0 to 3 video px) takes the same colours on both videos: on the
    big one it is measured as half that, and was coloured as half (2 video px drawn as 1 on a 2 px scale)."""
    on_screen = np.tile(np.linspace(0.0, 3.0, 480, dtype=np.float32), (480, 1))
    choice = OverlayChoice(("inconsistency",))
    layers = {}
    for side in (960, 480):
        _open(qtbot, window, _panning_frames(tmp_path / str(side), side))
        shown = window.flow.current()
        assert shown.inconsistency.shape == (480, 480)
        measured = on_screen / window.flow.video_pixels  # what the flow at 480x480 measures of it
        layers[side] = choice.layers(dataclasses.replace(shown, inconsistency=measured))["inconsistency"]
    assert np.abs(layers[960].astype(int) - layers[480].astype(int)).max() <= 1  # float rounding at a level's edge
    saturated = on_screen >= INCONSISTENCY_SCALE.maximum
    assert INCONSISTENCY_SCALE.maximum == 2.0 and np.all(layers[960][saturated, 3] == TOP_ALPHA)
    assert np.array_equal(layers[960][saturated][:, :3], np.broadcast_to(layers[960][saturated][0, :3], (int(saturated.sum()), 3)))


def test_the_arrows_cell_is_stated_in_the_videos_pixels(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """The arrows are laid out every 16 analysis px: a 32 px cell of the 960 video's frame (it said 16 px)."""
    window.inspect_ui.arrows_action.setChecked(True)
    for side, cell in ((960, 32), (480, 16)):
        _open(qtbot, window, _panning_frames(tmp_path / str(side), side))
        qtbot.waitUntil(lambda: window.flow_view.arrows.isVisible() and bool(window.flow_view.arrows.toolTip()), timeout=60000)
        assert f"each {cell} px cell's mean motion" in window.flow_view.arrows.toolTip(), window.flow_view.arrows.toolTip()


def test_the_analysis_factor_is_worked_out_once_when_the_video_opens(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The controller took it from the video's size and every chunk again from its frames: two derivations that the
    captions and timeline (one) and the overlays and exports (the other) each trusted.  Now the open video's one
    value is handed to every chunk: the view's, the scan's and the export's frames state it."""
    import viewer.flow_chunks as flow_chunks

    real, asked = flow_chunks.video_pixels_per_analysis_pixel, []

    def counted(*args):  # noqa: ANN002, ANN202
        asked.append(tuple(tuple(shape) for shape in args))
        return real(*args)

    monkeypatch.setattr(flow_chunks, "video_pixels_per_analysis_pixel", counted)
    _scanned(qtbot, window, _panning_frames(tmp_path / "big", 960))
    with qtbot.waitSignal(window.export.exported, timeout=60000):
        window.export.export_flow_metrics(str(tmp_path / "metrics.csv"))
    assert asked == [((960, 960),)], asked  # once, from the video's size: never again from a chunk's frames
    assert window.flow.video_pixels == window.video.opened.video_pixels == 2.0 and window.flow.current().video_pixels == 2.0


def test_a_late_chunk_of_the_last_video_leaves_the_new_ones_factor(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The big video's view chunk finishes after the small one has opened: it is dropped (its session is over), so
    the small video's factor, caption and pictures stay at 1 video px per analysis px."""
    import threading

    from PySide6.QtWidgets import QApplication

    import viewer.flow_controller as flow_controller

    big, small = _panning_frames(tmp_path / "big", 960), _panning_frames(tmp_path / "small", 480)
    real, held, release, late = flow_controller.compute_chunk, threading.Event(), threading.Event(), []

    def late_for_the_big_video(video, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if video.info.width != 960:
            return real(video, *args, **kwargs)
        held.set()
        release.wait(20)
        kwargs.update(cancel=type(kwargs["cancel"])(), progress=None)  # it finishes as if it never saw the cancel
        late.extend(real(video, *args, **kwargs))
        return late

    monkeypatch.setattr(flow_controller, "compute_chunk", late_for_the_big_video)
    window.open_video(str(big))
    qtbot.waitUntil(held.is_set, timeout=30000)
    _open(qtbot, window, small)
    release.set()
    assert window.jobs.wait(30000) and late and late[0].video_pixels == 2.0  # the big video's chunk came back late
    QApplication.processEvents()  # and was delivered (then dropped)
    shown = window.flow.current()
    assert window.flow.video_pixels == 1.0 and shown.video_pixels == 1.0 and shown.image.shape[:2] == (480, 480)
    assert f"colours saturate at {window.flow.encoding.max_radius:g} px (auto)" in window.flow_view.caption.text()
