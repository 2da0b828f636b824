"""Finding pretrained weights: an explicit file, then the torch hub cache, then a download.

RAFT, the Kinetics-400 video backbones and the ImageNet ResNets all resolve
through :func:`resolve_state_dict`, so the user learns one rule and one message
("what is missing, where to put it") whatever the model.  Files are loaded as
data only: safetensors, or ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import pickle
import sys
import warnings
from pathlib import Path
from typing import Mapping
from urllib.parse import urlparse

import torch

from core.errors import CheckpointError, WeightsUnavailable

OFFLINE_ENV = "TWOSTREAM_OFFLINE"


def downloads_allowed() -> bool:
    """False when ``TWOSTREAM_OFFLINE`` is set (tests, air-gapped machines)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in {"1", "true", "yes"}


def hub_checkpoint_path(url: str) -> Path:
    """Where ``torch.hub`` keeps the file downloaded from ``url``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def load_state_dict_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Load a state dict from ``.safetensors`` or a tensor-only pickle, never running code.

    A dict wrapping the weights under ``state_dict`` or ``model`` is unwrapped.
    """
    file = Path(path)
    if not file.exists():
        raise CheckpointError("file does not exist", file)
    if file.is_dir():
        raise CheckpointError("is a directory, expected a weights file", file)
    if not file.is_file():
        raise CheckpointError("is not a regular file (a device, a pipe or a socket)", file)
    if file.stat().st_size == 0:
        raise CheckpointError("file is empty (0 bytes)", file)
    if file.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from core.utf8_name import utf8_name

        try:
            with utf8_name(file) as name:
                return dict(load_file(name, device="cpu"))
        except (SafetensorError, OSError, ValueError) as err:
            raise CheckpointError(f"not a readable safetensors file ({err})", file) from None
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing: the one error line says it
            warnings.simplefilter("ignore")
            data = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's own message suggests weights_only=False, i.e. running the file's code: never repeat that advice
        detail = str(err).partition("WeightsUnpickler error:")[2].strip().splitlines()
        if not detail or "global" in detail[0].lower() or _pickle_builds_objects(file):
            raise CheckpointError("refused to load: the file is not plain tensor data (it holds Python objects that could run code when unpickled)", file) from None
        raise CheckpointError(f"not a readable PyTorch weights file ({detail[0]})", file) from None
    except Exception as err:  # noqa: BLE001 - arbitrary bytes fail deep in the legacy unpickler (KeyError, IndexError, ...)
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise CheckpointError(f"not a readable PyTorch weights file ({type(err).__name__}: {first})"[:300], file) from None
    for key in ("state_dict", "model", "model_state"):
        if isinstance(data, Mapping) and key in data and isinstance(data[key], Mapping):
            data = data[key]
            break
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError("does not hold a state dict of tensors", file)
    return dict(data)


# url -> why its download failed: an offline machine tries (and prints "Downloading ...") once per process, not per model built
_FAILED_DOWNLOADS: dict[str, str] = {}


_OBJECT_OPCODES = frozenset({"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "NEWOBJ", "NEWOBJ_EX", "BUILD"})


def _pickle_builds_objects(file: Path) -> bool:
    """Whether ``file`` is a plain pickle that imports or calls something (read opcode by opcode, never run):
    torch's safe reader stops at the first opcode it lacks, before it would have seen such a one."""
    import pickletools

    try:
        with file.open("rb") as handle:
            return any(op.name in _OBJECT_OPCODES for op, _arg, _pos in pickletools.genops(handle))
    except Exception:  # noqa: BLE001 - not a pickle at all (or a torch zip): nothing that builds objects
        return False


def _download(url: str, target: Path) -> dict[str, torch.Tensor]:
    """Fetch ``url`` into the hub cache (torch writes a temporary and moves it in) and load it as data.

    Not ``torch.hub.load_state_dict_from_url``: it prints "Downloading ..." before it knows there is a
    network, so an offline run's one error line came second.  A progress bar shows on a terminal only.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(url, str(target), progress=sys.stderr.isatty())
    try:
        return load_state_dict_file(target)
    except CheckpointError:
        target.unlink(missing_ok=True)  # e.g. a proxy's HTML page: not kept in the cache as weights
        raise


def resolve_state_dict(
    *,
    what: str,
    url: str | None,
    explicit_path: str | os.PathLike[str] | None = None,
    option_hint: str = "",
    allow_download: bool | None = None,
) -> tuple[dict[str, torch.Tensor], str]:
    """Return ``(state_dict, source)`` where ``source`` says where the weights came from.

    ``what`` names the weights in messages ("RAFT-large (C+T+S+K+H)").  An explicit
    path that does not load is an error of its own; otherwise a miss everywhere
    raises :class:`WeightsUnavailable` naming the file to place in the hub cache
    and the option (``option_hint``) that points at a file.
    """
    if explicit_path is not None and str(explicit_path) != "":
        return load_state_dict_file(explicit_path), str(explicit_path)
    cached = hub_checkpoint_path(url) if url else None
    if cached is not None and cached.exists():
        return load_state_dict_file(cached), str(cached)
    allow = downloads_allowed() if allow_download is None else allow_download
    problem = "downloads are disabled" if not allow else ""
    if allow and url and url in _FAILED_DOWNLOADS:
        problem = _FAILED_DOWNLOADS[url]
    elif allow and url:
        try:
            return _download(url, cached), url
        except CheckpointError:
            raise
        except Exception as err:  # noqa: BLE001 - any network failure means "not available"
            problem = f"download failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}".rstrip(": ")
            _FAILED_DOWNLOADS[url] = problem
    where = f"put {cached.name} in {cached.parent}" if cached is not None else "give the file explicitly"
    option = f" or pass {option_hint} PATH" if option_hint else ""
    raise WeightsUnavailable(f"{what} weights are not available ({problem or 'no download address'}): {where}{option}")


def check_state_dict_fits(
    state: Mapping[str, torch.Tensor],
    own: Mapping[str, torch.Tensor],
    *,
    what: str,
    path: str | os.PathLike[str] | None,
) -> None:
    """Raise :class:`CheckpointError` ("<path>: <what>: ...") unless ``state`` has exactly
    the keys of ``own`` with the same shapes; the message names the keys that differ."""
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointError(
            f"{what}: {len(missing)} missing keys (e.g. {missing[:3]}), {len(unexpected)} unexpected keys (e.g. {unexpected[:3]})",
            path,
        )
    for key, value in state.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise CheckpointError(f"{what}: {key} has shape {tuple(value.shape)}, expected {tuple(own[key].shape)}", path)
        if own[key].is_floating_point() and not value.is_floating_point():  # loading would convert it without a word
            kind = str(value.dtype).removeprefix("torch.")
            raise CheckpointError(f"{what}: {key} holds {kind} values, expected floating-point weights", path)
