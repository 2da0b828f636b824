"""Exact frame access to video files through FFmpeg (PyAV).

OpenCV's ``CAP_PROP_POS_FRAMES`` seeks approximately for many codecs, so we
index the stream ourselves: on open, every packet's timestamps are read
(demuxing only, no decoding; fast), and frame ``i`` is defined as the ``i``-th
frame in presentation order.  Two ways to reach it:

* timestamp mode (MP4, MOV, MKV, WebM, ...): the container's presentation
  timestamps are authoritative; seek to the keyframe before frame ``i`` and
  decode until the frame whose timestamp is the ``i``-th smallest.
* counting mode (AVI, or streams with missing or duplicate timestamps): AVI
  carries no presentation timestamps (FFmpeg guesses them, and the guesses are
  shuffled for packed B-frames as in UCF101), so frames are counted as they
  leave the decoder.  Without frame reordering every keyframe is a safe
  restart point.  With it (B-frames), a keyframe's packet number is not its
  picture's place: an open GOP's pictures shown before the keyframe follow it
  in the file, and a decoder started there drops them.  When the packets'
  timestamps name pictures one to one (H.264 in AVI, as NTU RGB+D), a
  keyframe becomes a restart point once its picture has been counted on a
  pass from the start, and a restart there counts from that picture.
  Otherwise decoding restarts from the stream's start for backward jumps
  (exact, slower, only for long AVIs with B-frames).

Forward reads continue the running decoder instead of seeking, so a clip or
playback costs one pass.

Opening a long MP4/MOV does not read the file: its sample table (FFmpeg's
index entries) gives the frame count, and when decode times are evenly spaced
(constant frame rate) frame ``i`` is at ``pts0 + i * step``.  Every decoded
frame is checked against that grid; one that is off it (an unusual file)
switches the reader to the full packet index.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

import av
import numpy as np
from av.sidedata.sidedata import Type as SideDataType
from av.video.reformatter import VideoReformatter

from core.errors import VideoError, is_transient
from core.video.base import MAX_PIXELS, Video, VideoInfo, check_resolution, local_file, to_rgb
from core.video.deinterlace import deinterlaced, woven_stream
from core.video.frame_cache import DEFAULT_CACHE_BYTES
from core.video.leading_pictures import PROBED_CODECS, starts_cleanly, undecodable_after_key
from core.video.mp4_boxes import iso_damage
from core.video.orientation import UPRIGHT, OddOrientation, Orientation, from_display_matrix
from core.video.picture import StreamLook, alpha_decoder, frame_to_rgb, stream_look

# Reading forward up to this many frames beats a seek (which restarts at a keyframe).
FORWARD_DECODE_LIMIT = 48
# Frames just before the target are cached too: scrubbing backwards is common.
CACHE_BEHIND = 4
# Containers whose timestamps FFmpeg guesses (AVI): frames are counted as they leave the decoder.
COUNTING_FORMATS = frozenset({"avi"})
# MPEG program and transport streams: FFmpeg seeks them by decode time, landing past the keyframe, and a packet's
# timestamps after a seek differ from the first pass: frames are counted from the file's start, reopened.
FROM_START_FORMATS = frozenset({"mpegts", "mpeg", "mpegvideo"})
# The same for these codecs in these containers: after a seek ASF gives H.264 and HEVC packets no timestamps
# (its own WMV and VC-1 seek exactly).
FROM_START_CODECS = {"asf": frozenset({"h264", "hevc"})}


@dataclass(frozen=True)
class _StreamIndex:
    """The per-frame table built from packets when the file is opened."""

    pts_sorted: np.ndarray  # presentation timestamps in stream ticks (timestamp mode)
    keyframe_indices: np.ndarray  # presentation index of each safe restart point
    keyframe_seek_ts: np.ndarray  # the timestamp to seek to for that restart point
    counting: bool  # counting mode (see module docstring)
    reordered: bool  # decode order differs from presentation order
    grid: bool = False  # timestamps inferred from a constant-rate sample table, not read
    reopen: bool = False  # the stream's start is reached by opening the file again, not by a seek
    starts_at_key: bool = False  # packets before the first keyframe are left out (a cut mid-GOP: no picture)
    first_key_pts: int | None = None  # when they are: that keyframe's timestamp; packets after it shown before it go too
    # counting mode with B-frames: (packet pts, seek timestamp) of keyframes whose pictures' places are not known yet
    unplaced_keys: tuple[tuple[int, int], ...] = ()
    # counting mode: the packet pts of each restart point's picture (-1: the stream's start, counted from its first frame)
    keyframe_pts: tuple[int, ...] = ()
    keyless: bool = False  # no packet is a keyframe (a file cut after its last one): nothing may decode

    def placed(self, pts: int, position: int) -> "_StreamIndex":
        """The index with the keyframe whose picture has timestamp ``pts`` known to be shown at ``position``."""
        seek_ts = dict(self.unplaced_keys)[pts]
        at = int(np.searchsorted(self.keyframe_indices, position))
        pts_of = list(self.keyframe_pts)  # placement mode starts it at (-1,): the stream's start
        return dataclasses.replace(
            self,
            keyframe_indices=np.insert(self.keyframe_indices, at, position),
            keyframe_seek_ts=np.insert(self.keyframe_seek_ts, at, seek_ts),
            keyframe_pts=tuple(pts_of[:at] + [pts] + pts_of[at:]),
            unplaced_keys=tuple(k for k in self.unplaced_keys if k[0] != pts),
        )

    def presented_from(self, first_pts: int) -> "_StreamIndex":
        """The index without the frames before ``first_pts``, the first one the decoder presents (the ones
        before need pictures the file does not hold: a cut at a non-key frame)."""
        keep = self.pts_sorted >= first_pts
        pts = self.pts_sorted[keep]
        later = self.keyframe_indices > 0
        keys = np.concatenate([[0], self.keyframe_indices[later] - int(np.count_nonzero(~keep))])
        seek_ts = np.concatenate([[int(pts[0])], self.keyframe_seek_ts[later]])
        usable = keys >= 0
        usable[0] = True
        return dataclasses.replace(self, pts_sorted=pts, keyframe_indices=keys[usable], keyframe_seek_ts=seek_ts[usable])

    @property
    def first_gop_end(self) -> int:
        """The presentation index of the second restart point (the frame count when there is none)."""
        later = self.keyframe_indices[self.keyframe_indices > 0]
        return int(later.min()) if later.size else self.frames

    @property
    def frames(self) -> int:
        return len(self.pts_sorted)


def _shown_pixel_aspect(stream: "av.video.stream.VideoStream", orientation: Orientation) -> float:
    """A shown pixel's width over its height: the stream's sample aspect ratio (1 when it names none), inverted
    when the frames are turned a quarter."""
    sar = stream.sample_aspect_ratio or getattr(stream.codec_context, "sample_aspect_ratio", None)
    if not sar or sar <= 0:
        return 1.0
    return round(float(1 / sar if orientation.rotation % 180 else sar), 6)


def _first_line(err: BaseException) -> str:
    """An error in one line; FFmpeg's own words for its errors ("Invalid data found when processing input"), without
    the number and the C function PyAV puts around them ("[Errno 1094995529] ...: 'avcodec_send_packet()'")."""
    words = err.strerror if isinstance(err, av.error.FFmpegError) and err.strerror else str(err)
    text = " ".join(str(words).split())
    return text or type(err).__name__


def _open_container(path: str) -> "av.container.InputContainer":
    try:
        return av.open(local_file(path), mode="r", metadata_errors="ignore")
    except av.error.InvalidDataError:
        damage = iso_damage(path)  # an MP4 cut short before its index is a video, not "not a video"
        raise VideoError(damage or "is not a video file that FFmpeg can read (invalid data)", path) from None
    except av.error.FFmpegError as err:
        raise VideoError(f"cannot be opened as a video: {_first_line(err)}", path) from None
    except (OSError, ValueError) as err:
        raise VideoError(f"cannot be opened: {_first_line(err)}", path) from None


def shown_stream(container: "av.container.InputContainer", path: str) -> "av.video.stream.VideoStream":
    """The video stream a player shows (FFmpeg's choice: the default one, with more than a still's frames, the
    highest bit rate): the first was a still image put before the film, or a small preview beside it."""
    streams = container.streams
    if not streams.video:
        kinds = sorted({s.type for s in streams})
        what = "audio only" if kinds == ["audio"] else ("no streams" if not kinds else "streams: " + ", ".join(kinds))
        raise VideoError(f"has no video stream ({what})", path)
    moving = [s for s in streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not moving:
        raise VideoError("has no video stream (only an attached cover picture)", path)
    best = streams.best("video")
    return best if best in moving else moving[0]


def header_pictures(path: str) -> tuple[bool, StreamLook]:
    """Whether :class:`ContainerVideo` deinterlaces the file at ``path`` by default (its header's field order), and
    what else it does to its pictures (HDR, alpha), read without decoding a frame to RGB; nothing for a file it
    cannot open (opening it says why)."""
    try:
        with _open_container(path) as container:
            stream = shown_stream(container, path)
            return woven_stream(stream), stream_look(stream)
    except (VideoError, av.error.FFmpegError):
        return False, StreamLook()


def _grid_index(container: "av.container.InputContainer", stream: "av.video.stream.VideoStream") -> _StreamIndex | None:
    """The MP4/MOV fast path: frame count and spacing from the sample table, no reading.

    The grid's origin is provisional (the first entry's decode time); the first
    decoded frame fixes it (:meth:`ContainerVideo._anchor_grid`).
    """
    if "mov" not in container.format.name.split(","):
        return None
    try:
        entries = stream.index_entries
        count = len(entries)
    except (AttributeError, TypeError):
        return None
    if count < 2 or count != stream.frames:
        return None
    if not entries[0].is_keyframe or any(e.is_discard for e in entries):
        return None  # an edit list hides samples, or the first ones need earlier ones: the packets say which are shown
    dts = np.fromiter((e.timestamp for e in entries), dtype=np.int64, count=count)
    steps = np.diff(dts)
    if steps[0] <= 0 or np.any(steps != steps[0]):
        return None  # variable frame rate or an odd table: read the packets instead
    order = dts[0] + steps[0] * np.arange(count, dtype=np.int64)
    return _StreamIndex(order, np.array([0]), np.array([int(dts[0])]), counting=False, reordered=True, grid=True)


def _build_index(path: str, container: "av.container.InputContainer", stream: "av.video.stream.VideoStream") -> _StreamIndex:
    packets: list[_Packet] = []
    first_key_data = b""
    try:
        for packet in container.demux(stream):
            if packet.size:  # not the flush packet at the end
                packets.append(_Packet(packet.pts, packet.dts, bool(packet.is_keyframe), bool(packet.is_discard)))
                if packet.is_keyframe and not first_key_data:
                    first_key_data = bytes(packet)
    except av.error.FFmpegError:
        pass  # a damaged tail: keep the packets read so far (checked on decode)
    lost, first_key_pts = _lost_pictures(packets)
    lost |= _dropped_after_first_key(path, container, stream, packets, first_key_data)
    if lost and first_key_pts is None:
        first_key_pts = next(p.pts for p in packets if p.key)
    # samples an edit list cuts are never presented by the decoder; the lost ones need pictures the file lacks
    shown = [p for n, p in enumerate(packets) if not p.discard and n not in lost]
    if not shown:
        raise VideoError("has a video stream with no frames (empty or truncated file)", path)
    may_reorder = bool(getattr(stream.codec_context, "has_b_frames", False))
    codec = str(getattr(stream.codec_context, "name", "") or "")
    index = _positions(container, [p.pts for p in shown], [p.dts for p in shown], [p.key for p in shown], may_reorder, codec)
    return dataclasses.replace(index, starts_at_key=bool(lost), first_key_pts=first_key_pts, keyless=not any(p.key for p in packets))


def _positions(container: "av.container.InputContainer", pts_list: list[int | None], dts_list: list[int | None],
               key_list: list[bool], may_reorder: bool = False, codec: str = "") -> _StreamIndex:
    """The index of the packets that are frames: by their timestamps, or counted where those cannot be trusted.

    ``may_reorder``: the decoder holds pictures back (B-frames), so in counting mode a keyframe's packet number
    need not be its picture's place (see the module's note)."""
    formats = set(container.format.name.split(","))
    have_pts = all(p is not None for p in pts_list) and len(set(pts_list)) == len(pts_list)
    from_start = bool(formats & FROM_START_FORMATS) or any(codec in FROM_START_CODECS.get(f, ()) for f in formats)
    counting = bool(formats & COUNTING_FORMATS) or from_start or not have_pts
    keys = np.flatnonzero(np.array(key_list))
    if len(keys) == 0 or keys[0] != 0:
        keys = np.concatenate([[0], keys]).astype(np.int64)  # the first packet must be decodable from the start

    if not counting:
        pts = np.array(pts_list, dtype=np.int64)
        order = np.sort(pts)
        reordered = bool(np.any(np.diff(pts) < 0))
        key_pts = pts[keys]
        key_index = np.searchsorted(order, key_pts)
        return _StreamIndex(order, key_index, key_pts, counting=False, reordered=reordered)

    # Counting mode: timestamps are synthetic, positions are counted.
    known = [p for p in pts_list if p is not None]
    reordered = len(known) == len(pts_list) and any(b < a for a, b in zip(known, known[1:]))
    n = len(pts_list)
    order = np.arange(n, dtype=np.int64)
    seek_ts = np.array([dts_list[k] if dts_list[k] is not None else -1 for k in keys], dtype=np.int64)
    named = len(known) == len(pts_list) and len(set(known)) == len(known)  # each packet's pts names its picture
    if reordered or from_start or np.any(seek_ts < 0) or (may_reorder and not named):
        # only the stream's start is a restart point whose position we can trust
        return _StreamIndex(order, np.array([0]), np.array([int(seek_ts[0]) if seek_ts[0] >= 0 else 0]), counting=True,
                            reordered=reordered or may_reorder, reopen=from_start)
    if may_reorder:  # keyframes other than the start are placed when a pass from the start counts their pictures
        unplaced = tuple((int(pts_list[k]), int(seek_ts[n])) for n, k in enumerate(keys) if k > 0)  # type: ignore[arg-type]
        return _StreamIndex(order, np.array([0]), seek_ts[:1], counting=True, reordered=True, unplaced_keys=unplaced,
                            keyframe_pts=(-1,))
    return _StreamIndex(order, keys.astype(np.int64), seek_ts, counting=True, reordered=False)


def _dropped_after_first_key(path: str, container: "av.container.InputContainer", stream: "av.video.stream.VideoStream",
                             packets: list["_Packet"], first_key_data: bytes) -> set[int]:
    """In a counted container (AVI), the packets after the first keyframe that its decoder drops: an open GOP's
    B-frames shown before a keyframe that starts the file (a cut), which AVI's timestamps cannot point out."""
    codec = str(getattr(stream.codec_context, "name", "") or "")
    pts = [p.pts for p in packets]
    keys = [n for n, p in enumerate(packets) if p.key]
    if (not set(container.format.name.split(",")) & COUNTING_FORMATS or codec not in PROBED_CODECS or not keys
            or not getattr(stream.codec_context, "has_b_frames", False) or any(p is None for p in pts)
            or len(set(pts)) != len(pts) or starts_cleanly(first_key_data, codec)):
        return set()
    return undecodable_after_key(path, stream.index, keys[0], pts)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Packet:
    pts: int | None
    dts: int | None
    key: bool
    discard: bool


