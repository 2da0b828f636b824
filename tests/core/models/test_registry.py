"""The family registry: a checkpoint says its family, loading dispatches on it, every family
round-trips exactly, and old transformer checkpoints still load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.inference import ClipClassifier
from core.models.checkpoint import open_classifier
from core.errors import CheckpointError
from core.models.transformer.predict import TransformerClassifier
from core.models import build_model, load_checkpoint, read_checkpoint_info, save_checkpoint
from core.models.transformer.config import TransformerConfig
import core.models.registry as families
from core.models.convnet import ConvNetConfig, TwoStreamConvNet
from core.models.convnet.predict import ConvNetClassifier
from core.models.repflow import RepFlowConfig, RepFlowNet
from core.models.repflow.predict import RepFlowClassifier


@pytest.fixture(autouse=True)
def _seeded(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


CLASSES = ["walk", "run", "jump"]


def transformer_config() -> TransformerConfig:
    return TransformerConfig.create(
        backbone="tiny", class_names=CLASSES, variant="fusion", backbone_options={"dim": 16}, input_size=32, clip_length=4,
        fusion={"heads": 2, "head_dim": 8, "depth": 1}, flow_method="farneback",
    )


def convnet_config(variant: str = "late", **overrides) -> ConvNetConfig:
    values = dict(backbone="tiny", class_names=CLASSES, variant=variant, input_size=32, flow_length=2, backbone_options={"width": 8})
    values.update(overrides)
    return ConvNetConfig.create(**values)


def repflow_config(variant: str = "late", **overrides) -> RepFlowConfig:
    values = dict(backbone="tiny", class_names=CLASSES, variant=variant, input_size=32, clip_length=4, backbone_options={"width": 8}, iterations=3)
    values.update(overrides)
    return RepFlowConfig.create(**values)


def inputs_for(config) -> dict[str, torch.Tensor]:
    if config.family == "transformer":
        return {"rgb": torch.randn(2, 3, 4, 32, 32), "flow": torch.randn(2, 3, 4, 32, 32)}
    if config.family == "convnet":
        return {"rgb": torch.randn(2, 3, 3, 32, 32), "flow": torch.randn(2, 3, 4, 32, 32)}
    return {"rgb": torch.randn(2, 4, 3, 32, 32)}


def perturb(model: torch.nn.Module) -> None:
    """Move batch-norm statistics and zero-initialised weights off their defaults, so a load
    that skipped them would show."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)


