"""Fixtures of the dataset-panel tests: a generated dataset with a checkpoint whose answers are known, in the real window."""

from __future__ import annotations

import pytest

from dataset_helpers import synth_with_checkpoint
from viewer.main_window import MainWindow


@pytest.fixture(scope="module")
def data(tmp_path_factory):  # noqa: ANN001
    root = tmp_path_factory.mktemp("datasetpanel")
    synth, checkpoint = synth_with_checkpoint(root)
    return synth, checkpoint, root


@pytest.fixture
def window(qtbot, data):  # noqa: ANN001
    win = MainWindow(show_dialogs=False, checkpoint=data[1])
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
