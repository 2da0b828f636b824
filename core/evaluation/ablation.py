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

Other model families (``families=("transformer", "convnet", "repflow")``):
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
from core.progress import CancelToken, check

VARIANT_ORDER = ("rgb", "flow", "concat", "fusion")
FAMILY_ORDER = ("transformer", "convnet", "repflow")
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
    family: str = "transformer"

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

    @property
    def class_names(self) -> tuple[str, ...]:
        return next(iter(self.variants.values())).evaluation.class_names

    def gains(self) -> dict[str, dict[str, float | None]]:
        """Fusion minus every other variant, in accuracy (0.05 = 5 points); empty without fusion."""
        if "fusion" not in self.variants:
            return {}
        fusion = self.variants["fusion"].evaluation.metrics()
        out = {}
        for name, outcome in self.variants.items():
            if name == "fusion":
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
        several = len({o.family for o in self.variants.values()}) > 1 or any(o.family != "transformer" for o in self.variants.values())
        header = ["variant", "top-1", "top-5", "mean class", *names]
        if gains:
            header.append("fusion gain (top-1)")
        if several and per_family:
            header.append("vs better stream")
        rows = [header]
        for name, outcome in self.variants.items():
            metrics = outcome.evaluation.metrics()
            label = f"transformer/{name}" if several and outcome.family == "transformer" else name
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
        has_transformer = any(o.family == "transformer" for o in self.variants.values())
        sampling = [f"{self.clips_per_video} clip(s) per video averaged" + (" for the transformer" if several else "")] if has_transformer else []
        sampling += [f"{family}: {o.evaluation.clips_per_video} per video" for family, o in
                     {o.family: o for o in self.variants.values() if o.family != "transformer"}.items()]
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
    variants: Sequence[str] = VARIANT_ORDER,
    families: Sequence[str] = ("transformer",),
    family_variants: Mapping[str, Sequence[str]] | None = None,
    clips_per_video: int = 1,
    cache_dir: str | os.PathLike[str] | None = None,
    resume: bool = True,
    progress: Callable[..., None] | None = None,
    log: LogFunction | None = None,
    cancel: CancelToken | None = None,
    command: str | None = None,
) -> Ablation:
    """Train ``variants`` (each with ``settings``, its variant replaced) into ``out_dir``
    (``<variant>.safetensors``) and test each one on the split's test part.

    ``resume``: a variant whose run finished is not trained again; an
    interrupted one continues (see :func:`core.training.train`).  ``progress``
    and ``log`` receive training's reports, each message prefixed with the
    variant.  Nothing but the checkpoints (and training state) is written here.
    """
    from core.training import train
    from core.training.token_cache import TokenCache

    plan = _plan(families, variants, family_variants)
    chosen = plan.get("transformer", [])
    if clips_per_video < 1:
        raise InputError(f"clips per video must be at least 1, got {clips_per_video}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("the ablation's output must be a folder", out)
    settings.validate()
    started = time.monotonic()
    dataset = discover_dataset(dataset_root, split_dir=settings.split_dir)
    groups = synthetic_groups(dataset.root)
    cache = TokenCache(cache_dir)
    uses_flow = any(v in ("flow", "concat", "fusion") for v in chosen) or any(v != "rgb" for v in plan.get("convnet", []))
    flow = probe_flow(settings.flow_method, settings.raft_weights) if uses_flow else None
    if flow is not None and flow["fell_back"]:  # training refuses another method's flow: say so before training anything
        raise WeightsUnavailable(f"the ablation asked for {flow['requested']} flow, which is unavailable: {flow['note']}")
    skipped = SkippedVideos()
    outcomes: dict[str, VariantOutcome] = {}
    fingerprint = None
    test_set = None
    notes: list[str] = []
    split_counts: dict[str, int] = {}
    runs = [(family, variant) for family in FAMILY_ORDER for variant in plan.get(family, [])]
    for family, variant in runs:
        check(cancel)
        key = variant if family == "transformer" else f"{family}/{variant}"
        say = _prefixed(log, key)
        trained_at = time.monotonic()
        result = train(
            dataset.root,
            settings.replace(model=family, variant=variant),
            out / f"{key.replace('/', '-')}.safetensors",
            resume=resume,
            cache_dir=cache.root,
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
        if family != "transformer":
            evaluation = _evaluate_family(result.checkpoint, dataset=dataset, test_set=test_set, device=settings.device,
                                          raft_weights=settings.raft_weights, skipped=skipped, cancel=cancel,
                                          progress=_prefixed_progress(progress, key))
            if say is not None:
                say(f"test: {len(evaluation.videos)} videos, {evaluation.clips_per_video} samples each; top-1 {_pct(evaluation.metrics()['top1'])}")
            outcomes[key] = VariantOutcome(variant, result, evaluation, {}, train_seconds, family=family)
            continue
        evaluation, stats = _evaluate_on_cached_tokens(
            result.checkpoint,
            dataset=dataset,
            test_set=test_set,
            clips=clips_per_video,
            cache=cache,
            device=settings.device,
            raft_weights=settings.raft_weights,
            skipped=skipped,
            flow=flow,
            cancel=cancel,
            progress=_prefixed_progress(progress, variant),
        )
        if say is not None:
            say(f"test: {stats['computed']} token grids computed, {stats['cached']} from the cache; top-1 {_pct(evaluation.metrics()['top1'])}")
        outcomes[variant] = VariantOutcome(variant, result, evaluation, stats, train_seconds)
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
    )


def _plan(families: Sequence[str], variants: Sequence[str], family_variants: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]]:
    """Which variants each family runs: ``variants`` for the transformer, ``family_variants[f]``
    (default: all of the family's) for the others, in the seeds' order."""
    from core.training.settings import family_variants as known_variants

    chosen = [f.strip() for f in families if f.strip()]
    unknown = [f for f in chosen if f not in FAMILY_ORDER]
    if unknown or not chosen:
        raise InputError(f"model families must be some of {', '.join(FAMILY_ORDER)}, got {', '.join(chosen) or 'none'}")
    if len(set(chosen)) != len(chosen):
        raise InputError(f"a model family is listed twice: {', '.join(chosen)}")
    plan: dict[str, list[str]] = {}
    for family in chosen:
        if family == "transformer":
            plan[family] = _check_variants(variants)
            continue
        order = known_variants(family)
        wanted = [v.strip() for v in (family_variants or {}).get(family, order) if v.strip()]
        bad = [v for v in wanted if v not in order]
        if bad or not wanted:
            raise InputError(f"{family} variants must be some of {', '.join(order)}, got {', '.join(wanted) or 'none'}")
        plan[family] = [v for v in order if v in wanted]
    return plan


