"""Choosing the compute device: ``auto`` means CUDA when present, else CPU."""

from __future__ import annotations

import torch

from core.errors import InputError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """Turn a user's device choice into a ``torch.device``; refuse CUDA when absent."""
    if isinstance(name, torch.device):
        return name
    text = check_device_name(name)
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise InputError(f"device {name!r} was asked for but CUDA is not available on this machine (use --device cpu or auto)")
    return torch.device(text)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """What ``precision`` runs a model in on ``device``: a half type under autocast, ``None`` for float32 ("auto":
    bfloat16 on a CUDA card that has it, else float16; float32 on a CPU)."""
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(precision)
    if precision == "auto" and device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return dtype


def check_device_name(name: str) -> str:
    """``name`` if it names a device (auto, cpu, cuda, cuda:N), whether or not this machine has it: for
    work that may not use the device at all (OpenCV flow), where a typo must still not pass unnoticed."""
    text = str(name).strip().lower()
    head, _, index = text.partition(":")
    if text in ("auto", "cpu", "cuda") or (head == "cuda" and index.isdigit()):
        return text
    raise InputError(f"unknown device {name!r}: choose one of {', '.join(DEVICE_CHOICES)} (or cuda:N)")


def available_devices() -> list[str]:
    """Device names a user can pick from (CUDA devices listed only when present)."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names = [f"cuda:{i}" for i in range(torch.cuda.device_count())] + names
    return names
