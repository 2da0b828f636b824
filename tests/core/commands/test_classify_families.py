"""``main.py classify`` names what flow each family uses: a representation-flow checkpoint learns its
own, an RGB-only one uses none, and the JSON summary carries the family."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import main
from core.models import save_checkpoint
from core.models.registry import build_model
from core.models.repflow import RepFlowConfig


@pytest.fixture(autouse=True)
def _seeded(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    from core.synth.writer import write_mp4

    folder = tmp_path_factory.mktemp("classify-families")
    rng = np.random.default_rng(0)
    frames = np.stack([np.roll(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), i, axis=1) for i in range(12)])
    write_mp4(folder / "clip.mp4", frames, fps=10, preset="ultrafast")
    return folder / "clip.mp4"


def repflow_checkpoint(folder, variant: str):
    config = RepFlowConfig.create(
        backbone="tiny", class_names=["a", "b", "c"], variant=variant, input_size=32, clip_length=4, backbone_options={"width": 8}, iterations=2
    )
    return save_checkpoint(folder / f"repflow-{variant}.safetensors", build_model(config, random_weights_ok=True))


@pytest.mark.parametrize(
    ("variant", "flow_text", "learnt"),
    [("flow", "; learnt representation flow (no optical flow);", True), ("rgb", "; no flow (RGB-only model);", False)],
)
def test_repflow_output_says_which_flow(video, tmp_path, capsys, variant, flow_text, learnt):
    checkpoint = str(repflow_checkpoint(tmp_path, variant))
    assert main.main(["classify", str(video), "--checkpoint", checkpoint, "--device", "cpu", "--top", "3"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert flow_text in first
    assert main.main(["classify", str(video), "--checkpoint", checkpoint, "--device", "cpu", "--json"]) == 0
    model = json.loads(capsys.readouterr().out)["model"]
    assert model["family"] == "repflow" and model["variant"] == variant and model["representation_flow"] is learnt
