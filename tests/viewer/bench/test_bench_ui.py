"""`bench ui` runs the real window through every scenario and prints its table (no timing is asserted)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from media import write_video
from viewer import jobs
from viewer.bench import ui as bench_ui


def test_bench_ui_prints_a_row_per_scenario(qtbot, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    video = write_video(tmp_path / "clip.mp4", 24)
    parser = argparse.ArgumentParser()
    bench_ui.add_arguments(parser)
    args = parser.parse_args(["--video", str(video), "--flow-methods", "dis,farneback", "--idle-s", "0.2", "--interact-s", "0.3", "--limit-s", "20", "--explain"])
    interval = sys.getswitchinterval()
    try:
        assert bench_ui.run(args) == 0
    finally:  # the bench tunes the process as the app does: undo it for the other tests
        sys.setswitchinterval(interval)
        jobs.set_worker_niceness(0)
    out = capsys.readouterr().out
    table = out[out.index("scenario") :]
    for scenario in ("open + flow dis", "idle (baseline)", "flow farneback", "classify clip", "classify video", "scrub (quality overlays, heat maps, arrows", "play (quality overlays",
                     "dataset: dock appears (window relayout)", "dataset: list 13,320 videos", "dataset: scroll the table"):
        assert scenario in table
    assert "23/23 pairs scanned" in table  # the scans finished
    rows = {line.split("  ")[0]: line for line in table.splitlines()}
    assert "no prediction" not in rows["classify clip"] and "windows" in rows["classify video"]  # both classifications ran
    assert "heat maps, arrows, linked 2x zoom, cursor readout, matrix)" in table  # the scrub and play rows: every layer on
    assert "longest stall ms" in table and "Where the time went" in out
