"""The viewer's model chooser offers a family registered at run time (TSN's RGB-difference stream,
``tests/fourth_family.py``): its demo is listed under its record's title, choosing it loads it, and
a clip classified with it shows its prediction, its description and no heat maps (it explains none)."""

from __future__ import annotations

import pytest
import torch

import core.models.registry as registry
from core.models.checkpoint import save_checkpoint
from fourth_family import NAME, RgbDiffConfig, RgbDiffNet, rgbdiff_family
from media import write_video
from viewer.main_window import MainWindow
from staging_helpers import settle

CLASSES = ("a", "b", "c")


@pytest.fixture
def fourth_family(tmp_path):  # noqa: ANN001, ANN201
    demo = tmp_path / "rgbdiff_demo.safetensors"
    record = registry.register_family(rgbdiff_family(demo))
    torch.manual_seed(0)
    save_checkpoint(demo, RgbDiffNet(RgbDiffConfig(class_names=CLASSES)))
    yield record
    registry.unregister_family(NAME)


def test_the_chooser_offers_a_registered_family_and_classifies_with_it(qtbot, fourth_family, tmp_path) -> None:  # noqa: ANN001
    video = write_video(tmp_path / "clip.mp4", 20)
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.show()
    chooser, catalog = win.classify_ui.model_chooser, win.classify_ui.catalog
    qtbot.waitUntil(lambda: win.classify.classify_state.model.config is not None and catalog.scans >= 1 and not catalog.busy, timeout=15000)
    box = chooser.box
    entries = [box.itemText(i) for i in range(box.count())]
    assert "Demo: RGB-difference network" in entries

    chooser.choose(fourth_family.demo_checkpoint)
    qtbot.waitUntil(lambda: win.classify.checkpoint == fourth_family.demo_checkpoint, timeout=15000)
    panel = win.classify_ui.prediction_panel
    assert "RGB differences of 6 frames, 3 classes" in panel.model_label.text()
    assert box.currentText() == "Demo: RGB-difference network"
    win.open_video(str(video))
    qtbot.waitUntil(lambda: win.state.frame_count == 20, timeout=10000)
    with qtbot.waitSignal(win.classify.predictionReady, timeout=30000):
        win.classify.classify_clip(2)
    settle(qtbot)
    prediction = win.classify.classify_state.prediction
    assert prediction.attention is None and prediction.flow_method is None
    assert prediction.label in CLASSES and panel.predicted_label.text() == prediction.label
    assert prediction.frame_indices == tuple(range(2, 8))
    win.close()
