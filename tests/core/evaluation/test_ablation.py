"""``main.py ablate`` on a small synthetic dataset: what the ablation is built to show.

One module-scoped run trains the four variants (tiny frame-wise backbone, an
order-free RGB stream, DIS flow) on a generated dataset and tests them; the
tests read its JSON.  On this dataset RGB alone cannot tell a motion pair
apart (chance 1/2 within a pair), flow alone cannot tell the four balls apart
(chance 1/4), and fusion must be at least as good as the better stream.  The
thresholds leave room: these are frozen random backbones and 120 training
videos, so each stream alone is weak (the full run in the README is larger);
every number is fixed by the seeds.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import main
from core.evaluation.ablation import synthetic_groups
from core.synth import CLASS_NAMES, generate_dataset

# The settings of the README's full ablation, smaller: 20 clips per class, 8-frame clips, 30 epochs.
SETTINGS = [
    "--tiny-dim", "192", "--heads", "2", "--head-dim", "32", "--depth", "1", "--spatial-pool", "3",
    "--clip-length", "8", "--flow-radius", "3", "--lr", "1e-3", "--epochs", "30", "--patience", "30",
    "--test-fraction", "0.3", "--device", "cpu",
]


@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
    root = tmp_path_factory.mktemp("ablate")
    data = root / "synth"
    generate_dataset(data, clips_per_class=20, size=112, frames=10, seed=7)
    out = root / "out"
    cache = root / "tokens"
    args = ["ablate", str(data), *SETTINGS, "--out", str(out), "--cache-dir", str(cache), "--json"]
    return SimpleNamespace(root=root, data=data, out=out, cache=cache, args=args)


@pytest.fixture(scope="module")
def result(ablation):
    import contextlib
    import io

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main.main(ablation.args)
    assert code == 0, stderr.getvalue()[-2000:]
    return SimpleNamespace(stdout=stdout.getvalue(), stderr=stderr.getvalue(), json=json.loads(stdout.getvalue()))


def test_stdout_is_exactly_one_json_object_with_every_variant(result, ablation):
    assert result.stdout.count("\n") == result.stdout.rstrip("\n").count("\n") + 1  # nothing after the object
    variants = result.json["variants"]
    assert list(variants) == ["rgb", "flow", "concat", "fusion"]
    for entry in variants.values():
        assert set(entry) >= {"top1", "top5", "per_class", "groups", "checkpoint"}
        assert 0.0 <= entry["top1"] <= entry["top5"] <= 1.0
        assert list(entry["per_class"]) == list(CLASS_NAMES)
        assert set(entry["groups"]) == {"motion", "appearance"}
        assert Path(entry["checkpoint"]).is_file()
    assert "[rgb] epoch" in result.stderr and "extraction" in result.stderr  # progress went to stderr
    assert json.loads((ablation.out / "ablation.json").read_text()) == result.json
    assert sorted(p.name for p in ablation.out.glob("*-confusion.png")) == [f"{v}-confusion.png" for v in sorted(variants)]


def test_rgb_alone_is_near_chance_on_the_motion_pairs(result):
    variants = result.json["variants"]
    chance = result.json["groups"]["motion"]["chance"]
    assert chance == 0.5
    assert variants["rgb"]["groups"]["motion"] <= chance + 0.25
    assert variants["flow"]["groups"]["motion"] >= variants["rgb"]["groups"]["motion"] + 0.15  # flow sees direction


def test_flow_alone_is_near_chance_on_the_appearance_classes(result):
    variants = result.json["variants"]
    chance = result.json["groups"]["appearance"]["chance"]
    assert chance == 0.25
    assert variants["flow"]["groups"]["appearance"] <= chance + 0.3
    assert variants["rgb"]["groups"]["appearance"] >= variants["flow"]["groups"]["appearance"] + 0.15  # RGB sees colour


def test_fusion_is_at_least_as_good_as_the_better_stream(result):
    variants = result.json["variants"]
    better = max(variants["rgb"]["top1"], variants["flow"]["top1"])
    assert variants["fusion"]["top1"] >= better
    # and it uses both: on each group it beats the stream that is blind to that group by a wide margin
    assert variants["fusion"]["groups"]["motion"] >= variants["rgb"]["groups"]["motion"] + 0.2
    assert variants["fusion"]["groups"]["appearance"] >= variants["flow"]["groups"]["appearance"] + 0.2
    gains = result.json["gains_of_fusion"]
    assert gains["rgb"]["top1"] == pytest.approx(variants["fusion"]["top1"] - variants["rgb"]["top1"])
    assert gains["flow"]["top1"] >= 0.0


def test_all_variants_share_one_split_and_one_extraction(result):
    variants = result.json["variants"]
    split = result.json["split"]
    assert split["videos"] == 60 and split["train_videos"] + split["val_videos"] + split["videos"] == 200
    assert {v["videos"] for v in variants.values()} == {60}
    # the test clips' grids: each stream computed once (by the first variant using it), then read back
    assert variants["rgb"]["test_extraction"] == {"computed": 60, "cached": 0}
    assert variants["flow"]["test_extraction"] == {"computed": 60, "cached": 0}
    assert variants["concat"]["test_extraction"] == {"computed": 0, "cached": 120}
    assert variants["fusion"]["test_extraction"] == {"computed": 0, "cached": 120}
    # and the training clips': the log says so for every variant
    for name, computed in (("rgb", 140), ("flow", 140), ("concat", 0), ("fusion", 0)):
        assert f"[{name}] extraction: {computed} arrays computed" in result.stderr


def test_rerun_resumes_finished_variants_and_gives_the_same_table(result, ablation, capsys):
    assert main.main([*ablation.args[:-1]]) == 0  # text table this time
    out = capsys.readouterr()
    assert "already finished" in out.err
    lines = out.out.splitlines()
    assert lines[1].split()[:3] == ["variant", "top-1", "top-5"]
    rows = {line.split()[0]: line.split() for line in lines[3:8]}
    for name, entry in result.json["variants"].items():
        assert rows[name][1] == f"{100 * entry['top1']:.1f}%"
    assert rows["chance"][1:3] == ["10.0%", "50.0%"]


def test_synthetic_groups_and_their_chance_levels(ablation):
    groups = {g.name: g for g in synthetic_groups(ablation.data)}
    assert groups["motion"].classes == CLASS_NAMES[:6] and groups["motion"].chance == 0.5
    assert groups["appearance"].classes == CLASS_NAMES[6:] and groups["appearance"].chance == 0.25
    assert synthetic_groups(ablation.root) == ()  # not a synthetic dataset


def test_bad_variants_and_variant_option_exit_2(ablation, capsys):
    assert main.main(["ablate", str(ablation.data), "--variants", "rgb,optical", "--out", str(ablation.root / "x")]) == 2
    assert "variants must be some of rgb, flow, concat, fusion, got rgb, optical" in capsys.readouterr().err
    assert main.main(["ablate", str(ablation.data), "--variant", "rgb"]) == 2
    assert "use --variants rgb,flow,concat,fusion, not --variant" in capsys.readouterr().err
    assert main.main(["ablate", str(ablation.root / "missing")]) == 2
    assert "dataset folder does not exist" in capsys.readouterr().err


def test_eval_through_live_inference_agrees_with_the_cached_grids(result, ablation, tmp_path):
    """The ablation scores from fp16 cached grids; ``eval`` runs flow and backbones live."""
    fusion = result.json["variants"]["fusion"]
    out = tmp_path / "eval"
    assert main.main(["eval", str(ablation.data), "--checkpoint", fusion["checkpoint"], "--clips", "1", "--device", "cpu", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_set"]["videos"] == 60 and metrics["test_set"]["source"] == "checkpoint"
    assert abs(metrics["top1"] - fusion["top1"]) <= 1 / 60 + 1e-9  # at most one borderline video differs


def test_unavailable_flow_weights_stop_before_any_training(ablation, tmp_path, capsys):
    out = tmp_path / "raft"
    assert main.main(["ablate", str(ablation.data), *SETTINGS, "--flow", "raft-small", "--out", str(out), "--cache-dir", str(tmp_path / "c")]) == 2  # missing weights are a file the user must provide
    err = capsys.readouterr().err
    assert "asked for raft-small flow, which is unavailable" in err and "--raft-weights PATH" in err
    assert not out.exists()


def test_the_fusion_gain_column_compares_the_transformers_fusion_with_its_own_variants_only():
    """``--model transformer,convnet``: the transformer fusion's top-1 minus ``convnet/rgb``'s and ``convnet/late``'s
    filled the seed's "fusion gain" column of the ConvNet rows, a cross-family difference read as their fusion gain
    (their own is the "vs better stream" column)."""
    from core.evaluation.ablation import Ablation, VariantOutcome

    def outcome(family: str, variant: str, top1: float) -> VariantOutcome:
        evaluation = SimpleNamespace(metrics=lambda: {"top1": top1, "top5": 1.0, "mean_class_accuracy": top1}, class_names=("a", "b"),
                                     clips_per_video=1)
        return VariantOutcome(variant, SimpleNamespace(), evaluation, {}, 0.0, family=family)

    rows = {"rgb": outcome("transformer", "rgb", 0.5), "flow": outcome("transformer", "flow", 0.6),
            "fusion": outcome("transformer", "fusion", 0.9), "convnet/rgb": outcome("convnet", "rgb", 0.4),
            "convnet/flow": outcome("convnet", "flow", 0.7), "convnet/late": outcome("convnet", "late", 1.0)}
    ablation = Ablation(dataset_root=Path("data"), out_dir=Path("out"), settings=None, variants=rows, groups=(),
                        test_set=SimpleNamespace(summary=lambda: "10 videos"), clips_per_video=1, flow=None, skipped=[],
                        split_counts={}, seconds=0.0)
    assert set(ablation.gains()) == {"rgb", "flow"}
    assert ablation.fusion_gains() == {"transformer": {"fusion": pytest.approx(0.3)}, "convnet": {"convnet/late": pytest.approx(0.3)}}
    lines = ablation.table().splitlines()
    column = lines[1].index("fusion gain (top-1)")
    gain = {line.split()[0]: line[column : column + len("fusion gain (top-1)")].strip() for line in lines[3:9]}
    assert gain == {"transformer/rgb": "+40.0", "transformer/flow": "+30.0", "transformer/fusion": "", "convnet/rgb": "",
                    "convnet/flow": "", "convnet/late": ""}