def _lost_pictures(packets: list[_Packet]) -> tuple[set[int], int | None]:
    """The packets whose pictures need ones the file lacks, and the first keyframe's timestamp when there are any.

    A file cut mid-GOP starts with packets that refer to pictures before the cut; and B-frames that follow the
    first keyframe but are shown before it (an open GOP, also at a clean start such as one HLS segment) refer
    to the GOP before it.  Decoders drop them or paint garbage, so they are not frames.  Only the first GOP is
    looked at: timestamps that jump back later (concatenated recordings) are other pictures.  When an edit list
    hides the first keyframe, the edit list decides what is shown.
    """
    keys = [n for n, p in enumerate(packets) if p.key]
    if not keys or packets[keys[0]].discard:
        return set(), None
    first = keys[0]
    key_pts = packets[first].pts
    end = keys[1] if len(keys) > 1 else len(packets)
    lost = set(range(first)) | {n for n in range(first + 1, end) if _leading(packets[n].pts, key_pts)}
    return lost, (key_pts if lost else None)


def _leading(pts: int | None, first_key_pts: int | None) -> bool:
    """Whether a packet of the first GOP is shown before its keyframe (and so needs a lost picture)."""
    return pts is not None and first_key_pts is not None and pts < first_key_pts


class _OffGrid(Exception):
    """A decoded timestamp is not where the constant-rate grid put it."""


