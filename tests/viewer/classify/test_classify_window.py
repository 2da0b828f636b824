"""Classification through the real window, offscreen: label, cancel, bad checkpoints, closing, CUDA fallback."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from core.inference import ClipClassifier, default_flow_backend
from core.models.checkpoint import open_classifier
from core.models import build_model, save_checkpoint
from core.models.transformer.config import TransformerConfig
from core.sampling import sliding_window_starts
from core.video import open_video
from media import write_video
from viewer.classify.controller import ClassifyController
from viewer.main_window import MainWindow
from viewer.classify.prediction_chart import PredictionPanel
from staging_helpers import settle

CLASSES = [f"action{i}" for i in range(6)]


@pytest.fixture(scope="module")
def files(tmp_path_factory):  # noqa: ANN001, ANN201
    folder = tmp_path_factory.mktemp("classify-window")
    torch.manual_seed(0)
    config = TransformerConfig.create(
        backbone="tiny", class_names=CLASSES, backbone_options={"dim": 16}, input_size=64, clip_length=8,
        fusion={"heads": 2, "head_dim": 8, "depth": 2},
    )
    save_checkpoint(folder / "tiny.safetensors", build_model(config))
    raft_config = dataclasses.replace(config, flow_method="raft-small")  # no RAFT weights in tests: it falls back to DIS
    save_checkpoint(folder / "raft.safetensors", build_model(raft_config))
    video = write_video(folder / "clip.mp4", 30, options={"crf": "12"})
    return SimpleNamespace(checkpoint=folder / "tiny.safetensors", raft_checkpoint=folder / "raft.safetensors", video=video, folder=folder)


@pytest.fixture
def window(qtbot):  # noqa: ANN001, ANN201
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def ready_window(qtbot, win: MainWindow, files) -> MainWindow:  # noqa: ANN001
    win.open_video(str(files.video))
    win.classify.load_checkpoint(files.checkpoint)
    qtbot.waitUntil(lambda: win.state.frame_count == 30 and win.classify.checkpoint == files.checkpoint, timeout=15000)
    return win


class SlowFlow:
    """A flow engine that takes its time and honours the cancel token, as DIS and RAFT do between steps."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.saw_cancel = threading.Event()
        self.backend = default_flow_backend()

    def compute(self, frames, method, *, device=None, cancel=None, progress=None):  # noqa: ANN001, ANN201
        self.started.set()
        for _ in range(1000):  # up to 10 s
            if cancel is not None and cancel.cancelled:
                self.saw_cancel.set()
                cancel.raise_if_cancelled()
            time.sleep(0.01)
        return self.backend.compute(frames, method, device=device, cancel=cancel, progress=progress)

    def loader(self, path: Path, device: str) -> ClipClassifier:
        from core.inference import FlowBackend

        return open_classifier(path, device=device, flow_backend=FlowBackend(compute=self.compute, render=self.backend.render))


def test_classify_the_region_and_read_the_label(qtbot, window: MainWindow, files) -> None:  # noqa: ANN001
    loaded_on: list[str] = []

    def loader(path: Path, device: str) -> ClipClassifier:
        loaded_on.append(threading.current_thread().name)
        return open_classifier(path, device=device)

    ready_window(qtbot, window, files)
    window.classify.loader = loader
    window.state.set_frame(12)  # the region keeps the current frame inside it: centred, frames 8-15
    assert window.classify.classify_state.region_start == 8
    panel = window.classify_ui.prediction_panel
    with qtbot.waitSignal(window.classify.predictionReady, timeout=20000) as blocker:
        qtbot.mouseClick(panel.classify_button, Qt.MouseButton.LeftButton)
    settle(qtbot)
    prediction = blocker.args[0]
    assert loaded_on and loaded_on[0] != threading.main_thread().name  # the model loads in a worker
    expected = open_classifier(files.checkpoint, device="cpu").predict_clip(open_video(str(files.video)), 8)
    assert prediction.frame_indices == tuple(range(8, 16))
    label = window.findChild(type(panel.predicted_label), "predictedLabel")
    assert label.text() == expected.label
    rows = panel.bars.rows()
    assert [name for name, _ in rows] == [name for name, _ in expected.top]
    assert np.allclose([p for _, p in rows], [p for _, p in expected.top], atol=1e-5)
    assert "DIS flow" in panel.flow_note.text() and "whatever the flow view shows" in panel.flow_note.text()
    assert "total" in panel.timings_label.text()
    status = window.classify_ui.status_label.text()
    assert status.startswith("device CPU") and "last clip run" in status
    assert panel.status_label.text().startswith("clip frames 8-15 done in ")
    assert not window.classify.busy and not panel.cancel_button.isEnabled()
    other = write_video(files.folder / "other.mp4", 12)
    window.open_video(str(other))  # the run's line was about the last video: it goes with it
    qtbot.waitUntil(lambda: window.state.frame_count == 12, timeout=10000)
    assert panel.status_label.text() == ""


