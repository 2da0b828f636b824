"""Evaluate a checkpoint on a dataset: every test video, K clips each.

Each video gives K clips spread uniformly over it (TSN); the K clips go
through the family's classifier (:func:`core.models.registry.open_classifier`:
a transformer clip, a ConvNet snippet, a repflow clip) ``predict_clips``.
Models that read a video's snippets together (ConvLSTM, conv fusion) score
the K snippets as one sample (one "clip" per video).  Every
clip is also scored alone (clip level); the mean of the K softmaxes is the
video's prediction (video level, the headline figure).  The flow is computed
exactly as ``classify`` does (same crop, same T+1 frames, same rendering), so
the figures describe what users get.

Nothing is written here: :class:`Evaluation` holds the scores and builds the
metrics dict and the confusion matrix; the command writes the files, only
once everything has been scored (an interrupted run leaves nothing behind).
An unreadable video is recorded in ``skipped`` and left out.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Sequence

import numpy as np

from core.data import SkippedVideos, discover_dataset
from core.data.dataset import listed
from core.errors import CheckpointError, CoreError, InputError
from core.evaluation.metrics import confusion_matrix, ranking, summarise
from core.evaluation.test_set import TestSet, class_mapping, recorded_settings, select_test_set
from core.evaluation.views import Views
import core.models.registry as families
from core.progress import CancelToken, check, report
from core.sampling import CropView
from core.wording import counted

DEFAULT_CLIPS_PER_VIDEO = 5
MAX_BATCH = 8  # clips of one video per model call: K=5 fits in one batch


@dataclass(frozen=True)
class VideoResult:
    """One video's scores, in the model's class order."""

    relative: str
    label: int  # model output index of the true class
    clip_probabilities: np.ndarray  # (K, C)
    flow_methods: tuple[str, ...]
    flow_fell_back: bool
    flow_note: str
    clip_starts: tuple[int, ...] = ()  # each row's first frame (empty: not known, e.g. scored from cached token grids)
    segment: tuple[float, float] | None = None  # the annotated seconds scored, of an untrimmed video (Kinetics)

    @property
    def probabilities(self) -> np.ndarray:
        return self.clip_probabilities.mean(axis=0)


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Every scored video of one evaluation, and the metrics built from them."""

    checkpoint: Path
    dataset_root: Path
    class_names: tuple[str, ...]  # the model's output order
    test_set: TestSet
    clips_per_video: int
    videos: tuple[VideoResult, ...]
    skipped: SkippedVideos
    requested_flow_method: str | None  # None for an RGB-only model
    device: str
    seconds: float
    model: dict[str, Any] = field(default_factory=dict)
    crops: int = 1  # spatial crops per clip (multi-view testing): clip_probabilities has clips x crops rows
    input_size: int | None = None  # the model's crop size (the ten crops' resize follows from it)

    # -- arrays -----------------------------------------------------------------------

    @property
    def video_scores(self) -> np.ndarray:
        return np.stack([v.probabilities for v in self.videos]) if self.videos else np.zeros((0, len(self.class_names)))

    @property
    def video_labels(self) -> np.ndarray:
        return np.array([v.label for v in self.videos], dtype=np.int64)

    @property
    def clip_scores(self) -> np.ndarray:
        return np.concatenate([v.clip_probabilities for v in self.videos]) if self.videos else np.zeros((0, len(self.class_names)))

    @property
    def clip_labels(self) -> np.ndarray:
        return np.array([v.label for v in self.videos for _ in range(len(v.clip_probabilities))], dtype=np.int64)

    def confusion(self) -> np.ndarray:
        """Video-level confusion matrix (rows: true class, columns: predicted)."""
        scores = self.video_scores
        return confusion_matrix(self.video_labels, ranking(scores)[:, 0], len(self.class_names))

    # -- reporting --------------------------------------------------------------------

    def flow_summary(self) -> dict[str, Any] | None:
        if self.requested_flow_method is None:
            return None
        methods = sorted({m for v in self.videos for m in v.flow_methods})
        notes = sorted({v.flow_note for v in self.videos if v.flow_note})
        return {
            "requested": self.requested_flow_method,
            "method": methods[0] if len(methods) == 1 else methods,
            "fell_back": any(v.flow_fell_back for v in self.videos),
            "note": "; ".join(notes),
        }

    def _crop_protocol(self) -> dict[str, str]:
        """The ten crops said in words (nothing for 1 or 3 crops, whose metrics stay as they were)."""
        if self.crops != 10:
            return {}
        return {"crops": Views(self.clips_per_video, self.crops).crop_protocol(self.input_size)}

    def metrics(self) -> dict[str, Any]:
        """The metrics.json object: video-level figures at the top, clip-level beside them."""
        video_level = summarise(self.video_scores, self.video_labels, self.class_names)
        clip_level = summarise(self.clip_scores, self.clip_labels, self.class_names)
        predicted = ranking(self.video_scores)[:, 0] if self.videos else []
        return {
            "top1": video_level["top1"],
            "top5": video_level["top5"],
            "mean_class_accuracy": video_level["mean_class_accuracy"],
            "per_class": video_level["per_class"],
            "video_level": {**video_level, "clips_per_video": self.clips_per_video, "crops_per_clip": self.crops,
                            "views": f"{self.clips_per_video}x{self.crops}", **self._crop_protocol()},
            "clip_level": clip_level,
            "confusion": {
                "level": "video",
                "rows": "true class",
                "columns": "predicted class",
                "class_names": list(self.class_names),
                "matrix": self.confusion().tolist(),
            },
            "checkpoint": os.fspath(self.checkpoint),
            "model": self.model,
            "dataset": os.fspath(self.dataset_root),
            "test_set": self.test_set.to_dict(),
            "flow": self.flow_summary(),
            "skipped": self.skipped.to_list(),
            "device": self.device,
            "seconds": round(self.seconds, 3),
            "videos": [
                {
                    "video": v.relative,
                    "label": self.class_names[v.label],
                    "predicted": self.class_names[int(p)],
                    "probability": round(float(v.probabilities[int(p)]), 6),
                }
                for v, p in zip(self.videos, predicted)
            ],
        }


