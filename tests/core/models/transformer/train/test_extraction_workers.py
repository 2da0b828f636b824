"""Extraction with clips prepared by worker processes: the same cached arrays as one clip at a time, bad videos
skipped, cancel ending the workers, resuming where a cancelled run stopped."""

from __future__ import annotations

import multiprocessing
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from core.data import SkippedVideos, discover_dataset
from core.errors import Cancelled, InputError
from core.inference import default_flow_backend
from core.models.transformer import TransformerConfig, build_transformer
from core.models.transformer.train import clip_loader
from core.models.transformer.train.clip_loader import ClipPreparer, ClipWant, VideoJob, flow_images
from core.models.transformer.train.extraction import ArrayStore, ClipExtractor, VideoRequest
from core.models.transformer.train.token_cache import TokenCache
from core.progress import CancelToken
from training_helpers import write_colour_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_colour_dataset(tmp_path_factory.mktemp("colours") / "data", videos_per_class=2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(flow_method: str = "dis") -> TransformerConfig:
    return TransformerConfig.create(backbone="tiny", class_names=["Blue", "Green", "Red"], backbone_options={"dim": 16, "frame_wise": True},
                                    input_size=32, clip_length=8, flow_method=flow_method, fusion={"heads": 2, "head_dim": 8, "depth": 1})


def _extractor(cache_dir: Path, *, augment: str = "none", clips: int = 1, payload: str = "tokens", **options) -> ClipExtractor:
    torch.manual_seed(0)
    config = _config()
    model = build_transformer(config).eval()
    cache = TokenCache(cache_dir)
    return ClipExtractor(config=config, model=model if payload == "tokens" else None, streams=["rgb", "flow"], payload=payload,
                         augment=augment, clips_per_video=clips, cache=cache, store=ArrayStore(cache), flow_backend=default_flow_backend(),
                         device=torch.device("cpu"), batch_size=4, **options)


def _requests(root: Path, views: int = 1) -> list[VideoRequest]:
    return [VideoRequest(s, views) for s in discover_dataset(root).samples]


def _arrays(cache_dir: Path) -> dict[str, np.ndarray]:
    cache = TokenCache(cache_dir)
    return {p.name: cache.get(p.name.removesuffix(".tokens")) for p in cache.entries()}


def _no_workers_left() -> None:
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("payload", ["tokens", "frames"])
def test_workers_cache_exactly_the_arrays_of_one_clip_at_a_time(dataset, tmp_path, payload):
    requests = _requests(dataset, views=2)
    old = _extractor(tmp_path / "old", augment="flip", clips=2, payload=payload, workers=0, share=False)
    new = _extractor(tmp_path / "new", augment="flip", clips=2, payload=payload, workers=2)
    first = old.run(requests, skipped=SkippedVideos())
    second = new.run(requests, skipped=SkippedVideos())
    assert first.computed == second.computed == 6 * 2 * 2 * 2  # videos x clips x views x streams
    before, after = _arrays(tmp_path / "old"), _arrays(tmp_path / "new")
    assert before.keys() == after.keys()  # the same cache keys: either path resumes the other's run
    for key, array in before.items():
        assert array.dtype == after[key].dtype and np.array_equal(array, after[key]), key
    _no_workers_left()


def test_a_bad_video_is_skipped_and_the_others_are_extracted(dataset, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    broken = data / "Green" / "Green_broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    skipped = SkippedVideos()
    stats = _extractor(tmp_path / "cache", workers=2).run(_requests(data), skipped=skipped)
    assert broken in skipped and len(skipped) == 1
    assert stats.computed == 6 * 2 and stats.videos == 7


def test_a_worker_error_that_is_not_the_video_s_stops_the_run_with_its_traceback(dataset, tmp_path):
    backend = default_flow_backend()

    def broken(frames, method, **kwargs):  # noqa: ANN001, ANN003 - the FlowBackend signature
        raise RuntimeError("flow engine broke")

    extractor = _extractor(tmp_path / "cache", workers=2)
    extractor.flow_backend = type(backend)(compute=broken, render=backend.render)
    with pytest.raises(RuntimeError, match="flow engine broke") as caught:
        extractor.run(_requests(dataset), skipped=SkippedVideos())
    assert any("extraction worker" in note for note in getattr(caught.value, "__notes__", []))
    _no_workers_left()


def test_cancel_ends_the_workers_and_a_rerun_resumes_from_the_cache(dataset, tmp_path):
    cancel = CancelToken()
    seen = []

    def progress(done: int, total: int, message: str = "") -> None:
        seen.append(message)
        if done == 4:
            cancel.cancel()

    began = time.monotonic()
    with pytest.raises(Cancelled):
        _extractor(tmp_path / "cache", workers=2).run(_requests(dataset), skipped=SkippedVideos(), cancel=cancel, progress=progress)
    assert time.monotonic() - began < 60
    _no_workers_left()
    written = len(TokenCache(tmp_path / "cache").entries())
    assert written == 8  # four videos: one whole batch of 4 per stream reached the disk
    assert seen[-1] == "extract: 8 arrays computed, 0 cached"
    stats = _extractor(tmp_path / "cache", workers=2).run(_requests(dataset), skipped=SkippedVideos())
    assert (stats.computed, stats.cached) == (12 - written, written)


def test_flow_left_to_the_caller_is_the_flow_prepared_in_the_worker(dataset):
    config = _config()
    path = discover_dataset(dataset).samples[0].path
    job = VideoJob(0, path, (ClipWant(0, 0, ("rgb", "flow")), ClipWant(1, 1, ("rgb", "flow")), ClipWant(1, 0, ("flow",))))
    backend = default_flow_backend()
    made = ClipPreparer(config=config, augment="flip", clips_per_video=2, flow_backend=backend, flow_device=torch.device("cpu"))(job)
    handed = ClipPreparer(config=config, augment="flip", clips_per_video=2, flow_backend=backend, flow_device=None)(job)
    assert made.error is None and handed.error is None
    for a, b in zip(made.clips, handed.clips):
        assert a.flow_frames is None and b.flow is None and b.flow_frames.shape == (9, 32, 32, 3)
        assert (a.rgb is None) == (b.rgb is None) and (a.rgb is None or np.array_equal(a.rgb, b.rgb))
        images, fell_back, _ = flow_images(b.flow_frames, config, backend, device=torch.device("cpu"))
        assert not fell_back and np.array_equal(images, a.flow)


@pytest.mark.parametrize(("device", "expected"), [("cpu", 0), ("cuda", 2)])
def test_default_workers_follow_the_device(monkeypatch, device, expected):
    monkeypatch.setattr("core.thread_budget.available_cores", lambda: 2)
    assert clip_loader.default_workers(torch.device(device)) == expected


def test_the_command_line_option_reaches_the_settings_and_a_negative_count_is_refused():
    from core.commands.train import _train_parser, settings_from_args

    parser = _train_parser()
    settings = settings_from_args(parser.parse_args(["data", "--out", "x.safetensors", "--extract-workers", "3"]))
    assert settings.extract_workers == 3
    assert settings_from_args(parser.parse_args(["data", "--out", "x.safetensors"])).extract_workers is None
    with pytest.raises(InputError, match="extract_workers must be 0 or more"):
        settings_from_args(parser.parse_args(["data", "--out", "x.safetensors", "--extract-workers", "-1"])).validate()


WORKER_SCRIPT = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from core.models.transformer.train.clip_loader import VideoJob, prepared_videos

def held(job, cancel=None):  # a worker busy with a video when the training process is killed
    Path({marks!r}, str(os.getpid())).touch()
    time.sleep(600)

with prepared_videos([VideoJob(i, Path("v.mp4"), ()) for i in range(4)], held, workers=2) as videos:
    next(videos)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended (an init that does not reap leaves it)


@pytest.mark.skipif(not Path("/proc/self/stat").exists() or not clip_loader.can_fork(), reason="Linux: parent-death signal and /proc")
def test_workers_end_when_the_training_process_is_killed_outright(tmp_path: Path) -> None:
    """SIGKILL (the OOM killer's) of the training process left its extraction workers running for good, orphaned."""
    import os
    import signal
    import subprocess
    import sys

    from paths import REPO

    marks = tmp_path / "workers"
    marks.mkdir()
    process = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT.format(repo=str(REPO), marks=str(marks))])
    try:
        deadline = time.monotonic() + 60
        while len(list(marks.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = [int(p.name) for p in marks.iterdir()]
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {left} outlived the killed training process"
