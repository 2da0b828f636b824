"""Middlebury ``.flo`` files: the interchange format of every flow benchmark.

Layout (little-endian): the float ``202021.25`` (bytes ``PIEH``), int32 width,
int32 height, then ``height * width * 2`` float32 values, row-major, (u, v)
interleaved.  Values above 1e9 mean "unknown" in ground truth.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from core.atomic import atomic_open
from core.errors import FlowError

FLO_MAGIC = b"PIEH"
FLO_HEADER_BYTES = 12
MAX_FLO_SIDE = 1 << 15  # 32768 px: larger than any real frame; stops absurd headers early


def read_flo(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a ``.flo`` file as a ``(2, H, W)`` float32 array (channel 0 = x).

    Raises :class:`FlowError` naming the file for a bad magic number, an absurd
    size or a file shorter (or longer) than its header says.
    """
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise FlowError("file does not exist", file) from None
    except IsADirectoryError:
        raise FlowError("is a directory, expected a .flo file", file) from None
    except OSError as err:
        raise FlowError(f"cannot read ({err.strerror or err})", file) from None
    if len(data) < FLO_HEADER_BYTES:
        raise FlowError(f"truncated .flo file: {len(data)} bytes, the header alone is {FLO_HEADER_BYTES}", file)
    if data[:4] != FLO_MAGIC:
        raise FlowError(f"not a Middlebury .flo file: magic bytes {data[:4]!r}, expected {FLO_MAGIC!r}", file)
    width, height = (int(x) for x in np.frombuffer(data, dtype="<i4", count=2, offset=4))
    if not (0 < width <= MAX_FLO_SIDE and 0 < height <= MAX_FLO_SIDE):
        raise FlowError(f"absurd flow size {width}x{height} in the header (each side must be 1..{MAX_FLO_SIDE})", file)
    expected = FLO_HEADER_BYTES + width * height * 2 * 4
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "has trailing bytes"
        raise FlowError(f"{state}: {len(data)} bytes, a {width}x{height} flow needs {expected}", file)
    values = np.frombuffer(data, dtype="<f4", offset=FLO_HEADER_BYTES).reshape(height, width, 2)
    return np.ascontiguousarray(values.transpose(2, 0, 1), dtype=np.float32)


def write_flo(path: str | os.PathLike[str], flow: np.ndarray) -> None:
    """Write a ``(2, H, W)`` flow as a ``.flo`` file, atomically."""
    array = np.asarray(flow)
    if array.ndim != 3 or array.shape[0] != 2 or array.shape[1] < 1 or array.shape[2] < 1:
        raise FlowError(f"write_flo expects a (2, H, W) flow, got shape {array.shape}", path)
    _, height, width = array.shape
    if height > MAX_FLO_SIDE or width > MAX_FLO_SIDE:
        raise FlowError(f"flow of {width}x{height} is larger than a .flo file may hold ({MAX_FLO_SIDE} a side)", path)
    header = FLO_MAGIC + np.array([width, height], dtype="<i4").tobytes()
    body = np.ascontiguousarray(array.transpose(1, 2, 0), dtype="<f4").tobytes()
    with atomic_open(path, "wb") as handle:
        handle.write(header)
        handle.write(body)
