"""What a training run is asked to do, as one frozen, JSON-able object.

The settings travel into the checkpoint (``extra["train_settings"]``) and into
the resumable training state: rerunning with the same settings continues a run,
and evaluation can see how a model was made.  Defaults follow seed 000: Adam,
lr 2e-4, batch 8, up to 200 epochs with early stopping, no augmentation,
frozen backbones (their token grids cached on disk, see
:mod:`core.models.transformer.train.token_cache`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from core.errors import InputError
from core.flow.render import FlowEncoding
from core.models.registry import default_family, family, family_names

AUGMENT_PARTS = ("flip", "crop", "jitter")  # in the order a setting spells them
# Every combination, spelt canonically ("none" alone; parts joined by "+" in AUGMENT_PARTS' order).
AUGMENTATIONS = ("none", "flip", "crop", "flip+crop", "jitter", "flip+jitter", "crop+jitter", "flip+crop+jitter")
# Fields the default family (the transformer) does not read: its to_dict leaves them out, so its
# settings read exactly as they did before families existed.
FAMILY_FIELDS = ("model", "resnet", "tiny_width", "flow_length", "snippets", "bidirectional", "mean_subtraction",
                 "conv_fusion", "flow_layers", "iterations", "optimizer", "momentum", "flow_scale", "flow_bound", "rgb_attention",
                 "rgb_convlstm", "fusion_strides")
OPTIMIZERS = ("adam", "sgd")


def canonical_augment(text: str) -> str:
    """An ``--augment`` value in its canonical spelling (``"jitter+crop+flip"`` -> ``"flip+crop+jitter"``);
    ``ValueError`` for an unknown or repeated part."""
    parts = [p.strip() for p in str(text).split("+")]
    if parts == ["none"]:
        return "none"
    unknown = [p for p in parts if p not in AUGMENT_PARTS]
    if unknown or len(set(parts)) != len(parts):
        raise ValueError(f"unknown augmentation {text!r}: none, or parts of {', '.join(AUGMENT_PARTS)} joined by '+' (each once)")
    return "+".join(p for p in AUGMENT_PARTS if p in parts)


def augment_parts(augment: str) -> frozenset[str]:
    """The parts of a canonical ``augment`` setting (empty for ``"none"``)."""
    return frozenset() if augment == "none" else frozenset(augment.split("+"))


def default_flow_encoding() -> dict[str, Any]:
    """The flow engine's default colour encoding, as the dict a checkpoint stores."""
    return FlowEncoding().to_dict()


