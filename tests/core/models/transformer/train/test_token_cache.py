"""The token cache file format, backbone fingerprints and the augmentation views."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.models.shared.backbones import build_backbone
from core.sampling import resize_and_crop
from core.models.transformer.train.token_cache import TokenCache, module_fingerprint
from core.training.views import corner_crop, view_crop, view_names


def test_entries_round_trip_exactly(tmp_path):
    cache = TokenCache(tmp_path)
    tokens = (np.random.default_rng(0).standard_normal((4, 2, 2, 16)) * 3).astype(np.float16)
    frames = np.random.default_rng(1).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    key_a, key_b = TokenCache.key({"clip": 0}), TokenCache.key({"clip": 1})
    assert key_a != key_b and key_a == TokenCache.key({"clip": 0})
    cache.put(key_a, tokens, {"rank": 1})
    cache.put(key_b, frames)
    np.testing.assert_array_equal(cache.get(key_a), tokens)
    assert cache.get(key_a).dtype == np.float16
    np.testing.assert_array_equal(cache.get(key_b), frames)
    assert cache.info(key_a) == {"rank": 1}
    assert cache.get(TokenCache.key({"clip": 2})) is None
    assert len(cache.entries()) == 2
    with pytest.raises(ValueError, match="got float64"):
        cache.put(key_a, np.zeros(3))


@pytest.mark.parametrize("damage", ["flip_payload_byte", "truncate", "bad_magic", "bad_header"])
def test_a_damaged_entry_reads_as_missing_and_is_removed(tmp_path, damage):
    cache = TokenCache(tmp_path)
    key = TokenCache.key({"clip": 0})
    path = cache.put(key, np.arange(64, dtype=np.float16).reshape(4, 16))
    data = bytearray(path.read_bytes())
    if damage == "flip_payload_byte":
        data[-3] ^= 0x40
    elif damage == "truncate":
        data = data[:-10]
    elif damage == "bad_magic":
        data[:4] = b"XXXX"
    else:
        data[14:20] = b"{{{{{{"
    path.write_bytes(bytes(data))
    assert cache.get(key) is None
    assert not path.exists()


@pytest.mark.parametrize("header", [{"shape": [-2, -2, 16]}, {"shape": [2**70, 0]}, b"[" * 100000 + b"]" * 100000],
                         ids=["negative-shape", "huge-shape", "nested"])
def test_an_entry_whose_header_is_malformed_reads_as_missing_not_a_crash(tmp_path, header):
    """The checksum covers the payload only: a shape of negative sizes (reshape raised) or JSON nested too deep
    (RecursionError) in the header is a damaged entry."""
    from framed_files import replace_header

    from core.models.transformer.train.token_cache import MAGIC

    cache = TokenCache(tmp_path)
    key = TokenCache.key({"clip": 1})
    path = cache.put(key, np.arange(64, dtype=np.float16).reshape(4, 16))
    replace_header(path, MAGIC, header)
    assert cache.info(key) is None
    assert cache.get(key) is None
    assert not path.exists()


def test_an_entry_written_before_the_caches_shared_their_framing_still_reads(tmp_path):
    """Token caches on users' disks keep their entries: the bytes the cache wrote itself before
    :mod:`core.framed_file` (spelled out here) read back, and a new entry is those same bytes."""
    import hashlib
    import json
    import struct

    tokens = np.arange(96, dtype=np.float16).reshape(2, 3, 16)
    payload = tokens.tobytes()
    header = json.dumps({"dtype": "float16", "shape": [2, 3, 16], "sha256": hashlib.sha256(payload).hexdigest(),
                         "info": {"video": "/v/a.mp4", "start": 4, "view": "centre", "stream": "rgb", "rank": 0}},
                        sort_keys=True).encode("utf-8")
    old = b"TSTOKEN1" + struct.pack("<I", len(header)) + header + payload
    cache = TokenCache(tmp_path)
    key = TokenCache.key({"old": 1})
    cache.path_for(key).parent.mkdir(parents=True)
    cache.path_for(key).write_bytes(old)
    np.testing.assert_array_equal(cache.get(key), tokens)
    assert cache.info(key) == {"video": "/v/a.mp4", "start": 4, "view": "centre", "stream": "rgb", "rank": 0}
    new = cache.put(TokenCache.key({"new": 1}), tokens, cache.info(key))
    assert new.read_bytes() == old


@pytest.mark.parametrize("shape", [[float("inf"), 16], b'{"dtype": "float16", "shape": [1e400], "sha256": "-"}'],
                         ids=["infinity", "overflowing-float"])
def test_an_entry_whose_shape_is_not_finite_reads_as_missing_not_a_crash(tmp_path, shape):
    """``int()`` of an infinite size raised OverflowError out of ``get`` and ``info``."""
    from framed_files import replace_header

    from core.models.transformer.train.token_cache import MAGIC

    cache = TokenCache(tmp_path)
    key = TokenCache.key({"clip": 1})
    path = cache.put(key, np.arange(64, dtype=np.float16).reshape(4, 16))
    replace_header(path, MAGIC, {"shape": shape} if isinstance(shape, list) else shape)
    assert cache.info(key) is None
    assert cache.get(key) is None
    assert not path.exists()


def test_backbone_fingerprint_follows_the_weights():
    torch.manual_seed(0)
    a = build_backbone("tiny", pretrained=False, dim=16)
    torch.manual_seed(0)
    b = build_backbone("tiny", pretrained=False, dim=16)
    assert module_fingerprint(a) == module_fingerprint(b)
    with torch.no_grad():
        b.stem[0].weight[0, 0, 0, 0, 0] += 1e-3
    assert module_fingerprint(a) != module_fingerprint(b)


def test_views_are_the_centre_crop_its_mirror_and_corner_crops():
    frames = np.random.default_rng(0).integers(0, 256, (3, 48, 64, 3), dtype=np.uint8)
    assert view_names("none") == ["centre"]
    assert view_names("flip") == ["centre", "centre+flip"]
    assert len(view_names("crop")) == 5 and len(view_names("flip+crop")) == 10
    centre, _ = resize_and_crop(frames, 32)
    np.testing.assert_array_equal(view_crop("flip", 0)(frames, 32)[0], centre)
    np.testing.assert_array_equal(view_crop("flip", 1)(frames, 32)[0], centre[:, :, ::-1])
    # corner crops: the shorter side resized to 32 * 8/7 = 37 (48x64 -> 37x49), then a 32x32 corner
    import cv2

    big = np.stack([cv2.resize(f, (49, 37), interpolation=cv2.INTER_AREA) for f in frames])
    top_left, cmap = corner_crop(frames, 32, "top_left")
    np.testing.assert_array_equal(top_left, big[:, :32, :32])
    bottom_right, cmap = corner_crop(frames, 32, "bottom_right")
    np.testing.assert_array_equal(bottom_right, big[:, -32:, -32:])
    assert (cmap.offset_x, cmap.offset_y) == (49 - 32, 37 - 32)
    with pytest.raises(ValueError, match="views 0..1, got 2"):
        view_crop("flip", 2)


@pytest.mark.parametrize("augment,view", [("flip", 1), ("flip+crop", 3)])
def test_a_mirrored_view_returns_the_map_of_what_it_shows(augment: str, view: int):
    """A mirrored training view's crop map says it is mirrored: a frame pixel lands in the crop where the map puts it."""
    frames = np.zeros((1, 48, 64, 3), np.uint8)
    frames[0, 20:28, 8:16] = 255  # a patch left of centre
    assert view_names(augment)[view].endswith("+flip")
    out, cmap = view_crop(augment, view)(frames, 32)
    assert cmap.flipped
    ys, xs = np.nonzero(out[0, :, :, 0] > 128)
    centre_x, _ = cmap.to_source(float(xs.mean()) + 0.5, float(ys.mean()) + 0.5)
    assert abs(centre_x - 12.0) < 2.0