class _Disordered(Exception):
    """The decoder presents frames in another order than their timestamps say (a B-frame stream copied out of an
    AVI keeps the AVI's decode-order guesses as timestamps): frames are counted instead."""


DISPLAY_MATRIX = SideDataType.DISPLAYMATRIX
# Frames a decoder may hold back (H.264's largest picture buffer): how far to look for a timestamp missing from a run.
REORDER_PEEK = 16


def _file_stamp(path: str) -> tuple[int, int, int, int]:
    """Device, inode, size and modification time: the same file, unchanged, while these are."""
    status = os.stat(path)
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def _decoded_frames(container: "av.container.InputContainer", stream: "av.video.stream.VideoStream",
                    index: _StreamIndex, decoder: "av.CodecContext | None" = None) -> Iterator["av.VideoFrame"]:
    """The frames decoded from where the demuxer is, without the pictures the index left out; ``decoder``: one
    to use instead of the stream's (flushed first: the demuxer has moved).  A function, not a
    method: a generator of the reader's own held the reader in a cycle, so a dropped reader (its decoder threads,
    file and frames) waited for the garbage collector, and one collected in a forked worker hung it."""
    if decoder is not None:
        decoder.flush_buffers()
    waiting_for_key = index.starts_at_key
    in_first_gop = False  # decoding the first keyframe's GOP: its pictures shown before the keyframe are skipped
    for packet in container.demux(stream):
        if packet.size and waiting_for_key:
            if not packet.is_keyframe:
                continue  # before the file's first keyframe (the index left these out)
            waiting_for_key = False
            in_first_gop = packet.pts == index.first_key_pts
        elif packet.size and in_first_gop:
            if packet.is_keyframe:
                in_first_gop = False
            elif _leading(packet.pts, index.first_key_pts):
                continue  # an open-GOP picture shown before that keyframe (left out too)
        # the final empty packet flushes the decoder
        yield from (decoder.decode(packet) if decoder is not None else packet.decode())