@dataclass(frozen=True)
class TrainSettings:
    """One training run's choices.

    Model: ``backbone`` and ``backbone_options`` (e.g. tiny's ``{"dim": 96,
    "frame_wise": True}``), ``variant`` (rgb, flow, concat, fusion), the fusion
    encoder (``depth``, ``heads`` x ``head_dim``, ``spatial_pool``,
    ``rgb_time_pool``, ``head_layers``, ``head_dropout``), ``input_size`` and
    ``clip_length`` (0: the backbone's own), ``flow_method`` and
    ``flow_encoding`` (``raft_weights``: an explicit RAFT file; a RAFT method
    whose weights cannot be had stops the run rather than train on another
    method's flow).  ``pretrained``: Kinetics-400 weights for backbones that
    have them (``backbone_weights`` names an explicit file for both streams);
    the tiny backbone has none and starts from a seeded random initialisation.

    Data: ``clips_per_video`` training clips per video, spread uniformly (TSN);
    ``augment`` adds fixed views per clip (``flip``: mirrored; ``crop``: four
    corner crops of a slightly larger resize beside the centre crop), one picked
    at random each epoch.  Flipping swaps left and right: do not use it when a
    class depends on direction (the synthetic MoveLeft/MoveRight, Rotate*).
    ``extract_workers``: processes preparing clips ahead of the frozen
    backbones during token extraction (None: 0 on a CPU, min(4, cores) on CUDA).
    ``flow_batch``: clips whose flow extraction computes in one engine call,
    across videos (RAFT's pairs side by side on a GPU; None: 4 on CUDA, 1 on
    a CPU, where batching gains nothing); cache keys do not depend on it.
    Split: :func:`core.data.make_split` with ``split_scheme``,
    ``official_split``, ``val_fraction``, ``test_fraction``, ``split_dir``.

    Optimisation: Adam with ``lr`` and ``weight_decay``, ``batch_size`` clips
    per step (per process under torchrun), up to ``epochs``, early stopping
    when the validation loss has not improved for ``patience`` epochs.
    ``finetune_backbones`` trains end to end on decoded clips instead of on
    cached token grids.  ``seed`` decides every random choice (initialisation,
    split, order, views, dropout).

    Family: ``model`` is ``transformer`` (everything above), ``convnet`` or
    ``repflow`` (trained end to end by :mod:`core.training.end_to_end`).
    Their options: ``resnet`` (tiny, resnet18/34/50; ImageNet weights when
    ``pretrained``, ``backbone_weights`` naming an explicit file), ``tiny_width``
    (0: the tiny ResNet's default), ``input_size``; convnet: ``flow_length``
    (L), ``snippets`` (training snippets per video, TSN), ``bidirectional``,
    ``mean_subtraction``, ``conv_fusion`` (1x1 or 3d), ``flow_method``;
    repflow: ``flow_layers``, ``iterations``, ``clip_length`` (0: 16).  Both
    train with ``optimizer`` ``adam`` (default) or ``sgd`` (``momentum``; seed
    002: lr 0.01, momentum 0.9, weight decay 5e-4) and take seed 004's RGB
    stream (``rgb_attention``: CAM spatial attention, ``rgb_convlstm``: a
    ConvLSTM of that many channels); convnet: ``flow_scale`` and ``flow_bound``
    (seed 002 divides flow by 20 and clamps it to +-1); convnet's ``augment``: ``crop`` draws each
    training sample's square at random from frames whose shorter side is 256/224 of the input size,
    ``flip`` mirrors it half the time, ``jitter`` adds Krizhevsky et al.'s PCA colour offset to its RGB
    (:mod:`core.training.colour_pca`; repflow takes none); convnet's ``fusion_strides`` (conv fusion,
    seed 003): each training sample a clip of ``snippets`` snippets at one of these strides (frames
    between them), tested at every one (empty: TSN's one snippet per segment).
    ``variant`` left empty takes the family's default (fusion, late, flow).
    Settings saved before families existed load as a transformer's.
    """

    model: str = ""  # empty: the default family (the two-stream transformer)
    backbone: str = "tiny"
    backbone_options: Mapping[str, Any] = field(default_factory=dict)
    variant: str = ""
    depth: int = 2
    heads: int = 8
    head_dim: int = 96
    spatial_pool: int = 0
    rgb_time_pool: bool = False
    head_layers: int = 1
    head_dropout: float = 0.5
    input_size: int = 0
    clip_length: int = 0
    flow_method: str = "dis"
    flow_encoding: Mapping[str, Any] = field(default_factory=default_flow_encoding)
    raft_weights: str | None = None
    extract_workers: int | None = None
    flow_batch: int | None = None
    pretrained: bool = True
    backbone_weights: str | None = None
    finetune_backbones: bool = False
    epochs: int = 200
    batch_size: int = 8
    lr: float = 2e-4
    weight_decay: float = 0.0
    patience: int = 10
    augment: str = "none"
    clips_per_video: int = 1
    split_scheme: str = "auto"
    official_split: int = 1
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    split_dir: str | None = None
    seed: int = 0
    device: str = "auto"
    resnet: str = "tiny"
    tiny_width: int = 0
    flow_length: int = 10
    snippets: int = 3
    bidirectional: bool = False
    mean_subtraction: bool = True
    conv_fusion: str = "3d"
    flow_layers: int = 2
    iterations: int = 20
    optimizer: str = "adam"
    momentum: float = 0.9
    flow_scale: float = 1.0
    flow_bound: float = 20.0
    rgb_attention: bool = False
    rgb_convlstm: int = 0
    fusion_strides: tuple[int, ...] = ()

    def __post_init__(self) -> None:  # frozen dataclass: the defaults that depend on the family are set once, here
        if not isinstance(self.fusion_strides, tuple):  # a JSON list read back
            object.__setattr__(self, "fusion_strides", tuple(self.fusion_strides))
        if not self.model:
            object.__setattr__(self, "model", default_family())
        if not self.variant and self.model in family_names():
            object.__setattr__(self, "variant", family(self.model).default_variant)

    def model_config(self, class_names: tuple[str, ...] | list[str]) -> Any:
        """The checkpoint's config for a dataset with ``class_names``: the family's
        ``config_from_settings``; bad model settings raise :class:`InputError`."""
        try:
            return family(self.model).config_from_settings(self, tuple(class_names))
        except InputError:
            raise
        except (ValueError, TypeError) as err:
            what = "" if self.model == default_family() else f"{self.model} "
            raise InputError(f"bad {what}model settings: {err}") from None

    @property
    def views(self) -> int:
        """Fixed augmentation views per clip (view 0 is the plain centre crop)."""
        from core.training.views import view_names

        return len(view_names(self.augment))

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first bad setting and its value."""
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "patience": self.patience,
                    "clips_per_video": self.clips_per_video, "official_split": self.official_split}
        for name, value in positive.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if self.model not in family_names():
            raise InputError(f"unknown model family {self.model!r}: choose one of {', '.join(family_names())}")
        variants = family_variants(self.model)
        if self.variant not in variants:
            raise InputError(f"unknown {self.model} variant {self.variant!r}: choose one of {', '.join(variants)}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        if not 0.0 <= self.momentum < 1.0:
            raise InputError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.augment not in AUGMENTATIONS:
            raise InputError(f"unknown augmentation {self.augment!r}: choose one of {', '.join(AUGMENTATIONS)}")
        if "jitter" in augment_parts(self.augment) and not family(self.model).colour_jitter:
            takers = ", ".join(n for n in family_names() if family(n).colour_jitter) or "none"
            raise InputError(f"--augment {self.augment}: RGB jittering is for the spatial stream of these families only: {takers} (not {self.model})")
        if not self.lr > 0 or self.weight_decay < 0:
            raise InputError(f"lr must be > 0 and weight_decay >= 0, got lr={self.lr}, weight_decay={self.weight_decay}")
        if self.extract_workers is not None and self.extract_workers < 0:
            raise InputError(f"extract_workers must be 0 or more, got {self.extract_workers}")
        if self.flow_batch is not None:
            from core.models.transformer.train.extraction import check_flow_batch

            try:
                check_flow_batch(self.flow_batch)
            except ValueError as err:
                raise InputError(str(err)) from None
        if self.seed < 0:
            raise InputError(f"seed must be >= 0, got {self.seed}")
        if self.input_size < 0 or self.clip_length < 0:
            raise InputError(f"input_size and clip_length must be >= 0 (0: the backbone's), got {self.input_size}, {self.clip_length}")
        self.model_config(("a", "b"))  # the model settings themselves

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields; a transformer's omit the other families' fields (and ``model``), so its
        settings read exactly as they did before families existed (recorded checkpoints compare equal)."""
        data = dataclasses.asdict(self)
        if self.model == default_family():
            for name in FAMILY_FIELDS:
                data.pop(name)
        elif not self.fusion_strides:  # left out unless set: settings recorded before it read as they did
            data.pop("fusion_strides")
        else:
            data["fusion_strides"] = list(self.fusion_strides)
        data["backbone_options"] = dict(self.backbone_options)
        data["flow_encoding"] = dict(self.flow_encoding)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainSettings":
        """Rebuild from :meth:`to_dict`; unknown fields are an :class:`InputError` (missing ones take defaults)."""
        if not isinstance(data, Mapping):
            raise InputError(f"training settings must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"training settings have unknown fields {unknown}")
        return cls(**dict(data))

    def replace(self, **changes: Any) -> "TrainSettings":
        return dataclasses.replace(self, **changes)

    def differences(self, other: "TrainSettings", ignore: tuple[str, ...] = ()) -> list[str]:
        """Names of the fields whose values differ (for 'cannot resume' messages)."""
        mine, theirs = dataclasses.asdict(self), dataclasses.asdict(other)
        return [name for name in mine if name not in ignore and mine[name] != theirs[name]]


def family_variants(model: str) -> tuple[str, ...]:
    """The variants a family trains (the transformer's: rgb, flow, concat, fusion)."""
    return family(model).variants
