"""Background work reads through decoders of its own, and never through one that shows other pictures."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from core.video import open_video
from core.video.worker_readers import WorkerReaders
from media import decode_index, write_video


def test_each_kind_of_work_gets_its_own_decoder_of_the_same_frames(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 30, options={"crf": "10", "g": "10"})
    with open_video(path) as video:
        readers = WorkerReaders(video)
        flow, scan = readers.reader("flow"), readers.reader("scan")
        assert flow is not video and scan is not video and flow is not scan
        assert readers.reader("flow") is flow  # opened once
        assert flow.info == video.info and np.array_equal(flow.timestamps, video.timestamps)
        for index in (29, 3, 17):  # out of order: each decoder seeks on its own
            assert np.array_equal(flow.read(index), video.read(index)) and np.array_equal(scan.read(index), video.read(index))
        assert set(readers.opened) == {"flow", "scan"}


def test_a_read_elsewhere_leaves_the_shared_decoder_where_it_was(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 40, options={"crf": "10", "g": "40"})
    with open_video(path) as video:
        video.read(5)
        position = video._next_index
        WorkerReaders(video).reader("scan").read(35)
        assert video._next_index == position  # playback's next frame needs no jump back to the keyframe


def test_a_folder_of_images_is_read_by_the_video_itself(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((16, 24, 3), 40 * i, np.uint8))
    with open_video(folder) as video:
        assert WorkerReaders(video).reader("flow") is video


def test_a_file_written_again_since_it_was_opened_is_not_read_by_a_second_decoder(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 20)
    with open_video(path) as video:
        other = write_video(tmp_path / "other.mp4", 31)
        os.replace(other, path)  # the open reader keeps the old file; a new one would read 31 other frames
        assert WorkerReaders(video).reader("flow") is video


def test_a_file_gone_since_it_was_opened_is_read_by_the_video_itself(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 20)
    with open_video(path) as video:
        path.unlink()
        readers = WorkerReaders(video)
        assert readers.reader("flow") is video and np.array_equal(readers.reader("flow").read(19), video.read(19))



def test_a_file_rewritten_with_the_same_count_and_rate_is_not_read_by_a_second_decoder(tmp_path: Path) -> None:
    """The same frames in reverse: frame count, size and timestamps all agree, only the file differs."""
    import av

    from media import index_frame, mux_pictures

    path = write_video(tmp_path / "clip.mp4", 20)
    with open_video(path) as video:
        reversed_copy = tmp_path / "reversed.mp4"
        with av.open(str(reversed_copy), "w") as out:
            stream = out.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = 128, 64, "yuv420p"
            mux_pictures(out, stream, (index_frame(19 - i) for i in range(20)))
        os.replace(reversed_copy, path)
        reader = WorkerReaders(video).reader("flow")
        assert reader is video and decode_index(reader.read(3)) == 3


def test_a_reader_let_go_of_is_freed_at_once_not_by_the_garbage_collector(tmp_path: Path) -> None:
    """Its decoder generator held the reader in a cycle: five videos' readers kept 97 threads and their files open
    until a full collection (and one collected in a forked worker hung it)."""
    import gc
    import weakref

    path = write_video(tmp_path / "clip.mp4", 30, options={"g": "10"})
    gc.disable()
    try:
        video = open_video(path)
        reader = WorkerReaders(video).reader("scan")
        for index in (25, 3, 17):
            reader.read(index)
        gone = weakref.ref(reader)
        del reader
        video.close()
        del video
        assert gone() is None
    finally:
        gc.enable()