def test_whole_video_gives_a_prediction_timeline(qtbot, window: MainWindow, files) -> None:  # noqa: ANN001
    ready_window(qtbot, window, files)
    partials: list[int] = []
    window.classify.classify_state.timelineChanged.connect(lambda t: partials.append(len(t.clips)) if t is not None else None)
    with qtbot.waitSignal(window.classify.timelineReady, timeout=30000) as blocker:
        window.classify_ui.prediction_panel.video_button.click()
    timeline = blocker.args[0]
    starts = sliding_window_starts(30, 8, 1)
    assert [c.start for c in timeline.clips] == starts == [0, 8, 16, 22]
    assert partials == [1, 2, 3, 4, 4]  # handed over window by window, then the final result
    layer = window.classify_ui.timeline_layer
    assert [w[0] for w in layer.windows] == starts
    keys = layer.class_keys()  # every window labelled: its class name, or its class's number in the key where the name does not fit
    assert [t.toPlainText() for t in layer.labels] == [c.label if t.toPlainText() == c.label else str(keys[c.label]) for t, c in zip(layer.labels, timeline.clips)]
    assert all(t.isVisible() for t in layer.labels)
    legend = window.timeline.band_legend
    assert legend.isVisible() and "the 4 windows" in legend.text() and "paler = less sure" in legend.text()
    assert all(f"{keys[c.label]}&nbsp;{c.label}" in legend.text() for c in timeline.clips)
    assert layer.window_text(17) == f"frames 16-21: {timeline.clips[2].label} ({timeline.clips[2].probability:.1%})"
    assert layer.window_text(40) == ""
    assert f"Whole video (4 windows): <b>{timeline.top[0][0]}</b>" in window.classify_ui.prediction_panel.video_label.text()
    assert window.classify_ui.prediction_panel.status_label.text().startswith("whole video (4 windows) done in ")  # which run the time is of
    window.classify_ui.prediction_panel.step_box.setValue(5)  # overlapping windows every 5 frames
    with qtbot.waitSignal(window.classify.timelineReady, timeout=30000) as blocker:
        window.classify_ui.prediction_panel.video_button.click()
    assert [c.start for c in blocker.args[0].clips] == [0, 5, 10, 15, 20, 22]
    assert [w[0] for w in layer.windows] == [0, 5, 10, 15, 20, 22]
    gappy = dataclasses.replace(timeline, clips=[timeline.clips[0], timeline.clips[2]])  # frames 0-7 and 16-23
    layer.show_timeline(gappy)  # windows further apart than their span: the frames between have no class
    assert [w[:2] for w in layer.windows] == [(0, 8), (16, 24)]
    assert layer.window_text(10) == "" and layer.window_text(7).startswith("frames 0-7: ")


