"""``bench infer``: per-stage latency of one 16-frame clip for each backbone, CPU and CUDA.

Each row runs :meth:`core.inference.ClipClassifier.predict_clip` end to end on a
real video (decode, crop, flow, both backbones, fusion) and reports the median
of each stage over a few runs, with the ratio of its total to the first row
(the tiny model on the CPU without attention) measured in the same run.
MViTv2-S and Swin3D-S use Kinetics-400 weights when they are in the hub
cache and random weights otherwise (the table says which): latency does not
depend on the weights' values.  On a CPU with native bfloat16 the big
backbones are also timed under bfloat16 autocast.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from core.resources import SHARED_DIR
from typing import Any

TARGETS_MS = {
    ("tiny", "cpu", True): (500.0, "tiny model end to end with attention, CPU"),
    ("mvit_v2_s", "cpu", False): (4000.0, "MViTv2-S two-stream with DIS flow, CPU"),
    ("mvit_v2_s", "cuda", False): (100.0, "MViTv2-S two-stream with RAFT-large, GPU"),
}
SHARED_VIDEO = SHARED_DIR / "data" / "videos" / "v_ApplyEyeMakeup_g01_c01.avi"  # beside the repository


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--video", metavar="PATH", default=None, help="video to read clips from (default: the bundled sample)")
    parser.add_argument("--backbones", default="tiny,mvit_v2_s,swin3d_s", help="comma-separated backbones (default: all)")
    parser.add_argument("--device", default="all", choices=("all", "cpu", "cuda"), help="where to run (all: CPU, and CUDA when present)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row after one warm-up (default 3)")
    parser.add_argument("--cpu-flow", default="dis", metavar="METHOD", help="flow method for CPU rows (default dis)")
    parser.add_argument("--cuda-flow", default="raft-large", metavar="METHOD", help="flow method for CUDA rows (default raft-large)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")


@dataclass
class _Row:
    backbone: str
    device: str
    weights: str
    flow: str
    attention: bool
    precision: str
    stages: dict[str, float]


def run(args: argparse.Namespace) -> int:
    import torch

    from core.errors import InputError
    from core.inference import STAGES
    from core.models.shared.backbones import BACKBONE_NAMES

    from core.bench.timing import format_table

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.backbones.split(",") if n.strip()]
    unknown = [n for n in names if n not in BACKBONE_NAMES]
    if unknown or not names:
        raise InputError(f"unknown backbones {unknown}: choose from {', '.join(BACKBONE_NAMES)}")
    devices = ["cpu"] if args.device == "cpu" else ["cuda"] if args.device == "cuda" else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if "cuda" in devices and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but CUDA is not available")
    video_path = _pick_video(args.video)
    print(f"bench infer: one {16}-frame clip of {video_path}, median of {args.repeats} runs after a warm-up; torch threads {torch.get_num_threads()}")
    cpu_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) if torch.backends.mkldnn.is_available() else False
    rows: list[_Row] = []
    for device in devices:
        flow = args.cpu_flow if device == "cpu" else args.cuda_flow
        for name in names:
            variants = [(False, "auto"), (True, "auto")] if name == "tiny" else [(False, "auto")]
            if name != "tiny" and device == "cpu" and cpu_bf16:
                variants.append((False, "bfloat16"))
            for attention, precision in variants:
                rows.append(_measure(name, device, flow, attention, precision, video_path, args.repeats))
                print(f"  measured {name} on {device} ({precision}){' with attention' if attention else ''}: {rows[-1].stages['total']:.0f} ms", flush=True)
    baseline = rows[0].stages["total"]
    headers = ["backbone", "device", "precision", "weights", "flow", "attn", *[f"{s} ms" for s in STAGES], "total ms", "vs first"]
    table = [
        [r.backbone, r.device, r.precision, r.weights, r.flow, "yes" if r.attention else "no", *[r.stages[s] for s in STAGES], r.stages["total"], f"{r.stages['total'] / baseline:.2f}x"]
        for r in rows
    ]
    print(format_table(headers, table))
    for row in rows:
        target = TARGETS_MS.get((row.backbone, row.device, row.attention))
        if target is not None:
            limit, what = target
            verdict = "met" if row.stages["total"] < limit else "NOT met"
            print(f"target: {what} < {limit:.0f} ms: {verdict} ({row.stages['total']:.0f} ms, {row.precision}, flow {row.flow})")
    if any(r.weights.startswith("random") for r in rows):
        print("random: Kinetics-400 weights not in the torch hub cache; timings are the same, predictions are not meaningful")
    return 0


def _pick_video(explicit: str | None) -> str:
    from core.errors import InputError
    from core.resources import SAMPLE_VIDEO

    if explicit is not None:
        return explicit
    for candidate in (SAMPLE_VIDEO, SHARED_VIDEO):
        if Path(candidate).exists():
            return str(candidate)
    raise InputError("no video to benchmark on: the bundled sample is missing; pass --video PATH")


def _bench_config(name: str, flow: str) -> Any:
    from core.models.transformer import TransformerConfig

    classes = [f"class{i}" for i in range(101)]  # UCF101-sized head
    if name == "tiny":
        return TransformerConfig.create(backbone="tiny", class_names=classes, flow_method=flow, fusion={"heads": 4, "head_dim": 24, "depth": 2})
    return TransformerConfig.create(backbone=name, class_names=classes, flow_method=flow)


def _measure(name: str, device_name: str, flow: str, attention: bool, precision: str, video_path: str, repeats: int) -> _Row:
    import torch

    from core.device import resolve_device
    from core.inference import STAGES
    from core.models.transformer import TransformerClassifier, build_transformer
    from core.sampling import uniform_clip_starts
    from core.video import open_video

    torch.manual_seed(0)
    device = resolve_device(device_name)
    config = _bench_config(name, flow)
    model = build_transformer(config, pretrained=name != "tiny", random_weights_ok=True)
    sources = {getattr(model.rgb_backbone, "weights_source", "")}
    weights = "random" if any(s.startswith("random") for s in sources) else "Kinetics-400"
    if name == "tiny":
        weights = "random (demo-sized)"
    classifier = TransformerClassifier(model, config, device=device, precision=precision)
    if precision == "auto":
        precision = "autocast half" if device.type == "cuda" else "float32"
    runs: list[dict[str, float]] = []
    with open_video(video_path) as video:
        start = uniform_clip_starts(len(video), 1, config.clip_length, config.frame_stride)[0]
        used_flow = flow
        for attempt in range(repeats + 1):
            video.cache.clear()  # every run decodes its frames
            began = time.perf_counter()
            prediction = classifier.predict_clip(video, start, attention=attention)
            wall = (time.perf_counter() - began) * 1000.0
            if attempt == 0:
                used_flow = prediction.flow_method or "-"
                if prediction.flow_fell_back:
                    used_flow = f"{used_flow} (fell back from {flow})"
                continue
            stages = dict(prediction.timings_ms)
            stages["total"] = wall  # wall time includes the glue between stages
            runs.append(stages)
    del classifier, model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    median = {key: statistics.median(run[key] for run in runs) for key in (*STAGES, "total")}
    return _Row(backbone=name, device=str(device), weights=weights, flow=used_flow, attention=attention, precision=precision, stages=median)
