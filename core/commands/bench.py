"""``bench TARGET``: speed measurements printed as tables with ratios against a baseline.

Each target lives in its own module (``core.bench.<target>``, or one registered with
:func:`register_target`) with
``add_arguments(parser)`` and ``run(args) -> int``; those modules import their
heavy dependencies inside ``run``, so building the parser stays fast.
"""

from __future__ import annotations

import argparse
import importlib

NAME = "bench"
HELP = "measure speed: flow methods, inference, video decoding, GUI responsiveness"

TARGETS = {
    "flow": ("core.bench.flow", "optical flow methods: pairs per second, RAFT against the naive way"),
    "infer": ("core.bench.infer", "per-stage latency of one 16-frame clip for each backbone"),
    "extract": ("core.bench.extract", "training extraction in videos/s: the per-clip path against clips prepared by workers"),
    "repflow": ("core.bench.repflow", "time per video: representation flow against the two-stream ConvNet with optical flow"),
    "demo": ("core.bench.demo", "the bundled demo models' README figures measured again: held-out accuracy, the sample's label"),
    "decode": ("core.bench.decode", "the video reader's milliseconds per frame: SDR against HDR (tone-mapped) video of one size"),
    "fuzz": ("core.bench.fuzz", "mutated videos, images and checkpoints: cases that read, clean errors, crashes, hangs, peak memory"),
}


def register_target(name: str, module_name: str, help_text: str) -> None:
    """Add a target whose module lives outside ``core`` (the viewer's ``ui`` benchmark, added by
    ``main.py``: ``core`` never names the GUI)."""
    TARGETS[name] = (module_name, help_text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True, parser_class=type(parser))
    for name, (module_name, help_text) in TARGETS.items():
        sub = targets.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_bench_module=module_name)
        importlib.import_module(module_name).add_arguments(sub)


def run(args: argparse.Namespace) -> int:
    module = importlib.import_module(args._bench_module)
    return int(module.run(args) or 0)
