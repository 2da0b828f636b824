"""The model chooser on the real window: bundled demos per family (only those whose file exists),
recent checkpoints (missing ones not offered but remembered, unreadable ones named), choosing an entry loads it and
clears the old prediction, the choice persists between runs; each family's timing names its motion
stage (the optical flow method, or the learnt flow layers of representation flow)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from core.models import registry, save_checkpoint
from core.models.transformer.config import TransformerConfig
from core.models.convnet import ConvNetConfig
from core.models.shared.cam_maps import CamMaps
from core.models.transformer.explain import AttentionMaps
from core.models.registry import build_model
from core.models.repflow import RepFlowConfig
from media import write_video
from viewer import settings as app_settings
from viewer.main_window import MainWindow
from viewer.classify.model_chooser import LOAD_OTHER, ModelEntry, scan_models
from staging_helpers import settle

CLASSES = ["a", "b", "c", "d", "e", "f"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):  # noqa: ANN001, ANN201
    folder = tmp_path_factory.mktemp("model-chooser")
    torch.manual_seed(3)
    transformer = TransformerConfig.create(
        backbone="tiny", class_names=CLASSES, backbone_options={"dim": 16}, input_size=64, clip_length=8,
        fusion={"heads": 2, "head_dim": 8, "depth": 2},
    )
    common = dict(backbone="tiny", class_names=CLASSES, input_size=64, backbone_options={"width": 8})
    convnet = ConvNetConfig.create(variant="late", flow_length=2, flow_method="farneback", **common)
    repflow = RepFlowConfig.create(variant="flow", clip_length=4, flow_layers=2, iterations=3, **common)
    paths = SimpleNamespace(
        transformer=folder / "demo_transformer.safetensors",
        convnet=folder / "demo_convnet.safetensors",
        repflow=folder / "runs" / "repflow_run.safetensors",
        junk=folder / "junk.safetensors",
        video=write_video(folder / "clip.mp4", 24, options={"crf": "12"}),
    )
    save_checkpoint(paths.transformer, build_model(transformer))
    save_checkpoint(paths.convnet, build_model(convnet, random_weights_ok=True))
    paths.repflow.parent.mkdir()
    save_checkpoint(paths.repflow, build_model(repflow, random_weights_ok=True))
    paths.junk.write_bytes(b"not a checkpoint at all")
    return paths


@pytest.fixture
def demos(monkeypatch, files, tmp_path):  # noqa: ANN001, ANN201
    """Two bundled demos exist, the third family's file does not (as before the lead adds it)."""
    bundled = {"transformer": files.transformer, "convnet": files.convnet, "repflow": tmp_path / "absent_demo.safetensors"}
    for name, path in bundled.items():
        monkeypatch.setitem(registry._REGISTRY, name, dataclasses.replace(registry.family(name), demo_checkpoint=path))
    return bundled


def open_window(qtbot, **kwargs) -> MainWindow:  # noqa: ANN001, ANN003
    win = MainWindow(show_dialogs=False, **kwargs)
    qtbot.addWidget(win)
    win.show()
    return win


def texts(win: MainWindow) -> list[str]:
    box = win.classify_ui.model_chooser.box
    return [box.itemText(i) for i in range(box.count())]


def listed(win: MainWindow) -> bool:
    """The model is read and the chooser holds the scan made after it."""
    catalog = win.classify_ui.catalog
    return win.classify.classify_state.model.config is not None and catalog.scans >= 1 and not catalog.busy


def classify(qtbot, win: MainWindow, start: int = 4):  # noqa: ANN001, ANN201
    with qtbot.waitSignal(win.classify.predictionReady, timeout=30000):
        win.classify.classify_clip(start)
    settle(qtbot)
    return win.classify.classify_state.prediction


def test_scan_lists_existing_demos_then_recent_files(files, tmp_path: Path) -> None:  # noqa: ANN001
    entries = scan_models(
        {"transformer": files.transformer, "convnet": tmp_path / "missing.safetensors", "repflow": files.repflow},
        [str(tmp_path / "gone.safetensors"), str(files.junk), str(files.repflow), str(files.convnet)],
    )
    assert [(e.path, e.family, e.bundled) for e in entries] == [
        (files.transformer, "transformer", True),
        (files.repflow, "repflow", True),  # a bundled file is not listed again as recent
        (files.junk, None, False),
        (files.convnet, "convnet", False),
    ]
    assert str(files.junk) in entries[2].problem and entries[2].text == "junk.safetensors (unreadable)"
    assert entries[0].text == "Demo: two-stream transformer"
    assert entries[3].text == "two-stream ConvNet — demo_convnet.safetensors"
    assert ModelEntry(files.repflow, "repflow", False).text == "representation flow — repflow_run.safetensors"


