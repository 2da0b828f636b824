"""A file or folder the system will not read: one line of the system's words, each caller raising its own error type
(the words were written out in three places: the dataset's folder listing, a frame folder's listing, a frame's read)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from core.data.dataset import folder_entries
from core.errors import DatasetError, VideoError, cannot_be_read
from core.video.image_sequence import _read_image, list_images


def test_the_reason_is_the_systems_words_else_the_errors_type() -> None:
    assert cannot_be_read(PermissionError(errno.EACCES, "Permission denied")) == "cannot be read (Permission denied)"
    assert cannot_be_read(OSError("no words")) == "cannot be read (OSError)"


def test_each_caller_keeps_its_error_type_and_names_the_path(tmp_path: Path) -> None:
    not_a_folder, missing = tmp_path / "clip.txt", tmp_path / "gone.png"
    not_a_folder.write_text("a file")
    for call, error in ((lambda: folder_entries(not_a_folder), DatasetError), (lambda: list_images(not_a_folder), VideoError)):
        with pytest.raises(error) as caught:
            call()
        assert str(caught.value) == f"{not_a_folder}: cannot be read (Not a directory)"
    with pytest.raises(VideoError) as caught:
        _read_image(missing)
    assert str(caught.value) == f"{missing}: cannot be read (No such file or directory)"
