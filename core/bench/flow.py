"""``bench flow``: pairs per second of every flow method, RAFT's clip path against the naive way,
and end-point errors on the Middlebury and Sintel pairs beside the project.

* Speed: a 16-frame clip (a real video from ``../shared/data/videos`` when
  present, else a generated camera motion) at 224x224 and at 854x480, on the
  CPU and on CUDA when present; whole-clip time, best of a few interleaved runs.
* RAFT speed: torchvision's ``RAFT.forward`` called once per pair with 12
  updates (naive) against :meth:`core.flow.raft.RaftFlow.clip_flow`: in
  float32 (frames encoded once, fused update step, one upsampling: the naive
  flow to float rounding), at the path's default precision (bfloat16 on a CPU
  with native bfloat16: ``compute_flow``'s default), and with warm starts (an
  option: fewer updates from the previous pair's flow), timed in alternation in
  the same run.
* RAFT accuracy, the target's reading: "end-point error within 5% of the naive
  way" means the clip path's EPE against ground truth is at most 1.05 times the
  naive path's EPE against the same ground truth, mean over the real
  Middlebury and Sintel pairs of ``../shared/data/flow_gt``.  The default clip
  path computes every pair from its two frames alone (a test checks a pair's
  flow is the same in any clip or batch), so its EPE on these pairs is its EPE
  on any clip's pairs.  Warm starts need a previous frame, which these pairs
  lack: one is made by moving the first frame back along the true flow
  (constant velocity), a best case for warm starts.  Two more readings: EPE
  against the exact flow of a camera motion over a real image (16 frames,
  chains of warm starts), and on the real clip, where only the naive flow is a
  reference, the EPE between the paths and each one's photometric warp error.
* ``--gt``: EPE of each method on the Middlebury and Sintel pairs, with the
  reference table for RAFT-small from ``../shared/data/README.md``.

RAFT rows need weights (``--raft-weights PATH``, the hub cache, or a download);
without them they are reported as unavailable, never run with random weights.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from core.resources import SHARED_DIR
from typing import Any, Callable

SHARED = SHARED_DIR
SHARED_CLIP = SHARED / "data" / "videos" / "decord_flipping_a_pancake.mkv"
TVL1_CLIP = SHARED / "data" / "videos" / "v_ApplyEyeMakeup_g01_c01.avi"
SHARED_IMAGE = SHARED / "data" / "flow_gt" / "sintel_faldoi" / "alley_1" / "final" / "frame_0002.png"
SHARED_RAFT_SMALL = SHARED / "weights" / "raft-small.pth"
SIZES = {"224x224": (224, 224), "480p": (480, 854)}
# RAFT-small with the original release's raft-small.pth, 12 updates (../shared/data/README.md)
REFERENCE_RAFT_SMALL = {
    "Middlebury Dimetrodon": 0.25, "Middlebury Grove2": 0.36, "Middlebury Grove3": 0.92, "Middlebury Hydrangea": 0.31,
    "Middlebury RubberWhale": 0.32, "Middlebury Urban2": 0.53, "Middlebury Urban3": 0.73, "Middlebury Venus": 0.38,
    "Sintel alley_1 clean": 0.27, "Sintel alley_1 final": 0.27, "Sintel cave_2 clean": 1.17, "Sintel cave_2 final": 1.32,
    "Sintel market_5 clean": 4.43, "Sintel market_5 final": 5.16,
}
MIN_FRAMES = 3
GENERATED_MAX_FRAMES = 300  # the generated clip is held at 480p in memory: about 1.2 MB a frame, and as long as the real one
TARGETS = "targets (2-core CPU): DIS >= 200 pairs/s at 224x224; RAFT clip path >= 1.5x the naive way with EPE within 5%; TV-L1 per 320x240 pair >= 2x faster than OpenCV contrib's DualTVL1 and its EPE at or under DualTVL1's on every ground-truth pair (measured when the bench extra is installed)"


def _clip_frames(text: str) -> int:
    """The ``--frames`` type: at least :data:`MIN_FRAMES` (a smaller value used to become 3 without a word)."""
    from core.cli import parsed_number

    value = parsed_number(text, int)
    if value < MIN_FRAMES:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_FRAMES}, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.cli import positive_int

    parser.add_argument("--methods", default="dis,farneback,tvl1,raft-small,raft-large", help="comma-separated methods (default: all)")
    parser.add_argument("--device", default="all", choices=("all", "cpu", "cuda"), help="all: the CPU, and CUDA when present")
    parser.add_argument("--raft-weights", metavar="PATH", default=None,
                        help="weights for raft-small or raft-large (whichever they fit); default: the hub cache, and ../shared/weights/raft-small.pth for raft-small")
    parser.add_argument("--frames", type=_clip_frames, default=16, help=f"frames of the timed clip, {MIN_FRAMES} or more (default 16)")
    parser.add_argument("--repeats", type=positive_int, default=3, help="timed runs per row after a warm-up; the best counts (default 3)")
    gt = parser.add_mutually_exclusive_group()
    gt.add_argument("--gt", dest="gt", action="store_true", default=None, help="also the EPE table on ../shared/data/flow_gt (default when present)")
    gt.add_argument("--no-gt", dest="gt", action="store_false", help="skip the EPE table")
    parser.add_argument("--quick", action="store_true", help="a fast run: 6 frames, 1 repeat, 4 ground-truth pairs")
    parser.add_argument("--contention", action="store_true",
                        help="also TV-L1 beside other work: two jobs at once (with and without the thread budget) and busy processes, "
                             "with spinning and with sleeping OpenMP threads (each in a fresh process)")


def run(args: argparse.Namespace) -> int:
    import torch

    from core.bench.timing import format_table
    from core.bench.timing import flow_methods
    from core.errors import InputError
    from core.flow.groundtruth import ground_truth_available

    methods = flow_methods(args.methods, "--methods")
    devices = ["cpu"] if args.device == "cpu" else ["cuda"] if args.device == "cuda" else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if "cuda" in devices and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but CUDA is not available")
    frames_n = 6 if args.quick else args.frames
    repeats = 1 if args.quick else args.repeats
    clip_name, base_clip = _real_clip(frames_n)  # before the weights: a clip too short for --frames is refused at once
    weights = {m: _raft_weights(m, args.raft_weights) for m in methods if m.startswith("raft")}
    print(f"bench flow: {frames_n}-frame clip of {clip_name}; best of {repeats} run(s) after a warm-up; torch threads {torch.get_num_threads()}; timings under whatever load the machine has")
    print(TARGETS)

    rows: list[list[Any]] = []
    raft_speed: list[list[Any]] = []
    raft_accuracy: list[list[Any]] = []
    for device in devices:
        for size_name, (height, width) in SIZES.items():
            frames = _resize_clip(base_clip, height, width)
            for method in methods:
                if method.startswith("raft"):
                    if weights[method][0] is None:
                        rows.append([method, device, size_name, "unavailable", weights[method][1]])
                        continue
                    rate, speed, accuracy = _time_raft(method, frames, device, weights[method][0], repeats)
                    rows.append([method, device, size_name, rate, f"clip path ({speed[0]})"])
                    raft_speed.append([method, device, size_name, *speed])
                    raft_accuracy.append([method, device, size_name, *accuracy])
                else:
                    if method != "tvl1" and device != "cpu":
                        continue  # OpenCV runs on the CPU only
                    rate = _time_method(method, frames, device, repeats)
                    rows.append([method, device, size_name, rate, ""])
    print()
    print(format_table(["method", "device", "size", "pairs/s", "note"], rows))
    if raft_speed:
        print()
        print("RAFT speed: torchvision's RAFT called once per pair with 12 updates (naive) against the clip path, same run.")
        print("clip fp32: frames encoded once, fused update step, flow upsampled once, 12 updates a pair (the naive flow);")
        print("clip: the same at the path's default precision (bfloat16 on CPUs with native bfloat16), every pair from 12 updates;")
        print("warm: clip, each pair after the first starting from the previous pair's flow with 8 updates (an option).")
        print(format_table(["method", "device", "size", "clip precision", "naive pairs/s", "clip fp32 pairs/s", "speed-up",
                            "clip pairs/s", "speed-up", "warm pairs/s", "speed-up"], raft_speed))
        print()
        print("RAFT on the real clip (no ground truth): EPE between each path and naive, and the photometric warp error")
        print(f"(grey levels) of each; 'truth': EPE against the exact flow of a camera motion over a real image, {frames_n} frames.")
        print(format_table(["method", "device", "size", "EPE clip-naive", "warm-naive", "mean |flow|", "warp err naive", "clip", "warm",
                            "truth: naive", "clip", "vs naive", "warm", "vs naive"], raft_accuracy))
        for method in dict.fromkeys(row[0] for row in raft_speed):
            for device in devices:
                print()
                _raft_epe_reading(method, device, weights[method][0], args.quick, format_table)
    if "tvl1" in methods and "cpu" in devices:
        from core.bench.flow_tvl1 import speed_line

        print("\n" + speed_line(_tvl1_clip(base_clip), repeats))
        if args.contention:
            from core.bench.flow_contention import contention_table

            print("\n" + contention_table(format_table, str(TVL1_CLIP) if TVL1_CLIP.exists() else None))

    use_gt = ground_truth_available() if args.gt is None else args.gt
    if use_gt:
        if not ground_truth_available():
            raise InputError("--gt was asked for but ../shared/data/flow_gt is not there")
        print()
        _gt_table(methods, weights, devices[-1], args.quick, format_table)
        if "tvl1" in methods:
            from core.bench.flow_tvl1 import accuracy_table
            from core.flow.groundtruth import middlebury_pairs, sintel_pairs

            pairs = middlebury_pairs(names=("Dimetrodon", "RubberWhale")) if args.quick else middlebury_pairs() + sintel_pairs()
            print()
            print(accuracy_table(pairs, format_table))
    return 0


# -- inputs ---------------------------------------------------------------------------------


def _real_clip(frames: int):
    """(name, (N, H, W, 3) uint8): the shared real clip, else a generated camera motion."""
    import numpy as np

    from core.errors import InputError

    if SHARED_CLIP.exists():
        from core.video import open_video

        with open_video(SHARED_CLIP) as video:
            if frames > len(video):
                raise InputError(f"--frames {frames} is more than the clip has: {SHARED_CLIP.name} has {len(video)} frames")
            start = min(100, max(0, len(video) - frames))
            return f"{SHARED_CLIP.name} (frames {start}..{start + frames - 1})", video.read_clip(list(range(start, start + frames)))
    from core.flow.synthetic import smooth_texture

    if frames > GENERATED_MAX_FRAMES:
        raise InputError(f"--frames {frames} is more than the generated clip makes (at most {GENERATED_MAX_FRAMES}; {SHARED_CLIP} is not there)")
    clip, _ = _camera_sequence(smooth_texture(600, 1000, seed=7), frames, (480, 854))
    return "a generated texture under camera motion", np.ascontiguousarray(clip)


def _tvl1_clip(fallback):
    """The issue's 320x240 clip (UCF101 ApplyEyeMakeup, 9 frames) when present, else ``fallback`` resized."""
    if TVL1_CLIP.exists():
        from core.video import open_video

        with open_video(TVL1_CLIP) as video:
            return video.read_clip(list(range(min(9, len(video)))))
    return _resize_clip(fallback, 240, 320)


