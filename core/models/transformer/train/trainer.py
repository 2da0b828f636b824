"""Training the two-stream model: frozen backbones on cached token grids, or end to end.

The recipe of seed 000: Adam (lr 2e-4), batch 8, up to 200 epochs, early
stopping on the validation loss with a patience, the best epoch's checkpoint
kept, no augmentation by default.  The order of work:

1. list the dataset and split it (:func:`core.data.make_split`);
2. build the model with seeded backbones (:mod:`core.models.transformer.train.model`);
3. extract every clip's token grids into the disk cache (resumable, ETA); under
   torchrun each rank takes its shard of the videos first;
4. train the fusion on the cached grids (``forward_tokens``); each epoch ends
   with validation, the per-epoch log line, the best checkpoint (atomic) and
   the training state for resuming (rank 0 writes).

Unreadable videos are skipped and listed in the result, the checkpoint and the
log; they never stop a run.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.data import Dataset, Sample, SkippedVideos, Split, discover_dataset, make_split
from core.errors import CheckpointError, DatasetError, InputError
from core.flow.raft_weights import require_raft_weights
from core.models.checkpoint import CHECKPOINT_SUFFIX, save_checkpoint
from core.models.transformer.config import TransformerConfig
from core.models.transformer.model import TwoStreamTransformer
from core.models.transformer.layout import FLOW, RGB
from core.progress import CancelToken, check, report
from core.training import result as record
from core.training.distributed import DistributedContext, init_distributed
from core.models.transformer.train.extraction import FRAMES, TOKENS, ArrayStore, ClipExtractor, VideoRequest
from core.models.transformer.train.model import build_training_model, trainable_state
from core.training.seeds import derive_seed
from core.training.result import TrainResult
from core.training.settings import TrainSettings
from core.training.state import (SAME_DATA, TrainState, begin_run, checkpoint_to_rewrite, epoch_line, finished_line, resumable_state,
                                 save_epoch, state_path, videos_fingerprint)
from core.models.transformer.train.token_cache import TokenCache


LogFunction = Callable[[str], None]


def train_transformer(
    dataset_root: str | os.PathLike[str],
    settings: TrainSettings,
    out: str | os.PathLike[str],
    *,
    resume: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Callable[..., None] | None = None,
    cancel: CancelToken | None = None,
    log: LogFunction | None = None,
    command: str | None = None,
) -> TrainResult:
    """The transformer's :func:`core.training.train` (see it for the arguments and errors).

    ``cache_dir`` holds the token cache (default
    :func:`~core.models.transformer.train.token_cache.default_cache_root`): runs that share it, the
    same backbone settings, seed and data share extraction whatever their variant or fusion
    settings (the ablation relies on this).  ``progress`` reports extraction (``"extract: ..."``,
    with an ETA) and the batches of each epoch (``"epoch N: ..."``); ``log`` gets one line per epoch
    (rank 0 only).  Under ``torchrun`` the run is distributed (:mod:`core.training.distributed`).
    """
    settings.validate()
    out_path = Path(out)
    if out_path.suffix != CHECKPOINT_SUFFIX:
        raise CheckpointError(f"the checkpoint must be a {CHECKPOINT_SUFFIX} file, got suffix {out_path.suffix!r}", out_path)
    if out_path.exists() and out_path.is_dir():
        raise CheckpointError("is a folder; give the checkpoint's file name", out_path)
    context = init_distributed(settings.device)
    try:
        run = _Run(dataset_root, settings, out_path, context=context, cache=TokenCache(cache_dir), progress=progress,
                   cancel=cancel, log=log, command=command)
        return run.execute(resume=resume)
    finally:
        context.close()


@dataclass(frozen=True)
class _ClipItem:
    """One training or validation clip: a video, which of its K clips, its label."""

    sample: Sample
    ordinal: int
    views: int

    @property
    def label(self) -> int:
        return self.sample.label_index


class _StepModule(nn.Module):
    """What DistributedDataParallel wraps: logits from token grids, or from clips when fine-tuning."""

    def __init__(self, model: TwoStreamTransformer, from_tokens: bool) -> None:
        super().__init__()
        self.model = model
        self.from_tokens = from_tokens

    def forward(self, rgb: torch.Tensor | None, flow: torch.Tensor | None) -> torch.Tensor:
        if self.from_tokens:
            return self.model.forward_tokens(rgb, flow)
        return self.model(rgb, flow)


class _Run:
    def __init__(self, dataset_root, settings: TrainSettings, out: Path, *, context: DistributedContext, cache: TokenCache,
                 progress, cancel, log, command) -> None:
        self.settings = settings
        self.out = out
        self.state_file = state_path(out)
        self.context = context
        self.device = context.device
        self.cache = cache
        self.progress = progress
        self.cancel = cancel
        self._log = log
        self.command = command
        self.dataset: Dataset = discover_dataset(dataset_root, split_dir=settings.split_dir)
        self.dataset.check_trainable()
        self.split: Split = make_split(
            self.dataset,
            scheme=settings.split_scheme,
            official_split=settings.official_split,
            val_fraction=settings.val_fraction,
            test_fraction=settings.test_fraction,
            seed=settings.seed,
            split_dir=settings.split_dir,
        )
        self.config: TransformerConfig = settings.model_config(self.dataset.classes)
        self.skipped = SkippedVideos()
        self.notes: list[str] = []
        self._sources: dict[str, str] = {}
        self._keys: dict[tuple[Path, int, int], dict[str, str]] = {}

    def log(self, line: str) -> None:
        if self._log is not None and self.context.is_main:
            self._log(line)

    # -- the whole run ----------------------------------------------------------------------------

    def execute(self, *, resume: bool) -> TrainResult:
        settings = self.settings
        built = build_training_model(settings, self.config)
        self.notes.extend(built.notes)
        for note in built.notes:
            self.log(f"note: {note}")
        model = built.model.to(self.device)
        fingerprints = self._backbone_fingerprints(model)
        meta = {
            "settings": settings.to_dict(),
            "dataset_root": str(self.dataset.root.resolve()),
            "split_fingerprint": self.split.fingerprint(self.dataset),
            "videos": videos_fingerprint([s.path for s in self.dataset.samples]),
            "backbones": fingerprints,
        }
        state = resumable_state(self.state_file, self.settings, meta, SAME_DATA + (("backbones", "frozen backbone weights"),)) if resume else None
        if not resume and self.context.is_main and self.state_file.exists():
            self.state_file.unlink()
        self._sources = built.weights_sources
        rewrite = state is not None and checkpoint_to_rewrite(self.out, state, self.config)  # before any work
        if state is not None and state.finished and not rewrite:
            self._skipped_from_checkpoint()
            self.log(finished_line(self.out, state, settings.patience))
            return self._result(state, resumed_from=state.epoch, already_finished=True)

        extractor, store = self._extract(model)
        train_items, val_items = self._items()
        if not train_items:
            raise DatasetError("no readable training videos are left (see the skipped list)", self.dataset.root)
        untrained = record.untrained_classes_note(self.config.class_names, [item.sample for item in train_items])
        if untrained is not None:
            self.notes.append(untrained)
            self.log(f"note: {untrained}")
        if not val_items:
            self.notes.append("no validation clips: early stopping and the best checkpoint follow the training loss")
            self.log(f"note: {self.notes[-1]}")

        parameters = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(parameters, lr=settings.lr, weight_decay=settings.weight_decay)
        state = begin_run(state, meta, restore=lambda resumed: self._restore(model, optimizer, resumed), log=self.log, state_file=self.state_file)
        resumed_from = state.epoch
        if rewrite:  # the run stopped between the state and the checkpoint of its best (and last) epoch
            if self.context.is_main:
                self._save_checkpoint(model, state)
            self.log(f"wrote the checkpoint of best epoch {state.best_epoch} from the training state (the run had stopped before writing it)")
            if state.finished:
                self.log(finished_line(self.out, state, settings.patience))
                self.context.barrier()
                return self._result(state, resumed_from=resumed_from, already_finished=True)
        step_module: nn.Module = _StepModule(model, from_tokens=not settings.finetune_backbones)
        if self.context.active:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            step_module = nn.parallel.DistributedDataParallel(step_module, device_ids=device_ids)

        for epoch in range(state.epoch + 1, settings.epochs + 1):
            started = time.monotonic()
            train_loss, train_acc = self._train_epoch(epoch, model, step_module, optimizer, store, extractor, train_items)
            val_loss, val_acc = self._evaluate(model, store, extractor, val_items) if val_items else (None, None)
            entry = {
                "epoch": epoch,
                "train_loss": train_loss,
                "train_acc": train_acc,
                "val_loss": val_loss,
                "val_acc": val_acc,
                "seconds": round(time.monotonic() - started, 3),
            }
            improved = state.record_epoch(entry, epochs=settings.epochs, patience=settings.patience)
            self.log(epoch_line(entry, settings.epochs, improved))
            if self.context.is_main:
                state.model_state = trainable_state(model, settings.finetune_backbones)
                state.optimizer_state = optimizer.state_dict()
                save_epoch(self.state_file, state, improved=improved, write_checkpoint=lambda: self._save_checkpoint(model, state))
            if state.stopped_early:
                self.log(f"early stop: the {'validation' if val_items else 'training'} loss has not improved for {settings.patience} epochs")
                break
        self.context.barrier()
        return self._result(state, resumed_from=resumed_from, already_finished=False)

    # -- pieces ---------------------------------------------------------------------------------

    def _backbone_fingerprints(self, model: TwoStreamTransformer) -> dict[str, str]:
        from core.models.transformer.train.token_cache import module_fingerprint

        if self.settings.finetune_backbones:
            return {}
        return {stream: module_fingerprint(module) for stream, module in ((RGB, model.rgb_backbone), (FLOW, model.flow_backbone)) if module is not None}

    def _restore(self, model: TwoStreamTransformer, optimizer: torch.optim.Optimizer, state: TrainState) -> None:
        """Load the state's weights (all but frozen backbones) and Adam's moments."""
        frozen = () if self.settings.finetune_backbones else ("rgb_backbone.", "flow_backbone.")
        outcome = model.load_state_dict(state.model_state, strict=False)
        missing = [k for k in outcome.missing_keys if not k.startswith(frozen)] if frozen else list(outcome.missing_keys)
        if missing or outcome.unexpected_keys:
            wrong = (missing or list(outcome.unexpected_keys))[0]
            raise CheckpointError(f"the training state does not fit this model (e.g. {wrong}); pass --fresh to start over", self.state_file)
        try:
            optimizer.load_state_dict(state.optimizer_state)
        except (ValueError, KeyError, RuntimeError) as err:
            raise CheckpointError(f"the optimiser state does not fit this model ({err}); pass --fresh to start over", self.state_file) from None

    def _extract(self, model: TwoStreamTransformer) -> tuple[ClipExtractor, ArrayStore]:
        settings, config = self.settings, self.config
        # missing RAFT weights stop the run here, before any clip is extracted (after the backbones' own weights)
        require_raft_weights(config.flow_method if config.uses_flow else None, settings.raft_weights)
        streams = [s for s, used in ((RGB, config.uses_rgb), (FLOW, config.uses_flow)) if used]
        store = ArrayStore(self.cache)
        from core.inference import default_flow_backend

        extractor = ClipExtractor(
            config=config,
            model=None if settings.finetune_backbones else model,
            streams=streams,
            payload=FRAMES if settings.finetune_backbones else TOKENS,
            augment=settings.augment,
            clips_per_video=settings.clips_per_video,
            cache=self.cache,
            store=store,
            flow_backend=default_flow_backend(raft_weights=settings.raft_weights),
            device=self.device,
            batch_size=settings.batch_size,
            rank=self.context.rank,
            raft_weights=settings.raft_weights,
            workers=settings.extract_workers,
            flow_batch=settings.flow_batch,
        )
        views = settings.views
        requests = [VideoRequest(s, views) for s in self.split.train] + [VideoRequest(s, 1) for s in self.split.val]
        what = "prepared clips" if settings.finetune_backbones else "token grids"
        self.log(f"extracting {what} of {len(requests)} videos ({settings.clips_per_video} clip(s) each, {views} view(s) per training clip) "
                 f"into {self.cache.root}; clips prepared {f'by {extractor.workers} worker(s)' if extractor.workers else 'in process'}")
        ctx = self.context
        if ctx.active:  # each rank fills the cache for its shard, then every rank reads what it needs
            mine = requests[ctx.rank :: ctx.world_size]
            stats = extractor.run(mine, skipped=self.skipped, cancel=self.cancel, progress=self.progress, label=f"extract (rank {ctx.rank})")
            for entries in ctx.gather(self.skipped.to_list()):
                for item in entries:
                    self.skipped.add(item["path"], item["reason"])
            ctx.barrier()
            counts = ctx.gather([stats.computed, stats.cached])
            self.log("extraction per rank: " + ", ".join(f"rank {r}: {c[0]} computed, {c[1]} cached" for r, c in enumerate(counts)))
        stats = extractor.run(requests, skipped=self.skipped, cancel=self.cancel, progress=self.progress)
        self.log(f"extraction: {stats.computed} arrays computed, {stats.cached} read from the cache in {stats.seconds:.1f} s")
        if self.skipped:
            self.log(self.skipped.summary())
        return extractor, store

    def _items(self) -> tuple[list[_ClipItem], list[_ClipItem]]:
        k = self.settings.clips_per_video
        views = self.settings.views
        keep = lambda part: [s for s in part if s.path not in self.skipped]  # noqa: E731
        train = [_ClipItem(s, o, views) for s in keep(self.split.train) for o in range(k)]
        val = [_ClipItem(s, o, 1) for s in keep(self.split.val) for o in range(k)]
        return train, val

    def _batch(self, items: Sequence[_ClipItem], views: Sequence[int], store: ArrayStore, extractor: ClipExtractor) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor]:
        arrays: dict[str, list[np.ndarray]] = {RGB: [], FLOW: []}
        for item, view in zip(items, views):
            memo = (item.sample.path, item.ordinal, view)
            if memo not in self._keys:
                self._keys[memo] = extractor.keys_for(item.sample, item.ordinal, view)
            for stream, key in self._keys[memo].items():
                arrays[stream].append(store.load(key))
        tensors: dict[str, torch.Tensor | None] = {}
        for stream in (RGB, FLOW):
            if not arrays[stream]:
                tensors[stream] = None
                continue
            stacked = torch.from_numpy(np.stack(arrays[stream])).to(self.device)
            if self.settings.finetune_backbones:  # uint8 (B, T, S, S, 3) -> normalised (B, 3, T, S, S)
                mean = torch.tensor(self.config.mean, device=self.device).view(1, 3, 1, 1, 1)
                std = torch.tensor(self.config.std, device=self.device).view(1, 3, 1, 1, 1)
                tensors[stream] = (stacked.permute(0, 4, 1, 2, 3).float() / 255.0 - mean) / std
            else:
                tensors[stream] = stacked.float()
        labels = torch.tensor([item.label for item in items], dtype=torch.long, device=self.device)
        return tensors[RGB], tensors[FLOW], labels

    def _train_epoch(self, epoch: int, model: TwoStreamTransformer, step_module: nn.Module, optimizer: torch.optim.Optimizer,
                     store: ArrayStore, extractor: ClipExtractor, items: list[_ClipItem]) -> tuple[float, float]:
        from torch.utils.data import DistributedSampler

        settings, ctx = self.settings, self.context
        torch.manual_seed(derive_seed(settings.seed, "epoch", epoch, "rank", ctx.rank))  # dropout
        sampler = DistributedSampler(range(len(items)), num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=settings.seed)
        sampler.set_epoch(epoch)
        order = list(sampler)
        views = np.random.default_rng(derive_seed(settings.seed, "views", epoch)).integers(0, settings.views, size=len(items))
        model.train()
        if not settings.finetune_backbones:
            for module in (model.rgb_backbone, model.flow_backbone):
                if module is not None:
                    module.eval()
        loss_sum = correct = count = 0.0
        batches = max(1, math.ceil(len(order) / settings.batch_size))
        for b in range(batches):
            check(self.cancel)
            chosen = order[b * settings.batch_size : (b + 1) * settings.batch_size]
            if not chosen:
                break
            rgb, flow, labels = self._batch([items[i] for i in chosen], [int(views[i]) for i in chosen], store, extractor)
            logits = step_module(rgb, flow)
            loss = F.cross_entropy(logits, labels)
            if not torch.isfinite(loss):  # before the step: the saved state keeps the last good weights
                raise InputError(f"the training loss became {loss.item()} at epoch {epoch}: lower the learning rate (--lr)")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(chosen)
            correct += float((logits.detach().argmax(1) == labels).sum())
            count += len(chosen)
            report(self.progress, b + 1, batches, f"epoch {epoch}: loss {loss_sum / count:.4f}")
        loss_sum, correct, count = ctx.sum([loss_sum, correct, count])
        return loss_sum / max(count, 1.0), correct / max(count, 1.0)

    def _evaluate(self, model: TwoStreamTransformer, store: ArrayStore, extractor: ClipExtractor, items: list[_ClipItem]) -> tuple[float, float]:
        ctx = self.context
        mine = items[ctx.rank :: ctx.world_size]
        model.eval()
        loss_sum = correct = 0.0
        size = self.settings.batch_size * 2
        with torch.no_grad():
            for start in range(0, len(mine), size):
                check(self.cancel)
                chunk = mine[start : start + size]
                rgb, flow, labels = self._batch(chunk, [0] * len(chunk), store, extractor)
                logits = model.forward_tokens(rgb, flow) if not self.settings.finetune_backbones else model(rgb, flow)
                loss_sum += float(F.cross_entropy(logits, labels, reduction="sum"))
                correct += float((logits.argmax(1) == labels).sum())
        loss_sum, correct, count = ctx.sum([loss_sum, correct, float(len(mine))])
        return loss_sum / max(count, 1.0), correct / max(count, 1.0)

    def _save_checkpoint(self, model: TwoStreamTransformer, state: TrainState) -> None:
        extra = record.checkpoint_extra(
            settings=self.settings, dataset=self.dataset, split=self.split, best_epoch=state.best_epoch, history=state.history,
            command=self.command, skipped=self.skipped, weights_sources=self._sources,
        )
        save_checkpoint(self.out, model, self.config, extra=extra)

    def _skipped_from_checkpoint(self) -> None:
        """A finished run's skipped list, as its checkpoint recorded it."""
        record.add_recorded_skips(self.out, self.skipped)

    def _result(self, state: TrainState, *, resumed_from: int, already_finished: bool) -> TrainResult:
        return TrainResult(
            checkpoint=self.out,
            best_epoch=state.best_epoch,
            epochs_run=state.epoch,
            stopped_early=state.stopped_early,
            history=list(state.history),
            skipped=self.skipped,
            split=self.split.without(self.skipped.paths),
            config=self.config,
            resumed_from_epoch=resumed_from,
            already_finished=already_finished,
            notes=tuple(self.notes),
        )
