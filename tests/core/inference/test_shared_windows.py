"""Many windows over one video: each frame read once, each flow pair computed once, and every window
fed exactly what it was fed when prepared on its own (``share_windows = False``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import Cancelled
from core.flow import compute_flow
from core.inference import ArrayFrames, FlowBackend, default_flow_backend
from core.inference.frame_memo import FrameMemo, starts_still_to_come
from core.inference.pair_flow import chains, pairs_are_independent, shares_pairs
from core.models import build_model
from core.models.transformer.config import TransformerConfig
from core.models.transformer.predict import TransformerClassifier
from core.progress import CancelToken
from core.sampling import clip_indices, sliding_window_starts


@pytest.fixture(autouse=True)
def _seeded(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


class CountingFrames:
    """Frames in memory that count every frame index read."""

    def __init__(self, frames: np.ndarray) -> None:
        self.inner = ArrayFrames(frames)
        self.read: list[int] = []

    def __len__(self) -> int:
        return len(self.inner)

    def read_clip(self, indices):
        self.read.extend(int(i) for i in indices)
        return self.inner.read_clip(indices)


class CountingFlow:
    """The real flow engine, counting the pairs and calls it was given."""

    def __init__(self) -> None:
        self.real = default_flow_backend()
        self.pairs = 0
        self.calls = 0

    def compute(self, frames, method, **kwargs):
        self.pairs += len(frames) - 1
        self.calls += 1
        return self.real.compute(frames, method, **kwargs)

    def backend(self) -> FlowBackend:
        return FlowBackend(compute=self.compute, render=self.real.render)


def config(method: str = "farneback", normalization: str = "fixed", stride: int = 2) -> TransformerConfig:
    return TransformerConfig.create(
        backbone="tiny", class_names=["a", "b", "c", "d", "e"], backbone_options={"dim": 16}, input_size=32, clip_length=4,
        frame_stride=stride, fusion={"heads": 2, "head_dim": 8, "depth": 1}, flow_method=method,
        flow_encoding={"normalization": normalization, "max_radius": 3.0},
    )


def video(frames: int = 30) -> np.ndarray:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 200, size=(40, 56, 3), dtype=np.uint8)
    return np.stack([np.roll(base, 2 * i, axis=1) + np.uint8(i) for i in range(frames)])


def pair_set(cfg: TransformerConfig, count: int, starts: list[int]) -> set[tuple[int, int]]:
    pairs = set()
    for start in starts:
        indices = clip_indices(start, count, cfg.clip_length, cfg.frame_stride).indices
        read = (*indices, min(indices[-1] + cfg.frame_stride, count - 1))
        pairs.update(zip(read[:-1], read[1:]))
    return pairs


def classifiers(cfg: TransformerConfig, batch_size: int = 1):
    model = build_model(cfg).eval()
    shared_flow, own_flow = CountingFlow(), CountingFlow()
    shared = TransformerClassifier(model, cfg, device="cpu", flow_backend=shared_flow.backend(), batch_size=batch_size)
    own = TransformerClassifier(model, cfg, device="cpu", flow_backend=own_flow.backend(), batch_size=batch_size)
    own.share_windows = False
    return shared, shared_flow, own, own_flow


def assert_same_clips(new, old) -> None:
    assert len(new.clips) == len(old.clips)
    for a, b in zip(new.clips, old.clips):
        for name in ("start", "frame_indices", "flow_frame_indices", "padded", "crop_map"):
            assert getattr(a, name) == getattr(b, name), name
        assert (a.flow_method, a.flow_fell_back, a.flow_note) == (b.flow_method, b.flow_fell_back, b.flow_note)
        np.testing.assert_allclose(a.logits, b.logits, rtol=0, atol=1e-6)
    np.testing.assert_allclose(new.probabilities, old.probabilities, rtol=0, atol=1e-6)


# fixed: each pair rendered once; clip: a scale per window, rendered per window
@pytest.mark.parametrize(("method", "normalization"), [("farneback", "fixed"), ("dis", "fixed"), ("dis", "clip")])
def test_overlapping_windows_read_each_frame_once_compute_each_pair_once_and_score_as_before(method, normalization):
    cfg, frames = config(method, normalization), video(30)
    shared, shared_flow, own, own_flow = classifiers(cfg, batch_size=3)
    source, plain = CountingFrames(frames), CountingFrames(frames)
    new = shared.predict_timeline(source, step=1)
    old = own.predict_timeline(plain, step=1)
    assert_same_clips(new, old)
    starts = sliding_window_starts(30, cfg.clip_length, cfg.frame_stride, 1)
    assert [c.start for c in new.clips] == starts and len(starts) == 24
    assert sorted(source.read) == sorted(set(plain.read)), "each frame is read once"
    assert shared_flow.pairs == len(pair_set(cfg, 30, starts)) < own_flow.pairs
    assert shared_flow.calls == 2 * 3  # a chain per stride phase (even, odd frames) in each chunk of 8 windows
    assert own_flow.calls == len(starts)


def test_padded_windows_and_a_video_shorter_than_a_clip_are_the_same():
    cfg, frames = config(), video(6)
    shared, shared_flow, own, _ = classifiers(cfg)
    new = shared.predict_clips(frames, [0, 1, 2, 3, 4, 5])
    old = own.predict_clips(frames, [0, 1, 2, 3, 4, 5])
    assert [p.padded for p in new] == [p.padded for p in old] == [1, 1, 2, 2, 3, 3]
    for a, b in zip(new, old):
        assert (a.frame_indices, a.flow_frame_indices, a.padded) == (b.frame_indices, b.flow_frame_indices, b.padded)
        np.testing.assert_allclose(a.logits, b.logits, rtol=0, atol=1e-6)
    assert new[-1].flow_frame_indices == (5, 5, 5, 5, 5) and new[-1].padded == 3
    assert shared_flow.pairs == len(pair_set(cfg, 6, [0, 1, 2, 3, 4, 5]))


def test_video_prediction_cropped_at_the_side_and_unsorted_starts_are_the_same():
    cfg, frames = config(stride=1), video(40)
    shared, _, own, _ = classifiers(cfg, batch_size=2)
    with shared.at_crop(0.0), own.at_crop(0.0):
        assert_same_clips(shared.predict_video(frames, num_clips=7), own.predict_video(frames, num_clips=7))
    for a, b in zip(shared.predict_clips(frames, [20, 3, 21, 3, 36]), own.predict_clips(frames, [20, 3, 21, 3, 36])):
        assert a.start == b.start
        np.testing.assert_allclose(a.logits, b.logits, rtol=0, atol=1e-6)


def test_back_to_back_windows_at_stride_one_are_one_engine_call_per_chunk():
    cfg, frames = config(stride=1), video(40)
    shared, shared_flow, _, _ = classifiers(cfg)
    timeline = shared.predict_timeline(frames)  # windows of 4 every 4 frames: window k's 5th frame is window k+1's first
    assert [c.start for c in timeline.clips] == list(range(0, 37, 4))
    assert shared_flow.calls == 2 and shared_flow.pairs == 40  # 8 windows, then 2; 39 pairs and the last frame to itself


def test_batch_dependent_methods_keep_one_engine_call_per_window():
    assert not shares_pairs("tvl1") and not shares_pairs("raft-large", "cuda") and not shares_pairs("no-such-method")
    assert shares_pairs("DIS") and shares_pairs("farneback") and shares_pairs("raft-small", "cpu")
    assert pairs_are_independent("raft-large") and pairs_are_independent("dis") and not pairs_are_independent("tvl1")
    cfg, frames = config("tvl1"), video(16)
    shared, shared_flow, own, own_flow = classifiers(cfg)
    source = CountingFrames(frames)
    new, old = shared.predict_timeline(source, step=2), own.predict_timeline(frames, step=2)
    assert_same_clips(new, old)
    assert shared_flow.calls == own_flow.calls == len(new.clips) and shared_flow.pairs == own_flow.pairs
    assert sorted(source.read) == sorted(set(source.read)), "frames are still read once"


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_a_pairs_flow_is_the_same_alone_and_in_a_sequence(method):
    """Why sharing is exact for these methods: each pair is solved from its two frames alone."""
    frames = video(9)[:, :32, :32]
    sequence = compute_flow(frames, method).forward
    for k in range(len(frames) - 1):
        assert np.array_equal(compute_flow(frames[k : k + 2], method).forward[0], sequence[k])


def test_raft_on_a_cpu_shares_pairs_and_scores_each_window_as_its_own_call_did(tmp_path):
    """Off CUDA RAFT encodes one frame and updates one pair at a time (no warm starts here), so a pair's flow is
    the same bits in a chain as in its window's own call: windows every 2 frames compute each pair once."""
    from core.flow.raft import build_raft

    torch.manual_seed(0)
    weights = tmp_path / "raft_small_random.pth"
    torch.save(build_raft("raft-small").state_dict(), weights)
    cfg, frames = config("raft-small", "clip", stride=1), video(14)[:, :32, :32]

    class Raft(CountingFlow):
        def __init__(self) -> None:
            super().__init__()
            self.real = default_flow_backend(raft_weights=weights)

    model = build_model(cfg).eval()
    shared_flow, own_flow = Raft(), Raft()
    shared = TransformerClassifier(model, cfg, device="cpu", flow_backend=shared_flow.backend())
    own = TransformerClassifier(model, cfg, device="cpu", flow_backend=own_flow.backend())
    own.share_windows = False
    new, old = shared.predict_timeline(frames, step=2), own.predict_timeline(frames, step=2)
    assert new.clips[0].flow_method == "raft-small" and not new.clips[0].flow_fell_back
    assert_same_clips(new, old)
    assert shared_flow.pairs == 14 < own_flow.pairs == 4 * len(new.clips)  # 0 -> 1 -> ... -> 13 -> 13, each pair once


