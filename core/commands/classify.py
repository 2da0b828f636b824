"""``classify VIDEO``: the top 5 actions of a clip (or of K clips averaged), as text or JSON.

Module-level imports stay light (the command line lists every command's help);
torch, the model and the flow engine load inside :func:`run`.  The model's load
and warm-up are timed apart from the clip's stages (``startup_ms``).  Warm-up
(one clip of made-up frames through flow and model) runs by default on CUDA only,
where the first call pays for context set-up, kernel choice and RAFT's weights;
on a CPU it costs about a whole clip and saves less than that (fresh processes on
two cores: the tiny model's 84 ms warm-up took 17 ms off its first clip,
MViTv2-S's 4.6 s nothing), so there it is asked for with ``--warm-up yes``.
``--compile`` compiles the backbones inside warm-up (see
:mod:`core.inference.compiled`): off by default, since one clip rarely repays a
compile (up to a minute, less once inductor's cache holds it); the viewer compiles
in the background instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from core.cli import path_option

NAME = "classify"
HELP = "classify a video with a two-stream model: top 5 labels (or --json)"
DESCRIPTION = (
    "Classify one clip of VIDEO (by default the clip centred in the video, or the one at --start), "
    "or K clips spread over it with their probabilities averaged (--windows K). "
    "Without --checkpoint the bundled demo model is used."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", metavar="VIDEO", help="a video file or a folder of frames")
    parser.add_argument("--checkpoint", type=path_option, metavar="PATH", default=None, help="a .safetensors checkpoint (default: resources/demo_model.safetensors)")
    parser.add_argument("--start", metavar="N", type=int, default=None, help="first frame of the clip (default: the centred clip)")
    parser.add_argument("--windows", metavar="K", type=int, default=None, help="classify K clips spread uniformly over the video and average them")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    parser.add_argument("--raft-weights", type=path_option, metavar="PATH", default=None, help="RAFT weights file, for checkpoints whose flow method is RAFT")
    parser.add_argument("--precision", default="auto", choices=("auto", "float32", "bfloat16", "float16"), help="auto: half precision on CUDA, float32 on a CPU")
    parser.add_argument("--top", metavar="K", type=int, default=5, help="how many labels to print (default 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--warm-up", default="auto", choices=("auto", "yes", "no"),
                        help="run one made-up clip before the timed one (auto: on CUDA only; on a CPU it costs more than it saves)")
    parser.add_argument("--compile", default="off", choices=("off", "auto", "on"),
                        help="compile the backbones with torch.compile during warm-up (auto: on CUDA only; default off: "
                             "it costs up to a minute, less once cached, and pays over many clips)")
    parser.add_argument("--model", metavar="FAMILY", default=None,
                        help="expected model family (optional: the checkpoint's family decides; a different one is an error)")


def run(args: argparse.Namespace) -> int:
    from core import resources
    from core.commands.options import check_file_option
    from core.device import resolve_device
    from core.errors import CheckpointError, InputError
    from core.inference import default_flow_backend
    from core.models.checkpoint import open_classifier
    from core.progress import ProgressLine
    from core.sampling import clip_span, uniform_clip_starts
    from core.video import open_video

    if args.start is not None and args.windows is not None:
        raise InputError("choose either --start N (one clip) or --windows K (K clips averaged), not both")
    if args.windows is not None and args.windows < 1:
        raise InputError(f"--windows must be at least 1, got {args.windows}")
    if args.top < 1:
        raise InputError(f"--top must be at least 1, got {args.top}")
    checkpoint = args.checkpoint
    if checkpoint is None:
        checkpoint = str(resources.DEMO_CHECKPOINT)
        if not resources.DEMO_CHECKPOINT.exists():
            raise CheckpointError("the bundled demo model is missing; pass --checkpoint PATH to a trained .safetensors checkpoint", checkpoint)
    if args.model is not None:
        check_family(checkpoint, args.model)
    check_file_option(args.raft_weights, "--raft-weights")
    device = resolve_device(args.device)
    flow_backend = default_flow_backend(raft_weights=args.raft_weights)
    began = time.perf_counter()
    classifier = open_classifier(checkpoint, device=device, precision=args.precision, flow_backend=flow_backend, compile_backbones=args.compile)
    startup: dict[str, float | None] = {"load": (time.perf_counter() - began) * 1000.0, "warm_up": None, "compile": None}
    config = classifier.config
    with open_video(args.video) as video:
        count = len(video)
        if args.start is not None and not 0 <= args.start < count:
            raise InputError(f"--start {args.start} is outside the video's {count} frames (0..{count - 1})", args.video)
        distinct = max(1, count - clip_span(config.clip_length, config.frame_stride) + 1)
        if args.windows is not None and args.windows > distinct:
            raise InputError(f"--windows {args.windows} asks for more clips than the video's {count} frames hold: at most {distinct} "
                             f"different clips of {config.clip_length} frames at stride {config.frame_stride}", args.video)
        if args.warm_up == "yes" or (args.warm_up == "auto" and device.type == "cuda"):
            startup["warm_up"] = classifier.warm_up(compiling=False)
        if classifier.compile_pending:
            startup["compile"] = classifier.prepare_compiled()
        progress = ProgressLine("classify")
        try:
            if args.windows is not None:
                result = classifier.predict_video(video, num_clips=args.windows, top=args.top, progress=progress)
                clips, top, timings = result.clips, result.top, result.timings_ms
            else:
                start = args.start if args.start is not None else uniform_clip_starts(count, 1, config.clip_length, config.frame_stride)[0]
                prediction = classifier.predict_clip(video, start, top=args.top, progress=progress)
                clips, top, timings = [prediction], prediction.top, prediction.timings_ms
        finally:
            progress.close()
    summary = _summary(args.video, checkpoint, str(device), config, clips, top, timings)
    summary["startup_ms"] = {key: None if value is None else round(value, 2) for key, value in startup.items()}
    summary["model_domain"] = _domain(checkpoint, config, args.video)
    summary["compiled"] = _compiled_summary(classifier)
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_text(summary))
    return 0


def check_family(checkpoint: str, expected: str) -> None:
    """A one-line :class:`InputError` when the checkpoint's recorded family is not ``expected``."""
    from core.errors import InputError
    from core.models.checkpoint import read_checkpoint_info
    from core.models.registry import family, family_of

    try:
        family(expected)
    except ValueError as err:
        raise InputError(str(err)) from None
    recorded = family_of(read_checkpoint_info(checkpoint).config)
    if recorded != expected:
        raise InputError(f"the checkpoint is a {recorded} model, not {expected} (its family decides; drop --model)", checkpoint)