def _evaluate_family(checkpoint: Path, *, dataset: Dataset, test_set: TestSet, device: str, raft_weights: str | None,
                     skipped: SkippedVideos, cancel: CancelToken | None, progress: Callable[..., None] | None) -> Evaluation:
    """Score a ConvNet-family checkpoint on the test videos as ``eval`` does (its classifier, its video sampling)."""
    from core.evaluation.evaluate import MAX_BATCH, default_clips, score_test_set
    from core.inference import default_flow_backend
    from core.models import families

    classifier = families.open_classifier(checkpoint, device=device, flow_backend=default_flow_backend(raft_weights=raft_weights))
    config = classifier.config
    clips = default_clips(config)
    classifier.batch_size = min(clips, MAX_BATCH)
    to_model = class_mapping(dataset, config.class_names, checkpoint)
    return score_test_set(classifier, checkpoint=checkpoint, dataset=dataset, test_set=test_set, to_model=to_model,
                          clips_per_video=clips, skipped=skipped, cancel=cancel, progress=progress, message_prefix="test: ")


def _check_variants(variants: Sequence[str]) -> list[str]:
    chosen = [v.strip() for v in variants if v.strip()]
    unknown = [v for v in chosen if v not in VARIANT_ORDER]
    if unknown or not chosen:
        raise InputError(f"variants must be some of {', '.join(VARIANT_ORDER)}, got {', '.join(chosen) or 'none'}")
    if len(set(chosen)) != len(chosen):
        raise InputError(f"a variant is listed twice: {', '.join(chosen)}")
    return [v for v in VARIANT_ORDER if v in chosen]  # the seed's order, whatever order was given


