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
        with readers.lease("flow") as flow, readers.lease("scan") as scan:
            assert flow is not video and scan is not video and flow is not scan
            assert flow.info == video.info and np.array_equal(flow.timestamps, video.timestamps)
            for index in (29, 3, 17):  # out of order: each decoder seeks on its own
                assert np.array_equal(flow.read(index), video.read(index)) and np.array_equal(scan.read(index), video.read(index))
        with readers.lease("flow") as again:
            assert again is flow  # opened once, kept for the kind's next job
        assert readers.opened == {"flow": [flow], "scan": [scan]}


def test_a_read_elsewhere_leaves_the_shared_decoder_where_it_was(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 40, options={"crf": "10", "g": "40"})
    with open_video(path) as video:
        video.read(5)
        position = video._next_index
        with WorkerReaders(video).lease("scan") as scan:
            scan.read(35)
        assert video._next_index == position  # playback's next frame needs no jump back to the keyframe


def test_a_folder_of_images_is_read_by_the_video_itself(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((16, 24, 3), 40 * i, np.uint8))
    with open_video(folder) as video:
        with WorkerReaders(video).lease("flow") as flow:
            assert flow is video


def test_a_file_written_again_since_it_was_opened_is_not_read_by_a_second_decoder(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 20)
    with open_video(path) as video:
        other = write_video(tmp_path / "other.mp4", 31)
        os.replace(other, path)  # the open reader keeps the old file; a new one would read 31 other frames
        with WorkerReaders(video).lease("flow") as flow:
            assert flow is video


def test_a_file_gone_since_it_was_opened_is_read_by_the_video_itself(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 20)
    with open_video(path) as video:
        path.unlink()
        with WorkerReaders(video).lease("flow") as flow:
            assert flow is video and np.array_equal(flow.read(19), video.read(19))



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
        with WorkerReaders(video).lease("flow") as reader:
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
        readers = WorkerReaders(video)
        with readers.lease("scan") as reader:
            for index in (25, 3, 17):
                reader.read(index)
        gone = weakref.ref(reader)
        del reader, readers
        video.close()
        del video
        assert gone() is None
    finally:
        gc.enable()


def test_two_jobs_of_one_kind_never_read_through_one_decoder(tmp_path: Path) -> None:
    """A cancelled job still finishing its step and the job that replaced it read at once: each through its own
    decoder (sharing one, each read pulled it back to the other's keyframe), and only one is kept afterwards."""
    import threading

    path = write_video(tmp_path / "clip.mp4", 30, options={"g": "10"})
    with open_video(path) as video:
        readers = WorkerReaders(video)
        first_holds, release, seen = threading.Event(), threading.Event(), {}

        def first_job() -> None:
            with readers.lease("flow") as reader:
                seen["first"] = reader
                reader.read(25)
                first_holds.set()
                release.wait(10)
                seen["first frame"] = decode_index(reader.read(26))

        job = threading.Thread(target=first_job)
        job.start()
        assert first_holds.wait(10)
        with readers.lease("flow") as second:
            assert second is not seen["first"] and decode_index(second.read(2)) == 2
        release.set()
        job.join(10)
        assert seen["first frame"] == 26
        kept = readers.opened["flow"]
        assert kept == [second] and seen["first"]._closed  # the kind keeps one decoder: the other is closed, not left open


def test_closing_closes_every_decoder_and_one_still_read_when_its_job_lets_go(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 20)
    with open_video(path) as video:
        readers = WorkerReaders(video)
        with readers.lease("flow") as flow:
            pass
        with readers.lease("export") as export:
            readers.close()  # another video opened while an export still reads this one
            assert flow._closed and not export._closed
            assert decode_index(export.read(7)) == 7  # the export goes on
        assert export._closed and readers.opened == {}
        with readers.lease("export") as late:  # an export that waited its turn: a decoder of its own, closed after
            assert late is not export and decode_index(late.read(3)) == 3
        assert late._closed and not video._closed  # playback's video is not the readers' to close
