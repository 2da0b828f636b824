"""Frames the reader leaves behind never hang a process forked from it (a DataLoader worker)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.video import open_video
from media import write_video


FORKED_COLLECTION = """
import gc, os, sys, time
sys.path[:0] = {paths!r}
from core.video import open_video
gc.disable()  # what is cyclic garbage now is collected in the child, as in a DataLoader worker forked mid-run
with open_video({video!r}) as video:
    for index in range(6):
        video.read(index)
pid = os.fork()
if pid == 0:
    gc.collect()
    os._exit(0)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    if os.waitpid(pid, os.WNOHANG)[0]:
        sys.exit(0)
    time.sleep(0.05)
os.kill(pid, 9)
sys.exit("the forked child hung collecting the parent's frames")
"""


def test_frames_left_to_the_garbage_collector_do_not_hang_a_forked_worker(tmp_path: Path) -> None:
    """Every frame's display matrix was read through its side data, which refers back to the frame: the frames
    waited for the collector, and a DataLoader worker forked meanwhile hung freeing their swscale threads."""
    import subprocess
    import sys

    import core

    video = write_video(tmp_path / "clip.mp4", 8)
    root = str(Path(core.__file__).parents[1])
    script = FORKED_COLLECTION.format(paths=[root, str(Path(__file__).parents[2])], video=str(video))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]



def test_the_first_frame_converted_apart_has_the_pixels_of_any_later_read(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", 12, options={"crf": "10"})
    with open_video(path) as opened_first:
        first = opened_first.read(0).copy()  # decoded at open: the first frame's path
    with open_video(path, cache_bytes=0) as video:
        video.read(9)
        assert np.array_equal(video.read(0), first)  # decoded again, by the frames' own converter
