"""Writers of the shared stores, run as separate processes (spawned: they import this module by name)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

ROUNDS, KEYS_A_ROUND = 8, 5  # each writer puts 40 distinct videos, saving after every 5, at the same instant as the other
SLOW_READ_S = 0.03  # a slow disk between reading the file and writing it back, so the two writers' saves overlap
CLASSES = ("a", "b")
CHECKPOINT = "model.safetensors"
WRITERS = ("viewer", "eval")  # the two processes, by what each stands for


def video_names(writer: str) -> list[str]:
    """The videos ``writer`` puts, in order."""
    return [f"{writer}-{r}-{i}.mp4" for r in range(ROUNDS) for i in range(KEYS_A_ROUND)]


def survey_writer(root: str, writer: str, together) -> None:  # noqa: ANN001 - a multiprocessing Barrier of the two
    """Put summaries of ``writer``'s videos into the dis survey store at ``root``, saving in step with the other writer."""
    from core.data.flow_survey import FlowSurveyStore, summarise_noise

    store = _slow_reading(FlowSurveyStore)(root, "dis")
    _write_in_step(lambda name: store.put(Path(root) / name, summarise_noise([0.5])), store.save, writer, together)


def record_writer(root: str, writer: str, together) -> None:  # noqa: ANN001 - a multiprocessing Barrier of the two
    """Put records of ``writer``'s videos into the panel's record cache of :data:`CHECKPOINT` at ``root``, saving in
    step with the other writer (a second viewer window scoring with the same checkpoint)."""
    from core.evaluation.record_cache import RecordCache
    from core.evaluation.video_results import record_of

    cache = _slow_reading(RecordCache)(CHECKPOINT, CLASSES, root)
    _write_in_step(lambda name: cache.put(record_of(name, Path(root) / name, CLASSES, 0, [0.9, 0.1], None)), cache.save,
                   writer, together)


def _slow_reading(store_class: type) -> type:
    """``store_class`` with a pause after each read of its file."""
    read = store_class._on_disk

    def slow_read(self) -> Any:  # noqa: ANN001
        entries = read(self)
        time.sleep(SLOW_READ_S)
        return entries

    store_class._on_disk = slow_read
    return store_class


def _write_in_step(put: Callable[[str], None], save: Callable[[], None], writer: str, together) -> None:  # noqa: ANN001
    names = video_names(writer)
    for round_ in range(ROUNDS):
        for name in names[round_ * KEYS_A_ROUND:(round_ + 1) * KEYS_A_ROUND]:
            put(name)
        together.wait()
        save()


def hold_lock(store: str, holding) -> None:  # noqa: ANN001 - a multiprocessing Event
    """Take ``store``'s inter-process lock, say so, and hold it until this process is killed."""
    from core.file_lock import locked

    with locked(store):
        holding.set()
        time.sleep(600)


def run_two_writers(writer: Callable[[str, str, Any], None], root: Path) -> list[int | None]:
    """Run ``writer`` as a "viewer" and an "eval" process saving into ``root`` in step; their exit codes."""
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    together = spawn.Barrier(2)
    processes = [spawn.Process(target=writer, args=(str(root), name, together)) for name in WRITERS]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    return [process.exitcode for process in processes]