def _test_set(dataset: Dataset, split: Any) -> TestSet:
    if not split.test:
        raise InputError(f"the split has no test part to evaluate on ({split.description})", dataset.root)
    return TestSet(tuple(split.test), "test", SOURCE_CHECKPOINT, split.description, split.fingerprint(dataset), notes=tuple(split.notes))


def _evaluate_on_cached_tokens(
    checkpoint: Path,
    *,
    dataset: Dataset,
    test_set: TestSet,
    clips: int,
    cache: Any,
    device: str,
    raft_weights: str | None,
    skipped: SkippedVideos,
    flow: dict[str, Any] | None,
    cancel: CancelToken | None,
    progress: Callable[..., None] | None,
) -> tuple[Evaluation, dict[str, int]]:
    """Score the test videos from token grids: extracted once, then read from the cache."""
    import torch

    from core.device import resolve_device
    from core.inference import default_flow_backend
    from core.models.checkpoint import load_checkpoint
    from core.models.layout import FLOW, RGB
    from core.training.extraction import ArrayStore, ClipExtractor, VideoRequest

    started = time.monotonic()
    torch_device = resolve_device(device)
    model, config = load_checkpoint(checkpoint, torch_device)
    to_model = class_mapping(dataset, config.class_names, checkpoint)
    streams = [s for s, used in ((RGB, config.uses_rgb), (FLOW, config.uses_flow)) if used]
    store = ArrayStore(cache)
    extractor = ClipExtractor(
        config=config,
        model=model,
        streams=streams,
        payload="tokens",
        augment="none",
        clips_per_video=clips,
        cache=cache,
        store=store,
        flow_backend=default_flow_backend(raft_weights=raft_weights),
        device=torch_device,
        raft_weights=raft_weights,
    )
    samples = [s for s in test_set.samples if s.path not in skipped]
    stats = extractor.run([VideoRequest(s, 1) for s in samples], skipped=skipped, cancel=cancel, progress=progress, label="test grids")
    results: list[VideoResult] = []
    method = () if flow is None else (flow["method"],)
    with torch.no_grad():
        for sample in samples:
            check(cancel)
            if sample.path in skipped:
                continue
            grids: dict[str, list[np.ndarray]] = {stream: [] for stream in streams}
            for ordinal in range(clips):
                for stream, key in extractor.keys_for(sample, ordinal, 0).items():
                    grids[stream].append(store.load(key))
            inputs = {s: torch.from_numpy(np.stack(grids[s])).float().to(torch_device) for s in streams}
            logits = model.forward_tokens(inputs.get(RGB), inputs.get(FLOW)).float()
            if not torch.isfinite(logits).all():
                raise CoreError("the model produced non-finite logits (NaN or inf) on cached token grids", checkpoint)
            probabilities = torch.softmax(logits, dim=1).cpu().numpy().astype(np.float64)
            results.append(
                VideoResult(
                    relative=dataset.relative(sample),
                    label=to_model[sample.label_index],
                    clip_probabilities=probabilities,
                    flow_methods=method,
                    flow_fell_back=bool(flow and flow["fell_back"]),
                    flow_note="" if flow is None else flow["note"],
                )
            )
    evaluation = Evaluation(
        checkpoint=Path(checkpoint),
        dataset_root=dataset.root,
        class_names=tuple(config.class_names),
        test_set=test_set,
        clips_per_video=clips,
        videos=tuple(results),
        skipped=skipped,
        requested_flow_method=config.flow_method if config.uses_flow else None,
        device=str(torch_device),
        seconds=time.monotonic() - started,
        model={"backbone": config.backbone, "variant": config.variant, "classes": config.num_classes},
    )
    return evaluation, {"computed": stats.computed, "cached": stats.cached}


def _prefixed(log: LogFunction | None, variant: str) -> LogFunction | None:
    if log is None:
        return None
    return lambda line: log(f"[{variant}] {line}")


def _prefixed_progress(progress: Callable[..., None] | None, variant: str) -> Callable[..., None] | None:
    if progress is None:
        return None
    return lambda done, total, message="": progress(done, total, f"{variant} {message}")


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.1f}%"


def _points(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:+.1f}"
