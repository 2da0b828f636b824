"""Running under ``torchrun``: process group, device per rank, and the few collectives training needs.

``torchrun --nproc_per_node N main.py train ...`` (or several nodes) sets
``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; then each process joins one group
(NCCL on CUDA, gloo on a CPU), extracts token grids for its shard of the
videos, and trains one DistributedDataParallel replica; rank 0 alone writes
checkpoints, the training state and log lines.  Without those variables (or
with a world of one) everything here is a no-op, so the same code runs alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

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
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


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
    owns = False
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
        owns = True
    return DistributedContext(rank=rank, world_size=world, local_rank=local_rank, device=chosen, backend=backend, owns_group=owns)
