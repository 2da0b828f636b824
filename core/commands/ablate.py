"""``ablate DATA``: train and test RGB-only, flow-only, concatenation and fusion on one split
(``--model transformer,convnet,repflow``: each family's variants, rows keyed ``family/variant``).

It takes every option of ``train`` (they describe the shared settings) except
``--variant``; ``--variants`` picks which to run.  On the tiny backbone the
RGB stream is order-free by default (``--frame-wise --rgb-time-pool``: each
frame encoded alone, tokens averaged over time, the classic spatial stream),
so the RGB-only model sees appearance only and the ablation measures what
each stream brings; ``--rgb-temporal`` keeps the 3-D RGB stream instead.

Progress and training logs go to stderr; stdout has the table, or with
``--json`` exactly one JSON object.  ``OUT/ablation.json`` and one confusion
PNG per variant are written once every variant has been tested.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from core.cli import output_path

NAME = "ablate"
SPLITS_NAME = "splits.json"
HELP = "ablation: train and test each family's variants (--model transformer,convnet,repflow) on one split"
DESCRIPTION = (
    "Train each variant (rgb, flow, concat, fusion) with the same settings on the same split, sharing one token "
    "cache (each clip's RGB and flow grids are extracted once for all variants), test each on the split's test part "
    "and print the table of seed 000: top-1/top-5 per variant and the gain of fusion over each single stream; on the "
    "synthetic dataset also the accuracy on its motion-only and appearance-only classes.  Takes the options of "
    "train (except --variant).  On the tiny backbone the RGB stream defaults to --frame-wise --rgb-time-pool "
    "(appearance only); --rgb-temporal keeps the 3-D RGB stream.  Rerunning the same command resumes."
)


class _Without:
    """A parser (or argument group) that takes every option but ``skip``: train's
    options pass through to ablate's parser, less the ones ablate replaces."""

    def __init__(self, target, skip: frozenset[str]) -> None:  # noqa: ANN001 - a parser or a group
        self.target = target
        self.skip = skip

    def add_argument(self, *names: str, **kwargs):  # noqa: ANN201 - argparse's Action
        return None if self.skip & set(names) else self.target.add_argument(*names, **kwargs)

    def add_argument_group(self, *args, **kwargs) -> "_Without":
        return _Without(self.target.add_argument_group(*args, **kwargs), self.skip)


class _RefuseVariant(argparse.Action):
    """An explicit ``--variant`` (else argparse would take it as an abbreviation of ``--variants``)."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001 - argparse's signature
        parser.error("ablate trains several variants: use --variants rgb,flow,concat,fusion, not --variant")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.commands import train as train_command

    # train's options describe the shared settings; --out is a folder here and --variants replaces --variant.
    train_command.add_arguments(_Without(parser, frozenset({"--out", "--variant", "--model"})))
    parser.add_argument("--model", dest="models", default=None, metavar="LIST",
                        help="comma-separated model families: transformer (default), convnet, repflow, or any registered one; "
                             "each family's variants on the same split")
    parser.add_argument("--out", type=output_path, metavar="DIR", default=None, help="folder for the variants' checkpoints and ablation.json (default: ablation-<DATA name>)")
    parser.add_argument("--variant", nargs="?", action=_RefuseVariant, help=argparse.SUPPRESS)
    ablation = parser.add_argument_group("ablation")
    ablation.add_argument("--variants", default=None, metavar="LIST",
                          help="comma-separated transformer variants to run (default rgb,flow,concat,fusion); FAMILY/VARIANT items "
                               "(convnet/late) choose another family's (default: all of them)")
    ablation.add_argument("--clips", metavar="K", type=int, default=None, help="test clips per video, spread uniformly, softmax averaged (default 1)")
    ablation.add_argument("--views", metavar="CLIPSxCROPS", default=None,
                          help="multi-view testing for every family, as eval --views (e.g. 5x3 or 25x10; replaces --clips)")
    ablation.add_argument("--rgb-temporal", action="store_true", help="tiny backbone: keep the 3-D RGB stream (default: --frame-wise --rgb-time-pool)")
    ablation.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of the table")


def default_out_dir(data: str) -> Path:
    return Path(f"ablation-{Path(data).resolve().name}")


def ablation_settings(args: argparse.Namespace):
    """train's settings from the options, with the order-free RGB stream on tiny unless --rgb-temporal."""
    from core.commands.train import check_family_options, settings_from_args

    check_family_options(args, tuple(model_families(args)))
    settings = settings_from_args(args, check=False)
    if settings.backbone == "tiny" and not args.rgb_temporal:
        settings = settings.replace(backbone_options={**dict(settings.backbone_options), "frame_wise": True}, rgb_time_pool=True)
    return settings


def model_families(args: argparse.Namespace) -> list[str]:
    """``--model``'s families (default: the default family alone)."""
    if args.models is None:
        from core.models.registry import default_family

        return [default_family()]
    return [f.strip() for f in str(args.models).split(",") if f.strip()]


