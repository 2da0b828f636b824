"""Classification in the viewer: the loaded checkpoint, clip and whole-video jobs, device choice.

Everything heavy runs in the job runner, the model's loading included: a
clip job ("classify" channel) runs :meth:`core.inference.ClipClassifier.predict_clip`
with attention on the timeline's region; a video job ("classify-video"
channel) slides windows over the whole video and hands each finished batch
over as a partial timeline.  Each channel's newest request wins, and both
jobs pass their cancel token down to the classifier, so flow and the loop
over clips stop at the next step.  Cancel takes effect in the window at once
(a stale result is never shown) even while a long backbone call finishes.

Loading a checkpoint happens in a worker too; a bad file is reported through
the notifier and the previous model stays.  On CUDA an out-of-memory error
reruns the work on the CPU and says so.
"""

from __future__ import annotations

import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from core.inference import ClipClassifier, Prediction, VideoPrediction, aggregate_predictions
from core.models import registry
from core.models.checkpoint import open_classifier
from core.sampling import sliding_window_starts
from core.video import Video
from viewer.classify.state import ClassifyState, ModelStatus
from viewer.jobs import JobRunner
from viewer.notifier import Notifier
from viewer.open_video import OpenVideo
from viewer.state import ViewerState

CLIP_CHANNEL = "classify"
VIDEO_CHANNEL = "classify-video"
MODEL_CHANNEL = "classify-model"
WARM_CHANNEL = "classify-warm"
CPU, CUDA = "cpu", "cuda"

ClassifierLoader = Callable[[Path, str], ClipClassifier]


def default_loader(path: Path, device: str) -> ClipClassifier:
    """The checkpoint's classifier; on CUDA its backbones are compiled by the warm-up job (clicks run eager until then)."""
    return open_classifier(path, device=device, compile_backbones="auto")


def available_device_names() -> list[str]:
    """The choices of the device box: the CPU always, CUDA when torch sees a GPU."""
    import torch

    return [CPU, CUDA] if torch.cuda.is_available() else [CPU]


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA ran out of memory (torch raises its own subclass, older paths a RuntimeError)."""
    import torch

    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


@dataclass(frozen=True)
class ClassifyRun:
    """What one classification job did: for the status bar and the notices."""

    kind: str  # "clip" or "video"
    requested_device: str
    device: str  # where it finally ran
    cuda_out_of_memory: bool
    seconds: float
    load_ms: float  # time spent loading the model in this job (0 when it was loaded already)
    result: Prediction | VideoPrediction


class ModelHolder:
    """The loaded classifier, shared by the jobs: loads on first use, keeps one model.

    Thread-safe: jobs on different channels may ask at the same time; the
    file's size and modification time are part of the key, so a checkpoint
    rewritten on disk is loaded again.
    """

    def __init__(self, loader: ClassifierLoader = default_loader) -> None:
        self.loader = loader
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._classifier: ClipClassifier | None = None

    @staticmethod
    def _key_of(path: Path, device: str) -> tuple[Any, ...]:
        stat = path.stat() if path.exists() else None
        return (str(path), device, stat.st_size if stat else -1, stat.st_mtime_ns if stat else -1)

    def get(self, path: Path, device: str) -> tuple[ClipClassifier, float]:
        """The classifier for ``path`` on ``device`` and the milliseconds spent loading it now."""
        key = self._key_of(path, device)
        with self._lock:
            if self._key == key and self._classifier is not None:
                return self._classifier, 0.0
            start = time.perf_counter()
            classifier = self.loader(path, device)  # raises CheckpointError: the old model stays
            warm_up = getattr(classifier, "warm_up", None)  # test doubles may have none
            if device == CUDA and callable(warm_up):
                warm_up(compiling=False)  # CUDA's first call (context, kernel choice) costs seconds: paid here, once
            self._key, self._classifier = key, classifier
            return classifier, (time.perf_counter() - start) * 1000.0

    def release(self) -> None:
        """Drop the model (before a CPU rerun after CUDA ran out of memory)."""
        with self._lock:
            self._key, self._classifier = None, None


def starting_checkpoint() -> Path | None:
    """The model a window starts with: the one chosen last (when its file is still there), else the
    first bundled demo there is, else the default family's demo (which the panel says is missing)."""
    from viewer import settings as app_settings

    chosen = app_settings.chosen_checkpoint()
    if chosen and Path(chosen).is_file():
        return Path(chosen)
    demos = registry.demo_checkpoints()
    if demos:
        return next(iter(demos.values()))
    return registry.family(registry.default_family()).demo_checkpoint


