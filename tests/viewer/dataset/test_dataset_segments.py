"""A Kinetics row found only as its untrimmed video: the panel lists, measures, surveys, scores and opens the
annotated seconds, as train and eval use them, with frames named as the file numbers them (the viewer opens
the file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from media import write_video

from core.data.flow_noise import survey_video
from core.progress import CancelToken
from viewer.dataset.controller import list_dataset, read_metadata
from viewer.dataset.flow_survey_job import survey_rows


def kinetics_with_an_untrimmed_video(tmp_path: Path) -> Path:
    """One trimmed download and one whole video (4 s at 25 fps) whose annotation is its seconds 2 to 3."""
    (tmp_path / "videos").mkdir()
    write_video(tmp_path / "videos" / "aaa_000000_000010.mp4", 30)
    write_video(tmp_path / "videos" / "bbb.mp4", 100, fps=25)
    (tmp_path / "train.csv").write_text("label,youtube_id,time_start,time_end,split\nx,aaa,0,10,train\ny,bbb,2,3,train\n")
    return tmp_path


def _rows(root: Path) -> dict[str, object]:
    listing = list_dataset(str(root), None, CancelToken(), lambda *a, **k: None)
    return {row.relative: row for row in listing.rows}


def test_the_panel_measures_surveys_and_opens_the_annotated_seconds(tmp_path: Path) -> None:
    rows = _rows(kinetics_with_an_untrimmed_video(tmp_path))
    trimmed, whole = rows["videos/aaa_000000_000010.mp4"], rows["videos/bbb.mp4"]
    assert trimmed.segment is None and whole.segment == (2.0, 3.0)

    assert whole.start_frame() is None and trimmed.start_frame() == 0  # unread: the viewer finds the segment itself
    metadata: list[tuple] = []
    read_metadata([trimmed, whole], CancelToken(), lambda *a, partial=None, **k: metadata.append(partial))
    assert [m[1:] for m in metadata] == [(30, 1.2, "", 0), (25, 1.0, "", 50)]  # the segment: frames 50..74
    for row, frames, duration, error, first in metadata:
        row.frames, row.duration, row.meta_error, row.first_frame = frames, duration, error, first
    assert whole.start_frame() == 50 and trimmed.start_frame() == 0  # where the viewer opens each

    summaries: dict[str, object] = {}
    surveyed = survey_rows([trimmed, whole], "dis", "cpu", CancelToken(),
                           lambda *a, partial=None, **k: partial and summaries.__setitem__(partial[0].relative, partial[2]))
    assert surveyed.surveyed == 2 and not surveyed.unreadable
    noise = summaries["videos/bbb.mp4"]
    assert noise.pairs == 24 and 50 <= noise.noisiest_pair < 74  # the segment's pairs, named by the file's frames
    assert summaries["videos/aaa_000000_000010.mp4"].pairs == 29
    # eval's survey (no viewer) gives the same summary, from the same flow-cache entries
    assert survey_video(whole.path, "dis", device="cpu", segment=whole.segment) == noise
    whole_file = survey_video(whole.path, "dis", device="cpu")
    assert whole_file.pairs == 99 and not np.isclose(whole_file.mean_noise, noise.mean_noise, rtol=0, atol=0)


def test_a_row_opened_before_its_metadata_shows_the_segments_first_frame(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    """Opened before its frames were read (a double click at once, a row scrolled past), the untrimmed video
    showed the file's frame 0, seconds before the annotated action."""
    from dataset_panel_helpers import WAIT_MS, open_listed, shown

    controller = window.dataset.controller
    controller.model.metadata_wanted = lambda _row: None  # the metadata never arrives
    open_listed(qtbot, window, kinetics_with_an_untrimmed_video(tmp_path))
    shown_row = shown(window).index("videos/bbb.mp4")
    with qtbot.waitSignal(window.video.videoLoaded, timeout=WAIT_MS):
        window.dataset.panel.table.doubleClicked.emit(controller.proxy.index(shown_row, 0))
    qtbot.waitUntil(lambda: window.state.frame_index == 50, timeout=5000)  # 2 s at 25 fps
    window.dataset.panel.table.doubleClicked.emit(controller.proxy.index(shown_row, 0))  # the video shown: at once
    window.state.set_frame(3)
    window.dataset.panel.table.doubleClicked.emit(controller.proxy.index(shown_row, 0))
    assert window.state.frame_index == 50
