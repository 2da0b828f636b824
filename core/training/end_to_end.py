"""Training a model family end to end on decoded video (the two-stream ConvNet, representation
flow, and any family whose record gives ``sample_inputs``).

The transformer's trainer (:mod:`core.models.transformer.train.trainer`) works on cached token
grids of frozen backbones; the classic two-stream ConvNet (seeds 001-003) and
representation flow (seed 004) train their whole network, so this trainer feeds
them samples drawn afresh every epoch:

- the two-stream ConvNet: ``snippets`` windows per video, one drawn at random
  inside each of that many equal segments (TSN), each a centre frame plus L
  stacked flow fields; the model averages the snippets' softmax (its consensus).
- representation flow: one clip of ``clip_length`` frames at a random start.

What a sample is belongs to the family (its record's ``training_inputs``, or
``sample_inputs`` over the prepared frames); whether the trainer computes
optical flow, too (``needs_flow``).  A model with ``training_loss(batch,
labels)`` computes its own loss; any other is trained on the cross-entropy of
``model(**batch)``.

Each video is decoded and resized/cropped once per epoch at most (an in-memory
LRU of prepared videos under a byte budget keeps small datasets decoded; big
ones are decoded again) and its optical flow is computed once for all epochs
and runs: the flow of every consecutive frame pair of the cropped video goes
through the on-disk flow cache (:func:`core.flow.cache.compute_flow_cached`),
and each snippet's L fields are sliced from it.  A family whose
``training_scale`` exceeds 1 (the ConvNet with ``--augment crop``) gets its
training videos whole instead, the shorter side that many times the input size,
their flow computed on those frames, and cuts a random crop of each sample from
both; validation videos stay centre-cropped to the input size, as ``eval`` sees them.  A family
taking ``--augment jitter`` (its record's ``colour_jitter``) gets the colour PCA of the training
videos' prepared frames, every pixel of every frame (:mod:`core.training.colour_pca`), computed
while they are prepared, recorded in the training state (a resumed run reuses it) and in the
checkpoint.  Per pair this is the flow
``classify`` computes on the snippet's own window (every method but RAFT's
warm starts computes each pair from its two frames alone), rounded through the
cache's float16 (a test compares it with :func:`core.models.registry.sample_inputs`).

Score fusions of the ResNet families (``late``, ``weighted``, ``learned``;
their ``training_loss``): seed 002 trains the two streams separately and fuses their scores afterwards.  Here the whole model
trains jointly with the sum of three cross-entropies, one on each stream's own
consensus score and one on the fused score.  Each stream is thus supervised as
if trained alone (so neither leans on the other, which a fused loss alone
invites), while the fusion's own parameters (the weight, the small network)
learn from the fused term.  ``feature``/``conv`` fusion and single streams use
the plain cross-entropy of the model's output.

The rest follows the transformer's recipe and records: the same split
(:func:`core.data.make_split`), Adam (or SGD with momentum: ``optimizer``) over :func:`core.models.registry.param_groups`
(repflow's flow layers at lr/100), early stopping on the validation loss, the
best epoch's checkpoint written atomically with the training record (so
``eval`` rebuilds the test set), the resumable state beside it (every epoch's
randomness is seeded by ``(seed, epoch)``, so a resumed run repeats an
uninterrupted one), one log line per epoch and unreadable videos skipped and
listed.  torchrun is refused: these families train in one process.
"""

from __future__ import annotations

import math
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.data import Sample, SkippedVideos, discover_dataset, make_split
from core.errors import CheckpointError, DatasetError, InputError
from core.flow.raft_weights import require_raft_weights
from core.inference.frames import ArrayFrames
import core.models.registry as families
from core.progress import CancelToken, check, report
from core.training import result as record
from core.training.colour_pca import ColourPCA, ColourStatistics
from core.training.seeds import derive_seed
from core.training.result import TrainResult
from core.training.settings import TrainSettings, augment_parts
from core.training.state import (SAME_DATA, TrainState, begin_run, checkpoint_to_rewrite, epoch_line, finished_line, resumable_state,
                                 save_epoch, state_path, videos_fingerprint)
from core.video.segment import Segment

