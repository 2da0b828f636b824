"""Let a thread that waits for the GIL in, from loops that would otherwise starve it.

CPython hands the GIL to a waiting thread by a heuristic: the waiter sleeps
one switch interval, and asks the running thread to let go only if no switch
happened meanwhile.  A release-and-retake counts as a switch, even when the
same thread takes the GIL straight back.  A worker loop that calls numpy (or
any C code that releases the GIL) many times in quick succession therefore
keeps the GIL for as long as the loop runs: the waiter keeps seeing "switches"
and never asks.  The viewer's GUI thread is such a waiter.  Splitting 13,320
videos class by class (one seeded numpy generator per class) held it off for
20-21 ms at every switch interval tried (0.2, 1 and 5 ms), where a separate
process saw no delay: the window froze while a worker listed a dataset.

A real yield (a system call that gives up the CPU) lets the waiter run.  Loops
of that shape call :func:`let_waiting_threads_in` once per iteration; it costs
a few microseconds where no thread waits.
"""

from __future__ import annotations

import time


def let_waiting_threads_in() -> None:
    """Release the GIL through the scheduler, so a thread waiting for it takes it first."""
    time.sleep(0)