def test_choose_a_model_classify_and_the_choice_persists(qtbot, files, demos) -> None:  # noqa: ANN001
    app_settings.add_recent_checkpoint(files.junk)
    app_settings.add_recent_checkpoint(files.video.parent / "deleted_run.safetensors")  # gone since: not offered
    app_settings.add_recent_checkpoint(files.repflow)
    win = open_window(qtbot, checkpoint=files.transformer)
    catalog, chooser = win.classify_ui.catalog, win.classify_ui.model_chooser
    qtbot.waitUntil(lambda: listed(win) and win.classify.checkpoint == files.transformer, timeout=15000)
    assert texts(win) == [
        "Demo: two-stream transformer",
        "Demo: two-stream ConvNet",
        "representation flow — repflow_run.safetensors",
        "junk.safetensors (unreadable)",
        "",  # the separator
        "Load checkpoint…",
    ]
    box = chooser.box
    assert box.currentIndex() == 0 and box.itemData(box.count() - 1) == LOAD_OTHER
    assert not box.model().item(3).isEnabled()  # an unreadable file cannot be chosen
    gone = str((files.video.parent / "deleted_run.safetensors").absolute())
    # the missing one is not offered but stays remembered: its drive may only be unmounted
    assert app_settings.recent_checkpoints() == [str(files.repflow), gone, str(files.junk)]

    win.open_video(str(files.video))
    qtbot.waitUntil(lambda: win.state.frame_count == 24, timeout=10000)
    first = classify(qtbot, win)
    assert isinstance(first.attention, AttentionMaps)
    panel = win.classify_ui.prediction_panel
    # the flow-stream net is timed; the label lists stages of 0.5 ms or more (the tiny net can be quicker)
    assert "DIS flow" in panel.timings_label.text() and "flow_backbone" in first.timings_ms
    assert "(DIS flow " in win.classify_ui.status_label.text()

    chooser.choose(files.convnet)  # the ConvNet: loaded in a worker, the old prediction cleared
    qtbot.waitUntil(lambda: win.classify.checkpoint == files.convnet, timeout=15000)
    assert win.classify.classify_state.prediction is None and panel.predicted_label.text() == "" and panel.predicted_label.isHidden()
    assert win.export.prediction is None  # nor would File > Export write the other model's prediction
    assert "two-stream ConvNet" in panel.model_label.text()
    assert box.currentText() == "Demo: two-stream ConvNet"
    second = classify(qtbot, win)
    assert isinstance(second.attention, CamMaps)  # the next classification used the chosen model
    assert "FARNEBACK flow" in panel.timings_label.text()
    assert "(FARNEBACK flow " in win.classify_ui.status_label.text()
    assert app_settings.chosen_checkpoint() == str(files.convnet)
    win.close()

    again = open_window(qtbot)  # the next run starts with the chosen model
    qtbot.waitUntil(lambda: again.classify.checkpoint == files.convnet and listed(again), timeout=15000)
    assert again.classify_ui.model_chooser.box.currentText() == "Demo: two-stream ConvNet"
    again.classify_ui.model_chooser.choose(files.repflow)
    qtbot.waitUntil(lambda: again.classify.checkpoint == files.repflow, timeout=15000)
    again.open_video(str(files.video))
    qtbot.waitUntil(lambda: again.state.frame_count == 24, timeout=10000)
    third = classify(qtbot, again)
    assert third.flow_method is None and third.timings_ms["flow"] == 0.0
    timings = again.classify_ui.prediction_panel.timings_label.text()
    assert "flow net (learnt flow layers)" in timings and "DIS" not in timings and "FARNEBACK" not in timings
    assert "(flow net (learnt flow layers) " in again.classify_ui.status_label.text()
    assert app_settings.recent_checkpoints()[0] == str(files.repflow)
    again.close()


def test_a_checkpoint_that_fails_to_load_leaves_the_model_and_the_selection(qtbot, files, demos, tmp_path: Path) -> None:  # noqa: ANN001
    win = open_window(qtbot, checkpoint=files.transformer)
    qtbot.waitUntil(lambda: win.classify.checkpoint == files.transformer and listed(win), timeout=15000)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")  # a header too short for safetensors
    with qtbot.waitSignal(win.classify.checkpointFailed, timeout=15000):
        win.classify.load_checkpoint(broken)
    assert str(broken) in win.notifier.last_error
    assert win.classify.checkpoint == files.transformer
    assert win.classify_ui.model_chooser.box.currentText() == "Demo: two-stream transformer"
    assert str(broken) not in app_settings.recent_checkpoints()
    win.close()


