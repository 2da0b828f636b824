"""``bench decode``: a row per clip and thread count, ratios against the SDR clip; bad options refused first."""

from __future__ import annotations

import cv2
import pytest
import torch

import main
from core.bench import decode


def test_rows_for_sdr_and_hdr_at_each_thread_count(capsys: pytest.CaptureFixture[str]) -> None:
    """Ratios against the SDR clip at the same count and against the same clip at the fewest threads (the HDR
    strips share the threads); the thread counts the run found are back at the end."""
    before = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(3)
    torch.set_num_threads(3)
    try:
        assert main.main(["bench", "decode", "--size", "64x32", "--frames", "3", "--threads", "2,1"]) == 0
        assert (cv2.getNumThreads(), torch.get_num_threads()) == (3, 3)
    finally:
        cv2.setNumThreads(before[0])
        torch.set_num_threads(before[1])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("video reader at 64x32, 3 frames per clip, best of 3 turns")
    assert lines[0].endswith("and against the same clip at 1 thread")
    assert [cell.strip() for cell in lines[1].split("  ") if cell.strip()] == [
        "clip", "threads", "read ms/frame", "read vs SDR", "read vs 1 thread", "convert ms/frame", "convert vs SDR",
        "convert vs 1 thread"]
    rows = [line.split() for line in lines[3:]]
    assert [(" ".join(row[:3]), row[3]) for row in rows] == [(label, threads) for threads in "21" for label in
                                                              ("SDR 8-bit BT.709", "HDR 10-bit PQ", "HDR 10-bit HLG")]
    assert all(row[5] == "1.00x" and row[8] == "1.0x" for row in rows[::3])  # the SDR rows are the baseline
    assert all(row[6] == "1.00x" and row[9] == "1.00x" for row in rows[3:])  # and the 1-thread rows


@pytest.mark.parametrize(("option", "message"), [(["--size", "65x32"], "--size needs even sides"),
                                                 (["--size", "wide"], "--size must be WxH"),
                                                 (["--threads", "0"], "--threads must be thread counts of at least 1")])
def test_bad_options_are_refused_before_any_clip_is_written(option: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode, "_write", lambda *args: pytest.fail("a clip was written"))
    assert main.main(["bench", "decode", *option]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
