"""Start-up preloading: a worker's first import of a preloaded module costs nothing on the GUI thread's GIL."""

from __future__ import annotations

import linecache
import threading

import PySide6.QtCore  # noqa: F401 - PySide6's import hook is what reads sources

from viewer.warmup import WORKER_MODULES, preload_worker_modules


def test_a_worker_importing_preloaded_modules_reads_no_source(monkeypatch) -> None:  # noqa: ANN001
    """PySide6 reads a module's whole source the first time it passes through an import statement (its
    ``__feature__`` check), holding the GIL; preloading must pay that on the calling thread, not later in a worker."""
    assert preload_worker_modules() == []  # every worker module is installed here
    read_in_worker: list[str] = []
    original = linecache.updatecache

    def recording(filename, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if threading.current_thread() is not threading.main_thread():
            read_in_worker.append(filename)
        return original(filename, *args, **kwargs)

    monkeypatch.setattr(linecache, "updatecache", recording)

    def worker() -> None:
        for name in WORKER_MODULES:
            __import__(name, fromlist=["__name__"])  # what a `from name import x` in worker code does

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert read_in_worker == []
