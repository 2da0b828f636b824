"""Per-frame class activation maps, with the way back to video frame pixels.

:class:`CamMaps` is to the ConvNet families what
:class:`core.models.transformer.explain.AttentionMaps` is to the transformer: volumes
``(S, h, w)`` per stream (one map per snippet or time step), the frames each
map belongs to, and the clip's :class:`~core.sampling.CropMap`, so
``heatmap(volume(stream), frame_index)`` paints a map on an original frame.
It answers the same calls as AttentionMaps where they make sense
(``volume(stream, kind, layer, head)``, ``heatmap``, ``grid_shape``,
``num_layers``/``num_heads`` of 1); its only kind is ``cam``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
import torch

from core.sampling import CropMap

CAM_KINDS = ("cam",)
RGB, FLOW = "rgb", "flow"


@dataclass(frozen=True, eq=False)
class CamMaps:
    """CAM volumes of one sample for ``target_class``.

    ``rgb``/``flow``: float32 ``(S, h, w)`` or ``None`` for a stream the model
    lacks.  ``rgb_frames[s]`` / ``flow_frames[s]``: the video frames map ``s`` of
    that stream covers (set by inference with :meth:`with_frames`).
    """

    rgb: np.ndarray | None
    flow: np.ndarray | None
    target_class: int
    rgb_frames: tuple[tuple[int, ...], ...] | None = None
    flow_frames: tuple[tuple[int, ...], ...] | None = None
    crop_map: CropMap | None = None
    # which stream's maps each view shows; None: each stream on its own view.  A representation-flow
    # model sees RGB frames only, so its flow-layer maps go on the RGB view (set by its classifier).
    views: tuple[tuple[str, str | None], ...] | None = None
    # crop pixels per map cell: the trunk's total stride (a padded conv trunk's cell i covers crop pixels
    # [i * stride, (i + 1) * stride), the last cell cut by the crop's edge when the input size is not a
    # multiple of it); None: the maps tile the crop evenly (maps made before the field, or without a trunk)
    cell_size: int | None = None

    kinds = CAM_KINDS
    class_kinds = CAM_KINDS
    num_layers = 1
    num_heads = 1

    @property
    def grid_shape(self) -> tuple[int, int, int]:
        volume = self.rgb if self.rgb is not None else self.flow
        assert volume is not None
        return tuple(int(v) for v in volume.shape)  # type: ignore[return-value]

    @property
    def frame_indices(self) -> tuple[int, ...] | None:
        """Every video frame some map covers, sorted (``None`` before :meth:`with_frames`)."""
        groups = [g for frames in (self.rgb_frames, self.flow_frames) if frames is not None for g in frames]
        if not groups:
            return None
        return tuple(sorted({i for group in groups for i in group}))

    @property
    def streams(self) -> tuple[str, ...]:
        return tuple(name for name, v in ((RGB, self.rgb), (FLOW, self.flow)) if v is not None)

    def stream_for_view(self, view: str) -> str | None:
        """The stream whose maps go on ``view`` (``"rgb"`` or ``"flow"``), or ``None`` for none."""
        if view not in (RGB, FLOW):
            raise ValueError(f"unknown view {view!r}: choose rgb or flow")
        if self.views is not None:
            return dict(self.views).get(view)
        return view if (self.rgb if view == RGB else self.flow) is not None else None

    def volume(self, stream: str, kind: str = "cam", layer: int = -1, head: int | None = None) -> np.ndarray:
        """The ``(S, h, w)`` CAM of ``stream`` (``layer``/``head`` are accepted and ignored)."""
        if kind not in CAM_KINDS:
            raise ValueError(f"unknown map kind {kind!r} for a ConvNet: choose one of {', '.join(CAM_KINDS)}")
        volume = {RGB: self.rgb, FLOW: self.flow}.get(stream)
        if volume is None:
            raise ValueError(f"this model has no {stream!r} stream map (it has: {', '.join(self.streams)})")
        return volume

    def with_frames(
        self,
        rgb_frames: Sequence[Sequence[int]] | None,
        flow_frames: Sequence[Sequence[int]] | None,
        crop_map: CropMap,
    ) -> "CamMaps":
        def frames(volume: np.ndarray | None, given: Sequence[Sequence[int]] | None, name: str) -> tuple[tuple[int, ...], ...] | None:
            if volume is None:
                return None
            if given is None or len(given) != volume.shape[0]:
                raise ValueError(f"{name} maps need one frame list per map: {volume.shape[0]} maps, got {None if given is None else len(given)}")
            return tuple(tuple(int(i) for i in group) for group in given)

        return dataclasses.replace(self, rgb_frames=frames(self.rgb, rgb_frames, RGB), flow_frames=frames(self.flow, flow_frames, FLOW), crop_map=crop_map)

    def maps_for_frame(self, stream: str, frame_index: int) -> list[int]:
        """The maps of ``stream`` whose frames include video frame ``frame_index``."""
        groups = self.rgb_frames if stream == RGB else self.flow_frames
        if groups is None:
            raise ValueError(f"these maps carry no frame mapping for the {stream!r} stream (set by inference via with_frames)")
        return [s for s, group in enumerate(groups) if int(frame_index) in group]

    def heatmap(self, volume: np.ndarray, frame_index: int, *, smooth: bool = False, stream: str | None = None) -> np.ndarray:
        """``volume`` painted onto video frame ``frame_index``: ``(src_h, src_w)`` float32.

        ``stream`` says whose frames ``volume`` follows; by default the stream whose
        volume it is (or, for a copy, whose map count matches).  Maps covering the
        frame are averaged; a frame no map covers raises ``ValueError``.
        """
        if self.crop_map is None:
            raise ValueError("these maps carry no frame mapping (set by inference via with_frames)")
        volume = np.asarray(volume, dtype=np.float32)
        if volume.ndim != 3:
            raise ValueError(f"expected an (S, h, w) map volume, got shape {volume.shape}")
        stream = stream or self._stream_of(volume)
        chosen = self.maps_for_frame(stream, frame_index)
        if not chosen:
            raise ValueError(f"frame {frame_index} is not covered by any {stream} map of this prediction")
        grid = volume[chosen].mean(axis=0)
        interpolation = cv2.INTER_LINEAR if smooth else cv2.INTER_NEAREST
        return self.crop_map.grid_to_source(grid, fill=0.0, interpolation=interpolation, cell=self.cell_size)

    def _stream_of(self, volume: np.ndarray) -> str:
        for name, own in ((RGB, self.rgb), (FLOW, self.flow)):
            if own is volume:
                return name
        matches = [name for name, own in ((RGB, self.rgb), (FLOW, self.flow)) if own is not None and own.shape[0] == volume.shape[0]]
        frames = {name: (self.rgb_frames if name == RGB else self.flow_frames) for name in matches}
        if len(matches) == 1 or (len(matches) == 2 and frames[RGB] == frames[FLOW]):
            return matches[0]
        raise ValueError(f"cannot tell which stream a volume of shape {volume.shape} follows: pass stream='rgb' or 'flow'")


@dataclass(frozen=True, eq=False)
class CamExplanation:
    """Scores ``(B, K)`` of the pass and one :class:`CamMaps` per sample."""

    logits: torch.Tensor
    maps: list[CamMaps]


def to_numpy_maps(values: torch.Tensor | None) -> list[np.ndarray | None]:
    """(B, S, h, w) tensor to B float32 arrays (or B ``None``)."""
    if values is None:
        return []
    return [np.ascontiguousarray(v, dtype=np.float32) for v in values.detach().float().cpu().numpy()]


def cam_maps_of(rgb_cam: torch.Tensor | None, flow_cam: torch.Tensor | None, classes: torch.Tensor,
                views: tuple[tuple[str, str | None], ...] | None = None) -> list[CamMaps]:
    """One :class:`CamMaps` per sample from the streams' ``(B, S, h, w)`` CAMs of ``classes`` (B,)."""
    rgb, flow = to_numpy_maps(rgb_cam), to_numpy_maps(flow_cam)
    return [
        CamMaps(rgb=rgb[b] if rgb else None, flow=flow[b] if flow else None, target_class=int(classes[b]), views=views)
        for b in range(int(classes.shape[0]))
    ]