def evaluate(
    dataset_root: str | os.PathLike[str],
    checkpoint: str | os.PathLike[str],
    *,
    clips_per_video: int | None = DEFAULT_CLIPS_PER_VIDEO,
    part: str = "test",
    split_scheme: str | None = None,
    official_split: int | None = None,
    split_seed: int | None = None,
    split_dir: str | os.PathLike[str] | None = None,
    device: str = "auto",
    raft_weights: str | os.PathLike[str] | None = None,
    classifier: Any | None = None,
    model_family: str | None = None,
    crops: int = 1,
    cancel: CancelToken | None = None,
    progress: Callable[..., None] | None = None,
) -> Evaluation:
    """Score ``checkpoint`` on the chosen part of the dataset at ``dataset_root``.

    ``crops``: spatial crops per clip (1: centre; 3: start, centre and end of the
    longer side; 10: four corners and the centre of a larger resize, and their flips,
    see :mod:`core.evaluation.views`); every view's softmax is averaged.

    ``classifier`` replaces the one loaded from ``checkpoint`` (tests inject one
    with a stand-in flow).  Any model family: the checkpoint's decides
    (``model_family``, when given, must match it).  ``clips_per_video=None``:
    the family's own video-level sampling (transformer 5 clips, ConvNet
    ``test_snippets`` = 25 snippets, repflow ``test_clips``).  Raises :class:`~core.errors.InputError` for a bad
    folder, checkpoint or split, or class names that differ from the dataset's.
    """
    from core.inference import default_flow_backend
    from core.models.checkpoint import open_classifier, read_checkpoint_info

    if model_family is not None:
        try:
            families.family(model_family)  # an unknown name is said as such, as by classify
        except ValueError as err:
            raise InputError(str(err)) from None
    info = read_checkpoint_info(checkpoint)
    family = families.family_of(info.config)
    if model_family is not None and model_family != family:
        raise InputError(f"the checkpoint is a {family} model, not {model_family} (its family decides; drop --model)", info.path)
    if clips_per_video is None:
        clips_per_video = default_clips(info.config)
    if clips_per_video < 1:
        raise InputError(f"clips per video must be at least 1, got {clips_per_video}")
    try:  # the training record is the checkpoint's data too: a field of the wrong type names the file
        if split_dir is None:  # the split folder training used, while it is still there
            recorded_dir = recorded_settings(info.extra).get("split_dir")
            split_dir = recorded_dir if isinstance(recorded_dir, str) and recorded_dir and Path(recorded_dir).is_dir() else None
        dataset = discover_dataset(dataset_root, split_dir=split_dir)
        to_model = class_mapping(dataset, info.config.class_names, info.path)
        test_set = select_test_set(
            dataset, info.extra, part=part, scheme=split_scheme, official_split=official_split, seed=split_seed, split_dir=split_dir
        )
    except (TypeError, ValueError, AttributeError, KeyError) as err:
        raise CheckpointError(f"the checkpoint's training record is damaged ({type(err).__name__}: {err})", info.path) from None
    scale_note = trained_scale_note(families.family_record(info.config), recorded_settings(info.extra).get("augment"), crops)
    if scale_note:
        test_set = replace(test_set, notes=(*test_set.notes, scale_note))
    if classifier is None:
        classifier = open_classifier(
            info.path,
            device=device,
            flow_backend=default_flow_backend(raft_weights=raft_weights),
            batch_size=min(clips_per_video, MAX_BATCH),
        )
    sampling_note = getattr(classifier, "video_sampling_note", None)
    said = sampling_note(clips_per_video) if callable(sampling_note) else None
    if said:
        test_set = replace(test_set, notes=(*test_set.notes, said))
    skipped = SkippedVideos()
    for rel in test_set.missing:
        skipped.add(dataset.root / rel, "listed in the checkpoint's split but not in the folder")
    return score_test_set(classifier, checkpoint=info.path, dataset=dataset, test_set=test_set, to_model=to_model,
                          clips_per_video=clips_per_video, crops=crops, skipped=skipped, cancel=cancel, progress=progress)


