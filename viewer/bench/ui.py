"""``bench ui``: how long does the GUI thread stall while the viewer works?

The real :class:`~viewer.main_window.MainWindow` opens offscreen on a video
(the bundled sample by default) with a fresh flow cache and fresh settings.  A
heartbeat ``QTimer`` fires every few milliseconds on the GUI thread; a beat that
comes late means the GUI thread was busy (our own code on it) or could not get
the GIL (a worker holding it).  Each scenario records the gaps between beats:

* ``idle``: the window with the video open, nothing running (the baseline, in the same run);
* ``flow <method>``: a cold flow cache, the current frame's neighbourhood and the whole-video scan;
* ``classify clip`` / ``classify video``: the classify feature's clip (attention on) and sliding windows;
* ``tvl1 view + scan jobs``: a TV-L1 view job and a TV-L1 scan in the workers at once, with the
  thread budget and without (:mod:`viewer.bench.ui_overlap`; ``--only-overlap`` runs just this);
* ``scrub``: the slider dragged 3 frames every 16 ms, the mouse moving over the RGB view, every layer on
  (quality overlays, the model's heat maps, flow arrows, the cross-stream matrix in view, a linked 2x zoom,
  the cursor readout);
* ``play``: playback with the same layers on.

The table gives the longest stall beyond the beat interval and the 99th
percentile gap against the 16 ms target (one frame at 60 Hz).  Stalls of the
idle baseline are the machine's own (other processes); compare against it.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

TARGET_MS = 16.0


def _readable_video(text: str) -> str:
    """An argparse type: a video that opens (a missing or unreadable one is one error line before any window)."""
    from core.video import open_video

    with open_video(text):
        return text


def _readable_checkpoint(text: str) -> str:
    """An argparse type: a checkpoint this program reads (a bad one was timed as the stand-in model under its name)."""
    from core.models.checkpoint import read_checkpoint_info

    read_checkpoint_info(text)
    return text


def _flow_methods(text: str) -> str:
    from core.bench.timing import flow_methods

    return ",".join(flow_methods(text, "--flow-methods"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from core.cli import non_negative_int, positive_float

    parser.set_defaults(runs_qt=True)  # SIGTERM is left to Qt: raised in a slot it would be printed and the loop go on
    parser.add_argument("--video", metavar="PATH", type=_readable_video, default=None, help="video to open (default: the bundled sample)")
    parser.add_argument("--checkpoint", metavar="PATH", type=_readable_checkpoint, default=None,
                        help="model to classify with (default: the bundled demo model; a random tiny model stands in when it is missing)")
    parser.add_argument("--flow-methods", type=_flow_methods, default="dis,tvl1", help="comma-separated flow methods to scan the video with (default dis,tvl1)")
    parser.add_argument("--interval-ms", type=positive_float, default=4.0, help="heartbeat interval (default 4 ms)")
    parser.add_argument("--idle-s", type=positive_float, default=3.0, help="length of the idle baseline (default 3 s)")
    parser.add_argument("--interact-s", type=positive_float, default=4.0, help="length of the scrub and play scenarios (default 4 s)")
    parser.add_argument("--limit-s", type=positive_float, default=30.0, help="longest a compute scenario is measured before it is cancelled (default 30 s)")
    parser.add_argument("--show", action="store_true", help="use the real display instead of offscreen")
    parser.add_argument("--switch-interval-ms", type=positive_float, default=None, help="override the app's GIL switch interval (Python's default is 5 ms) to compare")
    parser.add_argument("--worker-nice", type=int, default=None, help="override the app's worker-thread niceness (0: as nice as the GUI thread) to compare")
    parser.add_argument("--only-overlap", action="store_true", help="only the idle baseline and the TV-L1 view + scan overlap (with and without the thread budget)")
    parser.add_argument("--overlap-busy", type=non_negative_int, default=0, metavar="N", help="N processes spinning on a core each during the overlap rows (other work on the machine; default 0)")
    parser.add_argument("--explain", action="store_true", help="sample every thread's stack during stalls and print what the GUI thread and the workers were doing")


@dataclass
class Beats:
    """Heartbeat times of one scenario and what they say."""

    scenario: str
    times_s: list[float]
    interval_ms: float
    seconds: float
    work: str

    @property
    def gaps_ms(self) -> Any:
        import numpy as np

        return np.diff(np.asarray(self.times_s)) * 1000.0

    @property
    def longest_stall_ms(self) -> float:
        gaps = self.gaps_ms
        return float(max(0.0, gaps.max() - self.interval_ms)) if len(gaps) else float("nan")

    @property
    def p99_gap_ms(self) -> float:
        import numpy as np

        gaps = self.gaps_ms
        return float(np.percentile(gaps, 99)) if len(gaps) else float("nan")

    @property
    def stalls_over_target(self) -> int:
        return int(((self.gaps_ms - self.interval_ms) > TARGET_MS).sum())


class Heartbeat:
    """A precise repeating timer on the GUI thread that records when it actually fires."""

    def __init__(self, interval_ms: float, explainer: "StallSampler | None" = None) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.interval_ms = interval_ms
        self.times: list[float] = []
        self.running = False
        self.explainer = explainer
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(max(1, int(round(interval_ms))))
        self.timer.timeout.connect(lambda: self.times.append(time.perf_counter()))

    def start(self, scenario: str = "") -> None:
        self.times = [time.perf_counter()]
        self.running = True
        self.timer.start()
        if self.explainer is not None:
            self.explainer.watch(self, scenario)

    def stop(self) -> list[float]:
        self.timer.stop()
        self.running = False
        self.times.append(time.perf_counter())
        return self.times


_THREAD_LINE = re.compile(r"^(?:Current thread|Thread) (0x[0-9a-fA-F]+)")
_CALL_LINE = re.compile(r'^\s+File "(.*)", line (\d+) in (.+)$')


class StallSampler:
    """Why did a beat come late?  A daemon thread samples every thread's Python stack every 2 ms
    while the heartbeat is overdue, and reads the GUI thread's scheduler statistics
    (Linux ``/proc/self/task/TID/schedstat``: time on a CPU, time waiting for one), so each
    stall splits into: the GUI thread *running* (our code, painting), *waiting for a CPU*
    (more runnable threads than cores: the OS), and *blocked* (neither: waiting for the GIL
    or another lock while a worker runs Python).  Only blocked time would go away by moving
    compute to another process.  The sampler itself needs the GIL briefly: use it to explain,
    not to time."""

    def __init__(self, threshold_ms: float = TARGET_MS) -> None:
        import collections
        import threading

        self.threshold_ms = threshold_ms
        self.gui_id = threading.main_thread().ident
        self._stat = Path(f"/proc/self/task/{threading.main_thread().native_id}/schedstat")
        self.gui: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.workers: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.stalls: dict[str, int] = collections.Counter()
        self.split_ms: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])  # stalled, running, CPU wait, blocked
        self._readings: collections.deque = collections.deque(maxlen=256)
        self._heart: Heartbeat | None = None
        self._scenario = ""
        self._stop = threading.Event()
        self._dump = tempfile.TemporaryFile()  # faulthandler writes to a file descriptor
        self._thread = threading.Thread(target=self._run, name="stall-sampler", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop sampling (the thread ends within a sample period)."""
        self._stop.set()
        self._thread.join(timeout=2)
        if not self._thread.is_alive():
            self._dump.close()

    def watch(self, heart: Heartbeat, scenario: str) -> None:
        self._heart, self._scenario = heart, scenario

    def _stacks(self) -> dict[int, list[str]]:
        """Every thread's stack, innermost call first, as ``func (file:line)``.

        Read through ``faulthandler``, which walks the interpreter's frames in C without
        creating frame objects: ``sys._current_frames()`` materialises another thread's
        frames, and on Python 3.11 that thread can then crash tearing them down (the test
        suite died of a segfault in the GUI thread while this sampler walked it)."""
        import faulthandler

        self._dump.seek(0)
        self._dump.truncate()
        faulthandler.dump_traceback(self._dump, all_threads=True)
        self._dump.seek(0)
        stacks: dict[int, list[str]] = {}
        current: list[str] | None = None
        for line in self._dump.read().decode("utf-8", "replace").splitlines():
            head = _THREAD_LINE.match(line)
            if head:
                current = stacks.setdefault(int(head.group(1), 16), [])
                continue
            call = _CALL_LINE.match(line)
            if call and current is not None:
                current.append(f"{call.group(3)} ({Path(call.group(1)).name}:{call.group(2)})")
        return stacks

    def _schedstat(self) -> tuple[float, float] | None:
        """The GUI thread's (seconds on a CPU, seconds runnable but waiting for one) so far."""
        try:
            run_ns, wait_ns = self._stat.read_text().split()[:2]
        except (OSError, ValueError):
            return None
        return int(run_ns) / 1e9, int(wait_ns) / 1e9

    def _reading_at(self, when: float) -> tuple[float, float, float] | None:
        before = [r for r in self._readings if r[0] <= when]
        return before[-1] if before else (self._readings[0] if self._readings else None)

    def _close(self, scenario: str, start: float, end: float) -> None:
        first, last = self._reading_at(start), self._readings[-1] if self._readings else None
        if first is None or last is None or last[0] <= first[0]:
            return
        span = last[0] - first[0]
        running, waiting = last[1] - first[1], last[2] - first[2]
        split = self.split_ms[scenario]
        split[0] += (end - start) * 1000.0
        for k, value in ((1, running), (2, waiting), (3, max(0.0, span - running - waiting))):
            split[k] += value * 1000.0 * (end - start) / span

    def _run(self) -> None:
        import threading

        me = threading.get_ident()
        stall: tuple[str, float] | None = None  # (scenario, last beat before it)
        while not self._stop.wait(0.002):
            heart = self._heart
            if heart is None or not heart.running or not heart.times:
                stall = None
                continue
            now = time.perf_counter()
            stat = self._schedstat()
            if stat is not None:
                self._readings.append((now, *stat))
            last = heart.times[-1]
            if stall is not None and last != stall[1]:
                self._close(stall[0], stall[1], last)  # a beat came: the stall is over
                stall = None
            if (now - last) * 1000.0 - heart.interval_ms < self.threshold_ms:
                continue
            if stall is None:
                stall = (self._scenario, last)
                self.stalls[self._scenario] += 1
            stacks = self._stacks()
            gui = stacks.get(self.gui_id)
            if gui:
                self.gui[self._scenario][" < ".join(gui[:4])] += 1
            for ident, stack in stacks.items():
                if ident not in (self.gui_id, me) and stack:
                    self.workers[self._scenario][" < ".join(stack[:2])] += 1

    def report(self, top: int = 4) -> str:
        lines = [f"\nWhere the time went during stalls over {self.threshold_ms:g} ms (stacks sampled every 2 ms; "
                 "the GUI thread's time split by the Linux scheduler's statistics):"]
        for scenario, count in self.stalls.items():
            stalled, running, waiting, blocked = self.split_ms[scenario]
            split = (f": {stalled:.0f} ms stalled = {running:.0f} running + {waiting:.0f} waiting for a CPU + {blocked:.0f} blocked (GIL, locks)"
                     if stalled else "")
            lines.append(f"\n{scenario}: {count} stalls{split}")
            for name, counter in (("GUI", self.gui[scenario]), ("worker", self.workers[scenario])):
                for where, n in counter.most_common(top):
                    lines.append(f"  {name:6s} {n:4d}x  {where}")
        return "\n".join(lines)


