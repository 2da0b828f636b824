"""The next chunk's frames read on a CPU thread while the current chunk runs: the same inputs, each frame read
once and by one thread at a time, errors raised where the frames are used, and no read left running once the
call returns (the caller may close the video)."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest
import torch

from core.errors import Cancelled, VideoError
from core.inference import ArrayFrames, default_flow_backend
from core.models import build_model
from core.models.transformer.config import TransformerConfig
from core.models.transformer.predict import TransformerClassifier
from core.progress import CancelToken
from core.video.hdr import strip_threads


class WatchedFrames:
    """Frames in memory that note which thread read each frame, whether two reads ever overlapped, and can fail."""

    def __init__(self, frames: np.ndarray, *, fail_at: int | None = None, slow_s: float = 0.0) -> None:
        self.inner = ArrayFrames(frames)
        self.fail_at, self.slow_s = fail_at, slow_s
        self.readers: dict[int, str] = {}
        self.overlapped = False
        self.reading = False

    def __len__(self) -> int:
        return len(self.inner)

    def read_clip(self, indices):  # noqa: ANN001, ANN201
        self.overlapped |= self.reading
        self.reading = True
        try:
            time.sleep(self.slow_s)
            for i in indices:
                if i == self.fail_at:
                    raise VideoError(f"frame {i} cannot be decoded: the stream ends early", "clip.mp4")
                assert int(i) not in self.readers, f"frame {i} read twice"
                self.readers[int(i)] = threading.current_thread().name
            return self.inner.read_clip(indices)
        finally:
            self.reading = False


def config() -> TransformerConfig:
    return TransformerConfig.create(
        backbone="tiny", class_names=["a", "b", "c"], backbone_options={"dim": 16}, input_size=32, clip_length=4, frame_stride=1,
        fusion={"heads": 2, "head_dim": 8, "depth": 1}, flow_method="dis", flow_encoding={"normalization": "fixed", "max_radius": 3.0},
    )


def video(count: int = 60) -> np.ndarray:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 200, size=(40, 56, 3), dtype=np.uint8)
    return np.stack([np.roll(base, 2 * i, axis=1) + np.uint8(i % 50) for i in range(count)])


def classifier(ahead: bool) -> TransformerClassifier:
    torch.manual_seed(0)
    made = TransformerClassifier(build_model(config()).eval(), config(), device="cpu", flow_backend=default_flow_backend(), batch_size=2)
    made.decode_ahead = ahead
    return made


def decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("decode-ahead")]


def test_windows_read_ahead_get_the_same_inputs_each_frame_read_once_and_one_read_at_a_time() -> None:
    frames = video()
    source = WatchedFrames(frames, slow_s=0.01)
    ahead = classifier(True).predict_timeline(source, step=2)
    plain = classifier(False).predict_timeline(frames, step=2)
    assert len(ahead.clips) == 29 and sorted(source.readers) == list(range(60))
    for a, b in zip(ahead.clips, plain.clips):
        assert (a.start, a.frame_indices, a.flow_frame_indices) == (b.start, b.frame_indices, b.flow_frame_indices)
        np.testing.assert_array_equal(a.logits, b.logits)
    by_thread = {name.split("_")[0] for name in source.readers.values()}
    assert by_thread == {"MainThread", "decode-ahead"}  # the first chunk's frames on the caller's thread, later ones ahead
    assert not source.overlapped
    assert not decode_threads()


def test_a_frame_that_cannot_be_read_ahead_is_the_same_error_and_no_read_is_left_running() -> None:
    source = WatchedFrames(video(), fail_at=37)
    with pytest.raises(VideoError, match="frame 37 cannot be decoded"):
        classifier(True).predict_timeline(source, step=2)
    assert not source.reading and not decode_threads()


def test_a_cancelled_call_returns_with_no_read_in_flight() -> None:
    token = CancelToken()
    source = WatchedFrames(video(), slow_s=0.05)

    def progress(done, total, message=""):  # noqa: ANN001, ANN202
        if done >= 9:
            token.cancel()  # while the next chunk is being read ahead

    with pytest.raises(Cancelled):
        classifier(True).predict_timeline(source, step=2, cancel=token, progress=progress)
    assert not source.reading and not decode_threads()
    assert max(source.readers) < 59  # it stopped early


class StripThreadsSeen(WatchedFrames):
    """Frames that note, on each reading thread, how many threads an HDR frame read there may tone-map on."""

    def __init__(self, frames: np.ndarray) -> None:
        super().__init__(frames)
        self.strip_threads: dict[str, int] = {}

    def read_clip(self, indices):  # noqa: ANN001, ANN201
        self.strip_threads[threading.current_thread().name.split("_")[0]] = strip_threads()
        return super().read_clip(indices)


def test_on_the_cpu_the_read_ahead_tone_maps_on_its_own_thread_only(monkeypatch) -> None:
    """The model's threads run on the cores the read-ahead's HDR strips would be split across."""
    monkeypatch.setattr(cv2, "getNumThreads", lambda: 2)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    source = StripThreadsSeen(video())
    classifier(True).predict_timeline(source, step=2)
    assert source.strip_threads == {"MainThread": 2, "decode-ahead": 1}
