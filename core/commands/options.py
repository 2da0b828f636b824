"""Checks of the training and evaluation commands' options, shared by ``train``, ``ablate`` and ``eval``.

The argparse types refuse a bad value while the command line is parsed (one
``error: ... argument --lr: ...`` line, exit 2); :func:`check_cache_dir` probes
``--cache-dir`` before any video is read.  Module-level imports stay light: the
command line lists every command's help.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
from pathlib import Path

# Clips per video, in training and in testing: 10x the seeds' densest protocol (25 snippets a video).  Clips are
# spread uniformly over a video; past a few hundred they only repeat clips (a 20-frame video holds 13 different
# 8-frame clips) while extraction and the token cache grow with each.
MAX_CLIPS_PER_VIDEO = 250
# The optimisers hold --lr and --weight-decay as float32 scalars: a finite value past float32's range (1e39) made
# torch raise "value cannot be converted to type float without overflow" at the first step, after extraction.
MAX_OPTIMISER_VALUE = 3.4028234663852886e38


def _number(text: str) -> float:
    """An optimiser's setting: a finite number that float32 holds."""
    from core.cli import parsed_number

    value = parsed_number(text, float)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    if abs(value) > MAX_OPTIMISER_VALUE:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_OPTIMISER_VALUE:.3g} (the optimiser computes in float32), got {text}")
    return value


def learning_rate(text: str) -> float:
    """An argparse type for ``--lr``: a finite number > 0 (nan, inf and 0 train nothing)."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type for ``--weight-decay``: a finite number >= 0."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def augmentation(text: str) -> str:
    """An argparse type for ``--augment``: ``none`` or parts of flip, crop and jitter joined by ``+`` in any order,
    returned in the canonical order (``jitter+flip`` -> ``flip+jitter``), so a resumed run compares equal."""
    from core.training.settings import canonical_augment

    try:
        return canonical_augment(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def clips_per_video(text: str) -> int:
    """An argparse type for ``--clips-per-video``: 1 to :data:`MAX_CLIPS_PER_VIDEO`."""
    from core.cli import parsed_number

    value = parsed_number(text, int)
    if not 1 <= value <= MAX_CLIPS_PER_VIDEO:
        raise argparse.ArgumentTypeError(
            f"must be from 1 to {MAX_CLIPS_PER_VIDEO} (training clips per video; more only repeat the clips a "
            f"video's frames hold), got {value}")
    return value


def stride_set(text: str) -> tuple[int, ...]:
    """An argparse type for ``--fusion-strides``: whole numbers of frames joined by commas (``1,5,10``), each
    once, within a ConvNet config's limits (:data:`~core.models.convnet.config.FUSION_STRIDES`), returned in
    increasing order (so a resumed run compares equal)."""
    from core.cli import parsed_number
    from core.models.convnet.config import FUSION_STRIDES as rule

    values = tuple(sorted(parsed_number(part.strip(), int) for part in text.split(",")))  # never empty: split gives a part
    try:
        rule.check("--fusion-strides", values)  # the config's own rule: each in range, at most that many, each once
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 1 to {rule.longest} different whole numbers of frames from {rule.low} to {rule.high} "
                                         f"joined by commas, got {text!r}") from None
    return values


def check_cache_dir(path: str | os.PathLike[str] | None, option: str = "--cache-dir") -> None:
    """An :class:`~core.errors.InputError` (exit 2) unless ``path`` is a folder that exists or can be
    created, and can be written: it is created and probed with a temporary file, before any work."""
    if path is None:
        return
    import tempfile

    from core.errors import InputError

    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder} exists and is not a folder")
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        if folder.exists() and not folder.is_dir():
            problem = "exists and is not a folder"
        elif err.errno in (errno.EEXIST, errno.ENOTDIR):  # a file on the way to it
            problem = "a file stands where a folder of its path should be"
        else:
            problem = err.strerror or str(err)
        raise InputError(f"{option} {os.fspath(path)}: cannot be used as the cache folder: {problem}") from None


def check_file_option(path: str | os.PathLike[str] | None, option: str) -> None:
    """An :class:`~core.errors.InputError` when a file option names no file, whether or not this run needs it
    (``--raft-weights`` for a model whose flow is no RAFT: a typo is said, not ignored)."""
    from core.errors import InputError

    if path is not None and not Path(path).is_file():
        raise InputError(f"{option}: no such file", path)
