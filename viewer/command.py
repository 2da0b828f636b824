"""``view [VIDEO]`` (the default command): open the viewer on VIDEO or the bundled sample."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli import path_option

NAME = "view"
HELP = "open the viewer (the default: `main.py VIDEO` is `main.py view VIDEO`)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", nargs="?", type=path_option, metavar="VIDEO", help="video file or folder of frames (default: the bundled sample)")
    parser.add_argument("--frame", type=int, default=0, metavar="N", help="start at frame N (default 0)")
    parser.add_argument("--checkpoint", type=path_option, metavar="PATH", help="classify with this checkpoint (default: the bundled demo model)")
    parser.add_argument("--classify", action="store_true", help="classify the clip at the start frame as soon as the video is open")
    parser.add_argument("--dataset", type=path_option, metavar="PATH", help="open a dataset in the Dataset panel: a folder of class folders, "
                        "a Kinetics-style CSV (or a folder of train/val/test.csv), or a Something-Something folder")
    parser.add_argument("--dataset-videos", type=path_option, metavar="DIR", help="where the --dataset annotations' videos are, when not beside them")
    parser.add_argument("--raft-weights", type=path_option, metavar="PATH", help="RAFT weights file for RAFT flow (torchvision's or the original release's; "
                        "its size is read from it; remembered, like Flow > Load RAFT weights...)")


def run(args: argparse.Namespace) -> int:
    from core.errors import CheckpointError, InputError, VideoError
    from core.resources import SAMPLE_VIDEO

    video = args.video
    if video is None:
        video = str(SAMPLE_VIDEO)
        if not SAMPLE_VIDEO.exists():
            raise VideoError("the bundled sample video is missing (regenerate it: python resources/make_sample.py)", SAMPLE_VIDEO)
    elif not Path(video).exists():
        raise VideoError("file does not exist", video)  # fail on the command line, before a window opens
    if args.frame < 0:
        raise InputError(f"--frame must be >= 0, got {args.frame}")
    if args.checkpoint is not None and not Path(args.checkpoint).is_file():
        raise CheckpointError("file does not exist", args.checkpoint)
    if args.raft_weights is not None and not Path(args.raft_weights).is_file():
        raise CheckpointError("file does not exist" if not Path(args.raft_weights).exists() else "is not a file", args.raft_weights)
    for option, path in (("--dataset", args.dataset), ("--dataset-videos", args.dataset_videos)):
        if path is not None and not Path(path).exists():
            raise InputError(f"{option}: does not exist", path)
    from viewer.app import run_viewer

    return run_viewer(video, frame=args.frame, checkpoint=args.checkpoint, classify=args.classify, raft_weights=args.raft_weights,
                      dataset=args.dataset, dataset_videos=args.dataset_videos)