def trained_scale_note(family: Any, augment: Any, crops: int) -> str | None:
    """What a reported number must say when a model trained on crops of a larger resize (the family's
    ``training_scale``: the ConvNet's ``--augment crop``) is tested on views of the input-size resize:
    everything it sees is smaller than what it learned on."""
    if not isinstance(augment, str) or crops == 10:
        return None
    scale = float(family.training_scale(SimpleNamespace(augment=augment)))
    if scale <= 1.0:
        return None
    return (f"the model trained on random crops of frames whose shorter side was {scale:.4g}x the input size; these views "
            f"resize it to the input size, so objects and motion look {100 * (1 - 1 / scale):.1f}% smaller than in training "
            "(--views Nx10 tests at the training scale)")


VideoScorer = Callable[[Any, str, int], "VideoResult"]  # (data sample, its relative path, its label in the model's classes)


def score_test_set(
    classifier: Any,
    *,
    checkpoint: Path,
    dataset: Any,
    test_set: TestSet,
    to_model: Sequence[int],
    clips_per_video: int,
    skipped: SkippedVideos,
    crops: int = 1,
    cancel: CancelToken | None = None,
    progress: Callable[..., None] | None = None,
    message_prefix: str = "",
) -> Evaluation:
    """Score each test video not already in ``skipped`` with ``classifier`` (``clips_per_video``
    samples times ``crops`` spatial crops, softmax averaged); unreadable ones are added to
    ``skipped``.  Shared by ``eval`` and the ablation, so both score a video the same way."""
    positions = Views(clips_per_video, crops).positions

    def score(sample: Any, rel: str, label: int) -> VideoResult:
        return _score_video(classifier, sample.path, label, rel, clips_per_video, positions, cancel, segment=sample.segment)

    return run_evaluation(checkpoint=checkpoint, config=classifier.config, device=classifier.device, dataset=dataset, test_set=test_set,
                          to_model=to_model, clips_per_video=clips_per_video, crops=crops, skipped=skipped, score_video=score,
                          cancel=cancel, progress=progress, message_prefix=message_prefix)


