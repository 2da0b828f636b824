"""Which videos an evaluation scores, and how the dataset's labels map to the model's outputs.

By default the test part of the split recorded in the checkpoint (training
stores it as ``Split.to_dict``: paths relative to the dataset root), so an
evaluation scores exactly the videos the model never trained on.  A split
given on the command line replaces it; the evaluation then says how many of
its test videos the checkpoint trained on, because that accuracy would be
optimistic.  A checkpoint without a recorded split gets the dataset's default
split (official files when present, else seeded and stratified) and says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from core.data import Dataset, Sample, make_split, require_official
from core.data.dataset import file_identity, listed
from core.errors import DatasetError

PARTS = ("test", "val", "train", "all")
SOURCE_CHECKPOINT = "checkpoint"  # the split recorded at training time
SOURCE_GIVEN = "given"  # --split-scheme / --split on the command line
SOURCE_DEFAULT = "default"  # no split recorded, none given


@dataclass(frozen=True)
class TestSet:
    """The videos to score and a one-line account of where they came from."""

    samples: tuple[Sample, ...]
    part: str
    source: str
    description: str
    fingerprint: str | None = None
    missing: tuple[str, ...] = ()  # recorded in the checkpoint's split, absent from the folder
    seen_in_training: tuple[str, ...] = ()  # given test videos the checkpoint trained on
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        where = {
            SOURCE_CHECKPOINT: "the split recorded in the checkpoint",
            SOURCE_GIVEN: "the split given on the command line",
            SOURCE_DEFAULT: "the dataset's default split (the checkpoint records none)",
        }[self.source]
        what = "every video" if self.part == "all" else f"the {self.part} part of {where}"
        tag = f", fingerprint {self.fingerprint}" if self.fingerprint else ""
        return f"{what} ({self.description}{tag}): {len(self.samples)} videos"

    def to_dict(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "source": self.source,
            "description": self.description,
            "fingerprint": self.fingerprint,
            "videos": len(self.samples),
            "missing": list(self.missing),
            "seen_in_training": list(self.seen_in_training),
            "notes": list(self.notes),
        }


def class_mapping(dataset: Dataset, model_classes: Sequence[str], checkpoint: str | os.PathLike[str]) -> list[int]:
    """For each dataset label index, the model's output index of the same class name.

    The two class lists must hold the same names (any order: the mapping is by
    name); otherwise a :class:`DatasetError` lists what differs.
    """
    ours, theirs = list(dataset.classes), list(model_classes)
    if set(ours) != set(theirs):
        missing = sorted(set(theirs) - set(ours))
        extra = sorted(set(ours) - set(theirs))
        parts = []
        if missing:
            parts.append(f"the checkpoint's classes {listed(missing)} are not in the dataset")
        if extra:
            parts.append(f"the dataset's classes {listed(extra)} are not in the checkpoint")
        raise DatasetError(
            f"classes do not match the checkpoint {os.fspath(checkpoint)} "
            f"({len(ours)} in the dataset, {len(theirs)} in the checkpoint): {'; '.join(parts)}",
            dataset.annotation_files[-1] if len(dataset.annotation_files) == 1 else dataset.root,  # where the labels come from
        )
    index = {name: i for i, name in enumerate(theirs)}
    return [index[name] for name in ours]


def recorded_split(extra: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``Split.to_dict`` a training run stored in the checkpoint's ``extra``, if any."""
    from core.training.result import EXTRA_SPLIT

    split = extra.get(EXTRA_SPLIT)
    if split is None:
        return None
    if not isinstance(split, Mapping) or not all(isinstance(split.get(part, []), list) for part in ("train", "val", "test")):
        raise ValueError("the recorded split is not an object of train, val and test lists")  # data gone bad: never ignored
    return split if "test" in split else None


def recorded_settings(extra: Mapping[str, Any]) -> Mapping[str, Any]:
    """The training settings stored in ``extra`` (empty when none): seed, fractions and
    split folder to rebuild a split the way training did."""
    from core.training.result import EXTRA_SETTINGS

    settings = extra.get(EXTRA_SETTINGS)
    return settings if isinstance(settings, Mapping) else {}


