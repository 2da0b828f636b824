"""The three-split protocol: ``train --splits`` writes one checkpoint per official split,
``eval --splits`` scores each on its own test list and reports the mean and standard deviation,
``ablate --splits`` does both per variant; and each way of getting it wrong is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import main
from core.evaluation.over_splits import parse_splits, split_checkpoint, summarise_splits, splits_table
from core.errors import InputError
from core.synth.writer import write_mp4
from training_helpers import COLOURS, colour_clip

GROUPS = 4  # split N tests group N (N = 1..3); group 4 always trains
SMALL = ["--variant", "rgb", "--tiny-dim", "16", "--frame-wise", "--rgb-time-pool", "--heads", "2", "--head-dim", "8",
         "--depth", "1", "--input-size", "32", "--clip-length", "8", "--epochs", "2", "--batch-size", "4",
         "--val-fraction", "0.25", "--device", "cpu"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


def write_ucf_style(root: Path) -> Path:
    """``root/<Colour>/v_<Colour>_gNN_cMM.mp4`` with classInd.txt and three official train/test lists."""
    rng = np.random.default_rng(0)
    names = list(COLOURS)
    for name, colour in COLOURS.items():
        for group in range(1, GROUPS + 1):
            for clip in (1, 2):
                write_mp4(root / name / f"v_{name}_g{group:02d}_c{clip:02d}.mp4", colour_clip(colour, rng))
    (root / "classInd.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(names, start=1)))
    for split in (1, 2, 3):
        train, test = [], []
        for i, name in enumerate(names, start=1):
            for group in range(1, GROUPS + 1):
                for clip in (1, 2):
                    rel = f"{name}/v_{name}_g{group:02d}_c{clip:02d}.avi"  # the lists name .avi files, as UCF101's do
                    (test.append(rel) if group == split else train.append(f"{rel} {i}"))
        (root / f"trainlist{split:02d}.txt").write_text("\n".join(train) + "\n")
        (root / f"testlist{split:02d}.txt").write_text("\n".join(test) + "\n")
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("splits")
    data = write_ucf_style(root / "ucf")
    out = root / "runs" / "model.safetensors"
    code = main.main(["train", str(data), "--splits", "1,2,3", "--out", str(out), "--cache-dir", str(root / "cache"), *SMALL])
    return SimpleNamespace(root=root, data=data, out=out, code=code)


def test_train_writes_one_checkpoint_per_split_on_that_split(trained):
    from core.models.checkpoint import read_checkpoint_info
    from core.training.result import EXTRA_SPLIT

    assert trained.code == 0
    for n in (1, 2, 3):
        info = read_checkpoint_info(trained.root / "runs" / f"model-split{n}.safetensors")
        split = info.extra[EXTRA_SPLIT]
        assert split["scheme"] == "ucf101" and f"split {n}" in split["description"]
        assert sorted(split["test"]) == sorted(f"{c}/v_{c}_g{n:02d}_c{k:02d}.mp4" for c in COLOURS for k in (1, 2))


def test_eval_reports_each_split_and_their_mean_and_std(trained, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main.main(["eval", str(trained.data), "--checkpoint", str(trained.out), "--splits", "1,2,3", "--out", str(out),
                      "--clips", "1", "--device", "cpu", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["splits"] == [1, 2, 3]
    top1 = []
    for n in (1, 2, 3):
        metrics = json.loads((out / f"split{n}" / "metrics.json").read_text())
        assert metrics["checkpoint"].endswith(f"model-split{n}.safetensors")
        assert metrics["video_level"]["count"] == 6 and not metrics["test_set"]["seen_in_training"]
        assert summary["per_split"][str(n)]["top1"] == metrics["top1"]
        top1.append(metrics["top1"])
    assert summary["top1"]["mean"] == pytest.approx(np.mean(top1))
    assert summary["top1"]["std"] == pytest.approx(np.std(top1, ddof=1))
    assert json.loads((out / "splits.json").read_text()) == summary
    assert main.main(["eval", str(trained.data), "--checkpoint", str(trained.out), "--splits", "1,2,3", "--out", str(out),
                      "--clips", "1", "--device", "cpu"]) == 0
    table = capsys.readouterr().out
    assert "mean" in table and "±" in table and "split 3:" in table


def test_eval_splits_refuses_what_would_give_a_wrong_mean(trained, tmp_path, capsys):
    ckpt = str(trained.out)
    assert main.main(["eval", str(trained.data), "--checkpoint", str(tmp_path / "m.safetensors"), "--splits", "1,2"]) == 2
    assert "missing" in capsys.readouterr().err
    wrong = tmp_path / "wrong"  # split 1's model posing as split 2's
    wrong.mkdir()
    shutil.copy(trained.root / "runs" / "model-split1.safetensors", wrong / "m-split2.safetensors")
    assert main.main(["eval", str(trained.data), "--checkpoint", str(wrong / "m.safetensors"), "--splits", "2", "--clips", "1",
                      "--device", "cpu", "--out", str(tmp_path / "o")]) == 2
    assert "was it trained on split 2" in capsys.readouterr().err
    plain = tmp_path / "plain"  # the same videos without split files
    shutil.copytree(trained.data, plain, ignore=shutil.ignore_patterns("*.txt"))
    assert main.main(["eval", str(plain), "--checkpoint", ckpt, "--splits", "1,2,3"]) == 2
    assert "official split files" in capsys.readouterr().err
    assert main.main(["eval", str(trained.data), "--checkpoint", ckpt, "--splits", "1,2", "--split-number", "1"]) == 2
    assert main.main(["train", str(trained.data), "--out", str(tmp_path / "x-{split}.safetensors")]) == 2
    assert "placeholder" in capsys.readouterr().err


def test_ablate_over_splits_with_multi_view_testing(trained, tmp_path, capsys):
    out = tmp_path / "ablate"
    args = ["ablate", str(trained.data), *[a for a in SMALL if a not in ("--variant", "rgb")], "--variants", "rgb,flow",
            "--splits", "1,2", "--views", "1x3", "--out", str(out), "--cache-dir", str(trained.root / "cache"), "--json"]
    assert main.main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["splits"] == [1, 2] and summary["views"] == "1x3" and set(summary["variants"]) == {"rgb", "flow"}
    for n in (1, 2):
        ablation = json.loads((out / f"split{n}" / "ablation.json").read_text())
        assert ablation["views"] == "1x3" and f"split {n}" in ablation["split"]["description"]
        assert summary["variants"]["rgb"]["per_split"][str(n)]["top1"] == ablation["variants"]["rgb"]["top1"]


def test_split_names_parsing_and_the_summary_arithmetic():
    assert parse_splits("1, 2,3") == (1, 2, 3)
    for bad in ("", "1,1", "0", "a"):
        with pytest.raises(InputError):
            parse_splits(bad)
    assert split_checkpoint("runs/ucf.safetensors", 2) == Path("runs/ucf-split2.safetensors")
    assert split_checkpoint("runs/s{split}/m.safetensors", 3) == Path("runs/s3/m.safetensors")
    summary = summarise_splits({1: {"top1": 0.5, "top5": 1.0, "mean_class_accuracy": 0.5}, 2: {"top1": 0.7, "top5": 1.0, "mean_class_accuracy": None}})
    assert summary["top1"] == {"mean": pytest.approx(0.6), "std": pytest.approx(np.sqrt(0.02)), "count": 2}
    assert summary["mean_class_accuracy"]["count"] == 1
    assert "60.0 ± 14.1%" in splits_table(summary)


def test_train_splits_refuses_a_later_split_s_checkpoint_before_the_first_split_trains(trained, tmp_path, capsys):
    """Split 2's checkpoint is a copy kept on its own (no training state beside it): refused at once, not after
    split 1 has trained (hours on UCF101)."""
    out = tmp_path / "runs" / "model.safetensors"
    kept = split_checkpoint(out, 2)
    kept.parent.mkdir(parents=True)
    shutil.copy(trained.root / "runs" / "model-split2.safetensors", kept)
    capsys.readouterr()
    assert main.main(["train", str(trained.data), "--splits", "1,2", "--out", str(out), "--cache-dir", str(trained.root / "cache"), *SMALL]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(kept) in err[0] and "no training state beside it" in err[0]
    assert not split_checkpoint(out, 1).exists()
