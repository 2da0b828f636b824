"""One set of worker readers per open video: the flow view, the scan, the classifier and every export lease their
decoders from it, and opening another video (or closing the window) closes them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import core.video.container as container
from core.video import open_video
from core.video.container import ContainerVideo
from core.video.reader_version import pictures_version
from core.models import build_model, save_checkpoint
from core.models.transformer.config import TransformerConfig
from held_export import hold_exports
from media import decode_index, write_video
from viewer.main_window import MainWindow

WAIT_MS = 30000


@pytest.fixture
def opens(monkeypatch) -> list[str]:  # noqa: ANN001
    """The paths the video files are opened at, one entry a decoder (playback's or a job's)."""
    opened: list[str] = []
    real = container._open_container

    def counting(path: str):  # noqa: ANN202
        opened.append(path)
        return real(path)

    monkeypatch.setattr(container, "_open_container", counting)
    return opened


def _tiny_checkpoint(folder: Path) -> Path:
    torch.manual_seed(0)
    config = TransformerConfig.create(backbone="tiny", class_names=["a", "b"], backbone_options={"dim": 16}, input_size=64, clip_length=8,
                                      fusion={"heads": 2, "head_dim": 8, "depth": 2})
    save_checkpoint(folder / "tiny.safetensors", build_model(config))
    return folder / "tiny.safetensors"


def _open_settled(qtbot, window: MainWindow, path: Path) -> None:  # noqa: ANN001
    """Open ``path`` and wait until its flow is shown and its scan done (the flow jobs hold no decoder then)."""
    window.open_video(str(path))
    qtbot.waitUntil(lambda: window.video.video is not None and window.video.video.path == str(path) and window.flow.current() is not None
                    and window.scan_label.text().endswith("complete") and not window.jobs.is_busy("flow"), timeout=WAIT_MS)


def _export_metrics(qtbot, window: MainWindow, path: Path) -> None:  # noqa: ANN001
    with qtbot.waitSignal(window.export.exported, timeout=WAIT_MS):
        assert window.export.export_flow_metrics(str(path)) > 0


@pytest.fixture
def job_readers(monkeypatch) -> list[ContainerVideo]:  # noqa: ANN001
    """Every decoder opened again for a job (:meth:`ContainerVideo.reopened`), in order."""
    made: list[ContainerVideo] = []
    real = ContainerVideo.reopened

    def recording(self: ContainerVideo, cache_bytes: int) -> ContainerVideo | None:
        other = real(self, cache_bytes)
        if other is not None:
            made.append(other)
        return other

    monkeypatch.setattr(ContainerVideo, "reopened", recording)
    return made


def test_exports_and_classification_read_through_the_open_videos_decoders(qtbot, window: MainWindow, tmp_path: Path, opens) -> None:  # noqa: ANN001
    """Opening, two exports and a classification open the file five times: playback, the flow view, the scan, the
    exports (one decoder for both) and the classifier.  Each export opened a decoder of its own (six), never closed."""
    video = write_video(tmp_path / "clip.mp4", 40)
    pictures_version(video)  # the cache keys' header read: once per file version, not a decoder
    opens.clear()
    window.classify.load_checkpoint(_tiny_checkpoint(tmp_path))
    qtbot.waitUntil(lambda: window.classify.checkpoint is not None, timeout=WAIT_MS)
    _open_settled(qtbot, window, video)
    assert len(opens) == 3  # playback, the flow view, the scan
    _export_metrics(qtbot, window, tmp_path / "first.csv")
    _export_metrics(qtbot, window, tmp_path / "second.csv")
    with qtbot.waitSignal(window.classify.predictionReady, timeout=WAIT_MS):
        assert window.classify.classify_clip(0) > 0
    assert opens == [str(video)] * 5, opens
    held = window.video.opened.readers.opened
    assert {kind: len(readers) for kind, readers in held.items()} == {"flow": 1, "scan": 1, "export": 1, "classify": 1}


def test_another_video_closes_the_last_ones_decoders(qtbot, window: MainWindow, tmp_path: Path, job_readers) -> None:  # noqa: ANN001
    """The flow view's, the scan's and the export's decoders of the first video stayed open (until the garbage
    collector found them) after the second was opened."""
    first, second = write_video(tmp_path / "first.mp4", 40), write_video(tmp_path / "second.mp4", 20)
    _open_settled(qtbot, window, first)
    _export_metrics(qtbot, window, tmp_path / "metrics.csv")
    old = list(job_readers)
    assert len(old) == 3 and not any(reader._closed for reader in old)  # the flow view's, the scan's, the export's
    _open_settled(qtbot, window, second)
    assert [reader._closed for reader in old] == [True, True, True]  # no file handle of the first left
    assert window.flow.video is window.video.video and window.classify.video is window.video.video  # handed the new one
    now = job_readers[len(old):]
    assert len(now) == 2 and not any(reader._closed for reader in now) and all(reader.path == str(second) for reader in now)
    window.close()
    assert all(reader._closed for reader in now)  # closing the window closes them too


def test_an_export_of_the_last_video_reads_it_to_the_end_and_then_closes_its_decoder(qtbot, window: MainWindow, tmp_path: Path,
                                                                                     job_readers) -> None:  # noqa: ANN001
    """Another video opened while an export of frames 30-32 of the first was being written: the export goes on
    with the first video's frames (the second has 20), and its decoder closes when it ends."""
    first, second = write_video(tmp_path / "first.mp4", 40), write_video(tmp_path / "second.mp4", 20)
    _open_settled(qtbot, window, first)
    started, release = hold_exports(window, "test.held", 20)
    out = tmp_path / "held.mp4"
    window.export.export_clip(str(out), (30, 31, 32))
    assert started.wait(20)
    _open_settled(qtbot, window, second)
    exporting = [reader for reader in job_readers if reader.path == str(first) and not reader._closed]
    assert len(exporting) == 1  # the flow view's and the scan's closed; the export's reads on
    with qtbot.waitSignal(window.export.exported, timeout=WAIT_MS):
        release.set()
    assert exporting[0]._closed
    with open_video(out) as written:
        assert [decode_index(written.read(k)[:64, :128]) for k in range(len(written))] == [30, 31, 32]


def test_the_open_videos_analysis_factor_is_the_one_of_its_size() -> None:
    """One value per open video, from its size: a 1080p video's flow is computed at 853 x 480, so one analysis
    pixel spans the mean of 1920 / 853 and 1080 / 480 of the video's pixels."""
    from types import SimpleNamespace

    from viewer.open_video import OpenVideo

    opened = OpenVideo(SimpleNamespace(info=SimpleNamespace(width=1920, height=1080)))  # no decoder opened until a job leases one
    assert opened.video_pixels == pytest.approx((1920 / 853 + 1080 / 480) / 2, rel=1e-12)
    assert OpenVideo(SimpleNamespace(info=SimpleNamespace(width=854, height=480))).video_pixels == 1.0
