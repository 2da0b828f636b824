"""Backbones through ``torch.compile``, paid for in warm-up and never on a user's click.

Why: on a GPU a video backbone's eager forward is bound by kernel launches, not
arithmetic (MViTv2-S: ~28 ms for ~64 GFLOPs on an H200, 3.7 ms compiled with
CUDA graphs).  Compiling costs up to a minute, so it happens only inside
:meth:`core.inference.ClipClassifier.warm_up` (the viewer's background load,
``classify --compile``), once per batch size that warm-up names, and inductor's
on-disk cache (beside the tool's other caches) makes the next process's compile
much cheaper.  Afterwards a batch of a compiled size runs compiled, a smaller
one is padded up to a compiled size, anything else runs eager; recompiling is
refused (``fail_on_recompile``), so a click never waits for the compiler.  A
compiler failure (no Triton, no C++ compiler, an operator it cannot handle)
falls back to eager for good and keeps the reason for the report.

CUDA graphs belong to a thread: inductor keeps one graph tree (and one private
memory pool) per Python thread, so a graph recorded in the viewer's warm-up job
would be recorded again, into a second pool, by the first click that lands on
another pool thread, and again after that thread expires.  Every call of a
CUDA-graph module therefore runs on one long-lived graph thread, under the
caller's grad, inference and autocast modes (Dynamo guards on them).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from core.errors import Cancelled

log = logging.getLogger(__name__)

COMPILE_CHOICES = ("off", "auto", "on")  # auto: on CUDA only (on a CPU compiling rarely pays for a viewer's clips)
INDUCTOR_CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"


def compile_unavailable(device: torch.device) -> str | None:
    """Why ``torch.compile`` cannot run on ``device`` here, or ``None`` when it can."""
    if not hasattr(torch, "compile"):
        return "this PyTorch has no torch.compile"
    if device.type == "cuda":
        from torch.utils._triton import has_triton

        if not has_triton():
            return "Triton is not installed (it comes with PyTorch's CUDA wheels on Linux)"
        chosen = os.environ.get("CC", "").strip()  # Triton takes $CC as given, else gcc, else clang
        if not (shutil.which(chosen) if chosen else shutil.which("gcc") or shutil.which("clang")):
            where = f"$CC ({chosen}) is not on PATH" if chosen else "no C compiler (gcc or clang) on PATH"
            return f"{where}: Triton builds its kernel launchers with one"
        return None
    if device.type == "cpu":
        compiler = os.environ.get("CXX", "").strip() or "c++"
        return None if shutil.which(compiler) or shutil.which("g++") or shutil.which("clang++") else "no C++ compiler on PATH"
    return f"torch.compile is not used on {device.type}"


def wants_compile(choice: str, device: torch.device) -> bool:
    """Whether ``choice`` (one of :data:`COMPILE_CHOICES`) asks to compile on ``device``."""
    if choice not in COMPILE_CHOICES:
        raise ValueError(f"unknown compile choice {choice!r}: choose one of {', '.join(COMPILE_CHOICES)}")
    return choice == "on" or (choice == "auto" and device.type == "cuda")


def use_persistent_cache() -> None:
    """Point inductor's cache at ``<the tool's cache>/inductor`` unless the user chose a folder:
    its default under /tmp is wiped at reboot, and compiled kernels are worth keeping."""
    if os.environ.get(INDUCTOR_CACHE_ENV, "").strip():
        return
    from core.flow.cache import default_cache_root

    os.environ[INDUCTOR_CACHE_ENV] = str(default_cache_root().parent / "inductor")


def _is_refused_recompile(error: BaseException) -> bool:
    """Whether ``error`` is the compiler refusing to recompile (the input changed), not a failure."""
    from torch._dynamo import exc

    refused = (exc.RecompileError, getattr(exc, "FailOnRecompileLimitHit", exc.RecompileError))
    return isinstance(error, refused) or "fail_on_recompile" in str(error)


def _first_line(error: BaseException) -> str:
    """The root cause's type and first line: a compiler's wrapper says little ("backend raised:")."""
    error = getattr(error, "inner_exception", None) or error.__cause__ or error
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


@dataclass(frozen=True)
class CompileReport:
    """What compiling one module did: for ``classify``'s start-up figures and the benchmarks."""

    name: str
    batches: tuple[int, ...]  # batch sizes that run compiled
    seconds: float  # spent compiling (warm-up)
    failure: str | None  # why it runs eager, when it does