def _camera_sequence(base, frames: int, size: tuple[int, int]):
    """A hand-held-like camera: slowly varying pan, small rotation and zoom (exact flow)."""
    import math

    from core.flow.synthetic import Motion, moving_sequence

    motions = [Motion(dx=3 * math.cos(i / 4), dy=1.5 * math.sin(i / 5), rotate_deg=0.4 * math.sin(i / 3), zoom=1 + 0.008 * math.cos(i / 4)) for i in range(frames - 1)]
    return moving_sequence(base, motions, frames, size=size)


def _truth_sequence(frames: int, height: int, width: int):
    import cv2

    from core.flow.synthetic import smooth_texture

    if SHARED_IMAGE.exists():
        image = cv2.imread(str(SHARED_IMAGE), cv2.IMREAD_COLOR)[:, :, ::-1]
        base = cv2.resize(image, (int(width * 1.45), int(height * 1.45)), interpolation=cv2.INTER_AREA)
    else:
        base = smooth_texture(int(height * 1.45), int(width * 1.45), seed=3)
    return _camera_sequence(base, frames, (height, width))


def _resize_clip(clip, height: int, width: int):
    import cv2
    import numpy as np

    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA if f.shape[1] > width else cv2.INTER_LINEAR) for f in clip])


def _raft_weights(method: str, explicit: str | None) -> tuple[str | None, str]:
    """(weights file, or "" for the hub cache, or None when there are none; why not)."""
    from core.flow.raft_weights import cached_weight_files, convert_original_raft, guess_variant, is_original_layout
    from core.weights import load_state_dict_file

    if explicit:
        state = load_state_dict_file(explicit)
        if is_original_layout(state):
            state = convert_original_raft(state, source=explicit)
        if guess_variant(state) == method:
            return explicit, ""
    if cached_weight_files(method):
        return "", ""
    if method == "raft-small" and SHARED_RAFT_SMALL.exists():
        return str(SHARED_RAFT_SMALL), ""
    return None, "no weights: pass --raft-weights PATH or put torchvision's file in the torch hub cache"


