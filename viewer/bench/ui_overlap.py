"""``bench ui``'s overlap scenario: a TV-L1 view job and a TV-L1 scan job in the viewer's workers at once.

The viewer runs the current frame's flow and the whole-video scan together
(and classification beside them); each is torch work on its own worker thread.
This scenario submits both through the window's own :class:`~viewer.jobs.JobRunner`,
as the flow controller does (chunks of ``CHUNK_PAIRS`` pairs, forward and
backward flow, progress per batch), and measures what a user waits for:
seconds until the view job's chunk is done, the scan's pairs per second while
they overlap, and the GUI thread's stalls.  It runs twice in the same process:
with the thread budget (:data:`core.thread_budget.WORKER_BUDGET`: the cores
shared between the jobs) and without it (every job asks for every core, as
before the budget); the OpenMP wait policy is the process's (``OMP_WAIT_POLICY``,
passive unless set: compare runs with ``OMP_WAIT_POLICY=ACTIVE``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

SCAN_CHUNKS = 2


def overlap_rows(window: Any, heart: Any, video: Path, limit_s: float, measure: Callable[..., Any], busy: int = 0) -> list[Any]:
    """One row per budget setting (on, then off) of the heartbeat table; the job timings go in its "work" column.

    ``busy``: that many processes spinning on a core each meanwhile (other work on the machine).
    """
    from core.bench.flow_contention import busy_processes
    from core.thread_budget import WORKER_BUDGET

    rows = []
    beside = f", {busy} busy processes" if busy else ""
    for enabled in (True, False):
        WORKER_BUDGET.enabled = enabled
        try:
            label = "tvl1 view + scan jobs, " + ("thread budget" if enabled else "no budget (all cores each)") + beside
            with busy_processes(busy):
                rows.append(_measure_once(window, heart, video, limit_s, measure, label))
        finally:
            WORKER_BUDGET.enabled = True
    return rows


def _measure_once(window: Any, heart: Any, video: Path, limit_s: float, measure: Callable[..., Any], label: str) -> Any:
    from viewer.flow_chunks import CHUNK_PAIRS

    jobs = window.jobs
    times: dict[str, float] = {}
    errors: list[str] = []

    def flow_job(first_pair: int, pairs: int, name: str) -> Callable[..., Any]:
        def run(cancel: Any, progress: Callable[..., None]) -> int:
            from core.flow.engine import compute_flow
            from core.video import open_video

            with open_video(video) as clip:
                count = min(pairs, len(clip) - 1 - first_pair)
                for start in range(first_pair, first_pair + count, CHUNK_PAIRS):
                    frames = clip.read_clip(list(range(start, min(start + CHUNK_PAIRS, first_pair + count) + 1)))
                    compute_flow(frames, "tvl1", device="cpu", backward=True, cancel=cancel, progress=progress)
            times[name] = time.perf_counter()
            return count

        return run

    def fail(error: BaseException, _trace: str) -> None:
        errors.append(f"{type(error).__name__}: {error}")

    started = [0.0]
    counts: dict[str, int] = {}

    def start() -> Callable[[], bool]:
        started[0] = time.perf_counter()
        jobs.submit("bench-scan", flow_job(0, SCAN_CHUNKS * CHUNK_PAIRS, "scan"), lambda n: counts.__setitem__("scan", n), on_error=fail)
        jobs.submit("bench-view", flow_job(SCAN_CHUNKS * CHUNK_PAIRS, CHUNK_PAIRS, "view"), lambda n: counts.__setitem__("view", n), on_error=fail)
        return lambda: bool(errors) or ("scan" in counts and "view" in counts)

    def describe(finished: bool) -> str:
        if errors:
            return "failed: " + errors[0]
        if not finished:
            jobs.cancel("bench-scan")
            jobs.cancel("bench-view")
            jobs.wait(int(limit_s * 1000))
            return f"limit of {limit_s:g} s reached"
        view_s = times["view"] - started[0]
        scan_s = times["scan"] - started[0]
        return (f"view chunk ({counts['view']} pairs, both directions) in {view_s:.1f} s = {view_s / max(1, 2 * counts['view']):.3f} s a flow; "
                f"scan {counts['scan']} pairs in {scan_s:.1f} s = {2 * counts['scan'] / scan_s:.2f} flows/s")

    return measure(heart, label, start, limit_s, describe)
