"""``flow VIDEO``: optical flow of a frame range as ``.flo`` files, colour images and ``metrics.json``.

Module-level imports stay light (the command line lists every command's help);
torch, OpenCV and the flow engine load inside :func:`run`.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from core.cli import add_deinterlace_option, output_path, path_option

NAME = "flow"
HELP = "compute optical flow of a frame range: .flo files, colour PNGs and per-pair quality (metrics.json)"
DESCRIPTION = (
    "Compute the flow from each frame to the next for COUNT frames of VIDEO from frame START, and write "
    "frame_XXXXXX.flo and frame_XXXXXX.png (XXXXXX = the pair's first frame) and metrics.json (per-pair "
    "quality, the method actually used and whether it fell back) into --out.  Backward flow is computed too, "
    "for the forward-backward consistency measures (--no-consistency skips it); --backward also writes it "
    "(backward_XXXXXX.flo/.png: flow from frame XXXXXX+1 back to XXXXXX).  Results are cached on disk."
)
CHUNK_FRAMES = 33  # frames per computation (32 pairs): bounds memory on long ranges; chunks share end frames


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", metavar="VIDEO", help="a video file or a folder of frames")
    parser.add_argument("--method", required=True, metavar="M", help="raft-large, raft-small, tvl1, dis or farneback")
    parser.add_argument("--start", metavar="N", type=int, default=0, help="first frame (default 0)")
    parser.add_argument("--count", metavar="N", type=int, default=None, help="number of frames, at least 2 (default: to the end of the video)")
    parser.add_argument("--out", type=output_path, metavar="DIR", default=None, help="output folder (default: ./flow_<video name>_<method>)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]; OpenCV methods always use the CPU")
    parser.add_argument("--raft-weights", type=path_option, metavar="PATH", default=None, help="RAFT weights: torchvision's file or the original release's raft-things.pth / raft-small.pth")
    parser.add_argument("--backward", action="store_true", help="also write the backward flow (backward_XXXXXX.flo and .png)")
    parser.add_argument("--no-consistency", action="store_true", help="skip backward flow: faster, but metrics lack the consistency measures")
    parser.add_argument("--warm-start", action="store_true",
                        help="RAFT: start each pair from the previous pair's flow with fewer updates (faster, 8-21%% worse end-point error)")
    parser.add_argument("--fallback", default="dis", choices=("dis", "farneback", "tvl1"), help="method used when RAFT weights cannot be had (default dis)")
    parser.add_argument("--normalization", default="fixed", choices=("fixed", "clip"), help="colour scale: fixed radius, or the range's largest motion (default fixed)")
    parser.add_argument("--max-radius", metavar="PX", type=float, default=10.0, help="motion in pixels drawn fully saturated (fixed), or the smallest scale (clip); default 10")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the flow cache")
    add_deinterlace_option(parser)


def run(args: argparse.Namespace) -> int:
    from core.atomic import atomic_folder
    from core.device import check_device_name
    from core.errors import InputError
    from core.export.target import check_writable
    from core.flow.engine import normalize_method
    from core.flow.engine import MIN_SIDE
    from core.flow.render import FlowEncoding
    from core.video import open_video

    method = normalize_method(args.method)
    check_device_name(args.device)
    encoding = FlowEncoding(args.normalization, args.max_radius)
    with open_video(args.video, deinterlace=not args.no_deinterlace) as video:
        total_frames = len(video)
        if not 0 <= args.start < total_frames:
            raise InputError(f"--start {args.start} is outside the video's {total_frames} frames (0..{total_frames - 1})", args.video)
        count = total_frames - args.start if args.count is None else args.count
        if count < 2 and args.count is not None:
            raise InputError(f"--count must be at least 2 (flow needs a pair of frames), got {count}")
        if count < 2:  # the video, or what is left of it after --start, is one frame
            rest = "has 1 frame" if total_frames == 1 else f"has 1 frame from --start {args.start} on ({total_frames} in all)"
            raise InputError(f"{rest}: flow needs a pair of frames", args.video)
        if args.start + count > total_frames:
            raise InputError(f"frames {args.start}..{args.start + count - 1} run past the video's end (it has {total_frames} frames)", args.video)
        width, height = video.info.width, video.info.height
        if min(width, height) < MIN_SIDE:
            raise InputError(f"frames of {width}x{height} are too small for flow (each side must be >= {MIN_SIDE} px)", args.video)
        out = check_writable(Path(args.out) if args.out else Path(f"flow_{Path(args.video).stem}_{method}"), folder=True, staged=True)
        check_replaceable(out, Path(args.video))
        with atomic_folder(out) as staging:  # the folder is the old result or the new one, never a mix
            records, metrics = _compute(args, video, method, encoding, count, staging)
    message = f"wrote {len(records)} flow fields ({metrics['method_used']}) to {out}"
    if metrics["fell_back"]:
        message += f"\nnote: {metrics['note']}"
    print(message)
    return 0


RESULT_FILE = re.compile(r"^(?:(?:frame|backward)_\d{6}\.(?:flo|png)|metrics\.json)$")


def check_replaceable(out: Path, source: Path) -> None:
    """``out`` may be replaced whole only when it is empty or an earlier result of this command (its
    files and this command's ``metrics.json``): a folder holding anything else is the user's, such as
    frames an extractor named ``frame_000001.png``, and is refused rather than emptied."""
    import json

    from core.errors import InputError

    source = source.resolve()
    if out.resolve() in (source, *source.parents):
        raise InputError("--out is the input video's own folder (writing there would replace it); give another folder", out)
    if not out.is_dir():
        return
    names = sorted(p.name for p in out.iterdir())
    if not names:
        return
    foreign = [name for name in names if not RESULT_FILE.match(name)]
    try:
        ours = "metrics.json" in names and "method_used" in json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, RecursionError):
        ours = False
    if foreign or not ours:
        example = foreign[0] if foreign else names[0]
        raise InputError(f"--out holds files that are not this command's flow result (e.g. {example}); give a new or empty folder", out)


def _compute(args: argparse.Namespace, video: Any, method: str, encoding: Any, count: int, out: Path) -> tuple[list[dict], dict]:
    """Compute, write and describe the flow of the range into the (staging) folder ``out``."""
    import json

    import numpy as np

    from core.atomic import write_text
    from core.flow.cache import FlowCache, compute_flow_cached
    from core.flow.engine import compute_flow
    from core.flow.flo import read_flo, write_flo
    from core.flow.quality import clip_quality
    from core.flow.render import FlowEncoding, radius_for
    from core.progress import ProgressLine

    want_backward = args.backward or not args.no_consistency
    cache = FlowCache()
    pairs_total = count - 1
    progress = ProgressLine(f"flow {method}")
    records: list[dict] = []
    used: set[str] = set()
    notes: list[str] = []
    fell_back = False
    weights_source = None
    device_used = None
    hits = 0
    try:
        for chunk_start in range(args.start, args.start + count - 1, CHUNK_FRAMES - 1):
            chunk_stop = min(chunk_start + CHUNK_FRAMES, args.start + count)  # exclusive
            indices = list(range(chunk_start, chunk_stop))
            done_before = chunk_start - args.start

            def on_progress(done: int, total: int, message: str = "", offset: int = done_before, size: int = len(indices) - 1) -> None:
                share = done / total if total else 1.0
                progress(offset + round(share * size), pairs_total)

            frames = video.read_clip(indices)
            if args.no_cache:
                result, hit = compute_flow(frames, method, device=args.device, backward=want_backward, raft_weights=args.raft_weights,
                                           fallback=args.fallback, progress=on_progress, raft_warm_start=args.warm_start), False
            else:
                result, hit = compute_flow_cached(args.video, indices, method, frames=frames, cache=cache, device=args.device,
                                                  backward=want_backward, raft_weights=args.raft_weights, fallback=args.fallback,
                                                  progress=on_progress, raft_warm_start=args.warm_start,
                                                  deinterlace=not args.no_deinterlace)
            hits += int(hit)
            used.add(result.method_used)
            fell_back |= result.fell_back
            weights_source = weights_source or result.weights_source
            device_used = device_used or result.device
            if result.note and result.note not in notes:
                notes.append(result.note)
            qualities = clip_quality(frames, result.forward, result.backward)
            for i, index in enumerate(indices[:-1]):
                name = f"frame_{index:06d}"
                write_flo(out / f"{name}.flo", result.forward[i])
                record = {"frame": index, "next": index + 1, "flo": f"{name}.flo", "png": f"{name}.png", **qualities[i].to_dict()}
                if args.backward and result.backward is not None:
                    write_flo(out / f"backward_{index:06d}.flo", result.backward[i])
                    record["backward_flo"] = f"backward_{index:06d}.flo"
                    record["backward_png"] = f"backward_{index:06d}.png"
                records.append(record)
            if encoding.normalization == "fixed":
                _write_pngs(out, indices[:-1], result.forward, result.backward if args.backward else None, encoding)
    finally:
        progress.close()
    radius = encoding.max_radius
    if encoding.normalization == "clip":
        # one scale for the whole range: read the written flow back (memory stays bounded)
        radius = max([radius_for(read_flo(out / r["flo"]), encoding) for r in records]
                     + [radius_for(read_flo(out / r["backward_flo"]), encoding) for r in records if "backward_flo" in r])
        fixed = FlowEncoding("fixed", radius)
        for r in records:
            _write_png(out / r["png"], read_flo(out / r["flo"]), fixed)
            if "backward_png" in r:
                _write_png(out / r["backward_png"], read_flo(out / r["backward_flo"]), fixed)
    scores = [r["noise_score"] for r in records if r["noise_score"] is not None]
    noisiest = sorted((r for r in records if r["noise_score"] is not None), key=lambda r: -r["noise_score"])[:5]
    metrics = {
        "video": str(args.video),
        "frames": {"start": args.start, "count": count},
        "method_requested": method,
        "method_used": sorted(used)[0] if len(used) == 1 else sorted(used),
        "fell_back": fell_back,
        "note": "; ".join(notes),
        "weights_source": weights_source,
        "device": device_used,
        "consistency_checked": want_backward,
        "encoding": {**encoding.to_dict(), "radius_used": radius},
        "cache_hits": hits,
        "summary": {
            "pairs": len(records),
            "noise_score_mean": float(np.mean(scores)) if scores else None,
            "noisiest_frames": [r["frame"] for r in noisiest],
        },
        "pairs": records,
    }
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return records, metrics


def _write_pngs(out: Path, indices: list[int], forward, backward, encoding) -> None:
    for i, index in enumerate(indices):
        _write_png(out / f"frame_{index:06d}.png", forward[i], encoding)
        if backward is not None:
            _write_png(out / f"backward_{index:06d}.png", backward[i], encoding)


def _write_png(path: Path, flow, encoding) -> None:
    from core.export.image import write_png
    from core.flow.render import flow_to_rgb

    write_png(path, flow_to_rgb(flow, encoding))  # encoded by OpenCV, written by Python: OpenCV's file calls crash on non-UTF-8 names