@pytest.mark.parametrize("wheel", ["middlebury", "legacy"])
def test_a_fixed_scale_renders_a_pair_the_same_alone_and_in_a_stack(wheel):
    """Why windows may share rendered pairs when the scale is fixed (and not when it is per clip)."""
    from core.flow import FlowEncoding, flow_to_rgb

    fields = compute_flow(video(6)[:, :32, :32], "dis").forward * 3
    encoding = FlowEncoding(normalization="fixed", max_radius=2.0, wheel=wheel)
    stack = flow_to_rgb(fields, encoding)
    for k in range(len(fields)):
        assert np.array_equal(flow_to_rgb(fields[k : k + 1], encoding)[0], stack[k])


def test_chains_link_pairs_without_extra_pairs():
    assert chains([(0, 2), (1, 3), (2, 4), (3, 5), (4, 4)]) == [[0, 2, 4, 4], [1, 3, 5]]
    assert chains([(5, 6), (0, 1), (1, 2)]) == [[0, 1, 2], [5, 6]]
    assert chains([(9, 9), (9, 9)]) == [[9, 9]]


def test_frame_memo_reads_once_forgets_and_stays_bounded():
    source = CountingFrames(video(20))
    memo = FrameMemo(source, lambda raw: raw[:, :8, :8].copy())
    assert memo.read_clip([3, 4, 4, 5]).shape == (4, 8, 8, 3)
    memo.read_clip([4, 5, 6])
    assert source.read == [3, 4, 5, 6] and memo.reads == 4
    memo.forget_before(5)
    memo.read_clip([4])
    assert source.read[-1] == 4
    small = FrameMemo(CountingFrames(video(20)), max_bytes=3 * 40 * 56 * 3)
    for start in range(10):
        np.testing.assert_array_equal(small.read_clip([start, start + 1]), video(20)[[start, start + 1]])
    assert small._bytes <= small.max_bytes
    assert starts_still_to_come([5, 2, 8, 9, 7]) == [2, 2, 7, 7, 7]