@dataclass(frozen=True)
class CallerModes:
    """A thread's torch modes that Dynamo guards on and that do not cross threads."""

    grad: bool
    inference: bool
    device_type: str
    autocast: bool
    autocast_dtype: torch.dtype

    @classmethod
    def of_this_thread(cls, device_type: str) -> CallerModes:
        return cls(torch.is_grad_enabled(), torch.is_inference_mode_enabled(), device_type,
                   torch.is_autocast_enabled(device_type), torch.get_autocast_dtype(device_type))

    def entered(self, stack: ExitStack) -> None:
        """Enter these modes on the calling thread for the life of ``stack``."""
        stack.enter_context(torch.inference_mode(self.inference))
        stack.enter_context(torch.set_grad_enabled(self.grad))
        if self.autocast:
            stack.enter_context(torch.autocast(self.device_type, dtype=self.autocast_dtype))


class GraphThread:
    """The one thread that runs every call of a CUDA-graph module (see the module's docstring).

    Created on first use and kept for the process's life (an idle thread costs
    nothing; a new one would record every graph again).
    """

    _executor: ThreadPoolExecutor | None = None
    _creating = threading.Lock()
    _here = threading.local()

    @classmethod
    def run(cls, fn: Callable[[], Any], modes: CallerModes, device: torch.device) -> Any:
        """``fn()`` on the graph thread under ``modes`` and ``device``; the caller waits for its result."""
        def call() -> Any:
            with ExitStack() as stack:
                modes.entered(stack)
                if device.type == "cuda":
                    stack.enter_context(torch.cuda.device(device))
                return fn()

        if getattr(cls._here, "inside", False):  # already on it (nested): waiting on ourselves would never end
            return call()
        with cls._creating:
            if cls._executor is None:
                cls._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cuda-graphs", initializer=cls._mark)
        return cls._executor.submit(call).result()

    @classmethod
    def close(cls) -> None:
        """End the thread once its calls are done (its graphs go with it); the next call starts a new one."""
        with cls._creating:
            executor, cls._executor = cls._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    @classmethod
    def _mark(cls) -> None:
        cls._here.inside = True


