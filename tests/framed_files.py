"""Damage for the caches' framed files (``MAGIC``, a uint32 header length, a JSON header, the payload)."""

from __future__ import annotations

import json
import struct
from pathlib import Path


def replace_header(path: Path, magic: bytes, header: dict | bytes) -> None:
    """Write ``path`` again with its header changed: a dict's keys merged into the JSON header, bytes in its place
    (the payload and its checksum untouched, as a header gone bad or written by hand leaves them)."""
    data = path.read_bytes()
    (length,) = struct.unpack_from("<I", data, len(magic))
    start = len(magic) + 4
    if isinstance(header, dict):
        header = json.dumps({**json.loads(data[start:start + length]), **header}).encode()
    path.write_bytes(magic + struct.pack("<I", len(header)) + header + data[start + length:])