def run_evaluation(
    *,
    checkpoint: Path,
    config: Any,
    device: Any,
    dataset: Any,
    test_set: TestSet,
    to_model: Sequence[int],
    clips_per_video: int,
    skipped: SkippedVideos,
    score_video: VideoScorer,
    crops: int = 1,
    cancel: CancelToken | None = None,
    progress: Callable[..., None] | None = None,
    message_prefix: str = "",
    started: float | None = None,
) -> Evaluation:
    """The one evaluation loop: ``score_video`` each test video not in ``skipped`` (one that raises
    :class:`~core.errors.InputError` is added to it), then the :class:`Evaluation`.  ``started``: a
    :func:`time.perf_counter` reading when the work began before this loop (default: now)."""
    started = time.perf_counter() if started is None else started
    samples = [s for s in test_set.samples if s.path not in skipped]
    results: list[VideoResult] = []
    report(progress, 0, len(samples), "")
    for done, sample in enumerate(samples):
        check(cancel)
        rel = dataset.relative(sample)
        try:
            result = score_video(sample, rel, to_model[sample.label_index])
        except InputError as err:  # unreadable or undecodable: list it, go on
            skipped.add(sample.path, err.problem)
        else:
            results.append(result)
        report(progress, done + 1, len(samples), message_prefix + rel)
    return Evaluation(
        checkpoint=Path(checkpoint),
        dataset_root=dataset.root,
        class_names=tuple(config.class_names),
        test_set=test_set,
        clips_per_video=clips_per_video,
        videos=tuple(results),
        skipped=skipped,
        requested_flow_method=getattr(config, "flow_method", None) if config.uses_flow else None,
        device=str(device),
        seconds=time.perf_counter() - started,
        model={"family": families.family_of(config), "backbone": config.backbone, "variant": config.variant, "classes": config.num_classes},
        crops=crops,
        input_size=getattr(config, "input_size", None),
    )


