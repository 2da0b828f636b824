"""A seeded "monkey": random user actions on the real window, with the viewer's invariants checked after each.

The promise checked is "a viewer that never shows a wrong picture": whatever the
workers are doing, the frame, the flow, the heat maps and the captions on screen
belong together and to what the user last asked for.  Some of it holds at every
moment (what is shown names itself truthfully); the rest (what is shown is what
was asked for last) holds once the window is idle, and is checked only then, so
the test never waits on the clock.  The invariants are in ``monkey_checks``, what else is
watched (exceptions, warnings, GUI-thread work) in ``monkey_watch``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt

from monkey_checks import FAST_METHODS, IDLE_WAIT_MS, References, check_always, check_idle, wait_idle
from monkey_watch import HEARTBEAT, Heartbeat, collect, unexpected_errors
from viewer.main_window import MainWindow


@dataclass(frozen=True)
class MonkeyFiles:
    """What the monkey opens: two videos, a frame folder, a bad file, two models, a listed dataset."""

    videos: tuple[Path, ...]
    bad: Path
    models: tuple[Path, ...]
    bad_model: Path
    dataset: Path | None
    out: Path


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
