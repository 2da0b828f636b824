"""The dataset panel's flow survey (worker side): every pair of every video, through the flow cache.

Each video is cut into the viewer's own chunks (:func:`viewer.flow_controller.compute_chunk`),
so pairs the viewer or an earlier survey computed come from the disk cache,
and a video the survey store already summarises is not opened at all: a
cancelled survey resumes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.data.dataset import listed
from core.data.flow_survey import FlowSurveyStore, default_survey_root, summarise_noise
from core.store_save import not_kept
from core.flow import FlowEncoding
from viewer.dataset.rows import Row

SAVE_EVERY = 8  # videos between writes of the survey store


@dataclass
class SurveyDone:
    """How a survey ended: the videos summarised, and those that could not be read (``"Class/video.avi: why"``)."""

    surveyed: int = 0
    unreadable: list[str] = field(default_factory=list)
    unsaved: str = ""  # why the survey store could not be written (a read-only cache folder), when it could not

    def message(self) -> str:
        """The status line: an unreadable video is said there, not only in a progress line that the next one replaces
        (a dataset folder moved away while listed read as "flow survey complete: 0 videos")."""
        failed = f"; {len(self.unreadable)} unreadable: {listed(self.unreadable, 3)}" if self.unreadable else ""
        return f"flow survey complete: {self.surveyed} videos{failed}{not_kept(self.unsaved)}"


def survey_rows(rows: list[Row], method: str, device: str, cancel, progress) -> SurveyDone:  # noqa: ANN001
    """Flow summaries of ``rows``, each handed over as ``(row, "noise", summary)``; returns how many, and which failed."""
    from core.data.flow_noise import chunks_covering
    from core.errors import InputError
    from core.video import file_span, open_segment
    from viewer.flow_chunks import video_pixels_of
    from viewer.flow_controller import CHUNK_PAIRS, compute_chunk

    store = FlowSurveyStore(default_survey_root(), method)
    encoding = FlowEncoding("fixed", 5.0)  # colours are not looked at; quality does not depend on them
    done_so_far = SurveyDone()
    try:
        for done, row in enumerate(rows, start=1):
            cancel.raise_if_cancelled()
            summary = store.get(row.path, row.segment)
            if summary is None:
                try:
                    with open_segment(row.path, row.segment) as opened:
                        # pairs by the file's chunks (the viewer's flow cache entries), those of the segment only
                        video, first, stop = file_span(opened)
                        scores = [f.quality.noise_score for c in chunks_covering(first, stop - 1)
                                  for k, f in enumerate(compute_chunk(video, c, method, device=device, encoding=encoding,
                                                                      video_pixels=video_pixels_of(video), cancel=cancel))
                                  if first <= c * CHUNK_PAIRS + k < stop - 1]
                except InputError as err:
                    done_so_far.unreadable.append(f"{row.relative}: {err.problem}")
                    progress(done, len(rows), f"{row.relative}: {err.problem}")
                    continue
                summary = summarise_noise(scores, first=first)
                store.put(row.path, summary, segment=row.segment)
                if done % SAVE_EVERY == 0:
                    store.save()
            done_so_far.surveyed += 1
            progress(done, len(rows), f"flow {row.relative}", partial=(row, "noise", summary))
    finally:
        done_so_far.unsaved = store.save()
    return done_so_far
