"""A Kinetics annotation's seconds of an untrimmed video: the segment reads as a trimmed clip would, and
training and evaluation see those frames only, while caches keyed by the file number the file's frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media import decode_index, write_video

from core.data import Sample
from core.errors import VideoError
from core.video import SegmentVideo, open_segment, open_video


@pytest.fixture
def untrimmed(tmp_path: Path) -> Path:
    """100 frames at 25 fps (4 s), each drawing its own index."""
    return write_video(tmp_path / "untrimmed.mp4", 100, fps=25, options={"bf": "2", "g": "12"})


def test_a_segment_reads_the_frames_of_its_seconds_numbered_from_zero(untrimmed: Path) -> None:
    with open_segment(untrimmed, (1.0, 2.5)) as video:
        assert isinstance(video, SegmentVideo) and len(video) == 38  # frames 25 .. 62: times 1.0 .. 2.48
        assert [decode_index(f) for _, f in video.iter_frames()] == list(range(25, 63))
        assert decode_index(video.read(37)) == 62 and decode_index(video.read(0)) == 25  # by seeking too
        assert video.source_index(10) == 35
        assert video.info.frames == 38 and video.info.duration_s == pytest.approx(38 / 25)
        np.testing.assert_allclose(video.timestamps, np.arange(38) / 25, atol=1e-6)
        with pytest.raises(IndexError):
            video.read(38)
    with open_segment(untrimmed, None) as whole:
        assert not isinstance(whole, SegmentVideo) and len(whole) == 100


def test_a_segment_outside_the_video_is_a_clear_error(untrimmed: Path) -> None:
    with pytest.raises(VideoError, match=r"untrimmed.mp4: the annotated segment 120-130 s has no frame: the video lasts 4.0 s"):
        open_segment(untrimmed, (120.0, 130.0))
    with pytest.raises(VideoError, match="is not a time range"):
        open_segment(untrimmed, (3.0, 3.0))


def test_a_sample_opens_its_segment(untrimmed: Path) -> None:
    with Sample(untrimmed, 0, "x", segment=(3.0, 10.0)).open() as video:  # past the end: the frames there are
        assert [decode_index(f) for _, f in video.iter_frames()] == list(range(75, 100))
    with Sample(untrimmed, 0, "x").open() as video:
        assert len(video) == 100


def test_evaluation_scores_the_segment_and_numbers_its_clips_as_the_file_does(untrimmed: Path) -> None:
    from core.evaluation.evaluate import _score_video

    class Recording:
        """A classifier that records the frames each clip starts on."""

        config = type("Config", (), {"clip_length": 4, "frame_stride": 1, "uses_flow": False, "joint_snippets": False})()

        def __init__(self) -> None:
            self.first_frames: list[int] = []

        def at_crop(self, _position: float):  # noqa: ANN202 - a context manager
            from contextlib import nullcontext

            return nullcontext()

        def predict_clips(self, video, starts, **_kwargs):  # noqa: ANN001, ANN202
            from types import SimpleNamespace

            self.first_frames += [decode_index(video.read(s)) for s in starts]
            return [SimpleNamespace(start=s, probabilities=np.array([1.0, 0.0]), flow_method=None, flow_fell_back=False, flow_note="")
                    for s in starts]

    classifier = Recording()
    result = _score_video(classifier, untrimmed, 0, "untrimmed.mp4", 3, [0.5], None, segment=(2.0, 3.0))
    assert all(50 <= f < 75 for f in classifier.first_frames)  # the annotated second only
    assert list(result.clip_starts) == classifier.first_frames  # where the viewer, which opens the file, finds them
    from types import SimpleNamespace

    from core.evaluation.video_results import records_of

    evaluation = SimpleNamespace(dataset_root=untrimmed.parent, videos=[result], class_names=["a", "b"], requested_flow_method=None, crops=1)
    (record,) = records_of(evaluation)
    assert record.segment == (2.0, 3.0) and record.worst_frame in classifier.first_frames  # the results file says which seconds


def test_training_prepares_the_segment_and_caches_its_flow_under_the_files_frames(untrimmed: Path, tmp_path: Path) -> None:
    import torch

    from core.flow.cache import FlowCache, compute_flow_cached
    from core.models.convnet.config import ConvNetConfig
    from core.training.end_to_end import VideoPreparer

    config = ConvNetConfig.create(variant="late", flow_length=2, flow_method="dis", backbone="tiny", class_names=["a", "b"], input_size=32,
                                  backbone_options={"width": 8})
    cache = FlowCache(tmp_path / "flow")
    preparer = VideoPreparer(config, flow_cache=cache, device=torch.device("cpu"), memory_bytes=1 << 30, raft_weights=None)
    prepared = preparer.get(untrimmed, None, (1.0, 1.4))
    assert len(prepared.frames) == 10 and prepared.forward.shape[0] == 9
    with open_video(untrimmed) as video:  # the same pairs asked of the whole file are the cached ones
        from core.sampling import resize_and_crop

        frames, _ = resize_and_crop(video.read_clip(list(range(25, 35))), 32)
    result, hit = compute_flow_cached(untrimmed, list(range(25, 35)), "dis", frames=frames, cache=cache, device="cpu")
    assert hit and np.array_equal(result.forward, prepared.forward)
    assert preparer.get(untrimmed, None, (1.0, 1.4)) is prepared and preparer.get(untrimmed) is not prepared


def test_token_extraction_reads_the_segment_and_keys_its_cache_by_it(untrimmed: Path, tmp_path: Path) -> None:
    import torch

    from core.inference import default_flow_backend
    from core.models.transformer import TransformerConfig, build_transformer
    from core.models.transformer.train.clip_loader import ClipPreparer, ClipWant, VideoJob
    from core.models.transformer.train.extraction import ArrayStore, ClipExtractor
    from core.models.transformer.train.token_cache import TokenCache
    from core.sampling import resize_and_crop

    config = TransformerConfig.create(backbone="tiny", class_names=["a", "b"], backbone_options={"dim": 16, "frame_wise": True},
                                      input_size=32, clip_length=8, flow_method="dis", fusion={"heads": 2, "head_dim": 8, "depth": 1})
    job = VideoJob(0, untrimmed, (ClipWant(0, 0, ("rgb",)),), segment=(2.0, 3.0))
    prepared = ClipPreparer(config=config, augment="none", clips_per_video=1, flow_backend=default_flow_backend(),
                            flow_device=torch.device("cpu"))(job)
    assert prepared.error is None
    clip = prepared.clips[0]
    assert 0 <= clip.start <= 25 - 8  # numbered within the segment's 25 frames
    with open_video(untrimmed) as video:
        expected, _ = resize_and_crop(video.read_clip([50 + clip.start + k for k in range(8)]), 32)
    assert np.array_equal(clip.rgb, expected)
    cache = TokenCache(tmp_path / "tokens")
    extractor = ClipExtractor(config=config, model=build_transformer(config).eval(), streams=["rgb", "flow"], payload="tokens",
                              augment="none", clips_per_video=1, cache=cache, store=ArrayStore(cache), flow_backend=default_flow_backend(),
                              device=torch.device("cpu"), batch_size=2)
    whole, segment = Sample(untrimmed, 0, "a"), Sample(untrimmed, 0, "a", segment=(2.0, 3.0))
    assert extractor.keys_for(whole, 0, 0) != extractor.keys_for(segment, 0, 0)  # another clip of the file: never its cached tokens
