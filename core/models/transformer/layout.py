"""Where each token sits in the fusion sequence, for every variant.

The sequence is ``[class token(s); RGB tokens; flow tokens]``, each stream
flattened time-major (t, then row, then column) exactly as the backbones'
``(T', H', W')`` grids are laid out.  The model builds its sequence from this
and the attention maps read it back with the same object, so the two cannot
drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

RGB, FLOW = "rgb", "flow"
STREAMS = (RGB, FLOW)


@dataclass(frozen=True)
class TokenLayout:
    """Token positions for one variant.

    ``concat`` has one class token per stream (position 0 for RGB, 1 for flow)
    and a block-diagonal mask, so no attention crosses streams; the other
    variants have one class token at position 0.
    """

    variant: str
    rgb_grid: tuple[int, int, int] | None
    flow_grid: tuple[int, int, int] | None

    @classmethod
    def for_variant(cls, variant: str, grid: tuple[int, int, int]) -> "TokenLayout":
        rgb = grid if variant in ("rgb", "concat", "fusion") else None
        flow = grid if variant in ("flow", "concat", "fusion") else None
        if rgb is None and flow is None:
            raise ValueError(f"unknown variant {variant!r}")
        return cls(variant=variant, rgb_grid=rgb, flow_grid=flow)

    @property
    def num_class_tokens(self) -> int:
        return 2 if self.variant == "concat" else 1

    @property
    def streams(self) -> tuple[str, ...]:
        return tuple(s for s in STREAMS if self.grid(s) is not None)

    def grid(self, stream: str) -> tuple[int, int, int] | None:
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}: choose rgb or flow")
        return self.rgb_grid if stream == RGB else self.flow_grid

    def num_tokens(self, stream: str) -> int:
        grid = self.grid(stream)
        return 0 if grid is None else int(np.prod(grid))

    def class_index(self, stream: str) -> int:
        """The class token whose row describes ``stream`` (the only one unless ``concat``)."""
        if self.grid(stream) is None:
            raise ValueError(f"variant {self.variant!r} has no {stream} stream")
        return 1 if self.variant == "concat" and stream == FLOW else 0

    def token_slice(self, stream: str) -> slice:
        """Positions of ``stream``'s grid tokens in the sequence."""
        if self.grid(stream) is None:
            raise ValueError(f"variant {self.variant!r} has no {stream} stream")
        start = self.num_class_tokens + (self.num_tokens(RGB) if stream == FLOW else 0)
        return slice(start, start + self.num_tokens(stream))

    @property
    def length(self) -> int:
        return self.num_class_tokens + self.num_tokens(RGB) + self.num_tokens(FLOW)

    def stream_ids(self) -> np.ndarray:
        """Per position: 0 for RGB (and its class token), 1 for flow (and its class token)."""
        ids = np.zeros(self.length, dtype=np.int64)
        if self.variant == "concat":
            ids[1] = 1
        elif self.variant == "flow":
            ids[0] = 1
        if self.flow_grid is not None:
            ids[self.token_slice(FLOW)] = 1
        return ids

    def attention_mask(self, device: torch.device | None = None) -> torch.Tensor | None:
        """Boolean ``(L, L)``, True where attention is allowed; ``None`` means everywhere."""
        if self.variant != "concat":
            return None
        ids = torch.as_tensor(self.stream_ids(), device=device)
        return ids[:, None] == ids[None, :]