# -- timing ---------------------------------------------------------------------------------


def _best_time(fn: Callable[[], object], repeats: int, device: str) -> float:
    from core.bench.timing import synchronize

    fn()
    synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def _time_method(method: str, frames, device: str, repeats: int) -> float:
    from core.flow.engine import compute_flow

    seconds = _best_time(lambda: compute_flow(frames, method, device=device), repeats, device)
    return (len(frames) - 1) / seconds


def _raft_paths(method: str, device: str, weights: str) -> tuple[dict[str, Callable[[Any], Any]], str]:
    """The naive baseline and the clip paths, by name (frames in, forward flow out), and the clip path's precision."""
    import torch

    from core.flow.raft import load_raft

    exact = load_raft(method, device=torch.device(device), weights_path=weights or None, precision="float32")
    default = load_raft(method, device=torch.device(device), weights_path=weights or None)
    return {
        "naive": lambda f: exact.naive_flow(f),
        "clip fp32": lambda f: exact.clip_flow(f)[0],
        "clip": lambda f: default.clip_flow(f)[0],
        "warm": lambda f: default.clip_flow(f, warm_start=True)[0],
    }, default.precision


def _time_raft(method: str, frames, device: str, weights: str, repeats: int) -> tuple[float, list[Any], list[Any]]:
    """All paths timed in alternation (so load hits all alike), plus their errors on the clip and on a camera motion."""
    import numpy as np

    from core.bench.timing import synchronize
    from core.flow.quality import pair_quality

    paths, precision = _raft_paths(method, device, weights)
    pairs = len(frames) - 1
    for run in paths.values():
        run(frames[:3])
    best = {name: float("inf") for name in paths}
    flows: dict[str, Any] = {}
    for _ in range(max(1, repeats)):
        for name, run in paths.items():
            start = time.perf_counter()
            flows[name] = run(frames)
            synchronize(device)
            best[name] = min(best[name], time.perf_counter() - start)

    def warp_error(flow) -> float:  # photometric error: an accuracy proxy that needs no ground truth
        return float(np.mean([pair_quality(frames[i], frames[i + 1], flow[i])[0].warp_error_mean for i in range(pairs)]))

    truth_frames, truth = _truth_sequence(len(frames), frames.shape[1], frames.shape[2])
    truth_epe = {name: _epe(paths[name](truth_frames), truth) for name in ("naive", "clip", "warm")}
    rate = {name: pairs / seconds for name, seconds in best.items()}
    speed = [precision, rate["naive"]] + [x for name in ("clip fp32", "clip", "warm") for x in (rate[name], f"{best['naive'] / best[name]:.2f}x")]
    warp = {name: warp_error(flows[name]) for name in ("naive", "clip", "warm")}
    accuracy = [
        _epe(flows["clip"], flows["naive"]), _epe(flows["warm"], flows["naive"]), float(np.sqrt((flows["naive"] ** 2).sum(1)).mean()),
        warp["naive"], f"{warp['clip']:.3g} ({_change(warp['clip'], warp['naive'])})", f"{warp['warm']:.3g} ({_change(warp['warm'], warp['naive'])})",
        truth_epe["naive"], truth_epe["clip"], _change(truth_epe["clip"], truth_epe["naive"]),
        truth_epe["warm"], _change(truth_epe["warm"], truth_epe["naive"]),
    ]
    return rate["clip"], speed, accuracy


