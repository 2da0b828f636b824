"""A seeded "monkey": random user actions on the real window, with the viewer's invariants checked after each.

The promise checked is "a viewer that never shows a wrong picture": whatever the
workers are doing, the frame, the flow, the heat maps and the captions on screen
belong together and to what the user last asked for.  Some of it holds at every
moment (what is shown names itself truthfully); the rest (what is shown is what
was asked for last) holds once the window is idle, and is checked only then, so
the test never waits on the clock.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, QtMsgType, qInstallMessageHandler

from core.flow import compute_flow
from core.video import Video, open_video
from viewer.flow_chunks import analysis_frames, render_pairs
from viewer.flow_controller import FlowController
from viewer.flow_status import flow_caption
from viewer.main_window import MainWindow
from viewer.staging import turns

IDLE_WAIT_MS = 60000
WORKER_DELAY_S = float(os.environ.get("MONKEY_WORKER_DELAY_MS", "4")) / 1000.0
FAST_METHODS = ("dis", "farneback")
OFFSCREEN_NOISE = ("This plugin does not support propagateSizeHints()",)  # the offscreen platform's, not ours
# the errors a user's own action asks for: a bad file, classifying with nothing to classify
EXPECTED_ERRORS = ("Cannot open video", "Cannot classify", "Cannot explain", "Nothing to export", "Cannot load checkpoint")


@dataclass(frozen=True)
class MonkeyFiles:
    """What the monkey opens: two videos, a frame folder, a bad file, two models, a listed dataset."""

    videos: tuple[Path, ...]
    bad: Path
    models: tuple[Path, ...]
    bad_model: Path
    dataset: Path | None
    out: Path


@dataclass
class Observations:
    """What went wrong outside the invariants: excepthooks, Qt warnings, errors in the sink, heavy GUI-thread work."""

    exceptions: list[str] = field(default_factory=list)
    qt_messages: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    gui_thread_work: list[str] = field(default_factory=list)


class References:
    """Frames read straight from core, one reader per path: the truth the views are compared with."""

    def __init__(self) -> None:
        self._videos: dict[str, Video] = {}

    def video(self, path: str) -> Video:
        if path not in self._videos:
            self._videos[path] = open_video(path)
        return self._videos[path]

    def frame(self, path: str, index: int) -> np.ndarray:
        return self.video(path).read(index)

    def close(self) -> None:
        for video in self._videos.values():
            video.close()
        self._videos.clear()


def guard_gui_thread(monkeypatch, seen: list[str]) -> None:  # noqa: ANN001
    """Record decoding, flow and model passes that run on the GUI thread: each would freeze the window."""
    import core.inference as inference
    import viewer.flow_controller as flow_controller

    main = threading.main_thread()

    def watched(owner: object, name: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if threading.current_thread() is main:
                if getattr(_reference_calls, "depth", 0) == 0:
                    seen.append(f"{getattr(owner, '__name__', owner)}.{name} ran on the GUI thread:\n{''.join(traceback.format_stack(limit=8))}")
            elif WORKER_DELAY_S:
                time.sleep(WORKER_DELAY_S)  # an HD video's pace: results arrive turns later, and races have room
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    watched(flow_controller, "compute_chunk")  # the name the controller calls
    watched(inference.ClipClassifier, "predict_clip")
    from core.video.container import ContainerVideo
    from core.video.image_sequence import ImageSequenceVideo

    watched(ContainerVideo, "_decode")
    watched(ImageSequenceVideo, "_decode")


_reference_calls = threading.local()  # the checks' own reads on the GUI thread are not the viewer's


class Heartbeat(QObject):
    """The longest the event loop went without a turn, the checks' own work left out (reported, never asserted:
    a loaded machine stretches it; :func:`guard_gui_thread` is the deterministic check)."""

    def __init__(self) -> None:
        super().__init__()
        self.longest_ms = 0.0
        self._last = time.perf_counter()
        self._timer = QTimer(self)
        self._timer.setInterval(5)
        self._timer.timeout.connect(self._beat)
        self._timer.start()

    def _beat(self) -> None:
        now = time.perf_counter()
        self.longest_ms = max(self.longest_ms, (now - self._last) * 1000.0)
        self._last = now

    def reset(self) -> None:
        self._last = time.perf_counter()

    def stop(self) -> None:
        self._timer.stop()


HEARTBEAT: list[Heartbeat] = []


class reference_reads:
    """The checks' own work on the GUI thread: neither the viewer's heavy work nor a stall of its event loop."""

    def __enter__(self) -> None:
        _reference_calls.depth = getattr(_reference_calls, "depth", 0) + 1

    def __exit__(self, *exc: object) -> None:
        _reference_calls.depth -= 1
        for beat in HEARTBEAT:
            beat.reset()


def small_frame_caches(monkeypatch, frames: int = 4) -> None:  # noqa: ANN001
    """Videos keep a few decoded frames only, as a long HD video does: most seeks then go through a worker."""
    from core.video.frame_cache import FrameCache

    original = FrameCache.__init__
    monkeypatch.setattr(FrameCache, "__init__", lambda self, max_bytes=0: original(self, min(int(max_bytes), frames * 160 * 96 * 3)))


def collect(monkeypatch, window: MainWindow) -> tuple[Observations, Callable[[], None]]:  # noqa: ANN001
    """Route excepthooks, Qt's warnings and the notifier's errors into one record; returns it and an undo."""
    seen = Observations()
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, tb: seen.exceptions.append("".join(traceback.format_exception(kind, value, tb))))
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.exceptions.append(f"{args.exc_type.__name__}: {args.exc_value}"))

    def on_message(kind: QtMsgType, _context: object, message: str) -> None:
        if kind in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg) and message not in OFFSCREEN_NOISE:
            seen.qt_messages.append(message)

    previous = qInstallMessageHandler(on_message)
    window.notifier.errorRaised.connect(lambda title, message: seen.errors.append((title, message)))
    guard_gui_thread(monkeypatch, seen.gui_thread_work)
    return seen, lambda: qInstallMessageHandler(previous)


# -- invariants ---------------------------------------------------------------------------
def shown_rgb_index(window: MainWindow) -> int | None:
    match = re.fullmatch(r"frame (\d+)", window.rgb_view.caption.text())
    return int(match.group(1)) if match else None


def check_always(window: MainWindow, refs: References) -> list[str]:
    """What holds at every moment: every picture on screen is what its caption and the title say it is."""
    problems: list[str] = []
    info, state = window.state.info, window.state
    image = window.rgb_view.current_image()
    if info is None:
        return problems
    if Path(info.path).name not in window.windowTitle():
        problems.append(f"title {window.windowTitle()!r} does not name the open video {info.path}")
    if not 0 <= state.frame_index < state.frame_count:
        problems.append(f"frame index {state.frame_index} outside the video's {state.frame_count} frames")
    if window.transport.slider.maximum() != state.frame_count - 1:
        problems.append(f"slider maximum {window.transport.slider.maximum()} for {state.frame_count} frames")
    index = shown_rgb_index(window)
    if image is not None:
        if index is None:
            problems.append(f"RGB picture with caption {window.rgb_view.caption.text()!r}")
        else:
            with reference_reads():
                truth = refs.frame(info.path, index) if index < info.frames else None
            if truth is None or truth.shape != image.shape or not np.array_equal(truth, image):
                problems.append(f"RGB view: the picture is not frame {index} of {Path(info.path).name}")
    heat = window.rgb_view.overlay("attention")
    prediction = window.classify.classify_state.prediction
    if heat is not None and (prediction is None or index is None or index not in prediction.frame_indices):
        clip = None if prediction is None else prediction.frame_indices
        problems.append(f"attention map on RGB frame {index}, outside the classified clip {clip}")
    flow_image = window.flow_view.current_image()
    shown = window._shown_flow
    if flow_image is not None:
        if shown is None or not np.array_equal(flow_image, shown.image):
            problems.append("flow picture with no flow frame behind it")
        elif window.flow_view.caption.text() != flow_caption(shown, window.flow):
            problems.append(f"flow caption {window.flow_view.caption.text()!r} for pair {shown.pair} ({shown.method_used})")
        elif info.frames < 2 or shown.pair >= info.frames - 1:
            problems.append(f"flow of pair {shown.pair} beside a video of {info.frames} frames")
        if shown is not None and flow_image.shape[:2] != analysis_frames(np.zeros((1, info.height, info.width, 3), np.uint8)).shape[1:3] \
                and info.rotation == 0:
            problems.append(f"flow picture of {flow_image.shape[:2]} beside a {info.width}x{info.height} video")
    quality_pair = window.overlays.shown_pair
    if quality_pair is not None:
        target = window.overlays.choice.target
        beside = index if target == "rgb" else (None if shown is None or flow_image is None else shown.pair)
        if target == "rgb" and beside is not None:
            beside = FlowController.pair_of(beside, info.frames)
        if beside != quality_pair:
            problems.append(f"quality overlay of pair {quality_pair} over the {target} view, which shows "
                            f"{window.rgb_view.caption.text() if target == 'rgb' else window.flow_view.caption.text()!r}")
    if image is not None and flow_image is not None and shown is not None and index is not None \
            and shown.pair != FlowController.pair_of(index, info.frames):
        problems.append(f"flow of pair {shown.pair} beside RGB frame {index}")
    flow_heat = window.flow_view.overlay("attention")
    if flow_heat is not None:
        pair = None if shown is None or flow_image is None else shown.pair
        if prediction is None or pair is None or pair not in prediction.frame_indices:
            problems.append(f"attention map on flow pair {pair}, outside the classified clip")
    return problems


def is_idle(window: MainWindow) -> bool:
    """No job in flight, nothing posted for a later turn, no throttled request, not playing."""
    return (not window.jobs.busy_channels and not turns().pending() and not window.flow._throttle.isActive()
            and not window.state.playing and not window.export.busy)


def wait_idle(qtbot, window: MainWindow) -> None:  # noqa: ANN001
    """Idle twice, a few turns apart: single-shot timers (a video's flow starts 20 ms after it opens) have fired."""
    for _ in range(200):
        qtbot.waitUntil(lambda: is_idle(window), timeout=IDLE_WAIT_MS)
        qtbot.wait(120)
        if is_idle(window):
            return
    raise AssertionError("the window never settled")


def check_idle(window: MainWindow, refs: References, models: dict[str, object]) -> list[str]:
    """What holds once nothing runs: the pictures are the ones last asked for."""
    problems = check_always(window, refs)
    info, state = window.state.info, window.state
    if info is None:
        return problems
    index = state.frame_index
    if shown_rgb_index(window) != index or window.video.shown_index != index:
        problems.append(f"idle at frame {index} (slider {window.transport.slider.value()}) but the RGB view shows "
                        f"{window.rgb_view.caption.text()!r}")
    if window.transport.slider.value() != index or f"frame {index} / {info.frames - 1}" not in window.transport.readout.text():
        problems.append(f"transport shows {window.transport.slider.value()} / {window.transport.readout.text()!r} at frame {index}")
    if info.frames >= 2:
        shown = window._shown_flow
        pair = FlowController.pair_of(index, info.frames)
        if shown is None or window.flow_view.current_image() is None:
            problems.append(f"idle at frame {index}: no flow shown ({window.flow_view.caption.text()!r})")
        elif shown.pair != pair or window.flow.current() is not shown:
            problems.append(f"idle at frame {index}: flow of pair {shown.pair} shown, pair {pair} wanted")
        else:
            problems += check_flow_pixels(window, refs, info.path, pair)
    elif window.flow_view.current_image() is not None or not window.flow_view.caption.text().startswith("one frame"):
        problems.append(f"a one-frame video beside the flow view's {window.flow_view.caption.text()!r}")
    timeline = window.classify.classify_state.timeline
    if timeline is not None and timeline.clips:
        if max(max(clip.frame_indices) for clip in timeline.clips) >= info.frames:
            problems.append(f"a whole-video timeline reaching past the {info.frames} frames of {Path(info.path).name}")
        else:
            problems += [f"timeline: {p}" for p in check_prediction(window, refs, models, info.path, timeline.clips[-1], panel=False)]
    prediction = window.classify.classify_state.prediction
    if prediction is not None:
        problems += check_prediction(window, refs, models, info.path, prediction)
        heat = window.rgb_view.overlay("attention")
        drawn = window.classify.classify_state.overlay.enabled and index in prediction.frame_indices and prediction.attention is not None
        if drawn and heat is None:
            problems.append(f"frame {index} is in the classified clip but its map is not drawn")
    return problems


def check_flow_pixels(window: MainWindow, refs: References, path: str, pair: int) -> list[str]:
    """The flow picture is this pair's flow with the method asked for, computed again from core."""
    shown = window._shown_flow
    if shown.method_used not in FAST_METHODS:
        return []
    with reference_reads():
        frames = analysis_frames(refs.video(path).read_clip([pair, pair + 1]))
        result = compute_flow(frames, shown.method_used, device="cpu")
        images, _radii = render_pairs(result.forward, shown.encoding)
    difference = np.abs(images[0].astype(np.int16) - shown.image.astype(np.int16)).mean()
    if images[0].shape != shown.image.shape or difference > 2.0:
        return [f"flow picture of pair {pair} ({shown.method_used}) differs from core's by {difference:.1f} grey levels"]
    return []


def check_prediction(window: MainWindow, refs: References, models: dict[str, object], path: str, prediction, *,  # noqa: ANN001
                     panel: bool = True) -> list[str]:
    """The prediction shown is the current model's, on the open video: run again from core it gives the same answer."""
    from core.models.checkpoint import open_classifier

    model = window.classify.classify_state.model.path
    if model is None:
        return ["a prediction is shown with no model"]
    key = str(model)
    if key not in models:
        with reference_reads():
            models[key] = open_classifier(model, device="cpu")
    classifier = models[key]
    if tuple(prediction.class_names) != tuple(classifier.config.class_names):
        return [f"prediction with classes {prediction.class_names[:3]}... shown for model {Path(key).name}"]
    with reference_reads():
        again = classifier.predict_clip(refs.video(path), prediction.start, attention=False)
    if not np.allclose(again.probabilities, prediction.probabilities, atol=1e-4):
        return [f"prediction of frames {prediction.frame_indices} is not {Path(key).name}'s on {Path(path).name}"]
    label = window.classify_ui.prediction_panel.predicted_label.text()
    if panel and prediction.label not in label:
        return [f"the panel says {label!r} for a prediction of {prediction.label!r}"]
    return []


def unexpected_errors(seen: Observations) -> list[str]:
    return [f"{title}: {message}" for title, message in seen.errors if title not in EXPECTED_ERRORS]


# -- the actions --------------------------------------------------------------------------
class Monkey:
    """Draws user actions from a seeded generator and plays them on ``window``."""

    def __init__(self, qtbot, window: MainWindow, files: MonkeyFiles, seed: int) -> None:  # noqa: ANN001
        self.qtbot, self.window, self.files = qtbot, window, files
        self.rng = np.random.default_rng(seed)
        self.log: list[str] = []
        self.snapshots = 0
        self.actions: list[tuple[float, Callable[[], str]]] = [
            (3, self.open_video), (1, self.open_bad), (1, self.open_dataset_row),
            (4, self.seek_slider), (4, self.key), (2, self.play_pause),
            (2, self.flow_method), (3, self.classify), (1, self.classify_video), (2, self.cancel),
            (2, self.explain), (2, self.toggle_overlay), (1, self.switch_model), (1, self.export_png),
            (1, self.settle), (1, self.overlay_target), (1, self.radius), (1, self.drag_region), (1, self.next_noisy),
            (1, self.select_token), (1, self.bad_model), (1, self.export_clip),
        ]
        self.asked_video: Path | None = None  # the last open asked for, while it is of a good file
        self.asked_model: Path | None = files.models[0]  # likewise the last model chosen
        self.idle_problems: list[str] = []
        self.refs, self.models = References(), {}
        weights = np.array([w for w, _ in self.actions], float)
        self._p = weights / weights.sum()

    def step(self) -> str:
        _w, action = self.actions[self.rng.choice(len(self.actions), p=self._p)]
        text = action()
        self.log.append(text)
        pause = int(self.rng.integers(0, 51)) if self.rng.random() < 0.6 else 0
        if pause:  # else the next action comes in the same turn of the event loop, as a fast typist's would
            self.qtbot.wait(pause)
        return text

    def _pick(self, items):  # noqa: ANN001, ANN202
        return items[int(self.rng.integers(len(items)))]

    def open_video(self) -> str:
        path = self._pick(self.files.videos)
        self.window.open_video(str(path))
        self.asked_video = path
        return f"open {path.name}"

    def open_bad(self) -> str:
        self.window.open_video(str(self.files.bad))
        self.asked_video = None
        return "open bad file"

    def open_dataset_row(self) -> str:
        controller = self.window.dataset.controller
        rows = controller.proxy.rowCount()
        if self.files.dataset is None or rows == 0:
            return "dataset row (none listed)"
        row = int(self.rng.integers(rows))
        self.window.dataset.panel._open_row(controller.proxy.index(row, 0))
        self.asked_video = Path(controller.model.rows[controller.proxy.mapToSource(controller.proxy.index(row, 0)).row()].path)
        return f"dataset row {row}"

    def seek_slider(self) -> str:
        count = self.window.state.frame_count
        target = int(self.rng.integers(max(1, count)))
        self.window.transport.slider.setValue(target)
        return f"slider {target}"

    def key(self) -> str:
        key, modifier = self._pick([(Qt.Key.Key_Right, None), (Qt.Key.Key_Left, None), (Qt.Key.Key_Right, "shift"),
                                    (Qt.Key.Key_Left, "shift"), (Qt.Key.Key_Home, None), (Qt.Key.Key_End, None)])
        modifiers = Qt.KeyboardModifier.ShiftModifier if modifier else Qt.KeyboardModifier.NoModifier
        self.qtbot.keyClick(self.window, key, modifiers)
        return f"key {key.name}{'+shift' if modifier else ''}"

    def play_pause(self) -> str:
        self.qtbot.keyClick(self.window, Qt.Key.Key_Space)
        return "space"

    def flow_method(self) -> str:
        method = self._pick(FAST_METHODS)
        self.window.method_box.setCurrentText(method)
        return f"flow method {method}"

    def classify(self) -> str:
        self.window.classify.classify_clip()
        return "classify clip"

    def classify_video(self) -> str:
        self.window.classify.classify_video()
        return "classify video"

    def cancel(self) -> str:
        self.window.classify.cancel()
        return "cancel"

    def explain(self) -> str:
        prediction = self.window.classify.classify_state.prediction
        if prediction is None:
            return "explain (no prediction)"
        target = int(self.rng.integers(len(prediction.class_names)))
        self.window.classify_ui.explain_class(target)
        return f"explain class {target}"

    def toggle_overlay(self) -> str:
        which = self._pick(["attention", "inconsistency", "warp_error"])
        if which == "attention":
            state = self.window.classify.classify_state
            state.set_overlay(enabled=not state.overlay.enabled)
        else:
            self.window.overlay_actions[which].toggle()
        return f"toggle {which}"

    def switch_model(self) -> str:
        path = self._pick(self.files.models)
        self.window.classify.choose_model(path)
        self.asked_model = path
        return f"model {path.name}"

    def bad_model(self) -> str:
        self.window.classify.choose_model(self.files.bad_model)
        self.asked_model = None
        return "model broken.safetensors"

    def export_clip(self) -> str:
        self.snapshots += 1
        path = self.files.out / f"clip{self.snapshots}.mp4"
        self.window.export.export_clip(str(path))
        return f"export {path.name}"

    def check_last_asked(self) -> list[str]:
        """At idle the window shows the video and uses the model asked for last (when they were good files)."""
        problems = []
        info = self.window.state.info
        if self.asked_video is not None and (info is None or Path(info.path).resolve() != self.asked_video.resolve()):
            problems.append(f"idle with {None if info is None else Path(info.path).name} open, {self.asked_video.name} asked for last")
        model = self.window.classify.classify_state.model
        if self.asked_model is not None and (model.path is None or model.path.resolve() != self.asked_model.resolve()):
            problems.append(f"idle with model {model.path}, {self.asked_model.name} chosen last")
        return problems

    def overlay_target(self) -> str:
        target = self._pick(["rgb", "flow"])
        self.window.overlays.set_target(target)
        return f"quality overlays on {target}"

    def radius(self) -> str:
        value = self._pick([0.0, 0.0, 2.0, 8.0])
        self.window.radius_box.setValue(value)
        return f"radius {value}"

    def drag_region(self) -> str:
        start = int(self.rng.integers(max(1, self.window.state.frame_count)))
        self.window.classify.classify_state.drag_region(start)
        return f"drag region to {start}"

    def next_noisy(self) -> str:
        self.window.next_noisy_action.trigger()
        return "next noisy frame"

    def select_token(self) -> str:
        from viewer.classify.state import TokenSelection

        state = self.window.classify.classify_state
        maps = None if state.prediction is None else state.prediction.attention
        grid = getattr(maps, "grid_shape", None)
        if grid is None:
            return "select token (no maps)"
        tokens = int(np.prod(grid))
        selection = TokenSelection(int(self.rng.integers(tokens)), int(self.rng.integers(tokens)), 0.5, self._pick(["rgb", "flow"]))
        state.set_selection(selection)
        return f"select tokens {selection.rgb_token}/{selection.flow_token} ({selection.query})"

    def settle(self) -> str:
        """The user waits until everything has arrived: the idle invariants hold here too."""
        if self.window.state.playing:
            self.qtbot.keyClick(self.window, Qt.Key.Key_Space)
        wait_idle(self.qtbot, self.window)
        found = check_idle(self.window, self.refs, self.models) + self.check_last_asked()
        self.idle_problems += [f"at idle after {' / '.join(self.log[-6:])}: {p}" for p in found]
        return "settle" + (" (problems)" if found else "")

    def export_png(self) -> str:
        self.snapshots += 1
        path = self.files.out / f"snapshot{self.snapshots}.png"
        self.window.export.export_png(str(path))
        return f"export {path.name}"


def run_monkey(qtbot, window: MainWindow, files: MonkeyFiles, seed: int, steps: int, monkeypatch, *,  # noqa: ANN001
               close_early: bool = False) -> list[str]:
    """Play ``steps`` random actions; the problems found, each with the actions that led to it.  ``close_early``:
    the window is closed with the jobs of the last actions still running (no idle checks)."""
    seen, undo = collect(monkeypatch, window)
    HEARTBEAT.append(Heartbeat())
    monkey = Monkey(qtbot, window, files, seed)
    refs, models = monkey.refs, monkey.models
    problems: list[str] = []
    if files.dataset is not None:
        with qtbot.waitSignal(window.dataset.controller.listed, timeout=IDLE_WAIT_MS):
            window.dataset.open_dataset(str(files.dataset))
    try:
        for _ in range(steps):
            monkey.step()
            problems += [f"after {' / '.join(monkey.log[-6:])}: {p}" for p in check_always(window, refs)] + monkey.idle_problems
            if problems:
                break
        if not problems and not close_early:
            if window.state.playing:
                qtbot.keyClick(window, Qt.Key.Key_Space)
                monkey.log.append("space (end)")
            wait_idle(qtbot, window)
            found = check_idle(window, refs, models) + monkey.check_last_asked()
            problems += [f"at idle after {' / '.join(monkey.log[-6:])}: {p}" for p in found]
        problems += [f"exception: {e}" for e in seen.exceptions]
        problems += [f"Qt warning: {m}" for m in seen.qt_messages]
        problems += [f"error: {e}" for e in unexpected_errors(seen)]
        problems += [f"heavy work: {w}" for w in seen.gui_thread_work]
    finally:
        undo()
        refs.close()
        beat = HEARTBEAT.pop()
        beat.stop()
        limit = float(os.environ.get("MONKEY_MAX_STALL_MS", "0"))
        if limit and beat.longest_ms > limit:  # exploration only (see Heartbeat)
            problems.append(f"the event loop stalled {beat.longest_ms:.0f} ms")
        if os.environ.get("MONKEY_VERBOSE"):
            print(f"\n{len(monkey.log)} actions: " + " / ".join(monkey.log), f"\nerrors: {seen.errors}\nlongest stall {beat.longest_ms:.0f} ms")
    return problems
