"""The viewer's invariants, checked against core: what every picture on screen must be at every moment, and what
it must be once the window is idle (the one last asked for)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from core.flow import compute_flow
from core.video import Video, open_video
from monkey_watch import reference_reads
from viewer.flow_chunks import analysis_frames, render_pairs
from viewer.flow_controller import FlowController
from viewer.flow_status import flow_caption
from viewer.main_window import MainWindow
from viewer.staging import turns

IDLE_WAIT_MS = 60000
FAST_METHODS = ("dis", "farneback")


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