def test_picking_the_model_in_use_again_while_another_loads_keeps_it(qtbot, files, demos) -> None:  # noqa: ANN001
    """The user picks the ConvNet, then, while it loads, the transformer in use: the last pick wins.  The ConvNet's
    load once finished after and replaced it, since picking the model in use did nothing."""
    import threading

    from core.models.checkpoint import open_classifier
    from viewer.classify.controller import MODEL_CHANNEL

    win = open_window(qtbot, checkpoint=files.transformer)
    chooser = win.classify_ui.model_chooser
    qtbot.waitUntil(lambda: listed(win) and win.classify.checkpoint == files.transformer, timeout=15000)
    release = threading.Event()

    def slow_convnet(path: Path, device: str):  # noqa: ANN202
        if path == files.convnet:
            release.wait(20)
        return open_classifier(path, device=device)

    win.classify.loader = slow_convnet
    chooser.choose(files.convnet)
    assert win.classify.jobs.is_busy(MODEL_CHANNEL)
    chooser.choose(files.transformer)
    release.set()
    qtbot.waitUntil(lambda: not win.classify.jobs.is_busy(MODEL_CHANNEL), timeout=15000)
    settle(qtbot)
    assert win.classify.checkpoint == files.transformer
    assert chooser.box.currentData() == files.transformer


def test_a_remembered_model_missing_at_start_stays_remembered(qtbot, files, demos, tmp_path: Path) -> None:  # noqa: ANN001
    """The model chosen last lives on a drive that is not mounted at this start: the window falls back to a demo for
    now, and the next start (drive back) uses the chosen model again.  The fallback used to be recorded as the user's
    choice, so the chosen model was forgotten for good."""
    chosen = tmp_path / "drive" / "mine.safetensors"
    app_settings.set_chosen_checkpoint(chosen)  # chosen before; its drive is gone now
    earlier = tmp_path / "drive" / "earlier.safetensors"
    app_settings.add_recent_checkpoint(earlier)  # loaded before, on the same drive
    win = open_window(qtbot)
    qtbot.waitUntil(lambda: listed(win), timeout=15000)
    assert win.classify.checkpoint == files.transformer  # the first demo, for this run
    win.close()
    assert app_settings.chosen_checkpoint() == str(chosen)

    chosen.parent.mkdir()
    chosen.write_bytes(files.convnet.read_bytes())  # the drive is back
    earlier.write_bytes(files.repflow.read_bytes())
    again = open_window(qtbot)
    qtbot.waitUntil(lambda: listed(again) and earlier in again.classify_ui.model_chooser.entry_paths(), timeout=15000)
    assert again.classify.checkpoint == chosen
    again.close()


def _odd_copy(checkpoint: Path, folder: Path) -> Path:
    """A copy of ``checkpoint`` named with a byte that is not UTF-8 ("run\\xff.safetensors", as a Latin-1 disk has it)."""
    import os
    import shutil

    odd = Path(os.fsdecode(os.fsencode(str(folder)) + b"/run\xff.safetensors"))
    shutil.copyfile(checkpoint, odd)
    return odd


def test_a_checkpoint_whose_name_has_bytes_that_are_not_utf8_loads(qtbot, files, demos, tmp_path) -> None:  # noqa: ANN001
    """safetensors takes UTF-8 paths only: it was "Cannot load checkpoint: .../run\\xff.safetensors: not a readable
    safetensors checkpoint (Path ... is not valid UTF-8)"."""
    odd = _odd_copy(files.repflow, tmp_path)
    win = open_window(qtbot)
    qtbot.waitUntil(lambda: listed(win), timeout=15000)
    win.classify.load_checkpoint(odd)
    qtbot.waitUntil(lambda: win.classify.checkpoint == odd or win.notifier.last_error is not None, timeout=15000)
    assert win.notifier.last_error is None and win.classify.checkpoint == odd
    win.close()


def test_a_checkpoint_whose_name_has_bytes_that_are_not_utf8_is_chosen_again_as_itself(qtbot, files, demos, tmp_path) -> None:  # noqa: ANN001
    """The Model box held each path as text, which Qt keeps without the byte: choosing "run\\xff.safetensors" again
    asked for "run.safetensors", which "does not exist" (or is another run's)."""
    odd = _odd_copy(files.repflow, tmp_path)
    win = open_window(qtbot, checkpoint=odd)
    chooser = win.classify_ui.model_chooser
    qtbot.waitUntil(lambda: listed(win) and win.classify.checkpoint == odd and odd in chooser.entry_paths(), timeout=15000)
    chooser.choose(files.convnet)
    qtbot.waitUntil(lambda: win.classify.checkpoint == files.convnet, timeout=15000)
    chooser.choose(odd)
    qtbot.waitUntil(lambda: win.classify.checkpoint == odd or win.notifier.last_error is not None, timeout=15000)
    assert win.notifier.last_error is None and win.classify.checkpoint == odd
    win.close()
