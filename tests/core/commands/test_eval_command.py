"""``main.py eval``: which videos it scores, exact figures from a model whose answer is
known, class-name checks, skipped videos, and nothing written when interrupted.

The model is a tiny two-stream network whose classifier weights are zero and
whose bias favours one class: whatever the clip, it predicts that class, so
every figure of the evaluation is known in advance.  The flow engine is real
(DIS on 32x32 crops).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import main
from core.data import discover_dataset, make_split
from core.errors import Cancelled, DatasetError
from core.evaluation import evaluate
from core.models import build_model, save_checkpoint
from core.models.transformer.config import TransformerConfig
from core.progress import CancelToken
from core.synth import CLASS_NAMES, generate_dataset
from core.training.result import EXTRA_SETTINGS, EXTRA_SPLIT
from core.training.settings import TrainSettings

FAVOURED = "RotateClockwise"


@pytest.fixture(autouse=True)
def _seeded(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


def constant_checkpoint(path: Path, class_names, favoured: str, *, extra=None, variant: str = "fusion") -> Path:
    """A tiny model that predicts ``favoured`` for every clip (probability ~0.9)."""
    config = TransformerConfig.create(
        backbone="tiny",
        class_names=list(class_names),
        variant=variant,
        backbone_options={"dim": 16},
        input_size=32,
        clip_length=4,
        fusion={"heads": 2, "head_dim": 8, "depth": 1},
    )
    model = build_model(config)
    with torch.no_grad():
        model.head.classifier.weight.zero_()
        model.head.classifier.bias.zero_()
        model.head.classifier.bias[list(class_names).index(favoured)] = 5.0
    return save_checkpoint(path, model, extra=extra)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaldata")
    generate_dataset(root / "synth", clips_per_class=3, size=32, frames=12, seed=3)
    dataset = discover_dataset(root / "synth")
    settings = TrainSettings(seed=5, test_fraction=0.2, val_fraction=0.1)
    split = make_split(dataset, seed=5, test_fraction=0.2, val_fraction=0.1)
    extra = {EXTRA_SETTINGS: settings.to_dict(), EXTRA_SPLIT: split.to_dict(dataset)}
    torch.manual_seed(0)
    trained = constant_checkpoint(root / "trained.safetensors", CLASS_NAMES, FAVOURED, extra=extra)
    bare = constant_checkpoint(root / "bare.safetensors", CLASS_NAMES, FAVOURED)
    return SimpleNamespace(root=root, synth=root / "synth", dataset=dataset, split=split, trained=trained, bare=bare)


def run_eval(*args: str) -> int:
    return main.main(["eval", *map(str, args), "--device", "cpu"])


def test_scores_the_recorded_test_part_with_exact_figures(data, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_eval(data.synth, "--checkpoint", data.trained, "--clips", "2", "--out", out, "--json") == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((out / "metrics.json").read_text())
    assert printed == written
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    test_rel = {data.dataset.relative(s) for s in data.split.test}
    assert {v["video"] for v in written["videos"]} == test_rel  # exactly the recorded test part
    assert written["test_set"]["source"] == "checkpoint"
    assert written["test_set"]["fingerprint"] == data.split.fingerprint(data.dataset)
    n = len(test_rel)
    favoured_count = sum(1 for rel in test_rel if rel.startswith(FAVOURED + "/"))
    assert n == 10 and favoured_count == 1  # one test clip per class (3 clips, 20%)

    assert written["top1"] == pytest.approx(favoured_count / n)
    assert written["video_level"]["count"] == n and written["clip_level"]["count"] == 2 * n
    assert written["clip_level"]["top1"] == pytest.approx(favoured_count / n)
    assert written["per_class"] == {name: (1.0 if name == FAVOURED else 0.0) for name in CLASS_NAMES}
    # the other classes tie: top-5 is the favoured class plus the four others of lowest index
    top5_classes = {FAVOURED, *[name for name in CLASS_NAMES if name != FAVOURED][:4]}
    assert written["top5"] == pytest.approx(sum(1 for rel in test_rel if rel.split("/")[0] in top5_classes) / n)
    matrix = np.array(written["confusion"]["matrix"])
    favoured = CLASS_NAMES.index(FAVOURED)
    assert matrix[:, favoured].tolist() == [1] * 10 and matrix.sum() == n
    assert written["confusion"]["class_names"] == list(CLASS_NAMES)
    assert written["flow"] == {"requested": "dis", "method": "dis", "fell_back": False, "note": ""}
    assert written["skipped"] == [] and written["video_level"]["clips_per_video"] == 2
    assert written["checkpoint"] == str(data.trained)


def test_text_report_names_the_test_set_and_the_files(data, tmp_path, capsys):
    out = tmp_path / "text"
    assert run_eval(data.synth, "--checkpoint", data.trained, "--clips", "1", "--out", out, "--confusion", "counts") == 0
    text = capsys.readouterr().out
    assert "the test part of the split recorded in the checkpoint" in text
    assert "top-1 10.0%" in text and "(10 videos)" in text and "(10 clips)" in text
    assert f"{out / 'metrics.json'}" in text and f"{out / 'confusion.png'}" in text
    assert json.loads((out / "metrics.json").read_text())["files"]["confusion_mode"] == "counts"


def test_default_output_folder_is_beside_the_checkpoint(data, tmp_path, capsys):
    ckpt = tmp_path / "model.safetensors"
    ckpt.write_bytes(Path(data.bare).read_bytes())
    assert run_eval(data.synth, "--checkpoint", ckpt, "--clips", "1") == 0
    assert "the dataset's default split (the checkpoint records none)" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "model-eval").iterdir()) == ["confusion.png", "metrics.json", "videos.jsonl"]


def test_class_order_is_matched_by_name(data, tmp_path):
    shuffled = list(reversed(CLASS_NAMES))
    ckpt = constant_checkpoint(tmp_path / "reversed.safetensors", shuffled, FAVOURED)
    result = evaluate(data.synth, ckpt, clips_per_video=1, part="test", split_scheme="stratified", device="cpu")
    metrics = result.metrics()
    assert metrics["confusion"]["class_names"] == shuffled
    assert metrics["per_class"][FAVOURED] == 1.0 and metrics["top1"] == pytest.approx(0.1)
    for video in metrics["videos"]:
        assert video["label"] == video["video"].split("/")[0] and video["predicted"] == FAVOURED


def test_mismatched_class_names_exit_2_with_both_lists(data, tmp_path, capsys):
    names = [*CLASS_NAMES[:-1], "Juggling"]
    ckpt = constant_checkpoint(tmp_path / "other.safetensors", names, FAVOURED)
    assert run_eval(data.synth, "--checkpoint", ckpt, "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ")
    assert "Juggling are not in the dataset" in err and "StripedBall are not in the checkpoint" in err
    assert not (tmp_path / "o").exists()


def test_an_unreadable_video_is_listed_and_skipped(data, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(data.synth, copy)
    (copy / "MoveLeft" / "broken.mp4").write_bytes(b"not a video at all" * 10)
    out = tmp_path / "out"
    assert run_eval(copy, "--checkpoint", data.bare, "--part", "all", "--clips", "1", "--out", out, "--json") == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["video_level"]["count"] == 30 and metrics["test_set"]["videos"] == 31
    assert len(metrics["skipped"]) == 1 and metrics["skipped"][0]["path"] == str(copy / "MoveLeft" / "broken.mp4")
    assert metrics["skipped"][0]["reason"]
    assert metrics["video_level"]["support"]["MoveLeft"] == 3


def test_missing_recorded_videos_are_named_once_and_kept_in_the_metrics(data, tmp_path, capsys):
    """Two recorded test videos deleted, one other video unreadable: the warning names the deleted ones, the
    skipped list only the unreadable one (no repeat), and metrics.json keeps all three with their reasons."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(data.synth, copy)
    gone = sorted(data.dataset.relative(s) for s in data.split.test)[:2]
    for rel in gone:
        (copy / rel).unlink()
    broken = data.dataset.relative(data.split.test[-1])
    (copy / broken).write_bytes(b"not a video at all" * 10)
    out = tmp_path / "out"
    assert run_eval(copy, "--checkpoint", data.trained, "--clips", "1", "--out", out) == 0
    text = capsys.readouterr().out
    assert f"warning: 2 videos of the checkpoint's recorded test part are not in this folder and left out: {gone[0]}, {gone[1]}" in text
    unread = text[text.index("1 video was skipped:"):].splitlines()
    assert unread[1].startswith(f"  {copy / broken}: ") and not unread[2].startswith("  ")
    assert all(str(copy / rel) not in text for rel in gone)
    metrics = json.loads((out / "metrics.json").read_text())
    assert sorted(e["path"] for e in metrics["skipped"]) == sorted(str(copy / rel) for rel in [*gone, broken])


