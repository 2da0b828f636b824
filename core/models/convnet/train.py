"""What the end-to-end trainer (:mod:`core.training.end_to_end`) needs from the two-stream ConvNet:
its config from the run's settings, and training samples (TSN: ``snippets`` windows per video,
one drawn at random inside each of equal segments; centred for validation).

``--augment crop`` follows Simonyan & Zisserman (section 6 of the paper seed 001 links): the
videos are rescaled so the shorter side is 256 (for 224 inputs), and every training sample
takes a 224 square at a random place anywhere in the whole frame, the same place for its frame
and its flow stack (the flow computed on the whole rescaled frames, as theirs was, then cropped:
displacements are in pixels of that rescale, which the crop keeps); ``flip`` then mirrors it
half the time; ``jitter`` adds to every RGB pixel of the sample (all its snippets) one colour offset
along the principal components of the training frames' RGB values (Krizhevsky et al.'s PCA
colour augmentation, which Simonyan & Zisserman add to the spatial stream; never to flow).
Validation, ``eval`` and ``classify`` keep their centre crop (or ``--views``) and true colours.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
import torch

from core.errors import InputError
from core.models.convnet.config import ConvNetConfig, reads_snippets_jointly
from core.models.convnet.inputs import mirrored, prepare_snippets, sample_starts, snippet_windows, stack_flow
from core.models.shared.inputs import normalise_frames
from core.models.shared.resnet_config import resnet_settings
from core.sampling import CROP_ROOM_SCALE, crop_offsets
from core.training.colour_pca import ColourPCA, draw_alpha
from core.training.settings import augment_parts

TRAIN_OPTIONS = ("flow_method", "raft_weights", "resnet", "tiny_width", "flow_length", "snippets", "bidirectional",
                 "no_mean_subtraction", "conv_fusion", "flow_scale", "flow_bound", "optimizer", "momentum", "rgb_attention",
                 "rgb_convlstm", "augment", "fusion_strides")

# Seed 002's two-stream ConvNet (its sections on stream design, flow and training): ResNet-50 streams
# with ImageNet weights (the temporal one by cross-modality initialisation), L = 10 stacked TV-L1 fields
# divided by 20 and clamped to +-1 with the mean displacement subtracted, late fusion by averaging,
# SGD at lr 0.01 with momentum 0.9 and weight decay 5e-4, one frame (snippet) per video a training step
# ("Sample one frame per video": not TSN's consensus of 3), 25 test snippets.  The augmentation is the
# original paper's (seed 001): random 224 crops of frames rescaled to a shorter side of 256, then random
# horizontal flips, for both streams, and RGB jittering for the spatial stream.  The seed trains the streams apart; this trainer trains them
# jointly with one loss per stream (see core.training.end_to_end).
# Seed 003's conv fusion (Feichtenhofer et al. 2016 as the post tells it): the streams' last conv maps
# stacked and fused by a bank of 1x1 filters, then pooled over time (``conv_fusion`` 1x1 and the fusion's
# 3-D average pooling), on clips sampled "at numerous different locations" with "both small and large
# strides" (``fusion_strides``).  The post names no numbers: 3 snippets a clip (the family's default)
# and strides of 1, 5 and 10 frames between them (10 = L, where consecutive flow stacks abut) are ours.
SEED003_STRIDES = (1, 5, 10)

RECIPES = {
    "seed003": {
        "variant": "conv",
        "conv_fusion": "1x1",
        "snippets": 3,
        "fusion_strides": SEED003_STRIDES,
    },
    "seed002": {
        "resnet": "resnet50",
        "pretrained": True,
        "flow_method": "tvl1",
        "flow_length": 10,
        "flow_scale": 20.0,
        "flow_bound": 1.0,
        "mean_subtraction": True,
        "variant": "late",
        "snippets": 1,
        "augment": "flip+crop+jitter",
        "optimizer": "sgd",
        "lr": 0.01,
        "momentum": 0.9,
        "weight_decay": 5e-4,
    },
}


def config_from_settings(settings: Any, class_names: Sequence[str]) -> ConvNetConfig:
    overrides = resnet_settings(settings)
    try:  # as many as a test may take (250): --snippets 100000 stacked that many windows into each sample
        ConvNetConfig.RULES["test_snippets"].check("snippets", settings.snippets)
    except ValueError as err:
        raise InputError(str(err)) from None
    # the conv fusion / ConvLSTM reads its training samples' snippets together: test in groups of that many
    if reads_snippets_jointly(overrides["variant"], settings.rgb_convlstm):
        overrides["fusion_snippets"] = settings.snippets
    if settings.fusion_strides:
        overrides["fusion_strides"] = tuple(settings.fusion_strides)
    return ConvNetConfig.create(
        class_names=list(class_names), flow_length=settings.flow_length,
        bidirectional=settings.bidirectional, mean_subtraction=settings.mean_subtraction,
        conv_fusion=settings.conv_fusion, flow_method=settings.flow_method, flow_scale=settings.flow_scale,
        flow_bound=settings.flow_bound, rgb_attention=settings.rgb_attention, rgb_convlstm=settings.rgb_convlstm, **overrides,
    )


def needs_flow(config: ConvNetConfig) -> bool:
    """The temporal stream reads optical flow: the trainer computes (and caches) it per video."""
    return bool(config.uses_flow)


def sample_inputs(config: ConvNetConfig, source: Any, *, starts: Sequence[int] | None = None, count: int = 1,
                  rng: np.random.Generator | None = None, flow_backend: Any = None, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """``count`` snippets (a sample as :func:`~core.models.convnet.inputs.sample_starts` draws it with
    ``rng``, its validation sample without) or the windows at ``starts``, decoded from ``source``: ``{"rgb": (S, 3, H, W), "flow": (S, 2L, H, W)}``."""
    chosen = list(starts) if starts is not None else sample_starts(len(source), count, config, rng=rng)
    return prepare_snippets(source, chosen, config, flow_backend=flow_backend, device=device).inputs()


def training_scale(settings: Any) -> float:
    """How much larger than the input size the trainer keeps a training video's shorter side, whole:
    room for ``--augment crop``; 1 (resized and centre-cropped once) without it."""
    return CROP_ROOM_SCALE if "crop" in settings.augment else 1.0


def training_inputs(config: ConvNetConfig, prepared: Any, rng: np.random.Generator | None, settings: Any, *,
                    colour_pca: ColourPCA | None = None) -> dict[str, torch.Tensor]:
    """One training (``rng``: random) or validation (centred) sample of a prepared video.

    With ``--augment crop`` the sample is cut from a square at a random place of the video's
    larger resize (:func:`cropped`; the centre without ``rng``); with ``flip`` it is mirrored half
    the time (as Simonyan & Zisserman train both streams); with ``jitter`` its RGB gets
    ``colour_pca``'s offset for one draw of alpha (:func:`jittered`; flow stacks untouched).  The
    draws come from ``rng`` in a fixed order (snippet starts, crop, flip, the three alphas), so a
    seeded epoch repeats exactly; a run without one of them draws what it drew before it existed.
    """
    parts = augment_parts(settings.augment)
    starts = sample_starts(len(prepared.frames), settings.snippets, config, rng=rng)
    if "crop" in parts:
        frames = prepared.frames
        top, left = crop_offsets(frames.shape[1], frames.shape[2], config.input_size, rng)
        prepared = cropped(prepared, top, left, config.input_size)
    inputs = snippets_from_prepared(prepared, starts, config)
    if rng is not None and "flip" in parts and rng.random() < 0.5:
        inputs = mirrored(inputs)
    if rng is not None and "jitter" in parts and "rgb" in inputs:
        if colour_pca is None:
            raise ValueError("--augment jitter needs the colour PCA of the training frames (colour_pca)")
        inputs["rgb"] = jittered(inputs["rgb"], colour_pca.offset(draw_alpha(rng)), config)
    return inputs


def jittered(rgb: torch.Tensor, offset: np.ndarray, config: ConvNetConfig) -> torch.Tensor:
    """Normalised frames ``(..., 3, H, W)`` with ``offset`` (3,) added to their [0, 1] pixel values:
    after the normalisation that is ``offset / std`` per channel.  No clamp: the offset is a shift of
    the illumination's colour, as Krizhevsky et al. add it."""
    shift = torch.as_tensor(np.asarray(offset, np.float64) / np.asarray(config.std, np.float64), dtype=rgb.dtype)
    return rgb + shift.view(3, 1, 1)


