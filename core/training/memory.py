"""A training run's peak memory, read from the OS (and CUDA's allocator), so every trainer reports it alike.

The resident peak is the process's (``getrusage``'s ``ru_maxrss``), not a sum of tensor sizes:
it includes the allocator's slack and everything else the run held at once, which is what
decides whether a machine runs out.  A run starts the peaks afresh (:func:`reset_peaks`), so a
second run in the same process (``--splits``, the ablation's variants) reports its own peak, not
the first one's; where the system cannot reset the resident peak (not Linux), it is the
process's peak so far.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

GB = 1e9


@dataclass(frozen=True)
class PeakMemory:
    """``resident_bytes``: the process's peak resident set (``None`` where the OS does not say);
    ``cuda_bytes``: the most CUDA memory torch held for tensors on any one device (``None`` when CUDA was not used)."""

    resident_bytes: int | None
    cuda_bytes: int | None = None

    def describe(self) -> str:
        """One line for the end of a run, e.g. ``peak memory: 5.1 GB resident, 2.3 GB CUDA``."""
        parts = [f"{self.resident_bytes / GB:.1f} GB resident" if self.resident_bytes is not None else "resident unknown"]
        if self.cuda_bytes is not None:
            parts.append(f"{self.cuda_bytes / GB:.1f} GB CUDA")
        return "peak memory: " + ", ".join(parts)


def reset_peaks() -> None:
    """Start the peaks afresh, so that :func:`peak_memory` gives what comes after: Linux's resident high-water mark
    (``/proc/self/clear_refs``; ``ru_maxrss`` follows it) and the CUDA allocator's peaks of every device."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")  # 5: reset the peak resident set size to the current one (Linux 4.0 and later)
    except OSError:  # not Linux, or not allowed: the peak stays the process's
        pass
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        for index in range(torch.cuda.device_count()):
            torch.cuda.reset_peak_memory_stats(index)


def peak_memory() -> PeakMemory:
    """The process's peak memory up to now."""
    return PeakMemory(resident_bytes=_peak_resident_bytes(), cuda_bytes=_peak_cuda_bytes())


def _peak_resident_bytes() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # bytes on macOS, KiB on Linux


def _peak_cuda_bytes() -> int | None:
    torch = sys.modules.get("torch")  # a run that never imported torch used no CUDA
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    # every device's, not the current one's: --device cuda:1 trains on device 1 while the current device stays 0
    # (the allocator's statistics are read without a context being made on a device the run never used)
    return max(int(torch.cuda.max_memory_allocated(index)) for index in range(torch.cuda.device_count()))
