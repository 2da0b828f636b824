"""Training under torchrun: two CPU processes with the gloo backend, each extracting its shard."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import torch

from core.models import load_checkpoint
from core.training import training_record
from core.models.transformer.train.token_cache import TokenCache
from training_helpers import write_colour_dataset
from paths import REPO

ROOT = REPO


def test_two_gloo_processes_share_extraction_and_rank_zero_writes(tmp_path):
    data = write_colour_dataset(tmp_path / "data", videos_per_class=2)
    out = tmp_path / "ddp.safetensors"
    cache_dir = tmp_path / "cache"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TWOSTREAM_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node", "2",
        str(ROOT / "main.py"), "train", str(data), "--out", str(out), "--cache-dir", str(cache_dir),
        "--tiny-dim", "16", "--frame-wise", "--rgb-time-pool", "--heads", "2", "--head-dim", "8", "--depth", "1",
        "--input-size", "32", "--clip-length", "8", "--epochs", "2", "--batch-size", "2", "--lr", "3e-3",
        "--val-fraction", "0.5", "--test-fraction", "0", "--device", "cpu",
    ]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    # each rank extracted its own shard of the 6 videos (3 each, rgb and flow), then found the rest cached
    match = re.search(r"extraction per rank: rank 0: (\d+) computed, 0 cached, rank 1: (\d+) computed, 0 cached", done.stdout)
    assert match and match.groups() == ("6", "6"), done.stdout
    cache = TokenCache(cache_dir)
    writers = [cache.info(p.name.removesuffix(".tokens"))["rank"] for p in cache.entries()]
    assert sorted(writers) == [0] * 6 + [1] * 6

    # only rank 0 logs and writes: one line per epoch, one checkpoint, one state file
    assert len(re.findall(r"^epoch +\d/2 ", done.stdout, re.M)) == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["ddp.safetensors", "ddp.train-state.safetensors"]
    model, config = load_checkpoint(out)
    assert config.class_names == ("Blue", "Green", "Red")
    with torch.no_grad():
        logits = model.forward_tokens(torch.randn(1, 4, 2, 2, 16), torch.randn(1, 4, 2, 2, 16))
    assert torch.isfinite(logits).all()
    record = training_record(out)
    assert record.settings.batch_size == 2 and len(record.split["train"]) == 3 and len(record.split["val"]) == 3


class FakeStore:
    """The three calls the watchdog makes, on a dict shared by the 'ranks' of one process."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}

    def set(self, key: str, value: str) -> None:
        self.values[key] = value.encode()

    def get(self, key: str) -> bytes:
        return self.values[key]

    def check(self, keys: list[str]) -> bool:
        return all(k in self.values for k in keys)


def test_a_silent_peer_is_named_after_the_timeout_and_a_busy_one_is_not():
    from core.training.distributed import PeerWatchdog

    store = FakeStore()
    watchers = [PeerWatchdog(store, rank, 3, timeout_s=10.0, on_stall=lambda *a: None) for rank in range(3)]
    for second in range(0, 30, 2):  # ranks 0 and 1 beat every 2 s; rank 2 stops beating at 6 s
        for rank, watcher in enumerate(watchers):
            if rank < 2 or second <= 6:
                found = watcher.check_once(float(second))
                if rank < 2 and second <= 16:
                    assert found is None, (rank, second)
    assert watchers[0].check_once(30.0) == 2 and watchers[1].check_once(30.0) == 2


def _pid_of_rank(rank: int, parent_cmd: str) -> int | None:
    """The process torchrun started as ``rank`` (read from /proc: its environment says RANK)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ and b"LOCAL_RANK" in b" ".join(environ) and parent_cmd.encode() in cmdline:
            return int(entry.name)
    return None


def test_a_stopped_rank_ends_the_run_within_the_timeout_with_its_number(tmp_path):
    """Rank 1 stopped with SIGSTOP (alive, silent): rank 0 names it and the run ends, instead of
    waiting for gloo's 30 minutes."""
    import signal
    import threading
    import time

    data = write_colour_dataset(tmp_path / "data", videos_per_class=2)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TWOSTREAM_OFFLINE": "1", "PYTHONPATH": str(ROOT), "TWOSTREAM_PEER_TIMEOUT_S": "5"}
    marker = str(tmp_path / "stalled.safetensors")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc_per_node", "2",
        str(ROOT / "main.py"), "train", str(data), "--out", marker, "--cache-dir", str(tmp_path / "cache"),
        "--tiny-dim", "16", "--frame-wise", "--rgb-time-pool", "--heads", "2", "--head-dim", "8", "--depth", "1",
        "--input-size", "32", "--clip-length", "8", "--epochs", "500", "--patience", "500", "--batch-size", "2",
        "--val-fraction", "0.5", "--test-fraction", "0", "--device", "cpu",
    ]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[tuple[float, str]] = []  # stderr lines with the time each arrived

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append((time.monotonic(), line))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    stopped = None
    try:
        deadline = time.monotonic() + 90
        while stopped is None and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.5)
            state = tmp_path / "stalled.train-state.safetensors"
            if state.exists():  # training is under way: stop rank 1 where it stands
                stopped = _pid_of_rank(1, marker)
                if stopped is not None:
                    os.kill(stopped, signal.SIGSTOP)
        assert stopped is not None, "rank 1 was never found running"
        stopped_at = time.monotonic()
        process.wait(timeout=120)  # torchrun then waits for the stopped rank before killing it
        reader.join(timeout=10)
    finally:
        if stopped is not None:
            for sig in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.kill(stopped, sig)
                except ProcessLookupError:
                    pass
        if process.poll() is None:
            process.kill()
            process.wait()
    named = [(at, line) for at, line in lines if "error: rank 1 stopped answering: no sign of life for 5 s" in line]
    assert process.returncode != 0 and named, "".join(line for _, line in lines)[-2000:]
    assert named[0][0] - stopped_at < 25  # the 5 s timeout and a beat or two: not gloo's 30 minutes
