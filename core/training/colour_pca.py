"""RGB jittering (Krizhevsky et al. 2012, section 4.1), which Simonyan & Zisserman add to the
spatial stream's training crops: the principal components of the training set's RGB pixel
values, and the colour offset a training sample gets from them.

To every pixel of a sample the jitter adds ``sum_i alpha_i * lambda_i * p_i``, where ``p_i`` and
``lambda_i`` are the eigenvectors and eigenvalues of the 3x3 covariance of the RGB values of every
pixel of the training videos and ``alpha_i ~ N(0, 0.1)`` is drawn once per sample (one crop; all
its snippets).  The formula leaves the pixel unit open and its size depends on it (the eigenvalues
scale with its square): pixel values here are in [0, 1], the unit the network's normalisation
starts from, as the widely used re-implementations (fb.resnet.torch's ``Lighting``) apply it.

The sums are exact (integer pixel values summed per video in float64, whose partial sums stay
below 2**53, then added as Python integers), so the components do not depend on the order the
videos come in nor on the machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

ALPHA_STD = 0.1  # Krizhevsky et al.: alpha_i ~ N(0, 0.1)
_CHUNK_PIXELS = 1 << 16  # pixels converted to float64 at a time (2 MiB: stays in cache, 3x faster than 1 << 20)


@dataclass(frozen=True)
class ColourPCA:
    """The principal components of RGB pixel values in [0, 1].

    ``eigenvalues`` (3,) in descending order; ``eigenvectors`` (3, 3) with ``p_i`` in column ``i``,
    each signed so its largest component is positive (a deterministic choice: numpy's sign is not).
    ``mean`` and ``covariance`` are what they were computed from; ``pixels`` and ``videos`` how many.
    """

    mean: tuple[float, float, float]
    covariance: tuple[tuple[float, ...], ...]
    eigenvalues: tuple[float, float, float]
    eigenvectors: tuple[tuple[float, ...], ...]
    pixels: int
    videos: int
    source: str = ""

    @classmethod
    def from_covariance(cls, covariance: Any, *, mean: Any = (0.0, 0.0, 0.0), pixels: int = 0, videos: int = 0, source: str = "") -> "ColourPCA":
        """The eigen decomposition of a symmetric 3x3 covariance."""
        cov = np.asarray(covariance, dtype=np.float64)
        if cov.shape != (3, 3) or not np.all(np.isfinite(cov)) or not np.allclose(cov, cov.T):
            raise ValueError(f"a colour covariance must be a finite symmetric 3x3 matrix, got {cov.tolist()}")
        values, vectors = np.linalg.eigh(cov)
        order = np.argsort(values)[::-1]
        values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
        largest = vectors[np.argmax(np.abs(vectors), axis=0), np.arange(3)]
        vectors = vectors * np.where(largest < 0, -1.0, 1.0)
        return cls(mean=_floats(mean), covariance=_rows(cov), eigenvalues=_floats(values), eigenvectors=_rows(vectors),
                   pixels=int(pixels), videos=int(videos), source=source)

    def offset(self, alpha: Any) -> np.ndarray:
        """The RGB offset ``sum_i alpha_i * lambda_i * p_i`` (3,) in [0, 1] pixel units."""
        alpha = np.asarray(alpha, dtype=np.float64)
        if alpha.shape != (3,):
            raise ValueError(f"alpha must hold 3 values, got shape {alpha.shape}")
        return np.asarray(self.eigenvectors, dtype=np.float64) @ (alpha * np.asarray(self.eigenvalues, dtype=np.float64))

    def to_dict(self) -> dict[str, Any]:
        """What the checkpoint and the training state record: the components, and how they were made."""
        return {"mean": list(self.mean), "covariance": [list(r) for r in self.covariance], "eigenvalues": list(self.eigenvalues),
                "eigenvectors": [list(r) for r in self.eigenvectors], "pixels": self.pixels, "videos": self.videos,
                "source": self.source, "pixel_unit": "RGB values in [0, 1]", "alpha_std": ALPHA_STD,
                "offset": "sum_i alpha_i * eigenvalue_i * eigenvector_i (eigenvector_i: column i), alpha_i ~ N(0, alpha_std) once per sample"}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ColourPCA":
        """Read :meth:`to_dict` back (``ValueError`` for a damaged record)."""
        try:
            pca = cls(mean=_floats(data["mean"]), covariance=_rows(data["covariance"]), eigenvalues=_floats(data["eigenvalues"]),
                      eigenvectors=_rows(data["eigenvectors"]), pixels=int(data["pixels"]), videos=int(data["videos"]),
                      source=str(data.get("source", "")))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"a damaged colour PCA record ({type(err).__name__}: {err})") from None
        if not all(math.isfinite(v) for v in (*pca.eigenvalues, *(x for r in pca.eigenvectors for x in r))):
            raise ValueError("a damaged colour PCA record (values that are not finite)")
        return pca


class ColourStatistics:
    """Exact running sums of RGB pixel values and their products, video by video."""

    def __init__(self) -> None:
        self.count = 0
        self.videos = 0
        self._sum = [0, 0, 0]
        self._products = [[0, 0, 0] for _ in range(3)]

    def add(self, frames: np.ndarray) -> None:
        """Add every pixel of ``frames`` (..., 3) uint8."""
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim < 2 or frames.shape[-1] != 3:
            raise ValueError(f"colour statistics need uint8 RGB pixels (..., 3), got {frames.dtype} {frames.shape}")
        pixels = frames.reshape(-1, 3)
        # [r, g, b, 1] rows: one small matrix product gives the products' sums and (last column) the sums; the
        # values are integers, so float64 holds them exactly while one call's sums stay below 2**53 (1.3e11 pixels)
        rows = np.ones((min(_CHUNK_PIXELS, len(pixels)), 4), np.float64)
        sums = np.zeros((4, 4), np.float64)
        for first in range(0, len(pixels), _CHUNK_PIXELS):
            chunk = pixels[first : first + _CHUNK_PIXELS]
            block = rows[: len(chunk)]
            block[:, :3] = chunk
            sums += block.T @ block
        for c in range(3):
            self._sum[c] += int(sums[c, 3])
            for d in range(3):
                self._products[c][d] += int(sums[c, d])
        self.count += len(pixels)
        self.videos += 1

    def pca(self, source: str = "") -> ColourPCA:
        """The components of every pixel added, in [0, 1] units (``ValueError`` before any pixel)."""
        n = self.count
        if n < 1:
            raise ValueError("no pixels to compute a colour PCA from")
        # covariance = (n * sum(x x^T) - sum(x) sum(x)^T) / n^2, exact in integers until this division
        scaled = [[(n * self._products[c][d] - self._sum[c] * self._sum[d]) / (n * n * 255.0 * 255.0) for d in range(3)] for c in range(3)]
        mean = [s / (n * 255.0) for s in self._sum]
        return ColourPCA.from_covariance(scaled, mean=mean, pixels=n, videos=self.videos, source=source)


def draw_alpha(rng: np.random.Generator) -> np.ndarray:
    """One sample's ``alpha`` (3,) ~ N(0, :data:`ALPHA_STD`)."""
    return rng.normal(0.0, ALPHA_STD, size=3)


def _floats(values: Any) -> tuple[float, float, float]:
    out = tuple(float(v) for v in values)
    if len(out) != 3:
        raise ValueError(f"expected 3 values, got {len(out)}")
    return out  # type: ignore[return-value]


def _rows(matrix: Any) -> tuple[tuple[float, ...], ...]:
    rows = tuple(_floats(row) for row in matrix)
    if len(rows) != 3:
        raise ValueError(f"expected a 3x3 matrix, got {len(rows)} rows")
    return rows
