"""Two-Stream Viewer: the one entry point.  Parse, dispatch; nothing else.

    python main.py [VIDEO]          open the viewer (the bundled sample when no VIDEO)
    python main.py info VIDEO       video metadata as JSON
    python main.py COMMAND --help   help on any command
"""

from __future__ import annotations

import sys

from core.cli import run_cli
from core.commands import bench
from core.thread_budget import sleep_idle_openmp_threads

COMMANDS = (
    "viewer.command",
    "core.commands.info",
    "core.commands.synth",
    "core.commands.classify",
    "core.commands.flow",
    "core.commands.bench",
    "core.commands.eval",
    "core.commands.train",
    "core.commands.ablate",
)


bench.register_target("ui", "viewer.bench.ui", "longest GUI-thread stall of the real window while flow, classification and scrubbing run")
bench.register_target("playback", "viewer.bench.playback", "frames shown per second while flow runs behind playback: one shared decoder against one per kind of work")


def main(argv: list[str] | None = None) -> int:
    sleep_idle_openmp_threads()  # before any command loads torch: idle OpenMP threads sleep, never spin (core/thread_budget.py)
    return run_cli(
        argv,
        prog="twostream",
        description="Two-stream action recognition: view RGB and optical flow, classify clips, see where the model looks.",
        command_modules=COMMANDS,
        default_command="view",
    )


if __name__ == "__main__":
    sys.exit(main())
