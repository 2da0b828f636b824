"""A cache folder that cannot be written (a read-only share; simulated, since the tests run as root, who may write
anywhere: the store's lock file cannot be opened for writing, the first thing a save does there): the flow survey and
the evaluation go on and end as done, with every row's result, and their line says the results were not kept."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from core.data.flow_survey import default_survey_root
from dataset_panel_helpers import finished, open_listed


@pytest.fixture
def read_only_cache(monkeypatch) -> Path:  # noqa: ANN001
    """The cache folder, where nothing can be written (the survey's and the evaluation's stores live under it)."""
    import builtins
    import os

    import core.file_lock as file_lock

    cache = Path(os.environ["TWOSTREAM_CACHE_DIR"]).parent

    def open_lock(path, mode="r", *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if str(path).startswith(str(cache)):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return builtins.open(path, mode, *args, **kwargs)

    monkeypatch.setattr(file_lock, "open", open_lock, raising=False)
    return cache


def test_a_survey_and_an_evaluation_end_as_done_with_a_cache_that_cannot_be_written(qtbot, window, data, read_only_cache) -> None:  # noqa: ANN001
    """Both failed at their first save, with the bare "PermissionError: [Errno 13] Permission denied:
    '.../.flow-survey-dis.json.lock'" (an unexpected error, its traceback logged), after all the work."""
    synth, checkpoint, _root = data
    errors: list[str] = []
    window.notifier.errorRaised.connect(lambda title, message: errors.append(f"{title}: {message}"))
    controller = window.dataset.controller
    open_listed(qtbot, window, synth)
    controller.scan_flow("dis")
    message = finished(qtbot, window, "dataset-flow")
    lock = default_survey_root() / ".flow-survey-dis.json.lock"  # the save's first write: the store's lock file
    assert message == (f"flow survey complete: {len(controller.rows)} videos; not kept for next time ({lock}: cannot open this "
                       "lock file (cannot write: permission denied))")
    assert all(r.noise is not None for r in controller.rows)
    controller.evaluate(checkpoint, part="test")
    message = finished(qtbot, window, "dataset-eval")
    scored = [r for r in controller.rows if r.record is not None]
    assert scored and message.startswith(f"evaluated {len(scored)} videos") and "; not kept for next time (" in message
    assert message.endswith(": cannot open this lock file (cannot write: permission denied))") and str(read_only_cache) in message
    assert errors == []
