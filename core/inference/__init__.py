"""Frames in, predictions out, for any model family.

    frames.py        FrameSource, ArrayFrames: what a classifier reads frames from
    flow_backend.py  FlowBackend: the flow engine as a classifier uses it (injected in tests)
    cancel_hooks.py  a forward pass that stops at its next block when cancelled
    classifier.py    ClipClassifier: batching, precision, cancel, timings, Predictions

Each family's classifier (``core.models.<family>.predict``) subclasses
:class:`ClipClassifier`; :func:`core.models.checkpoint.open_classifier` opens
any checkpoint as its family's classifier.  The result types live in
:mod:`core.prediction`.
"""

from core.inference.classifier import PRECISIONS, ClipClassifier, Sample
from core.inference.flow_backend import FlowBackend, default_flow_backend
from core.inference.frames import ArrayFrames, FrameSource, as_frame_source, read_frames
from core.prediction import Prediction, VideoPrediction, aggregate_predictions, checked_probabilities, top_k
from core.timings import STAGES

__all__ = [
    "PRECISIONS",
    "STAGES",
    "ArrayFrames",
    "ClipClassifier",
    "FlowBackend",
    "FrameSource",
    "Prediction",
    "Sample",
    "VideoPrediction",
    "aggregate_predictions",
    "as_frame_source",
    "checked_probabilities",
    "default_flow_backend",
    "read_frames",
    "top_k",
]
