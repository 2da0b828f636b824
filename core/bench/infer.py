"""``bench infer``: per-stage latency of one 16-frame clip for each backbone, CPU and CUDA; cold starts; whole videos.

Each warm row runs :meth:`core.inference.ClipClassifier.predict_clip` end to end on a
real video (decode, crop, flow, both backbones, fusion) and reports the median
of each stage over a few runs, with the ratio of its total to the first row
(the tiny model on the CPU without attention) measured in the same run.
MViTv2-S and Swin3D-S use Kinetics-400 weights when they are in the hub
cache and random weights otherwise (the table says which): latency does not
depend on the weights' values.  On a CPU with native bfloat16 the big
backbones are also timed under bfloat16 autocast.

Cold rows: the first clip of a fresh classifier, its load (building the model)
and warm-up (:meth:`~core.inference.ClipClassifier.warm_up`) timed apart, beside
a second fresh classifier's first clip without warm-up.  Only the process's very
first row pays for torch's own start; later rows are fresh classifiers, not
fresh processes.  Compiled rows (``--compile``, on CUDA by default): the same
clip with the backbones through ``torch.compile``, compiled in warm-up (its
seconds in the table), beside the eager row of the same run.  Whole-video rows: sliding windows over the whole video
(``predict_timeline``) in frames per second, the per-window path
(``share_windows = False``), the shared one without reading ahead
(``decode_ahead = False``) and the shared one as it runs, alternating run by
run, with their ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from core.resources import SHARED_DIR
from typing import Any

# (backbone, device, attention maps): (limit in ms, what, the flow method it names: a row of another is not judged)
TARGETS_MS = {
    ("tiny", "cpu", True): (500.0, "tiny model end to end with attention, CPU", None),
    ("mvit_v2_s", "cpu", False): (4000.0, "MViTv2-S two-stream with DIS flow, CPU", "dis"),
    ("mvit_v2_s", "cuda", True): (100.0, "MViTv2-S two-stream with RAFT-large and attention maps, GPU", "raft-large"),
    ("mvit_v2_s", "cuda", False): (60.0, "MViTv2-S two-stream with RAFT-large, no attention maps, GPU", "raft-large"),
}
COLD_TARGET = ("mvit_v2_s", "cuda", 1.5, "raft-large")  # first classification after choosing a model: at most 1.5x a warm one
VIDEO_TARGET_FPS = ("mvit_v2_s", "cuda", 16, 500.0, "raft-large")  # whole video, windows every 16 frames: at least 500 frames/s
SHARED_VIDEO = SHARED_DIR / "data" / "videos" / "v_ApplyEyeMakeup_g01_c01.avi"  # beside the repository


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.cli import positive_int

    parser.add_argument("--video", metavar="PATH", default=None, help="video to read clips from (default: the bundled sample)")
    parser.add_argument("--backbones", default="tiny,mvit_v2_s,swin3d_s", help="comma-separated backbones (default: all)")
    parser.add_argument("--device", default="all", choices=("all", "cpu", "cuda"), help="where to run (all: CPU, and CUDA when present)")
    parser.add_argument("--repeats", type=positive_int, default=3, help="timed runs per row after one warm-up (default 3)")
    parser.add_argument("--cpu-flow", default="dis", metavar="METHOD", help="flow method for CPU rows (default dis)")
    parser.add_argument("--cuda-flow", default="raft-large", metavar="METHOD", help="flow method for CUDA rows (default raft-large)")
    parser.add_argument("--threads", type=positive_int, default=0, help="torch CPU threads (default: torch's choice)")  # 0: not given
    parser.add_argument("--whole-video", default="auto", metavar="BACKBONES",
                        help="backbones for the whole-video rows (default auto: tiny on the CPU, every backbone on CUDA; none: skip)")
    parser.add_argument("--steps", default="16,4", help="window steps of the whole-video rows, in frames (default 16,4)")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold rows")
    parser.add_argument("--compile", default="auto", choices=("off", "auto", "on"),
                        help="compiled rows beside the eager ones: auto on CUDA only (default), on everywhere (slow on a CPU), off; "
                             "the whole-video rows use the compiled backbones when this asks for them")


@dataclass
class _Row:
    backbone: str
    device: str
    weights: str
    flow: str
    attention: bool
    precision: str
    stages: dict[str, float]
    cold: dict[str, float] | None = None  # load, warm_up, first (after warm-up), first_unwarmed, load_unwarmed (ms)
    compiled: str = "no"  # "no", "yes (N s)" or "failed: why" (then it ran eager)


@dataclass
class _VideoRow:
    backbone: str
    device: str
    flow: str
    video: str
    frames: int
    step: int
    windows: int
    fps_old: float  # per window
    fps_no_ahead: float  # shared, the next chunk's frames not read ahead on a CPU thread
    fps_new: float  # shared, read ahead
    compiled: str = "no"


def run(args: argparse.Namespace) -> int:
    import torch

    from core.errors import InputError
    from core.inference.compiled import wants_compile
    from core.models.shared.backbones import BACKBONE_NAMES

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
    steps = _steps(args.steps)
    args.cpu_flow, args.cuda_flow = _flow_method(args.cpu_flow, "--cpu-flow"), _flow_method(args.cuda_flow, "--cuda-flow")
    for device in devices:
        _video_backbones(args.whole_video, device, names)  # a bad --whole-video fails before anything is measured
    print(f"bench infer: one {16}-frame clip of {video_path}, median of {args.repeats} runs after a warm-up; torch threads {torch.get_num_threads()}")
    cpu_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) if torch.backends.mkldnn.is_available() else False
    rows: list[_Row] = []
    for device in devices:
        flow = args.cpu_flow if device == "cpu" else args.cuda_flow
        compiles = [False, True] if wants_compile(args.compile, torch.device(device)) else [False]
        for name in names:
            # with and without attention maps: the tiny model everywhere, every backbone on CUDA (the GPU targets name both)
            variants = [(False, "auto"), (True, "auto")] if name == "tiny" or device == "cuda" else [(False, "auto")]
            if name != "tiny" and device == "cpu" and cpu_bf16:
                variants.append((False, "bfloat16"))
            for compiled in compiles:
                for attention, precision in variants:
                    cold = not args.no_cold and not attention
                    rows.append(_measure(name, device, flow, attention, precision, video_path, args.repeats, cold=cold, threads=args.threads,
                                         compiled=compiled))
                    print(f"  measured {name} on {device} ({precision}){' with attention' if attention else ''}"
                          f"{', compiled ' + rows[-1].compiled if compiled else ''}: {rows[-1].stages['total']:.0f} ms", flush=True)
                    for line in _target_lines(rows[-1]):  # now, not with the tables: a run cut short keeps its verdicts
                        print(line, flush=True)
    video_rows = _whole_video_rows(args, names, devices, video_path, steps)
    _print_clip_table(rows)
    if any(r.cold is not None for r in rows):
        _print_cold_table(rows)
    if video_rows:
        _print_video_table(video_rows)
    return 0


def _print_clip_table(rows: list[_Row]) -> None:
    from core.bench.timing import format_table
    from core.inference import STAGES

    baseline = rows[0].stages["total"]
    headers = ["backbone", "device", "precision", "compiled", "weights", "flow", "attn", *[f"{s} ms" for s in STAGES], "total ms", "vs first",
               "vs eager"]
    eager = {(r.backbone, r.device, r.precision, r.attention): r.stages["total"] for r in rows if r.compiled == "no"}
    table = [
        [r.backbone, r.device, r.precision, r.compiled, r.weights, r.flow, "yes" if r.attention else "no", *[r.stages[s] for s in STAGES],
         r.stages["total"], f"{r.stages['total'] / baseline:.2f}x",
         "-" if r.compiled == "no" else f"{r.stages['total'] / eager[(r.backbone, r.device, r.precision, r.attention)]:.2f}x"]
        for r in rows
    ]
    print(format_table(headers, table))
    if any(r.weights.startswith("random") for r in rows):
        print("random: Kinetics-400 weights not in the torch hub cache; timings are the same, predictions are not meaningful")


def _print_cold_table(rows: list[_Row]) -> None:
    from core.bench.timing import format_table

    headers = ["backbone", "device", "precision", "compiled", "load ms", "warm-up ms", "first clip ms", "warm clip ms", "first/warm",
               "no warm-up: first clip ms", "first/warm"]
    table = []
    for r in rows:
        if r.cold is None:
            continue
        warm = r.stages["total"]
        cold = r.cold
        table.append([r.backbone, r.device, r.precision, r.compiled, cold["load"], cold["warm_up"], cold["first"], warm, f"{cold['first'] / warm:.2f}x",
                      cold["first_unwarmed"], f"{cold['first_unwarmed'] / warm:.2f}x"])
    print("\ncold: a fresh classifier's load (building the model), warm-up (one clip of made-up frames) and first clip, apart")
    print(format_table(headers, table))


def _target_lines(row: _Row) -> list[str]:
    """The "target: ... met / NOT met" lines a clip row decides (its latency; with cold figures, its first clip)."""
    from core.bench.timing import target_verdict

    lines = []
    how = "compiled" if row.compiled.startswith("yes") else "eager"
    target = TARGETS_MS.get((row.backbone, row.device, row.attention))
    if target is not None:
        limit, what, flow = target
        verdict = target_verdict(row.stages["total"] < limit, row.flow, flow)
        lines.append(f"target: {what} < {limit:.0f} ms: {verdict} ({row.stages['total']:.0f} ms, {row.precision}, {how}, flow {row.flow})")
    backbone, device, ratio, flow = COLD_TARGET
    if row.cold is not None and (row.backbone, row.device) == (backbone, device):
        first = row.cold["first"] / row.stages["total"]
        lines.append(f"target: first {backbone} classification on {device} after load and warm-up <= {ratio:g}x a warm one ({how}): "
                     f"{target_verdict(first <= ratio, row.flow, flow)} ({first:.2f}x)")
    return lines


def _print_video_table(rows: list[_VideoRow]) -> None:
    from core.bench.timing import format_table

    headers = ["backbone", "device", "compiled", "flow", "video", "frames", "step", "windows", "per-window fps", "no read-ahead fps",
               "shared fps", "shared/per-window", "read-ahead gain"]
    table = [[r.backbone, r.device, r.compiled, r.flow, r.video, r.frames, r.step, r.windows, r.fps_old, r.fps_no_ahead, r.fps_new,
              f"{r.fps_new / r.fps_old:.2f}x", f"{r.fps_new / r.fps_no_ahead:.2f}x"] for r in rows]
    print("\nwhole video: sliding windows over every frame, frames per second (median of the runs, the three paths alternating;"
          " shared: frames and flow pairs shared by the windows, the next chunk's frames read ahead on a CPU thread)")
    print(format_table(headers, table))
    from core.bench.timing import target_verdict

    backbone, device, step, fps, flow = VIDEO_TARGET_FPS
    for r in rows:
        if (r.backbone, r.device, r.step) == (backbone, device, step):
            print(f"target: whole video with {backbone} on {device}, a window every {step} frames, >= {fps:g} frames/s: "
                  f"{target_verdict(r.fps_new >= fps, r.flow, flow)} ({r.fps_new:.0f} frames/s, {r.video})")


def _flow_method(text: str, option: str) -> str:
    """One flow method, checked before any row: a bad name otherwise failed in the first model's config, after a cold child's traceback."""
    from core.bench.timing import flow_methods
    from core.errors import InputError

    methods = flow_methods(text, option)
    if len(methods) > 1:
        raise InputError(f"{option} takes one flow method, got {text!r}")
    return methods[0]


def _pick_video(explicit: str | None) -> str:
    from core.errors import InputError
    from core.resources import SAMPLE_VIDEO
    from core.video import open_video

    if explicit is not None:
        with open_video(explicit):  # a missing or unreadable video is one error line here, not a cold child's traceback later
            pass
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


def _measure(name: str, device_name: str, flow: str, attention: bool, precision: str, video_path: str, repeats: int, *,
             cold: bool = False, threads: int = 0, compiled: bool = False) -> _Row:
    import torch

    from core.device import resolve_device
    from core.inference import STAGES
    from core.sampling import uniform_clip_starts
    from core.video import open_video

    cold_ms = _cold(name, device_name, flow, precision, video_path, threads, compiled) if cold else None
    torch.manual_seed(0)
    device = resolve_device(device_name)
    config = _bench_config(name, flow)
    classifier, weights = _fresh_classifier(name, config, device, precision, compiled)
    compile_state = "no"
    if compiled:
        classifier.warm_up()  # compiles; the run below warms the rest as for an eager row
        compile_state = _compile_state(classifier)
    dtype = classifier.autocast_dtype  # what "auto" came to on this device, named as run
    precision = "float32" if dtype is None else f"autocast {str(dtype).removeprefix('torch.')}"
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
    del classifier
    if device.type == "cuda":
        torch.cuda.empty_cache()
    median = {key: statistics.median(run[key] for run in runs) for key in (*STAGES, "total")}
    return _Row(backbone=name, device=str(device), weights=weights, flow=used_flow, attention=attention, precision=precision, stages=median,
                cold=cold_ms, compiled=compile_state)


def _compile_state(classifier: Any) -> str:
    """The compiled column: ``yes (seconds compiling)``, or why the backbones ran eager."""
    if classifier.compile_problem:
        return f"failed: {classifier.compile_problem}"
    return f"yes ({sum(r.seconds for r in classifier.compile_reports()):.0f} s)"


def _fresh_classifier(name: str, config: Any, device: Any, precision: str, compiled: bool = False) -> tuple[Any, str]:
    """A new classifier of the bench's model for ``name`` and where its weights came from."""
    from core.models.transformer import TransformerClassifier, build_transformer

    model = build_transformer(config, pretrained=name != "tiny", random_weights_ok=True)
    sources = {getattr(model.rgb_backbone, "weights_source", "")}
    weights = "random" if any(s.startswith("random") for s in sources) else "Kinetics-400"
    if name == "tiny":
        weights = "random (demo-sized)"
    return TransformerClassifier(model, config, device=device, precision=precision, compile_backbones="on" if compiled else "off"), weights


