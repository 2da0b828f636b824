"""Windows over one video on the device path: each frame uploaded once, each flow pair computed once.

Overlapping windows (a timeline at a step below the clip's span, or the test
protocol's clips on a short video) share frames and flow pairs.  Here the
prepared frames of the windows in flight stay on the device, and a chunk's
missing pairs go to the engine in one call, linked into chains (i -> i+s ->
i+2s ...: :func:`core.inference.pair_flow.chains`) so that RAFT encodes each
frame once; each window's flow is then its pairs' fields stacked.  Only for
methods that compute a pair from its two frames alone
(:func:`core.inference.pair_flow.pairs_are_independent`); on a GPU a pair's
flow then differs from its window's own call by the rounding of kernels run on
another batch size, as when a chunk's windows are computed together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

from core.inference.flow_backend import FlowBackend
from core.inference.pair_flow import Pair, chains


@dataclass(frozen=True)
class WindowFlow:
    """One window's flow as the engine's result reads: ``forward`` (T, 2, H, W) on the device, and what ran."""

    forward: torch.Tensor
    method_used: str
    fell_back: bool
    note: str


class ResidentFrames:
    """Prepared frames kept on ``device`` and the flow of their pairs, each made once while remembered.

    ``read(indices)`` gives the prepared (cropped) uint8 frames ``(N, H, W, 3)``
    on the host.  ``uploaded`` counts frames copied to the device and
    ``computed`` pairs sent to the engine.
    """

    def __init__(self, read: Callable[[list[int]], np.ndarray], device: torch.device) -> None:
        self.read, self.device = read, device
        self.uploaded = 0
        self.computed = 0
        self._frames: dict[int, torch.Tensor] = {}
        self._fields: dict[Pair, torch.Tensor] = {}
        self._ran: dict[Pair, tuple[str, bool, str]] = {}  # what computed each pair: method used, fell back, note

    def clip(self, indices: Sequence[int]) -> torch.Tensor:
        """``(len(indices), H, W, 3)`` uint8 on the device, uploading the frames not there yet in one copy."""
        missing = list(dict.fromkeys(int(i) for i in indices if int(i) not in self._frames))
        if missing:
            block = torch.from_numpy(np.ascontiguousarray(self.read(missing))).to(self.device)
            self._frames.update(zip(missing, block.unbind(0)))
            self.uploaded += len(missing)
        return torch.stack([self._frames[int(i)] for i in indices])

    def window_flows(self, backend: FlowBackend, reads: Iterable[Sequence[int]], method: str, cancel: Any = None) -> list[WindowFlow]:
        """The flow of each window's consecutive frames; the pairs not remembered are computed in one engine call."""
        reads = [tuple(int(i) for i in read) for read in reads]
        wanted = [pair for read in reads for pair in zip(read[:-1], read[1:])]
        missing = [pair for pair in dict.fromkeys(wanted) if pair not in self._fields]
        if missing:
            links = chains(missing)
            results = backend.flow_of_tensor_clips([self.clip(link) for link in links], method, device=self.device, cancel=cancel,
                                                   progress=None)
            for link, result in zip(links, results):
                forward = torch.as_tensor(result.forward)
                expected = (len(link) - 1, 2)
                if tuple(forward.shape[:2]) != expected:
                    raise ValueError(f"flow engine returned shape {tuple(forward.shape)} for {len(link)} frames")
                pairs = list(zip(link[:-1], link[1:]))
                self._fields.update(zip(pairs, forward.unbind(0)))
                ran = (str(result.method_used), bool(result.fell_back), str(getattr(result, "note", "") or ""))
                self._ran.update((pair, ran) for pair in pairs)
            self.computed += len(missing)
        return [self._window(read) for read in reads]

    def _window(self, read: tuple[int, ...]) -> WindowFlow:
        """A window's flow, and what computed its pairs (a fallback in any of them is the window's)."""
        pairs = list(zip(read[:-1], read[1:]))
        ran = [self._ran[p] for p in pairs]
        notes = "; ".join(dict.fromkeys(note for _, _, note in ran if note))
        return WindowFlow(torch.stack([self._fields[p] for p in pairs]), ran[0][0], any(fell for _, fell, _ in ran), notes)

    def forget_before(self, index: int) -> None:
        """Drop frames and pairs starting before ``index``: no window still to come needs them."""
        for frame in [i for i in self._frames if i < index]:
            del self._frames[frame]
        for pair in [p for p in self._fields if p[0] < index]:
            del self._fields[pair]
            del self._ran[pair]
