"""Paths of the bundled resources: the sample video and the demo models (each family's record
names its own; a family whose file is absent is simply not offered)."""

from __future__ import annotations

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"
SAMPLE_VIDEO = RESOURCES_DIR / "sample.mp4"
DEMO_CHECKPOINT = RESOURCES_DIR / "demo_model.safetensors"  # the two-stream transformer
DEMO_CONVNET = RESOURCES_DIR / "demo_convnet.safetensors"
DEMO_REPFLOW = RESOURCES_DIR / "demo_repflow.safetensors"
# real material other projects share, beside the repository (absent on a user's machine: benchmarks fall back)
SHARED_DIR = RESOURCES_DIR.parent.parent / "shared"
