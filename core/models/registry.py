"""The model families, each registered once with a record of what it is.

A family (the two-stream transformer, the classic two-stream ConvNet,
representation flow, or one a user adds) calls :func:`register_family` with a
:class:`Family`: its config type, model builder, classifier, trainer, the
training options it reads and how the interface describes it.  Everything
else (checkpoints, ``train``/``eval``/``ablate``/``classify``, the viewer's
model chooser) looks the family up here by the name a config records, and
never switches on the name.  Like torchvision's and timm's model registries,
this module imports no family: each family's package registers itself when
:mod:`core.models` is imported.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from torch import nn


def _no_flow_statement(config: Any) -> str:
    return ""


@dataclass(frozen=True)
class Family:
    """What the program needs to know about one model family.

    - ``config_class``: a frozen dataclass with ``family`` (this record's name), ``class_names``,
      ``num_classes``, ``variant``, ``input_size``, ``clip_length``, ``frame_stride``,
      ``uses_rgb``/``uses_flow``, ``validate``, ``to_dict``/``from_dict`` and ``architecture()``
      (what decides the weight shapes).
    - ``build(config, *, pretrained=..., **weights)``: the model.  ``classifier``: a
      :class:`core.inference.ClipClassifier` subclass.
    - ``train(dataset_root, settings, out, **options)``: a :class:`core.training.TrainResult`;
      ``config_from_settings(settings, class_names)``: the config a run makes; ``train_options``:
      the ``train`` options (argparse dests) only this family reads, refused for the others;
      ``recipes``: named settings, a paper's configuration in one word (``train --recipe``).
    - ``sample_inputs(config, frames, *, starts=None, count=1, rng=None, flow_backend=None,
      device="cpu")``: one model sample decoded from a frame source (no batch dimension).  The
      end-to-end trainer (:mod:`core.training.end_to_end`) uses ``training_inputs(config,
      prepared_video, rng, settings)`` when given (else ``sample_inputs`` over the prepared
      frames), ``needs_flow(config)``, ``has_pretrained_weights(config)`` and
      ``training_scale(settings)``: a training video's shorter side is kept whole at that many
      times the input size, room for the family's random crops (1: resized and centre-cropped);
      ``colour_jitter``: its ``training_inputs`` takes ``colour_pca=`` (a
      :class:`core.training.colour_pca.ColourPCA` of the training frames) for ``--augment jitter``.
    - ``describe(config)``, ``flow_statement(config)``: what the viewer says about a checkpoint;
      ``stage_labels`` rename timed stages (representation flow's ``flow_backbone`` is its flow
      net); ``motion_stage``: the stage that computes motion; ``optical_flow``: False for a family
      whose flow stream learns its motion from RGB frames; ``demo_checkpoint``: the bundled demo.
    - ``ablation_scorer``: a faster test path for the ablation (the transformer's cached token
      grids); without one a variant is tested as ``eval`` tests it.
    """

    name: str
    title: str
    summary: str
    config_class: type
    variants: tuple[str, ...]
    default_variant: str
    build: Callable[..., nn.Module]
    classifier: type
    train: Callable[..., Any]
    config_from_settings: Callable[[Any, Sequence[str]], Any]
    describe: Callable[[Any], str]
    flow_statement: Callable[[Any], str] = _no_flow_statement
    train_options: tuple[str, ...] = ()
    sample_inputs: Callable[..., dict] | None = None
    training_inputs: Callable[..., dict] | None = None
    needs_flow: Callable[[Any], bool] = lambda config: False
    has_pretrained_weights: Callable[[Any], bool] = lambda config: False
    training_scale: Callable[[Any], float] = lambda settings: 1.0
    colour_jitter: bool = False
    stage_labels: Mapping[str, str] = field(default_factory=dict)
    motion_stage: str = "flow"
    optical_flow: bool = True  # False: the flow stream learns its own motion from RGB (representation flow)
    demo_checkpoint: Path | None = None
    ablation_scorer: Callable[..., Any] | None = None
    recipes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def map_kinds(self) -> tuple[str, ...]:
        """The heat-map kinds this family's predictions carry when explained."""
        return tuple(self.classifier.maps_kinds)


def deferred(target: str) -> Callable[..., Any]:
    """``"package.module:function"`` as a callable that imports the module on its first call: a
    family's trainer and the like pull in heavy modules (and import the registry themselves), so
    its record names them rather than importing them when the family registers."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"deferred needs 'module:function', got {target!r}")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module_name), attribute)(*args, **kwargs)

    call.__name__ = call.__qualname__ = attribute
    call.__doc__ = f"{target}, imported on first use."
    return call


_REGISTRY: dict[str, Family] = {}
_DEFAULT: list[str] = []  # the family of configs that record none (checkpoints older than families)


def register_family(record: Family, *, default: bool = False) -> Family:
    """Add a family (``default``: the one a config without a ``family`` field belongs to).
    Registering a name twice is an error unless it is the very same record."""
    if not isinstance(record, Family):
        raise TypeError(f"register_family needs a Family record, got {type(record).__name__}")
    known = _REGISTRY.get(record.name)
    if known is not None and known is not record:
        raise ValueError(f"model family {record.name!r} is already registered")
    if record.default_variant not in record.variants:
        raise ValueError(f"family {record.name!r}: default variant {record.default_variant!r} is not one of {record.variants}")
    _REGISTRY[record.name] = record
    if default and record.name not in _DEFAULT:
        _DEFAULT.insert(0, record.name)
    return record


def unregister_family(name: str) -> None:
    """Remove a family (tests that register their own)."""
    _REGISTRY.pop(name, None)
    if name in _DEFAULT:
        _DEFAULT.remove(name)


def family_names() -> tuple[str, ...]:
    """Every registered family, in registration order."""
    return tuple(_REGISTRY)


def families() -> tuple[Family, ...]:
    return tuple(_REGISTRY.values())


def default_family() -> str:
    if not _DEFAULT:
        raise RuntimeError("no default model family is registered (import core.models)")
    return _DEFAULT[0]


def family(name: str) -> Family:
    """The record of family ``name`` (``ValueError`` naming the known ones otherwise)."""
    record = _REGISTRY.get(name)
    if record is None:
        raise ValueError(f"unknown model family {name!r}: choose one of {', '.join(_REGISTRY)}")
    return record


def family_of(config: Any) -> str:
    """The family of a config object or of a config dict (a dict without one is the default
    family's, as every checkpoint written before families existed)."""
    if isinstance(config, Mapping):
        name = config.get("family", default_family())
        if not isinstance(name, str):
            raise ValueError(f"model config 'family' must be a string, got {name!r}")
        return name
    name = getattr(config, "family", None)
    if name not in _REGISTRY:
        raise ValueError(f"not a model config of a known family: {type(config).__name__} with family {name!r}")
    return name


def family_record(config: Any) -> Family:
    """The record of the family ``config`` (an object or a dict) belongs to."""
    return family(family_of(config))


def is_model_config(config: Any) -> bool:
    """True for a config object of any registered family."""
    try:
        return isinstance(config, family_record(config).config_class)
    except ValueError:
        return False


def config_from_dict(data: Mapping[str, Any]) -> Any:
    """The family's config rebuilt and validated from a checkpoint's JSON (``ValueError`` if bad)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"model config must be a JSON object, got {type(data).__name__}")
    return family_record(data).config_class.from_dict(data)


def architecture(config: Any) -> tuple:
    """What decides a model's weight shapes (two configs that differ here cannot share weights)."""
    return config.architecture()


def build_model(config: Any, **kwargs: Any) -> nn.Module:
    """The family's model for ``config``; keyword options as the family's builder takes them
    (``pretrained``, ``random_weights_ok``, ``option_hint``, weight files)."""
    return family_record(config).build(config, **kwargs)


def make_classifier(model: nn.Module, config: Any = None, **kwargs: Any) -> Any:
    """The family's classifier around a loaded model (``predict_clip``, ``predict_clips``,
    ``predict_video``, ``predict_timeline`` returning :class:`core.prediction.Prediction` s)."""
    config = config or model.config
    return family_record(config).classifier(model, config, **kwargs)


def param_groups(model: nn.Module, lr: float) -> list[dict]:
    """Optimizer parameter groups: the model's own (representation flow trains its flow layers
    at a lower rate) or one group of every parameter."""
    own = getattr(model, "param_groups", None)
    if callable(own):
        return own(lr)
    return [{"params": [p for p in model.parameters()], "lr": lr, "name": "network"}]


def sample_inputs(config: Any, source: Any, **kwargs: Any) -> dict:
    """One training or test sample of ``config``'s model decoded from ``source`` (no batch
    dimension): the family's ``sample_inputs`` (``starts``, ``count``, ``rng``, ``flow_backend``,
    ``device``).  Stack samples on a new first dimension and call ``model(**batch)``."""
    record = family_record(config)
    if record.sample_inputs is None:
        raise ValueError(f"the {record.name} family prepares its samples its own way (no sample_inputs in its record)")
    return record.sample_inputs(config, source, **kwargs)


def recipe(name: str) -> tuple[Family, Mapping[str, Any]]:
    """The family that offers recipe ``name``, and the recipe's training settings."""
    for record in _REGISTRY.values():
        if name in record.recipes:
            return record, record.recipes[name]
    known = sorted(n for record in _REGISTRY.values() for n in record.recipes)
    raise ValueError(f"unknown recipe {name!r}: choose one of {', '.join(known) or 'none'}")


def demo_checkpoints() -> dict[str, Path]:
    """Each family's bundled demo checkpoint that exists on disk."""
    return {f.name: f.demo_checkpoint for f in _REGISTRY.values() if f.demo_checkpoint is not None and f.demo_checkpoint.is_file()}
