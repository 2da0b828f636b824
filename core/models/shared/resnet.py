"""2-D ResNet trunks for the ConvNet streams and the representation-flow network.

A trunk is a ResNet without its pooling and classifier: ``conv1, bn1, relu,
maxpool, layer1..layer4`` under torchvision's names, so torchvision's ImageNet
state dicts load unchanged.  ``tiny`` is a four-block ResNet of the same shape
(stride 8, widths 16-128 by default) that trains from scratch on a CPU, for
tests and the synthetic dataset.

ImageNet weights resolve like every other weight file (:mod:`core.weights`):
an explicit file, the torch hub cache, then torchvision's enum URL; random
weights only when the caller says so.  A trunk with other than 3 input
channels (the temporal stream's 2L) gets its first convolution by
cross-modality initialisation: the RGB filters averaged over their 3 input
channels and replicated over the new ones, as TSN (Wang et al. 2016) does it.
Seed 002's listing also divides the replicated filters by the channel count;
we keep TSN's unscaled filters, whose responses to the flow input then have
the magnitude the following ImageNet batch norm was trained on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
from torch import nn

from core.errors import WeightsUnavailable
from core.models.shared.field_rules import Whole
from core.models.shared.backbones.base import IMAGENET_MEAN, IMAGENET_STD

TRUNK_NAMES = ("tiny", "resnet18", "resnet34", "resnet50")
STAGES = ("stem", "layer1", "layer2", "layer3", "layer4")
DEFAULT_TINY_WIDTH = 16


@dataclass(frozen=True)
class TrunkInfo:
    """A trunk's channel widths after each stage, its total stride and input config."""

    name: str
    channels: tuple[int, int, int, int, int]  # after stem, layer1..layer4
    strides: tuple[int, int, int, int, int]  # cumulative stride after each stage
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    pretrained_what: str | None = None
    pretrained_url: str | None = None

    @property
    def out_channels(self) -> int:
        return self.channels[-1]

    @property
    def stride(self) -> int:
        return self.strides[-1]


def _torchvision_spec(name: str) -> tuple[Any, Any, int]:
    """(builder, weights enum entry, expansion) for a torchvision ResNet."""
    from torchvision.models import ResNet18_Weights, ResNet34_Weights, ResNet50_Weights, resnet18, resnet34, resnet50

    return {
        "resnet18": (resnet18, ResNet18_Weights.IMAGENET1K_V1, 1),
        "resnet34": (resnet34, ResNet34_Weights.IMAGENET1K_V1, 1),
        "resnet50": (resnet50, ResNet50_Weights.IMAGENET1K_V1, 4),
    }[name]


def trunk_info(name: str, **options: Any) -> TrunkInfo:
    """The geometry of trunk ``name`` without building it (``tiny`` takes ``width``)."""
    if name == "tiny":
        unknown = sorted(set(options) - {"width"})
        if unknown:
            raise ValueError(f"backbone 'tiny' takes only the option 'width', got {unknown}")
        width = options.get("width", DEFAULT_TINY_WIDTH)
        Whole(4, 1024).check("tiny backbone width", width)
        return TrunkInfo("tiny", (width, width, 2 * width, 4 * width, 8 * width), (2, 2, 4, 8, 8), 112, IMAGENET_MEAN, IMAGENET_STD)
    if name not in TRUNK_NAMES:
        raise ValueError(f"unknown backbone {name!r}: choose one of {', '.join(TRUNK_NAMES)}")
    if options:
        raise ValueError(f"backbone {name!r} takes no options, got {sorted(options)}")
    _, weights, expansion = _torchvision_spec(name)
    widths = tuple(64 * (2**i) * expansion for i in range(4))
    return TrunkInfo(
        name,
        (64, *widths),  # type: ignore[arg-type]
        (4, 4, 8, 16, 32),
        224,
        IMAGENET_MEAN,
        IMAGENET_STD,
        pretrained_what=f"{name.replace('resnet', 'ResNet-')} (ImageNet)",
        pretrained_url=str(weights.url),
    )


