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
        self._ran: tuple[str, bool, str] | None = None

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
                self._fields.update(zip(zip(link[:-1], link[1:]), forward.unbind(0)))
            self.computed += len(missing)
            last = results[-1]
            self._ran = (str(last.method_used), bool(last.fell_back), str(getattr(last, "note", "") or ""))
        method_used, fell_back, note = self._ran or (method, False, "")
        return [WindowFlow(torch.stack([self._fields[p] for p in zip(read[:-1], read[1:])]), method_used, fell_back, note)
                for read in reads]

    def forget_before(self, index: int) -> None:
        """Drop frames and pairs starting before ``index``: no window still to come needs them."""
        for frame in [i for i in self._frames if i < index]:
            del self._frames[frame]
        for pair in [p for p in self._fields if p[0] < index]:
            del self._fields[pair]
