"""The command line: JSON out, one-line errors with exit code 2, help everywhere."""

from __future__ import annotations

import errno
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import main
from media import write_video
from paths import REPO

ROOT = REPO


def test_info_prints_one_json_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_video(tmp_path / "clip.mp4", 30, fps=25, size=(96, 48))
    assert main.main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert list(data)[:8] == ["path", "frames", "fps", "width", "height", "duration_s", "codec", "rotation"]
    assert data["frames"] == 30 and data["width"] == 96 and data["height"] == 48 and data["codec"] == "h264"
    assert data["duration_s"] == pytest.approx(1.2)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "make,problem",
    [
        (lambda d: d / "missing.mp4", "does not exist"),
        (lambda d: d, "folder with no images"),
        (lambda d: _write(d / "empty.mp4", b""), "empty"),
        (lambda d: _write(d / "notes.avi", b"text " * 50), "not a video file"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], make, problem: str) -> None:  # noqa: ANN001
    path = make(tmp_path)
    assert main.main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and str(path) in err and problem in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name, shown", [
    ("bad\nname.mp4", "bad\\nname.mp4"),  # a newline made the error two lines
    ("evil\rerror: all fine.mp4", "evil\\rerror: all fine.mp4"),  # a carriage return overwrote the line on a terminal
    ("colour\x1b[31m.mp4", "colour\\x1b[31m.mp4"),  # an escape recoloured it
    ("ünïcode name.mp4", "ünïcode name.mp4"),  # printable text is left as it is
])
def test_a_path_with_control_characters_is_named_in_one_escaped_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                                                                     shown: str) -> None:
    path = _write(tmp_path / name, b"not a video at all" * 10)
    assert main.main(["info", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {tmp_path}/{shown}: is not a video file that FFmpeg can read (invalid data)"]


def test_missing_argument_is_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["info"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "VIDEO" in err


def test_unexpected_failure_is_exit_code_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import core.commands.info as info

    monkeypatch.setattr(info, "run", lambda args: 1 / 0)
    assert main.main(["info", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unexpected failure: ZeroDivisionError") and "Traceback" not in err


def test_every_command_has_help() -> None:
    """`--help` works for the program and each of its commands, in a real process."""
    out = subprocess.run([sys.executable, "main.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "COMMAND" in out.stdout
    commands = [name.split(".")[-1] for name in main.COMMANDS]
    assert "info" in commands
    from core.cli import build_parser

    _, modules = build_parser("twostream", "", main.COMMANDS)
    for name in modules:
        with pytest.raises(SystemExit) as done:
            main.main([name, "--help"])
        assert done.value.code == 0, name


def test_view_refuses_a_missing_file_before_opening_a_window(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main.main([str(tmp_path / "nope.mp4")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_sigterm_mid_run_exits_143_and_leaves_no_staged_output(tmp_path: Path) -> None:
    """A scheduler's or ``kill``'s SIGTERM unwinds like Ctrl-C: one error line, and the half-written output
    folder is cleared (it was left hidden beside the target until the next run)."""
    import signal
    import time

    video = write_video(tmp_path / "long.mp4", 200, size=(256, 192))
    out = tmp_path / "flow"
    process = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "flow", str(video), "--method", "farneback", "--out", str(out)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".partial") for p in tmp_path.iterdir()) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143 and err.strip().splitlines()[-1] == "error: terminated"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]


def test_commands_that_run_qt_leave_sigterm_to_qt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Raised inside a Qt slot, the unwinding exception would be printed and the event loop would go on."""
    import importlib
    import signal

    seen: dict[str, object] = {}
    for target, name in (("ui", "viewer.bench.ui"), ("flow", "core.bench.flow")):
        module = importlib.import_module(name)
        monkeypatch.setattr(module, "run", lambda _args, target=target: seen.__setitem__(target, signal.getsignal(signal.SIGTERM)) or 0)
    before = signal.getsignal(signal.SIGTERM)
    assert main.main(["bench", "ui", "--limit-s", "5"]) == 0 and main.main(["bench", "flow", "--methods", "dis"]) == 0
    assert seen["ui"] == before and seen["flow"] != before  # the flow bench unwinds on SIGTERM; the GUI's is Qt's
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.parametrize("error, shown", [
    (OSError(28, "No space left on device", "{out}/Approach/.clip_0001.mp4.4242.abcd1234.tmp.mp4"), "{out}/Approach: cannot write: the disk is full"),
    (OSError(122, "Disk quota exceeded", "{out}/index.json"), "{out}/index.json: cannot write: the disk quota is exceeded"),
    (RuntimeError('Error while serializing: I/O error: No space left on device (os error 28) at path "{out}/.tmpCYqjcS"'),
     "{out}: cannot write: the disk is full"),  # how safetensors (Rust) reports it
])
def test_a_full_disk_anywhere_is_one_line_naming_where_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch, error: Exception, shown: str) -> None:
    """A cache, a checkpoint or an output on a full disk was "unexpected failure: OSError ...", exit 1."""
    import core.synth.dataset as synth_dataset

    out = tmp_path / "synth"
    if isinstance(error, OSError):
        error = OSError(error.errno, error.strerror, error.filename.format(out=out))
    else:
        error = RuntimeError(str(error).format(out=out))

    def full(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(synth_dataset, "generate_dataset", full)
    assert main.main(["synth", str(out), "--clips-per-class", "1"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {shown.format(out=out)}"]


class _ReaderGone(io.RawIOBase):
    """The write end of a pipe whose reader went away (``main.py info clip.mp4 | head -c 1``) while ``gone``."""

    gone = True

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # noqa: ANN001
        if self.gone:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
        return len(data)


def test_output_to_a_reader_gone_is_no_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The JSON waits in stdout's buffer; putting the stream's error handler back flushes it, into a broken pipe:
    that raised out of the command line as a traceback, where a command whose reader stopped reading succeeded."""
    path = write_video(tmp_path / "clip.mp4", 3, size=(48, 32))
    pipe = _ReaderGone()
    stdout = io.TextIOWrapper(io.BufferedWriter(pipe), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", stdout)
    try:
        assert main.main(["info", str(path)]) == 0
    finally:
        pipe.gone = False  # the buffer's leftovers go nowhere, not to an unraisable error when it is collected
        stdout.flush()
