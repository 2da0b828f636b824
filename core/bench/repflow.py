"""``bench repflow``: classification time per video, representation flow against the optical-flow pipeline.

Seed 004's claim: a network that learns its flow from RGB classifies a video
in a fraction of a second, where the classic two-stream pipeline spends
tens of seconds extracting optical flow first.  Measured here side by side in
one run, on the same videos, end to end through each family's classifier
(decode, crop, flow extraction where there is one, both networks):

* ``repflow``: a ResNet on RGB clips with two representation-flow layers
  (``test_clips`` clips of 16 frames per video, seed 004's setting);
* ``convnet + METHOD``: the two-stream ConvNet (spatial + temporal ResNet,
  L = 10 stacked flow fields, 25 snippets per video, seed 002) with its flow
  computed by METHOD on the cropped frames.

Weights are random (timing does not depend on their values, and ImageNet
weights may be absent).  The ratio column is each row's time per video over
the first optical-flow row's, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from core.resources import SHARED_DIR

SHARED_VIDEOS = SHARED_DIR / "data" / "videos"  # beside the repository, wherever the command runs from
_OPTIONS = {"input_size": "--input-size", "test_clips": "--clips", "test_snippets": "--snippets", "backbone": "--backbone"}  # config field: option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.cli import positive_int

    parser.add_argument("--videos", metavar="PATH", nargs="*", default=None, help="videos to classify (default: up to --count shared UCF101/HMDB51 clips, else the bundled sample)")
    parser.add_argument("--count", type=positive_int, default=2, help="how many default videos (default 2)")
    parser.add_argument("--backbone", default="resnet34", help="ResNet of both families (default resnet34, as seed 004)")
    parser.add_argument("--input-size", type=positive_int, default=224, help="crop size (default 224)")
    parser.add_argument("--flows", default="dis,tvl1", help="optical-flow methods of the classic pipeline (default dis,tvl1)")
    parser.add_argument("--clips", type=positive_int, default=5, help="representation-flow clips per video (default 5)")
    parser.add_argument("--snippets", type=positive_int, default=25, help="ConvNet snippets per video (default 25, seed 002)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    parser.add_argument("--threads", type=positive_int, default=0, help="torch CPU threads (default: torch's choice)")  # 0: not given


def _default_videos(count: int) -> list[Path]:
    from core.resources import SAMPLE_VIDEO

    if SHARED_VIDEOS.is_dir():
        found = sorted(p for p in SHARED_VIDEOS.iterdir() if p.name.startswith(("v_", "hmdb51_")))
        if found:
            return found[:count]
    return [Path(SAMPLE_VIDEO)]


def run(args: argparse.Namespace) -> int:
    import torch

    from core.bench.timing import flow_methods, format_table
    from core.device import resolve_device
    from core.errors import InputError
    from core.models.convnet import ConvNetConfig, build_convnet
    from core.models.convnet.predict import ConvNetClassifier
    from core.models.repflow import RepFlowConfig, build_repflow
    from core.models.repflow.predict import RepFlowClassifier
    from core.video import open_video

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    videos = [Path(v) for v in args.videos] if args.videos else _default_videos(args.count)
    for path in videos:
        with open_video(path):  # a bad video is one error line before any model is built
            pass
    methods = flow_methods(args.flows, "--flows")
    classes = [f"class{i}" for i in range(51)]  # HMDB51-sized head
    try:  # every config before any model: their range checks name the option, not a field, and cost no run
        repflow = RepFlowConfig.create(backbone=args.backbone, class_names=classes, variant="flow", input_size=args.input_size, test_clips=args.clips)
        configs = {method: ConvNetConfig.create(backbone=args.backbone, class_names=classes, variant="late", input_size=args.input_size,
                                                flow_method=method, test_snippets=args.snippets) for method in methods}
    except ValueError as error:
        option = next((option for field, option in _OPTIONS.items() if field in str(error)), "a bad option")
        raise InputError(f"{option}: {error}") from None
    torch.manual_seed(0)
    rows_spec: list[tuple[str, object]] = [("repflow (RGB only, learnt flow)", RepFlowClassifier(build_repflow(repflow), device=device))]
    for method, config in configs.items():
        rows_spec.append((f"convnet + {method} flow", ConvNetClassifier(build_convnet(config), device=device)))

    print(f"classification time per video on {device} ({torch.get_num_threads()} threads), {args.backbone} at {args.input_size}px, random weights; videos: {', '.join(v.name for v in videos)}")
    per_row: dict[str, list[dict[str, float]]] = {name: [] for name, _ in rows_spec}
    with torch.inference_mode():
        for path in videos:
            with open_video(path) as video:
                for name, classifier in rows_spec:
                    start = time.perf_counter()
                    result = classifier.predict_video(video)
                    wall = time.perf_counter() - start
                    timings = result.timings_ms
                    per_row[name].append({"total": wall, "flow": timings["flow"] / 1000.0, "network": (timings["rgb_backbone"] + timings["flow_backbone"] + timings["fusion"]) / 1000.0})
    baseline_name = rows_spec[1][0]
    baseline = statistics.mean(r["total"] for r in per_row[baseline_name])
    table = []
    for name, _ in rows_spec:
        runs = per_row[name]
        total = statistics.mean(r["total"] for r in runs)
        table.append([name, statistics.mean(r["flow"] for r in runs), statistics.mean(r["network"] for r in runs), total, f"{total / baseline:.3f}x"])
    print(format_table(["pipeline", "flow extraction s", "networks s", "total s / video", f"vs {baseline_name}"], table))
    return 0
