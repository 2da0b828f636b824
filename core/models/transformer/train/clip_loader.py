"""Clips prepared ahead of the backbones: each video's missing clips decoded, cropped and (on the CPU) flowed by workers.

Why: extraction alternates CPU work (decode, crop, DIS/Farneback flow, colour
rendering) with backbone batches; done one after the other, the device waits
for the decoder and the decoder for the device.  Here a
:class:`torch.utils.data.DataLoader` of ``workers`` processes prepares whole
videos (one item each, in order, at most ``PREFETCH`` per worker ahead, so
memory stays small) while the caller runs the backbones on the ones before.
``workers=0`` prepares in the calling process, as before.

A video's centre-view clips come from
:func:`core.models.transformer.inputs.prepare_clip_inputs`: every frame read
and cropped once, every DIS/Farneback pair computed once; other views (corner
crops, flips) and clips missing only one stream take
:func:`~core.models.transformer.inputs.prepare_clip_input`, each from the
video's own frame cache.  Both give exactly the arrays the one-clip path gives.

Flow that needs the device (RAFT, or TV-L1 on CUDA) is not computed in the
workers: they hand over the cropped T+1 frames and the calling process computes
it, with :func:`flow_images` one engine call per clip, or with
:func:`flows_images` the clips of several videos in one call (the extractor's
``flow_batch``: RAFT's pairs of all of them updated side by side on a GPU).
On a CPU batching gains nothing (raft-small, six 17-frame clips in one call,
a junk pair between clips: bitwise the same flow, 0.92x as fast), so the
extractor batches there only when asked; on CUDA its speed is unmeasured.

Workers are forked (the flow backend holds closures that do not pickle); where
``fork`` is missing the clips are prepared in process.  A worker's error comes
back with its video (:attr:`PreparedVideo.error`), so one bad file never stops
the others.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import pickle
import signal
import sys
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from core.errors import Cancelled, CoreError, InputError
from core.inference.flow_backend import FlowBackend
from core.models.transformer.config import TransformerConfig
from core.models.transformer.layout import FLOW, RGB
from core.progress import CancelToken, check

MAX_DEFAULT_WORKERS = 4
PREFETCH = 2  # videos per worker prepared ahead of the backbones
CPU_FLOWS = ("dis", "farneback")  # OpenCV methods: CPU whatever the device


def default_workers(device: torch.device) -> int:
    """``min(4, cores)`` when the backbones run on CUDA, 0 on a CPU (``--extract-workers`` overrides it).

    Why 0 on a CPU: the backbones and the in-process preparation already use
    every core, and workers only compete with them for it.  On 2 cores, tiny
    backbone + DIS, 112 px, 4 and 8 videos: 1 worker 0.71x and 0.72x, 2
    workers 0.89x and 0.86x of the in-process rate (``bench extract``); only
    beside other busy processes did workers win (1.58x with 2), by taking a
    larger share of the machine.  On CUDA the CPU preparation is what the
    device waits for.
    """
    if device.type != "cuda":
        return 0
    from core.thread_budget import available_cores

    return min(MAX_DEFAULT_WORKERS, available_cores())


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def flow_runs_in_workers(method: str, device: torch.device) -> bool:
    """Whether a worker process may compute this flow: OpenCV methods always, others only for a CPU run."""
    from core.flow.engine import normalize_method

    return normalize_method(method) in CPU_FLOWS or device.type == "cpu"


@dataclass(frozen=True)
class ClipWant:
    """One clip view of a video still to compute, and which streams of it."""

    ordinal: int
    view: int
    streams: tuple[str, ...]


@dataclass(frozen=True)
class VideoJob:
    """A video's clip views still to compute (``position``: its place in the caller's list)."""

    position: int
    path: Path
    wants: tuple[ClipWant, ...]
    segment: tuple[float, float] | None = None  # the sample's annotated seconds (see core.video.segment)


@dataclass
class PreparedClip:
    """One clip view, uint8: ``rgb`` and ``flow`` (colour images) ``(T, S, S, 3)``, or ``flow_frames``
    (the cropped T+1 frames) when the flow is left to the caller."""

    want: ClipWant
    start: int
    rgb: np.ndarray | None = None
    flow: np.ndarray | None = None
    flow_frames: np.ndarray | None = None
    flow_fell_back: bool = False
    flow_note: str = ""


@dataclass
class PreparedVideo:
    job: VideoJob
    clips: list[PreparedClip] = field(default_factory=list)
    error: BaseException | None = None  # an error to skip the video on (InputError, OSError) or to stop the run on


@dataclass(frozen=True)
class ClipPreparer:
    """Prepares one :class:`VideoJob`; a plain object so the workers can run it.

    ``flow_device``: where to compute flow, or ``None`` to hand the cropped
    frames over (:attr:`PreparedClip.flow_frames`).  ``share``: the shared
    preparation of a video's clips; ``False`` keeps one
    :func:`~core.models.transformer.inputs.prepare_clip_input` per clip view
    (the path before workers, kept for ``bench extract``).
    """

    config: TransformerConfig
    augment: str
    clips_per_video: int
    flow_backend: FlowBackend
    flow_device: torch.device | None
    share: bool = True

    def __call__(self, job: VideoJob, cancel: CancelToken | None = None) -> PreparedVideo:
        """The job's clips, or the error that stopped them (raised again only for :class:`Cancelled`)."""
        try:
            return PreparedVideo(job, self._prepare(job, cancel))
        except Cancelled:
            raise
        except Exception as err:  # noqa: BLE001 - handed to the caller, who skips or re-raises it
            return PreparedVideo(job, error=err)

    def _prepare(self, job: VideoJob, cancel: CancelToken | None) -> list[PreparedClip]:
        from core.sampling import uniform_clip_starts
        from core.video import open_segment

        config = self.config
        with open_segment(job.path, job.segment) as video:
            starts = uniform_clip_starts(len(video), self.clips_per_video, config.clip_length, config.frame_stride)
            both = tuple(s for s, used in ((RGB, config.uses_rgb), (FLOW, config.uses_flow)) if used)
            can_share = self.share and (self.flow_device is not None or not config.uses_flow)
            shared = [w for w in job.wants if can_share and w.view == 0 and w.streams == both]  # the streams prepare_clip_inputs makes
            centre = self._centre_clips(video, [starts[w.ordinal] for w in shared], cancel) if shared else iter(())
            out = []
            for want in job.wants:
                check(cancel)
                if want in shared:
                    clip = next(centre)
                    out.append(PreparedClip(want, starts[want.ordinal], clip.rgb, clip.flow, None, clip.flow_fell_back, clip.flow_note))
                else:
                    out.append(self._one_clip(video, want, starts[want.ordinal], cancel))
            return out

    def _centre_clips(self, video, starts: list[int], cancel: CancelToken | None) -> Iterator:  # noqa: ANN001 - a Video
        from core.models.transformer.inputs import prepare_clip_inputs

        # no reading ahead: the loader's workers already decode in parallel, and a video is closed as soon as its clips are made
        return prepare_clip_inputs(video, starts, self.config, flow_backend=self.flow_backend, device=self.flow_device, cancel=cancel,
                                   decode_ahead=False)

    def _one_clip(self, video, want: ClipWant, start: int, cancel: CancelToken | None) -> PreparedClip:  # noqa: ANN001 - a Video
        from core.models.transformer.inputs import prepare_clip_input
        from core.training.views import view_crop

        crop = view_crop(self.augment, want.view)
        if self.flow_device is not None or FLOW not in want.streams:
            clip = prepare_clip_input(video, start, self.config, flow_backend=self.flow_backend, device=self.flow_device or "cpu",
                                      cancel=cancel, crop=crop, rgb=RGB in want.streams, flow=FLOW in want.streams)
            return PreparedClip(want, start, clip.rgb, clip.flow, None, clip.flow_fell_back, clip.flow_note)
        # the flow runs in the caller: the same frames and crop prepare_clip_input would compute it on
        from core.sampling import clip_indices

        config = self.config
        indices = clip_indices(start, len(video), config.clip_length, config.frame_stride)
        read = (*indices.indices, min(indices.indices[-1] + indices.stride, len(video) - 1))
        cropped, _ = crop(np.asarray(video.read_clip(list(read))), config.input_size)
        rgb = np.ascontiguousarray(cropped[: len(indices.indices)]) if RGB in want.streams else None
        return PreparedClip(want, start, rgb, None, np.ascontiguousarray(cropped))


