"""``--augment jitter`` for the two-stream ConvNet: every RGB pixel of a training sample gets one
colour offset ``sum_i alpha_i * lambda_i * p_i`` (Krizhevsky et al.'s PCA colour augmentation, as
Simonyan & Zisserman add it to the spatial stream), drawn from the run's seeded generator after the
sample's other draws; flow stacks and validation samples are untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.models.convnet.config import ConvNetConfig
from core.models.convnet.train import training_inputs
from core.training import TrainSettings
from core.training.colour_pca import ColourPCA, draw_alpha
from core.training.end_to_end import PreparedVideo

SIZE = 16
PCA = ColourPCA.from_covariance([[0.06, 0.05, 0.04], [0.05, 0.06, 0.05], [0.04, 0.05, 0.07]])


def _config(variant: str = "late") -> ConvNetConfig:
    return ConvNetConfig.create(backbone="tiny", class_names=["a", "b"], backbone_options={"width": 8}, input_size=SIZE,
                                flow_length=2, variant=variant)


def _settings(augment: str, snippets: int = 2) -> TrainSettings:
    return TrainSettings(model="convnet", input_size=SIZE, flow_length=2, snippets=snippets, augment=augment)


def _video() -> PreparedVideo:
    rng = np.random.default_rng(5)
    frames = rng.integers(0, 256, size=(8, 20, 24, 3), dtype=np.uint8)
    forward = rng.uniform(-3, 3, size=(7, 2, 20, 24)).astype(np.float32)
    return PreparedVideo(frames, forward, None, "dis")


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_a_jittered_sample_is_the_plain_sample_plus_one_constant_colour_offset(seed: int) -> None:
    """The same seed draws the same snippets, crop and flip with or without jitter (its alphas come last):
    the jittered RGB is the plain one plus ``PCA.offset(alpha) / std`` per channel, at every pixel of
    every snippet, with alpha the generator's next three normal draws; the flow stacks are the same bits."""
    config, video = _config(), _video()
    plain_rng = np.random.default_rng(seed)
    plain = training_inputs(config, video, plain_rng, _settings("flip+crop"))
    alpha = draw_alpha(plain_rng)  # what the jittered run draws next
    jittered = training_inputs(config, video, np.random.default_rng(seed), _settings("flip+crop+jitter"), colour_pca=PCA)
    expected = torch.as_tensor(PCA.offset(alpha) / np.asarray(config.std), dtype=torch.float32).view(1, 3, 1, 1)
    assert jittered["rgb"].shape == plain["rgb"].shape == (2, 3, SIZE, SIZE)
    assert torch.allclose(jittered["rgb"] - plain["rgb"], expected.expand_as(plain["rgb"]), rtol=0, atol=2e-6)
    assert float(expected.abs().max()) > 1e-3  # a real shift, far above the tolerance
    assert torch.equal(jittered["flow"], plain["flow"])


def test_the_offset_is_the_formula_in_unit_pixel_values() -> None:
    """alpha = (0.1, 0, 0) moves every pixel by 0.1 * lambda_1 * p_1 in [0, 1] units: after the
    normalisation, ``(x + offset - mean) / std`` for the sample's own pixels x."""
    config, video = _config("rgb"), _video()

    class FixedAlpha:
        """The run's generator, but for its normal draws: alpha fixed."""

        def __init__(self, seed: int) -> None:
            self.real = np.random.default_rng(seed)

        def integers(self, *args, **kwargs):
            return self.real.integers(*args, **kwargs)

        def normal(self, loc, scale, size):
            return np.array([0.1, 0.0, 0.0])

    plain = training_inputs(config, video, np.random.default_rng(6), _settings("none", snippets=1))
    shifted = training_inputs(config, video, FixedAlpha(6), _settings("jitter", snippets=1), colour_pca=PCA)  # type: ignore[arg-type]
    offset = 0.1 * PCA.eigenvalues[0] * np.asarray(PCA.eigenvectors)[:, 0]
    mean, std = np.asarray(config.mean), np.asarray(config.std)
    pixels = plain["rgb"][0].numpy().transpose(1, 2, 0).astype(np.float64) * std + mean  # back to [0, 1] pixel values
    assert np.allclose(shifted["rgb"][0].numpy().transpose(1, 2, 0), (pixels + offset - mean) / std, rtol=0, atol=1e-5)
    assert np.all(offset > 0.004)  # p_1 of a positive covariance: every channel brighter, by about 1.2 grey levels here


def test_validation_samples_flow_only_variants_and_runs_without_jitter_are_untouched() -> None:
    config, video = _config(), _video()
    centred = training_inputs(config, video, None, _settings("jitter"), colour_pca=PCA)  # validation: no generator
    assert torch.equal(centred["rgb"], training_inputs(config, video, None, _settings("none"))["rgb"])
    flow_only = training_inputs(_config("flow"), video, np.random.default_rng(2), _settings("jitter"))  # no RGB: nothing to jitter
    assert set(flow_only) == {"flow"}
    assert torch.equal(flow_only["flow"], training_inputs(_config("flow"), video, np.random.default_rng(2), _settings("none"))["flow"])
    with pytest.raises(ValueError, match="--augment jitter needs the colour PCA"):
        training_inputs(config, video, np.random.default_rng(2), _settings("jitter"))


def test_the_same_seed_draws_the_same_jitter_and_another_seed_another() -> None:
    config, video = _config(), _video()

    def draws(seed: int) -> list[torch.Tensor]:
        rng = np.random.default_rng(seed)
        return [training_inputs(config, video, rng, _settings("jitter"), colour_pca=PCA)["rgb"] for _ in range(4)]

    first, again, other = draws(3), draws(3), draws(4)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not any(torch.equal(a, b) for a, b in zip(first, other))
