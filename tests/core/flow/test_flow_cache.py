"""The flow cache: hits and misses, fp16 storage, LRU eviction, corrupt entries recomputed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from flow_helpers import sequence

from core.flow.cache import FlowCache, compute_flow_cached, default_cache_root, flow_cache_key, is_cached, video_identity


def _flow(seed: int, shape=(2, 2, 16, 24)) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 4, size=shape).astype(np.float32)


def test_default_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TWOSTREAM_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_root() == tmp_path / "c" / "flow"
    monkeypatch.delenv("TWOSTREAM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_root() == tmp_path / "xdg" / "twostream" / "flow"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_root() == tmp_path / "home" / ".cache" / "twostream" / "flow"


def test_put_get_round_trip_in_half_precision(tmp_path: Path) -> None:
    cache = FlowCache(tmp_path)
    forward, backward = _flow(0), _flow(1)
    key = cache.key({"what": 1})
    assert cache.get(key) is None
    path = cache.put(key, forward, backward, info={"method_used": "dis"})
    assert forward.nbytes < path.stat().st_size < forward.nbytes + 1024  # fp16: both directions in the space of one float32 array
    entry = cache.get(key, need_backward=True)
    assert entry is not None and entry.info == {"method_used": "dis"}
    assert entry.forward.dtype == np.float32
    np.testing.assert_allclose(entry.forward, forward, atol=0.01)
    np.testing.assert_allclose(entry.backward, backward, atol=0.01)
    only_forward = cache.key({"what": 2})
    cache.put(only_forward, forward)
    assert cache.get(only_forward).backward is None
    assert cache.get(only_forward, need_backward=True) is None  # a request for backward flow recomputes
    assert cache.key({"a": 1, "b": 2}) == cache.key({"b": 2, "a": 1}) != cache.key({"a": 1, "b": 3})


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_corrupt_entries_are_misses_and_are_removed(tmp_path: Path, damage: str) -> None:
    cache = FlowCache(tmp_path)
    key = cache.key({"x": damage})
    path = cache.put(key, _flow(2))
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) - 10]
    elif damage == "flip":
        data[-5] ^= 0xFF  # the checksum catches a changed value
    elif damage == "garbage":
        data = bytearray(b"not a cache entry at all")
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    assert cache.get(key) is None
    assert not path.exists()


def test_least_recently_used_entries_are_evicted(tmp_path: Path) -> None:
    probe = FlowCache(tmp_path / "probe")
    size = probe.put("probe", _flow(0)).stat().st_size
    cache = FlowCache(tmp_path / "c", max_bytes=int(size * 2.5))
    keys = [cache.key({"n": i}) for i in range(3)]
    cache.put(keys[0], _flow(0))
    cache.put(keys[1], _flow(1))
    old = time.time() - 100
    os.utime(cache.path_for(keys[0]), (old, old))
    os.utime(cache.path_for(keys[1]), (old + 10, old + 10))
    assert cache.get(keys[0]) is not None  # reading marks keys[0] as recently used
    cache.put(keys[2], _flow(2))  # over budget: the least recently used (keys[1]) goes
    assert cache.get(keys[1]) is None
    assert cache.get(keys[0]) is not None and cache.get(keys[2]) is not None
    assert cache.total_bytes() <= cache.max_bytes


def _write_frames(folder: Path, frames: np.ndarray) -> Path:
    folder.mkdir(exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"frame_{i:03d}.png"), frame[:, :, ::-1])
    return folder


def test_compute_flow_cached_hits_without_decoding_and_keys_on_the_video(tmp_path: Path) -> None:
    frames, _ = sequence("translate", frames=4, size=64)
    video = _write_frames(tmp_path / "clip", frames)
    cache = FlowCache(tmp_path / "cache")
    first, hit = compute_flow_cached(video, [0, 1, 2], "dis", cache=cache, backward=True)
    assert not hit and first.method_used == "dis" and first.backward is not None

    def must_not_decode(indices):
        raise AssertionError("a cache hit must not read frames")

    again, hit = compute_flow_cached(video, [0, 1, 2], "dis", cache=cache, read_frames=must_not_decode)
    assert hit and again.backward is None and again.method_used == "dis" and not again.fell_back
    np.testing.assert_array_equal(again.forward, first.forward)  # a miss gives what later hits give
    with_backward, hit = compute_flow_cached(video, [0, 1, 2], "dis", cache=cache, backward=True, read_frames=must_not_decode)
    assert hit and with_backward.backward is not None
    np.testing.assert_array_equal(with_backward.backward, first.backward)
    # another range, method or size is another entry
    _, hit = compute_flow_cached(video, [1, 2, 3], "dis", cache=cache)
    assert not hit
    _, hit = compute_flow_cached(video, [0, 1, 2], "farneback", cache=cache)
    assert not hit
    _, hit = compute_flow_cached(video, [0, 1, 2], "dis", cache=cache, frames=np.ascontiguousarray(frames[:3, :48, :48]))
    assert not hit
    # a changed video is a new video
    identity = video_identity(video)
    cv2.imwrite(str(video / "frame_003.png"), frames[0][:, :, ::-1])
    assert flow_cache_key(video=video_identity(video), indices=[0, 1, 2], size=(64, 64), method="dis") != \
        flow_cache_key(video=identity, indices=[0, 1, 2], size=(64, 64), method="dis")


@pytest.mark.parametrize("method, module, name, changed", [
    ("farneback", "core.flow.classical", "FARNEBACK_PARAMS",
     dict(pyr_scale=0.5, levels=1, winsize=5, iterations=1, poly_n=5, poly_sigma=1.1, flags=0)),
    ("dis", "core.flow.classical", "DIS_PATCH_STRIDE", 8),
])
def test_a_changed_method_default_recomputes_instead_of_serving_the_old_flow(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str, module: str, name: str, changed: object) -> None:
    """TV-L1's defaults changed twice while the cache's engine version stayed the same: the old
    flow came back as the new method's.  A method's settings are part of the key."""
    from core.flow.engine import compute_flow

    frames, _ = sequence("translate", frames=3, size=64)
    video = _write_frames(tmp_path / "clip", frames)
    cache = FlowCache(tmp_path / "cache")
    before, _ = compute_flow_cached(video, [0, 1, 2], method, cache=cache)
    monkeypatch.setattr(f"{module}.{name}", changed)
    now = compute_flow(frames, method).forward.astype(np.float16).astype(np.float32)
    assert np.abs(now - before.forward).max() > 0.01  # the setting changes the flow
    after, hit = compute_flow_cached(video, [0, 1, 2], method, cache=cache)
    assert not hit
    np.testing.assert_array_equal(after.forward, now)


def test_tvl1_keys_on_the_settings_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from core.flow import tvl1_image

    video = {"path": "/v.mp4", "size": 1, "mtime_ns": 1}
    before = flow_cache_key(video=video, indices=[0, 1], size=(64, 64), method="tvl1")
    monkeypatch.setattr(tvl1_image, "DEFAULT_SETTINGS", dataclasses.replace(tvl1_image.DEFAULT_SETTINGS, warps=5))
    assert flow_cache_key(video=video, indices=[0, 1], size=(64, 64), method="tvl1") != before


def test_frames_written_again_in_place_are_a_new_video(tmp_path: Path) -> None:
    """``ffmpeg -y`` over a frame folder keeps its names, and the folder's own size and time: the cache
    must still see new frames (it once gave the old motion back, reversed)."""
    frames, truth = sequence("translate", frames=3, size=64)
    video = _write_frames(tmp_path / "clip", frames)
    folder_times = os.stat(video)
    cache = FlowCache(tmp_path / "cache")
    before, _ = compute_flow_cached(video, [0, 1, 2], "dis", cache=cache)
    time.sleep(0.01)
    _write_frames(video, frames[::-1])  # the same names, the motion reversed
    os.utime(video, ns=(folder_times.st_atime_ns, folder_times.st_mtime_ns))
    after, hit = compute_flow_cached(video, [0, 1, 2], "dis", cache=cache)
    assert not hit
    u_true = float(truth[0, 0].mean())
    assert abs(u_true) > 0.5
    assert np.sign(before.forward[0, 0].mean()) == np.sign(u_true) == -np.sign(after.forward[0, 0].mean())


def test_is_cached_answers_without_computing(tmp_path: Path) -> None:
    frames, _ = sequence("translate", frames=4, size=64)
    video = _write_frames(tmp_path / "clip", frames)
    cache = FlowCache(tmp_path / "cache")
    assert not is_cached(video, [0, 1, 2], "dis", size=(64, 64), cache=cache)
    compute_flow_cached(video, [0, 1, 2], "dis", cache=cache, backward=True)
    assert is_cached(video, [0, 1, 2], "dis", size=(64, 64), cache=cache)
    assert not is_cached(video, [0, 1, 2], "tvl1", size=(64, 64), cache=cache)
    assert not is_cached(video, [0, 1, 2], "dis", size=(48, 48), cache=cache)


def test_fallback_results_are_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    frames, _ = sequence("translate", frames=3, size=64)
    video = _write_frames(tmp_path / "clip", frames)
    cache = FlowCache(tmp_path / "cache")
    result, hit = compute_flow_cached(video, [0, 1], "raft-small", cache=cache)
    assert result.fell_back and result.method_used == "dis" and not hit
    _, hit = compute_flow_cached(video, [0, 1], "raft-small", cache=cache)
    assert not hit and cache.total_bytes() == 0


def test_two_threads_asking_for_the_same_flow_compute_it_once(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The viewer's current-frame request and its scan often ask for the same chunk at once."""
    import threading

    import core.flow.engine as engine
    from core.flow.cache import COMPUTING

    video = _write_frames(tmp_path / "clip", sequence("translate", frames=4, size=64)[0])
    cache = FlowCache(tmp_path / "cache")
    real = engine.compute_flow
    calls: list[int] = []
    started = threading.Event()

    def slow_compute(frames, method, **kwargs):  # noqa: ANN001, ANN003
        calls.append(1)
        started.set()
        time.sleep(0.3)  # long enough for the second thread to arrive while this one computes
        return real(frames, method, **kwargs)

    monkeypatch.setattr(engine, "compute_flow", slow_compute)
    results: dict[str, tuple] = {}

    def ask(name: str) -> None:
        results[name] = compute_flow_cached(video, [0, 1, 2], "dis", cache=cache, backward=True)

    first = threading.Thread(target=ask, args=("first",))
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=ask, args=("second",))
    second.start()
    first.join(10)
    second.join(10)
    assert len(calls) == 1
    (a, hit_a), (b, hit_b) = results["first"], results["second"]
    assert (hit_a, hit_b) == (False, True)
    assert np.array_equal(a.forward, b.forward) and np.array_equal(a.backward, b.backward)
    assert not COMPUTING.busy(f"{cache.root}/" + next(iter(cache.root.glob("*.flowc"))).stem)


