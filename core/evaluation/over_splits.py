"""The three-split protocol of UCF101 and HMDB51: one model per official split, the mean of their accuracies.

Seeds 002 and 004 report "accuracy averaged over the three splits": each split
trains its own model on its training list and tests it on its test list.
``train --splits 1,2,3`` writes one checkpoint per split (:func:`split_checkpoint`
names them), ``eval --splits 1,2,3`` and ``ablate --splits 1,2,3`` score each
on its own split and report each result with the mean and the standard
deviation over splits (n - 1 in the denominator: a sample of splits).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from core.errors import InputError

PLACEHOLDER = "{split}"
FIGURES = ("top1", "top5", "mean_class_accuracy")
MAX_SPLIT = 99  # the datasets have 3; anything larger is a typo


def parse_splits(text: str) -> tuple[int, ...]:
    """``"1,2,3"`` -> (1, 2, 3): distinct official split numbers, in the order given."""
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    try:
        numbers = tuple(int(item) for item in items)
    except ValueError:
        raise InputError(f"--splits must be comma-separated split numbers, e.g. 1,2,3, got {text!r}") from None
    if not numbers or any(not 1 <= n <= MAX_SPLIT for n in numbers):
        raise InputError(f"--splits must list official split numbers from 1 (UCF101 and HMDB51 have 1-3), got {text!r}")
    if len(set(numbers)) != len(numbers):
        raise InputError(f"--splits lists a split twice: {text!r}")
    return numbers


def split_checkpoint(path: str | os.PathLike[str], number: int) -> Path:
    """Split ``number``'s checkpoint: ``{split}`` in ``path`` replaced by the number, else
    ``-splitN`` before the suffix (``runs/ucf.safetensors`` -> ``runs/ucf-split2.safetensors``)."""
    text = os.fspath(path)
    if PLACEHOLDER in text:
        return Path(text.replace(PLACEHOLDER, str(number)))
    plain = Path(text)
    return plain.with_name(f"{plain.stem}-split{number}{plain.suffix}")


def split_folder(out_dir: str | os.PathLike[str], number: int) -> Path:
    """Where split ``number``'s own files go inside a several-split run's folder."""
    return Path(out_dir) / f"split{number}"


def check_official(dataset: Any, number: int, split_dir: str | os.PathLike[str] | None) -> str:
    """The official scheme (``ucf101``/``hmdb51``) that has split ``number``'s files; an
    :class:`InputError` when the folder has none (a seeded split has no numbers to average over)."""
    from core.data import make_split, require_official

    return require_official(make_split(dataset, official_split=number, split_dir=split_dir), number, dataset)


def summarise_splits(results: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """Each split's headline figures, and their mean and standard deviation over the splits."""
    per_split = {str(n): {name: results[n].get(name) for name in FIGURES} for n in results}
    summary: dict[str, Any] = {"splits": [int(n) for n in results], "per_split": per_split}
    for name in FIGURES:
        values = [float(v[name]) for v in per_split.values() if v[name] is not None]
        summary[name] = {"mean": _mean(values), "std": _std(values), "count": len(values)}
    return summary


def splits_table(summary: Mapping[str, Any], title: str = "") -> str:
    """The per-split figures and their mean ± std, as printed by ``eval --splits``."""
    lines = [title] if title else []
    lines.append(f"{'split':<8}" + "".join(f"{name:>22}" for name in FIGURES))
    for number, figures in summary["per_split"].items():
        lines.append(f"{number:<8}" + "".join(f"{_pct(figures[name]):>22}" for name in FIGURES))
    lines.append(f"{'mean':<8}" + "".join(f"{_mean_std(summary[name]):>22}" for name in FIGURES))
    return "\n".join(lines) + "\n"


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _std(values: Sequence[float]) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.1f}%"


def _mean_std(figure: Mapping[str, Any]) -> str:
    if figure["mean"] is None:
        return "-"
    return f"{100.0 * figure['mean']:.1f} ± {100.0 * figure['std']:.1f}%"
