"""The ablation of seed 000: RGB-only, flow-only, concatenation and attention fusion,
trained and tested on the same split and the same cached token grids.

Every variant is trained by :func:`core.training.train` with the same settings
but its variant, into one output folder and one token cache.  Training seeds
each stream's frozen backbone from the run's seed and the stream's name, so
the RGB backbone of the RGB-only model is the RGB backbone of the fusion model:
their token grids share cache keys, and each clip's grids are extracted once
for all four variants (the training, validation and test clips alike; the
extraction counts in the result show it).  Each variant is then tested on the
split's test part from the cached grids (``forward_tokens``), K clips per
video with their softmaxes averaged, exactly as ``eval`` scores a video.

On the synthetic dataset (a ``synth.json`` beside the class folders) the
accuracy is also given on the motion-only and the appearance-only classes
apart, with the chance level of a model blind to what separates them: 1/2 for
a motion class (its pair looks the same in any frame), 1/4 for an appearance
class (the four balls move alike).

Other model families (``families=("transformer", "convnet", "repflow")``, or any registered one):
each family's variants (convnet: rgb, flow, late, weighted, learned, feature,
conv; repflow: rgb, flow, late, learned) are trained end to end by the same
:func:`core.training.train` on the same split (same seed and fractions: the
split fingerprints are checked) and tested like ``eval`` tests them (the
family's classifier on the decoded test videos, its own video-level sampling:
25 snippets for the ConvNet, ``test_clips`` clips for repflow).  Their rows
are keyed ``family/variant`` (``convnet/late``); the transformer's keep their
bare names.  ``fusion_gains`` gives, per family, each fused variant's top-1
minus that of the family's better single stream.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from core.data import Dataset, SkippedVideos, discover_dataset
from core.errors import CoreError, InputError, WeightsUnavailable
from core.evaluation.evaluate import Evaluation, VideoResult
from core.evaluation.metrics import group_accuracy
from core.evaluation.test_set import SOURCE_CHECKPOINT, TestSet, class_mapping
from core.evaluation.views import Views
from core.models.registry import default_family, family_names
from core.models.registry import family as registry_family
from core.progress import CancelToken, check

SINGLE_STREAMS = ("rgb", "flow")
RESULT_NAME = "ablation.json"
LogFunction = Callable[[str], None]


@dataclass(frozen=True)
class ClassGroup:
    """Classes that one stream alone cannot tell apart (synthetic data)."""

    name: str
    classes: tuple[str, ...]
    chance: float  # top-1 accuracy of a model blind to what separates these classes

    def to_dict(self) -> dict[str, Any]:
        return {"classes": list(self.classes), "chance": self.chance}


def synthetic_groups(dataset_root: str | os.PathLike[str]) -> tuple[ClassGroup, ...]:
    """The motion-only and appearance-only groups of a synthetic dataset (empty for other data).

    A class's confusable set is its motion pair, or its whole group when it
    has no pair; the group's chance level is the mean of 1/|confusable set|.
    """
    from core.synth import load_manifest

    manifest = load_manifest(dataset_root)
    if manifest is None:
        return ()
    classes = {c["name"]: c for c in manifest.get("classes", []) if isinstance(c, Mapping) and "name" in c}
    groups = []
    for name, members in (manifest.get("groups") or {}).items():
        members = tuple(str(m) for m in members)
        if not members:
            continue
        inverse = []
        for member in members:
            pair = (classes.get(member) or {}).get("pair")
            confusable = [m for m in members if (classes.get(m) or {}).get("pair") == pair] if pair else members
            inverse.append(1.0 / len(confusable))
        groups.append(ClassGroup(str(name), members, float(np.mean(inverse))))
    return tuple(groups)


def probe_flow(method: str, raft_weights: str | None = None) -> dict[str, Any]:
    """What the flow engine will really use for ``method`` (RAFT falls back without weights;
    training then refuses to run, and this says why in the result)."""
    from core.flow import compute_flow

    frames = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    result = compute_flow(frames, method, device="cpu", raft_weights=raft_weights)
    return {"requested": method, "method": str(result.method_used), "fell_back": bool(result.fell_back), "note": str(result.note or "")}


@dataclass(frozen=True, eq=False)
class VariantOutcome:
    """One variant: how its training went and how it scored on the test part."""

    variant: str
    train: Any  # core.training.TrainResult
    evaluation: Evaluation
    test_extraction: dict[str, int]  # arrays computed / found in the cache for the test clips
    train_seconds: float
    family: str = ""  # empty: the default family

    def __post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", default_family())

    def to_dict(self, groups: Sequence[ClassGroup]) -> dict[str, Any]:
        metrics = self.evaluation.metrics()
        best = self.train.best if self.train.best_epoch else {}
        entry: dict[str, Any] = {key: metrics[key] for key in ("top1", "top5", "mean_class_accuracy", "per_class")}
        entry["support"] = metrics["video_level"]["support"]
        entry["videos"] = metrics["video_level"]["count"]
        entry["clip_level"] = {key: metrics["clip_level"][key] for key in ("top1", "top5", "count")}
        if groups:
            entry["groups"] = {g.name: self.group_accuracy(g) for g in groups}
        entry["checkpoint"] = os.fspath(self.train.checkpoint)
        entry["best_epoch"] = self.train.best_epoch
        entry["epochs_run"] = self.train.epochs_run
        entry["stopped_early"] = self.train.stopped_early
        entry["val_loss"] = best.get("val_loss")
        entry["val_acc"] = best.get("val_acc")
        entry["train_seconds"] = round(self.train_seconds, 2)
        entry["test_extraction"] = dict(self.test_extraction)
        entry["family"] = self.family
        entry["variant"] = self.variant
        entry["clips_per_video"] = self.evaluation.clips_per_video
        return entry

    def group_accuracy(self, group: ClassGroup) -> float | None:
        names = self.evaluation.class_names
        value = group_accuracy(self.evaluation.video_scores, self.evaluation.video_labels, [names.index(c) for c in group.classes])
        return None if math.isnan(value) else value


@dataclass(frozen=True, eq=False)
class Ablation:
    """Every variant's outcome on one split, and the seed's comparison table."""

    dataset_root: Path
    out_dir: Path
    settings: Any  # the base core.training.TrainSettings (its variant is ignored)
    variants: dict[str, VariantOutcome]
    groups: tuple[ClassGroup, ...]
    test_set: TestSet
    clips_per_video: int
    flow: dict[str, Any] | None
    skipped: SkippedVideos
    split_counts: dict[str, int]
    seconds: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    crops: int = 1  # spatial crops per test clip (multi-view testing)

    @property
    def class_names(self) -> tuple[str, ...]:
        return next(iter(self.variants.values())).evaluation.class_names

    def gains(self) -> dict[str, dict[str, float | None]]:
        """The seed's: attention fusion minus each other variant of its family (the transformer's rgb, flow,
        concat), in accuracy (0.05 = 5 points); empty without fusion.  Other families' rows have their own
        fused-minus-better-stream figure (:meth:`fusion_gains`), not the transformer's fusion minus theirs."""
        if "fusion" not in self.variants:
            return {}
        fusion = self.variants["fusion"].evaluation.metrics()
        family = self.variants["fusion"].family
        out = {}
        for name, outcome in self.variants.items():
            if name == "fusion" or outcome.family != family:
                continue
            other = outcome.evaluation.metrics()
            out[name] = {key: _difference(fusion[key], other[key]) for key in ("top1", "top5")}
        return out

    def fusion_gains(self) -> dict[str, dict[str, float | None]]:
        """Per family: each fused variant's top-1 minus the family's better single stream's
        (``{"convnet": {"convnet/late": 0.12, ...}}``); a family without both streams has none."""
        out: dict[str, dict[str, float | None]] = {}
        for family in dict.fromkeys(o.family for o in self.variants.values()):
            rows = {key: o for key, o in self.variants.items() if o.family == family}
            singles = [o.evaluation.metrics()["top1"] for o in rows.values() if o.variant in SINGLE_STREAMS]
            if len(singles) < 2 or any(v is None for v in singles):
                continue
            better = max(singles)
            out[family] = {key: _difference(o.evaluation.metrics()["top1"], better) for key, o in rows.items() if o.variant not in SINGLE_STREAMS}
        return out

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` object and ``ablation.json``."""
        n = len(self.class_names)
        return {
            "variants": {name: outcome.to_dict(self.groups) for name, outcome in self.variants.items()},
            "gains_of_fusion": self.gains(),
            "fusion_gains": self.fusion_gains(),
            "families": list(dict.fromkeys(o.family for o in self.variants.values())),
            "groups": {g.name: g.to_dict() for g in self.groups} or None,
            "chance": {"top1": 1.0 / n, "top5": min(5, n) / n},
            "class_names": list(self.class_names),
            "dataset": os.fspath(self.dataset_root),
            "out": os.fspath(self.out_dir),
            "split": {**self.test_set.to_dict(), **self.split_counts},
            "clips_per_video": self.clips_per_video,
            "views": f"{self.clips_per_video}x{self.crops}" if self.crops > 1 else None,
            "settings": self.settings.to_dict(),
            "flow": self.flow,
            "skipped": self.skipped.to_list(),
            "notes": list(self.notes),
            "seconds": round(self.seconds, 1),
        }

    def table(self) -> str:
        """The seed's table: accuracy per variant, fusion's gain, and per-group accuracy."""
        names = [g.name + "-only" for g in self.groups]
        gains = self.gains()
        per_family = {key: gain for family in self.fusion_gains().values() for key, gain in family.items()}
        default = default_family()
        several = len({o.family for o in self.variants.values()}) > 1 or any(o.family != default for o in self.variants.values())
        header = ["variant", "top-1", "top-5", "mean class", *names]
        if gains:
            header.append("fusion gain (top-1)")
        if several and per_family:
            header.append("vs better stream")
        rows = [header]
        for name, outcome in self.variants.items():
            metrics = outcome.evaluation.metrics()
            label = f"{default}/{name}" if several and outcome.family == default else name
            row = [label, _pct(metrics["top1"]), _pct(metrics["top5"]), _pct(metrics["mean_class_accuracy"])]
            row += [_pct(outcome.group_accuracy(g)) for g in self.groups]
            if gains:
                row.append(_points(gains[name]["top1"]) if name in gains else "")
            if several and per_family:
                row.append(_points(per_family[name]) if name in per_family else "")
            rows.append(row)
        n = len(self.class_names)
        chance = ["chance", _pct(1.0 / n), _pct(min(5, n) / n), _pct(1.0 / n), *(_pct(g.chance) for g in self.groups)]
        rows.append(chance + [""] * (len(header) - len(chance)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        has_default = any(o.family == default for o in self.variants.values())
        if self.crops > 1:
            sampling = [Views(self.clips_per_video, self.crops).describe() + " for every family"]
        else:
            sampling = [f"{self.clips_per_video} clip(s) per video averaged" + (f" for the {default}" if several else "")] if has_default else []
            sampling += [f"{family}: {o.evaluation.clips_per_video} per video" for family, o in
                         {o.family: o for o in self.variants.values() if o.family != default}.items()]
        lines = [f"Ablation on {self.dataset_root} ({n} classes): {self.test_set.summary()}, " + "; ".join(sampling)]
        for index, row in enumerate(rows):
            cells = [row[0].ljust(widths[0])] + [cell.rjust(widths[i]) for i, cell in enumerate(row[1:], start=1)]
            lines.append("  ".join(cells).rstrip())
            if index == 0:
                lines.append("  ".join("-" * w for w in widths))
        if self.groups:
            lines.append(
                "group columns: top-1 accuracy on the videos of those classes; their chance is that of a model "
                "blind to what separates them (a motion pair: 1/2; the four balls: 1/4)"
            )
        if self.flow is not None and self.flow["fell_back"]:
            lines.append(f"flow: {self.flow['method']} instead of {self.flow['requested']} ({self.flow['note']})")
        if self.skipped:
            lines.append(self.skipped.summary())
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines) + "\n"


def run_ablation(
    dataset_root: str | os.PathLike[str],
    settings: Any,
    out_dir: str | os.PathLike[str],
    *,
    variants: Sequence[str] = (),
    families: Sequence[str] = (),
    family_variants: Mapping[str, Sequence[str]] | None = None,
    clips_per_video: int = 1,
    crops: int = 1,
    cache_dir: str | os.PathLike[str] | None = None,
    resume: bool = True,
    progress: Callable[..., None] | None = None,
    log: LogFunction | None = None,
    cancel: CancelToken | None = None,
    command: str | None = None,
) -> Ablation:
    """Train ``variants`` (each with ``settings``, its variant replaced) into ``out_dir``
    (``<variant>.safetensors``) and test each one on the split's test part.

    ``families`` (default: the default family alone): ``variants`` are the
    default family's, ``family_variants[f]`` (default: all) another family's.
    A family whose record has an ``ablation_scorer`` is tested by it
    (``clips_per_video`` clips a video); any other like ``eval`` tests it.
    ``crops`` > 1 (multi-view testing, :mod:`core.evaluation.views`): every
    family is tested like ``eval --views``, ``clips_per_video`` x ``crops`` views
    a video (the cached-token scorers hold the centre crop only).

    ``resume``: a variant whose run finished is not trained again; an
    interrupted one continues (see :func:`core.training.train`).  ``progress``
    and ``log`` receive training's reports, each message prefixed with the
    variant.  Nothing but the checkpoints (and training state) is written here.
    """
    from core.flow.cache import default_cache_root
    from core.training import train

    plan = _plan(families or (default_family(),), variants, family_variants)
    if clips_per_video < 1:
        raise InputError(f"clips per video must be at least 1, got {clips_per_video}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("the ablation's output must be a folder", out)
    settings.validate()
    started = time.monotonic()
    dataset = discover_dataset(dataset_root, split_dir=settings.split_dir)
    dataset.check_trainable()
    groups = synthetic_groups(dataset.root)
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_root().parent / "tokens"  # one cache for every run
    runs = [(family, variant) for family in family_names() for variant in plan.get(family, [])]
    uses_flow = any(_uses_optical_flow(settings, family, variant, dataset.classes) for family, variant in runs)
    flow = probe_flow(settings.flow_method, settings.raft_weights) if uses_flow else None
    if flow is not None and flow["fell_back"]:  # training refuses another method's flow: say so before training anything
        raise WeightsUnavailable(f"the ablation asked for {flow['requested']} flow, which is unavailable: {flow['note']}")
    skipped = SkippedVideos()
    outcomes: dict[str, VariantOutcome] = {}
    fingerprint = None
    test_set = None
    notes: list[str] = []
    split_counts: dict[str, int] = {}
    for family, variant in runs:
        check(cancel)
        key = variant if family == default_family() else f"{family}/{variant}"
        say = _prefixed(log, key)
        trained_at = time.monotonic()
        result = train(
            dataset_root,  # as given: an annotation file (and its videos folder) is read again as this one was
            settings.replace(model=family, variant=variant),
            out / f"{key.replace('/', '-')}.safetensors",
            resume=resume,
            cache_dir=cache_root,
            progress=_prefixed_progress(progress, key),
            cancel=cancel,
            log=say,
            command=command,
        )
        train_seconds = time.monotonic() - trained_at
        skipped.extend(result.skipped)
        notes.extend(n for n in result.notes if n not in notes)
        split_fingerprint = result.split.fingerprint(dataset)
        if test_set is None:
            test_set = _test_set(dataset, result.split)
            fingerprint = split_fingerprint
            split_counts = {"train_videos": len(result.split.train), "val_videos": len(result.split.val)}
        elif split_fingerprint != fingerprint:
            raise CoreError(f"variant {key} was trained on another split ({split_fingerprint}, not {fingerprint}): rerun with --fresh")
        scorer = registry_family(family).ablation_scorer if crops == 1 else None
        if scorer is None:
            evaluation = _evaluate_family(result.checkpoint, dataset=dataset, test_set=test_set, device=settings.device,
                                          raft_weights=settings.raft_weights, skipped=skipped, cancel=cancel,
                                          progress=_prefixed_progress(progress, key),
                                          views=Views(clips_per_video, crops) if crops > 1 else None)
            if say is not None:
                say(f"test: {len(evaluation.videos)} videos, {evaluation.clips_per_video} samples each; top-1 {_pct(evaluation.metrics()['top1'])}")
            outcomes[key] = VariantOutcome(variant, result, evaluation, {}, train_seconds, family=family)
            continue
        evaluation, stats = scorer(
            result.checkpoint,
            dataset=dataset,
            test_set=test_set,
            clips=clips_per_video,
            cache_dir=cache_root,
            device=settings.device,
            raft_weights=settings.raft_weights,
            skipped=skipped,
            flow=flow,
            cancel=cancel,
            progress=_prefixed_progress(progress, key),
        )
        if say is not None:
            say(f"test: {stats['computed']} token grids computed, {stats['cached']} from the cache; top-1 {_pct(evaluation.metrics()['top1'])}")
        outcomes[key] = VariantOutcome(variant, result, evaluation, stats, train_seconds, family=family)
    assert test_set is not None
    return Ablation(
        dataset_root=dataset.root,
        out_dir=out,
        settings=settings,
        variants=outcomes,
        groups=groups,
        test_set=test_set,
        clips_per_video=clips_per_video,
        flow=flow,
        skipped=skipped,
        split_counts=split_counts,
        seconds=time.monotonic() - started,
        notes=tuple(notes),
        crops=crops,
    )


def _plan(families: Sequence[str], variants: Sequence[str], family_variants: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]]:
    """Which variants each family runs: ``variants`` for the default family, ``family_variants[f]``
    (default: all of the family's) for the others, in the seeds' order."""
    chosen = [f.strip() for f in families if f.strip()]
    unknown = [f for f in chosen if f not in family_names()]
    if unknown or not chosen:
        raise InputError(f"model families must be some of {', '.join(family_names())}, got {', '.join(chosen) or 'none'}")
    if len(set(chosen)) != len(chosen):
        raise InputError(f"a model family is listed twice: {', '.join(chosen)}")
    plan: dict[str, list[str]] = {}
    for family in chosen:
        if family == default_family():
            plan[family] = _check_variants(variants)
            continue
        order = registry_family(family).variants
        wanted = [v.strip() for v in (family_variants or {}).get(family, order) if v.strip()]
        bad = [v for v in wanted if v not in order]
        if bad or not wanted:
            raise InputError(f"{family} variants must be some of {', '.join(order)}, got {', '.join(wanted) or 'none'}")
        plan[family] = [v for v in order if v in wanted]
    return plan


def _evaluate_family(checkpoint: Path, *, dataset: Dataset, test_set: TestSet, device: str, raft_weights: str | None,
                     skipped: SkippedVideos, cancel: CancelToken | None, progress: Callable[..., None] | None,
                     views: Views | None = None) -> Evaluation:
    """Score a checkpoint on the test videos as ``eval`` does (its classifier, its video sampling,
    or ``views`` when given)."""
    from core.evaluation.evaluate import MAX_BATCH, default_clips, score_test_set
    from core.inference import default_flow_backend
    from core.models.checkpoint import open_classifier

    classifier = open_classifier(checkpoint, device=device, flow_backend=default_flow_backend(raft_weights=raft_weights))
    config = classifier.config
    clips = views.clips if views is not None else default_clips(config)
    classifier.batch_size = min(clips, MAX_BATCH)
    to_model = class_mapping(dataset, config.class_names, checkpoint)
    return score_test_set(classifier, checkpoint=checkpoint, dataset=dataset, test_set=test_set, to_model=to_model,
                          clips_per_video=clips, crops=views.crops if views is not None else 1, skipped=skipped, cancel=cancel,
                          progress=progress, message_prefix="test: ")


def _uses_optical_flow(settings: Any, family: str, variant: str, class_names: Sequence[str]) -> bool:
    """Whether the run's model computes optical flow (so the flow method is probed first)."""
    config = settings.replace(model=family, variant=variant).model_config(class_names)
    return bool(config.uses_flow and registry_family(family).optical_flow)


def _check_variants(variants: Sequence[str]) -> list[str]:
    """The default family's variants to run (all when none are given), in the seed's order."""
    order = registry_family(default_family()).variants
    chosen = [v.strip() for v in variants if v.strip()] or list(order)
    unknown = [v for v in chosen if v not in order]
    if unknown:
        raise InputError(f"variants must be some of {', '.join(order)}, got {', '.join(chosen)}")
    if len(set(chosen)) != len(chosen):
        raise InputError(f"a variant is listed twice: {', '.join(chosen)}")
    return [v for v in order if v in chosen]  # the seed's order, whatever order was given


def _test_set(dataset: Dataset, split: Any) -> TestSet:
    if not split.test:
        raise InputError(f"the split has no test part to evaluate on ({split.description})", dataset.root)
    return TestSet(tuple(split.test), "test", SOURCE_CHECKPOINT, split.description, split.fingerprint(dataset), notes=tuple(split.notes))


def _prefixed(log: LogFunction | None, variant: str) -> LogFunction | None:
    if log is None:
        return None
    return lambda line: log(f"[{variant}] {line}")


def _prefixed_progress(progress: Callable[..., None] | None, variant: str) -> Callable[..., None] | None:
    if progress is None:
        return None
    return lambda done, total, message="": progress(done, total, f"{variant} {message}".rstrip())


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.1f}%"


def _points(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:+.1f}"
