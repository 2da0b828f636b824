"""``bench ui``'s dataset rows: listing a UCF101-sized dataset (13,320 videos) and scrolling its table.

The tree is generated: 101 class folders of hard links to one tiny real video
(so listing, lazy metadata reads and scrolling do their real work, and writing
the tree takes a second).  "list" runs from File > Open dataset to the table
filled (the target is 2 s); "scroll" pages through the table while the
metadata of the rows on screen is read in the background (the target is no
GUI-thread stall over 16 ms).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

UCF101_VIDEOS = 13_320
UCF101_CLASSES = 101
LIST_TARGET_S = 2.0


def write_tree(root: Path, videos: int = UCF101_VIDEOS, classes: int = UCF101_CLASSES) -> Path:
    """``root/Class000/v_Class000_gNN_cMM.mp4``..., every file a copy of one 8-frame 32x32 video (about 50 MB in all;
    links to one file would be listed as one video)."""
    import numpy as np

    from core.synth.writer import write_mp4

    source = root.parent / "one-tiny-video.mp4"
    write_mp4(source, np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3), dtype=np.uint8))
    data = source.read_bytes()
    for i in range(videos):
        name = f"Class{i % classes:03d}"
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"v_{name}_g{i // classes // 7 + 1:02d}_c{i // classes % 7 + 1:02d}.mp4").write_bytes(data)
    return root


def dataset_rows(window: Any, heart: Any, scratch: Path, measure: Callable[..., Any], seconds: float) -> list[Any]:
    """The two scenarios, run in ``window`` with ``bench ui``'s heartbeat and ``measure``."""
    root = write_tree(scratch / "ucf-sized")
    view = window.dataset
    listed: list[float] = []
    view.controller.listed.connect(lambda _summary: listed.append(time.perf_counter()))

    def open_dataset() -> Callable[[], bool]:
        listed.clear()
        open_dataset.started = time.perf_counter()  # type: ignore[attr-defined]
        view.open_dataset(str(root))
        return lambda: bool(listed)

    def describe_list(finished: bool) -> str:
        if not finished:
            return "not listed within the limit"
        took = listed[0] - open_dataset.started  # type: ignore[attr-defined]
        verdict = "within" if took <= LIST_TARGET_S else "OVER"
        return f"{view.controller.model.rowCount()} videos listed in {took:.2f} s ({verdict} the {LIST_TARGET_S:g} s target)"

    def show_dock() -> Callable[[], bool]:
        view.show_dock()
        settled = time.perf_counter() + 0.3  # the relayout's paints come after show() returns
        return lambda: time.perf_counter() >= settled

    # The dock's first appearance re-lays out the whole window (every view resized and repainted, like a window
    # resize): its own row, so the list row measures listing alone, as a dataset opened again would.
    rows = [measure(heart, "dataset: dock appears (window relayout)", show_dock, 5.0, lambda _f: "empty dock shown once")]
    rows.append(measure(heart, f"dataset: list {UCF101_VIDEOS:,} videos", open_dataset, 30.0, describe_list))
    bar = view.panel.table.verticalScrollBar()
    pages = [0]

    def scroll() -> Callable[[], bool]:
        end = time.perf_counter() + seconds
        timer_step = max(1, bar.pageStep())

        def step() -> bool:
            bar.setValue(min(bar.maximum(), bar.value() + timer_step))
            pages[0] += 1
            return time.perf_counter() >= end or bar.value() >= bar.maximum()

        from PySide6.QtCore import QTimer

        timer = QTimer(view.panel)
        timer.setInterval(30)
        done = [False]
        timer.timeout.connect(lambda: done.__setitem__(0, step()) or (done[0] and timer.stop()))
        timer.start()
        return lambda: done[0]

    def describe_scroll(_finished: bool) -> str:
        known = sum(1 for r in view.controller.rows if r.frames is not None)
        return f"{pages[0]} pages scrolled, metadata read for {known} rows on the way"

    rows.append(measure(heart, "dataset: scroll the table", scroll, seconds + 2.0, describe_scroll))
    window.jobs.cancel("dataset-meta")
    return rows