def _summary(video: str, checkpoint: str, device: str, config: Any, clips: list, top: list, timings: dict) -> dict[str, Any]:
    from core.models.registry import family_record

    record = family_record(config)
    methods = sorted({c.flow_method for c in clips if c.flow_method is not None})
    notes = sorted({c.flow_note for c in clips if c.flow_note})
    return {
        "video": video,
        "checkpoint": checkpoint,
        "model": {
            "family": record.name,
            "backbone": config.backbone,
            "variant": config.variant,
            "classes": config.num_classes,
            "representation_flow": not record.optical_flow and bool(config.uses_flow),
        },
        "flow": None
        if not methods
        else {
            "method": methods[0] if len(methods) == 1 else methods,
            "requested": config.flow_method,
            "fell_back": any(c.flow_fell_back for c in clips),
            "note": "; ".join(notes),
        },
        "device": device,
        "clips": [{"start": c.start, "frames": list(c.frame_indices), "padded": c.padded} for c in clips],
        "top": [{"label": label, "prob": round(prob, 6)} for label, prob in top],
        "timing_ms": {key: round(value, 2) for key, value in timings.items()},
    }


def _domain(checkpoint: str, config: Any, video: str) -> dict[str, Any]:
    """What the model was trained on (recorded, or inferred for older checkpoints) and the caveat
    for a synthetic model's answer on a video from outside its dataset."""
    from core.models.checkpoint import read_checkpoint_info
    from core.models.domain import domain_note, model_domain

    domain = model_domain(config.class_names, read_checkpoint_info(checkpoint).extra)
    return {**domain.to_dict(), "note": domain_note(domain, video) or None}


def _text(summary: dict[str, Any]) -> str:
    clips = summary["clips"]
    where = (
        f"clip at frame {clips[0]['start']} (frames {clips[0]['frames'][0]}..{clips[0]['frames'][-1]})"
        if len(clips) == 1
        else f"{len(clips)} clips averaged (starts {', '.join(str(c['start']) for c in clips)})"
    )
    padded = [c for c in clips if c["padded"]]
    if len(clips) == 1 and padded:
        where += f", of which the last {padded[0]['padded']} of {len(clips[0]['frames'])} repeat frame {clips[0]['frames'][-1]} (the video ends)"
    elif padded:
        where += f", {len(padded)} of them padded by repeating their last frame (the video ends)"
    flow = summary["flow"]
    if flow is not None:
        flow_text = f"flow {flow['method']}" + (f" ({flow['note']})" if flow["fell_back"] else "")
    elif summary["model"].get("representation_flow"):
        flow_text = "learnt representation flow (no optical flow)"
    else:
        flow_text = "no flow (RGB-only model)"
    lines = [f"{summary['video']}: {where}; {flow_text}; device {summary['device']}"]
    width = max(len(item["label"]) for item in summary["top"])
    for rank, item in enumerate(summary["top"], 1):
        lines.append(f"  {rank}. {item['label']:<{width}}  {100 * item['prob']:6.2f}%")
    timing = summary["timing_ms"]
    domain = summary.get("model_domain")
    if domain:
        lines.append(f"model: trained on {domain['dataset']} ({domain['num_classes']} classes"
                     f"{', synthetic' if domain['synthetic'] else ''}{', ' + domain['trained'] if domain['trained'] else ''})")
        if domain["note"]:
            lines.append(f"note: {domain['note']}")
    startup = summary.get("startup_ms")
    if startup:
        warm = "skipped" if startup["warm_up"] is None else f"{startup['warm_up']:.0f} ms"
        compiled = "" if startup.get("compile") is None else f", compile {startup['compile']:.0f} ms"
        lines.append(f"startup (not in the clip's time): model load {startup['load']:.0f} ms, warm-up {warm}{compiled}")
    if summary.get("compiled") and summary["compiled"]["note"]:
        lines.append(f"compile: {summary['compiled']['note']}")
    lines.append("time: " + ", ".join(f"{k} {v:.0f} ms" for k, v in timing.items()))
    return "\n".join(lines) + "\n"


def _compiled_summary(classifier: Any) -> dict[str, Any] | None:
    """What ``--compile`` did: the compiled modules' batch sizes, or why the backbones ran eager (None: not asked)."""
    reports = classifier.compile_reports()
    if not reports and classifier.compile_note is None:
        return None
    return {"modules": {r.name: list(r.batches) for r in reports}, "note": classifier.compile_problem or ""}
