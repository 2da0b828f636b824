"""The explicit "explain" path: record attention, then derive the maps the viewer draws.

From each layer's attention ``A`` (heads x L x L) and its gradient for a
chosen class, per clip:

* class token -> RGB tokens and -> flow tokens, as ``(T', H', W')`` volumes per
  layer and head;
* the cross-stream blocks (RGB queries -> flow keys, flow -> RGB), summarised
  over space as ``T' x T'`` matrices (the full token x token block stays
  available through :meth:`AttentionMaps.block`);
* attention rollout (Abnar & Zuidema 2020): ``prod_l (0.5 mean_h A_l + 0.5 I)``
  with rows renormalised, so the residual path counts;
* gradient-weighted relevance (Chefer et al. 2021, the self-attention rule that
  also covers two modalities in one sequence): ``R = I``, then per layer
  ``R += mean_h(clamp(dA * A, min=0)) @ R``.

Everything is returned as float32 numpy on the CPU, with the layout that says
which position is which token, and (once inference fills them in) the clip's
frame indices and crop map that take a token back to frame pixels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from core.models.shared.encoder import AttentionRecorder
from core.models.transformer.layout import FLOW, RGB, TokenLayout

if TYPE_CHECKING:
    from core.models.transformer.model import TwoStreamTransformer
    from core.sampling import CropMap

MAP_KINDS = ("attention", "rollout", "relevance")


def attention_rollout(attention: np.ndarray | torch.Tensor, rows: Sequence[int] | None = None) -> np.ndarray:
    """Rollout of ``(layers, heads, L, L)`` attention: how much each output draws on each input.

    Each layer's head-mean is mixed half-and-half with the identity (the
    residual connection), rows renormalised, and the layers multiplied in
    order (later layers on the left).  With ``rows`` only those rows of the
    product are computed (vector-matrix products, ``O(L^2)`` per layer).
    """
    att = _as_float_tensor(attention)
    _check_stack(att)
    eye = torch.eye(att.shape[-1], dtype=att.dtype)
    mixed = [(0.5 * layer.mean(dim=0) + 0.5 * eye) for layer in att]
    mixed = [m / m.sum(dim=-1, keepdim=True) for m in mixed]
    if rows is None:
        joint = eye
        for layer in mixed:
            joint = layer @ joint
        return joint.numpy()
    picked = eye[list(rows)]
    for layer in reversed(mixed):
        picked = picked @ layer
    return picked.numpy()


def relevance_propagation(attention: np.ndarray | torch.Tensor, gradients: np.ndarray | torch.Tensor, rows: Sequence[int] | None = None) -> np.ndarray:
    """Chefer et al.'s relevance ``R`` from attention and its gradient, both ``(layers, heads, L, L)``.

    ``R = I``, then per layer ``R += mean_h(clamp(dA * A, min=0)) @ R``, i.e.
    ``R = (I + C_L) ... (I + C_1)``; with ``rows`` only those rows (``O(L^2)`` per layer).
    """
    att = _as_float_tensor(attention)
    grad = _as_float_tensor(gradients)
    _check_stack(att)
    if grad.shape != att.shape:
        raise ValueError(f"gradients must match attention's shape {tuple(att.shape)}, got {tuple(grad.shape)}")
    cams = [(layer_grad * layer_att).clamp(min=0).mean(dim=0) for layer_att, layer_grad in zip(att, grad)]
    eye = torch.eye(att.shape[-1], dtype=att.dtype)
    if rows is None:
        relevance = eye
        for cam in cams:
            relevance = relevance + cam @ relevance
        return relevance.numpy()
    picked = eye[list(rows)]
    for cam in reversed(cams):
        picked = picked + picked @ cam
    return picked.numpy()


def _as_float_tensor(values: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        return values.detach().float().cpu()
    array = np.ascontiguousarray(values, dtype=np.float32)
    return torch.from_numpy(array if array.flags.writeable else array.copy())


def _check_stack(att: torch.Tensor) -> None:
    if att.ndim != 4 or att.shape[-1] != att.shape[-2]:
        raise ValueError(f"attention must have shape (layers, heads, L, L), got {tuple(att.shape)}")


def class_volume(matrix: np.ndarray, layout: TokenLayout, stream: str) -> np.ndarray:
    """The class token's row of ``(..., R, L)`` over ``stream``'s tokens, as ``(..., T', H', W')``.

    ``R`` is ``L`` for a full matrix, or the class-token rows alone (class tokens come first).
    """
    grid = layout.grid(stream)
    if grid is None:
        raise ValueError(f"variant {layout.variant!r} has no {stream} stream")
    row = matrix[..., layout.class_index(stream), layout.token_slice(stream)]
    return np.ascontiguousarray(row.reshape(*row.shape[:-1], *grid), dtype=np.float32)


def cross_time_summary(attention: np.ndarray, layout: TokenLayout, query: str, key: str) -> np.ndarray:
    """``(..., Tq, Tk)``: for query tokens in time slice i, the mean share of their attention
    that goes to key tokens in slice j (summed over the key slice's positions)."""
    q_grid, k_grid = layout.grid(query), layout.grid(key)
    if q_grid is None or k_grid is None:
        raise ValueError(f"variant {layout.variant!r} lacks the {query} or {key} stream")
    block = attention[..., layout.token_slice(query), layout.token_slice(key)]
    lead = block.shape[:-2]
    block = block.reshape(*lead, q_grid[0], q_grid[1] * q_grid[2], k_grid[0], k_grid[1] * k_grid[2])
    return np.ascontiguousarray(block.sum(axis=-1).mean(axis=-2), dtype=np.float32)


@dataclass(frozen=True, eq=False)
class AttentionMaps:
    """Every attention map of one clip, with the way back to frame pixels.

    Volumes are ``(T', H', W')`` over the encoder's token grid (``grid_shape``);
    per-layer/head arrays lead with ``(layers, heads)``.  ``frame_indices`` and
    ``crop_map`` are the clip's video frames and its resize-and-crop (set by
    inference); flow image k belongs to frame ``frame_indices[k]``.
    """

    layout: TokenLayout
    attention: np.ndarray  # (layers, heads, L, L)
    class_to_rgb: np.ndarray | None  # (layers, heads, T', H', W')
    class_to_flow: np.ndarray | None
    rgb_to_flow_time: np.ndarray | None  # (layers, heads, T', T')
    flow_to_rgb_time: np.ndarray | None
    rollout: np.ndarray  # (class tokens, L): the class tokens' rows of the rollout
    relevance: np.ndarray  # (class tokens, L): the class tokens' rows of Chefer's R
    target_class: int
    frame_indices: tuple[int, ...] | None = None
    crop_map: "CropMap | None" = None

    kinds = MAP_KINDS  # what the viewer can draw from these maps
    class_kinds = ("relevance",)  # the kinds that depend on the explained class

    @property
    def grid_shape(self) -> tuple[int, int, int]:
        grid = self.layout.rgb_grid or self.layout.flow_grid
        assert grid is not None
        return grid

    @property
    def num_layers(self) -> int:
        return int(self.attention.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.attention.shape[1])

    def volume(self, stream: str, kind: str = "attention", layer: int = -1, head: int | None = None) -> np.ndarray:
        """A ``(T', H', W')`` map of the class token over ``stream``.

        ``kind``: ``attention`` (one layer; one head or the head mean),
        ``rollout`` or ``relevance`` (whole network; ``layer``/``head`` ignored).
        """
        if self.layout.grid(stream) is None:  # also refuses names other than rgb/flow
            raise ValueError(f"variant {self.layout.variant!r} has no {stream} stream")
        if kind == "attention":
            stack = self.class_to_rgb if stream == RGB else self.class_to_flow
            if stack is None:
                raise ValueError(f"variant {self.layout.variant!r} has no {stream} stream")
            per_layer = stack[layer]
            return per_layer.mean(axis=0) if head is None else per_layer[head]
        if kind == "rollout":
            return class_volume(self.rollout, self.layout, stream)
        if kind == "relevance":
            return class_volume(self.relevance, self.layout, stream)
        raise ValueError(f"unknown map kind {kind!r}: choose one of {', '.join(MAP_KINDS)}")

    def block(self, query: str, key: str, layer: int = -1, head: int | None = None) -> np.ndarray:
        """The full ``(N_query, N_key)`` token-to-token attention block (for hovering)."""
        per_layer = self.attention[layer]
        att = per_layer.mean(axis=0) if head is None else per_layer[head]
        return att[self.layout.token_slice(query), self.layout.token_slice(key)]

    def cross_time(self, query: str, key: str, layer: int = -1, head: int | None = None) -> np.ndarray:
        """The space-summarised ``(T'_query, T'_key)`` matrix of one layer (head mean by default)."""
        stack = {(RGB, FLOW): self.rgb_to_flow_time, (FLOW, RGB): self.flow_to_rgb_time}.get((query, key))
        if stack is None:
            raise ValueError(f"no cross-stream attention {query} -> {key} for variant {self.layout.variant!r}")
        per_layer = stack[layer]
        return per_layer.mean(axis=0) if head is None else per_layer[head]

    def with_frames(self, frame_indices: Sequence[int], crop_map: "CropMap") -> "AttentionMaps":
        return dataclasses.replace(self, frame_indices=tuple(int(i) for i in frame_indices), crop_map=crop_map)

    def heatmap(self, volume: np.ndarray, frame_index: int, *, smooth: bool = False) -> np.ndarray:
        """``volume`` painted onto video frame ``frame_index``: ``(src_h, src_w)`` float32."""
        from core.models.transformer.attention_map import heatmap_for_frame

        if self.frame_indices is None or self.crop_map is None:
            raise ValueError("these attention maps carry no frame mapping (set by inference via with_frames)")
        return heatmap_for_frame(volume, frame_index, self.frame_indices, self.crop_map, smooth=smooth)


def build_attention_maps(attention: np.ndarray, gradients: np.ndarray, layout: TokenLayout, target_class: int) -> AttentionMaps:
    """Derive every map of one clip from its ``(layers, heads, L, L)`` attention and gradients."""
    attention = np.ascontiguousarray(attention, dtype=np.float32)
    if attention.ndim != 4 or attention.shape[-1] != layout.length:
        raise ValueError(f"attention must be (layers, heads, {layout.length}, {layout.length}) for this layout, got {attention.shape}")
    both = layout.rgb_grid is not None and layout.flow_grid is not None
    class_rows = list(range(layout.num_class_tokens))
    return AttentionMaps(
        layout=layout,
        attention=attention,
        class_to_rgb=class_volume(attention, layout, RGB) if layout.rgb_grid is not None else None,
        class_to_flow=class_volume(attention, layout, FLOW) if layout.flow_grid is not None else None,
        rgb_to_flow_time=cross_time_summary(attention, layout, RGB, FLOW) if both else None,
        flow_to_rgb_time=cross_time_summary(attention, layout, FLOW, RGB) if both else None,
        rollout=attention_rollout(attention, rows=class_rows),
        relevance=relevance_propagation(attention, gradients, rows=class_rows),
        target_class=int(target_class),
    )


@dataclass(frozen=True, eq=False)
class Explanation:
    """Logits ``(B, K)`` of the recording pass and one :class:`AttentionMaps` per clip."""

    logits: torch.Tensor
    maps: list[AttentionMaps]


def explain(
    model: "TwoStreamTransformer",
    rgb: torch.Tensor | None = None,
    flow: torch.Tensor | None = None,
    *,
    rgb_tokens: torch.Tensor | None = None,
    flow_tokens: torch.Tensor | None = None,
    target_class: int | Sequence[int] | None = None,
) -> Explanation:
    """Run the fusion with attention recorded and differentiate the target logit through it.

    Backbones run without gradients (tokens are leaves), so the backward pass
    only covers the small fusion encoder.  ``target_class`` defaults to each
    clip's predicted class.  Do not call under ``torch.inference_mode``.
    """
    if torch.is_inference_mode_enabled():
        raise RuntimeError("explain needs autograd for relevance: call it outside torch.inference_mode (torch.no_grad is fine)")
    if rgb_tokens is None and flow_tokens is None:
        with torch.no_grad():
            rgb_tokens, flow_tokens = model.forward_backbones(rgb, flow)
    # The recorded pass and the maps run in float32 whatever the caller's autocast: half-precision attention
    # would be recorded rounded (and bfloat16 tensors have no numpy form); the fusion is small.
    leaves = [t.detach().float().requires_grad_(True) if t is not None else None for t in (rgb_tokens, flow_tokens)]
    device_type = next(t for t in leaves if t is not None).device.type
    with torch.autocast(device_type, enabled=False):
        return _explain_tokens(model, leaves, target_class)


def _explain_tokens(model: "TwoStreamTransformer", leaves: list[torch.Tensor | None], target_class: int | Sequence[int] | None) -> Explanation:
    recorder = AttentionRecorder()
    with torch.enable_grad():
        logits = model.forward_head(model.fuse_tokens(leaves[0], leaves[1], recorder))
        batch, num_classes = logits.shape
        if target_class is None:
            targets = logits.detach().argmax(dim=1)
        else:
            values = [target_class] * batch if isinstance(target_class, int) else list(target_class)
            if len(values) != batch or not all(0 <= int(v) < num_classes for v in values):
                raise ValueError(f"target_class must be one class in [0, {num_classes}) per clip, got {target_class!r}")
            targets = torch.as_tensor([int(v) for v in values], device=logits.device)
        score = logits.gather(1, targets[:, None]).sum()
        gradients = torch.autograd.grad(score, recorder.maps)
    att = torch.stack([a.detach().float() for a in recorder.maps], dim=1).cpu().numpy()  # (B, layers, heads, L, L)
    grad = torch.stack([g.detach().float() for g in gradients], dim=1).cpu().numpy()
    maps = [build_attention_maps(att[b], grad[b], model.layout, int(targets[b])) for b in range(batch)]
    return Explanation(logits=logits.detach(), maps=maps)
