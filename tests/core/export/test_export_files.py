"""core.export: heat maps on a fixed scale, PNG and MP4 written atomically, tables that parse back."""

from __future__ import annotations

import csv
import errno
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.errors import Cancelled
from core.export import (
    INCONSISTENCY_SCALE,
    WARP_ERROR_SCALE,
    ExportError,
    blend_rgba,
    flow_metric_rows,
    heat_rgba,
    legend_band,
    side_by_side,
    write_flow_metrics,
    write_mp4_stream,
    write_png,
    write_predictions,
)
from core.export.heatmap import LEGEND_HEIGHT, TOP_ALPHA
from core.flow.quality import PairQuality
from core.inference import Prediction, VideoPrediction
from core.progress import CancelToken
from core.sampling import CropMap
from core.video import open_video
from media import decode_index, index_frame
from paths import REPO


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- heat maps --------------------------------------------------------------------------
def test_heat_map_is_transparent_at_zero_saturated_at_the_maximum_and_monotonic() -> None:
    values = np.linspace(0.0, 2 * INCONSISTENCY_SCALE.maximum, 200, dtype=np.float32).reshape(10, 20)
    rgba = heat_rgba(values, INCONSISTENCY_SCALE)
    assert rgba.shape == (10, 20, 4) and rgba.dtype == np.uint8
    alpha = rgba[..., 3].ravel()
    assert alpha[0] == 0 and alpha[-1] == TOP_ALPHA
    assert np.all(np.diff(alpha.astype(int)) >= 0)
    beyond = values.ravel() >= INCONSISTENCY_SCALE.maximum
    assert np.all(rgba.reshape(-1, 4)[beyond] == rgba.reshape(-1, 4)[-1])  # clipped at the top of the scale


def test_heat_map_scale_is_fixed_not_normalised_per_frame() -> None:
    """The same value has the same colour whatever else is in the map (no per-frame max)."""
    small = np.full((4, 4), 1.0, np.float32)
    mixed = small.copy()
    mixed[0, 0] = 100.0
    assert np.array_equal(heat_rgba(small, INCONSISTENCY_SCALE)[1, 1], heat_rgba(mixed, INCONSISTENCY_SCALE)[1, 1])
    nan = np.full((2, 2), np.nan, np.float32)
    assert np.all(heat_rgba(nan, WARP_ERROR_SCALE)[..., 3] == 0)
    half = heat_rgba(np.full((2, 2), 60.0, np.float32), WARP_ERROR_SCALE, opacity=0.5)
    assert half[0, 0, 3] == round(TOP_ALPHA * 0.5)
    with pytest.raises(ValueError, match=r"\(H, W\) array, got shape \(2, 2, 2\)"):
        heat_rgba(np.zeros((2, 2, 2)), WARP_ERROR_SCALE)


def test_a_map_measured_smaller_is_coloured_in_the_scales_unit() -> None:
    """An inconsistency of 1 analysis px on a video analysed at half size is 2 video px: coloured as 2 is, at the top
    of the 2 px scale; at a factor of 1 the colours are exactly those of no factor."""
    values = np.linspace(0.0, 1.5, 200, dtype=np.float32).reshape(10, 20)
    assert np.array_equal(heat_rgba(values, INCONSISTENCY_SCALE, to_scale_unit=1.0), heat_rgba(values, INCONSISTENCY_SCALE))
    assert np.array_equal(heat_rgba(values, INCONSISTENCY_SCALE, to_scale_unit=2.0), heat_rgba(values * 2, INCONSISTENCY_SCALE))
    assert np.array_equal(heat_rgba(np.ones((2, 2), np.float32), INCONSISTENCY_SCALE, to_scale_unit=2.0)[0, 0], INCONSISTENCY_SCALE.lut()[255])


def test_blend_stretches_a_small_layer_over_the_frame() -> None:
    base = np.zeros((8, 8, 3), np.uint8)
    layer = np.zeros((2, 2, 4), np.uint8)
    layer[..., 0] = 255
    layer[..., 3] = 255
    out = blend_rgba(base, layer, opacity=0.5)
    assert out.shape == (8, 8, 3) and np.all(out[..., 0] == 128) and np.all(out[..., 1:] == 0)


def test_legend_band_has_one_strip_per_scale() -> None:
    band = legend_band([INCONSISTENCY_SCALE, WARP_ERROR_SCALE], 400)
    assert band.shape == (2 * LEGEND_HEIGHT, 400, 3)
    for row, scale in ((11, INCONSISTENCY_SCALE), (LEGEND_HEIGHT + 11, WARP_ERROR_SCALE)):
        colours = {tuple(c) for c in band[row]}
        assert tuple(scale.lut()[0, :3]) in colours and tuple(scale.lut()[255, :3]) in colours  # the whole gradient is drawn


