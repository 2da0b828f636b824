"""Flow arrows: a known uniform motion gives arrows of that direction and length, in frame fractions."""

from __future__ import annotations

import numpy as np
import pytest

from core.export.quiver import arrow_scale, quiver


def test_a_uniform_motion_gives_one_arrow_per_cell_pointing_its_way() -> None:
    flow = np.zeros((32, 64, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, -4.0  # 5 px right and up
    arrows = quiver(flow, step=16, scale=2.0)
    cells = 2 * 4
    assert arrows.segments.shape == (3 * cells, 4)
    shafts = arrows.segments[:cells] * np.array([64, 32, 64, 32])
    assert np.allclose(shafts[:, 2] - shafts[:, 0], 6.0) and np.allclose(shafts[:, 3] - shafts[:, 1], -8.0)
    assert sorted(set(np.round(shafts[:, 0], 3))) == [8.0, 24.0, 40.0, 56.0] and sorted(set(np.round(shafts[:, 1], 3))) == [8.0, 24.0]
    heads = arrows.segments[cells:] * np.array([64, 32, 64, 32])
    assert np.allclose(np.hypot(heads[:, 2] - heads[:, 0], heads[:, 3] - heads[:, 1]), 0.3 * 10.0)  # 30% of a 10 px arrow
    still = quiver(np.zeros((32, 64, 2), np.float32), step=16)
    assert still.segments.shape == (0, 4)  # no motion, no arrows


def test_arrow_scale_draws_typical_motion_one_step_long_and_bad_fields_are_refused() -> None:
    flow = np.zeros((40, 40, 2), np.float32)
    flow[..., 0] = 2.0
    assert arrow_scale(flow, 16) == pytest.approx(0.9 * 16 / 2.0)
    assert arrow_scale(np.zeros((8, 8, 2), np.float32), 16) == 1.0
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        quiver(np.zeros((8, 8, 3), np.float32))
