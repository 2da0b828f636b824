"""A fourth model family, defined in the tests and registered at run time, goes through every door the
three built-in families use, without a line changed anywhere else: ``train --model``, ``eval``,
``ablate``, ``classify`` (the viewer's model chooser offering it: ``tests/viewer/classify/test_fourth_family_chooser.py``).

The family is TSN's RGB-difference stream (``tests/fourth_family.py``); its two variants give
``ablate`` two rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import main
import core.models.registry as registry
from core.synth import generate_dataset
from fourth_family import NAME, RgbDiffConfig, RgbDiffNet, rgbdiff_family

@pytest.fixture
def fourth_family():
    record = registry.register_family(rgbdiff_family())
    yield record
    registry.unregister_family(NAME)


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("fourth") / "synth"
    generate_dataset(data, clips_per_class=4, size=32, frames=10, seed=5)
    return data


TRAIN = ["--model", NAME, "--input-size", "32", "--clip-length", "6", "--epochs", "3", "--batch-size", "8", "--lr", "3e-3",
         "--device", "cpu", "--test-fraction", "0.25"]


def test_a_family_registered_at_run_time_trains_evaluates_ablates_and_classifies(fourth_family, synth, tmp_path, capsys):
    assert NAME in registry.family_names()
    checkpoint = tmp_path / "rgbdiff.safetensors"
    assert main.main(["train", str(synth), "--out", str(checkpoint), *TRAIN]) == 0
    assert f"checkpoint: {checkpoint}" in capsys.readouterr().out

    assert main.main(["eval", str(synth), "--checkpoint", str(checkpoint), "--json", "--out", str(tmp_path / "eval")]) == 0
    evaluation = json.loads(capsys.readouterr().out)
    assert evaluation["model"]["family"] == NAME and evaluation["model"]["variant"] == "diff"
    assert evaluation["video_level"]["count"] == 10 and 0.0 <= evaluation["top1"] <= 1.0  # 25% of 40 videos

    video = next((synth / "MoveLeft").glob("*.mp4"))
    assert main.main(["classify", str(video), "--checkpoint", str(checkpoint), "--model", NAME, "--json", "--device", "cpu"]) == 0
    classified = json.loads(capsys.readouterr().out)
    assert classified["model"]["family"] == NAME and classified["flow"] is None and not classified["model"]["representation_flow"]
    assert len(classified["top"]) == 5 and abs(sum(t["prob"] for t in classified["top"])) <= 1.0 + 1e-6

    out = tmp_path / "ablation"
    assert main.main(["ablate", str(synth), "--out", str(out), "--json", *TRAIN]) == 0
    ablation = json.loads(capsys.readouterr().out)
    assert list(ablation["variants"]) == [f"{NAME}/diff", f"{NAME}/frames"] and ablation["families"] == [NAME]
    assert all(ablation["variants"][k]["family"] == NAME for k in ablation["variants"])


def test_its_option_rules_and_variants_come_from_its_record(fourth_family, synth, tmp_path, capsys):
    """The train command refuses an option no chosen family takes, and an unknown variant, in one line."""
    assert main.main(["train", str(synth), "--out", str(tmp_path / "x.safetensors"), *TRAIN, "--resnet", "tiny"]) == 2
    assert "--resnet is an option of the convnet and repflow families, not of --model rgbdiff" in capsys.readouterr().err
    assert main.main(["train", str(synth), "--out", str(tmp_path / "x.safetensors"), *TRAIN, "--variant", "late"]) == 2
    assert "unknown rgbdiff variant 'late': choose one of diff, frames" in capsys.readouterr().err


def test_unregistered_it_is_gone_and_its_checkpoints_are_refused_by_name(synth, tmp_path, capsys):
    record = registry.register_family(rgbdiff_family())
    try:
        path = tmp_path / "model.safetensors"
        from core.models.checkpoint import save_checkpoint

        save_checkpoint(path, RgbDiffNet(RgbDiffConfig(class_names=("a", "b"))))
    finally:
        registry.unregister_family(record.name)
    assert NAME not in registry.family_names()
    video = next((synth / "MoveLeft").glob("*.mp4"))
    assert main.main(["classify", str(video), "--checkpoint", str(path), "--device", "cpu"]) == 2
    assert "unknown model family 'rgbdiff'" in capsys.readouterr().err
