"""``eval DATA --checkpoint CKPT``: top-1, top-5, per-class, clip and video level, a confusion PNG.

The files (``metrics.json``, ``confusion.png`` and ``videos.jsonl`` in ``--out``) are
written atomically once every video has been scored and its flow surveyed; Ctrl-C
before that leaves none (the survey's summaries stay in the viewer's store, so a
rerun does not compute them again).
Module-level imports stay light; torch and matplotlib load inside :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from core.cli import output_path, path_option
from core.commands.options import MAX_CLIPS_PER_VIDEO, check_file_option

NAME = "eval"
HELP = "evaluate a checkpoint on a dataset: top-1/top-5, per-class, confusion matrix, metrics.json"
DESCRIPTION = (
    "Score a checkpoint on the test part of a dataset (a folder of class sub-folders of videos). "
    "By default the test videos are those of the split recorded in the checkpoint at training time; "
    "--split/--split-number/--seed choose another (as for train). Each video gives K clips spread uniformly over it: every clip is "
    "scored alone (clip level) and their softmaxes are averaged (video level, the headline figures). "
    "Writes metrics.json, confusion.png and videos.jsonl (each video's prediction, worst clip and flow-noise survey) to --out "
    "(default: CKPT_STEM-eval beside the checkpoint). "
    "--views CLIPSxCROPS: multi-view testing (e.g. 5x3: 5 clips x 3 spatial crops, as MViTv2 and Swin report; "
    "25x10: Simonyan & Zisserman's 25 snippets x 10 crops). "
    "--splits 1,2,3: the three-split protocol of UCF101/HMDB51: CKPT names one checkpoint per split "
    "(a {split} placeholder, else CKPT_STEM-splitN, as train --splits writes them), each scored on its own split; "
    "prints each split and the mean +- std, and writes splits.json beside a folder per split."
)

METRICS_NAME = "metrics.json"
CONFUSION_NAME = "confusion.png"
SPLITS_NAME = "splits.json"
MAX_METRICS_BYTES = 64 << 20  # an eval's metrics.json lists each scored video: a few MB for Kinetics-400's 20,000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.commands.train import VIDEOS_HELP
    from core.cli import non_negative_int
    from core.data.splits import SCHEMES
    from core.evaluation.confusion_plot import MODES
    from core.evaluation.test_set import PARTS

    parser.add_argument("data", metavar="DATA", help="dataset: a folder DATA/<class>/<video>, a Kinetics-style CSV (or a folder of train/val/test.csv) "
                        "or a Something-Something folder (labels.json, train.json, validation.json)")
    parser.add_argument("--videos", type=path_option, metavar="DIR", help=VIDEOS_HELP)
    parser.add_argument("--checkpoint", type=path_option, metavar="CKPT", required=True, help="a .safetensors checkpoint saved by train")
    split = parser.add_argument_group("split (as train has them; default: the split recorded in the checkpoint)")
    split.add_argument("--split", dest="split_scheme", choices=SCHEMES, default=None, help="use this split scheme instead of the recorded split")
    split.add_argument("--split-number", dest="official_split", type=int, metavar="N", default=None, help="official split number (UCF101/HMDB51: 1-3)")
    split.add_argument("--seed", type=non_negative_int, default=None, help="seed of a seeded split (default: the checkpoint's training seed)")
    split.add_argument("--split-dir", type=path_option, metavar="DIR", default=None, help="folder of classInd.txt and the split files, when not in DATA")
    split.add_argument("--splits", metavar="LIST", default=None,
                       help="official splits to average over, e.g. 1,2,3: one checkpoint per split (see above)")
    parser.add_argument("--part", choices=PARTS, default="test", help="which part of the split to score (default test; all: every video)")
    parser.add_argument("--clips", metavar="K", type=int, default=None,
                        help="clips per video, spread uniformly (default: the family's: transformer 5, convnet 25 snippets, repflow its test_clips)")
    parser.add_argument("--views", metavar="CLIPSxCROPS", default=None,
                        help="multi-view testing: CLIPS clips per video x CROPS spatial crops (1: centre; 3: start, centre, end of "
                             "the longer side; 10: 4 corners + centre of frames resized to 256/224 of the input size, and their "
                             "flips), all softmaxes averaged; e.g. 5x3, 25x10 (replaces --clips)")
    parser.add_argument("--model", metavar="FAMILY", default=None,
                        help="expected model family (optional: the checkpoint's family decides; a different one is an error)")
    parser.add_argument("--out", type=output_path, metavar="DIR", default=None, help="where metrics.json, confusion.png and videos.jsonl go")
    parser.add_argument("--confusion", choices=MODES, default="normalised", help="confusion colours: row-normalised (default) or counts")
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object on stdout")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    parser.add_argument("--raft-weights", type=path_option, metavar="PATH", default=None, help="RAFT weights file, for checkpoints whose flow method is RAFT")
    parser.add_argument("--no-flow-survey", dest="flow_survey", action="store_false",
                        help="skip the flow survey: by default every scored video's flow noise is summarised for videos.jsonl, "
                             "as the viewer's Scan flow does (the checkpoint's flow method, DIS for an RGB-only model), which "
                             "costs one more pass computing forward and backward flow for every frame pair of each video "
                             "(less for pairs already in the flow cache, none for videos already surveyed)")


def check_own_metrics(out_dir: Path) -> Path:
    """``out_dir`` unless it holds a ``metrics.json`` that no eval wrote: ``flow --out`` writes one of that name, and
    a user may keep their own; either is refused rather than overwritten (an earlier eval's is replaced)."""
    from core.errors import InputError

    path = out_dir / METRICS_NAME
    if not path.exists():
        return out_dir
    try:
        ours = path.stat().st_size <= MAX_METRICS_BYTES and _is_eval_metrics(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, RecursionError):  # unreadable, not UTF-8, not JSON, nested past reading: not an eval's
        ours = False
    if not ours:
        raise InputError(f"holds a {METRICS_NAME} that eval did not write (another command's result, or your own file), "
                         "which eval would overwrite: give another --out", out_dir)
    return out_dir


def _is_eval_metrics(data: object) -> bool:
    return isinstance(data, dict) and {"top1", "video_level", "clip_level"} <= data.keys()


def default_out_dir(checkpoint: str) -> Path:
    path = Path(checkpoint)
    return path.with_name(f"{path.stem}-eval")


def run(args: argparse.Namespace) -> int:
    from core.commands.train import data_location
    from core.errors import InputError
    from core.evaluation.views import Views
    from core.export.target import check_writable

    data = data_location(args)  # DATA with --videos, as the one reader takes it (a bad folder: exit 2 here)
    check_file_option(args.raft_weights, "--raft-weights")
    if args.clips is not None and not 1 <= args.clips <= MAX_CLIPS_PER_VIDEO:
        raise InputError(f"--clips must be from 1 to {MAX_CLIPS_PER_VIDEO} (clips per video), got {args.clips}")
    if args.views is not None and args.clips is not None:
        raise InputError("--views CLIPSxCROPS already says the clips per video: drop --clips")
    views = Views.parse(args.views) if args.views is not None else None
    if args.splits is None:
        out_dir = check_own_metrics(check_writable(Path(args.out) if args.out else default_out_dir(args.checkpoint), folder=True))
        evaluation, metrics, files = _score(args, data, args.checkpoint, out_dir, views, official_split=args.official_split)
        if args.json:
            sys.stdout.write(json.dumps(metrics, indent=2) + "\n")
        else:
            from core.evaluation.evaluate import text_report

            sys.stdout.write(text_report(evaluation, files=files))
        return 0
    return _run_splits(args, data, views, check_writable)


def _score(args: argparse.Namespace, data: str | os.PathLike[str], checkpoint: str | Path, out_dir: Path, views, *,
           official_split: int | None):
    """Evaluate one checkpoint on ``data`` (DATA with ``--videos``) and write its metrics.json, confusion.png
    and videos.jsonl into ``out_dir``."""
    from core.atomic import write_bytes, write_text
    from core.errors import InputError
    from core.evaluation.confusion_plot import confusion_png
    from core.evaluation.evaluate import evaluate
    from core.evaluation.video_results import RESULTS_NAME, survey_method, survey_noise, write_video_results
    from core.progress import ProgressLine

    line = ProgressLine("eval")
    try:
        evaluation = evaluate(
            data,
            checkpoint,
            clips_per_video=views.clips if views is not None else args.clips,
            crops=views.crops if views is not None else 1,
            model_family=args.model,
            part=args.part,
            split_scheme=args.split_scheme,
            official_split=official_split,
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
    flow_noise, noise_method = None, None
    if args.flow_survey:  # one more pass over each video's pairs, before any file is written
        noise_method = survey_method(evaluation)
        line = ProgressLine(f"flow survey ({noise_method})")
        try:
            flow_noise, failed = survey_noise(evaluation, device=args.device, raft_weights=args.raft_weights, progress=line,
                                              note=_note)
        finally:
            line.close()
        for path, problem in failed:
            print(f"flow survey: {path}: {problem}", file=sys.stderr)

    # Both files are made in memory first, so an interrupted run writes none.
    metrics_path, confusion_path = out_dir / METRICS_NAME, out_dir / CONFUSION_NAME
    metrics = evaluation.metrics()
    metrics["command"] = shlex.join(["python", "main.py", *sys.argv[1:]]) if sys.argv[1:2] == [NAME] else None
    metrics["files"] = {"metrics": str(metrics_path), "confusion": str(confusion_path), "confusion_mode": args.confusion}
    metrics["files"]["videos"] = str(out_dir / RESULTS_NAME)  # per-video results beside them
    top1 = metrics["top1"]
    title = f"{Path(checkpoint).name}: video-level top-1 {100 * top1:.1f}% ({metrics['video_level']['count']} videos)"
    png = confusion_png(evaluation.confusion(), evaluation.class_names, mode=args.confusion, title=title)
    write_bytes(confusion_path, png)
    videos_path = write_video_results(out_dir / RESULTS_NAME, evaluation, flow_noise, noise_method=noise_method, note=_note)
    write_text(metrics_path, json.dumps(metrics, indent=2) + "\n")
    return evaluation, metrics, (metrics_path, confusion_path, videos_path)


def _note(text: str) -> None:
    """A note on stderr, beside the results (a survey store that could not be saved)."""
    print(f"note: {text}", file=sys.stderr)


def _run_splits(args: argparse.Namespace, data: str | os.PathLike[str], views, check_writable) -> int:
    """``--splits``: each split's checkpoint on its own official split, then the mean +- std."""
    from core.atomic import write_text
    from core.data import discover_dataset
    from core.errors import InputError
    from core.evaluation.over_splits import PLACEHOLDER, check_official, parse_splits, split_checkpoint, split_folder, summarise_splits, splits_table

    if args.official_split is not None:
        raise InputError("--splits and --split-number both choose the split: give one")
    if args.part != "test":
        raise InputError("--splits scores each split's test part: drop --part")
    numbers = parse_splits(args.splits)
    checkpoints = {n: split_checkpoint(args.checkpoint, n) for n in numbers}
    missing = [str(p) for p in checkpoints.values() if not p.is_file()]
    if missing:
        raise InputError(f"--splits needs one checkpoint per split; missing {', '.join(missing)} "
                         f"(train --splits {args.splits} --out {args.checkpoint} writes them)")
    dataset = discover_dataset(data, split_dir=args.split_dir)
    for n in numbers:
        check_official(dataset, n, args.split_dir)
    base = default_out_dir(str(args.checkpoint).replace(PLACEHOLDER, "N"))
    out_dir = check_writable(Path(args.out) if args.out else base, folder=True)
    folders = {n: check_own_metrics(check_writable(split_folder(out_dir, n), folder=True)) for n in numbers}  # all, before any work
    results, lines = {}, []
    for n in numbers:
        evaluation, metrics, _ = _score(args, data, checkpoints[n], folders[n], views, official_split=n)
        seen = evaluation.test_set.seen_in_training
        if seen:
            raise InputError(f"{checkpoints[n]} trained on {len(seen)} of split {n}'s test videos (e.g. {seen[0]}): "
                             f"was it trained on split {n}? (train --splits writes one checkpoint per split)")
        results[n] = metrics
        lines.append(f"split {n}: {checkpoints[n]}: {len(evaluation.videos)} test videos; {evaluation.test_set.description}")
    summary = summarise_splits(results)
    summary["views"] = str(views) if views is not None else None
    summary["checkpoints"] = {str(n): str(p) for n, p in checkpoints.items()}
    summary["files"] = {str(n): str(split_folder(out_dir, n) / METRICS_NAME) for n in numbers}
    summary["command"] = shlex.join(["python", "main.py", *sys.argv[1:]]) if sys.argv[1:2] == [NAME] else None
    text = json.dumps(summary, indent=2) + "\n"
    write_text(out_dir / SPLITS_NAME, text)
    if args.json:
        sys.stdout.write(text)
    else:
        sys.stdout.write("\n".join(lines) + "\n" + splits_table(summary, "video level, each split's test list:"))
        print(f"wrote {out_dir / SPLITS_NAME} and {len(numbers)} split folders")
    return 0