# -- PNG ----------------------------------------------------------------------------------
def test_side_by_side_resizes_the_right_panel_to_the_left_height() -> None:
    left = np.full((60, 80, 3), 10, np.uint8)
    right = np.full((30, 40, 3), 200, np.uint8)
    out = side_by_side(left, right, gap=4)
    assert out.shape == (60, 80 + 4 + 80, 3)
    assert np.all(out[:, :80] == 10) and np.all(out[:, 84:] == 200) and np.all(out[:, 80:84] == (32, 33, 36))
    assert side_by_side(left, None, gap=4).shape == (60, 164, 3)


def test_png_round_trips_exactly_and_atomically(tmp_path: Path) -> None:
    image = index_frame(37, 96, 48)
    path = tmp_path / "view.png"
    write_png(path, image)
    back = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    assert back.shape == (48, 96, 3) and np.array_equal(back, image)
    assert _leftovers(tmp_path) == ["view.png"]


def test_png_errors_name_the_file_and_leave_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="not_a_folder/view.png: cannot write: a part of the folder path is a file"):
        write_png(blocker / "view.png", index_frame(1))
    with pytest.raises(ExportError, match=r"view.jpg: unsupported file type '.jpg': use .png"):
        write_png(tmp_path / "view.jpg", index_frame(1))
    with pytest.raises(ExportError, match="is a folder"):
        write_png(tmp_path, index_frame(1))
    assert _leftovers(tmp_path) == ["not_a_folder"]


# -- MP4 ----------------------------------------------------------------------------------
def test_mp4_stream_decodes_back_with_the_right_frames_and_even_size(tmp_path: Path) -> None:
    frames = [index_frame(i, 127, 63) for i in range(12)]  # odd sides: padded, not cut
    path = tmp_path / "clip.mp4"
    reports: list[tuple[int, int]] = []
    written, height, width = write_mp4_stream(path, iter(frames), total=12, fps=12.5, progress=lambda d, t, m="": reports.append((d, t)))
    assert (written, height, width) == (12, 64, 128)
    assert reports[-1] == (12, 12)
    video = open_video(path)
    assert len(video) == 12 and (video.info.width, video.info.height) == (128, 64)
    assert abs(video.info.fps - 12.5) < 1e-6
    for i in range(12):
        frame = video.read(i)
        assert decode_index(frame) == i
        assert np.abs(frame[:63, :127].astype(int) - frames[i].astype(int)).mean() < 6  # H.264 at CRF 18
    assert _leftovers(tmp_path) == ["clip.mp4"]


def test_mp4_cancelled_or_failing_leaves_nothing(tmp_path: Path) -> None:
    token = CancelToken()

    def frames():
        for i in range(20):
            if i == 5:
                token.cancel()
            yield index_frame(i)

    with pytest.raises(Cancelled):
        write_mp4_stream(tmp_path / "a.mp4", frames(), total=20, fps=25, cancel=token)

    def disk_full():
        yield index_frame(0)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(ExportError, match=r"b.mp4: cannot write: the disk is full"):
        write_mp4_stream(tmp_path / "b.mp4", disk_full(), total=3, fps=25)

    def changing():
        yield index_frame(0, 64, 32)
        yield index_frame(1, 32, 32)

    with pytest.raises(ValueError, match="frame 1 is 32x32, the first was 64x32"):
        write_mp4_stream(tmp_path / "c.mp4", changing(), total=2, fps=25)
    with pytest.raises(ValueError, match="no frames"):
        write_mp4_stream(tmp_path / "d.mp4", iter([]), total=0, fps=25)
    assert _leftovers(tmp_path) == []


# -- tables -------------------------------------------------------------------------------
def _quality(k: int, *, consistency: bool = True) -> PairQuality:
    return PairQuality(
        fb_error_mean=0.1 * k if consistency else math.nan,
        inconsistent_share=0.01 * k if consistency else math.nan,
        warp_error_mean=1.5 + k,
        magnitude_mean=2.0 + k,
        magnitude_p95=3.0 + k,
        magnitude_max=4.0 + k,
        outside_share=0.0,
        noise_score=0.05 * k,
    )


