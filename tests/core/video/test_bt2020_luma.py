"""BT.2020's luma weights, written once: the HLG tone mapping's luminance and the YUV matrix of the fast HDR path
took them from two copies of the numbers."""

from __future__ import annotations

import pytest

from core.video import hdr, rgb_planes


def test_both_hdr_paths_use_the_one_bt2020_luma_constant() -> None:
    assert hdr.BT2020_LUMA == (0.2627, 0.6780, 0.0593)  # ITU-R BT.2020, table 4: Kr, 1 - Kr - Kb, Kb
    assert sum(hdr.BT2020_LUMA) == pytest.approx(1.0, abs=1e-12)
    colorspace = getattr(rgb_planes.Colorspace, "BT2020", None)
    if colorspace is None:
        pytest.skip("this PyAV release names no BT.2020 matrix")
    assert rgb_planes._LUMA_WEIGHTS[colorspace] == (hdr.BT2020_LUMA[0], hdr.BT2020_LUMA[2])
