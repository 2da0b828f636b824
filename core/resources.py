"""Paths of the bundled resources: the sample video and the demo models (one per model family)."""

from __future__ import annotations

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"
SAMPLE_VIDEO = RESOURCES_DIR / "sample.mp4"
DEMO_CHECKPOINT = RESOURCES_DIR / "demo_model.safetensors"
DEMO_CHECKPOINTS = {
    "transformer": DEMO_CHECKPOINT,
    "convnet": RESOURCES_DIR / "demo_convnet.safetensors",
    "repflow": RESOURCES_DIR / "demo_repflow.safetensors",
}
"""Bundled demo model per family; a family whose file is absent is simply not offered."""
