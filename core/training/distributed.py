"""Running under ``torchrun``: process group, device per rank, and the few collectives training needs.

``torchrun --nproc_per_node N main.py train ...`` (or several nodes) sets
``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; then each process joins one group
(NCCL on CUDA, gloo on a CPU), extracts token grids for its shard of the
videos, and trains one DistributedDataParallel replica; rank 0 alone writes
checkpoints, the training state and log lines.  Without those variables (or
with a world of one) everything here is a no-op, so the same code runs alone.

A rank that is alive but stuck (stopped with SIGSTOP, hung in a driver, swapping)
would leave the others blocked in their next collective for gloo's 30 minutes,
with no message.  So every rank runs a :class:`PeerWatchdog`: it bumps a counter
of its own in the run's key-value store every few seconds and watches the
others'; a peer whose counter has not moved for ``TWOSTREAM_PEER_TIMEOUT_S``
seconds (default 60) is named in one line on stderr, and the process exits, so
torchrun ends the run within a bounded time.  A busy rank (a long extraction)
keeps bumping its counter from its own thread, so only a silent one is blamed.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.distributed as dist

from core.errors import InputError


@dataclass
class DistributedContext:
    """This process's place in the run.  ``owns_group``: this context started the
    process group and must end it (:meth:`close`)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str | None = None
    owns_group: bool = False
    watchdog: "PeerWatchdog | None" = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over all ranks (float64, on the group's device)."""
        if not self.active:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return [float(v) for v in tensor.cpu()]

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (any picklable object of our own making), in rank order."""
        if not self.active:
            return [value]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, value)
        return out

    def close(self) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()
            self.watchdog = None
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


PEER_TIMEOUT_ENV = "TWOSTREAM_PEER_TIMEOUT_S"
DEFAULT_PEER_TIMEOUT_S = 60.0
BEAT_INTERVAL_S = 2.0
STALLED_EXIT_CODE = 1


class PeerWatchdog:
    """Each rank's sign of life in the run's store, and its watch over the others'.

    ``store`` is any object with ``set(key, value)``, ``get(key)`` and
    ``check(keys)`` (a :class:`torch.distributed.TCPStore`); ``on_stall(rank,
    seconds)`` runs when a peer has been silent too long (default: one line on
    stderr and exit).  Progress is a counter, not a time stamp, so the ranks'
    clocks never need to agree.
    """

    def __init__(self, store: Any, rank: int, world_size: int, *, timeout_s: float, interval_s: float = BEAT_INTERVAL_S,
                 on_stall: Callable[[int, float], None] | None = None) -> None:
        self.store, self.rank, self.world_size = store, rank, world_size
        self.timeout_s, self.interval_s = timeout_s, interval_s
        self.on_stall = on_stall or _stop_the_run
        self._beats = 0
        self._seen: dict[int, tuple[bytes | None, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"peer-watchdog-{rank}", daemon=True)

    @staticmethod
    def key(rank: int) -> str:
        return f"twostream/alive/{rank}"

    def start(self) -> "PeerWatchdog":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2 * self.interval_s + 1)

    def check_once(self, now: float) -> int | None:
        """Bump this rank's counter and look at the others': the first silent one, if any."""
        self._beats += 1
        self.store.set(self.key(self.rank), str(self._beats))
        for peer in range(self.world_size):
            if peer == self.rank:
                continue
            value = self.store.get(self.key(peer)) if self.store.check([self.key(peer)]) else None
            last_value, since = self._seen.get(peer, (None, now))
            if value != last_value or peer not in self._seen:
                self._seen[peer] = (value, now)
            elif now - since > self.timeout_s:
                return peer
        return None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                silent = self.check_once(time.monotonic())
            except Exception:  # noqa: BLE001 - the store is gone: rank 0, which serves it, stopped
                silent = 0
                if self._stop.is_set():
                    return
            if silent is not None:
                self.on_stall(silent, self.timeout_s)
                return


def _stop_the_run(peer: int, seconds: float) -> None:
    """One line on stderr, then exit at once: this process is blocked (or about to be) in a
    collective that will never complete, so no cleanup would run anyway."""
    sys.stderr.write(f"error: rank {peer} stopped answering: no sign of life for {seconds:.0f} s (stuck or stopped); "
                     "ending the run (the same command resumes from the last finished epoch)\n")
    sys.stderr.flush()
    os._exit(STALLED_EXIT_CODE)


def _peer_timeout() -> float:
    text = os.environ.get(PEER_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_PEER_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"environment variable {PEER_TIMEOUT_ENV}={text!r} is not a number of seconds") from None
    if not 1.0 <= value <= 86400.0:
        raise InputError(f"{PEER_TIMEOUT_ENV} must be from 1 to 86400 seconds, got {value:g}")
    return value


def _watch_peers(rank: int, world: int) -> PeerWatchdog | None:
    """A watchdog on a client of the store torchrun's rendezvous serves (MASTER_ADDR:MASTER_PORT)."""
    host, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
    if not host or not port:
        return None
    from datetime import timedelta

    store = dist.TCPStore(host, int(port), world, is_master=False, timeout=timedelta(seconds=30))
    return PeerWatchdog(store, rank, world, timeout_s=_peer_timeout()).start()


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise InputError(f"environment variable {name}={text!r} is not an integer (set by torchrun)") from None


def init_distributed(device: str = "auto") -> DistributedContext:
    """Join the ``torchrun`` process group when there is one; else a single-process context.

    ``device``: the user's choice (auto, cpu, cuda).  Under torchrun with CUDA,
    rank r uses ``cuda:LOCAL_RANK`` and NCCL; on a CPU, gloo.
    """
    from core.device import resolve_device

    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if world <= 1:
        return DistributedContext(device=resolve_device(device))
    if not 0 <= rank < world:
        raise InputError(f"RANK={rank} is outside WORLD_SIZE={world}")
    chosen = resolve_device(device)
    if chosen.type == "cuda":
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
        backend = "nccl"
    else:
        backend = "gloo"
    timeout = _peer_timeout()
    owns = False
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
        owns = True
    context = DistributedContext(rank=rank, world_size=world, local_rank=local_rank, device=chosen, backend=backend, owns_group=owns)
    context.watchdog = _watch_peers(rank, world) if timeout else None
    return context