def _cold(name: str, device: str, flow: str, precision: str, video_path: str, threads: int, compiled: bool = False) -> dict[str, float] | None:
    """The cold figures of a row, each from a fresh process: with warm-up, then without (``None``, said on a
    line, when a fresh process fails: the warm rows still count)."""
    from core.errors import InputError

    try:
        warmed = _run_cold_child([name, device, flow, precision, video_path, threads, True, compiled])
        unwarmed = _run_cold_child([name, device, flow, precision, video_path, threads, False, compiled])
    except InputError as error:
        print(f"  no cold figures: {error}", flush=True)
        return None
    return {"load": warmed["load"], "warm_up": warmed["warm_up"], "first": warmed["first"],
            "first_unwarmed": unwarmed["first"], "load_unwarmed": unwarmed["load"]}


def _run_cold_child(arguments: list[Any]) -> dict[str, float]:
    """Run :func:`cold_child` in a new interpreter (torch and the model start from nothing) and read its JSON line."""
    import json
    import subprocess
    import sys

    from core.errors import InputError

    code = "import json, sys; from core.bench.infer import cold_child; print(json.dumps(cold_child(*json.loads(sys.argv[1]))))"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code, json.dumps(arguments)], cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # its last line (the exception) says why; the traceback above it is the child's business
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        why = lines[-1][-300:] if lines else f"exit code {done.returncode}"
        raise InputError(f"the cold-start run of {arguments[0]} on {arguments[1]} failed: {why}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cold_child(name: str, device_name: str, flow: str, precision: str, video_path: str, threads: int, warm_up: bool,
               compiled: bool = False) -> dict[str, float]:
    """In a fresh process: build the classifier (``load``), optionally warm it up (compiling, when ``compiled``:
    from inductor's cache when an earlier row filled it), and time the first clip (ms)."""
    import torch

    from core.device import resolve_device
    from core.sampling import uniform_clip_starts
    from core.video import open_video

    if threads > 0:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    device = resolve_device(device_name)
    config = _bench_config(name, flow)
    began = time.perf_counter()
    classifier, _ = _fresh_classifier(name, config, device, precision, compiled)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    figures = {"load": (time.perf_counter() - began) * 1000.0, "warm_up": float("nan")}
    if warm_up:
        figures["warm_up"] = classifier.warm_up()
    with open_video(video_path) as video:
        start = uniform_clip_starts(len(video), 1, config.clip_length, config.frame_stride)[0]
        began = time.perf_counter()
        classifier.predict_clip(video, start)
        figures["first"] = (time.perf_counter() - began) * 1000.0
    return figures


