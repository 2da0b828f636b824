"""The toolbar's overlay target and opacity act on the flow-quality overlays only: with none on they were live
controls that changed nothing on screen; now they are greyed until Inconsistency or Warp error is on."""

from __future__ import annotations

from viewer.main_window import MainWindow


def test_target_and_opacity_are_greyed_until_an_overlay_is_on(window: MainWindow) -> None:  # noqa: ANN001
    controls = (window.overlay_target_box, window.overlay_opacity)
    assert not window.overlays.choice.names
    assert not any(c.isEnabled() for c in controls)
    assert "turn on Inconsistency" in window.overlay_opacity.toolTip()
    window.overlay_actions["warp_error"].setChecked(True)
    assert all(c.isEnabled() for c in controls) and "turn on" not in window.overlay_opacity.toolTip()
    window.overlay_actions["warp_error"].setChecked(False)
    assert not any(c.isEnabled() for c in controls)