def _epe(flow, truth, valid=None) -> float:
    from core.flow.quality import endpoint_error

    return endpoint_error(flow, truth, valid)


def _change(value: float, reference: float) -> str:
    return f"{100 * (value - reference) / reference:+.1f}%"


def _previous_frame(pair):
    """A frame before ``pair.frame0`` under constant velocity: frame0 moved back along the true flow
    (unknown flow counts as still), so the pair can be the second of a warm-started chain."""
    import cv2
    import numpy as np

    flow = np.where(np.isfinite(pair.flow) & (np.abs(pair.flow) < 1e9), pair.flow, 0.0).astype(np.float32)
    height, width = flow.shape[1:]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return cv2.remap(pair.frame0, xs + flow[0], ys + flow[1], interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _raft_epe_reading(method: str, device: str, weights: str, quick: bool, format_table) -> None:
    """The target's EPE reading on the real ground-truth pairs: clip path against naive, both against the truth."""
    import numpy as np

    from core.flow.groundtruth import ground_truth_available, middlebury_pairs, sintel_pairs

    if not ground_truth_available():
        print(f"{method} EPE reading on real pairs skipped: ../shared/data/flow_gt is not there")
        return
    paths, precision = _raft_paths(method, device, weights)
    if quick:
        pairs = middlebury_pairs(names=("Dimetrodon", "RubberWhale")) + sintel_pairs(scenes=("alley_1", "cave_2"), passes=("final",))
    else:
        pairs = middlebury_pairs() + sintel_pairs()
    rows = []
    errors: dict[str, list[float]] = {"naive": [], "clip fp32": [], "clip": [], "warm": []}
    for pair in pairs:
        frames = np.stack([pair.frame0, pair.frame1])
        for name in ("naive", "clip fp32", "clip"):
            errors[name].append(_epe(paths[name](frames)[0], pair.flow, pair.valid))
        errors["warm"].append(_epe(paths["warm"](np.stack([_previous_frame(pair), pair.frame0, pair.frame1]))[1], pair.flow, pair.valid))
        naive = errors["naive"][-1]
        rows.append([pair.name, naive] + [x for name in ("clip fp32", "clip", "warm") for x in (errors[name][-1], _change(errors[name][-1], naive))])
    means = {name: float(np.mean(values)) for name, values in errors.items()}
    rows.append(["mean"] + [means["naive"]] + [x for name in ("clip fp32", "clip", "warm") for x in (means[name], _change(means[name], means["naive"]))])
    print(f"{method} on {device}: EPE against ground truth on {len(pairs)} real pairs (full resolution); clip = {precision};")
    print("warm: the pair warm-started from a previous frame made by moving frame 0 back along the true flow (a best case).")
    print(format_table(["pair", "naive", "clip fp32", "vs naive", "clip", "vs naive", "warm", "vs naive"], rows))
    ratio = means["clip"] / means["naive"]
    verdict = "met" if ratio <= 1.05 else "NOT met"
    print(f"EPE target (clip path's mean EPE against ground truth <= 1.05 x the naive path's): {means['clip']:.4f} vs {means['naive']:.4f} "
          f"= {ratio:.3f}x: {verdict}; worst pair {max(c / n for c, n in zip(errors['clip'], errors['naive'])):.3f}x. "
          f"With warm starts: {means['warm'] / means['naive']:.3f}x.")


# -- accuracy -------------------------------------------------------------------------------


def _gt_table(methods: list[str], weights: dict, device: str, quick: bool, format_table) -> None:
    import numpy as np

    from core.flow.engine import compute_flow
    from core.flow.groundtruth import middlebury_pairs, sintel_pairs
    from core.flow.quality import endpoint_error

    if quick:
        pairs = middlebury_pairs(names=("Dimetrodon", "RubberWhale")) + sintel_pairs(scenes=("alley_1", "cave_2"), passes=("clean",))
    else:
        pairs = middlebury_pairs() + sintel_pairs()
    usable = [m for m in methods if not m.startswith("raft") or weights[m][0] is not None]
    header = ["pair", "zero flow"] + usable + (["RAFT-small reference"] if "raft-small" in usable else [])
    rows = []
    totals: dict[str, list[float]] = {m: [] for m in usable}
    seconds: dict[str, float] = {m: 0.0 for m in usable}
    for pair in pairs:
        frames = np.stack([pair.frame0, pair.frame1])
        row: list[Any] = [pair.name, endpoint_error(np.zeros_like(pair.flow), pair.flow, pair.valid)]
        for method in usable:
            start = time.perf_counter()
            weights_path = weights[method][0] if method.startswith("raft") else None
            result = compute_flow(frames, method, device=device if method in ("tvl1", "raft-small", "raft-large") else "cpu", raft_weights=weights_path or None)
            seconds[method] += time.perf_counter() - start
            error = endpoint_error(result.forward[0], pair.flow, pair.valid)
            totals[method].append(error)
            row.append(error)
        if "raft-small" in usable:
            reference = REFERENCE_RAFT_SMALL.get(pair.name, float("nan"))
            got = row[2 + usable.index("raft-small")]
            row.append(f"{reference:.2f} ({100 * (got - reference) / reference:+.1f}%)")
        rows.append(row)
    rows.append(["mean"] + [float("nan")] + [float(np.mean(totals[m])) for m in usable] + ([""] if "raft-small" in usable else []))
    rows.append(["seconds (all pairs)"] + [float("nan")] + [seconds[m] for m in usable] + ([""] if "raft-small" in usable else []))
    print(f"End-point error on {len(pairs)} ground-truth pairs (full resolution, device {device} for tvl1/RAFT):")
    print(format_table(header, rows))
