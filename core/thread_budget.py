"""Share the CPU cores between torch jobs that run at the same time, and make idle torch threads sleep.

Why: torch runs each operation on a team of OpenMP threads, one team per
calling thread, ``torch.get_num_threads()`` strong, and by default an idle team
member spins for a while before it sleeps.  TV-L1 is thousands of small
operations, each ending at a barrier where the team waits for its slowest
member.  Two jobs of the viewer at once (the current frame's flow and the
whole-video scan), or another process on the same cores, leave a team member
descheduled at every barrier while the others spin on it: on 2 cores TV-L1
went from 0.12 s a pair alone to 0.5-6.5 s a pair beside other work.

Two remedies, both here:

* :func:`sleep_idle_openmp_threads` asks OpenMP to let waiting threads sleep
  (``OMP_WAIT_POLICY=PASSIVE``); OpenMP reads it once, when torch is imported,
  so it must run before that and never overrides a user's own setting.
* :class:`ThreadBudget` gives each running job ``cores // jobs`` torch threads
  (at least one): alone a job uses every core; two jobs on two cores get one
  thread each, so no team ever waits on a descheduled member of its own.  A job
  enters with :meth:`ThreadBudget.job` and calls :meth:`ThreadBudget.apply` at
  chunk boundaries to follow jobs that start or end meanwhile.  torch's thread
  count is per calling thread, so one job's setting never changes another's.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import Iterator


def sleep_idle_openmp_threads() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user chose a policy; True when it can still take effect
    (torch not imported yet) and the policy in force is passive."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return "torch" not in sys.modules and os.environ["OMP_WAIT_POLICY"].upper() == "PASSIVE"


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), not the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class ThreadBudget:
    """The cores, shared evenly among the jobs running now (see the module's docstring)."""

    def __init__(self, cores: int | None = None) -> None:
        self.cores = available_cores() if cores is None else max(1, int(cores))
        self.enabled = True
        self._active = 0
        self._lock = threading.Lock()

    @property
    def active(self) -> int:
        return self._active

    def share(self) -> int:
        """Torch threads for one job now: every core when disabled or alone, else an even share, at least one."""
        with self._lock:
            jobs = max(1, self._active)
        return self.cores if not self.enabled else max(1, self.cores // jobs)

    @contextmanager
    def job(self) -> Iterator["ThreadBudget"]:
        """Count the calling thread's job as running while inside; its torch threads follow the share."""
        with self._lock:
            self._active += 1
        try:
            self.apply()
            yield self
        finally:
            with self._lock:
                self._active -= 1

    def apply(self) -> int:
        """Set the calling thread's torch threads to the current share (cheap when unchanged); returns it.

        Does nothing before torch is imported: a job that never uses torch never loads it.
        """
        threads = self.share()
        torch = sys.modules.get("torch")
        if torch is not None and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        return threads


WORKER_BUDGET = ThreadBudget()
"""The viewer's worker threads share this one (viewer.jobs)."""