def _steps(text: str) -> list[int]:
    from core.bench.timing import positive_counts

    return positive_counts(text, "--steps", "frame counts")


def _video_backbones(spec: str, device: str, names: list[str]) -> list[str]:
    """The backbones of the whole-video rows on ``device``: ``auto`` is tiny on the CPU and every backbone on CUDA."""
    from core.errors import InputError
    from core.models.shared.backbones import BACKBONE_NAMES

    if spec == "none":
        return []
    if spec == "auto":
        return ["tiny"] if device == "cpu" else names
    chosen = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in BACKBONE_NAMES]
    if unknown or not chosen:
        raise InputError(f"unknown backbones {unknown} in --whole-video: choose from {', '.join(BACKBONE_NAMES)}, auto or none")
    return chosen


def _whole_video_rows(args: argparse.Namespace, names: list[str], devices: list[str], video_path: str, steps: list[int]) -> list[_VideoRow]:
    """Whole-video rows on the bench's video and on the real clip beside the project (when present)."""
    if args.whole_video == "none":
        return []
    videos = [video_path]
    if Path(SHARED_VIDEO).exists():
        if Path(SHARED_VIDEO).resolve() != Path(video_path).resolve():
            videos.append(str(SHARED_VIDEO))
    else:
        print(f"whole video: the real clip {SHARED_VIDEO} is not there (a fresh clone); only {video_path} is measured")
    import torch

    from core.inference.compiled import wants_compile

    rows = []
    for device in devices:
        for name in _video_backbones(args.whole_video, device, names):
            for path in videos:
                for step in steps:
                    row = _measure_video(name, device, args.cpu_flow if device == "cpu" else args.cuda_flow, path, step, args.repeats,
                                         compiled=wants_compile(args.compile, torch.device(device)))
                    rows.append(row)
                    print(f"  whole video {row.video} step {step}, {name} on {device}: "
                          f"{row.fps_old:.1f} -> {row.fps_no_ahead:.1f} -> {row.fps_new:.1f} frames/s", flush=True)
    return rows