DEFAULT_MEMORY_BYTES = 1 << 30  # prepared videos kept decoded in memory
COLOUR_PCA = record.EXTRA_COLOUR_PCA  # also the training state's meta key of --augment jitter's components
WEIGHTS_HINT = "--backbone-weights"

LogFunction = Callable[[str], None]


def train_family(
    dataset_root: str | os.PathLike[str],
    settings: TrainSettings,
    out: Path,
    *,
    resume: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Callable[..., None] | None = None,
    cancel: CancelToken | None = None,
    log: LogFunction | None = None,
    command: str | None = None,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
) -> TrainResult:
    """Train a model of family ``settings.model`` end to end; see :func:`core.training.train`.

    ``cache_dir``: the flow cache goes in ``cache_dir/flow`` (default: the flow
    engine's own cache).  ``memory_bytes``: how much decoded video to keep.
    """
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        raise InputError(f"the {settings.model} family trains in one process: torchrun/DDP is supported for the transformer only")
    run = _FamilyRun(dataset_root, settings, Path(out), cache_dir=cache_dir, progress=progress, cancel=cancel, log=log,
                     command=command, memory_bytes=memory_bytes)
    return run.execute(resume=resume)


@dataclass(frozen=True, eq=False)
class PreparedVideo:
    """One video resized and centre-cropped to the model's input (or, kept for random crops, resized
    larger and left whole), with the flow of every frame pair."""

    frames: np.ndarray  # (T, H, W, 3) uint8: H = W = S, or the whole frame at a larger shorter side
    forward: np.ndarray | None  # (T-1, 2, H, W) float32: frame i -> i+1
    backward: np.ndarray | None  # (T-1, 2, H, W) float32: frame i+1 -> i
    flow_method: str | None = None

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.frames, self.forward, self.backward) if a is not None)


class VideoPreparer:
    """Decoded, cropped videos and their pair flow, kept in memory up to ``memory_bytes`` (LRU).

    ``training_scale`` > 1: a video asked for ``training`` is resized so its shorter side is
    ``round(input_size * training_scale)`` and kept whole (room for random crops; its flow is
    computed on those frames, a cache entry of its own since the frame size keys it).
    """

    def __init__(self, config: Any, *, flow_cache: Any, device: torch.device, memory_bytes: int, raft_weights: str | None,
                 training_scale: float = 1.0) -> None:
        if not training_scale >= 1.0:
            raise ValueError(f"training_scale must be >= 1 (crops must fit the resize), got {training_scale}")
        self.config = config
        self.training_scale = training_scale
        self.flow_cache = flow_cache
        self.device = device
        self.memory_bytes = memory_bytes
        self.raft_weights = raft_weights
        self._kept: OrderedDict[tuple[Path, Segment | None, float], PreparedVideo] = OrderedDict()
        self._bytes = 0
        self.flow_hits = self.flow_computed = 0

    @property
    def needs_flow(self) -> bool:
        return bool(families.family_record(self.config).needs_flow(self.config))

    def get(self, path: Path, cancel: CancelToken | None = None, segment: Segment | None = None, *,
            training: bool = False) -> PreparedVideo:
        """The prepared video (only its ``segment``'s frames when one is given; ``training``: kept whole at
        ``training_scale``); :class:`~core.errors.InputError` for an unreadable one."""
        scale = self.training_scale if training else 1.0
        key = (path, segment, scale)
        if key in self._kept:
            self._kept.move_to_end(key)
            return self._kept[key]
        prepared = self._prepare(path, segment, cancel, scale)
        if prepared.nbytes <= self.memory_bytes:
            self._kept[key] = prepared
            self._bytes += prepared.nbytes
            while self._bytes > self.memory_bytes and self._kept:
                _, dropped = self._kept.popitem(last=False)
                self._bytes -= dropped.nbytes
        return prepared

    def _prepare(self, path: Path, segment: Segment | None, cancel: CancelToken | None, scale: float) -> PreparedVideo:
        from core.flow.cache import compute_flow_cached
        from core.sampling import resize_and_crop, resize_for_crops
        from core.video import file_span, open_segment

        with open_segment(path, segment) as video:
            count = len(video)
            if count < 1:
                raise InputError("has no frames", path)
            raw = np.asarray(video.read_clip(list(range(count))))
            first = file_span(video)[1]  # the flow cache numbers the file's frames
        if scale > 1.0:
            frames = resize_for_crops(raw, self.config.input_size, scale)
        else:
            frames, _ = resize_and_crop(raw, self.config.input_size)
        if not self.needs_flow:
            return PreparedVideo(frames, None, None)
        if count < 2:  # one frame: no motion at all
            empty = np.zeros((0, 2, *frames.shape[1:3]), np.float32)
            return PreparedVideo(frames, empty, empty if self.config.bidirectional else None, self.config.flow_method)
        result, hit = compute_flow_cached(
            path, list(range(first, first + count)), self.config.flow_method, frames=frames, cache=self.flow_cache,
            device=str(self.device), backward=bool(self.config.bidirectional), raft_weights=self.raft_weights, cancel=cancel,
        )
        if result.fell_back:
            raise InputError(f"flow method {self.config.flow_method} is unavailable ({result.note}); training refuses another method's flow")
        if hit:
            self.flow_hits += 1
        else:
            self.flow_computed += 1
        backward = None if result.backward is None else np.asarray(result.backward, np.float32)
        return PreparedVideo(frames, np.asarray(result.forward, np.float32), backward, str(result.method_used))


