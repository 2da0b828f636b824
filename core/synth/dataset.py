"""Write the synthetic dataset in the UCF101 layout: ``OUT/<Class>/<clip>.mp4``.

Beside the class folders: ``classInd.txt`` (``"1 MoveLeft"``, 1-based like
UCF101's, so :func:`core.data.discover_dataset` keeps this class order),
``synth.json`` (classes, groups, generation settings, the command) and a short
``README.txt``.  Clip ``i`` of class ``C`` depends only on ``(seed, C, i)``, so
an interrupted run resumes where it stopped and writes the same files.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from core.atomic import sweep_orphans, write_text
from core.errors import DatasetError, InputError
from core.progress import CancelToken, check, report
from core.synth.render import APPEARANCE, MIN_SIZE, MOTION, SYNTH_CLASSES, render_clip
from core.synth.writer import DEFAULT_CRF, DEFAULT_FPS, write_mp4

MAX_SIZE = 4096
MAX_FRAMES = 8192  # the video reader's own limit
MAX_CLIP_BYTES = 2 * 2**30
MAX_CLIPS_PER_CLASS = 10_000  # far past any real dataset's classes (UCF101: about 130 clips each); lists stay small

MANIFEST_NAME = "synth.json"
CLASS_INDEX_NAME = "classInd.txt"
README_NAME = "README.txt"
FORMAT = "twostream-synth"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SynthSettings:
    """Everything that decides the dataset's content."""

    clips_per_class: int = 30
    size: int = 112
    frames: int = 32
    seed: int = 0
    fps: int = DEFAULT_FPS
    crf: int = DEFAULT_CRF

    def validate(self) -> None:
        """Raise :class:`InputError` naming the bad setting and its value."""
        if not 1 <= self.clips_per_class <= MAX_CLIPS_PER_CLASS:
            raise InputError(f"--clips-per-class must be from 1 to {MAX_CLIPS_PER_CLASS}, got {self.clips_per_class}")
        if not MIN_SIZE <= self.size <= MAX_SIZE or self.size % 2:
            raise InputError(f"--size must be an even number of pixels from {MIN_SIZE} to {MAX_SIZE}, got {self.size}")
        if not 2 <= self.frames <= MAX_FRAMES:
            raise InputError(f"--frames must be from 2 (flow needs a frame pair) to {MAX_FRAMES}, got {self.frames}")
        clip_bytes = self.size * self.size * 3 * self.frames  # a clip is drawn whole in memory before it is encoded
        if clip_bytes > MAX_CLIP_BYTES:
            raise InputError(f"a clip of {self.frames} frames of {self.size}x{self.size} takes {clip_bytes / 2**30:.1f} GiB in memory "
                             f"(at most {MAX_CLIP_BYTES / 2**30:.0f}): choose fewer frames or a smaller size")
        if not 1 <= self.fps <= 240:
            raise InputError(f"--fps must be between 1 and 240, got {self.fps}")
        if not 0 <= self.crf <= 51:
            raise InputError(f"--crf must be between 0 and 51, got {self.crf}")
        if self.seed < 0:
            raise InputError(f"--seed must be >= 0, got {self.seed}")

    def command(self, out_dir: str | os.PathLike[str]) -> str:
        return (
            f"python main.py synth {os.fspath(out_dir)} --clips-per-class {self.clips_per_class} "
            f"--size {self.size} --frames {self.frames} --seed {self.seed}"
        )


@dataclass(frozen=True)
class SynthResult:
    root: Path
    written: int  # clips encoded by this run
    reused: int  # clips already on disk from an interrupted run
    clips: tuple[Path, ...]


def clip_rng(seed: int, class_name: str, index: int) -> np.random.Generator:
    """The generator of clip ``index`` of ``class_name``: independent of every other clip."""
    return np.random.default_rng([int(seed), zlib.crc32(class_name.encode("utf-8")), int(index)])


def clip_filename(class_name: str, index: int) -> str:
    return f"{class_name}_{index + 1:04d}.mp4"


def _manifest(settings: SynthSettings, out_dir: Path, complete: bool) -> dict:
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "complete": complete,
        "settings": asdict(settings),
        "command": settings.command(out_dir),
        "classes": [{"index": i + 1, **c.to_dict()} for i, c in enumerate(SYNTH_CLASSES)],
        "groups": {
            MOTION: [c.name for c in SYNTH_CLASSES if c.group == MOTION],
            APPEARANCE: [c.name for c in SYNTH_CLASSES if c.group == APPEARANCE],
        },
        "clips": {
            c.name: [f"{c.name}/{clip_filename(c.name, i)}" for i in range(settings.clips_per_class)] for c in SYNTH_CLASSES
        },
    }