class ContainerVideo(Video):
    """A video file read through FFmpeg with exact random access.

    ``deinterlace``: interlaced frames are deinterlaced (see :mod:`core.video.deinterlace`); progressive video is
    never filtered."""

    def __init__(self, path: str, cache_bytes: int = DEFAULT_CACHE_BYTES, max_pixels: int = MAX_PIXELS, *,
                 deinterlace: bool = True) -> None:
        super().__init__(path, cache_bytes)
        self._max_pixels = max_pixels
        self._wants_deinterlace = deinterlace
        self._file_stamp = _file_stamp(path)  # which file this reader holds open: the path may name another later
        size = self._file_stamp[2]
        if size == 0:
            raise VideoError("file is empty (0 bytes)", path)
        self._container = _open_container(path)
        try:
            self._stream = shown_stream(self._container, path)
            ctx = self._stream.codec_context
            if ctx is None:
                raise VideoError("has a video stream that no decoder here can read (an unknown codec, or a damaged header)", path)
            if not ctx.width or not ctx.height:  # FFmpeg refused the header's size (too large to decode) or found none
                raise VideoError("has a video stream whose frame size FFmpeg cannot use (a damaged header, or frames "
                                 "too large to decode)", path)
            check_resolution(path, ctx.width, ctx.height, max_pixels)
            self._index = _grid_index(self._container, self._stream) or _build_index(path, self._container, self._stream)
            self._stream.thread_type = "AUTO"
            self._decoder: Iterator["av.VideoFrame"] | None = None
            self._next_index = -1  # presentation index of the next frame the running decoder yields
            self._run_last: int | None = None  # timestamp mode: the position of the running decoder's last frame
            self._may_reorder = bool(getattr(self._stream.codec_context, "has_b_frames", False))
            self._closed = False
            self._awaited_pts: int | None = None  # counting from a placed keyframe: frames before its picture are not counted
            self._orientation: Orientation = UPRIGHT
            self._interlaced = woven_stream(self._stream)  # the header's field order, or the first frame's flag
            # decided by the header before a frame is decoded, as header_pictures decides it for cache keys
            self._deinterlacing = deinterlace and self._interlaced
            self._look = stream_look(self._stream)  # HDR tone-mapped, alpha composited: the header decides, as above
            self._alpha_decoder = alpha_decoder(self._stream, self._look)
            self._after_in_run: int | None = None  # the position of the frame the filter was fed before this one
            self._size: tuple[int, int] | None = None  # the first decoded frame's, before it is turned upright: every frame's
            if self._index.grid:
                self._anchor_grid()
            first = None if self._index.grid or self._index.counting else self._first_presented()
            if first is None:
                first = self._first_decoded()
                if self._trusts_keys_of_a_reordering_decoder():
                    self._switch_to_packet_index()  # B-frames announced only by the first picture (no extradata)
            self.cache.put(0, first)
            self._info = self._make_info(first)
        except av.error.FFmpegError as err:  # while indexing or anchoring: the decoder refused the data
            self._container.close()
            raise VideoError(f"cannot be read: {_first_line(err)} (a damaged file?)", path) from None
        except BaseException:
            self._container.close()
            raise

    # -- opening ---------------------------------------------------------------
    def _make_info(self, first: np.ndarray) -> VideoInfo:
        stream = self._stream
        tb = stream.time_base or Fraction(1, 1)
        frames = self._index.frames
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        vfr = False
        if self._index.counting:
            fps = float(rate) if rate else 25.0
            duration = frames / fps
        else:
            pts = self._index.pts_sorted
            steps = np.diff(pts)
            if len(steps):
                typical = float(np.median(steps))
                vfr = bool(np.any(np.abs(steps - typical) > max(1.0, 0.02 * typical)))
                last_step = typical
            else:
                last_step = float(1 / (float(rate) * tb)) if rate else 0.0
            duration = float((pts[-1] - pts[0] + last_step) * tb)
            if rate and not vfr:
                fps = float(rate)  # exact, where timestamps are rounded (Matroska keeps milliseconds)
            else:
                fps = frames / duration if duration > 0 else (float(rate) if rate else 0.0)
        ctx = stream.codec_context
        return VideoInfo(
            path=self.path,
            frames=frames,
            fps=round(fps, 6),
            width=int(first.shape[1]),
            height=int(first.shape[0]),
            duration_s=round(duration, 6),
            codec=ctx.name,
            rotation=self._orientation.rotation,
            mirrored=self._orientation.mirrored,
            sample_aspect_ratio=_shown_pixel_aspect(stream, self._orientation),
            interlaced=self._interlaced,
            deinterlaced=self._deinterlacing,
            hdr=self._look.hdr or "",
            alpha=self._look.alpha,
            container=self._container.format.name,
            pixel_format=str(ctx.pix_fmt or ""),
            variable_frame_rate=vfr,
        )

    def _anchor_grid(self) -> None:
        """Fix the grid's origin at the first presented frame's timestamp."""
        first_pts = None
        for frame in self._frames_from(None):
            first_pts = frame.pts
            break
        self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
        idx = self._index
        if first_pts is None:
            self._index = _build_index(self.path, self._container, self._stream)
            return
        step = int(idx.pts_sorted[1] - idx.pts_sorted[0])
        order = first_pts + step * np.arange(idx.frames, dtype=np.int64)
        self._index = _StreamIndex(order, idx.keyframe_indices, idx.keyframe_seek_ts, counting=False, reordered=True, grid=True)

    def _first_presented(self) -> np.ndarray | None:
        """Frame 0, the first frame the decoder presents (``None`` when it cannot tell): a file cut at a
        non-key frame starts with packets that decode to nothing, and counting them put every frame near
        the end past the stream's end.  The decoder is left running after it."""
        first = None
        self._decoder = None
        if not self._index.starts_at_key:  # a cut file's first keyframe is no sample 0: a seek there lands past it
            try:
                self._decoder = self._frames_from(int(self._index.pts_sorted[0]))
                first = next(self._decoder, None)
            except av.error.FFmpegError:  # no keyframe at or before the start to seek to
                self._decoder = None
        if self._decoder is None:  # the file read from its start
            self._from_the_start()
            first = next(self._decoder, None)
        if first is None or first.pts is None or first.pts not in self._index.pts_sorted:
            self._decoder, self._next_index = None, -1
            return None
        if first.pts > self._index.pts_sorted[0]:
            self._index = self._index.presented_from(int(first.pts))
        self._next_index, self._after_in_run = 1, 0
        return self._to_array(first, 0)

    def _first_decoded(self) -> np.ndarray:
        """Frame 0 decoded: proves the stream decodes, and tells the orientation."""
        try:
            return self._decode(0)
        except (VideoError, av.error.FFmpegError):  # a seek to a keyframe that is not there refuses too
            if self._index.keyless:
                raise VideoError("has no keyframe, so no picture can be decoded (a file cut after its last keyframe?)", self.path) from None
            raise

    def _trusts_keys_of_a_reordering_decoder(self) -> bool:
        idx = self._index
        reorders = bool(getattr(self._stream.codec_context, "has_b_frames", False))
        return idx.counting and not idx.reordered and len(idx.keyframe_indices) > 1 and reorders

    @property
    def info(self) -> VideoInfo:
        return self._info

    @property
    def timestamps(self) -> np.ndarray:
        if self._index.counting:
            return np.arange(self._index.frames) / (self.info.fps or 25.0)
        pts = self._index.pts_sorted
        return ((pts - pts[0]) * float(self._stream.time_base)).astype(np.float64)

    def reopened(self, cache_bytes: int) -> "ContainerVideo | None":
        """The file opened again, its own decoder; ``None`` when the path no longer names the file this reader
        holds (written again or replaced since, even with the same frame count and rate), since a second reader
        must never show other pictures."""
        if _file_stamp(self.path) != self._file_stamp:
            return None
        other = ContainerVideo(self.path, cache_bytes=cache_bytes, max_pixels=self._max_pixels, deinterlace=self._wants_deinterlace)
        if other.info == self.info and np.array_equal(other.timestamps, self.timestamps):
            return other
        other.close()
        return None

    # -- decoding --------------------------------------------------------------
    def _frames_from(self, seek_ts: int | None) -> Iterator["av.VideoFrame"]:
        """The decoded frames from the keyframe at or before ``seek_ts`` (``None``: from where the demuxer is);
        the seek happens now, so a refused one raises here."""
        if seek_ts is not None:
            self._container.seek(int(seek_ts), stream=self._stream, backward=True, any_frame=False)
        self._run_last = None
        return self._decoded()

    def _decoded(self) -> Iterator["av.VideoFrame"]:
        self._after_in_run = None
        frames = _decoded_frames(self._container, self._stream, self._index, self._alpha_decoder)
        return deinterlaced(frames, self._stream.time_base) if self._deinterlacing else frames

    def _filtered_as_in_order(self, position: int) -> bool:
        """Whether the frame at ``position`` has the pixels a pass from the start gives it: always without the
        deinterlacing filter; with it, when the filter was fed the frame before (or it is the first frame)."""
        return not self._deinterlacing or position == 0 or self._after_in_run == position - 1

    def _restart(self, target: int, back: int = 0) -> None:
        """Point the decoder at a keyframe at or before ``target - back``.

        Timestamp mode lets FFmpeg find the keyframe before the target's own
        timestamp; counting mode uses the restart points whose positions it knows.
        """
        idx = self._index
        target = max(0, target - back)
        if idx.counting:
            k = max(0, bisect.bisect_right(idx.keyframe_indices.tolist(), target) - 1)
            if idx.reopen:
                self._from_the_start()
            else:
                try:
                    self._decoder = self._frames_from(int(idx.keyframe_seek_ts[k]))
                except av.error.FFmpegError:
                    if k > 0:
                        raise
                    self._from_the_start()  # no keyframe to seek to at the start (a file cut mid-GOP)
            self._next_index = int(idx.keyframe_indices[k])
            self._awaited_pts = idx.keyframe_pts[k] if idx.keyframe_pts and idx.keyframe_pts[k] >= 0 else None
        elif idx.starts_at_key and target < idx.first_gop_end:
            self._from_the_start()  # a cut file's first keyframe: a seek to it lands past it (it is no sample 0)
            self._next_index = -1
        else:
            self._decoder = self._frames_from(int(idx.pts_sorted[target]))
            self._next_index = -1  # known once the first frame arrives

    def _position_of(self, frame: "av.VideoFrame") -> int:
        """Presentation index of a decoded frame."""
        idx = self._index
        if idx.counting:
            return self._next_index
        pts = frame.pts
        i = int(np.searchsorted(idx.pts_sorted, pts)) if pts is not None else -1
        if pts is None or i >= idx.frames or idx.pts_sorted[i] != pts:
            if idx.grid:
                raise _OffGrid()
            raise VideoError(f"decoded a frame whose timestamp {pts} is not in the stream's index (damaged file)", self.path)
        return i

    def _to_array(self, frame: "av.VideoFrame", position: int) -> np.ndarray:
        size = (frame.width, frame.height)
        first = self._size is None
        if first:
            self._size = size
            self._orientation = self._orientation_of(frame)
            self._interlaced = self._interlaced or bool(frame.interlaced_frame)
        elif size != self._size:  # joined recordings, adaptive streams: clips, flow and models need one size
            raise VideoError(f"frame {position} is {size[0]}x{size[1]} but the video's first frame is {self._size[0]}x{self._size[1]} "
                             "(a video whose size changes midway: re-encode it at one size)", self.path)
        try:
            # the first frame, now in a reference cycle (its side data), gets no swscale context of its own: one freed by
            # the garbage collector in a forked DataLoader worker waited for ever on the parent's swscale threads
            array = frame_to_rgb(frame, self._look, VideoReformatter() if first else None)
        except (ValueError, av.error.FFmpegError) as err:
            raise VideoError(f"cannot convert frame to RGB: {_first_line(err)}", self.path) from None
        return self._orientation.apply(to_rgb(array))

    def _orientation_of(self, frame: "av.VideoFrame") -> Orientation:
        """The turn and mirror the display matrix asks for, read from the first frame only: a frame's side data
        refers back to the frame, so every frame read this way would wait for the garbage collector to go."""
        matrix = next((bytes(data) for data in frame.side_data if data.type == DISPLAY_MATRIX), None)
        if matrix is None:
            return UPRIGHT
        try:
            return from_display_matrix(matrix)
        except OddOrientation as odd:
            raise VideoError(f"its display matrix turns the picture {odd}, not a multiple of 90; "
                             "re-encode it upright to read it", self.path) from None

    def _counted(self, frame: "av.VideoFrame") -> bool:
        """Whether a frame from the counting decoder is counted; places the keyframe whose picture it is.

        After a restart at a placed keyframe, the frames before its picture are the open GOP's leading
        pictures (the decoder may paint them from nothing): they are not counted."""
        if self._awaited_pts is not None:
            if frame.pts != self._awaited_pts:
                return False
            self._awaited_pts = None
        idx = self._index
        if idx.unplaced_keys and frame.pts is not None and any(frame.pts == k for k, _ in idx.unplaced_keys):
            self._index = idx.placed(int(frame.pts), self._next_index)
        return True

    def _from_the_start(self) -> None:
        """The decoder at the file's first packet, by opening it again (the one exact way back for streams that
        do not seek exactly, or have no keyframe at their start to seek to)."""
        index = self._stream.index
        self._container.close()
        self._container = _open_container(self.path)
        self._stream = next(s for s in self._container.streams.video if s.index == index)
        self._stream.thread_type = "AUTO"
        self._decoder = self._frames_from(None)

    def _decode(self, index: int) -> np.ndarray:
        if self._closed:
            raise VideoError(f"frame {index} was asked for after the video was closed", self.path)
        ahead = 0 <= self._next_index <= index <= self._next_index + FORWARD_DECODE_LIMIT
        if self._decoder is not None and not ahead and self._index.counting and 0 <= self._next_index <= index:
            # a restart could only begin at a known restart point: go on decoding when none lies past the decoder
            keys = self._index.keyframe_indices
            ahead = int(keys[max(0, int(np.searchsorted(keys, index, side="right")) - 1)]) <= self._next_index
        if self._decoder is None or not ahead:
            self._restart(index, 1 if self._deinterlacing else 0)  # the filter needs the frame before too
        # A seek can land after the target (a keyframe whose decode time precedes
        # the target but whose picture follows it): back off further each time.
        for back in (16, 128, index):
            try:
                found = self._advance_to(index)
            except _OffGrid:
                self._switch_to_packet_index()
                return self._decode(index)
            except _Disordered:
                self._switch_to_counting()
                return self._decode(index)
            except av.error.FFmpegError as err:  # damaged data, or a read of the file that failed (EIO: a drive gone)
                self._decoder = None
                raise VideoError(f"frame {index} cannot be decoded: {_first_line(err)}", self.path, transient=is_transient(err)) from None
            if found is not None:
                return found
            self._restart(index, back)
        self._decoder = None
        raise VideoError(f"frame {index} cannot be decoded: the stream ends early (truncated or damaged file)", self.path)

    def _switch_to_packet_index(self) -> None:
        self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
        self._index = _build_index(self.path, self._container, self._stream)
        self._decoder, self._next_index = None, -1

    def _switch_to_counting(self) -> None:
        """Count frames from the file's start from now on (opened again for each backward jump): exact whatever
        the timestamps say, slower for random access in long files; the frame count stays the packets'."""
        idx = self._index
        self._index = _StreamIndex(np.arange(idx.frames, dtype=np.int64), np.array([0]), np.array([0]), counting=True, reordered=True,
                                   reopen=True, starts_at_key=idx.starts_at_key, first_key_pts=idx.first_key_pts)
        self._decoder, self._next_index = None, -1
        self.cache.clear()

    def _check_order(self, frame: "av.VideoFrame", position: int, wanted: int) -> None:
        """Timestamp mode: a run's frames come at consecutive positions.  A step back, or a gap that a frame the
        decoder still holds fills (peeked at, then left to come), means the timestamps do not name the pictures.
        A run's first frame has nothing before it: when it is the one ``wanted`` and the decoder may hold frames
        back, the frames after it are peeked at too (a keyframe read at once is where such a file goes wrong)."""
        last, self._run_last = self._run_last, position
        if last is not None and position == last + 1:
            return
        if last is not None and position <= last:
            raise _Disordered()
        if last is None and not (position == wanted and self._may_reorder):
            return
        places = [position] + [self._place_of(f.pts) for f in self._peek()]
        known = [p for p in places if p is not None]
        if any(b <= a for a, b in zip(known, known[1:])):  # a frame the decoder held back belongs before
            raise _Disordered()

    def _place_of(self, pts: int | None) -> int | None:
        """The position the index gives a timestamp (``None`` when it has none)."""
        if pts is None:
            return None
        idx = self._index
        i = int(np.searchsorted(idx.pts_sorted, pts))
        return i if i < idx.frames and idx.pts_sorted[i] == pts else None

    def _peek(self) -> list["av.VideoFrame"]:
        """The next frames of the running decoder, left to come; fewer when the stream ends or fails there (the
        failure is met again, in its place, when the frames are read)."""
        assert self._decoder is not None
        peeked: list[av.VideoFrame] = []
        try:
            for frame in self._decoder:
                peeked.append(frame)
                if len(peeked) == REORDER_PEEK:
                    break
        except av.error.FFmpegError:  # the decoder ends where it failed: a read that needs more restarts
            self._decoder = iter(peeked)
            return peeked
        self._decoder = itertools.chain(peeked, self._decoder)
        return peeked

    def _advance_to(self, index: int) -> np.ndarray | None:
        assert self._decoder is not None
        while (frame := next(self._decoder, None)) is not None:
            if self._index.counting and not self._counted(frame):
                self._after_in_run = None
                continue
            position = self._position_of(frame)
            if not self._index.counting:
                self._check_order(frame, position, index)
            self._next_index = position + 1
            exact = self._filtered_as_in_order(position)
            self._after_in_run = position
            if position > index or (position == index and not exact):
                return None
            if position >= index - CACHE_BEHIND and exact:
                array = self._to_array(frame, position)
                if position == index:
                    return array
                self.cache.put(position, array)
        self._decoder = None
        self._next_index = -1
        return None

    def close(self) -> None:
        with self._lock:  # a read in progress on another thread (a worker, reading ahead) finishes first
            self._closed = True
            super().close()
            self._decoder = None
            self._container.close()