def _measure_video(name: str, device_name: str, flow: str, video_path: str, step: int, repeats: int, *, compiled: bool = False) -> _VideoRow:
    """Frames per second of ``predict_timeline`` over the whole video, per-window and shared runs alternating."""
    import torch

    from core.device import resolve_device
    from core.video import open_video

    torch.manual_seed(0)
    device = resolve_device(device_name)
    config = _bench_config(name, flow)
    classifier, _ = _fresh_classifier(name, config, device, "auto", compiled)
    classifier.warm_up()
    compile_state = _compile_state(classifier) if compiled else "no"
    paths = {"per-window": (False, False), "no read-ahead": (True, False), "shared": (True, True)}  # share windows, read ahead
    seconds: dict[str, list[float]] = {path: [] for path in paths}
    with open_video(video_path) as video:
        for attempt in range(repeats + 1):
            for path, (share, ahead) in paths.items():
                classifier.share_windows, classifier.decode_ahead = share, ahead
                video.cache.clear()  # every run decodes its frames
                began = time.perf_counter()
                timeline = classifier.predict_timeline(video, step=step)
                if attempt:  # the first round warms every path
                    seconds[path].append(time.perf_counter() - began)
        count = len(video)
    used = timeline.clips[0].flow_method or "-"
    del classifier
    if device.type == "cuda":
        torch.cuda.empty_cache()
    fps = {path: count / statistics.median(times) for path, times in seconds.items()}
    return _VideoRow(backbone=name, device=str(device), flow=used, video=Path(video_path).name, frames=count, step=step,
                     windows=len(timeline.clips), fps_old=fps["per-window"], fps_new=fps["shared"], compiled=compile_state,
                     fps_no_ahead=fps["no read-ahead"])
