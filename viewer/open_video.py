"""The video the viewer has open, with what every background job reads it through.

Why one object: the flow view and the classifier each kept readers of their
own, and every export opened the file again (two exports and a classification
opened it six times), none of them ever closed.  The video controller makes one
:class:`OpenVideo` per opened video and hands it to the flow, classify and
export controllers; the next video, or the window closing, closes it.  It also
holds the video's one analysis factor, so the flow pictures, their captions,
the timeline and the exports never work it out apart.
"""

from __future__ import annotations

from core.video import Video
from core.video.worker_readers import WorkerReaders
from viewer.flow_chunks import video_pixels_of


class OpenVideo:
    """``video`` (playback reads it on the GUI thread's behalf), the decoders jobs lease (:class:`WorkerReaders`)
    and ``video_pixels``: the video's pixels per pixel of its flow (computed smaller on a large video)."""

    def __init__(self, video: Video) -> None:
        self.video = video
        self.readers = WorkerReaders(video)
        self.video_pixels = video_pixels_of(video)

    def close(self) -> None:
        """Close the decoders opened for jobs (one still reading closes when it ends); playback's ``video`` is left
        to its last holder, as before."""
        self.readers.close()
