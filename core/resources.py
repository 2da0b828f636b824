"""Paths of the bundled resources: the sample video and the demo model."""

from __future__ import annotations

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"
SAMPLE_VIDEO = RESOURCES_DIR / "sample.mp4"
DEMO_CHECKPOINT = RESOURCES_DIR / "demo_model.safetensors"