def default_clips(config: Any) -> int:
    """Samples per video as the family's classifier scores a whole video (seed 002: 25 snippets)."""
    for name in ("test_snippets", "test_clips"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_CLIPS_PER_VIDEO


def _score_video(classifier: Any, path: Path, label: int, rel: str, clips: int, positions: Sequence[float | CropView],
                 cancel: CancelToken | None, *, segment: tuple[float, float] | None = None) -> VideoResult:
    """One video's scores (only its annotated ``segment`` when it has one; clip starts numbered as in the file)."""
    from core.sampling import uniform_clip_starts
    from core.video import open_segment
    from core.video.segment import file_index

    config = classifier.config
    predictions = []
    with open_segment(path, segment) as video:
        for position in positions:
            with classifier.at_crop(position):
                if getattr(config, "joint_snippets", False):
                    # ConvLSTM / conv fusion read a sample's snippets together: groups as they trained (older checkpoints: one of K)
                    view = classifier.predict_video(video, clips, top=1, cancel=cancel).clips
                else:
                    starts = uniform_clip_starts(len(video), clips, config.clip_length, config.frame_stride)
                    view = classifier.predict_clips(video, starts, top=1, cancel=cancel)
            if len(positions) > 1:
                check_crop_position(view, position, families.family_of(config))
            predictions.extend(view)
        clip_starts = tuple(file_index(video, int(p.start)) for p in predictions)
    return VideoResult(
        relative=rel,
        label=label,
        clip_probabilities=np.stack([p.probabilities for p in predictions]).astype(np.float64),
        flow_methods=tuple(sorted({p.flow_method for p in predictions if p.flow_method})),
        flow_fell_back=any(p.flow_fell_back for p in predictions),
        flow_note="; ".join(sorted({p.flow_note for p in predictions if p.flow_note})),
        clip_starts=clip_starts,
        segment=segment,
    )


def check_crop_position(predictions: Sequence[Any], position: float | CropView, family: str) -> None:
    """Multi-view testing must not count one crop three times: each prediction's crop map
    must sit at ``position``, from the same resize and mirrored when it says so (a family
    whose inputs ignore :meth:`ClipClassifier.at_crop` fails here)."""
    from core.sampling import crop_map

    def placed(cmap: Any) -> tuple[Any, ...]:
        return cmap.offset_x, cmap.offset_y, cmap.resized_height, cmap.resized_width, cmap.flipped

    said = position.describe() if isinstance(position, CropView) else position
    for prediction in predictions:
        cmap = prediction.crop_map
        expected = crop_map(cmap.src_height, cmap.src_width, cmap.size, position)
        if placed(cmap) != placed(expected):
            raise CoreError(f"the {family} family's inputs ignore the crop position ({said}): it cannot be tested with several crops")


def text_report(evaluation: Evaluation, files: Sequence[Path] = ()) -> str:
    """The human-readable summary the command prints."""
    m = evaluation.metrics()
    video, clip = m["video_level"], m["clip_level"]
    lines = [
        f"checkpoint: {m['checkpoint']} ({m['model']['backbone']}, {m['model']['variant']}, {m['model']['classes']} classes)",
        f"test set: {evaluation.test_set.summary()}",
    ]
    if evaluation.test_set.seen_in_training:
        lines.append(
            f"warning: {len(evaluation.test_set.seen_in_training)} of these videos were in the checkpoint's training "
            "or validation part: the accuracy is optimistic"
        )
    if evaluation.test_set.missing:
        missing = evaluation.test_set.missing
        lines.append(f"warning: {counted(len(missing), 'video')} of the checkpoint's recorded {evaluation.test_set.part} part "
                     f"{'is' if len(missing) == 1 else 'are'} not in this folder and left out: {listed(list(missing))}")
    lines.extend(f"note: {note}" for note in evaluation.test_set.notes)
    flow = m["flow"]
    if flow is not None:
        lines.append(f"flow: {flow['method']}" + (f" (requested {flow['requested']}: {flow['note']})" if flow["fell_back"] else ""))
    lines.append(
        f"video level ({Views(evaluation.clips_per_video, evaluation.crops).describe(evaluation.input_size)}): top-1 {_pct(video['top1'])}  top-5 {_pct(video['top5'])}  "
        f"mean class {_pct(video['mean_class_accuracy'])}  ({counted(video['count'], 'video')})"
    )
    unit = "clip" if evaluation.crops == 1 else "view"  # with several crops each row is one crop of one clip
    lines.append(f"{unit} level (each {unit} alone):  top-1 {_pct(clip['top1'])}  top-5 {_pct(clip['top5'])}  ({counted(clip['count'], unit)})")
    width = max(len(n) for n in evaluation.class_names)
    lines.append("per class (video level):")
    for name in evaluation.class_names:
        lines.append(f"  {name:<{width}}  {_pct(video['per_class'][name]):>7}  ({counted(video['support'][name], 'video')})")
    unread = evaluation.skipped.summary(said={evaluation.dataset_root / rel for rel in evaluation.test_set.missing})
    if unread:  # the missing ones were named in the warning above
        lines.append(unread)
    if files:
        lines.append("wrote " + ", ".join(os.fspath(f) for f in files))
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.1f}%"
