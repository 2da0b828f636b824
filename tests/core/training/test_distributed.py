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
