"""An on-disk cache of computed flow, so opening the same clip again is instant.

Entries are keyed by everything that decides the flow: the video's identity
(resolved path, size, modification time), the frame indices, the frame size,
the method asked for and its settings (:func:`core.flow.settings.method_settings`:
a changed default recomputes), the weights that method would load (so adding RAFT
weights after a fallback recomputes), RAFT's update count, the fallback method
and the engine version.  Flow is stored as float16 (about 0.06 px resolution
for motions up to 128 px, 0.5 px beyond 512 px), with a SHA-256 of the payload:
a truncated or corrupt entry is detected, removed and reported as a miss.
Writes are atomic; the least recently used entries go when the total size
passes ``max_bytes``.

File layout (:mod:`core.framed_file`): ``MAGIC``, a little-endian uint32 header
length, a JSON header, then the forward flow and (optionally) the backward flow
as float16.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from core.atomic import sweep_orphans
from core.errors import FlowError, is_transient
from core.flow.keyed_lock import KeyedLock
from core.flow.settings import ENGINE_VERSION, method_settings
from core.framed_file import DIGEST_KEY, FramedFileError, payload_digest, read_framed, write_framed
from core.progress import CancelToken

MAGIC = b"TSFLOWC1"
SUFFIX = ".flowc"
DEFAULT_MAX_BYTES = 2 << 30
CACHE_ENV = "TWOSTREAM_CACHE_DIR"
COMPUTING = KeyedLock()  # entries being computed in this process: a second asker waits and reads the first's result


def default_cache_root() -> Path:
    """``$TWOSTREAM_CACHE_DIR/flow``, else ``$XDG_CACHE_HOME/twostream/flow``, else ``~/.cache/twostream/flow``."""
    explicit = os.environ.get(CACHE_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser() / "flow"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "twostream" / "flow"


def video_identity(path: str | os.PathLike[str], segment: tuple[float, float] | None = None, *, deinterlace: bool = True) -> dict[str, Any]:
    """Resolved path, size and modification time: an edited or replaced file is a new video.  A folder of
    frames is its images' names, sizes and times: frames written again in place (``ffmpeg -y``,
    ``cv2.imwrite``) change neither the folder's size nor its time, and must not get the old flow.
    ``segment``: the seconds of the file a sample is (its frames are numbered from the segment's start).
    ``reader``: the version of the reader that last changed the file's pictures (a reader fix that changes them is
    a new video); ``deinterlace``: the reader's option (off, an interlaced file's pictures are version 4's)."""
    from core.video.reader_version import pictures_version

    resolved = Path(path).expanduser().resolve()
    identity, status, frames, stamps = _file_identity(resolved)
    identity["reader"] = pictures_version(resolved, deinterlace=deinterlace, status=status, frames=frames, stamps=stamps)
    if segment is not None:
        identity["segment"] = [float(segment[0]), float(segment[1])]
    return identity


def _file_identity(resolved: Path) -> tuple[dict[str, Any], os.stat_result, list[Path] | None, list[tuple[int, int]] | None]:
    """The identity of a file, or of a folder of frames, with its stat and, for a folder, its images as listed and
    their sizes and times (``None`` for a file): the reader's version looks at those, and the path is stat'ed, a
    folder listed and each image's size and time asked for, once a key (a network drive answers slowly)."""
    try:
        status = resolved.stat()
        if stat.S_ISDIR(status.st_mode):
            from core.video.image_sequence import list_images

            frames = list_images(resolved)
            stamps = [(s.st_size, s.st_mtime_ns) for s in map(Path.stat, frames)]
            return {"path": str(resolved), "frames": _frames_digest(frames, stamps)}, status, frames, stamps
    except FileNotFoundError:  # the open video's decoder still reads it; its flow cannot be told from another's
        raise FlowError("is gone: deleted, moved or renamed since it was opened (open it again where it is now)", resolved) from None
    except OSError as err:  # no permission, a drive gone (which may come back)
        raise FlowError(f"cannot identify the video for the flow cache ({err.strerror or err})", resolved, transient=is_transient(err)) from None
    return {"path": str(resolved), "size": status.st_size, "mtime_ns": status.st_mtime_ns}, status, None, None


