"""``eval DATA --checkpoint CKPT``: top-1, top-5, per-class, clip and video level, a confusion PNG.

The files (``metrics.json`` and ``confusion.png`` in ``--out``) are written
atomically once every video has been scored; Ctrl-C before that leaves none.
Module-level imports stay light; torch and matplotlib load inside :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

NAME = "eval"
MAX_CLIPS_PER_VIDEO = 250  # 10x the seeds' densest protocol (25 snippets a video); more only repeats clips
HELP = "evaluate a checkpoint on a dataset: top-1/top-5, per-class, confusion matrix, metrics.json"
DESCRIPTION = (
    "Score a checkpoint on the test part of a dataset (a folder of class sub-folders of videos). "
    "By default the test videos are those of the split recorded in the checkpoint at training time; "
    "--split/--split-number/--seed choose another (as for train). Each video gives K clips spread uniformly over it: every clip is "
    "scored alone (clip level) and their softmaxes are averaged (video level, the headline figures). "
    "Writes metrics.json and confusion.png to --out (default: CKPT_STEM-eval beside the checkpoint)."
)

METRICS_NAME = "metrics.json"
CONFUSION_NAME = "confusion.png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.data.splits import SCHEMES
    from core.evaluation.confusion_plot import MODES
    from core.evaluation.test_set import PARTS

    parser.add_argument("data", metavar="DATA", help="dataset folder: DATA/<class>/<video>")
    parser.add_argument("--checkpoint", metavar="CKPT", required=True, help="a .safetensors checkpoint saved by train")
    split = parser.add_argument_group("split (as train has them; default: the split recorded in the checkpoint)")
    split.add_argument("--split", dest="split_scheme", choices=SCHEMES, default=None, help="use this split scheme instead of the recorded split")
    split.add_argument("--split-number", dest="official_split", type=int, metavar="N", default=None, help="official split number (UCF101/HMDB51: 1-3)")
    split.add_argument("--seed", type=int, default=None, help="seed of a seeded split (default: the checkpoint's training seed)")
    split.add_argument("--split-dir", metavar="DIR", default=None, help="folder of classInd.txt and the split files, when not in DATA")
    parser.add_argument("--part", choices=PARTS, default="test", help="which part of the split to score (default test; all: every video)")
    parser.add_argument("--clips", metavar="K", type=int, default=None,
                        help="clips per video, spread uniformly (default: the family's: transformer 5, convnet 25 snippets, repflow its test_clips)")
    parser.add_argument("--model", metavar="FAMILY", default=None,
                        help="expected model family (optional: the checkpoint's family decides; a different one is an error)")
    parser.add_argument("--out", metavar="DIR", default=None, help="where metrics.json and confusion.png go")
    parser.add_argument("--confusion", choices=MODES, default="normalised", help="confusion colours: row-normalised (default) or counts")
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object on stdout")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    parser.add_argument("--raft-weights", metavar="PATH", default=None, help="RAFT weights file, for checkpoints whose flow method is RAFT")


def default_out_dir(checkpoint: str) -> Path:
    path = Path(checkpoint)
    return path.with_name(f"{path.stem}-eval")


def run(args: argparse.Namespace) -> int:
    from core.atomic import write_bytes, write_text
    from core.errors import InputError
    from core.evaluation.confusion_plot import confusion_png
    from core.evaluation.evaluate import evaluate, text_report
    from core.export.target import check_writable
    from core.progress import ProgressLine

    if args.clips is not None and not 1 <= args.clips <= MAX_CLIPS_PER_VIDEO:
        raise InputError(f"--clips must be from 1 to {MAX_CLIPS_PER_VIDEO} (clips per video), got {args.clips}")
    out_dir = check_writable(Path(args.out) if args.out else default_out_dir(args.checkpoint), folder=True)
    line = ProgressLine("eval")
    try:
        evaluation = evaluate(
            args.data,
            args.checkpoint,
            clips_per_video=args.clips,
            model_family=args.model,
            part=args.part,
            split_scheme=args.split_scheme,
            official_split=args.official_split,
            split_seed=args.seed,
            split_dir=args.split_dir,
            device=args.device,
            raft_weights=args.raft_weights,
            progress=line,
        )
    finally:
        line.close()
    if not evaluation.videos:
        raise InputError(f"no video could be scored ({len(evaluation.skipped)} skipped):\n{evaluation.skipped.summary()}", args.data)

    # Both files are made in memory first, so an interrupted run writes none.
    metrics_path, confusion_path = out_dir / METRICS_NAME, out_dir / CONFUSION_NAME
    metrics = evaluation.metrics()
    metrics["command"] = shlex.join(["python", "main.py", *sys.argv[1:]]) if sys.argv[1:2] == [NAME] else None
    metrics["files"] = {"metrics": str(metrics_path), "confusion": str(confusion_path), "confusion_mode": args.confusion}
    from core.evaluation.video_results import RESULTS_NAME, write_video_results  # per-video results beside them

    metrics["files"]["videos"] = str(out_dir / RESULTS_NAME)
    top1 = metrics["top1"]
    title = f"{Path(args.checkpoint).name}: video-level top-1 {100 * top1:.1f}% ({metrics['video_level']['count']} videos)"
    png = confusion_png(evaluation.confusion(), evaluation.class_names, mode=args.confusion, title=title)
    text = json.dumps(metrics, indent=2) + "\n"
    write_bytes(confusion_path, png)
    videos_path = write_video_results(out_dir / RESULTS_NAME, evaluation)
    write_text(metrics_path, text)
    if args.json:
        sys.stdout.write(text)
    else:
        sys.stdout.write(text_report(evaluation, files=(metrics_path, confusion_path, videos_path)))
    return 0
