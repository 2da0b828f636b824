"""Cancelling a model's forward pass between its blocks.

A video backbone on the CPU takes a second or more per clip (MViTv2-S: ~1.4 s
for one 16-frame clip here), longer than the one second a user may wait for
Cancel to take effect.  Forward pre-hooks on the model's composite modules
look at the cancel token before each block runs, so a cancelled run stops at
the next block instead of at the end of the clip.  The hooks cost a Python
call per block (well under a millisecond per clip) and are removed when the
pass ends.  Modules handed to ``torch.compile`` get none: a hook is part of what
a compiled graph was traced with, so hooks added for one call would make every
compiled call fail its guards and run eager (a compiled backbone is one step).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator

from torch import nn

from core.progress import CancelToken, check


@contextmanager
def cancellable(model: nn.Module, cancel: CancelToken | None, *, without: Iterable[nn.Module] = ()) -> Iterator[None]:
    """Within the block, every composite module of ``model`` checks ``cancel`` before it runs
    (raising :class:`core.errors.Cancelled`), except the modules ``without`` and everything inside
    them; nothing is added when ``cancel`` is None."""
    if cancel is None:
        yield
        return

    def stop_if_cancelled(_module: nn.Module, _inputs: object) -> None:
        check(cancel)

    inside = {id(m) for outer in without for m in outer.modules()}
    handles = [m.register_forward_pre_hook(stop_if_cancelled) for m in model.modules()
               if next(m.children(), None) is not None and id(m) not in inside]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
