"""``bench flow --contention``: TV-L1 seconds per pair when it is not alone on the cores.

The viewer runs the current frame's flow and the whole-video scan at once, and
other programs share the machine.  Each reading runs in a fresh child process
(OpenMP reads its wait policy once, when torch loads), on the same 320x240
frames, in these situations:

* ``alone``: one job, the machine as it is;
* ``2 jobs``: two jobs at once in two threads of one process (the viewer's
  view job and scan), each asking for every core (no budget) or sharing them
  through :class:`core.thread_budget.ThreadBudget`;
* ``alone + N busy``: one job beside N processes that spin on a core each (a
  stand-in for other work on the machine);
* ``alone + a torch process``: one job beside a process running small torch
  operations on every core with torch's default settings (its idle threads spin);

each with OpenMP's default wait policy (idle threads spin a while: ``ACTIVE``
here, the torch default) and with ``PASSIVE`` (idle threads sleep: what the
viewer sets, see :func:`core.thread_budget.sleep_idle_openmp_threads`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

SCENARIOS = (("alone", 1, False, 0), ("2 jobs, no budget", 2, False, 0), ("2 jobs, thread budget", 2, True, 0),
             ("alone + 2 busy processes", 1, False, 2), ("alone + a torch process", 1, False, -1))
# a neighbour running small torch operations on both cores with torch's default OpenMP settings (another program's tests, say)
TORCH_NEIGHBOUR = "import torch\nx = torch.rand(4, 1, 240, 320)\nwhile True:\n    (x * x + 1).sqrt()\n"


def contention_table(format_table: Callable[..., str], frames_path: str | None, pairs: int = 4, repeats: int = 2) -> str:
    """Seconds per pair of each scenario under each wait policy, each in its own process (best of ``repeats``)."""
    rows: list[list[Any]] = []
    quiet: dict[str, float] = {}
    for name, jobs, budget, busy in SCENARIOS:
        row: list[Any] = [name]
        for policy in ("ACTIVE", "PASSIVE"):
            seconds = min(_child_reading(policy, jobs, budget, busy, frames_path, pairs) for _ in range(max(1, repeats)))
            quiet.setdefault(policy, seconds)
            row += [seconds, f"{seconds / quiet[policy]:.1f}x"]
        rows.append(row)
    header = ["situation", "spinning (ACTIVE) s/pair", "vs alone", "sleeping (PASSIVE) s/pair", "vs alone"]
    return (f"TV-L1 at 320x240 on the CPU beside other work ({pairs} pairs a job, each job's mean seconds per pair; "
            f"each reading a fresh process, best of {repeats}):\n"
            + format_table(header, rows))


def _child_reading(policy: str, jobs: int, budget: bool, busy: int, frames_path: str | None, pairs: int) -> float:
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    env.pop("OMP_NUM_THREADS", None)
    spec = json.dumps({"jobs": jobs, "budget": budget, "frames": frames_path, "pairs": pairs})
    with busy_processes(busy):
        done = subprocess.run([sys.executable, "-c", f"from core.bench.flow_contention import child; child({spec!r})"],
                              env=env, capture_output=True, text=True, timeout=900, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds_per_pair"])


@contextmanager
def busy_processes(count: int) -> Iterator[None]:
    """``count`` processes that each spin on a core while inside (other work on the machine), or with -1 one
    process of small torch operations on every core (:data:`TORCH_NEIGHBOUR`); all ended on exit."""
    if count < 0:
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
        spinners = [subprocess.Popen([sys.executable, "-c", TORCH_NEIGHBOUR], start_new_session=True, env=env)]
    else:
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True) for _ in range(count)]
    try:
        if spinners:
            time.sleep(2.0 if count < 0 else 0.3)  # let them start (torch loads) before anything is timed
        yield
    finally:
        for spinner in spinners:
            os.killpg(spinner.pid, signal.SIGKILL)
            spinner.wait()


def child(spec_json: str) -> None:
    """In the child process: time ``jobs`` TV-L1 jobs at once; print the mean seconds per pair as JSON."""
    import threading

    import numpy as np

    from core.flow.engine import compute_flow
    from core.thread_budget import ThreadBudget

    spec = json.loads(spec_json)
    frames = _frames(spec["frames"], spec["pairs"] + 1)
    compute_flow(frames[:2], "tvl1", device="cpu")  # warm-up
    shared = ThreadBudget()
    shared.enabled = bool(spec["budget"])
    start = threading.Barrier(spec["jobs"])
    seconds: list[float] = []

    def job() -> None:
        with shared.job():
            start.wait()
            shared.apply()
            began = time.perf_counter()
            compute_flow(frames, "tvl1", device="cpu", progress=lambda *_args: shared.apply())
            seconds.append((time.perf_counter() - began) / (len(frames) - 1))

    threads = [threading.Thread(target=job) for _ in range(spec["jobs"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"seconds_per_pair": float(np.mean(seconds))}))


def _frames(path: str | None, count: int) -> Any:
    import numpy as np

    if path:
        from core.video import open_video

        with open_video(path) as video:
            return video.read_clip(list(range(min(count, len(video)))))
    from core.flow.synthetic import smooth_texture

    texture = smooth_texture(260, 360, seed=5)
    return np.stack([texture[10:250, 10 + i: 330 + i] for i in range(count)])  # a 1-px-a-frame pan