def flow_images(frames: np.ndarray, config: TransformerConfig, flow_backend: FlowBackend, *, device: torch.device,
                cancel: CancelToken | None = None) -> tuple[np.ndarray, bool, str]:
    """A clip's flow colour images from its cropped T+1 frames, as :func:`prepare_clip_input` makes them:
    (images, fell back, note)."""
    from core.models.transformer.inputs import clip_flow_images

    images, _method, fell_back, note = clip_flow_images(flow_backend, frames, config.flow_method, config, device, cancel)
    return images, fell_back, note


def flows_images(clips: Sequence[np.ndarray], config: TransformerConfig, flow_backend: FlowBackend, *, device: torch.device,
                 cancel: CancelToken | None = None) -> list[tuple[np.ndarray, str, bool, str]]:
    """:func:`flow_images` of several clips' cropped T+1 frames in one engine call: each clip's
    (images, method used, fell back, note)."""
    from core.models.transformer.inputs import clips_flow_images

    return clips_flow_images(flow_backend, clips, config.flow_method, config, device, cancel)


class _Jobs(torch.utils.data.Dataset):
    """The jobs as a map-style dataset: item i is job i prepared (errors included, made picklable)."""

    def __init__(self, jobs: Sequence[VideoJob], preparer: ClipPreparer) -> None:
        self.jobs, self.preparer = list(jobs), preparer

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, index: int) -> PreparedVideo:
        prepared = self.preparer(self.jobs[index])
        if prepared.error is not None:
            prepared.error = _sendable(prepared.error)
        return prepared


