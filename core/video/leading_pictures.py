"""Which pictures right after a file's first keyframe its decoder drops, when the packets cannot say.

An open GOP's keyframe (an H.264 I-frame with a recovery point, an HEVC CRA) is followed
in the file by B-frames shown before it, which refer to the GOP before.  A file cut there
(``ffmpeg -ss ... -c copy``) has lost that GOP, and FFmpeg's decoder drops those B-frames.
In MP4 or MKV their timestamps show they come before the keyframe; in AVI, whose
timestamps only number the packets, nothing but a decode tells which ones go.  So when a
counted stream with B-frames starts on a keyframe that is no clean start (no IDR), the
first packets after it are decoded once, on their own decoder, and the ones that yield no
picture are not frames.  A clean start (what whole recordings begin with) costs nothing.
"""

from __future__ import annotations

from typing import Sequence

import av

from core.video.base import local_file

# Leading pictures come right after their keyframe; H.264 and HEVC allow at most 16 B-frames in a row.
LEADING_WINDOW = 24
_H264_IDR = 5
_HEVC_IDR = frozenset({19, 20})  # IDR_W_RADL, IDR_N_LP: their leading pictures decode (RADL) or do not exist
PROBED_CODECS = frozenset({"h264", "hevc"})


def nal_unit_types(data: bytes, codec: str) -> list[int]:
    """The NAL unit types of an Annex B packet (start-code delimited, as AVI and MPEG-TS hold H.264 and HEVC);
    empty when the packet has no start code (length-prefixed, as MP4 holds them)."""
    types = []
    at = data.find(b"\x00\x00\x01")
    while at >= 0 and at + 3 < len(data):
        header = data[at + 3]
        types.append(header & 0x1F if codec == "h264" else (header >> 1) & 0x3F)
        at = data.find(b"\x00\x00\x01", at + 3)
    return types


def starts_cleanly(key_data: bytes, codec: str) -> bool:
    """Whether a keyframe packet is an IDR picture, after which nothing refers to earlier pictures.
    ``False`` when it is not or cannot be told (then the pictures after it are probed)."""
    types = nal_unit_types(key_data, codec)
    if codec == "h264":
        return _H264_IDR in types
    return bool(_HEVC_IDR.intersection(types))


def undecodable_after_key(path: str, stream_index: int, key_number: int, pts_of_packets: Sequence[int]) -> set[int]:
    """The numbers (among the stream's packets that hold data) of the packets within ``LEADING_WINDOW`` after the
    keyframe numbered ``key_number`` whose pictures the decoder never presents, decoding from that keyframe.

    ``pts_of_packets``: each packet's timestamp, unique (they name the pictures the decoder presents)."""
    last = min(len(pts_of_packets), key_number + 1 + LEADING_WINDOW)
    presented: set[int] = set()
    try:
        with av.open(local_file(path), mode="r", metadata_errors="ignore") as container:
            stream = container.streams[stream_index]
            stream.thread_type = "NONE"  # a plain decoder: it presents or drops each picture as the reader's will
            number = -1
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                number += 1
                if number < key_number:
                    continue
                if number >= last:
                    break
                presented.update(frame.pts for frame in stream.codec_context.decode(packet))
            presented.update(frame.pts for frame in stream.codec_context.decode(None))  # the pictures held back
    except (av.error.FFmpegError, OSError):
        return set()  # a damaged start: the reader's own decode reports it where it is
    return {n for n in range(key_number + 1, last) if pts_of_packets[n] not in presented}