CONFIGS = {
    "transformer": transformer_config,
    "convnet-late": lambda: convnet_config("late"),
    "convnet-weighted-attention": lambda: convnet_config("weighted", rgb_attention=True),
    "convnet-conv-convlstm": lambda: convnet_config("conv", rgb_convlstm=8, conv_fusion="1x1"),
    "convnet-feature-bidirectional": lambda: convnet_config("feature", bidirectional=True),
    "repflow-learned": lambda: repflow_config("learned"),
    "repflow-flow-3-layers": lambda: repflow_config("flow", flow_layers=3),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_save_then_load_gives_the_same_family_config_and_outputs(tmp_path, name):
    config = CONFIGS[name]()
    model = families.build_model(config)
    perturb(model)
    model.eval()
    path = save_checkpoint(tmp_path / "model.safetensors", model, extra={"note": name})
    info = read_checkpoint_info(path)
    assert info.config == config and type(info.config) is type(config) and info.extra == {"note": name}
    loaded, loaded_config = load_checkpoint(path, "cpu")
    assert loaded_config == config and type(loaded) is type(model) and not loaded.training
    batch = inputs_for(config)
    with torch.no_grad():
        assert torch.equal(model(**batch), loaded(**batch))


def test_a_transformer_checkpoint_written_before_families_still_loads(tmp_path):
    from safetensors.torch import load_file, save_file

    config = transformer_config()
    model = build_model(config).eval()
    path = save_checkpoint(tmp_path / "new.safetensors", model)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
    old_config = json.loads(metadata["config"])
    del old_config["family"]  # what session-1 checkpoints without the field would hold
    metadata["config"] = json.dumps(old_config)
    old = tmp_path / "old.safetensors"
    save_file(load_file(str(path)), str(old), metadata=metadata)
    loaded, loaded_config = load_checkpoint(old)
    assert loaded_config == config
    batch = inputs_for(config)
    with torch.no_grad():
        assert torch.equal(model(**batch), loaded(**batch))


def rewrite_config(path, tmp_path, change) -> str:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
    data = json.loads(metadata["config"])
    change(data)
    metadata["config"] = json.dumps(data)
    out = tmp_path / "edited.safetensors"
    save_file(load_file(str(path)), str(out), metadata=metadata)
    return str(out)


def test_bad_family_data_is_one_line_naming_the_file(tmp_path):
    path = save_checkpoint(tmp_path / "model.safetensors", families.build_model(convnet_config("late")))
    unknown = rewrite_config(path, tmp_path, lambda d: d.update(family="lstm"))
    with pytest.raises(CheckpointError, match=r"edited\.safetensors: bad model config in the checkpoint: unknown model family 'lstm'") as err:
        load_checkpoint(unknown)
    assert "\n" not in str(err.value)
    more_classes = rewrite_config(path, tmp_path, lambda d: d.update(class_names=["a", "b", "c", "d"]))
    with pytest.raises(CheckpointError, match="wrong class count: the classifier has 3 outputs but the config lists 4"):
        load_checkpoint(more_classes)
    other_length = rewrite_config(path, tmp_path, lambda d: d.update(flow_length=3))
    with pytest.raises(CheckpointError, match=r"weights do not fit a convnet tiny/late model: flow_stream.trunk.conv1.weight"):
        load_checkpoint(other_length)


def test_save_refuses_a_config_that_does_not_describe_the_model(tmp_path):
    model = families.build_model(convnet_config("late"))
    with pytest.raises(ValueError, match="does not describe this model"):
        save_checkpoint(tmp_path / "x.safetensors", model, convnet_config("feature"))
    with pytest.raises(ValueError, match="known family"):
        save_checkpoint(tmp_path / "x.safetensors", torch.nn.Linear(2, 2), {"family": "convnet"})


def test_registry_dispatches_configs_builders_and_classifiers(tmp_path):
    assert families.family_names()[:3] == ("transformer", "convnet", "repflow")
    for name in families.family_names():
        assert families.family(name).variants
    assert families.family("convnet").variants == ("rgb", "flow", "late", "weighted", "learned", "feature", "conv")
    assert families.family_of({"backbone": "tiny"}) == "transformer"
    assert isinstance(families.config_from_dict(convnet_config().to_dict()), ConvNetConfig)
    assert isinstance(families.config_from_dict(repflow_config().to_dict()), RepFlowConfig)
    with pytest.raises(ValueError, match="unknown model family 'x'"):
        families.family("x")
    expected = {"transformer": (transformer_config, TransformerClassifier), "convnet": (convnet_config, ConvNetClassifier), "repflow": (repflow_config, RepFlowClassifier)}
    for name, (make, classifier_type) in expected.items():
        path = save_checkpoint(tmp_path / f"{name}.safetensors", families.build_model(make()))
        classifier = open_classifier(path, device="cpu")
        assert type(classifier) is classifier_type and classifier.config == make()
    assert isinstance(families.build_model(convnet_config()), TwoStreamConvNet)
    assert isinstance(families.build_model(repflow_config()), RepFlowNet)


def test_sample_inputs_stack_into_a_batch_the_model_takes():
    frames = np.random.default_rng(0).integers(0, 255, (30, 40, 48, 3), dtype=np.uint8)
    from core.inference import ArrayFrames

    source = ArrayFrames(frames)
    convnet = convnet_config("late", flow_method="farneback")
    rng = np.random.default_rng(1)
    samples = [families.sample_inputs(convnet, source, count=2, rng=rng) for _ in range(3)]
    batch = {k: torch.stack([s[k] for s in samples]) for k in samples[0]}
    assert batch["rgb"].shape == (3, 2, 3, 32, 32) and batch["flow"].shape == (3, 2, 4, 32, 32)
    assert families.build_model(convnet)(**batch).shape == (3, 3)
    repflow = repflow_config("flow")
    clip = families.sample_inputs(repflow, source, starts=[5])
    assert clip["rgb"].shape == (4, 3, 32, 32)
    assert families.build_model(repflow)(**{k: v[None] for k, v in clip.items()}).shape == (1, 3)
    with pytest.raises(ValueError, match="prepares its samples its own way"):
        families.sample_inputs(transformer_config(), source)
    groups = families.param_groups(families.build_model(convnet), 0.01)
    assert len(groups) == 1 and groups[0]["lr"] == 0.01


@pytest.mark.parametrize("make_config", [convnet_config, repflow_config])
def test_classify_command_needs_no_family_flag(tmp_path, capsys, make_config):
    """`classify --checkpoint` on a ConvNet or repflow checkpoint: open_classifier dispatches on the family."""
    import main
    from media import write_video

    config = make_config()
    path = save_checkpoint(tmp_path / f"{config.family}.safetensors", families.build_model(config), config)
    classifier = open_classifier(path, device="cpu")
    assert isinstance(classifier, ClipClassifier) and type(classifier) is families.family(config.family).classifier
    video = write_video(tmp_path / "clip.mp4", 30, size=(64, 48))
    assert main.main(["classify", str(video), "--checkpoint", str(path), "--json", "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["top"][0]["label"] in CLASSES and len(result["top"]) == len(CLASSES)
