"""An on-disk cache of per-clip backbone token grids (and, for fine-tuning, of prepared clips).

With frozen backbones, every epoch would feed the same clips through the same
backbones; computing each clip's token grids once and training the fusion on
the cached grids makes a run minutes instead of hours (seed 000 trains only
the fusion on top of frozen Kinetics-400 backbones).

An entry is one array: a stream's token grid ``(T', H', W', C)`` in float16,
or a prepared clip ``(T, S, S, 3)`` uint8 (RGB frames or flow renderings).
Its key covers everything that decides the array: the video's identity
(resolved path, size, modification time), which clip (ordinal k of K clips
spread uniformly, with clip length and frame stride: together they fix the
start frame for a given file), the augmentation view, the stream, the input
size, the normalisation, the backbone (name, options and a hash of its frozen
weights) and, for the flow stream, the flow method, its settings and the flow
engine's version (:func:`core.flow.settings.flow_identity`) and the colour encoding.  Writes
are atomic; each file carries a SHA-256 of its payload, so a truncated or
corrupt entry is detected, removed and recomputed.  An interrupted extraction
leaves only whole entries behind, so rerunning continues where it stopped.

File layout (:mod:`core.framed_file`): ``MAGIC``, a little-endian uint32 header
length, a JSON header (dtype, shape, digest, info), then the array's bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from core.atomic import sweep_orphans
from core.framed_file import DIGEST_KEY, FramedFileError, payload_digest, read_framed, write_framed

MAGIC = b"TSTOKEN1"
SUFFIX = ".tokens"
CACHE_VERSION = 1  # bump when the preparation of clips changes what an entry holds
_DTYPES = {"float16": np.float16, "uint8": np.uint8, "float32": np.float32}


def default_cache_root() -> Path:
    """``tokens`` beside the flow cache: ``$TWOSTREAM_CACHE_DIR/tokens``, else
    ``$XDG_CACHE_HOME/twostream/tokens``, else ``~/.cache/twostream/tokens``."""
    from core.flow.cache import default_cache_root as flow_root

    return flow_root().parent / "tokens"


def module_fingerprint(module: nn.Module) -> str:
    """A SHA-256 over a module's parameters and buffers (names, shapes, dtypes, bytes):
    the identity of frozen backbone weights, whatever file or seed they came from."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        value = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tuple(value.shape)}:{value.dtype}\n".encode("utf-8"))
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()[:32]


class TokenCache:
    """Arrays in ``root`` (default :func:`default_cache_root`), one file per key."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_root()
        sweep_orphans(self.root)  # entries whose writer was killed mid-write

    @staticmethod
    def key(material: Mapping[str, Any]) -> str:
        """A stable, file-name-safe digest of the key material (any JSON-able mapping)."""
        text = json.dumps({"cache": CACHE_VERSION, **material}, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]

    def path_for(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}{SUFFIX}"

    def contains(self, key: str) -> bool:
        """Whether a file exists for ``key`` (not whether it is intact: :meth:`get` checks that)."""
        return self.path_for(key).is_file()

    def get(self, key: str) -> np.ndarray | None:
        """The array for ``key``, or ``None`` when absent or corrupt (a corrupt file is removed)."""
        path = self.path_for(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        decoded = _decode(data)
        if decoded is None:
            try:
                path.unlink()
            except OSError:
                pass
            return None
        return decoded[0]

    def info(self, key: str) -> dict[str, Any] | None:
        """The ``info`` an entry was written with (``None`` when absent or corrupt)."""
        try:
            decoded = _decode(self.path_for(key).read_bytes())
        except OSError:
            return None
        return None if decoded is None else decoded[1]

    def put(self, key: str, array: np.ndarray, info: Mapping[str, Any] | None = None) -> Path:
        """Write ``array`` (float16, uint8 or float32) atomically under ``key``."""
        array = np.ascontiguousarray(array)
        dtype = array.dtype.name
        if dtype not in _DTYPES:
            raise ValueError(f"token cache stores float16, uint8 or float32 arrays, got {dtype}")
        payload = array.tobytes()
        header = {"dtype": dtype, "shape": list(array.shape), DIGEST_KEY: payload_digest(payload), "info": dict(info or {})}
        return write_framed(self.path_for(key), MAGIC, header, payload, sort_keys=True)

    def entries(self) -> list[Path]:
        """Every entry file (for tests and clean-up)."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.glob(f"*/*{SUFFIX}") if not p.name.startswith("."))


def _decode(data: bytes) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Parse and verify one entry; ``None`` for anything malformed."""
    try:
        framed = read_framed(data, MAGIC)
        dtype = _DTYPES[framed.header["dtype"]]
        shape = tuple(int(n) for n in framed.header["shape"])
        info = dict(framed.header.get("info", {}))
        if any(n < 0 or n >= 2**62 for n in shape):  # sizes numpy cannot multiply (a damaged or hostile header)
            return None
        payload = framed.checked_payload(int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize)
    except (FramedFileError, ValueError, KeyError, TypeError):
        return None
    return np.frombuffer(payload, dtype=dtype).reshape(shape).copy(), info