def _sendable(err: BaseException) -> BaseException:
    """``err`` with the worker's traceback as a note, or a plain error of the same kind when it does not pickle."""
    if not isinstance(err, (InputError, OSError)):
        err.add_note("in an extraction worker:\n" + "".join(traceback.format_exception(err)))
    try:
        pickle.loads(pickle.dumps(err))
        return err
    except Exception:  # noqa: BLE001 - any pickling failure
        kind = InputError if isinstance(err, (InputError, OSError)) else CoreError
        return kind(f"{type(err).__name__}: {err}")


def _as_is(item: PreparedVideo) -> PreparedVideo:
    return item


PR_SET_PDEATHSIG = 1  # Linux prctl(2): a signal for this process when its parent ends


def _end_with_parent(parent: int, _worker_id: int) -> None:
    """A worker ends when the training process does, even one killed outright (SIGKILL, the OOM killer): torch's
    own check runs only between jobs, and a worker blocked handing a video over never gets back to it (such
    workers lived on, orphaned, 375 MB each)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl here: torch's check between jobs remains
            pass
    if os.getppid() != parent:  # the parent ended before the signal was asked for
        os._exit(1)


@contextmanager
def prepared_videos(jobs: Sequence[VideoJob], preparer: ClipPreparer, *, workers: int,
                    cancel: CancelToken | None = None) -> Iterator[Iterator[PreparedVideo]]:
    """The jobs prepared, in order.  With ``workers`` processes, leaving the block (cancel, error, end)
    shuts them down; the caller checks ``cancel`` between videos (workers finish the video in hand)."""
    if workers <= 0 or not can_fork() or len(jobs) < 2:
        yield (preparer(job, cancel) for job in jobs)
        return
    loader = torch.utils.data.DataLoader(_Jobs(jobs, preparer), batch_size=None, shuffle=False, num_workers=min(workers, len(jobs)),
                                         collate_fn=_as_is, prefetch_factor=PREFETCH, multiprocessing_context="fork",
                                         worker_init_fn=functools.partial(_end_with_parent, os.getpid()))
    iterator = iter(loader)
    try:
        yield iterator
    finally:
        # explicitly: the caller's frame (kept by a traceback) may still hold the iterator, whose
        # release would otherwise be what ends the workers
        shutdown = getattr(iterator, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
