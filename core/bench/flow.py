"""``bench flow``: pairs per second of every flow method, RAFT's clip path against the naive way,
and end-point errors on the Middlebury and Sintel pairs beside the project.

* Speed: a 16-frame clip (a real video from ``../shared/data/videos`` when
  present, else a generated camera motion) at 224x224 and at 854x480, on the
  CPU and on CUDA when present; whole-clip time, best of a few interleaved runs.
* RAFT: torchvision's ``RAFT.forward`` called once per pair with 12 updates
  (naive) against the two clip paths of :class:`core.flow.raft.RaftFlow`:
  "cold" (frames encoded once, 12 updates a pair: the same flow) and "warm"
  (``compute_flow``'s default: warm starts, 8 updates), timed in alternation in
  the same run; on the real clip the end-point error between warm and naive
  and each one's photometric warp error (an accuracy proxy without ground
  truth), and each path's error against the exact flow of a camera-motion
  sequence over a real image.
* ``--gt``: EPE of each method on the Middlebury and Sintel pairs, with the
  reference table for RAFT-small from ``../shared/data/README.md``.

RAFT rows need weights (``--raft-weights PATH``, the hub cache, or a download);
without them they are reported as unavailable, never run with random weights.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Callable

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SHARED_CLIP = SHARED / "data" / "videos" / "decord_flipping_a_pancake.mkv"
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
TARGETS = "targets (2-core CPU): DIS >= 200 pairs/s at 224x224; RAFT clip path >= 1.5x the naive way with EPE within 5%; TV-L1 <= ~0.4 s per 320x240 pair (OpenCV contrib DualTVL1 defaults, not installed here)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--methods", default="dis,farneback,tvl1,raft-small,raft-large", help="comma-separated methods (default: all)")
    parser.add_argument("--device", default="all", choices=("all", "cpu", "cuda"), help="all: the CPU, and CUDA when present")
    parser.add_argument("--raft-weights", metavar="PATH", default=None,
                        help="weights for raft-small or raft-large (whichever they fit); default: the hub cache, and ../shared/weights/raft-small.pth for raft-small")
    parser.add_argument("--frames", type=int, default=16, help="frames of the timed clip (default 16)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row after a warm-up; the best counts (default 3)")
    gt = parser.add_mutually_exclusive_group()
    gt.add_argument("--gt", dest="gt", action="store_true", default=None, help="also the EPE table on ../shared/data/flow_gt (default when present)")
    gt.add_argument("--no-gt", dest="gt", action="store_false", help="skip the EPE table")
    parser.add_argument("--quick", action="store_true", help="a fast run: 6 frames, 1 repeat, 4 ground-truth pairs")


def run(args: argparse.Namespace) -> int:
    import torch

    from core.bench.timing import format_table
    from core.errors import InputError
    from core.flow.engine import METHODS, normalize_method
    from core.flow.groundtruth import ground_truth_available

    methods = [normalize_method(m) for m in args.methods.split(",") if m.strip()]
    if not methods:
        raise InputError(f"--methods names no method; choose from {', '.join(METHODS)}")
    devices = ["cpu"] if args.device == "cpu" else ["cuda"] if args.device == "cuda" else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if "cuda" in devices and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but CUDA is not available")
    frames_n = 6 if args.quick else max(3, args.frames)
    repeats = 1 if args.quick else max(1, args.repeats)
    weights = {m: _raft_weights(m, args.raft_weights) for m in methods if m.startswith("raft")}
    clip_name, base_clip = _real_clip(frames_n)
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
                    rows.append([method, device, size_name, rate, "clip path, warm starts"])
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
        print("RAFT: torchvision's RAFT called once per pair with 12 updates (naive) against the clip paths, same run.")
        print("cold: frames encoded once, 12 updates a pair (the naive flow); warm: each pair starts from the previous")
        print("pair's flow with 8 updates (compute_flow's default).")
        print(format_table(["method", "device", "size", "naive pairs/s", "cold pairs/s", "cold speed-up", "warm pairs/s", "warm speed-up"], raft_speed))
        print()
        print("RAFT accuracy: on the real clip, EPE between warm and naive and the photometric warp error (grey levels) of each;")
        print("'truth': EPE against the exact flow of a camera-motion sequence over a real image.")
        print(format_table(["method", "device", "size", "EPE warm-naive", "mean |flow|", "warp err naive", "warm", "warm vs naive",
                            "truth: naive", "cold", "warm", "warm vs naive"], raft_accuracy))
    if "tvl1" in methods and "cpu" in devices:
        seconds = 1.0 / _time_method("tvl1", _resize_clip(base_clip, 240, 320), "cpu", repeats)
        print(f"\nTV-L1 on the CPU at 320x240: {seconds:.3f} s per pair (OpenCV contrib DualTVL1 at its defaults: about 0.4 s on 2 cores)")

    use_gt = ground_truth_available() if args.gt is None else args.gt
    if use_gt:
        if not ground_truth_available():
            raise InputError("--gt was asked for but ../shared/data/flow_gt is not there")
        print()
        _gt_table(methods, weights, devices[-1], args.quick, format_table)
    return 0


# -- inputs ---------------------------------------------------------------------------------


def _real_clip(frames: int):
    """(name, (N, H, W, 3) uint8): the shared real clip, else a generated camera motion."""
    import numpy as np

    if SHARED_CLIP.exists():
        from core.video import open_video

        with open_video(SHARED_CLIP) as video:
            start = min(100, max(0, len(video) - frames))
            return f"{SHARED_CLIP.name} (frames {start}..{start + frames - 1})", video.read_clip(list(range(start, start + frames)))
    from core.flow.synthetic import smooth_texture

    clip, _ = _camera_sequence(smooth_texture(600, 1000, seed=7), frames, (480, 854))
    return "a generated texture under camera motion", np.ascontiguousarray(clip)


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


def _time_raft(method: str, frames, device: str, weights: str, repeats: int) -> tuple[float, list[Any], list[Any]]:
    """Naive, cold clip and warm clip paths timed in alternation (so load hits all alike), plus their errors."""
    import numpy as np
    import torch

    from core.bench.timing import synchronize
    from core.flow.quality import pair_quality
    from core.flow.raft import load_raft

    model = load_raft(method, device=torch.device(device), weights_path=weights or None)
    pairs = len(frames) - 1
    paths = {
        "naive": lambda f: model.naive_flow(f),
        "cold": lambda f: model.clip_flow(f, warm_start=False)[0],
        "warm": lambda f: model.clip_flow(f)[0],
    }
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

    def epe(a, b) -> float:
        return float(np.sqrt(((a - b) ** 2).sum(1)).mean())

    def warp_error(flow) -> float:  # photometric error: an accuracy proxy that needs no ground truth
        return float(np.mean([pair_quality(frames[i], frames[i + 1], flow[i])[0].warp_error_mean for i in range(pairs)]))

    truth_frames, truth = _truth_sequence(len(frames), frames.shape[1], frames.shape[2])
    truth_epe = {name: epe(run(truth_frames), truth) for name, run in paths.items()}
    rate = {name: pairs / seconds for name, seconds in best.items()}
    speed = [rate["naive"], rate["cold"], f"{best['naive'] / best['cold']:.2f}x", rate["warm"], f"{best['naive'] / best['warm']:.2f}x"]
    warp = {name: warp_error(flows[name]) for name in ("naive", "warm")}
    accuracy = [
        epe(flows["warm"], flows["naive"]), float(np.sqrt((flows["naive"] ** 2).sum(1)).mean()),
        warp["naive"], warp["warm"], f"{100 * (warp['warm'] - warp['naive']) / warp['naive']:+.1f}%",
        truth_epe["naive"], truth_epe["cold"], truth_epe["warm"], f"{100 * (truth_epe['warm'] - truth_epe['naive']) / truth_epe['naive']:+.1f}%",
    ]
    return rate["warm"], speed, accuracy


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
