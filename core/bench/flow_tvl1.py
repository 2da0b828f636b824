"""``bench flow``'s TV-L1 reading: ours against OpenCV contrib's ``DualTVL1`` at its defaults, side by side.

Same frames, same run, timed in alternation so that load on the machine hits
both alike: seconds per 320x240 pair (the target: at least 2x faster), and the
end-point error of each on every Middlebury and Sintel pair beside the project
(the target: at or under OpenCV's on every pair).  OpenCV's ``DualTVL1`` lives
in ``opencv-contrib-python-headless`` (the ``bench`` extra); without it only our
figures are printed and the table says OpenCV was not measured.
"""

from __future__ import annotations

import time
from typing import Any, Callable

SPEED_TARGET = 2.0


def dual_tvl1() -> Any | None:
    """OpenCV contrib's solver at its defaults, or None when cv2.optflow is not installed."""
    import cv2

    optflow = getattr(cv2, "optflow", None)
    if optflow is None or not hasattr(optflow, "DualTVL1OpticalFlow_create"):
        return None
    return optflow.DualTVL1OpticalFlow_create()


def _opencv_flow(solver: Any, frames: Any) -> Any:
    """Forward flows (N-1, 2, H, W) of (N, H, W, 3) RGB frames, grey as our engine makes it."""
    import numpy as np

    from core.flow.classical import to_gray

    grey = to_gray(frames)
    return np.stack([solver.calc(a, b, None).transpose(2, 0, 1) for a, b in zip(grey[:-1], grey[1:])])


def _ours(frames: Any) -> Any:
    from core.flow.engine import compute_flow

    return compute_flow(frames, "tvl1", device="cpu").forward


def speed_line(clip: Any, repeats: int) -> str:
    """Seconds per pair of both on ``clip`` (best of ``repeats`` alternating runs after a warm-up)."""
    solver = dual_tvl1()
    runs: dict[str, Callable[[], Any]] = {"ours": lambda: _ours(clip)}
    if solver is not None:
        runs["opencv"] = lambda: _opencv_flow(solver, clip)
    best = {name: float("inf") for name in runs}
    _ours(clip[:2])
    for _ in range(max(1, repeats)):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], (time.perf_counter() - start) / (len(clip) - 1))
    size = f"{clip.shape[2]}x{clip.shape[1]}"
    if solver is None:
        return f"TV-L1 on the CPU at {size}: {best['ours']:.3f} s per pair; OpenCV's DualTVL1 was not measured: cv2.optflow (the bench extra, opencv-contrib-python-headless) is not installed"
    ratio = best["opencv"] / best["ours"]
    verdict = "met" if ratio >= SPEED_TARGET else "NOT met"
    return (f"TV-L1 on the CPU at {size}: {best['ours']:.3f} s per pair; OpenCV contrib DualTVL1 at its defaults, same frames, "
            f"this run: {best['opencv']:.3f} s per pair: ours {ratio:.2f}x faster (target >= {SPEED_TARGET:g}x: {verdict})")


def accuracy_table(pairs: list[Any], format_table: Callable[..., str]) -> str:
    """EPE and seconds of both on each ground-truth pair, and the verdict (ours at or under OpenCV's on every pair)."""
    import numpy as np

    from core.flow.quality import endpoint_error

    solver = dual_tvl1()
    rows: list[list[Any]] = []
    seconds = {"ours": 0.0, "opencv": 0.0}
    wins = 0
    for pair in pairs:
        frames = np.stack([pair.frame0, pair.frame1])
        start = time.perf_counter()
        ours = endpoint_error(_ours(frames)[0], pair.flow, pair.valid)
        seconds["ours"] += time.perf_counter() - start
        row: list[Any] = [pair.name, ours]
        if solver is not None:
            start = time.perf_counter()
            theirs = endpoint_error(_opencv_flow(solver, frames)[0], pair.flow, pair.valid)
            seconds["opencv"] += time.perf_counter() - start
            wins += ours <= theirs
            row += [theirs, f"{100 * (ours - theirs) / theirs:+.1f}%", "yes" if ours <= theirs else "NO"]
        rows.append(row)
    header = ["pair", "ours EPE"] + (["OpenCV DualTVL1 EPE", "ours vs OpenCV", "at or under"] if solver is not None else [])
    lines = [f"TV-L1 against OpenCV contrib's DualTVL1 (its defaults) on {len(pairs)} ground-truth pairs, full resolution, CPU:",
             format_table(header, rows)]
    if solver is None:
        lines.append("OpenCV's DualTVL1 was not measured: install the bench extra (opencv-contrib-python-headless) beside the project")
    else:
        lines.append(f"ours at or under OpenCV's EPE on {wins}/{len(pairs)} pairs (target: all); all pairs took {seconds['ours']:.1f} s (ours) "
                     f"against {seconds['opencv']:.1f} s (OpenCV): {seconds['opencv'] / max(seconds['ours'], 1e-9):.2f}x")
    return "\n".join(lines)