class _FamilyRun:
    def __init__(self, dataset_root, settings: TrainSettings, out: Path, *, cache_dir, progress, cancel, log, command, memory_bytes: int) -> None:
        from core.device import resolve_device
        from core.flow.cache import FlowCache
        from core.models.checkpoint import CHECKPOINT_SUFFIX

        settings.validate()
        if out.suffix != CHECKPOINT_SUFFIX:
            raise CheckpointError(f"the checkpoint must be a {CHECKPOINT_SUFFIX} file, got suffix {out.suffix!r}", out)
        if out.exists() and out.is_dir():
            raise CheckpointError("is a folder; give the checkpoint's file name", out)
        self.settings = settings
        self.out = out
        self.state_file = state_path(out)
        self.device = resolve_device(settings.device)
        self.progress = progress
        self.cancel = cancel
        self._log = log
        self.command = command
        self.dataset = discover_dataset(dataset_root, split_dir=settings.split_dir)
        self.dataset.check_trainable()
        self.split = make_split(
            self.dataset, scheme=settings.split_scheme, official_split=settings.official_split,
            val_fraction=settings.val_fraction, test_fraction=settings.test_fraction, seed=settings.seed,
            split_dir=settings.split_dir,
        )
        self.config = settings.model_config(self.dataset.classes)
        self.family = families.family_of(self.config)
        self.record = families.family(self.family)
        if self.record.sample_inputs is None and self.record.training_inputs is None:
            raise InputError(f"the {self.family} family gives no training samples (its record has no sample_inputs): it cannot train end to end")
        flow_cache = FlowCache(Path(cache_dir) / "flow") if cache_dir is not None else None
        self.videos = VideoPreparer(self.config, flow_cache=flow_cache, device=self.device, memory_bytes=memory_bytes,
                                    raft_weights=settings.raft_weights, training_scale=self.record.training_scale(settings))
        self.skipped = SkippedVideos()
        self.notes: list[str] = []
        self._sources = ""
        self.colour_pca: ColourPCA | None = None

    def log(self, line: str) -> None:
        if self._log is not None:
            self._log(line)

    # -- the whole run ----------------------------------------------------------------------------

    def execute(self, *, resume: bool) -> TrainResult:
        settings = self.settings
        model = self._build().to(self.device)
        meta = {"settings": settings.to_dict(), "dataset_root": str(self.dataset.root.resolve()),
                "split_fingerprint": self.split.fingerprint(self.dataset), "videos": videos_fingerprint([s.path for s in self.dataset.samples])}
        state = resumable_state(self.state_file, self.settings, meta, SAME_DATA) if resume else None
        if not resume and self.state_file.exists():
            self.state_file.unlink()
        rewrite = state is not None and checkpoint_to_rewrite(self.out, state, self.config)  # before any work
        if state is not None and state.finished and not rewrite:
            self._skipped_from_checkpoint()
            self.log(finished_line(self.out, state, settings.patience))
            return self._result(state, resumed_from=state.epoch, already_finished=True)

        # missing RAFT weights stop the run here, before any frame is prepared (after the backbones' own weights)
        require_raft_weights(getattr(self.config, "flow_method", None) if getattr(self.config, "uses_flow", True) else None, settings.raft_weights)
        if "jitter" in augment_parts(settings.augment) and not getattr(self.config, "uses_rgb", True):
            self.notes.append(f"--augment {settings.augment}: the {self.config.variant} variant has no RGB stream, so nothing is jittered")
            self.log(f"note: {self.notes[-1]}")
        self.colour_pca = self._recorded_colour_pca(state)
        self._prepare_all(colour_statistics=self._wants_colour_pca and self.colour_pca is None)
        if self.colour_pca is not None:
            meta[COLOUR_PCA] = self.colour_pca.to_dict()
        train_items = [s for s in self.split.train if s.path not in self.skipped]
        val_items = [s for s in self.split.val if s.path not in self.skipped]
        if not train_items:
            raise DatasetError("no readable training videos are left (see the skipped list)", self.dataset.root)
        untrained = record.untrained_classes_note(self.config.class_names, train_items)
        if untrained is not None:
            self.notes.append(untrained)
            self.log(f"note: {untrained}")
        if not val_items:
            self.notes.append("no validation videos: early stopping and the best checkpoint follow the training loss")
            self.log(f"note: {self.notes[-1]}")

        groups = families.param_groups(model, settings.lr)
        if settings.optimizer == "sgd":  # seed 002's: lr 0.01, momentum 0.9, weight decay 5e-4 (its recipe)
            optimizer: torch.optim.Optimizer = torch.optim.SGD(groups, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay)
        else:
            optimizer = torch.optim.Adam(groups, lr=settings.lr, weight_decay=settings.weight_decay)
        state = begin_run(state, meta, restore=lambda resumed: self._restore(model, optimizer, resumed), log=self.log, state_file=self.state_file)
        resumed_from = state.epoch
        if rewrite:  # the run stopped between the state and the checkpoint of its best (and last) epoch
            self._save_checkpoint(model, state)
            self.log(f"wrote the checkpoint of best epoch {state.best_epoch} from the training state (the run had stopped before writing it)")
            if state.finished:
                self.log(finished_line(self.out, state, settings.patience))
                return self._result(state, resumed_from=resumed_from, already_finished=True)
        for epoch in range(state.epoch + 1, settings.epochs + 1):
            started = time.monotonic()
            train_loss, train_acc = self._train_epoch(epoch, model, optimizer, train_items)
            val_loss, val_acc = self._evaluate(model, val_items) if val_items else (None, None)
            entry = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
                     "val_acc": val_acc, "seconds": round(time.monotonic() - started, 3)}
            improved = state.record_epoch(entry, epochs=settings.epochs, patience=settings.patience)
            self.log(epoch_line(entry, settings.epochs, improved))
            state.model_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            state.optimizer_state = optimizer.state_dict()
            save_epoch(self.state_file, state, improved=improved, write_checkpoint=lambda: self._save_checkpoint(model, state))
            if state.stopped_early:
                self.log(f"early stop: the {'validation' if val_items else 'training'} loss has not improved for {settings.patience} epochs")
                break
        return self._result(state, resumed_from=resumed_from, already_finished=False)

    # -- pieces ---------------------------------------------------------------------------------

    def _build(self) -> nn.Module:
        settings, config = self.settings, self.config
        has_weights = self.record.has_pretrained_weights(config) or settings.backbone_weights
        pretrained = bool(settings.pretrained and has_weights)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(settings.seed, "model", self.family))
            model = families.build_model(config, pretrained=pretrained, imagenet_weights=settings.backbone_weights, option_hint=WEIGHTS_HINT)
        if pretrained:
            self._sources = "ImageNet ResNet weights (" + ", ".join(sorted({str(getattr(m, "weights_source", "?")) for m in model.modules() if hasattr(m, "weights_source")})) + ")"
        else:
            self._sources = f"seeded random initialisation (seed {settings.seed})"
            if settings.pretrained:
                self.notes.append(f"backbone {config.backbone!r} has no pretrained weights: it starts from a seeded random initialisation")
                self.log(f"note: {self.notes[-1]}")
        return model

    @property
    def _wants_colour_pca(self) -> bool:
        """``--augment jitter`` for a family that takes it, on a variant with an RGB stream."""
        return "jitter" in augment_parts(self.settings.augment) and self.record.colour_jitter and bool(getattr(self.config, "uses_rgb", True))

    def _recorded_colour_pca(self, state: TrainState | None) -> ColourPCA | None:
        """The colour PCA the interrupted run drew its jitter with (None for a fresh run): the same
        components, so a resumed run draws the same offsets."""
        if state is None or not self._wants_colour_pca or COLOUR_PCA not in state.meta:
            return None
        try:
            return ColourPCA.from_dict(state.meta[COLOUR_PCA])
        except ValueError as err:
            raise CheckpointError(f"the training state's {err}; pass --fresh to start over", self.state_file) from None

    def _prepare_all(self, *, colour_statistics: bool = False) -> None:
        """Decode every video and fill the flow cache once; unreadable videos are skipped.
        ``colour_statistics``: also compute the colour PCA of the training videos' frames."""
        samples = list(self.split.train) + list(self.split.val)
        statistics = ColourStatistics() if colour_statistics else None
        started = time.monotonic()
        what = "frames and flow" if self.videos.needs_flow else "frames"
        size = self.config.input_size
        room = ""
        if self.videos.training_scale > 1.0:
            room = f"; training videos whole at a shorter side of {int(round(size * self.videos.training_scale))} px for random crops"
        self.log(f"preparing {what} of {len(samples)} videos ({size} px{room})")
        for n, sample in enumerate(samples):
            check(self.cancel)
            report(self.progress, n, len(samples), f"prepare: {self.dataset.relative(sample)}")
            training = n < len(self.split.train)
            try:
                prepared = self.videos.get(sample.path, self.cancel, sample.segment, training=training)
            except InputError as err:
                self.skipped.add(sample.path, err.problem)
                continue
            if statistics is not None and training:
                statistics.add(prepared.frames)
        report(self.progress, len(samples), len(samples), "prepare: done")
        flow = f", flow of {self.videos.flow_computed} computed and {self.videos.flow_hits} from the cache" if self.videos.needs_flow else ""
        self.log(f"prepared {len(samples) - len(self.skipped)} videos in {time.monotonic() - started:.1f} s{flow}")
        if self.skipped:
            self.log(self.skipped.summary())
        if statistics is not None and statistics.count:
            whole = f"whole frames at a shorter side of {int(round(size * self.videos.training_scale))} px" if self.videos.training_scale > 1.0 else f"{size} px centre crops"
            self.colour_pca = statistics.pca(f"every pixel of every frame of the {statistics.videos} training videos as prepared for training ({whole}); validation videos left out")
            values = ", ".join(f"{v:.4g}" for v in self.colour_pca.eigenvalues)
            self.log(f"RGB jittering: colour PCA of {statistics.count} pixels of {statistics.videos} training videos, eigenvalues {values} (RGB in [0, 1])")

    def _sample(self, sample: Sample, rng: np.random.Generator | None) -> dict[str, torch.Tensor]:
        """One training (``rng``: random) or validation (centred) sample of the video."""
        prepared = self.videos.get(sample.path, self.cancel, sample.segment, training=rng is not None)
        if self.record.training_inputs is not None:
            extra = {"colour_pca": self.colour_pca} if self.colour_pca is not None else {}
            return self.record.training_inputs(self.config, prepared, rng, self.settings, **extra)
        return self.record.sample_inputs(self.config, ArrayFrames(prepared.frames), rng=rng)

    def _batch(self, samples: list[Sample], rng: np.random.Generator | None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        inputs = [self._sample(s, rng) for s in samples]
        batch = {k: torch.stack([x[k] for x in inputs]).to(self.device) for k in inputs[0]}
        labels = torch.tensor([s.label_index for s in samples], dtype=torch.long, device=self.device)
        return batch, labels

    def _losses(self, model: nn.Module, batch: dict[str, torch.Tensor], labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(training loss, scores): the model's own ``training_loss``, or the cross-entropy of its output."""
        own = getattr(model, "training_loss", None)
        if callable(own):
            return own(batch, labels)
        scores = model(**batch)
        return F.cross_entropy(scores, labels), scores

    def _train_epoch(self, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer, items: list[Sample]) -> tuple[float, float]:
        settings = self.settings
        torch.manual_seed(derive_seed(settings.seed, "epoch", epoch))  # dropout
        order = np.random.default_rng(derive_seed(settings.seed, "order", epoch)).permutation(len(items))
        rng = np.random.default_rng(derive_seed(settings.seed, "samples", epoch))
        model.train()
        loss_sum = correct = count = 0.0
        batches = max(1, math.ceil(len(order) / settings.batch_size))
        for b in range(batches):
            check(self.cancel)
            chosen = [items[int(i)] for i in order[b * settings.batch_size : (b + 1) * settings.batch_size]]
            if not chosen:
                break
            batch, labels = self._batch(chosen, rng)
            loss, scores = self._losses(model, batch, labels)
            if not torch.isfinite(loss):
                raise InputError(f"the training loss became {loss.item()} at epoch {epoch}: lower the learning rate (--lr)")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += float(F.cross_entropy(scores.detach(), labels)) * len(chosen)
            correct += float((scores.detach().argmax(1) == labels).sum())
            count += len(chosen)
            report(self.progress, b + 1, batches, f"epoch {epoch}: loss {loss_sum / count:.4f}")
        return loss_sum / max(count, 1.0), correct / max(count, 1.0)

    def _evaluate(self, model: nn.Module, items: list[Sample]) -> tuple[float, float]:
        """Validation on the fused scores of centred samples (no randomness: comparable across epochs)."""
        model.eval()
        loss_sum = correct = 0.0
        size = self.settings.batch_size
        with torch.no_grad():
            for start in range(0, len(items), size):
                check(self.cancel)
                batch, labels = self._batch(items[start : start + size], None)
                scores = model(**batch)
                loss_sum += float(F.cross_entropy(scores, labels, reduction="sum"))
                correct += float((scores.argmax(1) == labels).sum())
        return loss_sum / max(len(items), 1), correct / max(len(items), 1)

    def _restore(self, model: nn.Module, optimizer: torch.optim.Optimizer, state: TrainState) -> None:
        try:
            model.load_state_dict(state.model_state, strict=True)
            optimizer.load_state_dict(state.optimizer_state)
        except (ValueError, KeyError, RuntimeError) as err:
            first = " ".join(str(err).split())[:200]
            raise CheckpointError(f"the training state does not fit this model ({first}); pass --fresh to start over", self.state_file) from None

    def _save_checkpoint(self, model: nn.Module, state: TrainState) -> None:
        from core.models.checkpoint import save_checkpoint

        extra = record.checkpoint_extra(
            settings=self.settings, dataset=self.dataset, split=self.split, best_epoch=state.best_epoch, history=state.history,
            command=self.command, skipped=self.skipped, weights_sources={"resnet": self._sources},
            colour_pca=None if self.colour_pca is None else self.colour_pca.to_dict(),
        )
        save_checkpoint(self.out, model, self.config, extra=extra)

    def _skipped_from_checkpoint(self) -> None:
        """A finished run's skipped list, as its checkpoint recorded it."""
        record.add_recorded_skips(self.out, self.skipped)

    def _result(self, state: TrainState, *, resumed_from: int, already_finished: bool) -> TrainResult:
        return TrainResult(
            checkpoint=self.out, best_epoch=state.best_epoch, epochs_run=state.epoch, stopped_early=state.stopped_early,
            history=list(state.history), skipped=self.skipped, split=self.split.without(self.skipped.paths),
            config=self.config, resumed_from_epoch=resumed_from, already_finished=already_finished, notes=tuple(self.notes),
        )
