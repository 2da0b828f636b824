"""Why an MP4/MOV that FFmpeg refuses cannot be read: a look at its top-level boxes.

FFmpeg answers "invalid data" both for a file that is no video at all and for
an MP4 cut short before its index (the ``moov`` box, written last by most
recorders) reached the disk.  The two need different answers for the user: the
second is a real video, truncated, which no reader can play.  ISO base media
files are a chain of boxes, each starting with a 32-bit size and a 4-byte type,
so walking the chain tells the two apart without decoding anything.
"""

from __future__ import annotations

import os
import struct

ISO_BRANDS_BOX = b"ftyp"
INDEX_BOX = b"moov"
MAX_BOXES = 4096  # a crafted chain of tiny boxes is not walked for ever


def iso_damage(path: str | os.PathLike[str]) -> str | None:
    """A one-line description of what is wrong with an ISO media file (MP4, MOV, M4V)
    whose index cannot be found, or ``None`` when it is not such a file or has its index."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as file:
            return _walk(file, size)
    except OSError:
        return None


def _walk(file, size: int) -> str | None:  # noqa: ANN001 - a binary file object
    offset, boxes, first = 0, 0, True
    while offset + 8 <= size and boxes < MAX_BOXES:
        file.seek(offset)
        head = file.read(16)
        box_size, kind = struct.unpack(">I4s", head[:8])
        if first and kind != ISO_BRANDS_BOX:
            return None  # not an ISO media file: FFmpeg's own answer stands
        first = False
        if kind == INDEX_BOX:
            return None
        if box_size == 1 and len(head) == 16:  # a 64-bit size follows the type
            box_size = struct.unpack(">Q", head[8:16])[0]
        elif box_size == 0:  # "to the end of the file": the last box
            box_size = size - offset
        if box_size < 8:
            return "is a damaged MP4/MOV file: a box with an impossible size, and no index (moov box) before it"
        if offset + box_size > size:
            kept = 100.0 * size / (offset + box_size)
            return (f"is a truncated MP4/MOV file: it stops {kept:.0f}% into its '{kind.decode('latin-1')}' box, before its "
                    "index (moov box), so no frame can be located (a recording or copy cut short)")
        offset += box_size
        boxes += 1
    if first:
        return None
    return "is an incomplete MP4/MOV file: it has no index (moov box), so no frame can be located (a recording that was not finished)"
