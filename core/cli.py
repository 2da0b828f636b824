"""The command line's frame: sub-command registry, error handling and exit codes.

Each sub-command is a module with ``NAME``, ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``.  Bad input (:class:`~core.errors.InputError`, or an
argument error) prints one ``error:`` line and exits 2; an unexpected failure
prints one line and exits 1 (the traceback only with ``TWOSTREAM_DEBUG=1``).
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import importlib
import math
import os
import signal
import sys
import threading
import traceback
from types import ModuleType
from typing import Any, Iterator, Sequence

from core.errors import Cancelled, CoreError, InputError, WeightsUnavailable, escape_unwritable

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process it ended
ESCAPE_UNWRITABLE = "twostream.escape"  # the output streams' error handler while a command runs

codecs.register_error(ESCAPE_UNWRITABLE, escape_unwritable)


class UsageError(InputError):
    """A bad command-line argument."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and calling ``sys.exit``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def parsed_number(text: str, kind: type[int] | type[float]) -> Any:
    """``text`` as an int or a float for an argparse type, or the error that says which was expected."""
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, got {text!r}") from None


def positive_int(text: str) -> int:
    """An argparse type for sizes and counts: a whole number >= 1 (0 is no size, and never quietly "the default")."""
    value = parsed_number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


class _Terminated(BaseException):
    """SIGTERM (a scheduler or ``kill``): unwound like Ctrl-C, so staged outputs and temporaries are cleared."""


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While a command runs in the main thread, SIGTERM raises :class:`_Terminated`; a forked child (a data
    loader's worker) that inherited the handler ends as SIGTERM ends a process, without unwinding our stack."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()

    def on_sigterm(signum: int, _frame: object) -> None:
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def positive_float(text: str) -> float:
    """An argparse type for durations and intervals: a finite number above 0."""
    value = parsed_number(text, float)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {text}")
    return value


def path_option(text: str) -> str:
    """An argparse type for a path option (``--out``, ``--checkpoint``, ``--cache-dir``...): a name.  An empty one
    silently meant the default, or the current folder (``--cache-dir ''`` filled it with the token cache)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty: give a path, or leave the option out for the default")
    return text


output_path = path_option  # --out


def add_deinterlace_option(parser: argparse.ArgumentParser) -> None:
    """``--no-deinterlace``, for a command that reads a video's frames: interlaced frames as stored (combed)."""
    parser.add_argument("--no-deinterlace", action="store_true",
                        help="give interlaced frames as stored, their two fields woven (default: deinterlaced with FFmpeg's bwdif)")


def name_option(text: str) -> str:
    """An argparse type for a named choice (``--recipe``, ``--model``, ``--variant``...): an empty one silently
    meant the default, as if the option were left out."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty: give a name, or leave the option out for the default")
    return text


def non_negative_int(text: str) -> int:
    """An argparse type for counts where 0 means none: a whole number >= 0."""
    value = parsed_number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _load(module_name: str) -> ModuleType:
    return importlib.import_module(module_name)


def build_parser(prog: str, description: str, command_modules: Sequence[str], default_command: str | None = None) -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    parser = _Parser(prog=prog, description=description)
    from core import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    modules: dict[str, ModuleType] = {}
    for name in command_modules:
        module = _load(name)
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP))
        module.add_arguments(sub)
        modules[module.NAME] = module
    return parser, modules


def run_cli(argv: Sequence[str] | None, *, prog: str, description: str, command_modules: Sequence[str], default_command: str) -> int:
    """Parse ``argv`` and run the chosen command; ``default_command`` runs when the
    first argument is not a command (``main.py VIDEO`` opens the viewer)."""
    with _unwritable_escaped():
        return _run(argv, prog=prog, description=description, command_modules=command_modules, default_command=default_command)


@contextlib.contextmanager
def _unwritable_escaped() -> Iterator[None]:
    """Every command's output (the paths it wrote, its errors) shows a name's byte that is not UTF-8 as ``\\xff``, as
    :func:`~core.errors.shown_path` does, not as the raw byte a terminal shows as a replacement character."""
    streams = [(s, s.errors) for s in (sys.stdout, sys.stderr) if hasattr(s, "reconfigure") and getattr(s, "errors", None)]
    for stream, _errors in streams:
        stream.reconfigure(errors=ESCAPE_UNWRITABLE)
    try:
        yield
    finally:
        for stream, errors in streams:
            # a stream closed meanwhile, or whose reader went away (``| head``): reconfiguring flushes it, and a broken
            # pipe raised here was a traceback; what is left unwritten is Python's to report at exit, as without this
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors=errors)


def _run(argv: Sequence[str] | None, *, prog: str, description: str, command_modules: Sequence[str], default_command: str) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        parser, modules = build_parser(prog, description, command_modules)
        if not args_list or (args_list[0] not in modules and args_list[0] not in {"-h", "--help", "--version"}):
            args_list = [default_command, *args_list]
        args = parser.parse_args(args_list)
        if args.command == default_command or getattr(args, "runs_qt", False):  # Qt's event loop ends these on its own terms
            return int(modules[args.command].run(args) or EXIT_OK)
        with _sigterm_unwinds():
            return int(modules[args.command].run(args) or EXIT_OK)
    except _Terminated:
        print("error: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Cancelled:
        print("error: cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except WeightsUnavailable as err:  # a file the user must provide, named with where it goes: as bad input
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:
        return EXIT_OK
    except Exception as err:  # noqa: BLE001 - the last line of defence
        from core.export.target import storage_failure

        storage = storage_failure(err)  # a full disk under a cache, a checkpoint or an output: the user's to fix
        if storage is not None:
            print(f"error: {storage}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if os.environ.get("TWOSTREAM_DEBUG"):
            traceback.print_exc()
        detail = " ".join(str(err).split())
        print(f"error: unexpected failure: {type(err).__name__}: {detail} (set TWOSTREAM_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_FAILURE
