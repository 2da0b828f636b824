"""Training the two-stream models (seed 000's recipe; every model family) on a folder of class sub-folders of videos.

    settings.py     TrainSettings: every choice of a run, JSON-able
    trainer.py      train(dataset_root, settings, out) -> TrainResult
    family_trainer.py  settings.model convnet/repflow: end to end on decoded video, flow cached per video
    model.py        seeded model building: backbones shared across variants
    extraction.py   clips -> frozen backbones -> token grids in the cache
    token_cache.py  the on-disk fp16 token cache (atomic, verified, resumable)
    views.py        augmentation as fixed cached views (flip, corner crops)
    state.py        the resumable training state beside the checkpoint
    distributed.py  torchrun: process group, shards, collectives
    result.py       TrainResult, and the training record a checkpoint carries
"""

from core.training.result import TrainingRecord, TrainResult, training_record
from core.training.settings import AUGMENTATIONS, TrainSettings
from core.training.trainer import train

__all__ = ["AUGMENTATIONS", "TrainResult", "TrainSettings", "TrainingRecord", "train", "training_record"]
