"""Framed files: the caches' one file layout, written atomically and read back with every damage caught.

Layout: ``magic`` (a few bytes naming the kind of file), a little-endian uint32 header length, a JSON
header (an object, UTF-8), then the payload.  The header's ``sha256`` is the payload's digest, so a
flipped bit or a cut file is found before the payload is used.  A cache entry is data gone bad as
easily as written: the header may be truncated, hand-edited or hostile, so the reader bounds its
length, rejects JSON nested past the interpreter's recursion limit and numbers that are not finite
(``Infinity``, ``1e400``: ``int()`` of them raised out of the callers), and wants an object.
Every damage is one :class:`FramedFileError`; the caches turn it into a miss.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from core.atomic import atomic_open
from core.errors import InputError

LENGTH = struct.Struct("<I")
MAX_HEADER_BYTES = 1 << 20  # the caches' headers are a few hundred bytes; a larger length is damage
DIGEST_KEY = "sha256"


class FramedFileError(InputError):
    """A framed file is damaged or of another kind (one line naming the damage, and the file when known)."""


@dataclass(frozen=True)
class Framed:
    """A framed file's parts: its header (a JSON object) and its payload (a view of the bytes read)."""

    header: dict[str, Any]
    payload: memoryview
    path: str | None = None

    def checked_payload(self, size: int) -> memoryview:
        """The payload, when it is ``size`` bytes (what the header's shape declares) and matches the header's digest."""
        if len(self.payload) != size:
            raise FramedFileError(f"the payload is {len(self.payload)} bytes, the header declares {size}", self.path)
        if str(self.header.get(DIGEST_KEY)) != payload_digest(self.payload):
            raise FramedFileError("the payload does not match its SHA-256 (damaged)", self.path)
        return self.payload


def payload_digest(payload: bytes | memoryview) -> str:
    """What the header's ``sha256`` holds."""
    return hashlib.sha256(payload).hexdigest()


def write_framed(path: str | os.PathLike[str], magic: bytes, header: Mapping[str, Any], payload: bytes | memoryview, *,
                 sort_keys: bool = False, default: Any = None) -> Path:
    """Write ``magic``, the header's length, ``header`` as JSON and ``payload`` atomically to ``path``.

    ``sort_keys`` and ``default`` are :func:`json.dumps`'s (each cache keeps the spelling its files have
    always had).  A header :func:`read_framed` would refuse (a non-finite number, over
    :data:`MAX_HEADER_BYTES`) is a ``ValueError`` here, not a file that reads back as damaged."""
    text = json.dumps(dict(header), sort_keys=sort_keys, default=default, allow_nan=False).encode("utf-8")
    if len(text) > MAX_HEADER_BYTES:
        raise ValueError(f"a framed file's header is at most {MAX_HEADER_BYTES} bytes, got {len(text)}")
    with atomic_open(path, "wb") as handle:
        handle.write(magic)
        handle.write(LENGTH.pack(len(text)))
        handle.write(text)
        handle.write(payload)
    return Path(path)


def read_framed(data: bytes, magic: bytes, *, path: str | os.PathLike[str] | None = None) -> Framed:
    """Split a framed file's bytes into its header and payload; any damage is a :class:`FramedFileError`
    (``path`` only names the file in the message)."""
    shown = None if path is None else os.fspath(path)
    start = len(magic) + LENGTH.size
    head = bytes(data[: len(magic)])
    if head != magic[: len(head)]:
        raise FramedFileError(f"not a framed file of this kind: it starts with {head!r}, expected {magic!r}", shown)
    if len(data) < start:
        raise FramedFileError(f"truncated: {len(data)} bytes, shorter than the magic and the header length", shown)
    (length,) = LENGTH.unpack_from(data, len(magic))
    if length > MAX_HEADER_BYTES:
        raise FramedFileError(f"a header length of {length} bytes is over the limit of {MAX_HEADER_BYTES}", shown)
    if length > len(data) - start:
        raise FramedFileError(f"truncated: the header length is {length} bytes, {len(data) - start} follow it", shown)
    header = _header(bytes(data[start: start + length]), shown)
    return Framed(header, memoryview(data)[start + length:], shown)


def _header(text: bytes, shown: str | None) -> dict[str, Any]:
    try:
        header = json.loads(text.decode("utf-8"), parse_constant=_not_finite, parse_float=_finite_float)
    except RecursionError:
        raise FramedFileError("the header is nested too deeply", shown) from None
    except (ValueError, UnicodeDecodeError) as err:  # ValueError: bad JSON, a non-finite number, an int of over 4300 digits
        raise FramedFileError(f"the header is not valid JSON ({' '.join(str(err).split())})", shown) from None
    if not isinstance(header, dict):
        raise FramedFileError(f"the header is a JSON {type(header).__name__}, not an object", shown)
    return header


def _not_finite(name: str) -> float:
    raise ValueError(f"a number that is not finite ({name})")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"a number that is not finite ({text[:20]})")
    return value