def wait_until(predicate: Callable[[], bool], timeout_s: float, poll_ms: int = 20) -> bool:
    """Run the event loop until ``predicate()`` or the timeout; True when the predicate held."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    deadline = time.perf_counter() + timeout_s
    poll = QTimer()
    poll.setInterval(poll_ms)

    def check() -> None:
        if predicate() or time.perf_counter() >= deadline:
            loop.quit()

    poll.timeout.connect(check)
    poll.start()
    if not predicate():
        loop.exec()
    poll.stop()
    return predicate()


def measure(heart: Heartbeat, scenario: str, action: Callable[[], Callable[[], bool]], timeout_s: float, describe: Callable[[bool], str]) -> Beats:
    """Start ``action`` (which returns a "done?" predicate) with the heartbeat running; wait for it."""
    heart.start(scenario)
    start = time.perf_counter()
    done = action()
    finished = wait_until(done, timeout_s)
    seconds = time.perf_counter() - start
    times = heart.stop()
    return Beats(scenario, times, heart.interval_ms, seconds, describe(finished))


def standin_checkpoint(folder: Path) -> Path:
    """A random-weight tiny model over the synthetic classes, when the demo model is missing (timing only)."""
    from core.models import build_model, save_checkpoint
    from core.models.transformer.config import TransformerConfig
    from core.synth import SYNTH_CLASSES

    names = [c if isinstance(c, str) else c.name for c in SYNTH_CLASSES]
    config = TransformerConfig.create(backbone="tiny", class_names=names, flow_method="dis")
    return save_checkpoint(folder / "standin.safetensors", build_model(config))


def quiet_offscreen_warnings() -> None:
    """The offscreen platform warns "does not support propagateSizeHints()" on every layout change: noise that
    buries the table.  Every other Qt message still reaches stderr."""
    import sys

    from PySide6.QtCore import qInstallMessageHandler

    def handler(_kind: object, _context: object, message: str) -> None:
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)


def run(args: argparse.Namespace) -> int:
    if not args.show:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        quiet_offscreen_warnings()
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as scratch:
        os.environ["TWOSTREAM_CACHE_DIR"] = str(Path(scratch) / "cache")  # a cold flow cache: the flow is really computed
        os.environ["XDG_CONFIG_HOME"] = str(Path(scratch) / "config")  # default preferences, the user's untouched
        return _run(args, Path(scratch))


def _run(args: argparse.Namespace, scratch: Path) -> int:
    import numpy as np

    from core.bench.timing import format_table
    from core.errors import InputError
    from core.resources import DEMO_CHECKPOINT, SAMPLE_VIDEO
    import sys

    import viewer.jobs as jobs_module
    from viewer.app import create_application
    from viewer.bench.ui_overlap import overlap_rows
    from viewer.jobs import set_worker_niceness
    from viewer.main_window import MainWindow
    from viewer.warmup import freeze_startup_objects

    video = Path(args.video) if args.video else SAMPLE_VIDEO
    if not video.exists():
        raise InputError("video does not exist", video)
    methods = [m.strip() for m in args.flow_methods.split(",") if m.strip()]
    app = create_application()
    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000.0)
    if args.worker_nice is not None:
        set_worker_niceness(args.worker_nice)
    print(f"GIL switch interval {sys.getswitchinterval() * 1000:g} ms, worker threads nice +{jobs_module._worker_niceness}, "
          f"OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', 'unset (spin, then sleep)')}, {os.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} (other processes)")
    window = MainWindow(show_dialogs=False)
    freeze_startup_objects()  # as the app does (viewer.app.run_viewer)
    window.resize(1280, 800)
    window.show()
    explainer = StallSampler() if args.explain else None
    heart = Heartbeat(args.interval_ms, explainer)
    rows: list[Beats] = []
    state = window.state

    def scan_done() -> bool:
        return state.frame_count > 1 and len(state.flow_noise) == state.frame_count - 1 and bool(np.isfinite(state.flow_noise).all())

    def scan_text(finished: bool) -> str:
        known = int(np.isfinite(state.flow_noise).sum())
        return f"{known}/{len(state.flow_noise)} pairs scanned" + ("" if finished else " (limit reached)")

    wait_until(lambda: False, 0.5)  # the window's first paint (start-up) is not part of opening a video

    # (a) open with a cold cache: the first frame, its flow, the whole-video scan
    first_method = methods[0] if methods else "dis"
    window.method_box.setCurrentText(first_method)
    rows.append(measure(heart, f"open + flow {first_method}", lambda: (window.open_video(str(video)), scan_done)[1], args.limit_s, scan_text))
    wait_until(lambda: window.flow.current() is not None, args.limit_s)

    # the baseline: the same window, idle
    rows.append(measure(heart, "idle (baseline)", lambda: (lambda: False), args.idle_s, lambda _f: "nothing running"))
    rows += overlap_rows(window, heart, video, args.limit_s, measure, busy=args.overlap_busy)
    if args.only_overlap:
        return _finish(window, app, rows, explainer, format_table)

    for method in methods[1:]:
        rows.append(measure(heart, f"flow {method}", lambda m=method: (window.method_box.setCurrentText(m), scan_done)[1], args.limit_s, scan_text))
        window.jobs.cancel("flow-scan")
        window.jobs.cancel("flow")
    window.method_box.setCurrentText(first_method)  # back to the cached flow and the kept scan (no job: viewer.scan_memo)
    wait_until(lambda: window.flow.current() is not None and scan_done() and not window.jobs.is_busy("flow-scan"), args.limit_s)

    # (b) classification
    rows += _classify_rows(window, heart, args, scratch, DEMO_CHECKPOINT)

    # (c) scrubbing and playing with every layer on: quality overlays, the model's heat maps (on the classified
    # clip), flow arrows, the cross-stream matrix in view, both views zoomed 2x (linked) and the cursor readout
    layers = _all_layers_on(window)
    wait_until(lambda: False, 0.5)  # the layers' first paint (the matrix raised, the zoom) is turning them on, not scrubbing
    rows.append(measure(heart, f"scrub ({layers})", lambda: _scrub(window, args.interact_s), args.interact_s + 1.0, lambda _f: f"{_scrub.shown} frames shown"))  # type: ignore[attr-defined]
    state.set_frame(0)
    wait_until(lambda: window.video.shown_index == 0, 5.0)
    shown_before = [0]

    def play() -> Callable[[], bool]:
        shown_before[0] = 0
        window.video.frameReady.connect(_count_frames)
        state.set_playing(True)
        end = time.perf_counter() + args.interact_s
        return lambda: not state.playing or time.perf_counter() >= end

    def _count_frames(*_args: object) -> None:
        shown_before[0] += 1
        _hover_somewhere(window, shown_before[0])

    rows.append(measure(heart, f"play ({layers})", play, args.interact_s + 1.0, lambda _f: f"{shown_before[0]} frames shown"))
    state.set_playing(False)
    window.video.frameReady.disconnect(_count_frames)
    from viewer.dataset.bench_rows import dataset_rows  # (d) the dataset panel: list 13,320 videos, scroll the table

    rows += dataset_rows(window, heart, scratch, measure, args.interact_s)
    return _finish(window, app, rows, explainer, format_table)


def _finish(window: Any, app: Any, rows: list["Beats"], explainer: "StallSampler | None", format_table: Callable[..., str]) -> int:
    """Close the window, print the table (and where stalls went, with ``--explain``)."""
    window.close()
    app.processEvents()
    _print_table(rows, format_table)
    if explainer is not None:
        explainer.close()
        print(explainer.report())
    return 0


def _classify_rows(window: Any, heart: Heartbeat, args: argparse.Namespace, scratch: Path, demo: Path) -> list[Beats]:
    classify = getattr(window, "classify", None)
    if classify is None:
        print("(no classify feature in this window: classification not measured)")
        return []
    checkpoint = Path(args.checkpoint) if args.checkpoint else demo
    label = "demo model" if checkpoint == demo else checkpoint.name
    if not checkpoint.exists():
        checkpoint = standin_checkpoint(scratch)
        label = "random tiny stand-in (demo model missing)"
    predictions: list[Any] = []
    timelines: list[Any] = []
    classify.predictionReady.connect(predictions.append)
    classify.timelineReady.connect(timelines.append)
    if classify.checkpoint != checkpoint:  # reloading the model already in use would cancel the first classification
        classify.load_checkpoint(str(checkpoint))
    wait_until(lambda: classify.classify_state.model.ready and classify.checkpoint == checkpoint, args.limit_s)
    rows = []

    def clip() -> Callable[[], bool]:
        classify.classify_clip(window.classify.classify_state.region_start)
        return lambda: bool(predictions) or (not classify.busy and window.notifier.last_error is not None)

    def describe_clip(finished: bool) -> str:
        if not predictions:
            return f"no prediction ({window.notifier.last_error or 'limit reached'}); {label}"
        p = predictions[-1]
        return f"{p.label} {p.probability:.2f}, {label}"

    rows.append(measure(heart, "classify clip", clip, args.limit_s, describe_clip))

    def whole() -> Callable[[], bool]:
        classify.classify_video()
        return lambda: bool(timelines) or (not classify.busy and window.notifier.last_error is not None)

    def describe_video(finished: bool) -> str:
        if not timelines:
            classify.cancel()
            return f"cancelled at the limit; {label}"
        return f"{len(timelines[-1].clips)} windows, {label}"

    rows.append(measure(heart, "classify video", whole, args.limit_s, describe_video))
    return rows


def _all_layers_on(window: Any) -> str:
    """Turn on every layer the views can draw; a short description for the table."""
    window.overlay_actions["inconsistency"].setChecked(True)
    window.overlay_actions["warp_error"].setChecked(True)
    inspect = getattr(window, "inspect_ui", None)
    on = ["quality overlays", "heat maps"]
    if inspect is not None:
        inspect.link_action.setChecked(True)
        inspect.arrows_action.setChecked(True)
        window.rgb_view.view_box.scaleBy((0.5, 0.5))  # zoom in 2x, as a wheel turn would: the flow view follows
        window.rgb_view._range_changed()
        on += ["arrows", "linked 2x zoom", "cursor readout"]
    classify_ui = getattr(window, "classify_ui", None)
    if classify_ui is not None:
        classify_ui.cross_dock.raise_()
        on.append("matrix")
    return ", ".join(on)


def _hover_somewhere(window: Any, step: int) -> None:
    """The mouse over the RGB view, moving: the readout reads pixel, flow and noise there."""
    size = window.rgb_view.image_size()
    if size is not None:
        height, width = size
        window.rgb_view.hovered.emit(float((37 * step) % width), float((23 * step) % height))


def _scrub(window: Any, seconds: float) -> Callable[[], bool]:
    """Move the slider 3 frames every 16 ms (a user dragging it) for ``seconds``, the mouse moving over a view."""
    from PySide6.QtCore import QTimer

    slider = window.transport.slider
    timer = QTimer(window)
    timer.setInterval(16)
    end = time.perf_counter() + seconds
    _scrub.shown = 0  # type: ignore[attr-defined]

    def count(*_a: object) -> None:
        _scrub.shown += 1  # type: ignore[attr-defined]

    window.video.frameReady.connect(count)

    def step() -> None:
        if time.perf_counter() >= end:
            timer.stop()
            window.video.frameReady.disconnect(count)
            return
        slider.setValue((slider.value() + 3) % (slider.maximum() + 1))
        _hover_somewhere(window, slider.value())

    timer.timeout.connect(step)
    timer.start()
    return lambda: not timer.isActive()


def _print_table(rows: list[Beats], format_table: Callable[[list[str], list[list[object]]], str]) -> None:
    baseline = next((r for r in rows if r.scenario.startswith("idle")), None)
    headers = ["scenario", "s", "beats", "longest stall ms", "p99 gap ms", "stalls >16ms", "target ms", "result", "stall vs idle", "work"]
    table = []
    for r in rows:
        ratio = r.longest_stall_ms / max(baseline.longest_stall_ms, 0.1) if baseline is not None else float("nan")
        table.append([
            r.scenario, round(r.seconds, 1), len(r.times_s), r.longest_stall_ms, r.p99_gap_ms, r.stalls_over_target,
            TARGET_MS, "pass" if r.longest_stall_ms <= TARGET_MS else "FAIL", f"{ratio:.2g}x", r.work,
        ])
    print(f"GUI-thread heartbeat every {rows[0].interval_ms:g} ms; a stall is a gap beyond the interval (target: under {TARGET_MS:g} ms)")
    print(format_table(headers, table))
