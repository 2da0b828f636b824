"""File > Export through the real window: PNG, MP4, metrics and predictions read back; cancel; errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox, QPushButton

from core.export.heatmap import LEGEND_HEIGHT
from core.export.image import GAP, side_by_side
from core.inference import Prediction
from core.sampling import CropMap
from core.video import open_video
from held_export import hold_exports
from media import decode_index, write_video
from viewer.main_window import MainWindow
from staging_helpers import settle


@pytest.fixture
def window(qtbot):  # noqa: ANN001
    win = MainWindow(show_dialogs=False)
    win.radius_box.setValue(5.0)  # fixed colours: the auto radius may change when the scan ends, between a view and an export
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


@pytest.fixture
def video_path(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip.mp4", 40, options={"crf": "10"})


def _open_at(qtbot, win: MainWindow, path: Path, frame: int) -> None:  # noqa: ANN001
    win.open_video(str(path))
    qtbot.waitUntil(lambda: win.state.frame_count == 40, timeout=10000)
    win.state.set_frame(frame)
    qtbot.waitUntil(lambda: f"flow {frame} -> {frame + 1}" in win.flow_view.caption.text() and win.video.shown_index == frame, timeout=20000)


def _read_png(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_png_is_the_composite_view_at_frame_pixels(qtbot, window: MainWindow, video_path: Path, tmp_path: Path) -> None:  # noqa: ANN001
    _open_at(qtbot, window, video_path, 7)
    out = tmp_path / "out" / "view.png"
    with qtbot.waitSignal(window.export.exported, timeout=5000):
        assert window.export.export_png(str(out))
    image = _read_png(out)
    assert image.shape == (64, 128 + GAP + 128, 3)
    assert np.array_equal(image[:, :128], window.rgb_view.current_image())  # the frame exactly (PNG is lossless)
    assert decode_index(image[:, :128]) == 7
    assert np.array_equal(image[:, 128 + GAP :], window.flow_view.current_image())

    window.overlay_actions["warp_error"].setChecked(True)  # with an overlay: as shown, plus its legend
    with qtbot.waitSignal(window.export.exported, timeout=5000):
        assert window.export.export_png(str(out))
    image = _read_png(out)
    assert image.shape == (64 + LEGEND_HEIGHT, 128 + GAP + 128, 3)
    assert np.array_equal(image[:64, 128 + GAP :], window.flow_view.composite())
    assert _files(out.parent) == ["view.png"]


def test_mp4_export_decodes_back_to_the_clip(qtbot, window: MainWindow, video_path: Path, tmp_path: Path) -> None:  # noqa: ANN001
    _open_at(qtbot, window, video_path, 3)
    window.overlay_actions["inconsistency"].setChecked(True)
    out = tmp_path / "clip_export.mp4"
    with qtbot.waitSignal(window.export.exported, timeout=60000) as signal:
        window.export.export_clip(str(out), tuple(range(3, 11)))
    assert signal.args == [str(out)]
    video = open_video(out)
    assert len(video) == 8
    assert (video.info.height, video.info.width) == (64 + 2 * LEGEND_HEIGHT, 128 + GAP + 128)  # the inconsistency key: label over its scale
    assert abs(video.info.fps - 25) < 1e-6
    for k in range(8):
        frame = video.read(k)
        assert decode_index(frame[:64, :128]) == 3 + k  # each frame in order, none dropped
    first = video.read(0)
    shown = window.flow_view.composite()  # frame 3's flow with its overlay, as the view showed it
    assert np.abs(first[:64, 128 + GAP :].astype(int) - shown.astype(int)).mean() < 6
    assert _files(tmp_path) == ["clip.mp4", "clip_export.mp4"]


def test_mp4_export_default_clip_and_an_extra_overlay_source(qtbot, window: MainWindow, video_path: Path, tmp_path: Path) -> None:  # noqa: ANN001
    """The default clip is the classify region (all its frames); another feature's overlay (a snapshot
    function) is drawn into the frames it covers."""
    _open_at(qtbot, window, video_path, 30)
    red = np.zeros((4, 4, 4), np.uint8)
    red[..., 0] = 255
    red[..., 3] = 255
    window.export.add_overlay_source("rgb", "test.red", lambda: (lambda index: red if index % 2 == 0 else None))
    region = window.classify.classify_state
    first = region.region_start
    assert window.export.clip_frames() == tuple(range(first, min(40, first + region.span)))
    out = tmp_path / "default.mp4"
    with qtbot.waitSignal(window.export.exported, timeout=60000):
        window.export.export_clip(str(out))
    video = open_video(out)
    assert len(video) == len(window.export.clip_frames())
    for k in (0, 1):
        left = video.read(k)[:64, :128].astype(int)
        is_red = left[..., 0].mean() > 230 and left[..., 1].mean() < 25
        assert is_red == ((first + k) % 2 == 0)  # even frames covered, odd ones not


def test_cancelled_export_leaves_nothing(qtbot, window: MainWindow, video_path: Path, tmp_path: Path) -> None:  # noqa: ANN001
    _open_at(qtbot, window, video_path, 0)
    started, release = hold_exports(window, "test.slow", 5)
    out = tmp_path / "exports" / "cancelled.mp4"
    shown: list[str] = []  # every message: a model's "loaded" may replace the export's before it is read
    window.statusBar().messageChanged.connect(shown.append)
    window.export.export_clip(str(out), tuple(range(0, 30)))
    assert window.export.busy
    assert started.wait(20)
    with qtbot.waitSignal(window.export.busyChanged, timeout=10000) as signal:
        window.export.progress_dialog.findChild(QPushButton).click()  # the dialog's Cancel button
        release.set()
    assert signal.args == [False]
    assert not out.exists() and _files(out.parent) == []  # not even a temporary
    assert any("cancelled" in message for message in shown), shown


def test_unwritable_target_is_a_dialog_and_nothing_is_left(qtbot, video_path: Path, tmp_path: Path) -> None:  # noqa: ANN001
    win = MainWindow(show_dialogs=True)
    qtbot.addWidget(win)
    _open_at(qtbot, win, video_path, 2)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    win.export.export_clip(str(blocker / "clip.mp4"), (2, 3, 4))
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, "errorDialog") is not None, timeout=20000)
    text = win.findChild(QMessageBox, "errorDialog").text()
    assert str(blocker / "clip.mp4") in text and "is a file, not a folder" in text
    assert not win.export.busy and win.export.progress_dialog is None
    with qtbot.waitSignal(win.export.exported, timeout=5000):
        assert win.export.export_png(str(tmp_path / "view.png"))  # the app keeps working
    assert _files(tmp_path) == ["a_file", "clip.mp4", "view.png"]
    win.close()


def test_a_full_disk_is_one_line_naming_the_file(qtbot, window: MainWindow, video_path: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A writer that meets a full disk and says so in a bare OSError: "Export failed: OSError: [Errno 28] No space
    left on device", naming no file."""
    import errno

    import viewer.export as export

    def disk_full(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(errno.ENOSPC, "No space left on device")

    _open_at(qtbot, window, video_path, 2)
    monkeypatch.setattr(export, "write_png", disk_full)
    monkeypatch.setattr(export, "write_flow_metrics", disk_full)
    out = tmp_path / "out"
    out.mkdir()
    assert _refused(qtbot, window, lambda: window.export.export_png(str(out / "view.png"))) == f"{out / 'view.png'}: cannot write: the disk is full"
    assert _refused(qtbot, window, lambda: window.export.export_flow_metrics(str(out / "m.csv"))) == f"{out / 'm.csv'}: cannot write: the disk is full"
    assert _files(out) == []


def test_a_16_px_video_exports_with_its_legend_in_full(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """Its views side by side are 36 px, narrower than a legend can be: the PNG (taken on the GUI thread) raised
    "ValueError: a legend needs at least 64 pixels of width, got 36" out of File > Export, and the MP4 failed with it.
    The picture is widened on its right with the background, under it the legend in full."""
    video = write_video(tmp_path / "small.mp4", 12, size=(16, 16))
    window.overlay_actions["inconsistency"].setChecked(True)
    window.open_video(str(video))
    qtbot.waitUntil(lambda: window.flow.current() is not None and window.overlays.shown_pair is not None, timeout=20000)
    views = side_by_side(window.rgb_view.composite(), window.flow_view.composite())
    assert views.shape[:2] == (16, 16 + GAP + 16)
    with qtbot.waitSignal(window.export.exported, timeout=20000):
        assert window.export.export_png(str(tmp_path / "view.png"))
    png = _read_png(tmp_path / "view.png")
    assert png.shape[1] == 64 and png.shape[0] > 16 + LEGEND_HEIGHT - 1
    assert np.array_equal(png[:16, :36], views) and (png[:16, 36:] == (32, 33, 36)).all()
    with qtbot.waitSignal(window.export.exported, timeout=20000):
        assert window.export.export_clip(str(tmp_path / "clip.mp4"), (2, 3, 4)) > 0
    reader = open_video(tmp_path / "clip.mp4")
    assert (len(reader), reader.info.width, reader.info.height) == (3, 64, png.shape[0])
    reader.close()


def test_a_video_too_narrow_for_flow_has_no_flow_to_export(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """A 4000x1 strip: the clip and flow-metrics exports failed in their job with "Export failed: frames of 4000x1 are
    too small for flow", naming no file; they are refused at once, naming it."""
    strip = tmp_path / "strip"
    strip.mkdir()
    for i in range(3):
        cv2.imwrite(str(strip / f"{i}.png"), np.full((1, 4000, 3), 50 * i, np.uint8))
    window.open_video(str(strip))
    qtbot.waitUntil(lambda: window.state.frame_count == 3, timeout=10000)
    errors: list[str] = []
    window.notifier.errorRaised.connect(lambda title, message: errors.append(f"{title}: {message}"))
    assert window.export.export_clip(str(tmp_path / "clip.mp4"), (0, 1)) == -1
    assert window.export.export_flow_metrics(str(tmp_path / "metrics.csv")) == -1
    qtbot.waitUntil(lambda: len(errors) == 2, timeout=5000)
    assert errors == [f"Nothing to export: {strip}: frames of 4000x1: too small for flow (each side must be at least 16 px)"] * 2
    assert not window.export.busy and _files(tmp_path) == ["strip"]


def _refused(qtbot, win: MainWindow, start) -> str:  # noqa: ANN001
    """The error an export's target check gave (in its job, before any work), once the export has ended."""
    win.notifier.last_error = None
    start()
    qtbot.waitUntil(lambda: not win.export.busy and win.notifier.last_error is not None, timeout=20000)
    return win.notifier.last_error


def test_a_wrong_type_or_the_open_video_itself_is_refused_before_any_work(qtbot, window: MainWindow, video_path: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Flow metrics to .mp4 were refused only after the whole video's flow; a clip over the open video replaced it."""
    import viewer.export as export

    _open_at(qtbot, window, video_path, 2)
    original = video_path.read_bytes()
    worked: list[str] = []
    monkeypatch.setattr(export, "flow_metrics_job", lambda *a, **k: worked.append("flow metrics"))
    monkeypatch.setattr(export, "render_clip", lambda *a, **k: worked.append("clip"))
    assert "unsupported file type '.mp4': use .csv or .json" in _refused(qtbot, window, lambda: window.export.export_flow_metrics(str(tmp_path / "metrics.mp4")))
    assert "unsupported file type '.json': use .mp4" in _refused(qtbot, window, lambda: window.export.export_clip(str(tmp_path / "clip.json"), (2, 3)))
    assert "is a file this export reads" in _refused(qtbot, window, lambda: window.export.export_clip(str(video_path), (2, 3)))
    assert worked == [] and video_path.read_bytes() == original and _files(tmp_path) == ["clip.mp4"]


def test_a_png_is_never_written_among_the_frames_of_the_open_folder(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    """A folder of frames is the video: the view's PNG written there replaced a frame, or became a new one."""
    frames = tmp_path / "frames"
    frames.mkdir()
    texture = cv2.GaussianBlur(np.random.default_rng(0).uniform(0, 255, (48, 120, 3)).astype(np.float32), (0, 0), 2).astype(np.uint8)
    for i in range(40):
        cv2.imwrite(str(frames / f"frame_{i:06d}.png"), np.ascontiguousarray(texture[:, i:i + 64]))
    before = {p.name: p.read_bytes() for p in frames.iterdir()}
    _open_at(qtbot, window, frames, 3)
    for name in ("frame_000003.png", "view.png"):
        assert "is in the folder of frames this export reads" in _refused(qtbot, window, lambda: window.export.export_png(str(frames / name)))
    assert {p.name: p.read_bytes() for p in frames.iterdir()} == before
    with qtbot.waitSignal(window.export.exported, timeout=5000):
        assert window.export.export_png(str(tmp_path / "view.png"))  # anywhere else


def test_flow_metrics_export_matches_the_timeline(qtbot, window: MainWindow, video_path: Path, tmp_path: Path) -> None:  # noqa: ANN001
    _open_at(qtbot, window, video_path, 0)
    qtbot.waitUntil(lambda: np.isfinite(window.state.flow_noise).all(), timeout=30000)
    for name in ("metrics.csv", "metrics.json"):
        with qtbot.waitSignal(window.export.exported, timeout=30000):
            window.export.export_flow_metrics(str(tmp_path / name))
    with open(tmp_path / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["pair"]) for r in rows] == list(range(39))
    # the export reads the flow back from the disk cache, stored as float16 (0.06 px at worst): close, not bitwise
    assert np.allclose([float(r["noise_score"]) for r in rows], window.state.flow_noise, rtol=0, atol=2e-3)
    assert np.allclose([float(r["magnitude_mean"]) for r in rows], window.state.flow_magnitude, rtol=0, atol=2e-3)
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert data["method"] == "dis" and data["video"] == str(video_path) and len(data["pairs"]) == 39
    assert [p["noise_score"] for p in data["pairs"]] == pytest.approx([float(r["noise_score"]) for r in rows], rel=1e-9)


def test_prediction_export_writes_the_last_prediction(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    assert not window.export.export_predictions(str(tmp_path / "none.json"))
    assert "classify a clip first" in window.notifier.last_error
    names = ("A", "B")
    prediction = Prediction(
        class_names=names, logits=np.zeros(2, np.float32), probabilities=np.array([0.25, 0.75], np.float32),
        top=[("B", 0.75), ("A", 0.25)], start=4, frame_indices=(4, 5, 6, 7), flow_frame_indices=None, padded=0,
        crop_map=CropMap(64, 128, 64, 128, 64, 32, 0), flow_method="dis", flow_fell_back=False, flow_note="",
        timings_ms={"total": 3.0},
    )
    window.export.set_prediction(prediction)
    with qtbot.waitSignal(window.export.exported, timeout=5000):
        assert window.export.export_predictions(str(tmp_path / "p.json"))
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["label"] == "B" and data["clips"][0]["frame_indices"] == [4, 5, 6, 7]


def _classified_at_3(qtbot, video_path: Path, tmp_path: Path) -> MainWindow:  # noqa: ANN001
    """A window with a tiny transformer (random weights) that has classified the clip at frames 3-10."""
    import torch

    from core.models import build_model, save_checkpoint
    from core.models.transformer.config import TransformerConfig

    torch.manual_seed(0)
    config = TransformerConfig.create(backbone="tiny", class_names=["a", "b", "c"], backbone_options={"dim": 16}, input_size=64,
                                      clip_length=8, fusion={"heads": 2, "head_dim": 8, "depth": 2})
    win = MainWindow(show_dialogs=False, checkpoint=save_checkpoint(tmp_path / "tiny.safetensors", build_model(config)))
    qtbot.addWidget(win)
    win.show()
    _open_at(qtbot, win, video_path, 3)
    qtbot.waitUntil(lambda: win.classify.classify_state.model.config is not None, timeout=10000)
    with qtbot.waitSignal(win.classify.predictionReady, timeout=30000):
        win.classify.classify_clip(3)
    settle(qtbot)
    return win


def test_mp4_export_draws_the_attention_heat_map_where_it_peaks(qtbot, video_path: Path, tmp_path: Path) -> None:  # noqa: ANN001
    """With the attention overlay on, the exported clip carries the prediction's heat map on both
    views, on the classified frames only: planted relevance peaks (one RGB token, one flow token,
    every time slice) change exactly their token boxes; with the overlay off they do not."""
    import dataclasses

    from core.export.prediction_heat import heat_lut

    win = _classified_at_3(qtbot, video_path, tmp_path)
    state = win.classify.classify_state
    prediction = state.prediction
    maps = prediction.attention
    layout, (slices, rows, cols) = maps.layout, maps.grid_shape
    peaks = {"rgb": (1, 1), "flow": (2, 3)}
    relevance = np.zeros_like(maps.relevance)
    for stream, (row, col) in peaks.items():
        first = layout.token_slice(stream).start
        for t in range(slices):
            relevance[layout.class_index(stream), first + t * rows * cols + row * cols + col] = 1.0
    state.set_prediction(dataclasses.replace(prediction, attention=dataclasses.replace(maps, relevance=relevance)))
    state.set_overlay(kind="relevance", opacity=1.0)
    frames = tuple(range(3, 13))  # the clip is frames 3-10; 11 and 12 lie outside it

    def export(name: str) -> list[np.ndarray]:
        out = tmp_path / name
        with qtbot.waitSignal(win.export.exported, timeout=60000):
            win.export.export_clip(str(out), frames)
        video = open_video(out)
        return [video.read(k).astype(int) for k in range(len(frames))]

    with_heat = export("with.mp4")
    state.set_overlay(enabled=False)
    without = export("without.mp4")
    masks, near = {}, np.zeros((64, 128 + GAP + 128), bool)

    def box(x0: float, y0: float, x1: float, y1: float, left: int, grow: int) -> tuple[slice, slice]:
        return slice(max(0, round(y0) - grow), round(y1) + grow), slice(max(0, left + round(x0) - grow), left + round(x1) + grow)

    for stream, (row, col) in peaks.items():
        corners = prediction.crop_map.token_box(row, col, rows, cols)
        left = 0 if stream == "rgb" else 128 + GAP
        masks[stream] = np.zeros_like(near)
        masks[stream][box(*corners, left, -2)] = True  # inside the token, clear of the codec's blur at its edges
        near[box(*corners, left, 6)] = True
    hottest = heat_lut()[255, :3].astype(int)  # the peak is drawn fully opaque: the ramp's top colour
    rgb_panel = np.zeros_like(near)
    rgb_panel[:, :128] = True
    for k, index in enumerate(frames):
        diff = np.abs(with_heat[k][:64] - without[k][:64]).mean(axis=2)
        if index <= 10:
            for stream, mask in masks.items():  # the hot token is painted over, on both views
                assert np.abs(with_heat[k][:64][mask] - hottest).mean() < 12 and diff[mask].mean() > 60, (index, stream)
        else:
            assert diff[masks["rgb"]].mean() < 6, index  # outside the classified clip: no heat map
        # elsewhere the attention is zero, so the layer is see-through: only H.264 noise (checked on the RGB
        # panel: two exports' flow panels can differ while the flow cache is filled, see the report)
        assert diff[rgb_panel & ~near].mean() < 5, index
    win.close()


def test_an_mp4_carries_the_key_of_the_maps_it_draws_whatever_frame_is_shown(qtbot, video_path: Path, tmp_path: Path) -> None:  # noqa: ANN001
    """Classified at frames 3-10, shown at frame 30 (no map on screen, no key under the views): an export of frames
    3-12 draws the maps on 3-10 and so carries their key; it once had none.  Frames 11-12 alone draw none."""
    win = _classified_at_3(qtbot, video_path, tmp_path)
    win.state.set_frame(30)
    qtbot.waitUntil(lambda: win.video.shown_index == 30, timeout=10000)
    settle(qtbot)
    assert win.export.map_legend() == []  # nothing drawn on screen

    def exported_height(name: str, frames: tuple[int, ...]) -> int:
        with qtbot.waitSignal(win.export.exported, timeout=60000):
            win.export.export_clip(str(tmp_path / name), frames)
        with open_video(tmp_path / name) as video:
            return video.info.height

    from_afar = exported_height("from-frame-30.mp4", tuple(range(3, 13)))
    assert exported_height("outside.mp4", (11, 12)) == 64
    win.state.set_frame(5)  # inside the clip: the views draw the maps, and the legend under them keys them
    qtbot.waitUntil(lambda: win.video.shown_index == 5, timeout=10000)
    settle(qtbot)
    assert win.export.map_legend() and from_afar == exported_height("from-frame-5.mp4", tuple(range(3, 13))) > 64
    win.close()


def test_whole_video_mp4_burns_in_frame_number_class_and_score(qtbot, window: MainWindow, video_path: Path, tmp_path: Path) -> None:  # noqa: ANN001
    """The range dialog's whole video is every frame; burned in: each frame's number and the class and score of the
    whole-video window covering it, top-left in the RGB panel; the rest of the picture is the plain export's."""
    from types import SimpleNamespace

    from core.export.burn_in import burn_in, caption_lines
    from viewer.export_dialog import ExportRangeDialog

    _open_at(qtbot, window, video_path, 0)
    region = window.export.clip_frames()
    dialog = ExportRangeDialog(40, (region[0], region[-1]), window)
    assert dialog.frame_range() == (region[0], region[-1])  # the classify region by default
    dialog.whole_button.setChecked(True)
    assert dialog.frame_range() == (0, 39) and dialog.burn_in()
    frames, burn = dialog.frame_range(), dialog.burn_in()
    dialog.deleteLater()
    windows = [SimpleNamespace(start=s, frame_indices=tuple(range(s, s + 16)), label=name, probability=p) for s, name, p in ((0, "run", 0.75), (16, "jump", 0.5), (24, "walk", 0.4))]
    window.export.set_video_prediction(SimpleNamespace(clips=windows))
    burned, plain = tmp_path / "burned.mp4", tmp_path / "plain.mp4"
    with qtbot.waitSignal(window.export.exported, timeout=60000):
        window.export.export_clip(str(burned), tuple(range(frames[0], frames[1] + 1)), burn_in=burn)
    with qtbot.waitSignal(window.export.exported, timeout=60000):
        window.export.export_clip(str(plain), (0, 1, 20, 39))
    burned_video, plain_video = open_video(burned), open_video(plain)
    assert len(burned_video) == 40
    for k, frame in ((0, 0), (2, 20), (3, 39)):
        ours, theirs = burned_video.read(frame).astype(int), plain_video.read(k).astype(int)
        box = (slice(0, 24), slice(0, 60))  # "frame N" and "run 75.0%" at this frame height
        assert np.abs(ours[box] - theirs[box]).mean() > 20  # the label region differs from the plain frame
        assert np.abs(ours[40:, :] - theirs[40:, :]).mean() < 6 and np.abs(ours[:, 128 + GAP :] - theirs[:, 128 + GAP :]).mean() < 6  # codec noise only
        expected = burn_in(plain_video.read(k), caption_lines(frame, window.export.label_track()), width_limit=128).astype(int)
        assert np.abs(ours[box] - expected[box]).mean() < 12  # the text drawn is this frame's caption
    assert caption_lines(20, window.export.label_track()) == ["frame 20", "jump 50.0%"]
