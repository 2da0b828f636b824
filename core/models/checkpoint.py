"""Checkpoints: one ``.safetensors`` file, weights plus the model config as JSON metadata.

A checkpoint is data, never code: it is read with safetensors (a JSON header
and raw tensor bytes).  A PyTorch pickle (``.pt``/``.pth``) is refused; it is
only opened with ``torch.load(weights_only=True)`` to tell the user whether it
carried code or merely lacks a model config.  Every problem is one line
naming the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from core.atomic import atomic_path, sweep_orphans
from core.errors import CheckpointError
from core.device import resolve_device
import core.models.registry as families
from core.weights import check_state_dict_fits
from core.utf8_name import utf8_name

CHECKPOINT_SUFFIX = ".safetensors"
FORMAT_TAG = "twostream-viewer-checkpoint"
_META_FORMAT = "format"
_META_CONFIG = "config"
_META_EXTRA = "extra"
_PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".tar"}


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint says about itself, read from its header only (no weights loaded)."""

    path: Path
    config: Any  # the family's config: TransformerConfig, ConvNetConfig or RepFlowConfig
    extra: dict[str, Any]
    num_tensors: int
    size_bytes: int


def _structure(config: Any) -> tuple:
    return families.architecture(config)


def save_checkpoint(path: str | os.PathLike[str], model: nn.Module, config: Any = None, *, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``model``'s weights and ``config`` (default: ``model.config``) atomically.

    ``extra`` is any JSON-able dict (training run, dataset, metrics) stored beside
    the config and returned by :func:`read_checkpoint_info`.
    """
    target = Path(path)
    if target.suffix != CHECKPOINT_SUFFIX:
        raise CheckpointError(f"checkpoints are saved as {CHECKPOINT_SUFFIX} files, got suffix {target.suffix!r}", target)
    model_config = getattr(model, "config", None)
    config = config or model_config
    if not families.is_model_config(config):
        raise ValueError(f"save_checkpoint needs a model config of a known family (model.config or the config argument), got {type(config).__name__}")
    if families.is_model_config(model_config) and _structure(model_config) != _structure(config):
        raise ValueError("the config given does not describe this model's architecture (backbone, variant, fusion, classes or input differ)")
    config.validate()
    metadata = {
        _META_FORMAT: FORMAT_TAG,
        _META_CONFIG: json.dumps(config.to_dict(), sort_keys=True),
        _META_EXTRA: json.dumps(dict(extra or {}), sort_keys=True),
    }
    from safetensors.torch import save_file

    sweep_orphans(target.parent, target.name)  # what an earlier save killed mid-write left behind
    with atomic_path(target) as tmp:
        save_file(_plain_state(model), str(tmp), metadata=metadata)
    return target


def _plain_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """CPU, contiguous tensors; any tensor sharing memory with an earlier one is copied
    (safetensors refuses shared storage)."""
    seen: set[int] = set()
    state: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        tensor = value.detach().to("cpu").contiguous()
        ptr = tensor.untyped_storage().data_ptr() if tensor.numel() else -1
        if ptr in seen:
            tensor = tensor.clone()
        elif ptr != -1:
            seen.add(ptr)
        state[key] = tensor
    return state


def read_checkpoint_info(path: str | os.PathLike[str]) -> CheckpointInfo:
    """The config and extra info of a checkpoint, without loading its weights."""
    file = _check_file(path)
    from safetensors import SafetensorError, safe_open

    try:
        with utf8_name(file) as name, safe_open(name, framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            num_tensors = len(list(handle.keys()))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"not a readable safetensors checkpoint ({_first_line(err)})", file) from None
    if metadata.get(_META_FORMAT) != FORMAT_TAG or _META_CONFIG not in metadata:
        raise CheckpointError("has no Two-Stream Viewer model config in its metadata: it is plain safetensors weights, not a checkpoint saved by this program", file)
    try:
        config = families.config_from_dict(json.loads(metadata[_META_CONFIG]))
        extra = json.loads(metadata.get(_META_EXTRA, "{}"))
    except RecursionError:
        raise CheckpointError("bad model config in the checkpoint: nested too deeply", file) from None
    except (ValueError, TypeError, KeyError, AttributeError) as err:  # json.JSONDecodeError is a ValueError
        raise CheckpointError(f"bad model config in the checkpoint: {_first_line(err)}", file) from None
    return CheckpointInfo(path=file, config=config, extra=extra if isinstance(extra, dict) else {}, num_tensors=num_tensors, size_bytes=file.stat().st_size)


def load_checkpoint(path: str | os.PathLike[str], device: str | torch.device = "cpu"):
    """Rebuild the model a checkpoint describes and load its weights: ``(model.eval(), config)``.

    Raises :class:`CheckpointError` for a missing, empty, corrupt or pickled
    file, a missing or bad config (every field type- and range-checked), weights
    that do not fit the config (missing or unexpected keys, a class count that
    differs from the class names, other shapes) and non-finite weights.  The
    shapes are compared with the file's header against the model built on the
    meta device, before any weight is allocated or read: a crafted config or
    header cannot make this allocate more than the model it describes.
    """
    info = read_checkpoint_info(path)
    file, config = info.path, info.config
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    _check_header_fits(file, config)
    try:
        with utf8_name(file) as name:
            state = load_file(name, device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"not a readable safetensors checkpoint ({_first_line(err)})", file) from None
    model = families.build_model(config, pretrained=False)
    _check_state_fits(model, state, config, file)
    for key, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"holds non-finite weights (NaN or inf) in {key}", file)
    model.load_state_dict(state, strict=True)
    return model.to(resolve_device(device)).eval(), config


def _check_header_fits(file: Path, config: Any) -> None:
    """The file's tensor names and shapes (read from its header) against the model's, built on the
    meta device (no memory).  A model that cannot be built there is checked after loading instead."""
    from safetensors import SafetensorError, safe_open

    try:
        with torch.device("meta"):
            skeleton = families.build_model(config, pretrained=False)
    except Exception:  # noqa: BLE001 - some layers compute on real tensors while built: _check_state_fits still runs
        return
    try:
        with utf8_name(file) as name, safe_open(name, framework="pt", device="cpu") as handle:
            header = {key: torch.empty(handle.get_slice(key).get_shape(), device="meta") for key in handle.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"not a readable safetensors checkpoint ({_first_line(err)})", file) from None
    _check_state_fits(skeleton, header, config, file)


def open_classifier(path: str | os.PathLike[str], *, device: str | torch.device = "auto", **kwargs: Any) -> Any:
    """The one door to a checkpoint: load any family's model and return its classifier
    (a :class:`core.inference.ClipClassifier`).  ``kwargs``: ``flow_backend``,
    ``precision``, ``batch_size``, ``flow_method``."""
    resolved = resolve_device(device)
    model, config = load_checkpoint(path, resolved)
    return families.make_classifier(model, config, device=resolved, **kwargs)


def _check_state_fits(model: nn.Module, state: Mapping[str, torch.Tensor], config: Any, file: Path) -> None:
    own = model.state_dict()
    own_keys = getattr(model, "classifier_keys", None)  # the weights whose first dimension is the class count
    classifiers = list(own_keys()) if callable(own_keys) else []
    for classifier in classifiers:
        if classifier in state and classifier in own and state[classifier].shape[0] != own[classifier].shape[0]:
            raise CheckpointError(
                f"wrong class count: the classifier has {state[classifier].shape[0]} outputs but the config lists {config.num_classes} class names",
                file,
            )
    check_state_dict_fits(state, own, what=f"weights do not fit a {config.family} {config.backbone}/{config.variant} model", path=file)


def _check_file(path: str | os.PathLike[str]) -> Path:
    file = Path(path)
    if not file.exists():
        raise CheckpointError("file does not exist", file)
    if file.is_dir():
        raise CheckpointError("is a directory, expected a .safetensors checkpoint", file)
    if not file.is_file():
        raise CheckpointError("is not a regular file (a device, a pipe or a socket)", file)
    if file.stat().st_size == 0:
        raise CheckpointError("file is empty (0 bytes)", file)
    with open(file, "rb") as handle:
        head = handle.read(9)
    if _safetensors_header(head, file.stat().st_size):
        return file  # whatever its name
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":  # torch.save's zip, or a bare pickle
        _refuse_pickle(file)
    if file.suffix.lower() in _PICKLE_SUFFIXES:  # named as a pickle but not one (a text file, say)
        raise CheckpointError(f"is not a checkpoint: neither a PyTorch file nor a {CHECKPOINT_SUFFIX} one (it starts with {head[:8]!r})", file)
    return file


def _safetensors_header(head: bytes, size: int) -> bool:
    """Whether ``head`` starts a safetensors file: a little-endian u64 header length that fits
    the file, then a JSON object.  The length's first byte can be 0x80 (a header of
    0x..80 bytes), which alone would look like a pickle's protocol marker."""
    return len(head) == 9 and head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size


def _refuse_pickle(file: Path) -> None:
    """Always raises: say whether the pickle carried code or is merely not a checkpoint."""
    from core.weights import load_state_dict_file

    try:
        load_state_dict_file(file)  # torch.load(weights_only=True): never runs code
    except CheckpointError as err:
        if "could run code" in err.problem:  # torch's own text suggests weights_only=False: never echo that
            raise CheckpointError(
                f"is a PyTorch pickle that carries code, refused: it could run code when loaded; checkpoints are {CHECKPOINT_SUFFIX} files",
                file,
            ) from None
        raise CheckpointError(f"is a PyTorch pickle, not a {CHECKPOINT_SUFFIX} checkpoint; {err.problem}", file) from None
    raise CheckpointError(
        f"is a PyTorch pickle of bare weights without a model config; checkpoints are {CHECKPOINT_SUFFIX} files saved by this program",
        file,
    )


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