class CompiledModule:
    """``module``'s forward through ``torch.compile``, with eager as the fallback.

    ``backend``/``mode``: torch.compile's (default: inductor; CUDA graphs on CUDA).
    Only :meth:`compile_for` compiles; calls run compiled for the batch sizes it saw.
    Compiled calls and compiling hold one process-wide lock (the compiler's stance is
    global; CUDA graphs' outputs live in a shared pool until copied): a call that finds
    it taken, as during a background compile, runs eager instead of waiting.
    ``on_graph_thread``: compile and run on :class:`GraphThread` (default: when
    recording CUDA graphs); other modules run on the caller's thread.
    """

    _lock = threading.Lock()

    def __init__(self, module: nn.Module, name: str, device: torch.device, *, backend: str | Callable[..., Any] = "inductor",
                 mode: str | None = None, on_graph_thread: bool | None = None) -> None:
        self.module, self.name, self.device = module, name, device
        if mode is None and backend == "inductor" and device.type == "cuda":
            mode = "reduce-overhead"
        self._cuda_graphs = mode == "reduce-overhead"
        self._on_graph_thread = self._cuda_graphs if on_graph_thread is None else on_graph_thread
        self._batches: set[int] = set()
        self._seconds = 0.0
        self.failure: str | None = None
        try:  # torch.compile itself refuses some set-ups (a Python newer than its Dynamo): eager from the start
            self._compiled = torch.compile(module, backend=backend, mode=mode, dynamic=False)
        except Exception as error:  # noqa: BLE001 - any refusal means: run eager
            self._compiled = module
            self.failure = _first_line(error)
            log.warning("%s runs eager: torch.compile refused it (%s)", self.name, self.failure)

    def report(self) -> CompileReport:
        return CompileReport(self.name, tuple(sorted(self._batches)), self._seconds, self.failure)

    def compile_for(self, example: torch.Tensor) -> None:
        """Compile for ``example``'s shape by running it (twice under CUDA graphs: the second run
        records the graph).  A failure leaves the module eager and says why in :attr:`failure`."""
        if self.failure is not None:
            return
        began = time.perf_counter()
        try:
            with self._lock:
                for _ in range(2 if self._cuda_graphs else 1):
                    self._call_compiled(lambda: self._run(example))
            self._batches.add(int(example.shape[0]))
        except (Cancelled, torch.cuda.OutOfMemoryError):
            raise
        except Exception as error:  # noqa: BLE001 - any compiler failure means: run eager
            self.failure = _first_line(error)
            log.warning("%s runs eager: torch.compile failed (%s)", self.name, self.failure)
        finally:
            self._seconds += time.perf_counter() - began

    def compile_and_run(self, clip: torch.Tensor) -> torch.Tensor:
        """Warm-up's call: compile for this batch size unless done, then run as any call does."""
        if int(clip.shape[0]) not in self._batches:
            self.compile_for(clip)
        return self(clip)

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        size = int(clip.shape[0])
        target = min((b for b in self._batches if b >= size), default=None) if self.failure is None else None
        if target is None:
            return self.module(clip)
        if not self._lock.acquire(blocking=False):  # compiling elsewhere: eager now beats waiting up to a minute
            return self.module(clip)
        padded = clip if target == size else torch.cat([clip, clip[-1:].expand(target - size, *clip.shape[1:])]).contiguous(
            memory_format=_layout_of(clip))
        try:
            return self._call_compiled(lambda: _without_recompiling(self._run, padded))[:size]
        except (Cancelled, torch.cuda.OutOfMemoryError):
            raise
        except Exception as error:  # noqa: BLE001 - see below
            if not _is_refused_recompile(error):  # a compiled graph that fails at run time is not trusted again
                self.failure = _first_line(error)
                log.warning("%s runs eager from now on: its compiled forward failed (%s)", self.name, self.failure)
        finally:
            self._lock.release()
        return self.module(clip)  # a genuine input error raises again here, from the eager forward

    def _call_compiled(self, fn: Callable[[], torch.Tensor]) -> torch.Tensor:
        if not self._on_graph_thread:
            return fn()
        return GraphThread.run(fn, CallerModes.of_this_thread(self.device.type), self.device)

    def _run(self, clip: torch.Tensor) -> torch.Tensor:
        if self._cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()
            return self._compiled(clip).clone()  # the graph's output buffer is reused by its next replay
        return self._compiled(clip)


def _layout_of(clip: torch.Tensor) -> torch.memory_format:
    return torch.channels_last_3d if clip.ndim == 5 and clip.is_contiguous(memory_format=torch.channels_last_3d) and not clip.is_contiguous() \
        else torch.contiguous_format


def _without_recompiling(run: Callable[[torch.Tensor], torch.Tensor], clip: torch.Tensor) -> torch.Tensor:
    with _no_recompiling():
        return run(clip)


def _no_recompiling() -> Any:
    """Inside: a call that would compile raises instead (torch >= 2.6), so a click runs eager rather than wait."""
    set_stance = getattr(torch.compiler, "set_stance", None)
    return set_stance("fail_on_recompile") if set_stance is not None else nullcontext()