def test_waiting_for_another_threads_flow_is_cancellable(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import threading

    import core.flow.engine as engine
    from core.errors import Cancelled
    from core.progress import CancelToken

    video = _write_frames(tmp_path / "clip", sequence("translate", frames=4, size=64)[0])
    cache = FlowCache(tmp_path / "cache")
    release, started = threading.Event(), threading.Event()
    real = engine.compute_flow

    def blocked_compute(frames, method, **kwargs):  # noqa: ANN001, ANN003
        started.set()
        release.wait(10)
        return real(frames, method, **kwargs)

    monkeypatch.setattr(engine, "compute_flow", blocked_compute)
    owner = threading.Thread(target=lambda: compute_flow_cached(video, [0, 1, 2], "dis", cache=cache))
    owner.start()
    assert started.wait(5)
    token = CancelToken()
    threading.Timer(0.1, token.cancel).start()
    with pytest.raises(Cancelled):
        compute_flow_cached(video, [0, 1, 2], "dis", cache=cache, cancel=token)
    release.set()
    owner.join(10)


NESTED = b"[" * 100000 + b"]" * 100000  # json.loads raises RecursionError, not ValueError


@pytest.mark.parametrize("header", [{"info": [1, 2]}, {"info": "abc"}, NESTED], ids=["info-list", "info-text", "nested"])
def test_an_entry_whose_header_is_malformed_is_a_miss_not_a_crash(tmp_path: Path, header) -> None:  # noqa: ANN001
    """The checksum covers the payload only: a header gone bad (or written by hand) must not raise out of ``get``."""
    from framed_files import replace_header

    from core.flow.cache import MAGIC

    cache = FlowCache(tmp_path)
    key = cache.key({"x": 1})
    path = cache.put(key, _flow(3))
    replace_header(path, MAGIC, header)
    assert cache.get(key) is None
    assert not path.exists()


def test_an_entry_written_before_the_caches_shared_their_framing_still_reads(tmp_path: Path) -> None:
    """Caches on users' disks keep their entries: the bytes the cache wrote itself before
    :mod:`core.framed_file` (spelled out here) read back, and a new entry is those same bytes."""
    import hashlib
    import json
    import struct

    forward, backward = _flow(5), _flow(6)
    payload = forward.astype("<f2").tobytes() + backward.astype("<f2").tobytes()
    info = {"method_used": "dis", "fell_back": False, "note": "", "weights_source": None, "device": "cpu"}
    header = json.dumps({"shape": list(forward.shape), "backward": True, "sha256": hashlib.sha256(payload).hexdigest(),
                         "info": info}, default=str).encode("utf-8")
    old = b"TSFLOWC1" + struct.pack("<I", len(header)) + header + payload
    cache = FlowCache(tmp_path)
    key = cache.key({"old": 1})
    cache.path_for(key).write_bytes(old)
    entry = cache.get(key, need_backward=True)
    assert entry is not None and entry.info == info
    np.testing.assert_array_equal(entry.forward, forward.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(entry.backward, backward.astype(np.float16).astype(np.float32))
    assert cache.put(cache.key({"new": 1}), forward, backward, info=info).read_bytes() == old


@pytest.mark.parametrize("shape", [b"[Infinity, 2, 16, 24]", b"[1e400, 2, 16, 24]"], ids=["infinity", "overflowing-float"])
def test_an_entry_whose_shape_is_not_finite_is_a_miss_not_a_crash(tmp_path: Path, shape: bytes) -> None:
    """``int()`` of an infinite size raised OverflowError out of ``get``."""
    from framed_files import replace_header

    from core.flow.cache import MAGIC

    cache = FlowCache(tmp_path)
    key = cache.key({"x": 1})
    path = cache.put(key, _flow(3))
    replace_header(path, MAGIC, b'{"shape": ' + shape + b', "backward": false, "sha256": "-"}')
    assert cache.get(key) is None
    assert not path.exists()


def test_an_entry_whose_shape_overflows_int64_is_a_miss_not_a_crash(tmp_path: Path) -> None:
    """numpy's product of a shape wraps past int64: [2**62, 2, 2, 1] multiplied to 0, matched an empty payload's
    size and checksum, and the reshape raised ValueError out of ``get``."""
    import hashlib
    import json
    import struct

    from core.flow.cache import MAGIC

    header = json.dumps({"shape": [2**62, 2, 2, 1], "backward": False, "sha256": hashlib.sha256(b"").hexdigest(), "info": {}})
    cache = FlowCache(tmp_path)
    key = cache.key({"huge": 1})
    cache.path_for(key).parent.mkdir(parents=True, exist_ok=True)
    cache.path_for(key).write_bytes(MAGIC + struct.pack("<I", len(header)) + header.encode("utf-8"))
    assert cache.get(key) is None