def select_test_set(
    dataset: Dataset,
    extra: Mapping[str, Any],
    *,
    part: str = "test",
    scheme: str | None = None,
    official_split: int | None = None,
    seed: int | None = None,
    split_dir: str | os.PathLike[str] | None = None,
) -> TestSet:
    """The samples to evaluate: see the module docstring for the order of preference.

    ``scheme``, ``official_split`` and ``seed`` (of a seeded split) each replace
    the recorded split; what is not given comes from the recorded training
    settings, else the defaults of :func:`core.data.make_split`.
    """
    if part not in PARTS:
        raise DatasetError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
    recorded = recorded_split(extra)
    if part == "all":  # what reading left out (links to nothing, to one file twice) is said for every part
        return TestSet(dataset.samples, part, SOURCE_GIVEN, "all videos in the folder", notes=dataset.notes)
    given = scheme is not None or official_split is not None or seed is not None
    if not given and recorded is not None:
        return _from_record(dataset, recorded, part)
    settings = recorded_settings(extra)
    split = make_split(
        dataset,
        scheme=scheme or str(settings.get("split_scheme", "auto")),
        official_split=int(official_split if official_split is not None else settings.get("official_split", 1)),
        val_fraction=float(settings.get("val_fraction", 0.1)),
        test_fraction=float(settings.get("test_fraction", 0.2)),
        seed=int(seed if seed is not None else settings.get("seed", 0)),
        split_dir=split_dir if split_dir is not None else settings.get("split_dir"),
    )
    if official_split is not None and scheme in (None, "auto", "ucf101", "hmdb51"):
        require_official(split, official_split, dataset)
    samples = split.parts()[part]
    if not samples:
        raise DatasetError(f"the {part} part of the split is empty ({split.description})", dataset.root)
    seen = trained_on(dataset, recorded, samples) if recorded is not None else ()
    source = SOURCE_GIVEN if given else SOURCE_DEFAULT
    return TestSet(samples, part, source, split.description, split.fingerprint(dataset), seen_in_training=seen, notes=split.notes)


def trained_on(dataset: Dataset, recorded: Mapping[str, Any], samples: Sequence[Sample]) -> tuple[str, ...]:
    """Those of ``samples`` whose file the recorded split trained or validated on, by the file and not the name:
    a link under another name (a checkpoint from before links were one sample) is the same video."""
    listed_paths = [dataset.root / str(rel) for rel in [*recorded.get("train", []), *recorded.get("val", [])]]
    by_path = {s.path: s for s in dataset.samples}
    trained = {(file_identity(p), by_path[p].segment if p in by_path else None) for p in listed_paths if p.exists()}
    return tuple(dataset.relative(s) for s in samples if (file_identity(s.path), s.segment) in trained)


def _from_record(dataset: Dataset, recorded: Mapping[str, Any], part: str) -> TestSet:
    listed = recorded.get(part)
    if not isinstance(listed, list):
        raise DatasetError(f"the checkpoint's recorded split has no {part} part")
    if not listed:
        raise DatasetError(f"the {part} part of the split recorded in the checkpoint is empty (a training run with no {part} "
                           "fraction): choose another with --part, --split or --split-number", dataset.root)
    by_relative = {dataset.relative(s): s for s in dataset.samples}
    # a video the split records under its own path (in any part) is that video, never another's stand-in: a test video
    # gone from disk was matched by name to a trained one of another class
    recorded_here = {str(rel) for name in ("train", "val", "test") for rel in recorded.get(name) or []} & set(by_relative)
    by_name: dict[str, Sample | None] = {}
    for rel, s in by_relative.items():  # a file name shared by two videos matches neither
        if rel not in recorded_here:
            by_name[s.path.name] = None if s.path.name in by_name else s
    samples: list[Sample] = []
    missing: list[str] = []
    taken: set[Sample] = set()
    for rel in listed:  # the recorded path (or the video it is a link to); else the same unique file name (laid out otherwise)
        kept = dataset.left_out_as(str(rel))
        sample = by_relative.get(str(rel) if kept is None else kept) or by_name.get(str(rel).rsplit("/", 1)[-1])
        if sample is None:
            missing.append(str(rel))
        elif sample not in taken:  # a video and a link to it, both recorded: one sample
            taken.add(sample)
            samples.append(sample)
    if not samples:
        raise DatasetError(
            f"none of the {len(listed)} {part} videos recorded in the checkpoint's split is in this folder "
            f"(e.g. {listed[0] if listed else '-'}): is this the dataset the model was trained on?",
            dataset.root,
        )
    fingerprint = recorded.get("fingerprint")
    return TestSet(
        tuple(samples),
        part,
        SOURCE_CHECKPOINT,
        str(recorded.get("description", "recorded split")),
        str(fingerprint) if fingerprint else None,
        missing=tuple(missing),
        seen_in_training=trained_on(dataset, recorded, samples),  # none, unless links made one file two videos then
        notes=tuple(dict.fromkeys([*(str(n) for n in recorded.get("notes", []) or []), *dataset.notes])),  # then, and now
    )
