"""The model's domain: recorded by training, inferred for older checkpoints and the demo models,
and said by ``classify --json`` with a caveat for a synthetic model on a real video."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

import main
from core import resources
from core.data import discover_dataset
from core.models.checkpoint import read_checkpoint_info
from core.models.domain import EXTRA_DOMAIN, INFERRED, RECORDED, SYNTHETIC_NAME, domain_note, domain_record, model_domain
from core.synth import CLASS_NAMES, generate_dataset
from core.training import train
from training_helpers import small_settings, write_colour_dataset


@pytest.mark.parametrize("demo", [resources.DEMO_CHECKPOINT, resources.DEMO_CONVNET])
def test_demo_models_are_inferred_synthetic_without_touching_the_file(demo: Path):
    if not demo.exists():
        pytest.skip(f"{demo.name} is not bundled")
    before = demo.read_bytes()
    info = read_checkpoint_info(demo)
    domain = model_domain(info.config.class_names, info.extra)
    assert (domain.dataset, domain.synthetic, domain.source, domain.trained) == (SYNTHETIC_NAME, True, INFERRED, None)
    assert domain.classes == CLASS_NAMES and demo.read_bytes() == before
    assert domain.describe() == "trained on synthetic shapes (10 classes, synthetic: not real actions) (inferred)"


def test_an_old_real_checkpoint_is_named_by_its_recorded_folder():
    domain = model_domain(("a", "b"), {"dataset_root": "/data/UCF101"})
    assert (domain.dataset, domain.synthetic, domain.source) == ("UCF101", False, INFERRED)
    assert model_domain(("a",), {}).dataset == "an unrecorded dataset"


def test_training_records_dataset_classes_realness_and_date(tmp_path: Path):
    data = write_colour_dataset(tmp_path / "colours", videos_per_class=2)
    result = train(data, small_settings(epochs=1, val_fraction=0.0), tmp_path / "c.safetensors")
    info = read_checkpoint_info(result.checkpoint)
    recorded = info.extra[EXTRA_DOMAIN]
    assert recorded["dataset"] == "colours" and recorded["classes"] == ["Blue", "Green", "Red"] and recorded["synthetic"] is False
    assert dt.date.fromisoformat(recorded["trained"]) >= dt.date(2024, 1, 1)
    domain = model_domain(info.config.class_names, info.extra)
    assert domain.source == RECORDED and domain.describe().startswith("trained on colours (3 classes, ")


def test_synthetic_dataset_is_recorded_as_synthetic(tmp_path: Path):
    generate_dataset(tmp_path / "s", clips_per_class=1, size=32, frames=4)
    record = domain_record(discover_dataset(tmp_path / "s"), CLASS_NAMES, today=dt.date(2026, 1, 2))
    assert record["dataset"] == SYNTHETIC_NAME and record["synthetic"] is True and record["trained"] == "2026-01-02"
    domain = model_domain(CLASS_NAMES, {EXTRA_DOMAIN: record})
    inside = next((tmp_path / "s" / "MoveLeft").iterdir())
    assert domain_note(domain, inside) == ""  # a clip of its own dataset: its classes are what happens
    assert domain_note(domain, resources.SAMPLE_VIDEO) == ""  # the bundled sample is a rendered clip (sample.json names its class)
    real = write_colour_dataset(tmp_path / "real", videos_per_class=1) / "Red" / "Red_0.mp4"
    assert "are not real actions" in domain_note(domain, real)


def test_classify_json_carries_the_model_domain_and_the_caveat(tmp_path: Path, capsys):
    if not resources.DEMO_CHECKPOINT.exists():
        pytest.skip("the demo model is not bundled")
    video = write_colour_dataset(tmp_path, videos_per_class=1) / "Blue" / "Blue_0.mp4"
    assert main.main(["classify", str(video), "--device", "cpu", "--json"]) == 0
    domain = json.loads(capsys.readouterr().out)["model_domain"]
    assert domain["synthetic"] is True and domain["dataset"] == SYNTHETIC_NAME and domain["num_classes"] == 10
    assert domain["source"] == INFERRED and "not real actions" in domain["note"]