def _frames_digest(frames: Sequence[Path], stamps: Sequence[tuple[int, int]]) -> str:
    """One hash of every frame image's name, size and modification time (a stat each: ~1 ms per 1000 frames)."""
    digest = hashlib.sha256()
    for image, (size, mtime_ns) in zip(frames, stamps, strict=True):
        digest.update(f"{image.name}\0{size}\0{mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def weights_identity(method: str, raft_weights: str | None) -> Any:
    """What RAFT would load: the explicit file or the hub-cache files, by path, size and mtime."""
    if method not in ("raft-large", "raft-small"):
        return None
    from core.flow.raft_weights import cached_weight_files

    files = [Path(raft_weights)] if raft_weights else cached_weight_files(method)
    out = []
    for file in files:
        try:
            stat = file.stat()
            out.append([str(file.resolve()), stat.st_size, stat.st_mtime_ns])
        except OSError:
            out.append([str(file), None, None])
    return out


@dataclass(frozen=True)
class CachedFlow:
    """What a cache entry holds (flow back as float32)."""

    forward: np.ndarray
    backward: np.ndarray | None
    info: dict[str, Any]


class FlowCache:
    """Flow entries in ``root`` (default :func:`default_cache_root`), at most ``max_bytes`` in all."""

    def __init__(self, root: Path | str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.root = Path(root) if root is not None else default_cache_root()
        self.max_bytes = int(max_bytes)
        sweep_orphans(self.root)  # entries whose writer was killed mid-write
        self._lock = threading.Lock()

    # -- keys -------------------------------------------------------------------------------

    @staticmethod
    def key(material: dict[str, Any]) -> str:
        """A stable file-name-safe digest of the key material (any JSON-able dict)."""
        text = json.dumps({"engine": ENGINE_VERSION, **material}, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]

    def path_for(self, key: str) -> Path:
        return self.root / f"{key}{SUFFIX}"

    # -- reading ----------------------------------------------------------------------------

    def get(self, key: str, *, need_backward: bool = False) -> CachedFlow | None:
        """The entry for ``key``, or None (absent, corrupt, or lacking backward flow when needed)."""
        path = self.path_for(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        entry = self._decode(data)
        if entry is None:
            self._remove(path)
            return None
        if need_backward and entry.backward is None:
            return None
        try:
            os.utime(path)  # mark as recently used
        except OSError:
            pass
        return entry

    @staticmethod
    def _decode(data: bytes) -> CachedFlow | None:
        try:
            framed = read_framed(data, MAGIC)
            shape = tuple(int(x) for x in framed.header["shape"])
            has_backward = bool(framed.header["backward"])
            info = framed.header.get("info", {})
            if not isinstance(info, dict) or len(shape) != 4 or shape[1] != 2 or any(s <= 0 for s in shape):
                return None
            one = math.prod(shape) * 2  # exact: numpy's product wraps past int64, and a damaged header can say so
            payload = framed.checked_payload(one * (2 if has_backward else 1))
        except (FramedFileError, ValueError, KeyError, TypeError):
            return None
        forward = np.frombuffer(payload[:one], dtype="<f2").reshape(shape).astype(np.float32)
        backward = np.frombuffer(payload[one:], dtype="<f2").reshape(shape).astype(np.float32) if has_backward else None
        return CachedFlow(forward=forward, backward=backward, info=dict(info))

    # -- writing ----------------------------------------------------------------------------

    def put(self, key: str, forward: np.ndarray, backward: np.ndarray | None = None, info: dict[str, Any] | None = None) -> Path:
        """Store flow (N, 2, H, W) under ``key`` atomically, then evict old entries."""
        forward = np.asarray(forward)
        if forward.ndim != 4 or forward.shape[1] != 2:
            raise FlowError(f"cached flow must be (N, 2, H, W), got {forward.shape}")
        if backward is not None and np.asarray(backward).shape != forward.shape:
            raise FlowError(f"backward flow {np.asarray(backward).shape} does not match forward {forward.shape}")
        parts = [np.ascontiguousarray(forward, dtype="<f2").tobytes()]
        if backward is not None:
            parts.append(np.ascontiguousarray(backward, dtype="<f2").tobytes())
        payload = b"".join(parts)
        header = {"shape": list(forward.shape), "backward": backward is not None, DIGEST_KEY: payload_digest(payload), "info": info or {}}
        path = self.path_for(key)
        with self._lock:
            write_framed(path, MAGIC, header, payload, default=str)
            self._evict(keep=path)
        return path

    def _evict(self, keep: Path | None = None) -> None:
        entries = []
        for path in self.root.glob(f"*{SUFFIX}"):
            try:
                stat = path.stat()
            except OSError:
                continue
            entries.append((stat.st_mtime_ns, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_bytes:
                break
            if keep is not None and path == keep:
                continue
            self._remove(path)
            total -= size

    @staticmethod
    def _remove(path: Path) -> None:
        try:
            path.unlink()
        except OSError:
            pass

    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.glob(f"*{SUFFIX}") if p.exists())

    def clear(self) -> None:
        for path in self.root.glob(f"*{SUFFIX}"):
            self._remove(path)


def flow_cache_key(
    *,
    video: dict[str, Any],
    indices: Sequence[int],
    size: tuple[int, int],
    method: str,
    raft_weights: str | None = None,
    raft_iters: int | None = None,
    fallback: str = "dis",
    raft_warm_start: bool = False,
    raft_precision: str | None = None,
) -> str:
    """The cache key of a flow request (see the module docstring for what goes in)."""
    is_raft = method in ("raft-large", "raft-small")
    return FlowCache.key({
        "video": video,
        "indices": [int(i) for i in indices],
        "size": [int(size[0]), int(size[1])],
        "method": method,
        "settings": method_settings(method),
        "weights": weights_identity(method, raft_weights),
        "raft_iters": raft_iters if is_raft else None,
        "raft_warm_start": bool(raft_warm_start) if is_raft else None,
        "raft_precision": raft_precision if is_raft else None,  # bfloat16 and float32 RAFT differ by ~0.02 px
        "fallback": fallback if is_raft else None,
    })


def compute_flow_cached(
    video: str | os.PathLike[str],
    indices: Sequence[int],
    method: str,
    *,
    frames: np.ndarray | None = None,
    read_frames: Callable[[Sequence[int]], np.ndarray] | None = None,
    cache: FlowCache | None = None,
    device: str = "auto",
    backward: bool = False,
    raft_weights: str | None = None,
    raft_iters: int | None = None,
    fallback: str = "dis",
    cancel: Optional[CancelToken] = None,
    progress: Optional[Callable[..., None]] = None,
    raft_warm_start: bool = False,
    deinterlace: bool = True,
):
    """:func:`~core.flow.compute_flow` for frames ``indices`` of ``video``, through the cache.

    Give the frames (``frames``, e.g. already resized: their size is part of the
    key) or let them be read on a miss (``read_frames(indices)``, default
    ``core.video.open_video(video).read_clip``); on a hit nothing is decoded.
    When another thread of this process is computing the same entry, this
    call waits for it (cancellably) and returns its result as a hit.
    ``deinterlace``: the option the frames were (or are) read with.
    Returns ``(FlowResult, hit)``.
    """
    from core.flow.engine import normalize_method

    method = normalize_method(method)
    cache = cache if cache is not None else FlowCache()
    identity = video_identity(video, deinterlace=deinterlace)
    if frames is not None:
        size = (int(frames.shape[1]), int(frames.shape[2]))
    else:
        size = _video_size(video, deinterlace)
    key = flow_cache_key(video=identity, indices=indices, size=size, method=method, raft_weights=raft_weights,
                         raft_iters=raft_iters, fallback=fallback, raft_warm_start=raft_warm_start,
                         raft_precision=_raft_precision(method, device))
    hit = _cached_result(cache, key, method, indices, size, backward, progress)
    if hit is not None:
        return hit, True
    with COMPUTING.hold(f"{cache.root}/{key}", cancel) as waited:
        if waited:  # another thread computed this while we waited: it is in the cache unless it failed
            hit = _cached_result(cache, key, method, indices, size, backward, progress)
            if hit is not None:
                return hit, True
        if frames is None:
            if read_frames is not None:
                frames = read_frames(indices)
            else:
                from core.video import open_video

                with open_video(video, deinterlace=deinterlace) as opened:
                    frames = opened.read_clip(list(indices))
        return _compute_and_store(cache, key, frames, method, device=device, backward=backward, raft_weights=raft_weights,
                                  raft_iters=raft_iters, fallback=fallback, cancel=cancel, progress=progress,
                                  raft_warm_start=raft_warm_start), False


def _video_size(video: str | os.PathLike[str], deinterlace: bool) -> tuple[int, int]:
    from core.video import open_video

    with open_video(video, deinterlace=deinterlace) as opened:
        return int(opened.info.height), int(opened.info.width)


def _cached_result(cache: FlowCache, key: str, method: str, indices: Sequence[int], size: tuple[int, int], backward: bool, progress: Optional[Callable[..., None]]):
    """The cached FlowResult for ``key`` when its entry is there and fits, else None."""
    from core.flow.engine import FlowResult

    entry = cache.get(key, need_backward=backward)
    if entry is None or entry.forward.shape[0] != len(indices) - 1 or entry.forward.shape[2:] != size:
        return None
    info = entry.info
    if progress is not None:
        progress(len(indices) - 1, len(indices) - 1, "flow from cache")
    return FlowResult(
        forward=entry.forward,
        backward=entry.backward if backward else None,
        method_requested=method,
        method_used=str(info.get("method_used", method)),
        fell_back=bool(info.get("fell_back", False)),
        note=str(info.get("note", "")),
        weights_source=info.get("weights_source"),
        device=str(info.get("device", "cpu")),
    )


def _compute_and_store(cache: FlowCache, key: str, frames: np.ndarray, method: str, *, device: str, backward: bool, raft_weights: str | None,
                       raft_iters: int | None, fallback: str, cancel: Optional[CancelToken], progress: Optional[Callable[..., None]], raft_warm_start: bool):
    """Compute the flow and write it to the cache (a fallback result is returned but not cached)."""
    from core.flow.engine import compute_flow

    result = compute_flow(frames, method, device=device, backward=backward, raft_weights=raft_weights, raft_iters=raft_iters,
                          fallback=fallback, cancel=cancel, progress=progress, raft_warm_start=raft_warm_start)
    if result.fell_back:
        return result  # not cached: once weights are reachable the next call should use them
    # what the cache will give back next time: the same numbers on a miss and on a hit
    result = dataclasses.replace(
        result,
        forward=_as_stored(result.forward),
        backward=None if result.backward is None else _as_stored(result.backward),
    )
    try:
        cache.put(key, result.forward, result.backward, info={
            "method_used": result.method_used, "fell_back": result.fell_back, "note": result.note,
            "weights_source": result.weights_source, "device": result.device,
        })
    except OSError as err:
        note = "; ".join(filter(None, [result.note, f"flow cache not written ({cache.root}: {err.strerror or err})"]))
        result = dataclasses.replace(result, note=note)
    return result


def _as_stored(flow: np.ndarray) -> np.ndarray:
    """``flow`` rounded through the cache's float16, back as float32."""
    return np.asarray(flow, dtype=np.float32).astype(np.float16).astype(np.float32)


def _raft_precision(method: str, device: str) -> str | None:
    """The dtype RAFT will run in on ``device`` (part of the key), or None for other methods."""
    if method not in ("raft-large", "raft-small"):
        return None
    from core.device import resolve_device
    from core.flow.raft import resolve_precision

    return str(resolve_precision("auto", resolve_device(device))).removeprefix("torch.")


def is_cached(
    video: str | os.PathLike[str],
    indices: Sequence[int],
    method: str,
    *,
    size: tuple[int, int],
    device: str = "auto",
    raft_weights: str | None = None,
    fallback: str = "dis",
    cache: FlowCache | None = None,
) -> bool:
    """Whether :func:`compute_flow_cached` would answer this request (frames of ``size`` (h, w))
    from the disk cache: a look at one file's presence, nothing computed or decoded."""
    from core.flow.engine import normalize_method

    method = normalize_method(method)
    cache = cache if cache is not None else FlowCache()
    key = flow_cache_key(video=video_identity(video), indices=indices, size=size, method=method, raft_weights=raft_weights,
                         fallback=fallback, raft_precision=_raft_precision(method, device))
    return cache.path_for(key).exists()
