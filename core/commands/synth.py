"""``synth OUT_DIR``: write the synthetic action dataset (UCF101 layout).

Its classes are built so the ablation can measure each stream: motion pairs
that look the same in any single frame, and appearance classes that move the
same way.  See :mod:`core.synth.render` for the design.
"""

from __future__ import annotations

import argparse

NAME = "synth"
HELP = "write a synthetic action dataset: classes only motion separates and classes only appearance separates"
DESCRIPTION = (
    "Write a synthetic action dataset in the UCF101 layout (OUT_DIR/<Class>/<clip>.mp4, classInd.txt, synth.json). "
    "Motion-only pairs (MoveLeft/MoveRight, RotateClockwise/RotateAnticlockwise, Approach/Recede) look identical in "
    "any single frame; appearance-only classes (Red/Green/Blue/StripedBall) share outline, luminance and motion. "
    "Deterministic in --seed; an interrupted run resumes."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", metavar="OUT_DIR", help="new or empty folder (or one this command was interrupted in)")
    parser.add_argument("--clips-per-class", type=int, default=30, metavar="N", help="clips per class (default 30)")
    parser.add_argument("--size", type=int, default=112, metavar="S", help="frame side in pixels, even (default 112)")
    parser.add_argument("--frames", type=int, default=32, metavar="F", help="frames per clip (default 32)")
    parser.add_argument("--seed", type=int, default=0, metavar="K", help="random seed (default 0)")
    parser.add_argument("--fps", type=int, default=25, help="frame rate of the files (default 25)")


def run(args: argparse.Namespace) -> int:
    from core.export.target import check_writable
    from core.progress import ProgressLine
    from core.synth.dataset import generate_dataset

    check_writable(args.out_dir, folder=True)
    line = ProgressLine("synth")
    try:
        result = generate_dataset(
            args.out_dir,
            clips_per_class=args.clips_per_class,
            size=args.size,
            frames=args.frames,
            seed=args.seed,
            fps=args.fps,
            progress=line,
        )
    finally:
        line.close()
    reused = f" ({result.reused} already there)" if result.reused else ""
    print(f"{result.root}: {len(result.clips)} clips{reused}, {len(result.clips) // args.clips_per_class} classes")
    return 0
