"""``bench extract``: videos/s of the per-clip path, the worker paths and the flow-batch path in one run, with ratios, on tiny sizes."""

from __future__ import annotations

import numpy as np
import pytest

import main
from core.bench import extract

TINY = ["--size", "32", "--frames", "10", "--input-size", "32", "--clip-length", "8", "--repeats", "1", "--threads", "1", "--device", "cpu"]


def _rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines() if line.startswith("tiny ")]


def test_rows_for_every_path_with_ratios_and_the_same_arrays(tmp_path, capsys):
    argv = ["bench", "extract", "--videos", "3", "--workers", "2", "--real", str(tmp_path / "absent"), *TINY]
    assert main.main(argv) == 0
    out = capsys.readouterr().out
    assert "is not there" in out  # the real clips are skipped with a message
    rows = _rows(out)
    assert [" ".join(r[7:-3]) for r in rows] == ["per-clip (before)", "shared, in process", "shared, 2 workers", "flow batch 4, in process"]
    assert rows[0][-2] == "1.00x" and all(float(r[-2][:-1]) > 0 for r in rows)
    assert all(r[3] == "synthetic" and r[4] == "3" and r[-1] == "0" for r in rows)  # the same bits on every path


def test_a_row_on_the_real_clips_when_their_folder_is_there(tmp_path, capsys):
    from core.synth.writer import write_mp4

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)
    real = tmp_path / "real"
    for name in ("a.mp4", "b.mp4"):
        write_mp4(real / name, np.stack([np.roll(base, 2 * i, axis=1) for i in range(12)]), fps=10, preset="ultrafast")
    argv = ["bench", "extract", "--videos", "2", "--workers", "1", "--real", str(real), *TINY]
    assert main.main(argv) == 0
    rows = _rows(capsys.readouterr().out)
    assert [r[3] for r in rows] == ["synthetic"] * 4 + ["real"] * 4


@pytest.mark.parametrize(("option", "message"), [(["--workers", "two"], "--workers must be"), (["--workers", "0"], "--workers must be"),
                                               (["--backbones", "resnet9000"], "unknown backbones ['resnet9000']"),
                                               (["--flow-batch", "0"], "--flow-batch must be at least 1")])
def test_bad_options_are_one_line_errors_before_measuring(capsys, option, message):
    assert main.main(["bench", "extract", *TINY, *option]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "measured" not in captured.out


def test_the_real_clips_default_beside_the_project():
    assert extract.REAL_VIDEOS.name == "videos" and extract.REAL_VIDEOS.parent.name == "data"
