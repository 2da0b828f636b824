"""Training any model family on a folder of class sub-folders of videos.

    settings.py     TrainSettings: every choice of a run, JSON-able
    run.py          train(dataset_root, settings, out) -> TrainResult: the family's trainer
    end_to_end.py   families trained end to end on decoded video (ConvNet, repflow), flow cached per video
    seeds.py        derive_seed: independent, reproducible randomness per run, stream and epoch
    views.py        augmentation as fixed views (flip, corner crops)
    state.py        the resumable training state beside the checkpoint
    distributed.py  torchrun: process group, shards, collectives
    result.py       TrainResult, and the training record a checkpoint carries

The transformer's own trainer (frozen backbones, token cache) is
:mod:`core.models.transformer.train`.
"""

from core.training.result import TrainingRecord, TrainResult, training_record
from core.training.run import train
from core.training.settings import AUGMENTATIONS, TrainSettings

__all__ = ["AUGMENTATIONS", "TrainResult", "TrainSettings", "TrainingRecord", "train", "training_record"]