def cross_modality_weights(rgb_weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """First-layer filters for ``in_channels`` inputs from RGB filters ``(out, 3, k, k)``:
    the mean over the 3 colour channels, replicated over every new channel."""
    if rgb_weight.ndim != 4 or rgb_weight.shape[1] != 3:
        raise ValueError(f"cross-modality initialisation needs RGB conv weights (out, 3, kh, kw), got shape {tuple(rgb_weight.shape)}")
    if in_channels < 1:
        raise ValueError(f"in_channels must be >= 1, got {in_channels}")
    return rgb_weight.mean(dim=1, keepdim=True).repeat(1, in_channels, 1, 1).contiguous()


class StridedPointwiseConv(nn.Conv2d):
    """A 1x1 strided convolution that takes its input in the default layout.

    Why: oneDNN's backward pass of a strided 1x1 convolution over a channels-last
    input of 2 to 8 channels writes out of bounds on the CPU (torch 2.14: a
    segfault or "free(): invalid next size" in ``loss.backward()``).  Frames
    permuted from height-width-channel arrive channels-last, so a tiny trunk of
    ``--tiny-width 8`` met it in training.  The copy costs little at that width.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.contiguous())


class ResNetTrunk(nn.Module):
    """A ResNet's convolutional part: ``(N, C_in, H, W)`` to the last conv map ``(N, C, H/s, W/s)``.

    :meth:`run` executes a range of stages, so the representation-flow network
    can insert its flow block between ``layer2`` and ``layer3``.
    """

    def __init__(self, name: str, *, in_channels: int = 3, **options: Any) -> None:
        super().__init__()
        self.info = trunk_info(name, **options)
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        self.in_channels = in_channels
        if name == "tiny":
            self._build_tiny(in_channels, self.info.channels[0])
        else:
            self._build_torchvision(name, in_channels)
        self.weights_source = "random initialisation"

    def _build_torchvision(self, name: str, in_channels: int) -> None:
        builder, _, _ = _torchvision_spec(name)
        net = builder(weights=None)
        conv1 = net.conv1
        if in_channels != 3:
            conv1 = nn.Conv2d(in_channels, conv1.out_channels, kernel_size=7, stride=2, padding=3, bias=False)
            nn.init.kaiming_normal_(conv1.weight, mode="fan_out", nonlinearity="relu")
        self.conv1, self.bn1, self.relu, self.maxpool = conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4

    def _build_tiny(self, in_channels: int, width: int) -> None:
        from torchvision.models.resnet import BasicBlock

        def block(c_in: int, c_out: int, stride: int) -> nn.Module:
            down = None
            if stride != 1 or c_in != c_out:
                conv = (StridedPointwiseConv if stride > 1 and c_in <= 8 else nn.Conv2d)(c_in, c_out, 1, stride=stride, bias=False)
                down = nn.Sequential(conv, nn.BatchNorm2d(c_out))
            return nn.Sequential(BasicBlock(c_in, c_out, stride=stride, downsample=down))

        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity()
        self.layer1 = block(width, width, 1)
        self.layer2 = block(width, 2 * width, 2)
        self.layer3 = block(2 * width, 4 * width, 2)
        self.layer4 = block(4 * width, 8 * width, 1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def stage(self, index: int) -> nn.Module:
        if index == 0:
            return nn.Sequential(self.conv1, self.bn1, self.relu, self.maxpool)
        return getattr(self, f"layer{index}")

    def run(self, x: torch.Tensor, start: int = 0, stop: int = len(STAGES)) -> torch.Tensor:
        """Stages ``start`` .. ``stop - 1`` (0 = stem, 1-4 = layer1-4)."""
        if start == 0:
            if x.ndim != 4 or x.shape[1] != self.in_channels:
                raise ValueError(f"backbone {self.info.name!r} expects (N, {self.in_channels}, H, W) input, got shape {tuple(x.shape)}")
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            start = 1
        for index in range(start, stop):
            x = getattr(self, f"layer{index}")(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)


def build_trunk(
    name: str,
    *,
    in_channels: int = 3,
    pretrained: bool = False,
    weights_path: str | os.PathLike[str] | None = None,
    random_weights_ok: bool = False,
    option_hint: str = "",
    **options: Any,
) -> ResNetTrunk:
    """A trunk; with ``pretrained`` (or ``weights_path``) its ImageNet weights.

    For ``in_channels != 3`` the first convolution comes from the RGB filters
    by :func:`cross_modality_weights`.  Missing weights raise
    :class:`~core.errors.WeightsUnavailable` unless ``random_weights_ok``; the
    trunk's ``weights_source`` says what it got.
    """
    trunk = ResNetTrunk(name, in_channels=in_channels, **options)
    if not pretrained and weights_path is None:
        return trunk
    try:
        state, source = _resolve(trunk.info, weights_path, option_hint)
    except WeightsUnavailable as err:
        if not random_weights_ok:
            raise
        trunk.weights_source = f"random initialisation ({err})"
        return trunk
    load_trunk_state(trunk, state, source)
    trunk.weights_source = source if in_channels == 3 else f"{source} (cross-modality initialisation of conv1)"
    return trunk


def _resolve(info: TrunkInfo, weights_path: str | os.PathLike[str] | None, option_hint: str) -> tuple[dict[str, torch.Tensor], str]:
    from core.weights import load_state_dict_file, resolve_state_dict

    if weights_path is not None and str(weights_path) != "":
        return load_state_dict_file(weights_path), str(weights_path)
    if info.pretrained_url is None:
        raise WeightsUnavailable(f"backbone {info.name!r} has no pretrained weights: it is trained from scratch (build it with pretrained=False) or give a weights file")
    return resolve_state_dict(what=info.pretrained_what or info.name, url=info.pretrained_url, option_hint=option_hint)


def load_trunk_state(trunk: ResNetTrunk, state: dict[str, torch.Tensor], source: str) -> None:
    """Load an ImageNet-layout state dict (``fc.*`` dropped); a 3-channel ``conv1`` is
    adapted to the trunk's input channels by cross-modality initialisation."""
    from core.weights import check_state_dict_fits

    state = {k.removeprefix("module."): v for k, v in state.items() if not k.removeprefix("module.").startswith("fc.")}
    conv1 = state.get("conv1.weight")
    if conv1 is not None and trunk.in_channels != 3 and conv1.ndim == 4 and conv1.shape[1] == 3:
        state["conv1.weight"] = cross_modality_weights(conv1, trunk.in_channels)
    check_state_dict_fits(state, trunk.state_dict(), what=f"does not fit backbone {trunk.info.name!r}", path=source)
    trunk.load_state_dict(state, strict=True)


def imagenet_weights_option(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Builder options of a ResNet family as any family's builder is called: the transformer names
    its weight files per stream; the ResNet families take one ImageNet file for both streams
    (``imagenet_weights``, or ``rgb_weights`` as an alias)."""
    values = dict(kwargs)
    rgb = values.pop("rgb_weights", None)
    flow = values.pop("flow_weights", None)
    if flow is not None:
        raise ValueError("ResNet families take one ImageNet weights file for both streams (imagenet_weights), not flow_weights")
    if rgb is not None:
        values.setdefault("imagenet_weights", rgb)
    return values


def with_imagenet_option(build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """A ResNet family's builder callable as any family's builder is called (see
    :func:`imagenet_weights_option`)."""

    def build_model(config: Any, **kwargs: Any) -> nn.Module:
        return build(config, **imagenet_weights_option(kwargs))

    return build_model


def resnet_family_fields(build: Callable[..., nn.Module]) -> dict[str, Any]:
    """The registry-record fields both ResNet families share: the builder called as any family's,
    the end-to-end trainer, and whether their trunk has ImageNet weights."""
    from core.models.registry import deferred

    return {"build": with_imagenet_option(build), "train": deferred("core.training.end_to_end:train_family"),
            "has_pretrained_weights": has_imagenet_weights}


def has_imagenet_weights(config: Any) -> bool:
    """Whether the config's ResNet has ImageNet weights to start from (the tiny one has none)."""
    return trunk_info(config.backbone, **dict(config.backbone_options)).pretrained_url is not None