def load_manifest(root: str | os.PathLike[str]) -> dict | None:
    """The ``synth.json`` of a synthetic dataset, or ``None`` where ``root`` has none.

    The ablation reads ``groups`` from it to score the motion-only and
    appearance-only classes apart.
    """
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(f"not a readable synthetic-dataset manifest ({err})", path) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DatasetError(f"not a synthetic-dataset manifest (expected format {FORMAT!r})", path)
    return manifest


def _readme(settings: SynthSettings, out_dir: Path) -> str:
    lines = [
        "Synthetic two-stream action dataset (generated; do not edit).",
        "",
        f"Command: {settings.command(out_dir)}",
        f"{len(SYNTH_CLASSES)} classes x {settings.clips_per_class} clips, {settings.frames} frames of "
        f"{settings.size}x{settings.size} px at {settings.fps} fps, H.264 (crf {settings.crf}, yuv420p).",
        "",
        "Motion-only classes come in pairs that look identical in any single frame;",
        "only the direction of motion (optical flow) separates them.",
        "Appearance-only classes share outline, luminance and motion; only colour separates them.",
        "",
    ]
    for i, c in enumerate(SYNTH_CLASSES, start=1):
        lines.append(f"{i:2d} {c.name:<20} {c.group:<10} {c.description}")
    return "\n".join(lines) + "\n"


def _prepare(out: Path, settings: SynthSettings) -> None:
    """Refuse a folder holding anything but this very dataset (resuming is fine)."""
    if out.exists() and not out.is_dir():
        raise DatasetError("exists and is not a folder", out)
    if out.is_dir() and any(out.iterdir()):
        manifest = load_manifest(out)
        if manifest is None:
            raise DatasetError(f"is not empty and holds no {MANIFEST_NAME}; give a new or empty folder", out)
        differences = _differences(manifest, settings)
        if differences:
            raise DatasetError(
                f"holds a synthetic dataset made with other settings ({differences}); "
                "give a new folder or delete this one",
                out,
            )


def _differences(manifest: dict, settings: SynthSettings) -> str:
    """What separates an existing dataset from the one asked for ("" when nothing), setting by setting: the
    command line alone does not show a setting with no option (crf, fps)."""
    found = manifest.get("settings")
    if manifest.get("version") != FORMAT_VERSION:
        return f"format version {manifest.get('version', '?')}, not {FORMAT_VERSION}"
    if not isinstance(found, dict):
        return f"its {MANIFEST_NAME} records no settings"
    wanted = asdict(settings)
    named = [f"{name} {found.get(name, 'unset')}, not {value}" for name, value in wanted.items() if found.get(name) != value]
    named += [f"{name} {found[name]}, not unset" for name in sorted(set(found) - set(wanted))]
    return "; ".join(named)


def generate_dataset(
    out_dir: str | os.PathLike[str],
    *,
    clips_per_class: int = 30,
    size: int = 112,
    frames: int = 32,
    seed: int = 0,
    fps: int = DEFAULT_FPS,
    crf: int = DEFAULT_CRF,
    cancel: Optional[CancelToken] = None,
    progress: Optional[Callable[..., None]] = None,
) -> SynthResult:
    """Render and encode every clip into ``out_dir``; clips already there are kept."""
    settings = SynthSettings(clips_per_class=clips_per_class, size=size, frames=frames, seed=seed, fps=fps, crf=crf)
    settings.validate()
    out = Path(out_dir)
    _prepare(out, settings)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / MANIFEST_NAME, json.dumps(_manifest(settings, out, complete=False), indent=2) + "\n")
    write_text(out / CLASS_INDEX_NAME, "".join(f"{i} {c.name}\n" for i, c in enumerate(SYNTH_CLASSES, start=1)))
    write_text(out / README_NAME, _readme(settings, out))

    total = len(SYNTH_CLASSES) * clips_per_class
    written = reused = 0
    clips: list[Path] = []
    report(progress, 0, total, "")
    for spec in SYNTH_CLASSES:
        sweep_orphans(out / spec.name)  # the half-written clip of a run killed mid-write
        for index in range(clips_per_class):
            check(cancel)
            path = out / spec.name / clip_filename(spec.name, index)
            if path.is_file() and path.stat().st_size > 0:
                reused += 1  # written whole by an earlier run (writes are atomic)
            else:
                video = render_clip(spec.name, clip_rng(seed, spec.name, index), size, frames)
                write_mp4(path, video, fps=fps, crf=crf)
                written += 1
            clips.append(path)
            report(progress, len(clips), total, f"{spec.name}/{path.name}")
    write_text(out / MANIFEST_NAME, json.dumps(_manifest(settings, out, complete=True), indent=2) + "\n")
    return SynthResult(root=out, written=written, reused=reused, clips=tuple(clips))
