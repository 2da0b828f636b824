"""The cross-stream matrix of a transformer's attention: its cells, their tokens, hover texts.

Plain numpy over :class:`core.models.transformer.explain.AttentionMaps` (no Qt),
for the attention panel's matrix and the selected token pair's boxes on the
frames.  Tokens are numbered within their stream, time-major, as the fusion
lays them out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from core.export.prediction_heat import FLOW, RGB, AttentionChoice
from core.sampling import time_slice_frames

if TYPE_CHECKING:
    from core.models.transformer.explain import AttentionMaps

GRANULARITIES = ("tokens", "time")
STREAM_NAMES = {RGB: "RGB", FLOW: "flow"}


def token_position(index: int, grid: tuple[int, int, int]) -> tuple[int, int, int]:
    """A stream's token number (time-major, as the fusion lays them out) as ``(t, row, col)``."""
    t_count, height, width = grid
    if not 0 <= index < t_count * height * width:
        raise ValueError(f"token {index} is outside a grid of {t_count}x{height}x{width} tokens")
    t, rest = divmod(int(index), height * width)
    row, col = divmod(rest, width)
    return t, row, col


def other_stream(stream: str) -> str:
    if stream not in (RGB, FLOW):
        raise ValueError(f"unknown stream {stream!r}: choose rgb or flow")
    return FLOW if stream == RGB else RGB


def cross_matrix(maps: AttentionMaps, query: str, granularity: str, choice: AttentionChoice) -> np.ndarray:
    """Attention from ``query``'s tokens (rows) to the other stream's (columns) in the chosen layer/head.

    ``tokens``: the full ``(N_query, N_key)`` block; ``time``: summarised over
    space, ``(T', T')``, each entry the share of a query slice's attention that
    goes to a key slice.
    """
    key = other_stream(query)
    if granularity == "tokens":
        return np.asarray(maps.block(query, key, layer=choice.layer, head=choice.head), dtype=np.float32)
    if granularity == "time":
        return np.asarray(maps.cross_time(query, key, layer=choice.layer, head=choice.head), dtype=np.float32)
    raise ValueError(f"unknown granularity {granularity!r}: choose one of {', '.join(GRANULARITIES)}")


def _cross_block(maps: AttentionMaps, query: str, choice: AttentionChoice) -> tuple[tuple[int, int, int], tuple[int, int, int], np.ndarray]:
    """The query and key streams' token grids and the (query tokens, key tokens) attention block of ``choice``."""
    key = other_stream(query)
    q_grid, k_grid = maps.layout.grid(query), maps.layout.grid(key)
    if q_grid is None or k_grid is None:
        raise ValueError(f"variant {maps.layout.variant!r} has no cross-stream attention")
    return q_grid, k_grid, np.asarray(maps.block(query, key, layer=choice.layer, head=choice.head), dtype=np.float32)


def cell_tokens(maps: AttentionMaps, query: str, granularity: str, row: int, col: int, choice: AttentionChoice) -> tuple[int, int, float]:
    """The query and key token numbers a matrix cell stands for, and the attention between them.

    A ``time`` cell stands for its strongest token pair: the two slices' block's maximum.
    """
    q_grid, k_grid, block = _cross_block(maps, query, choice)
    if granularity == "tokens":
        if not (0 <= row < block.shape[0] and 0 <= col < block.shape[1]):
            raise ValueError(f"cell ({row}, {col}) is outside the {block.shape[0]}x{block.shape[1]} matrix")
        return int(row), int(col), float(block[row, col])
    q_per, k_per = q_grid[1] * q_grid[2], k_grid[1] * k_grid[2]
    if not (0 <= row < q_grid[0] and 0 <= col < k_grid[0]):
        raise ValueError(f"cell ({row}, {col}) is outside the {q_grid[0]}x{k_grid[0]} time matrix")
    sub = block[row * q_per : (row + 1) * q_per, col * k_per : (col + 1) * k_per]
    i, j = np.unravel_index(int(np.argmax(sub)), sub.shape)
    return int(row * q_per + i), int(col * k_per + j), float(sub[i, j])


def pair_cell(maps: AttentionMaps, query: str, granularity: str, rgb_token: int, flow_token: int, choice: AttentionChoice) -> tuple[int, int, float]:
    """Where a selected token pair sits in the matrix of ``query``/``granularity``/``choice``, and its
    attention there: the cell a click on that matrix would have picked it from, so a pair picked under
    one layer, head or direction can be read off another."""
    q_token, k_token = (rgb_token, flow_token) if query == RGB else (flow_token, rgb_token)
    q_grid, k_grid, block = _cross_block(maps, query, choice)
    if not (0 <= q_token < block.shape[0] and 0 <= k_token < block.shape[1]):
        raise ValueError(f"token pair ({q_token}, {k_token}) is outside the {block.shape[0]}x{block.shape[1]} matrix")
    value = float(block[q_token, k_token])
    if granularity == "tokens":
        return int(q_token), int(k_token), value
    if granularity == "time":
        return int(q_token) // (q_grid[1] * q_grid[2]), int(k_token) // (k_grid[1] * k_grid[2]), value
    raise ValueError(f"unknown granularity {granularity!r}: choose one of {', '.join(GRANULARITIES)}")


def slice_frames(maps: AttentionMaps, t: int) -> tuple[int, ...]:
    """The video frames time slice ``t`` of the clip was made from."""
    if maps.frame_indices is None:
        raise ValueError("these attention maps carry no frame mapping (inference sets it)")
    return time_slice_frames(maps.frame_indices, maps.grid_shape[0])[t]


def describe_token(maps: AttentionMaps, stream: str, token: int) -> str:
    grid = maps.layout.grid(stream)
    assert grid is not None
    t, row, col = token_position(token, grid)
    frames = slice_frames(maps, t)
    return f"{STREAM_NAMES[stream]} token {token} (slice {t}: frames {frames[0]}-{frames[-1]}; row {row}, col {col})"


def describe_cell(maps: AttentionMaps, query: str, granularity: str, row: int, col: int, value: float) -> str:
    """Hover text for a matrix cell."""
    key = other_stream(query)
    if granularity == "tokens":
        return f"{describe_token(maps, query, row)}\n→ {describe_token(maps, key, col)}\nattention {value:.4f}"
    q_frames, k_frames = slice_frames(maps, row), slice_frames(maps, col)
    return (
        f"{STREAM_NAMES[query]} slice {row} (frames {q_frames[0]}-{q_frames[-1]})\n→ {STREAM_NAMES[key]} slice {col} (frames {k_frames[0]}-{k_frames[-1]})\n"
        f"share of attention {value:.4f} (click: its strongest token pair)"
    )