def stands_in(start: Path | None) -> bool:
    """Whether ``start`` (from :func:`starting_checkpoint`) stands in for a model chosen before whose file is missing
    at this start (a drive not mounted): used for now, but not recorded as the choice, or the choice is lost for good."""
    from viewer import settings as app_settings

    chosen = app_settings.chosen_checkpoint()
    return start is not None and chosen is not None and str(start.expanduser().absolute()) != chosen


def is_bundled_demo(path: Path) -> bool:
    """Whether ``path`` is some family's bundled demo (the panel then says the demo is missing)."""
    return any(record.demo_checkpoint == path for record in registry.families())


def compile_notice(name: str, compile_ms: float, problem: str | None) -> str:
    """One line on the warm-up job's compiling: done in how long, or why the backbones stay eager."""
    if problem:
        return f"{name} runs uncompiled (as fast as before, no faster): {problem}"
    return f"{name}: backbones compiled in {compile_ms / 1000:.0f} s; clips run compiled from now on"


def video_prediction(clips: list[Prediction], top: int = 5) -> VideoPrediction:
    """Windows so far as one video-level result: the mean of the clips' softmax."""
    return aggregate_predictions(clips, top)


class ClassifyController(QObject):
    predictionReady = Signal(object)  # core.inference.Prediction of the region's clip, attention included
    timelineReady = Signal(object)  # core.inference.VideoPrediction of the sliding windows
    busyChanged = Signal(bool)
    progressChanged = Signal(int, int, str)
    runFinished = Signal(object)  # ClassifyRun
    deviceChanged = Signal(str)
    checkpointFailed = Signal(str)  # a checkpoint the user asked for could not be loaded (the old model stays)
    notice = Signal(str)  # a visible notice (CUDA ran out of memory, ...); empty clears it

    def __init__(self, state: ViewerState, jobs: JobRunner, notifier: Notifier, parent: QObject | None = None, *, checkpoint: Path | None = None) -> None:
        super().__init__(parent)
        self.state, self.jobs, self.notifier = state, jobs, notifier
        self.classify_state = ClassifyState(self)
        self.holder = ModelHolder()
        self._open: OpenVideo | None = None  # the video and the decoders each job leases (playback keeps the video's own)
        self.device = available_device_names()[-1]  # CUDA when present
        self.last_run: ClassifyRun | None = None
        self._busy: set[str] = set()
        self._explain_job: int | None = None  # the job explaining another class of the shown prediction, if any
        state.frameChanged.connect(self.classify_state.follow)
        if checkpoint is not None:
            self._read_model_info(Path(checkpoint))
        else:
            start = starting_checkpoint()
            self._read_model_info(start, chosen=not stands_in(start))

    # -- inputs ------------------------------------------------------------------------
    @property
    def loader(self) -> ClassifierLoader:
        return self.holder.loader

    @loader.setter
    def loader(self, loader: ClassifierLoader) -> None:
        """Replace how checkpoints become classifiers (tests inject a flow engine or a fake device)."""
        self.holder.loader = loader
        self.holder.release()

    @property
    def video(self) -> Video | None:
        """The open video (``None`` with none), from :meth:`set_video`'s :class:`OpenVideo`."""
        return None if self._open is None else self._open.video

    def set_video(self, opened: OpenVideo | None) -> None:
        self.cancel()
        self.progressChanged.emit(0, 1, "")  # "clip frames 0-15 done ..." was about the last video
        self._open = opened
        video = self.video
        self.classify_state.set_frame_count(len(video) if video is not None else 0)
        self.classify_state.follow(self.state.frame_index)

    def set_device(self, device: str) -> None:
        device = str(device).lower()
        if device not in available_device_names():
            self.notifier.error("Device", f"device {device!r} is not available here (choose one of {', '.join(available_device_names())})")
            return
        if device != self.device:
            self.device = device
            self.deviceChanged.emit(device)
            self.warm_up()

    @property
    def checkpoint(self) -> Path | None:
        return self.classify_state.model.path if self.classify_state.model.ready else None

    @property
    def busy(self) -> bool:
        return bool(self._busy)

    # -- the model -----------------------------------------------------------------------
    def _read_model_info(self, path: Path | None, *, chosen: bool = True) -> None:
        """Read the checkpoint's config (header only) in a worker; the weights load with the first job.  ``chosen``:
        see :attr:`ModelStatus.chosen`."""
        if path is None:
            problem = "no bundled demo model: load a checkpoint with File > Load checkpoint... (classification is unavailable until then)"
            self.classify_state.set_model(ModelStatus(path=None, problem=problem))
            return
        if not path.exists():
            where = "the bundled demo model" if is_bundled_demo(path) else "the checkpoint"
            problem = f"{where} {path} is missing: load a checkpoint with File > Load checkpoint... (classification is unavailable until then)"
            self.classify_state.set_model(ModelStatus(path=None, problem=problem))
            return
        self.classify_state.set_model(ModelStatus(path=path, chosen=chosen))  # usable at once; the config follows

        def work(cancel, progress):  # noqa: ANN001 - the JobFunction signature
            from core.models.checkpoint import read_checkpoint_info

            return read_checkpoint_info(path).config

        def failed(error: BaseException, trace: str) -> None:
            self.classify_state.set_model(ModelStatus(path=None, problem=f"cannot use the checkpoint: {error}"))
            self.notifier.error("Cannot read the checkpoint", error, trace)

        def read(config: object) -> None:
            self.classify_state.set_model(ModelStatus(path=path, config=config, chosen=chosen))  # type: ignore[arg-type]
            self.warm_up()

        self.jobs.submit(MODEL_CHANNEL, work, read, on_error=failed)

    def warm_up(self) -> int:
        """Load the chosen model in a worker now (on CUDA also run one made-up clip through it), so the
        user's first classification costs what the next ones do.  On a CPU loading ahead also keeps the
        load's Python work (building the modules, holding the GIL) away from the first click, where it
        slowed the window's repaints 3-6x.  Returns the job id (-1: none)."""
        path = self.checkpoint
        if path is None:
            return -1
        holder, device = self.holder, self.device

        def work(cancel, progress):  # noqa: ANN001
            classifier, load_ms = holder.get(path, device)
            if not getattr(classifier, "compile_pending", False):
                return load_ms, None
            progress(0, 1, f"compiling {path.name}'s backbones (clips run uncompiled meanwhile; minutes the first time)")
            compile_ms = classifier.prepare_compiled()
            return load_ms, (compile_ms, classifier.compile_problem)

        def warmed(result: tuple[float, Any]) -> None:
            load_ms, compiled = result
            if load_ms > 0:
                what = "loaded and warmed up" if device == CUDA else "loaded"
                self.notifier.notice(f"{path.name} {what} on {device} in {load_ms / 1000:.1f} s")
            if compiled is not None:
                self.notifier.notice(compile_notice(path.name, *compiled))

        def failed(error: BaseException, _trace: str) -> None:  # the first classification reports it in full
            self.notifier.notice(f"could not prepare {path.name} on {device}: {error}")

        return self.jobs.submit(WARM_CHANNEL, work, warmed, on_error=failed, on_progress=lambda _done, _total, text: self.notifier.notice(text))

    def choose_model(self, path: str | Path) -> None:
        """The user picked ``path`` in the chooser: load it, or, when it is the model in use, keep it and drop
        a load of another model still in progress (the last pick wins)."""
        current = self.classify_state.model.path
        if current is not None and Path(path).expanduser().absolute() == current.expanduser().absolute():
            if self.jobs.is_busy(MODEL_CHANNEL):
                self.jobs.cancel(MODEL_CHANNEL)
                self.notifier.notice(f"Kept {current.name}")
            return
        self.load_checkpoint(path)

    def load_checkpoint(self, path: str | Path) -> None:
        """Load ``path`` fully in a worker; on success it replaces the model, on failure the old one stays."""
        path = Path(path).expanduser()
        holder, device = self.holder, self.device
        self.notifier.notice(f"Loading checkpoint {path} ...")

        def work(cancel, progress):  # noqa: ANN001
            classifier, _ms = holder.get(path, device)
            return classifier.config

        def loaded(config: object) -> None:
            self.cancel()
            self.classify_state.set_model(ModelStatus(path=path, config=config))  # type: ignore[arg-type]
            self.classify_state.set_prediction(None)
            self.classify_state.set_timeline(None)
            self.notifier.notice(f"Loaded checkpoint {path.name}")

        def failed(error: BaseException, trace: str) -> None:
            self.notifier.error("Cannot load checkpoint", error, trace)
            self.checkpointFailed.emit(str(path))

        self.jobs.submit(MODEL_CHANNEL, work, loaded, on_error=failed)

    # -- classification ---------------------------------------------------------------------
    def _ready(self) -> tuple[Path, Video] | None:
        status = self.classify_state.model
        if not status.ready or status.path is None:
            self.notifier.error("Cannot classify", status.problem or "no model is loaded")
            return None
        if self.video is None:
            self.notifier.error("Cannot classify", "open a video first")
            return None
        return status.path, self.video

    def classify_clip(self, start: int | None = None) -> int:
        """Classify the clip starting at ``start`` (default: the timeline's region), attention included."""
        ready = self._ready()
        if ready is None:
            return -1
        path, video = ready
        if start is None:
            start = self.classify_state.region_start
        start = min(max(0, int(start)), max(0, len(video) - 1))
        holder, device, readers = self.holder, self.device, self._open.readers

        def work(cancel, progress):  # noqa: ANN001
            def run_on(dev: str) -> tuple[Prediction, float]:
                classifier, load_ms = holder.get(path, dev)
                with readers.lease("classify") as reader:
                    return classifier.predict_clip(reader, start, attention=True, cancel=cancel, progress=progress), load_ms

            began = time.perf_counter()
            (prediction, load_ms), used, oom = _with_cpu_fallback(run_on, device, holder)
            return ClassifyRun("clip", device, used, oom, time.perf_counter() - began, load_ms, prediction)

        return self._submit(CLIP_CHANNEL, work, f"classifying frames {start}-{start + self.classify_state.span - 1}")

    def explain_class(self, class_index: int) -> int:
        """Explain the shown prediction for ``class_index`` instead of its top class: the same clip
        through the model again (relevance needs the class's gradient, a CAM its class weights),
        a job on the clip channel with progress.  Returns the job id, -1 when nothing was started."""
        prediction = self.classify_state.prediction
        if prediction is None:
            self.notifier.error("Cannot explain", "classify a clip first")
            return -1
        class_index = int(class_index)
        if not 0 <= class_index < len(prediction.class_names):
            self.notifier.error("Cannot explain", f"class {class_index} is not one of the model's {len(prediction.class_names)} classes")
            return -1
        maps = prediction.attention
        if maps is not None and int(maps.target_class) == class_index:
            self._drop_explaining()  # picked back while another class was being explained: the last pick wins
            return -1  # already explained
        ready = self._ready()
        if ready is None:
            return -1
        path, video = ready
        start, holder, device, readers = prediction.start, self.holder, self.device, self._open.readers

        def work(cancel, progress):  # noqa: ANN001
            def run_on(dev: str) -> tuple[Prediction, float]:
                classifier, load_ms = holder.get(path, dev)
                with readers.lease("classify") as reader:
                    explained = classifier.predict_clip(reader, start, attention=True, target_class=class_index, cancel=cancel, progress=progress)
                return explained, load_ms

            began = time.perf_counter()
            (explained, load_ms), used, oom = _with_cpu_fallback(run_on, device, holder)
            return ClassifyRun("clip", device, used, oom, time.perf_counter() - began, load_ms, explained)

        name = prediction.class_names[class_index]
        self._explain_job = self._submit(CLIP_CHANNEL, work, f"explaining {name} on frames {prediction.frame_indices[0]}-{prediction.frame_indices[-1]}")
        return self._explain_job

    def _drop_explaining(self) -> None:
        """Cancel the pass explaining another class, when one is the clip channel's job (not a new classification)."""
        if self._explain_job is not None and self.jobs.current(CLIP_CHANNEL) == self._explain_job:
            self.jobs.cancel(CLIP_CHANNEL)
            self._idle(CLIP_CHANNEL)
            self.progressChanged.emit(0, 0, "cancelled")
        self._explain_job = None

    def classify_video(self, step: int | None = None) -> int:
        """Sliding windows over the whole video (``step`` frames apart, default one clip span)."""
        ready = self._ready()
        if ready is None:
            return -1
        path, video = ready
        holder, device, readers = self.holder, self.device, self._open.readers

        def work(cancel, progress):  # noqa: ANN001
            with readers.lease("classify-video") as video_reader:  # read once in order, wherever the user is
                return windows(video_reader, cancel, progress)

        def windows(video_reader: Video, cancel, progress) -> ClassifyRun:  # noqa: ANN001
            began = time.perf_counter()
            classifier, load_ms = holder.get(path, device)
            config = classifier.config
            starts = sliding_window_starts(len(video), config.clip_length, config.frame_stride, step)
            clips: list[Prediction] = []
            used, oom = device, False
            while len(clips) < len(starts):  # one pass over the video; after CUDA runs out of memory, the rest on the CPU
                done = len(clips)

                def window_progress(i: int, _total: int, message: str = "", _done: int = done) -> None:
                    progress(_done + i, len(starts), f"window {_done + i + 1}/{len(starts)}: {message}")

                out_of_memory = False
                try:
                    with closing(classifier.iter_clips(video_reader, starts[done:], cancel=cancel, progress=window_progress)) as batches:
                        for part in batches:
                            clips.extend(part)
                            progress(len(clips), len(starts), f"{len(clips)}/{len(starts)} windows", partial=video_prediction(clips))
                except Exception as error:  # noqa: BLE001 - only out-of-memory is handled here
                    if used == CPU or not is_out_of_memory(error):
                        raise
                    out_of_memory = True
                if out_of_memory:  # outside the handler, whose traceback holds the failed pass's CUDA tensors
                    used, oom, classifier = CPU, True, None
                    _free_cuda(holder)
                    classifier, ms = holder.get(path, CPU)
                    load_ms += ms
            return ClassifyRun("video", device, used, oom, time.perf_counter() - began, load_ms, video_prediction(clips))

        return self._submit(VIDEO_CHANNEL, work, "classifying the whole video", on_partial=self.classify_state.set_timeline)

    def cancel(self) -> None:
        """Stop both kinds of job; their results, if any arrive, are dropped."""
        was_busy = self.busy
        for channel in (CLIP_CHANNEL, VIDEO_CHANNEL):
            self.jobs.cancel(channel)
        self._busy.clear()
        if was_busy:
            self.progressChanged.emit(0, 0, "cancelled")
            self.busyChanged.emit(False)

    # -- job plumbing --------------------------------------------------------------------------
    def _submit(self, channel: str, work: Callable[..., ClassifyRun], message: str, on_partial: Callable[[Any], None] | None = None) -> int:
        was_busy = self.busy
        self._busy.add(channel)
        job_id = self.jobs.submit(
            channel,
            work,
            lambda run: self._finished(channel, run),
            on_error=lambda e, t: self._failed(channel, e, t),
            on_progress=self.progressChanged.emit,
            on_cancelled=lambda: self._stopped(channel),
            on_partial=on_partial,
        )
        if job_id < 0:  # the window is closing
            self._busy.discard(channel)
            return job_id
        self.progressChanged.emit(0, 1, message)
        if not was_busy:
            self.busyChanged.emit(True)
        return job_id

    def _idle(self, channel: str) -> None:
        was_busy = self.busy
        self._busy.discard(channel)
        if was_busy and not self.busy:
            self.busyChanged.emit(False)

    def _finished(self, channel: str, run: ClassifyRun) -> None:
        self.last_run = run
        if run.cuda_out_of_memory:
            self.notice.emit("CUDA ran out of memory: this run was repeated on the CPU (the device choice stays CUDA)")
            self.notifier.notice("CUDA ran out of memory; the classification ran on the CPU instead")
        else:
            self.notice.emit("")
        if isinstance(run.result, Prediction):
            self.classify_state.set_prediction(run.result)
            self.predictionReady.emit(run.result)
        else:
            self.classify_state.set_timeline(run.result)
            self.timelineReady.emit(run.result)
        self.runFinished.emit(run)
        self.progressChanged.emit(1, 1, f"{run_name(run)} done in {run.seconds:.2f} s on {run.device}")
        self._idle(channel)

    def _failed(self, channel: str, error: BaseException, trace: str) -> None:
        self._idle(channel)
        self.progressChanged.emit(0, 0, "failed")
        self.notifier.error("Classification failed", error, trace)

    def _stopped(self, channel: str) -> None:
        self._idle(channel)


def run_name(run: ClassifyRun) -> str:
    """Which run a "done in" line is about: the clip's frames, or the whole video's windows (both
    kinds share the panel's status line, and a video run finishing after a clip run must not
    read as the clip's time)."""
    if isinstance(run.result, Prediction):
        frames = run.result.frame_indices
        return f"clip frames {frames[0]}-{frames[-1]}"
    return f"whole video ({len(run.result.clips)} windows)"


def _with_cpu_fallback(run_on: Callable[[str], Any], device: str, holder: ModelHolder) -> tuple[Any, str, bool]:
    """``run_on(device)``; when CUDA runs out of memory, free it and ``run_on("cpu")``.

    Returns the result, the device it ran on, and whether CUDA ran out of memory.
    """
    try:
        return run_on(device), device, False
    except Exception as error:  # noqa: BLE001 - only out-of-memory is handled here
        if device == CPU or not is_out_of_memory(error):
            raise
    _free_cuda(holder)
    return run_on(CPU), CPU, True


def _free_cuda(holder: ModelHolder) -> None:
    """Drop the held model and CUDA's cached blocks after it ran out of memory."""
    holder.release()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