def cropped(prepared: Any, top: int, left: int, size: int) -> Any:
    """The prepared video seen through one ``size`` square at ``(top, left)``: its frames and its
    pair flow cut at the same place (views, no copies), so a snippet's frame and flow stack align."""
    window = (slice(top, top + size), slice(left, left + size))
    if top < 0 or left < 0 or top + size > prepared.frames.shape[1] or left + size > prepared.frames.shape[2]:
        raise ValueError(f"a {size} px crop at ({top}, {left}) falls outside frames of {prepared.frames.shape[1:3]}")
    cut = {"frames": prepared.frames[(slice(None), *window)]}
    for name in ("forward", "backward"):
        flow = getattr(prepared, name)
        cut[name] = None if flow is None else flow[(slice(None), slice(None), *window)]
    return dataclasses.replace(prepared, **cut)


def snippets_from_prepared(prepared: Any, starts: list[int], config: ConvNetConfig) -> dict[str, torch.Tensor]:
    """What :func:`sample_inputs` gives for these window starts, built from the trainer's
    prepared video (frames cropped once, the flow of every pair from the cache)."""
    frames = prepared.frames
    windows = snippet_windows(len(frames), starts, config)
    rgb, stacks = [], []
    for window in windows:
        indices = list(window.indices)
        if config.uses_rgb:
            rgb.append(frames[indices[config.centre_offset]])
        if config.uses_flow:
            forward = np.stack([_pair(prepared.forward, a, b, frames) for a, b in zip(indices[:-1], indices[1:])])
            backward = None
            if config.bidirectional:
                backward = np.stack([_pair(prepared.backward, a, b, frames) for a, b in zip(indices[:-1], indices[1:])])
            stacks.append(stack_flow(forward, backward, config))
    out: dict[str, torch.Tensor] = {}
    if rgb:
        out["rgb"] = normalise_frames(np.stack(rgb), config.mean, config.std)
    if stacks:
        out["flow"] = torch.from_numpy(np.stack(stacks))
    return out


def _pair(flow: np.ndarray | None, a: int, b: int, frames: np.ndarray) -> np.ndarray:
    """The flow of frames ``a`` -> ``b`` of a window: consecutive frames, or a repeated last frame (no motion)."""
    if b == a:
        return np.zeros((2, *frames.shape[1:3]), np.float32)
    if flow is None or b != a + 1:
        raise ValueError(f"the trainer's flow covers consecutive frame pairs only, got frames {a} -> {b}")
    return flow[a]
