"""Small timing helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch


def synchronize(device: torch.device | str | None = None) -> None:
    """Wait for queued CUDA work so a timer measures the work, not its launch."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], *, repeats: int = 3, warmup: int = 1, device: torch.device | str | None = None) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def format_table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain aligned text table (numbers right-aligned)."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if n and _numeric(c) else c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _numeric(text: str) -> bool:
    try:
        float(text.rstrip("x%"))
        return True
    except ValueError:
        return False


def positive_counts(text: str, option: str, what: str) -> list[int]:
    """``"16,4"`` -> ``[16, 4]``: a benchmark option's comma-separated counts, each at least 1 (``InputError`` otherwise)."""
    from core.errors import InputError

    try:
        counts = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        raise InputError(f"{option} must be comma-separated {what}, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise InputError(f"{option} must be {what} of at least 1, got {text!r}")
    return counts


def flow_methods(text: str, option: str) -> list[str]:
    """``"dis,TV-L1"`` -> ``["dis", "tvl1"]``: a benchmark option's comma-separated flow methods, named as
    :data:`core.flow.engine.METHODS` spells them; an unknown, missing or repeated name is an ``InputError``
    naming ``option`` (checked before any model is built, so a typo never costs a run)."""
    from core.errors import InputError
    from core.flow.engine import METHODS, normalize_method

    names = [n for n in text.split(",") if n.strip()]
    if not names:
        raise InputError(f"{option} names no flow method, got {text!r}: choose from {', '.join(METHODS)}")
    methods = []
    for name in names:
        try:
            method = normalize_method(name)
        except InputError as error:
            raise InputError(f"{option}: {error}") from None
        if method in methods:
            raise InputError(f"{option} names {method} twice, got {text!r}")
        methods.append(method)
    return methods


def target_verdict(met: bool, flow: str, target_flow: str | None) -> str:
    """A target's verdict: ``met`` or ``NOT met``; ``not judged`` when the row ran another flow method than the
    one the target names (RAFT-large that fell back to DIS, another ``--cuda-flow``): its figure says nothing of it."""
    from core.errors import FlowError
    from core.flow.engine import normalize_method

    if target_flow is not None:
        try:
            ran = normalize_method(flow)
        except FlowError:  # "dis (fell back from raft-large)" names no one method
            ran = flow
        if ran != target_flow:
            return f"not judged (flow {flow}, the target's is {target_flow})"
    return "met" if met else "NOT met"
