"""Start-up work that keeps the GUI thread from stalling later.

Two things froze the window for 60-120 ms at a time (``python main.py bench
ui --explain`` found both):

* A worker importing a module holds the GIL (and the import lock) while the
  extension loads: the first video opened imported PyAV and the flow engine's
  OpenCV code on a worker thread, and the GUI thread waited out the whole
  import.  Importing what workers need once, on the GUI thread before the
  window shows, moves that cost into start-up (about 80 ms, against seconds
  for torch).  The imports go through ``__import__``: PySide6 hooks it and, the
  first time a module passes through an import statement, reads the module's
  whole source to see whether it uses PySide6 (its ``__feature__`` support).
  ``importlib.import_module`` bypasses the hook, so a module preloaded that
  way was read later, by the worker's first ``from ... import``, holding the
  GIL (20 ms of a 57 ms stall when the first video opened).
* Python's full (generation 2) garbage collection walks every tracked object:
  with torch, Qt and pyqtgraph loaded that is ~240 000 objects and ~120 ms,
  run on whichever thread happens to allocate, GUI or worker (holding the
  GIL).  :func:`freeze_startup_objects` moves the objects alive after start-up
  (modules, classes, widgets: they live as long as the app) out of the
  collector's reach, so a full collection only walks what was made since.
"""

from __future__ import annotations

import gc

# Imported lazily by core on first use from a worker thread.
WORKER_MODULES = (
    "av",
    "core.video.container",
    "core.video.image_sequence",
    "core.flow.classical",
    "core.flow.quality",
    "core.device",
    "core.inference",
    "core.models.registry",
    "core.models.checkpoint",
    "core.models.transformer.attention_map",
    "safetensors.torch",
    "av.subtitles.stream",  # PyAV imports it when a container opens
    "numpy.ma",  # numpy imports it on first use of np.ma
    "torch.utils._device",
)


def preload_worker_modules(names: tuple[str, ...] = WORKER_MODULES) -> list[str]:
    """Import ``names`` now; the ones that fail are returned (the worker that needs one reports
    the error properly later, with the file it was working on)."""
    failed = []
    for name in names:
        try:
            __import__(name, fromlist=["__name__"])  # through PySide6's import hook (see above), unlike importlib
        except Exception:  # noqa: BLE001 - a missing optional module is reported where it is used
            failed.append(name)
    return failed


def freeze_startup_objects() -> None:
    """Collect once, then exempt every object alive now from future collections."""
    gc.collect()
    gc.freeze()