def test_given_split_warns_about_videos_the_checkpoint_trained_on(data, tmp_path, capsys):
    # seed 0 instead of the recorded 5: some of its test videos were training videos
    assert run_eval(data.synth, "--checkpoint", data.trained, "--seed", "0", "--clips", "1", "--out", tmp_path / "o") == 0
    text = capsys.readouterr().out
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    seen = metrics["test_set"]["seen_in_training"]
    recorded_train = {data.dataset.relative(s) for s in (*data.split.train, *data.split.val)}
    assert metrics["test_set"]["source"] == "given"
    assert seen and set(seen) <= recorded_train
    assert f"warning: {len(seen)} of these videos were in the checkpoint's training" in text


def test_interrupted_run_writes_nothing(data, tmp_path, monkeypatch, capsys):
    from core.models.transformer.predict import TransformerClassifier

    calls = {"n": 0}
    real = TransformerClassifier.predict_clips

    def interrupt_on_third_video(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(TransformerClassifier, "predict_clips", interrupt_on_third_video)
    out = tmp_path / "out"
    assert run_eval(data.synth, "--checkpoint", data.trained, "--clips", "1", "--out", out) == 130
    assert "interrupted" in capsys.readouterr().err
    assert calls["n"] == 3 and not out.exists()


def test_cancel_token_stops_the_evaluation(data):
    token = CancelToken()
    seen = []

    def progress(done, total, message=""):
        seen.append(done)
        if done == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        evaluate(data.synth, data.trained, clips_per_video=1, device="cpu", cancel=token, progress=progress)
    assert max(seen) == 2


def test_bad_arguments_and_folders_exit_2(data, tmp_path, capsys):
    assert run_eval(data.synth, "--checkpoint", data.trained, "--clips", "0") == 2
    assert "--clips must be from 1 to 250 (clips per video), got 0" in capsys.readouterr().err
    assert run_eval(data.synth, "--checkpoint", data.trained, "--clips", "100000000") == 2  # once a MemoryError, exit 1
    assert "--clips must be from 1 to 250 (clips per video), got 100000000" in capsys.readouterr().err
    assert run_eval(tmp_path / "nowhere", "--checkpoint", data.trained) == 2
    assert "dataset folder does not exist" in capsys.readouterr().err
    assert run_eval(data.synth, "--checkpoint", tmp_path / "missing.safetensors") == 2
    assert "missing.safetensors: file does not exist" in capsys.readouterr().err
    assert run_eval(data.synth, "--checkpoint", data.trained, "--raft-weights", tmp_path / "raft.pth") == 2  # was ignored
    assert "raft.pth: --raft-weights: no such file" in capsys.readouterr().err
    with pytest.raises(DatasetError, match="part must be one of"):
        evaluate(data.synth, data.trained, part="holdout")


def test_rgb_only_checkpoint_reports_no_flow(data, tmp_path):
    ckpt = constant_checkpoint(tmp_path / "rgb.safetensors", CLASS_NAMES, "RedBall", variant="rgb")
    metrics = evaluate(data.synth, ckpt, clips_per_video=1, device="cpu").metrics()
    assert metrics["flow"] is None and metrics["model"]["variant"] == "rgb"
    assert metrics["per_class"]["RedBall"] == 1.0


def test_a_checkpoint_whose_header_length_starts_with_byte_0x80_is_not_taken_for_a_pickle(data, tmp_path):
    """safetensors starts with its header length (little-endian); one of every 32 checkpoints
    has 0x80 as first byte, the pickle protocol marker.  Such a checkpoint must still load."""
    from core.models import load_checkpoint, read_checkpoint_info

    path = tmp_path / "eighty.safetensors"
    for pad in range(0, 400, 8):
        constant_checkpoint(path, CLASS_NAMES, FAVOURED, extra={"pad": "x" * pad})
        if path.read_bytes()[:1] == b"\x80":
            break
    else:
        pytest.fail("no padding gave a header length whose first byte is 0x80")
    assert read_checkpoint_info(path).config.num_classes == 10
    load_checkpoint(path)
    assert evaluate(data.synth, path, clips_per_video=1, device="cpu").metrics()["per_class"][FAVOURED] == 1.0


@pytest.mark.parametrize("extra", [{EXTRA_SETTINGS: {"official_split": "x"}}, {EXTRA_SETTINGS: {"split_dir": 5}},
                                   {EXTRA_SETTINGS: {}, EXTRA_SPLIT: {"test": "video.mp4"}}], ids=["official_split", "split_dir", "split"])
def test_a_damaged_training_record_is_one_line_and_exit_2(data, tmp_path, capsys, extra):
    path = constant_checkpoint(tmp_path / "damaged.safetensors", CLASS_NAMES, FAVOURED, extra=extra)
    assert run_eval(data.synth, "--checkpoint", path, "--clips", "1", "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {path}: ") and ("training record" in err[0] or "recorded split" in err[0])


def test_a_metrics_json_that_eval_did_not_write_is_refused_not_overwritten(data, tmp_path, capsys):
    """``flow --out results`` then ``eval --out results``: eval replaced flow's metrics.json (and a user's own file
    of that name) without a word; it is refused before any work, and an earlier eval's is replaced."""
    out = tmp_path / "results"
    out.mkdir()
    flows = json.dumps({"method": "dis", "method_used": "dis", "pairs": []})
    (out / "metrics.json").write_text(flows)
    capsys.readouterr()
    assert run_eval(data.synth, "--checkpoint", data.trained, "--clips", "1", "--out", out, "--no-flow-survey") == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {out}: holds a metrics.json that eval did not write (another command's result, or your own file), "
        "which eval would overwrite: give another --out"]
    assert (out / "metrics.json").read_text() == flows and sorted(p.name for p in out.iterdir()) == ["metrics.json"]

    (out / "metrics.json").write_bytes(b"[" * 100000 + b"]" * 100000)  # nested past json's reach: RecursionError, exit 1
    assert run_eval(data.synth, "--checkpoint", data.trained, "--clips", "1", "--out", out, "--no-flow-survey") == 2
    assert "eval did not write" in capsys.readouterr().err

    (out / "metrics.json").unlink()
    assert run_eval(data.synth, "--checkpoint", data.trained, "--clips", "1", "--out", out, "--no-flow-survey") == 0
    assert run_eval(data.synth, "--checkpoint", data.trained, "--clips", "2", "--out", out, "--no-flow-survey") == 0  # its own: replaced
    assert json.loads((out / "metrics.json").read_text())["video_level"]["clips_per_video"] == 2


def test_a_survey_store_that_cannot_be_written_is_a_note_not_silence(data, tmp_path, monkeypatch, capsys):
    """With a read-only cache folder (simulated: root writes anywhere) the survey's summaries stay in the results
    and the run succeeds; it said nothing of their not being kept, so the next run surveyed again unexplained."""
    import errno

    from core.data.flow_survey import FlowSurveyStore

    def read_only(self):  # noqa: ANN001, ANN202
        raise PermissionError(errno.EACCES, "Permission denied", str(self.file))

    monkeypatch.setattr(FlowSurveyStore, "_write", read_only)
    out = tmp_path / "o"
    assert run_eval(data.synth, "--checkpoint", data.trained, "--clips", "1", "--out", out) == 0
    err = capsys.readouterr().err
    assert "note: flow survey summaries not kept for next time (" in err and "cannot write: permission denied)" in err
    records = [json.loads(line) for line in (out / "videos.jsonl").read_text().splitlines()[1:]]  # after the header
    assert len(records) == 10 and all(record["flow_noise"] is not None for record in records)
