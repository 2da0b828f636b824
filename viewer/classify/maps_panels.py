"""What the attention controls offer and say for each type of maps a prediction can carry.

As napari's ``layer_to_controls`` maps a layer type to its controls,
:data:`MAPS_PANELS` maps a type of maps (a transformer's
:class:`~core.models.transformer.explain.AttentionMaps`, the ResNet families'
:class:`~core.models.shared.cam_maps.CamMaps`, or one a new family adds with
:func:`register_maps_panel`) to its :class:`MapsPanel`: the words for its kinds,
whether a layer and a head can be chosen, whether it has a cross-stream matrix,
and the sentence under the controls.  The widgets look the panel up by the
maps' type and never ask which model family made them; what a family is called
comes from its registry record.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence

from core.export.prediction_heat import FLOW, RGB, AttentionChoice, choice_for
from core.models.registry import Family
from core.models.shared.cam_maps import CamMaps
from core.models.transformer.explain import AttentionMaps
from viewer.classify.cross_stream import STREAM_NAMES

CAM_NO_LAYERS = "A class activation map has no layers or heads: it is the class weights over the last convolutional features."
WHOLE_NETWORK = "Rollout and relevance use every layer and head (the cross-stream panel has its own layer and head)"
NO_CROSS_CAM = "This model's streams meet only at fusion: there is no cross-stream attention (its maps are class activation maps)."


class MapsPanel(Protocol):
    """What the attention controls show for one type of maps."""

    kind_labels: Mapping[str, str]  # the kind box's words for each kind the maps carry
    layered: bool  # the layer and head boxes apply
    class_free: str  # the class box's tooltip while the drawn kind explains no class

    def layer_hint(self, kind: str) -> str:
        """The layer and head boxes' tooltip while ``kind`` is drawn (empty: they choose its map)."""

    def describe(self, maps: Any, choice: AttentionChoice, class_name: str, family: Family) -> str:
        """The sentence under the controls: what is drawn, for which class, where."""

    def cross_stream(self, maps: Any) -> bool:
        """Whether these maps have a cross-stream attention matrix (and token pairs to select)."""

    def no_cross_note(self, maps: Any) -> str:
        """Why there is no cross-stream matrix."""


def _clip_span(maps: Any) -> str:
    frames = maps.frame_indices or ()
    return f" (frames {frames[0]}-{frames[-1]})" if frames else ""


class TokenMapsPanel:
    """A transformer's attention over its tokens: per layer and head, rollout, relevance."""

    kind_labels = {
        "attention": "Class-token attention (one layer)",
        "rollout": "Attention rollout (all layers)",
        "relevance": "Relevance (Chefer et al.)",
    }
    layered = True
    class_free = "Class-token attention and rollout do not depend on the class: choose relevance to explain another class"
    per_layer = ("attention",)  # the kinds a layer and a head choose; the others use the whole network

    def layer_hint(self, kind: str) -> str:
        return "" if kind in self.per_layer else WHOLE_NETWORK

    def describe(self, maps: AttentionMaps, choice: AttentionChoice, class_name: str, family: Family) -> str:
        choice = choice_for(maps, choice)
        if choice.kind in self.per_layer:
            head = "mean of heads" if choice.head is None else f"head {choice.head + 1}"
            what = f"class-token attention, layer {choice.layer % maps.num_layers + 1}/{maps.num_layers}, {head}"
        else:
            what = f"{choice.kind} over all {maps.num_layers} layers"
        which = f" for class {class_name}" if choice.kind in maps.class_kinds else ""
        return f"{what}{which}; on the classified clip{_clip_span(maps)} only, colours scaled per clip."

    def cross_stream(self, maps: AttentionMaps) -> bool:
        return maps.layout.rgb_grid is not None and maps.layout.flow_grid is not None

    def no_cross_note(self, maps: AttentionMaps) -> str:
        return f"The {maps.layout.variant} variant has no cross-stream attention."


def stream_words(stream: str, family: Family) -> str:
    """A stream as the text names it.  The flow stream of a family that computes no optical flow
    is its own learnt motion, named after the family ("representation-flow stream")."""
    if stream == FLOW and not family.optical_flow:
        return f"{family.title.replace(' ', '-')} stream"
    return f"{STREAM_NAMES[stream]} stream"


class CamMapsPanel:
    """Class activation maps: one kind, no layers or heads, no cross-stream matrix."""

    kind_labels = {"cam": "Class activation map"}
    layered = False
    class_free = ""  # a class activation map always explains a class

    def layer_hint(self, kind: str) -> str:
        return CAM_NO_LAYERS

    def describe(self, maps: CamMaps, choice: AttentionChoice, class_name: str, family: Family) -> str:
        return (
            f"class activation map (the class weights over the last convolutional features) of {class_name}: {self.placement(maps, family)}; "
            f"on the classified clip{_clip_span(maps)} only, colours scaled per clip. Layer and head do not apply."
        )

    @staticmethod
    def placement(maps: CamMaps, family: Family) -> str:
        """Which stream's map each view shows, in words."""
        views = []
        for view in (RGB, FLOW):
            stream = maps.stream_for_view(view)
            if stream is not None:
                views.append(f"{stream_words(stream, family)} on the {STREAM_NAMES[view]} view")
        return "; ".join(views) if views else "no stream map to draw"

    def cross_stream(self, maps: CamMaps) -> bool:
        return False

    def no_cross_note(self, maps: CamMaps) -> str:
        return NO_CROSS_CAM


MAPS_PANELS: dict[type, MapsPanel] = {AttentionMaps: TokenMapsPanel(), CamMaps: CamMapsPanel()}


def register_maps_panel(maps_type: type, panel: MapsPanel) -> None:
    """Show maps of ``maps_type`` (a class with ``kinds`` and ``class_kinds``) with ``panel``."""
    MAPS_PANELS[maps_type] = panel


def panel_for_type(maps_type: type) -> MapsPanel:
    """The panel registered for ``maps_type`` or its nearest registered base class."""
    for cls in maps_type.__mro__:
        panel = MAPS_PANELS.get(cls)
        if panel is not None:
            return panel
    raise TypeError(f"no attention panel for {maps_type.__name__}: registered {', '.join(t.__name__ for t in MAPS_PANELS)}")


def panel_for(maps: Any) -> MapsPanel:
    return panel_for_type(type(maps))


def maps_type_for_kinds(kinds: Sequence[str]) -> type | None:
    """Before any prediction: the registered maps type that carries exactly ``kinds`` (the
    chosen model's family record's ``map_kinds``), or ``None``."""
    return next((t for t in MAPS_PANELS if tuple(t.kinds) == tuple(kinds)), None)


def has_cross_stream(maps: Any) -> bool:
    """Whether ``maps`` (``None`` before a prediction) have a cross-stream matrix."""
    return maps is not None and panel_for(maps).cross_stream(maps)
