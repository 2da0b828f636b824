"""A dataset listing that fails or is cancelled says so on the panel's line: its progress ("open: 1/3 splitting")
is not left behind as if the listing were still under way; a folder it cannot read is named in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from unlistable import make_unlistable
from viewer.main_window import MainWindow


def _ucf101_without_test_list(tmp_path: Path) -> Path:
    """UCF101's layout, whose split file for the test part is missing: listed, then refused when split."""
    root, lists = tmp_path / "UCF-101", tmp_path / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    train = []
    for label, name in enumerate(("ApplyEyeMakeup", "ApplyLipstick"), start=1):
        (root / name).mkdir(parents=True)
        for g in range(1, 5):
            video = f"v_{name}_g{g:02d}_c01.avi"
            (root / name / video).write_bytes(b"")
            train.append(f"{name}/{video} {label}")
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 ApplyLipstick\n")
    (lists / "trainlist01.txt").write_text("\n".join(train) + "\n")
    return root


def test_a_dataset_that_cannot_be_split_leaves_no_progress_behind(qtbot, window: MainWindow, tmp_path: Path) -> None:  # noqa: ANN001
    panel = window.dataset.panel
    window.dataset.open_dataset(str(_ucf101_without_test_list(tmp_path)))
    qtbot.waitUntil(lambda: window.notifier.last_error is not None and not window.jobs.is_busy("dataset-open"), timeout=30000)
    assert "testlist01.txt, which is missing" in window.notifier.last_error
    qtbot.wait(50)  # the listing's last progress report, queued before its failure, is in
    assert panel.status.text() == "cannot open the dataset: see the message"
    assert panel.progress.value() == panel.progress.maximum()


def test_a_cancelled_listing_says_so(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import threading

    import core.data as data

    started, release = threading.Event(), threading.Event()
    real = data.make_split

    def slow(dataset, **kwargs):  # noqa: ANN001, ANN003, ANN202
        started.set()
        release.wait(10)
        return real(dataset, **kwargs)

    monkeypatch.setattr(data, "make_split", slow)
    panel = window.dataset.panel
    window.dataset.open_dataset(str(_ucf101_without_test_list(tmp_path)))
    assert started.wait(20)
    qtbot.waitUntil(lambda: panel.status.text() == "open: 1/3 splitting", timeout=10000)
    panel.cancel_button.click()
    release.set()
    qtbot.waitUntil(lambda: not window.jobs.is_busy("dataset-open"), timeout=20000)
    qtbot.waitUntil(lambda: panel.status.text() == "listing cancelled", timeout=10000)
    assert panel.progress.value() == panel.progress.maximum() and window.notifier.last_error is None


@pytest.mark.parametrize("unreadable", ["b", "."])
def test_a_folder_that_cannot_be_read_is_named_in_one_line(qtbot, window: MainWindow, tmp_path: Path, monkeypatch, unreadable: str) -> None:  # noqa: ANN001
    """A class folder, or the dataset's own, without read permission was the bare "PermissionError: [Errno 13]
    Permission denied: '.../b'", an unexpected error whose traceback went to the log."""
    root = tmp_path / "data"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        (root / name / f"{name}1.avi").write_bytes(b"")
    folder = root / unreadable  # "." is the dataset folder itself
    make_unlistable(monkeypatch, folder)
    window.dataset.open_dataset(str(root))
    qtbot.waitUntil(lambda: window.notifier.last_error is not None and not window.jobs.is_busy("dataset-open"), timeout=30000)
    assert window.notifier.last_error == f"{folder}: cannot be read (Permission denied)"
