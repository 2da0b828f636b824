"""``train DATA --out CKPT``: train the two-stream model on a folder of class sub-folders of videos.

Module-level imports stay light (the command line lists every command's help);
torch and the training pipeline load inside :func:`run`.  Under ``torchrun``
the same command trains with DistributedDataParallel (rank 0 prints).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from core.cli import name_option, non_negative_int, output_path, path_option, positive_int
from core.commands.options import augmentation, check_cache_dir, clips_per_video, learning_rate, non_negative_float, stride_set

NAME = "train"
HELP = "train a two-stream model (--model transformer|convnet|repflow); resumable"
DESCRIPTION = (
    "Train the two-stream transformer on DATA (a folder of class sub-folders of videos, the UCF101/HMDB51 layout; "
    "official split files are used when present, else a seeded stratified split) and write the best epoch's "
    "checkpoint to --out.  Backbones are frozen by default: each clip's token grids are computed once and cached "
    "on disk, then only the fusion is trained (Adam, lr 2e-4, batch 8, up to 200 epochs, early stopping on the "
    "validation loss).  An interrupted run continues when the same command is run again (--fresh starts over). "
    "Under torchrun (e.g. python -m torch.distributed.run --nproc_per_node 2 main.py train ...) each process "
    "extracts its shard of the videos and trains one DistributedDataParallel replica; rank 0 writes the files.  "
    "--model convnet (two-stream ResNets on a frame and L stacked flow fields) and --model repflow (a ResNet with "
    "representation-flow layers on RGB clips) train end to end in one process, with their own options below; "
    "the flow of every video is computed once into the flow cache."
)
VIDEOS_HELP = ("where the videos of an annotation file (Kinetics CSV, Something-Something JSON) are, when not beside it "
               "(as the viewer's --dataset-videos)")


def data_location(args: argparse.Namespace) -> str | os.PathLike[str]:
    """DATA with ``--videos``, as the one dataset reader takes it (a bad folder: exit 2, before any work)."""
    from core.data.layouts import dataset_location

    return dataset_location(args.data, getattr(args, "videos", None))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Defaults stay None here and come from TrainSettings in run(): listing the
    # commands' help must not import torch.
    parser.add_argument("data", metavar="DATA", help="dataset: a folder DATA/<class>/<video>, a Kinetics-style CSV (or a folder of train/val/test.csv) "
                        "or a Something-Something folder (labels.json, train.json, validation.json)")
    parser.add_argument("--videos", type=path_option, metavar="DIR", help=VIDEOS_HELP)
    parser.add_argument("--out", type=output_path, metavar="CKPT", required=True, help="checkpoint to write (.safetensors); its training state goes beside it")
    model = parser.add_argument_group("model")
    model.add_argument("--recipe", type=name_option, metavar="NAME",
                       help="a paper's configuration in one word: seed000 (MViTv2-S + RAFT-large + flow_to_image colours + the "
                            "seed's fusion and optimiser), seed002 (two-stream ResNet-50, TV-L1 / 20, SGD), seed003 (conv fusion by 1x1 "
                            "filters and temporal pooling on clips at strides 1, 5 and 10), seed004 (representation "
                            "flow, ResNet-34, CAM attention + ConvLSTM); options given beside it change it")
    model.add_argument("--model", type=name_option, metavar="FAMILY",
                       help="model family: transformer (default; seed 000), convnet (two-stream ResNets, seeds 001-003), "
                       "repflow (representation flow, seed 004), or any other registered family")
    model.add_argument("--backbone", type=name_option, help="transformer: tiny (default), mvit_v2_s or swin3d_s")
    model.add_argument("--tiny-dim", type=int, metavar="C", help="token width of the tiny backbone (default 96)")
    model.add_argument("--frame-wise", action="store_true", help="tiny backbone: encode each frame alone (no frame order in its tokens)")
    model.add_argument("--variant", type=name_option, help="transformer: rgb, flow, concat, fusion (default); convnet: rgb, flow, late (default), weighted, "
                       "learned, feature, conv; repflow: rgb, flow (default), late, learned")
    model.add_argument("--flow", type=name_option, dest="flow_method", metavar="M", help="flow method: dis (default), farneback, tvl1, raft-small, raft-large")
    model.add_argument("--raft-weights", type=path_option, metavar="PATH", help="RAFT weights file when --flow is raft-small or raft-large")
    model.add_argument("--flow-radius", type=float, metavar="PX",
                       help="flow colours: motion drawn fully saturated, in pixels (default 10); small motions need a small radius")
    model.add_argument("--flow-normalization", choices=("fixed", "clip", "max"),
                       help="flow colour scale: fixed radius (default), each clip's largest motion (at least the radius), or "
                            "max: torchvision's flow_to_image exactly (each clip's largest motion)")
    model.add_argument("--depth", type=int, help="fusion encoder layers (default 2)")
    model.add_argument("--heads", type=int, help="attention heads (default 8)")
    model.add_argument("--head-dim", type=int, help="dims per head (default 96)")
    model.add_argument("--spatial-pool", type=int, metavar="S", help="average each time slice to SxS tokens (default 0: keep all)")
    model.add_argument("--rgb-time-pool", action="store_true", help="average RGB tokens over time, no time embedding (order-free RGB stream)")
    model.add_argument("--head-layers", type=int, choices=(1, 3), help="classifier head: 1 (LayerNorm, Dropout, Linear; default) or 3 layers")
    model.add_argument("--input-size", type=positive_int, metavar="S", help="crop size in pixels (default: the backbone's)")
    model.add_argument("--clip-length", type=positive_int, metavar="T", help="frames per clip (default: the backbone's)")
    model.add_argument("--no-pretrained", action="store_true", help="random backbone weights instead of Kinetics-400 (the tiny backbone has none anyway)")
    model.add_argument("--backbone-weights", type=path_option, metavar="PATH", help="Kinetics-400 weights file for both streams (else the torch hub cache, else download)")
    resnets = parser.add_argument_group("convnet and repflow")
    resnets.add_argument("--resnet", help="ResNet of both streams: tiny (default), resnet18, resnet34 or resnet50 (ImageNet weights unless --no-pretrained)")
    resnets.add_argument("--tiny-width", type=positive_int, metavar="C", help="width of the tiny ResNet's first stage (default 16)")
    resnets.add_argument("--flow-length", type=int, metavar="L", help="convnet: stacked flow fields per snippet (default 10)")
    resnets.add_argument("--snippets", type=int, metavar="S", help="convnet: training snippets per video, one per segment (TSN; default 3)")
    resnets.add_argument("--bidirectional", action="store_true", help="convnet: L/2 backward fields before the centre frame, L/2 forward after it")
    resnets.add_argument("--no-mean-subtraction", action="store_true", help="convnet: keep each flow field's mean displacement (default: subtracted)")
    resnets.add_argument("--conv-fusion", choices=("1x1", "3d"), help="convnet --variant conv: fusion kernel (default 3d)")
    resnets.add_argument("--fusion-strides", type=stride_set, metavar="LIST",
                         help="convnet --variant conv: seed 003's multi-stride clips: each training sample is --snippets snippets "
                              "at one of these strides (frames between them, e.g. 1,5,10), tested at every one "
                              "(default: one snippet per segment, TSN; --recipe seed003: 1,5,10)")
    resnets.add_argument("--flow-scale", type=float, metavar="S", help="convnet: flow divided by S before the clamp (seed 002: 20; default 1)")
    resnets.add_argument("--flow-bound", type=float, metavar="B", help="convnet: flow clamped to +-B after scaling (seed 002: 1; default 20, 0: none)")
    resnets.add_argument("--optimizer", choices=("adam", "sgd"), help="adam (default) or sgd with --momentum (seed 002: --lr 0.01 --weight-decay 5e-4)")
    resnets.add_argument("--momentum", type=float, metavar="M", help="SGD momentum (default 0.9)")
    resnets.add_argument("--rgb-attention", action="store_true", help="seed 004's RGB stream: CAM spatial attention")
    resnets.add_argument("--rgb-convlstm", type=int, metavar="C", help="seed 004's RGB stream: a ConvLSTM of C channels over time (seed 004: 512)")
    resnets.add_argument("--flow-layers", type=int, metavar="N", help="repflow: representation-flow layers, 0-3 (default 2)")
    resnets.add_argument("--iterations", type=int, metavar="N", help="repflow: TV-L1 iterations per flow layer (default 20)")
    fit = parser.add_argument_group("training")
    fit.add_argument("--epochs", type=int, metavar="N", help="at most N epochs (default 200)")
    fit.add_argument("--batch-size", type=int, metavar="B", help="clips per step, per process (default 8)")
    fit.add_argument("--lr", type=learning_rate, help="Adam learning rate (default 2e-4)")
    fit.add_argument("--weight-decay", type=non_negative_float, help="Adam weight decay (default 0)")
    fit.add_argument("--patience", type=int, metavar="N", help="stop after N epochs without a better validation loss (default 10)")
    fit.add_argument("--augment", type=augmentation, metavar="PARTS",
                     help="none (default) or flip, crop, jitter joined by '+' (flip+crop+jitter). transformer: fixed views per "
                          "clip (mirrored, corner crops); convnet: each training sample cropped at random from frames whose shorter "
                          "side is 256/224 of the input size, mirrored at random, its RGB jittered along the training frames' colour "
                          "PCA (Krizhevsky et al.; convnet only); flipping swaps left and right")
    fit.add_argument("--clips-per-video", type=clips_per_video, metavar="K", help="training clips per video, spread uniformly (default 1, at most 250)")
    fit.add_argument("--finetune", action="store_true", help="train the backbones too, end to end on prepared clips (no token grids)")
    fit.add_argument("--seed", type=non_negative_int, help="seed of every random choice (default 0)")
    fit.add_argument("--device", help="auto (default: CUDA when present), cpu or cuda")
    split = parser.add_argument_group("split")
    split.add_argument("--split", dest="split_scheme", choices=("auto", "ucf101", "hmdb51", "stratified"), help="split scheme (default auto: official files when present)")
    split.add_argument("--split-number", dest="official_split", type=int, metavar="N", help="official split number (default 1)")
    split.add_argument("--split-dir", type=path_option, metavar="DIR", help="folder of classInd.txt and the split files, when not in or beside DATA")
    split.add_argument("--splits", metavar="LIST",
                       help="official splits, e.g. 1,2,3: one run per split (checkpoints named by a {split} placeholder in --out, "
                            "else OUT_STEM-splitN), as the UCF101/HMDB51 protocol averages them")
    split.add_argument("--val-fraction", type=float, help="share of the training part held out for validation (default 0.1)")
    split.add_argument("--test-fraction", type=float, help="test share of a seeded split (default 0.2)")
    run_group = parser.add_argument_group("run")
    run_group.add_argument("--cache-dir", type=path_option, metavar="DIR", help="token cache folder (default: $TWOSTREAM_CACHE_DIR/tokens or ~/.cache/twostream/tokens)")
    run_group.add_argument("--fresh", action="store_true", help="start over instead of resuming the run beside --out (a checkpoint at --out with no run beside it is replaced)")
    run_group.add_argument("--extract-workers", type=int, metavar="N",
                           help="transformer: processes preparing clips ahead of the backbones during token extraction "
                                "(0: in process; default: 0 on a CPU, min(4, cores) on CUDA)")
    run_group.add_argument("--flow-batch", type=int, metavar="N",
                           help="transformer: clips whose flow token extraction computes in one call, across videos (RAFT's "
                                "pairs side by side on a GPU; default 4 on CUDA, 1 on a CPU where batching gains nothing); "
                                "cache keys do not depend on it")


_PLAIN_OPTIONS = (
    "model", "resnet", "tiny_width", "flow_length", "snippets", "conv_fusion", "flow_layers", "iterations",
    "backbone", "variant", "flow_method", "depth", "heads", "head_dim", "spatial_pool", "head_layers", "input_size",
    "clip_length", "backbone_weights", "epochs", "batch_size", "lr", "weight_decay", "patience", "augment",
    "clips_per_video", "raft_weights", "extract_workers", "flow_batch", "split_scheme", "official_split", "split_dir", "val_fraction", "test_fraction", "seed", "device",
    "flow_scale", "flow_bound", "optimizer", "momentum", "rgb_convlstm", "fusion_strides",
)


def family_option_flags() -> dict[str, tuple[tuple[str, ...], str]]:
    """Options that belong to some families only: argparse dest -> (the families whose records
    list it in ``train_options``, the flag's name)."""
    from core.models.registry import families

    flags = {action.dest: action.option_strings[0] for action in _train_parser()._actions if action.option_strings}
    takers: dict[str, list[str]] = {}
    for record in families():
        for dest in record.train_options:
            takers.setdefault(dest, []).append(record.name)
    return {dest: (tuple(names), flags.get(dest, "--" + dest.replace("_", "-"))) for dest, names in takers.items()}


def _train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    return parser


def check_family_options(args: argparse.Namespace, families: tuple[str, ...]) -> None:
    """An :class:`InputError` (exit 2) naming the first option given that none of ``families`` takes."""
    from core.errors import InputError
    from core.models.registry import family

    for name in families:  # an unknown family is named before any option
        try:
            family(name)
        except ValueError as err:
            raise InputError(str(err)) from None
    for dest, (takers, flag) in family_option_flags().items():
        value = getattr(args, dest, None)
        if value is None or value is False:
            continue
        if not any(f in takers for f in families):
            raise InputError(f"{flag} is an option of the {' and '.join(takers)} famil{'ies' if len(takers) > 1 else 'y'}, not of --model {','.join(families)}")


def settings_from_args(args: argparse.Namespace, *, check: bool = True):
    """The :class:`~core.training.TrainSettings` the command line describes (unset options keep its defaults);
    ``check``: refuse options of another family than ``--model``'s."""
    from core.flow.engine import normalize_method
    from core.training.settings import TrainSettings

    from core.errors import InputError
    from core.models.registry import default_family, recipe

    base: dict = {}
    if getattr(args, "recipe", None):
        try:
            record, base = recipe(args.recipe)
        except ValueError as err:
            raise InputError(str(err)) from None
        if getattr(args, "model", None) not in (None, record.name):
            raise InputError(f"--recipe {args.recipe} is a recipe of the {record.name} family, not of --model {args.model}")
        base = {**base, "model": record.name}
    if check:
        check_family_options(args, (getattr(args, "model", None) or base.get("model") or default_family(),))

    values = {name: getattr(args, name) for name in _PLAIN_OPTIONS if getattr(args, name, None) is not None}
    if "flow_method" in values:
        values["flow_method"] = normalize_method(values["flow_method"])
    if args.flow_radius is not None or args.flow_normalization is not None:
        from core.flow.render import FlowEncoding

        default = FlowEncoding.from_dict(base["flow_encoding"]) if "flow_encoding" in base else FlowEncoding()
        values["flow_encoding"] = FlowEncoding(
            normalization=args.flow_normalization or default.normalization,
            max_radius=args.flow_radius if args.flow_radius is not None else default.max_radius,
        ).to_dict()
    options: dict = {}
    if args.tiny_dim is not None:
        options["dim"] = args.tiny_dim
    if args.frame_wise:
        options["frame_wise"] = True
    if getattr(args, "bidirectional", False):
        values["bidirectional"] = True
    if getattr(args, "no_mean_subtraction", False):
        values["mean_subtraction"] = False
    if getattr(args, "rgb_attention", False):
        values["rgb_attention"] = True
    if options:
        values["backbone_options"] = options
    if args.rgb_time_pool:
        values["rgb_time_pool"] = True
    if args.no_pretrained:
        values["pretrained"] = False
    if args.finetune:
        values["finetune_backbones"] = True
    return TrainSettings(**{**base, **values})


class PhaseProgress:
    """One progress line per phase ("extract", "epoch 3"): the text before the message's first colon."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.phase: str | None = None
        self.line = None

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if not self.enabled:
            return
        from core.progress import ProgressLine

        phase, _, rest = message.partition(": ")
        if phase != self.phase:
            self.close()
            self.phase, self.line = phase, ProgressLine(phase)
        self.line(done, total, rest)

    def close(self) -> None:
        if self.line is not None:
            self.line.close()
            self.line = None


def run(args: argparse.Namespace) -> int:
    from core.training import train

    settings = settings_from_args(args)
    data = data_location(args)
    check_cache_dir(args.cache_dir)  # a file or a read-only folder: exit 2 now, not once extraction writes
    is_main = int(os.environ.get("RANK", "0") or 0) == 0
    command = "python main.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["train"] else None
    progress = PhaseProgress(enabled=is_main)

    def log(line: str) -> None:
        progress.close()
        print(line, flush=True)

    runs = [(settings, args.out)]
    if "{split}" in str(args.out) and not getattr(args, "splits", None):
        from core.errors import InputError

        raise InputError("--out has a {split} placeholder but no --splits to fill it")
    if getattr(args, "splits", None):
        runs = split_runs(args, settings)
    elif args.official_split is not None and args.split_scheme in (None, "auto", "ucf101", "hmdb51"):
        from core.data import discover_dataset
        from core.evaluation.over_splits import check_official

        check_official(discover_dataset(data, split_dir=settings.split_dir), args.official_split, settings.split_dir)  # never a silent seeded split
    if len(runs) > 1:  # every split's checkpoint before the first trains: not hours later, at split 3
        from core.training.run import check_output

        for _settings, out in runs:
            check_output(out, resume=not args.fresh)
    for run_settings, out in runs:
        if len(runs) > 1:
            log(f"split {run_settings.official_split}: {out}")
        try:
            result = train(data, run_settings, out, resume=not args.fresh, cache_dir=args.cache_dir, progress=progress,
                           log=log, command=command)
        finally:
            progress.close()
        if is_main:
            _report(result)
    return 0


def split_runs(args: argparse.Namespace, settings) -> list:
    """``--splits``: one (settings, checkpoint) pair per official split, each checked to have its files."""
    from core.data import discover_dataset
    from core.errors import InputError
    from core.evaluation.over_splits import check_official, parse_splits, split_checkpoint

    if args.official_split is not None:
        raise InputError("--splits and --split-number both choose the split: give one")
    if args.split_scheme not in (None, "auto", "ucf101", "hmdb51"):
        raise InputError(f"--splits needs the official splits, not --split {args.split_scheme}")
    numbers = parse_splits(args.splits)
    dataset = discover_dataset(data_location(args), split_dir=settings.split_dir)
    for n in numbers:
        check_official(dataset, n, settings.split_dir)
    return [(settings.replace(official_split=n), split_checkpoint(args.out, n)) for n in numbers]


def _report(result) -> None:  # noqa: ANN001 - a TrainResult
    best = result.best if result.best_epoch else None
    val = "" if best is None or best["val_acc"] is None else f", val loss {best['val_loss']:.4f}, val acc {100 * best['val_acc']:.1f}%"
    how = "already finished" if result.already_finished else ("stopped early" if result.stopped_early else "all epochs run")
    print(f"done ({how}): best epoch {result.best_epoch} of {result.epochs_run}{val}")
    print(f"checkpoint: {result.checkpoint}")
    print(f"split: {result.split.description}; {len(result.split.train)} train, {len(result.split.val)} val, {len(result.split.test)} test videos")
    for note in result.split.notes:  # videos the annotations list but the disk lacks, classes too small to split
        print(f"note: {note}")
    if result.skipped:
        print(result.skipped.summary())
    print(result.peak.describe())