def test_cancel_stops_the_shared_path():
    cfg, frames = config(), video(30)
    shared, _, _, _ = classifiers(cfg)
    token = CancelToken()
    seen = []

    def progress(done, total, message=""):
        seen.append(done)
        if done >= 9:
            token.cancel()

    with pytest.raises(Cancelled):
        shared.predict_timeline(frames, step=1, cancel=token, progress=progress)
    assert max(seen) < 12


def test_shared_timings_add_up_to_the_stages():
    cfg, frames = config(), video(30)
    shared, _, _, _ = classifiers(cfg)
    clips = shared.predict_timeline(frames, step=2).clips
    for clip in clips:
        assert all(clip.timings_ms[s] >= 0 for s in ("decode", "preprocess", "flow"))
        assert clip.timings_ms["total"] == pytest.approx(sum(v for k, v in clip.timings_ms.items() if k != "total"))
    assert sum(c.timings_ms["flow"] for c in clips) > 0


def test_warm_up_runs_a_dummy_clip_and_changes_nothing():
    cfg, frames = config(), video(20)
    shared, flow, _, _ = classifiers(cfg)
    before = shared.predict_clip(frames, 3).logits
    assert shared.warm_up() > 0
    assert flow.calls == 2
    np.testing.assert_array_equal(shared.predict_clip(frames, 3).logits, before)


def test_default_families_read_each_frame_once():
    from fourth_family import RgbDiffClassifier, RgbDiffConfig, RgbDiffNet

    cfg = RgbDiffConfig(class_names=("x", "y", "z"))
    classifier = RgbDiffClassifier(RgbDiffNet(cfg), cfg, device="cpu")
    source = CountingFrames(video(20))
    new = classifier.predict_timeline(source, step=1)
    classifier.share_windows = False
    old = classifier.predict_timeline(video(20), step=1)
    assert sorted(source.read) == list(range(20))
    for a, b in zip(new.clips, old.clips):
        np.testing.assert_allclose(a.logits, b.logits, rtol=0, atol=1e-6)