def test_flow_metrics_round_trip_through_csv_and_json(tmp_path: Path) -> None:
    qualities = [_quality(0), _quality(1), _quality(2, consistency=False)]
    rows = flow_metric_rows(qualities, first_pair=16, method_used=["dis", "dis", "farneback"])
    write_flow_metrics(tmp_path / "m.csv", rows, video="v.mp4", method="dis")
    write_flow_metrics(tmp_path / "m.json", rows, video="v.mp4", method="dis")
    with open(tmp_path / "m.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [int(r["pair"]) for r in table] == [16, 17, 18] and [int(r["next_frame"]) for r in table] == [17, 18, 19]
    assert [float(r["noise_score"]) for r in table] == pytest.approx([0.0, 0.05, 0.10])
    assert [float(r["warp_error_mean"]) for r in table] == [1.5, 2.5, 3.5]
    assert table[2]["fb_error_mean"] == "" and table[2]["method_used"] == "farneback"
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["video"] == "v.mp4" and data["method"] == "dis" and len(data["pairs"]) == 3
    assert data["pairs"][1]["magnitude_p95"] == 4.0 and data["pairs"][2]["inconsistent_share"] is None
    assert data["units"] == {"fb_error_mean": "video pixels", "magnitude_mean": "video pixels", "magnitude_p95": "video pixels",
                             "magnitude_max": "video pixels", "warp_error_mean": "grey levels (0-255)"}
    with pytest.raises(ExportError, match=r"m.txt: unsupported file type '.txt'"):
        write_flow_metrics(tmp_path / "m.txt", rows)
    with pytest.raises(ValueError, match="3 pairs need as many method names, got 2"):
        flow_metric_rows(qualities, method_used=["dis", "dis"])


def _prediction(start: int, probabilities: list[float]) -> Prediction:
    names = ("MoveLeft", "MoveRight", "Red")
    p = np.asarray(probabilities, np.float32)
    order = np.argsort(-p)
    return Prediction(
        class_names=names,
        logits=np.log(p),
        probabilities=p,
        top=[(names[i], float(p[i])) for i in order],
        start=start,
        frame_indices=tuple(range(start, start + 4)),
        flow_frame_indices=tuple(range(start, start + 5)),
        padded=0,
        crop_map=CropMap(64, 128, 64, 128, 64, 32, 0),
        flow_method="dis",
        flow_fell_back=False,
        flow_note="",
        timings_ms={"decode": 1.0, "total": 5.0},
    )


def test_predictions_round_trip_through_json_and_csv(tmp_path: Path) -> None:
    clip = _prediction(8, [0.1, 0.7, 0.2])
    write_predictions(tmp_path / "p.json", clip, video="v.mp4", checkpoint="m.safetensors")
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["label"] == "MoveRight" and data["probability"] == pytest.approx(0.7)
    assert [t["label"] for t in data["top"]] == ["MoveRight", "Red", "MoveLeft"]
    assert data["clips"][0]["frame_indices"] == [8, 9, 10, 11] and data["clips"][0]["probabilities"]["Red"] == pytest.approx(0.2)
    assert data["checkpoint"] == "m.safetensors"

    second = _prediction(12, [0.6, 0.3, 0.1])
    mean = np.mean([clip.probabilities, second.probabilities], axis=0)
    video = VideoPrediction(class_names=clip.class_names, probabilities=mean, top=[("MoveRight", float(mean[1]))], clips=[clip, second])
    write_predictions(tmp_path / "t.csv", video)
    with open(tmp_path / "t.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(int(r["start"]), int(r["last_frame"]), r["label"]) for r in rows] == [(8, 11, "MoveRight"), (12, 15, "MoveLeft")]
    assert float(rows[1]["p_MoveLeft"]) == pytest.approx(0.6)


def test_core_export_imports_without_qt() -> None:
    """core never imports Qt: the export writers work in a process where PySide6 cannot load."""
    import subprocess
    import sys

    code = "import sys; sys.modules['PySide6'] = None; import core.export, core.export.video, core.export.tables; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_an_image_in_the_folder_of_frames_an_export_reads_is_refused(tmp_path: Path) -> None:
    """A folder of frames is the video: a PNG written in it replaces one of its frames, or is read as a new one."""
    from core.export.target import ExportError, check_writable

    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "frame_000001.png").write_bytes(b"the user's frame")
    for name in ("frame_000001.png", "view.PNG"):
        with pytest.raises(ExportError, match="is in the folder of frames this export reads"):
            check_writable(frames / name, folder=False, suffixes=(".png",), inputs=[frames])
    assert (frames / "frame_000001.png").read_bytes() == b"the user's frame"
    assert check_writable(frames / "clip.mp4", folder=False, inputs=[frames]) == frames / "clip.mp4"  # not an image: not a frame
    assert check_writable(tmp_path / "view.png", folder=False, inputs=[frames]) == tmp_path / "view.png"