def split_variants(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """``rgb,fusion,convnet/late`` -> the transformer's variants and the other families' own."""
    plain: list[str] = []
    others: dict[str, list[str]] = {}
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        family, slash, variant = item.partition("/")
        if slash:
            others.setdefault(family, []).append(variant)
        else:
            plain.append(item)
    return plain, others


def run(args: argparse.Namespace) -> int:
    from core.commands.options import MAX_CLIPS_PER_VIDEO
    from core.commands.options import check_cache_dir
    from core.commands.train import PhaseProgress, data_location
    from core.errors import InputError
    from core.evaluation.views import Views
    from core.export.target import check_writable
    from core.models.registry import default_family

    if args.clips is not None and not 1 <= args.clips <= MAX_CLIPS_PER_VIDEO:
        raise InputError(f"--clips must be from 1 to {MAX_CLIPS_PER_VIDEO} (test clips per video), got {args.clips}")
    if args.views is not None and args.clips is not None:
        raise InputError("--views CLIPSxCROPS already says the clips per video: drop --clips")
    views = Views.parse(args.views) if args.views is not None else Views(args.clips or 1)
    settings = ablation_settings(args)
    data = data_location(args)  # a bad --videos folder stops here, before any training
    check_cache_dir(args.cache_dir)  # a file or a read-only folder: exit 2 now, not once extraction writes
    families = model_families(args)
    transformer_variants, family_variants = split_variants(args.variants or "")
    stray = sorted(set(family_variants) - set(families))
    if stray:
        raise InputError(f"--variants names {stray[0]} variants but --model does not list {stray[0]}")
    default = default_family()
    if transformer_variants and default not in families:
        raise InputError(f"--variants lists {default} variants but --model does not list {default} (use FAMILY/VARIANT items)")
    out_dir = check_writable(Path(args.out) if args.out else default_out_dir(args.data), folder=True)
    command = "python main.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == [NAME] else None
    runs = [(settings, out_dir)]
    if args.splits:
        from core.commands.train import split_runs
        from core.evaluation.over_splits import split_folder

        runs = [(s, check_writable(split_folder(out_dir, s.official_split), folder=True)) for s, _ in split_runs(args, settings)]
    lines = PhaseProgress(enabled=True)  # writes to stderr

    def progress(done: int, total: int, message: str = "") -> None:
        if " epoch " not in message.partition(": ")[0]:  # each epoch already gets its log line
            lines(done, total, message)

    def log(line: str) -> None:
        lines.close()
        print(line, file=sys.stderr, flush=True)

    results = {}
    for run_settings, run_dir in runs:
        if len(runs) > 1:
            log(f"split {run_settings.official_split}: {run_dir}")
        try:
            ablation = _ablate(args, data, run_settings, run_dir, views, families, transformer_variants, family_variants,
                               progress=progress, log=log, command=command)
        finally:
            lines.close()
        results[run_settings.official_split] = ablation
        if len(runs) == 1:
            return _print_one(args, ablation, command)
    return _print_splits(args, results, out_dir, views, command)


def _ablate(args, data, settings, out_dir: Path, views, families, transformer_variants, family_variants, *, progress, log, command):  # noqa: ANN001
    """One ablation of ``data`` (DATA with ``--videos``) on one split, its ablation.json and confusion PNGs written into ``out_dir``."""
    from core.atomic import write_bytes, write_text
    from core.evaluation.ablation import RESULT_NAME, run_ablation
    from core.evaluation.confusion_plot import confusion_png

    ablation = run_ablation(
        data,
        settings,
        out_dir,
        variants=transformer_variants,
        families=families,
        family_variants=family_variants,
        clips_per_video=views.clips,
        crops=views.crops,
        cache_dir=args.cache_dir,
        resume=not args.fresh,
        progress=progress,
        log=log,
        command=command,
    )
    result = ablation.to_dict()
    result["command"] = command
    pngs = {}
    for name, outcome in ablation.variants.items():
        title = f"{name}: video-level top-1 {100 * (result['variants'][name]['top1'] or 0):.1f}%"
        pngs[out_dir / f"{name.replace('/', '-')}-confusion.png"] = confusion_png(outcome.evaluation.confusion(), outcome.evaluation.class_names, title=title)
    result["files"] = [str(out_dir / RESULT_NAME), *map(str, pngs)]
    for path, png in pngs.items():
        write_bytes(path, png)
    write_text(out_dir / RESULT_NAME, json.dumps(result, indent=2) + "\n")
    return ablation


def _print_one(args: argparse.Namespace, ablation, command: str | None) -> int:  # noqa: ANN001 - an Ablation
    from core.evaluation.ablation import RESULT_NAME

    if args.json:
        sys.stdout.write((ablation.out_dir / RESULT_NAME).read_text(encoding="utf-8"))
    else:
        sys.stdout.write(ablation.table())
        print(f"wrote {ablation.out_dir / RESULT_NAME} and {len(ablation.variants)} confusion PNGs")
    return 0


def _print_splits(args: argparse.Namespace, results: dict, out_dir: Path, views, command: str | None) -> int:  # noqa: ANN001
    """``--splits``: every variant's figures on each split and their mean +- std, in splits.json."""
    from core.atomic import write_text
    from core.evaluation.over_splits import summarise_splits, splits_table

    names = list(next(iter(results.values())).variants)
    per_variant = {
        name: summarise_splits({n: a.variants[name].evaluation.metrics() for n, a in results.items() if name in a.variants})
        for name in names
    }
    summary = {
        "splits": list(results),
        "variants": per_variant,
        "views": str(views),
        "files": {str(n): str(a.out_dir) for n, a in results.items()},
        "command": command,
    }
    text = json.dumps(summary, indent=2) + "\n"
    write_text(out_dir / SPLITS_NAME, text)
    if args.json:
        sys.stdout.write(text)
        return 0
    for n, ablation in results.items():
        sys.stdout.write(f"\nsplit {n}:\n" + ablation.table())
    for name in names:
        sys.stdout.write("\n" + splits_table(per_variant[name], f"{name}, video level over splits {','.join(map(str, results))}:"))
    print(f"wrote {out_dir / SPLITS_NAME} and {len(results)} split folders")
    return 0
