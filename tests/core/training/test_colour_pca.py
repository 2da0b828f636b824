"""The colour PCA behind ``--augment jitter`` (Krizhevsky et al.'s RGB jittering): the eigen
decomposition of the training pixels' RGB covariance, computed exactly, and the offset
``sum_i alpha_i * lambda_i * p_i`` it gives a sample."""

from __future__ import annotations

import numpy as np
import pytest

from core.training.colour_pca import ALPHA_STD, ColourPCA, ColourStatistics, draw_alpha


def test_a_known_covariance_gives_its_known_eigen_decomposition() -> None:
    """Q diag(4, 1, 0.25) Q^T with Q a rotation: those eigenvalues, largest first, and Q's columns as
    eigenvectors, each signed so its largest component is positive."""
    a, b = np.deg2rad(30.0), np.deg2rad(50.0)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    q = rz @ rx
    covariance = q @ np.diag([4.0, 1.0, 0.25]) @ q.T
    pca = ColourPCA.from_covariance(covariance)
    assert np.allclose(pca.eigenvalues, [4.0, 1.0, 0.25])
    vectors = np.asarray(pca.eigenvectors)
    for i in range(3):
        expected = q[:, i] * np.sign(q[np.argmax(np.abs(q[:, i])), i])
        assert np.allclose(vectors[:, i], expected)
    assert np.allclose(vectors @ np.diag(pca.eigenvalues) @ vectors.T, covariance)


def test_a_diagonal_covariance_has_the_colour_axes_as_components() -> None:
    pca = ColourPCA.from_covariance(np.diag([0.01, 0.09, 0.04]))
    assert pca.eigenvalues == (0.09, 0.04, 0.01)
    assert np.array_equal(np.asarray(pca.eigenvectors), [[0, 0, 1], [1, 0, 0], [0, 1, 0]])  # green, blue, red


def test_the_statistics_are_the_exact_covariance_of_every_pixel_in_unit_range() -> None:
    rng = np.random.default_rng(4)
    videos = [rng.integers(0, 256, size=(n, 5, 7, 3), dtype=np.uint8) for n in (3, 1, 6)]
    stats = ColourStatistics()
    for video in videos:
        stats.add(video)
    pixels = np.concatenate([v.reshape(-1, 3) for v in videos]).astype(np.float64) / 255.0
    pca = stats.pca("test")
    assert (pca.pixels, pca.videos, stats.count) == (len(pixels), 3, len(pixels))
    assert np.allclose(pca.mean, pixels.mean(axis=0), rtol=0, atol=1e-15)
    assert np.allclose(pca.covariance, np.cov(pixels, rowvar=False, bias=True), rtol=0, atol=1e-15)
    again = ColourStatistics()
    for video in reversed(videos):  # exact integer sums: the order of the videos changes no bit
        again.add(video)
    assert again.pca("test") == pca


def test_the_offset_is_alpha_times_eigenvalue_along_each_eigenvector() -> None:
    pca = ColourPCA.from_covariance(np.diag([0.01, 0.09, 0.04]))
    assert np.allclose(pca.offset([1.0, 0.0, 0.0]), [0.0, 0.09, 0.0])  # lambda_1 = 0.09 along green
    assert np.allclose(pca.offset([0.1, -0.2, 0.3]), [0.3 * 0.01, 0.1 * 0.09, -0.2 * 0.04])
    with pytest.raises(ValueError, match="alpha must hold 3 values"):
        pca.offset([1.0, 2.0])


def test_alpha_is_drawn_from_a_normal_of_deviation_point_one() -> None:
    draws = np.stack([draw_alpha(np.random.default_rng(s)) for s in range(4000)])
    assert draws.shape == (4000, 3) and ALPHA_STD == 0.1
    assert np.all(np.abs(draws.mean(axis=0)) < 0.01) and np.all(np.abs(draws.std(axis=0) - 0.1) < 0.005)
    assert np.array_equal(draw_alpha(np.random.default_rng(9)), np.random.default_rng(9).normal(0.0, 0.1, size=3))


def test_the_record_reads_back_and_a_damaged_one_is_refused() -> None:
    stats = ColourStatistics()
    stats.add(np.random.default_rng(1).integers(0, 256, size=(2, 4, 4, 3), dtype=np.uint8))
    pca = stats.pca("two frames")
    assert ColourPCA.from_dict(pca.to_dict()) == pca
    damaged = pca.to_dict() | {"eigenvalues": [1.0, "x", 2.0]}
    with pytest.raises(ValueError, match="a damaged colour PCA record"):
        ColourPCA.from_dict(damaged)
    with pytest.raises(ValueError, match="uint8 RGB pixels"):
        ColourStatistics().add(np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="no pixels"):
        ColourStatistics().pca()
