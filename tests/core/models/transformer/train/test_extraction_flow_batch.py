"""Extraction with the flow left to the main process gathered across videos (``flow_batch``): the same cached
arrays as one clip's flow per call, fewer engine calls, a broken video skipped alone, cancel, the refusal of
another method's flow, and the option from the command line to the extractor."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

import main
from core.data import SkippedVideos, discover_dataset
from core.errors import Cancelled, InputError, WeightsUnavailable
from core.inference import FlowBackend, default_flow_backend
from core.models.transformer import TransformerConfig, build_transformer
from core.models.transformer.train import extraction
from core.models.transformer.train.extraction import ArrayStore, ClipExtractor, VideoRequest, default_flow_batch
from core.models.transformer.train.token_cache import TokenCache
from core.progress import CancelToken
from training_helpers import write_colour_dataset

CLIPS = 3  # per video: 18 clips over the 6 good videos, so flow batches of 4 straddle videos
GOOD_VIDEOS = 6


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = write_colour_dataset(tmp_path_factory.mktemp("colours") / "data", videos_per_class=2)
    (root / "Green" / "Green_broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")  # between good ones
    return root


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _Counting:
    """The default flow backend, counting its one-clip and several-clip calls (``on_clips`` may change the results)."""

    def __init__(self, on_clips=None) -> None:  # noqa: ANN001 - a callable on (call number, results)
        self.full = default_flow_backend()
        self.single = 0
        self.batches: list[int] = []
        self.on_clips = on_clips

    def compute(self, frames: np.ndarray, method: str, **kwargs: object) -> object:
        self.single += 1
        return self.full.compute(frames, method, **kwargs)

    def compute_clips(self, clips: list[np.ndarray], method: str, **kwargs: object) -> list:
        self.batches.append(len(clips))
        results = self.full.compute_clips(clips, method, **kwargs)  # type: ignore[misc]
        return results if self.on_clips is None else self.on_clips(len(self.batches), results)

    def backend(self) -> FlowBackend:
        return FlowBackend(compute=self.compute, render=self.full.render, compute_clips=self.compute_clips)


def _extractor(cache_dir: Path, backend: FlowBackend, **options) -> ClipExtractor:
    torch.manual_seed(0)
    config = TransformerConfig.create(backbone="tiny", class_names=["Blue", "Green", "Red"], backbone_options={"dim": 16, "frame_wise": True},
                                      input_size=32, clip_length=8, flow_method="dis", fusion={"heads": 2, "head_dim": 8, "depth": 1})
    cache = TokenCache(cache_dir)
    return ClipExtractor(config=config, model=build_transformer(config).eval(), streams=["rgb", "flow"], payload="tokens", augment="none",
                         clips_per_video=CLIPS, cache=cache, store=ArrayStore(cache), flow_backend=backend, device=torch.device("cpu"),
                         batch_size=4, **options)


def _requests(root: Path) -> list[VideoRequest]:
    return [VideoRequest(s, 1) for s in discover_dataset(root).samples]


def _arrays(cache_dir: Path) -> dict[str, np.ndarray]:
    cache = TokenCache(cache_dir)
    return {p.name: cache.get(p.name.removesuffix(".tokens")) for p in cache.entries()}


@pytest.mark.parametrize("workers", [0, 2])
def test_a_flow_batch_caches_the_arrays_of_one_clip_per_call_in_fewer_calls(dataset, tmp_path, monkeypatch, workers):
    # with workers, the flow is left to this process as RAFT's is on CUDA
    monkeypatch.setattr(extraction, "flow_runs_in_workers", lambda method, device: False)
    runs = {}
    for flow_batch in (1, 4):
        counting = _Counting()
        skipped = SkippedVideos()
        stats = _extractor(tmp_path / str(flow_batch), counting.backend(), workers=workers, flow_batch=flow_batch).run(
            _requests(dataset), skipped=skipped)
        assert [p.name for p in skipped.paths] == ["Green_broken.mp4"]  # only the broken video
        assert stats.computed == GOOD_VIDEOS * CLIPS * 2 and stats.videos == GOOD_VIDEOS + 1
        runs[flow_batch] = (counting, _arrays(tmp_path / str(flow_batch)))
    one, batched = runs[1][0], runs[4][0]
    assert one.batches == [] and one.single == (GOOD_VIDEOS * CLIPS if workers else GOOD_VIDEOS)  # in process: a call per video
    assert batched.batches == [4, 4, 4, 4, 2] and batched.single == 0
    before, after = runs[1][1], runs[4][1]
    assert before.keys() == after.keys() and len(before) == GOOD_VIDEOS * CLIPS * 2
    for key, array in before.items():
        assert np.array_equal(array, after[key]), key


def test_a_flow_batch_stops_on_cancel_and_a_rerun_completes_the_cache(dataset, tmp_path):
    cancel = CancelToken()

    def cancel_the_second(call: int, results: list) -> list:
        if call == 2:
            cancel.cancel()
        return results

    with pytest.raises(Cancelled):
        _extractor(tmp_path / "cache", _Counting(cancel_the_second).backend(), workers=0, flow_batch=4).run(
            _requests(dataset), skipped=SkippedVideos(), cancel=cancel)
    stats = _extractor(tmp_path / "cache", _Counting().backend(), workers=0, flow_batch=4).run(_requests(dataset), skipped=SkippedVideos())
    assert stats.computed + stats.cached == GOOD_VIDEOS * CLIPS * 2 and stats.cached > 0


def test_a_flow_batch_still_refuses_another_method_s_flow(dataset, tmp_path):
    def fell_back(call: int, results: list) -> list:
        return [dataclasses.replace(r, fell_back=True, note="no weights here") for r in results]

    with pytest.raises(WeightsUnavailable, match="refusing to train on another method's flow: no weights here"):
        _extractor(tmp_path / "cache", _Counting(fell_back).backend(), workers=0, flow_batch=4).run(_requests(dataset), skipped=SkippedVideos())


def test_the_flow_batch_defaults_to_the_device_and_must_be_a_positive_integer(tmp_path):
    assert default_flow_batch(torch.device("cuda")) == 4 and default_flow_batch(torch.device("cpu")) == 1
    assert _extractor(tmp_path, default_flow_backend()).flow_batch == 1
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match=f"flow_batch must be a positive integer, got {bad!r}"):
            _extractor(tmp_path, default_flow_backend(), flow_batch=bad)


def test_the_command_line_option_reaches_the_settings_and_a_bad_count_is_a_one_line_error(dataset, tmp_path, capsys):
    from core.commands.train import _train_parser, settings_from_args

    parser = _train_parser()
    assert settings_from_args(parser.parse_args(["data", "--out", "x.safetensors", "--flow-batch", "3"])).flow_batch == 3
    assert settings_from_args(parser.parse_args(["data", "--out", "x.safetensors"])).flow_batch is None
    with pytest.raises(InputError, match="flow_batch must be a positive integer, got 0"):
        settings_from_args(parser.parse_args(["data", "--out", "x.safetensors", "--flow-batch", "0"])).validate()
    out = tmp_path / "model.safetensors"
    assert main.main(["train", str(dataset), "--out", str(out), "--flow-batch", "0"]) == 2
    assert "flow_batch must be a positive integer, got 0" in capsys.readouterr().err and not out.exists()
    assert main.main(["train", str(dataset), "--out", str(out), "--model", "convnet", "--flow-batch", "2"]) == 2
    assert "--flow-batch is an option of the transformer family" in capsys.readouterr().err
    assert main.main(["ablate", str(dataset), "--out", str(tmp_path / "ablation"), "--flow-batch", "-1"]) == 2
    assert "flow_batch must be a positive integer, got -1" in capsys.readouterr().err


def test_flow_tokens_are_keyed_on_the_flow_method_s_settings(dataset, tmp_path, monkeypatch):
    """Token grids made from a method's flow are not that method's any more once its defaults change:
    the flow stream's key changes with them, the RGB stream's does not."""
    sample = discover_dataset(dataset).samples[0]
    before = _extractor(tmp_path / "tokens", default_flow_backend()).keys_for(sample, 0, 0)
    monkeypatch.setattr("core.flow.classical.DIS_PATCH_STRIDE", 8)
    after = _extractor(tmp_path / "tokens", default_flow_backend()).keys_for(sample, 0, 0)
    assert after["rgb"] == before["rgb"] and after["flow"] != before["flow"]


def test_tokens_computed_in_half_precision_are_keyed_apart_from_float32_ones(dataset, tmp_path, monkeypatch):
    """A GPU extracts under bf16/fp16 autocast: its token grids differ from the CPU's float32 ones, so a cache shared
    between machines must not hand one for the other.  float32 keys stay as they were."""
    from core.models.transformer.train import extraction

    assert extraction.backbone_precision(torch.device("cpu")) == "float32"
    sample = discover_dataset(dataset).samples[0]
    cpu = _extractor(tmp_path / "tokens", default_flow_backend()).keys_for(sample, 0, 0)
    monkeypatch.setattr(extraction, "backbone_precision", lambda device: "bfloat16")
    half = _extractor(tmp_path / "tokens", default_flow_backend()).keys_for(sample, 0, 0)
    assert half["rgb"] != cpu["rgb"] and half["flow"] != cpu["flow"]