def drag_on_timeline(qtbot, win: MainWindow, from_frame: float, to_frame: float) -> None:  # noqa: ANN001
    """A real mouse drag on the timeline: hover (pyqtgraph picks the item to drag on hover), press, move, release."""
    from PySide6.QtCore import QEvent, QPoint, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    plot = win.timeline.plot
    viewport = plot.viewport()
    vb = plot.getPlotItem().vb

    def at(frame: float) -> QPoint:
        return plot.mapFromScene(vb.mapViewToScene(QPointF(frame, 0.5)))

    def send(kind: QEvent.Type, pos: QPoint, buttons: Qt.MouseButton) -> None:
        button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
        event = QMouseEvent(kind, QPointF(pos), QPointF(viewport.mapToGlobal(pos)), button, buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(viewport, event)
        qtbot.wait(20)  # pyqtgraph drops mouse moves closer than 10 ms apart

    start, end = at(from_frame), at(to_frame)
    send(QEvent.Type.MouseMove, start + QPoint(3, 0), Qt.MouseButton.NoButton)
    send(QEvent.Type.MouseMove, start, Qt.MouseButton.NoButton)
    send(QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
    for step in range(1, 6):
        send(QEvent.Type.MouseMove, start + (end - start) * step / 5, Qt.MouseButton.LeftButton)
    send(QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


def test_after_a_whole_video_run_the_empty_bars_do_not_say_there_is_no_prediction(qtbot, window: MainWindow, files) -> None:  # noqa: ANN001
    """The bars are the clip's; a whole-video run fills the line under them.  Before, the bars still said "no
    prediction yet" right above "Whole video (4 windows): action3 41%": the same picture before and after the run."""
    ready_window(qtbot, window, files)
    bars = window.classify_ui.prediction_panel.bars
    before = bars.grab().toImage()
    with qtbot.waitSignal(window.classify.timelineReady, timeout=30000):
        window.classify_ui.prediction_panel.video_button.click()
    assert bars.rows() == []  # no clip was classified
    assert bars.grab().toImage() != before  # the empty bars now say something else
    assert bars.empty_text.startswith("no clip classified") and "whole-video result is below" in bars.empty_text


def test_a_flow_fallback_is_a_visible_notice(qtbot, window: MainWindow, files) -> None:  # noqa: ANN001
    window.open_video(str(files.video))
    window.classify.load_checkpoint(files.raft_checkpoint)
    qtbot.waitUntil(lambda: window.state.frame_count == 30 and window.classify.checkpoint == files.raft_checkpoint, timeout=15000)
    panel = window.classify_ui.prediction_panel
    assert "RAFT-SMALL flow" in panel.flow_note.text()
    with qtbot.waitSignal(window.classify.predictionReady, timeout=20000) as blocker:
        window.classify.classify_clip(0)
    settle(qtbot)
    assert blocker.args[0].flow_fell_back and blocker.args[0].flow_method == "dis"
    assert panel.notice_label.isVisibleTo(window)
    assert "Flow fell back" in panel.notice_label.text() and "RAFT-small weights are not available" in panel.notice_label.text()
    assert "flow dis" in panel.clip_label.text()


def test_dragging_the_region_snaps_to_frames_and_pins_it(qtbot, window: MainWindow, files) -> None:  # noqa: ANN001
    ready_window(qtbot, window, files)
    layer = window.classify_ui.timeline_layer
    state = window.classify.classify_state
    assert state.region_start == 0 and layer.region.getRegion() == (-0.5, 7.5)
    drag_on_timeline(qtbot, window, 3.5, 13.8)  # by 10.3 frames
    assert state.region_start == 10 and not state.follow_frame
    assert layer.region.getRegion() == (9.5, 17.5)  # snapped, width unchanged
    assert "frames 10-17" in window.classify_ui.prediction_panel.region_label.text()
    drag_on_timeline(qtbot, window, 13.5, 40.0)  # past the end: kept inside the video
    assert state.region_start == 22 and layer.region.getRegion() == (21.5, 29.5)
    window.state.set_frame(3)  # pinned: scrubbing does not move it
    assert state.region_start == 22
    with qtbot.waitSignal(window.classify.predictionReady, timeout=20000) as blocker:
        window.classify.classify_clip()
    settle(qtbot)
    assert blocker.args[0].frame_indices[0] == 22


def test_cancel_stops_the_job_at_once(qtbot, window: MainWindow, files) -> None:  # noqa: ANN001
    ready_window(qtbot, window, files)
    slow = SlowFlow()
    window.classify.loader = slow.loader
    delivered: list[object] = []
    window.classify.predictionReady.connect(delivered.append)
    panel = window.classify_ui.prediction_panel
    window.classify.classify_clip(0)
    assert window.classify.busy and panel.cancel_button.isEnabled()
    qtbot.waitUntil(slow.started.is_set, timeout=15000)
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert not window.classify.busy and not panel.cancel_button.isEnabled()  # the window is free at once
    assert panel.status_label.text() == "cancelled"
    qtbot.waitUntil(slow.saw_cancel.is_set, timeout=5000)  # the token reached the flow engine inside the classifier
    qtbot.wait(100)
    assert delivered == [] and window.classify.classify_state.prediction is None


def test_a_corrupt_checkpoint_is_an_error_and_the_old_model_stays(qtbot, window: MainWindow, files, tmp_path: Path) -> None:  # noqa: ANN001
    ready_window(qtbot, window, files)
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json" + b"\x00" * 64)
    window.classify.load_checkpoint(bad)
    qtbot.waitUntil(lambda: window.notifier.last_error is not None, timeout=10000)
    assert str(bad) in window.notifier.last_error and "not a readable safetensors checkpoint" in window.notifier.last_error
    assert window.classify.checkpoint == files.checkpoint
    assert "tiny.safetensors" in window.classify_ui.prediction_panel.model_label.text()
    with qtbot.waitSignal(window.classify.predictionReady, timeout=20000):
        window.classify.classify_clip(0)  # still classifies with the previous model
    settle(qtbot)
    assert window.classify_ui.prediction_panel.predicted_label.text() in CLASSES


def test_closing_the_window_mid_job_does_not_crash(qtbot, files) -> None:  # noqa: ANN001
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.show()
    ready_window(qtbot, win, files)
    slow = SlowFlow()
    win.classify.loader = slow.loader
    delivered: list[object] = []
    win.classify.predictionReady.connect(delivered.append)
    win.classify.classify_clip(0)
    win.classify.classify_video()
    qtbot.waitUntil(slow.started.is_set, timeout=15000)
    win.close()
    assert slow.saw_cancel.is_set()  # closing cancelled the jobs and waited for them
    qtbot.wait(100)
    assert delivered == []


def test_cuda_out_of_memory_reruns_on_the_cpu_and_says_so(qtbot, window: MainWindow, files) -> None:  # noqa: ANN001
    """No GPU here: a loader stands in for CUDA with a classifier that runs out of memory."""
    ready_window(qtbot, window, files)
    asked: list[str] = []

    class OutOfMemory:
        def predict_clip(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    def loader(path: Path, device: str):  # noqa: ANN202
        asked.append(device)
        return OutOfMemory() if device == "cuda" else open_classifier(path, device="cpu")

    window.classify.loader = loader
    window.classify.device = "cuda"
    with qtbot.waitSignal(window.classify.runFinished, timeout=20000) as blocker:
        window.classify.classify_clip(0)
    run = blocker.args[0]
    assert asked == ["cuda", "cpu"] and run.device == "cpu" and run.requested_device == "cuda" and run.cuda_out_of_memory
    notice = window.classify_ui.prediction_panel.notice_label
    assert notice.isVisibleTo(window) and "CUDA ran out of memory" in notice.text()
    assert "CUDA out of memory: ran on CPU" in window.classify_ui.status_label.text()
    assert window.classify_ui.prediction_panel.predicted_label.text() in CLASSES


def test_the_whole_video_is_one_pass_and_cuda_running_out_of_memory_midway_finishes_on_the_cpu(qtbot, window: MainWindow, files) -> None:  # noqa: ANN001
    """Windows every 2 frames: one pass over the video (each frame read once, the timeline growing batch by batch);
    when CUDA runs out of memory after the first batch, the windows still to do run on the CPU, the done ones kept."""
    ready_window(qtbot, window, files)
    calls: list[tuple[str, list[int]]] = []

    class Watched:
        """The real classifier on the CPU, its calls noted; as "cuda" it runs out of memory after one batch."""

        def __init__(self, inner: ClipClassifier, device: str) -> None:
            self.inner, self.device = inner, device

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(self.inner, name)

        def iter_clips(self, video, starts, **kwargs):  # noqa: ANN001, ANN201
            calls.append((self.device, list(starts)))
            for n, batch in enumerate(self.inner.iter_clips(video, starts, **kwargs)):
                if self.device == "cuda" and n == 1:
                    raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
                yield batch

    def loader(path: Path, device: str):  # noqa: ANN202
        classifier = open_classifier(path, device="cpu")
        classifier.batch_size = 4
        return Watched(classifier, device)

    window.classify.loader = loader
    window.classify.device = "cuda"
    window.classify_ui.prediction_panel.step_box.setValue(2)
    partials: list[int] = []
    window.classify.classify_state.timelineChanged.connect(lambda t: partials.append(len(t.clips)) if t is not None else None)
    with qtbot.waitSignal(window.classify.runFinished, timeout=60000) as blocker:
        window.classify_ui.prediction_panel.video_button.click()
    run = blocker.args[0]
    starts = sliding_window_starts(30, 8, 1, 2)
    assert [c.start for c in run.result.clips] == starts and len(starts) == 12
    assert calls == [("cuda", starts), ("cpu", starts[4:])]  # one pass each: the first batch kept, the rest on the CPU
    assert run.device == "cpu" and run.cuda_out_of_memory
    assert partials[:3] == [4, 8, 12]


def test_a_missing_model_is_said_in_the_panel_and_nothing_runs(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    from viewer.jobs import JobRunner
    from viewer.notifier import Notifier
    from viewer.state import ViewerState

    state = ViewerState()
    jobs = JobRunner()
    notifier = Notifier(None, show_dialogs=False)
    controller = ClassifyController(state, jobs, notifier, checkpoint=tmp_path / "demo_model.safetensors")
    panel = PredictionPanel(controller)
    qtbot.addWidget(panel)
    panel.show()
    assert "demo_model.safetensors is missing" in panel.notice_label.text() and panel.notice_label.isVisible()
    assert not panel.classify_button.isEnabled() and not panel.video_button.isEnabled()
    assert controller.classify_clip(0) == -1 and "missing" in (notifier.last_error or "")
    jobs.shutdown()


def test_the_demo_model_labels_the_bundled_sample(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    from core.resources import DEMO_CHECKPOINT, SAMPLE_VIDEO

    if not DEMO_CHECKPOINT.exists():
        pytest.skip(f"the demo model {DEMO_CHECKPOINT} has not been trained yet")
    qtbot.waitUntil(lambda: window.classify.checkpoint == DEMO_CHECKPOINT and window.classify.classify_state.model.config is not None, timeout=10000)
    window.open_video(str(SAMPLE_VIDEO))
    qtbot.waitUntil(lambda: window.state.frame_count == 125, timeout=10000)
    state = window.classify.classify_state
    state.drag_region((125 - state.span) // 2)  # the centred clip, as `classify` uses by default
    with qtbot.waitSignal(window.classify.predictionReady, timeout=30000):
        window.classify_ui.prediction_panel.classify_button.click()
    settle(qtbot)
    assert window.classify_ui.prediction_panel.predicted_label.text() == "RotateClockwise"


def test_a_chosen_model_is_loaded_ahead_in_a_worker_and_warmed_on_cuda_before_the_first_click(qtbot, window: MainWindow, files) -> None:  # noqa: ANN001
    """No GPU here: the loader stands in for CUDA with a CPU classifier that records its warm-up."""
    ready_window(qtbot, window, files)
    calls: list[tuple[str, str]] = []

    class Warmable:
        def __init__(self, inner: ClipClassifier) -> None:
            self.inner = inner

        def warm_up(self, *, compiling: bool = True) -> float:
            calls.append(("warm", threading.current_thread().name))
            assert not compiling  # compiling is the warm job's, outside the model holder's lock
            return 1.0

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(self.inner, name)

    def loader(path: Path, device: str):  # noqa: ANN202
        calls.append(("load", device))
        return Warmable(open_classifier(path, device="cpu"))

    window.classify.loader = loader
    assert window.classify.warm_up() > 0  # on the CPU: loaded ahead, no warm-up clip
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=15000)
    assert calls == [("load", "cpu")]
    window.classify.device = "cuda"
    assert window.classify.warm_up() > 0
    qtbot.waitUntil(lambda: len(calls) == 3, timeout=15000)
    assert calls[1] == ("load", "cuda") and calls[2][0] == "warm" and calls[2][1] != threading.main_thread().name
    with qtbot.waitSignal(window.classify.runFinished, timeout=20000) as blocker:
        window.classify.classify_clip(0)
    assert blocker.args[0].load_ms == 0.0 and len(calls) == 3  # the click found the model loaded and warm


def test_on_cuda_the_warm_job_compiles_the_backbones_and_clicks_then_run_compiled(qtbot, window: MainWindow, files) -> None:  # noqa: ANN001
    """No GPU here: the loader stands in for CUDA with a CPU classifier compiled by a counting backend."""
    import torch

    ready_window(qtbot, window, files)
    compiles: list[int] = []

    def backend(graph: torch.fx.GraphModule, _inputs: list) -> object:
        compiles.append(1)
        return graph.forward

    torch._dynamo.reset()
    made: list[ClipClassifier] = []

    def loader(path: Path, device: str) -> ClipClassifier:
        made.append(open_classifier(path, device="cpu", compile_backbones="on", compile_backend=backend))
        return made[-1]

    notices: list[str] = []
    window.notifier.noticeRaised.connect(notices.append)
    window.classify.loader = loader
    window.classify.device = "cuda"
    assert window.classify.warm_up() > 0
    qtbot.waitUntil(lambda: any("backbones compiled" in n for n in notices), timeout=30000)
    assert any("compiling tiny.safetensors's backbones" in n for n in notices)
    reports = made[0].compile_reports()
    assert reports and all(r.batches and r.failure is None for r in reports) and not made[0].compile_pending
    compiled = len(compiles)
    with qtbot.waitSignal(window.classify.runFinished, timeout=20000):
        window.classify.classify_clip(0)
    assert len(compiles) == compiled and len(made) == 1  # the click compiled nothing and loaded nothing
    torch._dynamo.reset()
