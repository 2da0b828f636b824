"""``bench extract``: token extraction for training, in videos per second, the path before workers beside the new ones.

Each row extracts every clip of a set of videos into a fresh (cold) token
cache with :class:`~core.models.transformer.train.extraction.ClipExtractor`:
``per-clip`` is the path before workers (each clip view prepared alone, in
process), ``shared`` prepares a video's clips together in process,
``N workers`` prepares them in N processes ahead of the backbones, and
``flow batch B`` (with the workers training uses by default: none on a CPU,
``min(4, cores)`` on CUDA) computes the flow left to the main process B clips
per engine call, across videos (RAFT's pairs side by side on a GPU).  On a CPU
that row runs too but gains nothing, its ratio is about 1: RAFT computes one
pair at a time there, and other methods clip by clip either way.  The paths
alternate run by run (median of ``--repeats``, after one unmeasured round on
two videos) and each is given as a ratio to ``per-clip`` of the same run; the
``max |diff|`` column compares its cached arrays with ``per-clip``'s (0 on a
CPU: the same bits; on a GPU batched RAFT may pick other kernels).

The data: a synthetic set (:mod:`core.synth`) written to a temporary folder,
and the real clips beside the project (skipped with a message when absent).
Backbones have random weights: speed does not depend on their values.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.resources import SHARED_DIR

REAL_VIDEOS = SHARED_DIR / "data" / "videos"  # beside the repository
TARGET = ("mvit_v2_s", "cuda", 40.0, "training extraction, MViTv2-S + RAFT-large, GPU", "raft-large")  # videos per second; its flow


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--videos", type=int, default=24, help="synthetic videos (default 24)")
    parser.add_argument("--size", type=int, default=112, help="synthetic frame size in pixels (default 112)")
    parser.add_argument("--frames", type=int, default=32, help="frames per synthetic video (default 32)")
    parser.add_argument("--clips-per-video", type=int, default=1, metavar="K", help="clips per video, as train's option (default 1)")
    parser.add_argument("--augment", default="none", choices=("none", "flip", "crop", "flip+crop"),
                        help="views per clip, as train's (default none)")
    parser.add_argument("--backbones", default="auto",
                        help="comma-separated backbones (default auto: tiny on the CPU, tiny,mvit_v2_s on CUDA)")
    parser.add_argument("--device", default="all", choices=("all", "cpu", "cuda"), help="where to run (all: CPU, and CUDA when present)")
    parser.add_argument("--workers", default="auto", metavar="LIST",
                        help="worker counts to measure, e.g. 1,2,4 (default auto: 1, 2, 4, 8 up to the cores)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each path (default 5)")
    parser.add_argument("--cpu-flow", default="dis", metavar="METHOD", help="flow method of CPU rows (default dis)")
    parser.add_argument("--cuda-flow", default="raft-large", metavar="METHOD", help="flow method of CUDA rows (default raft-large)")
    parser.add_argument("--raft-weights", metavar="PATH", default=None, help="RAFT weights file for a RAFT flow method")
    parser.add_argument("--input-size", type=int, default=0, metavar="S", help="crop size (default: the backbone's)")
    parser.add_argument("--clip-length", type=int, default=0, metavar="T", help="frames per clip (default: the backbone's)")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per backbone batch, as train's (default 8)")
    parser.add_argument("--flow-batch", type=int, default=4, metavar="B",
                        help="clips per flow call in the batched row, as train's --flow-batch (default 4)")
    parser.add_argument("--real", default=str(REAL_VIDEOS), metavar="DIR", help="folder of real clips for a row of their own (none: skip)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")


@dataclass(frozen=True)
class _Path:
    name: str
    workers: int
    share: bool
    flow_batch: int = 1  # 1: each clip's flow in its own call, the path as it was before flow batches


@dataclass
class _Row:
    backbone: str
    device: str
    flow: str
    data: str
    videos: int
    clips: int
    views: int
    path: str
    rate: float  # videos per second
    ratio: float
    diff: float


def run(args: argparse.Namespace) -> int:
    import torch

    from core.errors import InputError

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.videos < 1 or args.repeats < 1 or args.clips_per_video < 1:
        raise InputError(f"--videos, --repeats and --clips-per-video must be at least 1, got {args.videos}, {args.repeats}, "
                         f"{args.clips_per_video}")
    if args.flow_batch < 1:
        raise InputError(f"--flow-batch must be at least 1 (clips per flow call), got {args.flow_batch}")
    devices = {"cpu": ["cpu"], "cuda": ["cuda"]}.get(args.device, ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    if "cuda" in devices and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but CUDA is not available")
    plans = {device: _backbones(args.backbones, device) for device in devices}  # bad names fail before anything is measured
    paths = [_Path("per-clip (before)", 0, False), _Path("shared, in process", 0, True)]
    paths += [_Path(f"shared, {n} worker{'s' if n > 1 else ''}", n, True) for n in _worker_counts(args.workers)]
    print(f"bench extract: videos/s of training extraction into a cold token cache, median of {args.repeats} runs per path "
          f"(paths alternating); torch threads {torch.get_num_threads()}, {_cores()} cores")
    rows: list[_Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as scratch:
        sets = [("synthetic", _synthetic(Path(scratch) / "synth", args))]
        real = _real_videos(args.real)
        if real:
            sets.append(("real", real))
        for device in devices:
            flow = args.cpu_flow if device == "cpu" else args.cuda_flow
            for backbone in plans[device]:
                for name, videos in sets:
                    if name == "real" and backbone != "tiny":
                        continue  # the real clips are for the path's decode of real codecs, not another backbone
                    rows += _measure(backbone, device, flow, name, videos, [*paths, _batched(args.flow_batch, device)], args, Path(scratch))
    _print_table(rows)
    return 0


def _cores() -> int:
    from core.thread_budget import available_cores

    return available_cores()


def _batched(flow_batch: int, device_name: str) -> _Path:
    """The flow-batch path, with the workers training would use on this device."""
    from core.device import resolve_device
    from core.models.transformer.train.clip_loader import default_workers

    workers = default_workers(resolve_device(device_name))
    where = f"{workers} worker{'s' if workers > 1 else ''}" if workers else "in process"
    return _Path(f"flow batch {flow_batch}, {where}", workers, True, flow_batch)


def _worker_counts(text: str) -> list[int]:
    from core.bench.timing import positive_counts

    if text == "auto":
        return [n for n in (1, 2, 4, 8) if n <= max(1, _cores())]
    return positive_counts(text, "--workers", "worker counts (the in-process paths are always measured) or auto")


def _backbones(spec: str, device: str) -> list[str]:
    from core.errors import InputError
    from core.models.shared.backbones import BACKBONE_NAMES

    if spec == "auto":
        return ["tiny"] if device == "cpu" else ["tiny", "mvit_v2_s"]
    chosen = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in BACKBONE_NAMES]
    if unknown or not chosen:
        raise InputError(f"unknown backbones {unknown}: choose from {', '.join(BACKBONE_NAMES)} or auto")
    return chosen


def _synthetic(root: Path, args: argparse.Namespace) -> list[Path]:
    from core.synth.dataset import generate_dataset
    from core.synth.render import SYNTH_CLASSES

    per_class = -(-args.videos // len(SYNTH_CLASSES))
    began = time.perf_counter()
    made = generate_dataset(root, clips_per_class=per_class, size=args.size, frames=args.frames)
    clips = sorted(made.clips, key=lambda p: (p.stem.rsplit("_", 1)[-1], p.parent.name))[: args.videos]  # every class first
    took = time.perf_counter() - began
    print(f"  wrote {len(clips)} synthetic videos of {args.frames} frames at {args.size} px in {took:.1f} s", flush=True)
    return clips


def _real_videos(folder: str) -> list[Path]:
    from core.video.opener import VIDEO_EXTENSIONS

    if folder == "none":
        return []
    root = Path(folder)
    if not root.is_dir():
        print(f"  real clips: {root} is not there (a fresh clone); only the synthetic set is measured")
        return []
    found = sorted(p for p in root.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())
    if not found:
        print(f"  real clips: no video in {root}; only the synthetic set is measured")
    return found


def _measure(backbone: str, device_name: str, flow: str, data: str, videos: list[Path], paths: list[_Path], args: argparse.Namespace,
             scratch: Path) -> list[_Row]:
    """One row per path: videos/s over ``videos`` (a cold cache per run), paths alternating."""
    import torch

    from core.data import Sample
    from core.device import resolve_device
    from core.errors import WeightsUnavailable
    from core.models.transformer import TransformerConfig, build_transformer
    from core.training.views import view_names

    device = resolve_device(device_name)
    overrides: dict[str, Any] = {"flow_method": flow}
    if args.input_size:
        overrides["input_size"] = args.input_size
    if args.clip_length:
        overrides["clip_length"] = args.clip_length
    config = TransformerConfig.create(backbone=backbone, class_names=[f"class{i}" for i in range(101)], **overrides)
    torch.manual_seed(0)
    model = build_transformer(config).eval().to(device)  # random weights: speed does not depend on them
    views = len(view_names(args.augment))
    requests = [_request(Sample(path=p, label_index=0, label_name="class0"), views) for p in videos]
    label = f"{backbone} on {device} ({flow}), {data}"
    seconds: dict[str, list[float]] = {p.name: [] for p in paths}
    arrays: dict[str, dict[str, Any]] = {}
    try:
        for round_ in range(args.repeats + 1):
            order = paths[round_ % len(paths):] + paths[: round_ % len(paths)]  # each path first in turn
            for path in order:
                chosen = requests[:2] if round_ == 0 else requests
                took, arrays[path.name] = _one_run(config, model, device, path, chosen, args, scratch)
                if round_:
                    seconds[path.name].append(took)
    except WeightsUnavailable as err:
        print(f"  {label}: skipped, the flow is unavailable ({err}); pass --raft-weights PATH or another flow method", flush=True)
        return []
    base = len(requests) / statistics.median(seconds[paths[0].name])
    rows = []
    for path in paths:
        rate = len(requests) / statistics.median(seconds[path.name])
        rows.append(_Row(backbone, str(device), flow, data, len(requests), args.clips_per_video, views, path.name, rate, rate / base,
                         _max_diff(arrays[paths[0].name], arrays[path.name])))
    print(f"  measured {label}: " + ", ".join(f"{r.path} {r.rate:.2f}" for r in rows) + " videos/s", flush=True)
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def _request(sample: Any, views: int) -> Any:
    from core.models.transformer.train.extraction import VideoRequest

    return VideoRequest(sample, views)


def _one_run(config: Any, model: Any, device: Any, path: _Path, requests: list, args: argparse.Namespace,
             scratch: Path) -> tuple[float, dict]:
    """Seconds to extract ``requests`` into a fresh cache along ``path``, and the arrays it cached (by file name)."""
    from core.bench.timing import synchronize
    from core.data import SkippedVideos
    from core.errors import InputError
    from core.inference import default_flow_backend
    from core.models.transformer.layout import FLOW, RGB
    from core.models.transformer.train.extraction import TOKENS, ArrayStore, ClipExtractor
    from core.models.transformer.train.token_cache import TokenCache

    with tempfile.TemporaryDirectory(dir=scratch, prefix="cache-") as folder:
        cache = TokenCache(folder)
        streams = [s for s, used in ((RGB, config.uses_rgb), (FLOW, config.uses_flow)) if used]
        extractor = ClipExtractor(config=config, model=model, streams=streams, payload=TOKENS, augment=args.augment,
                                  clips_per_video=args.clips_per_video, cache=cache, store=ArrayStore(cache, budget_bytes=0),
                                  flow_backend=default_flow_backend(raft_weights=args.raft_weights), device=device,
                                  batch_size=args.batch_size, raft_weights=args.raft_weights, workers=path.workers, share=path.share,
                                  flow_batch=path.flow_batch)
        skipped = SkippedVideos()
        synchronize(device)
        began = time.perf_counter()
        extractor.run(requests, skipped=skipped)
        synchronize(device)
        took = time.perf_counter() - began
        if skipped:
            raise InputError(f"bench extract could not read every video: {skipped.summary()}")
        return took, {p.name: cache.get(p.name.removesuffix(".tokens")) for p in cache.entries()}


def _max_diff(before: dict, after: dict) -> float:
    import numpy as np

    if before.keys() != after.keys():
        return float("inf")  # another set of cache entries: the paths disagree on the keys
    diffs = [float(np.max(np.abs(a.astype(np.float32) - after[k].astype(np.float32)))) if a.size else 0.0 for k, a in before.items()]
    return max(diffs, default=0.0)


def _print_table(rows: list[_Row]) -> None:
    from core.bench.timing import format_table, target_verdict

    if not rows:
        print("no row was measured")
        return
    headers = ["backbone", "device", "flow", "data", "videos", "K", "views", "path", "videos/s", "vs per-clip", "max |diff|"]
    table = [[r.backbone, r.device, r.flow, r.data, r.videos, r.clips, r.views, r.path, r.rate, f"{r.ratio:.2f}x", r.diff] for r in rows]
    print(format_table(headers, table))
    backbone, device, limit, what, flow = TARGET
    best = max((r for r in rows if r.backbone == backbone and r.device.startswith(device) and r.data == "synthetic"),
               key=lambda r: r.rate, default=None)
    if best is not None:
        verdict = target_verdict(best.rate >= limit, best.flow, flow)
        print(f"target: {what} >= {limit:.0f} videos/s: {verdict} ({best.rate:.1f} videos/s, {best.path}, flow {best.flow})")
