"""Flow of frame pairs computed once for one inference call and shared by the windows that need them.

Overlapping windows need the same pairs (frame i to i + stride on the cropped
frames); each is computed once.  Missing pairs are linked into chains (i -> i+s
-> i+2s ...) and each chain goes to the engine in one call, so a run of
back-to-back windows at stride 1 is a single call with every pair batched.
Chains are never joined by a pair nobody needs: that would be extra work.

With a fixed colour scale a pair's colour image depends on its own field only,
so it is rendered once too (:meth:`PairFlow.images`); a per-clip scale is
rendered per window from the shared fields.

Only methods whose pair is computed from its two frames alone share pairs
(:func:`shares_pairs`): OpenCV's DIS and Farneback solve one pair at a time,
and so does RAFT off CUDA (one frame encoded, one pair updated at a time, no
warm starts here).  TV-L1's windows keep one engine call each, on exactly
the frames they had before: its batches used to iterate until their slowest
pair settled, so a pair's flow depended on its batch.  Each pair now stops on
its own test (:mod:`core.flow.tvl1_image`), so sharing its pairs is open to a
later change.  On CUDA RAFT batches pairs,
whose kernels may round differently by batch size: the device path shares its
pairs all the same (:func:`pairs_are_independent`), as it already batches the
windows of a chunk together.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from core.inference.flow_backend import FlowBackend

PAIRWISE_METHODS = ("dis", "farneback")
Pair = tuple[int, int]


def _normalized(method: str) -> str | None:
    from core.errors import FlowError
    from core.flow.engine import normalize_method

    try:
        return normalize_method(method)
    except FlowError:
        return None


def shares_pairs(method: str, device: Any = "cpu") -> bool:
    """Whether ``method``'s flow of a pair on ``device`` is the same, bit for bit, computed alone or among other pairs."""
    from core.flow.engine import RAFT_METHODS

    name = _normalized(method)
    on_cuda = str(device).startswith("cuda")
    return name in PAIRWISE_METHODS or (name in RAFT_METHODS and not on_cuda)


def pairs_are_independent(method: str) -> bool:
    """Whether ``method`` computes a pair from its two frames alone (up to the rounding of batched kernels on a GPU)."""
    from core.flow.engine import RAFT_METHODS

    return _normalized(method) in (*PAIRWISE_METHODS, *RAFT_METHODS)


def chains(pairs: Sequence[Pair]) -> list[list[int]]:
    """Frame sequences whose consecutive pairs are exactly ``pairs`` (each once), fewest sequences for
    forward pairs: a pair starts a chain unless an earlier chain ends on its first frame."""
    out: list[list[int]] = []
    ends: dict[int, int] = {}  # last frame -> chain number
    for a, b in sorted(set(pairs)):
        n = ends.pop(a, None)
        if n is None:
            n = len(out)
            out.append([a])
        out[n].append(b)
        ends[b] = n
    return out


class PairFlow:
    """Forward flow of frame pairs, each computed once while remembered.

    ``frames(indices)`` gives the prepared (cropped) frames to compute on.
    ``computed`` counts pairs sent to the engine; ``method_used``, ``fell_back``
    and ``note`` are the engine's word on the last call.
    """

    def __init__(self, backend: FlowBackend, method: str, frames: Callable[[list[int]], np.ndarray], *, device: Any,
                 cancel: Any = None) -> None:
        self.backend, self.method, self.frames = backend, method, frames
        self.device, self.cancel = device, cancel
        self.computed = 0
        self.milliseconds = 0.0
        self.method_used: str | None = None
        self.fell_back = False
        self.note = ""
        self._fields: dict[Pair, np.ndarray] = {}
        self._images: dict[Pair, np.ndarray] = {}

    def ensure(self, pairs: Sequence[Pair]) -> None:
        """Compute the pairs not remembered yet, one engine call per chain."""
        missing = [p for p in set(pairs) if p not in self._fields]
        for chain in chains(missing):
            frames = self.frames(chain)
            began = time.perf_counter()
            result = self.backend.compute(frames, self.method, device=self.device, cancel=self.cancel, progress=None)
            vectors = np.asarray(result.forward, dtype=np.float32)
            self.milliseconds += (time.perf_counter() - began) * 1000.0
            expected = (len(chain) - 1, 2, *frames.shape[1:3])
            if vectors.shape != expected:
                raise ValueError(f"flow engine returned shape {vectors.shape}, expected {expected}")
            for k in range(len(chain) - 1):
                self._fields[(chain[k], chain[k + 1])] = vectors[k]
            self.computed += len(chain) - 1
            self.method_used = str(result.method_used)
            self.fell_back = bool(result.fell_back)
            self.note = str(getattr(result, "note", "") or "")

    def vectors(self, pairs: Sequence[Pair]) -> np.ndarray:
        """``(len(pairs), 2, H, W)`` float32, computing what is missing."""
        self.ensure(pairs)
        return np.stack([self._fields[p] for p in pairs])

    def images(self, pairs: Sequence[Pair], render: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Colour images of ``pairs``, the missing ones rendered in one ``render((P, 2, H, W))`` call.

        Only for a ``render`` whose image of a pair depends on that pair's field alone (a fixed scale).
        """
        missing = [p for p in dict.fromkeys(pairs) if p not in self._images]
        if missing:
            began = time.perf_counter()
            rendered = render(self.vectors(missing))
            self.milliseconds += (time.perf_counter() - began) * 1000.0
            self._images.update(zip(missing, rendered))
        return np.stack([self._images[p] for p in pairs])

    def forget_before(self, index: int) -> None:
        """Drop pairs starting before ``index``: no window still to come needs them."""
        for memo in (self._fields, self._images):
            for pair in [p for p in memo if p[0] < index]:
                del memo[pair]
