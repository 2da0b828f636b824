"""Models: the family registry, the families, what they share, and checkpoint I/O.

    registry.py     Family records: family names, configs, builders, classifiers, trainers
    checkpoint.py   save_checkpoint / load_checkpoint / open_classifier (.safetensors + JSON config), any family
    shared/         what families share: video backbones (token grids), the encoder, ResNet trunks,
                    streams, CAM and fusion layers, CAM maps, input normalisation, the ResNet config base
    transformer/    the two-stream transformer (seed 000)
    convnet/        classic two-stream ResNets (seeds 001-003)
    repflow/        the representation-flow network (seed 004)

Importing this package registers the three families.
"""

from __future__ import annotations

# each package registers its family; this order is the order of tables and menus
from core.models import transformer  # isort: skip
from core.models import convnet  # isort: skip
from core.models import repflow  # isort: skip
from core.models.checkpoint import CheckpointInfo, load_checkpoint, open_classifier, read_checkpoint_info, save_checkpoint
from core.models.registry import Family, build_model, family, family_names, family_of, register_family

__all__ = [
    "CheckpointInfo",
    "Family",
    "build_model",
    "family",
    "family_names",
    "family_of",
    "load_checkpoint",
    "open_classifier",
    "read_checkpoint_info",
    "register_family",
    "save_checkpoint",
]
