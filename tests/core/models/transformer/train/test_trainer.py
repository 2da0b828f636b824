"""Training runs on a few generated clips: learning, the token cache, skipped videos,
resuming, early stopping, fine-tuning, augmentation views and the command line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from core.models.checkpoint import open_classifier
from core.data import discover_dataset
from core.errors import Cancelled, InputError
from core.models.transformer.predict import TransformerClassifier
from core.models import load_checkpoint, read_checkpoint_info
from core.progress import CancelToken
from core.training import train, training_record
from core.training.state import load_state, state_path
from core.models.transformer.train.token_cache import TokenCache
from training_helpers import small_settings, write_colour_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_colour_dataset(tmp_path_factory.mktemp("colours") / "data")


settings = small_settings


class Log(list):
    def __call__(self, line: str) -> None:
        self.append(line)

    def extraction(self) -> tuple[int, int]:
        """(computed, cached) from the 'extraction: ...' line."""
        line = next(l for l in self if l.startswith("extraction:"))
        computed, cached = re.search(r"(\d+) arrays computed, (\d+) read", line).groups()
        return int(computed), int(cached)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def test_learns_a_separable_task_and_the_checkpoint_matches_inference(dataset, tmp_path):
    torch.manual_seed(123)  # training must not depend on the global seed
    log = Log()
    out = tmp_path / "colours.safetensors"
    # 25 epochs: the frozen backbones' token grids differ in the last bits from run to run (batched
    # CPU convolutions round with the memory alignment of their input), and after 15 epochs one run
    # in six still had 8 of the 9 training clips right; after 25, 14 runs of 14 had all 9
    result = train(dataset, settings(epochs=25), out, cache_dir=tmp_path / "cache", log=log)
    assert result.epochs_run == 25 and not result.stopped_early and result.checkpoint == out
    assert len(result.split.train) == 9 and len(result.split.val) == 3
    assert result.history[-1]["train_acc"] == 1.0
    assert result.history[-1]["train_loss"] < 0.2 < result.history[0]["train_loss"]
    assert [h["epoch"] for h in result.history] == list(range(1, 26))
    assert sum(l.startswith("epoch ") for l in log) == 25

    # the checkpoint records how it was made, for eval to rebuild the same split
    info = read_checkpoint_info(out)
    record = training_record(out)
    assert record.settings == settings(epochs=25)
    assert record.dataset_root == dataset.resolve()
    assert record.split_fingerprint == result.split.fingerprint(discover_dataset(dataset))
    assert sorted(record.split["val"]) == sorted(discover_dataset(dataset).relative(s) for s in result.split.val)
    assert record.best_epoch == result.best_epoch and len(record.history) == result.best_epoch
    assert info.config.fusion.rgb_time_pool and info.config.backbone_options == {"dim": 16, "frame_wise": True}

    # training saw exactly the tokens inference computes: same frames, crop, flow and rendering
    classifier = open_classifier(out, device="cpu")
    cache = TokenCache(tmp_path / "cache")
    entries = {}
    for path in cache.entries():
        key = path.name.removesuffix(".tokens")
        meta = cache.info(key)
        entries[(meta["video"], meta["stream"])] = cache.get(key)
        starts = {meta["start"]}
    video = next(s.path for s in result.split.train if s.label_name == "Green")
    model, _ = load_checkpoint(out)
    with torch.no_grad():
        logits = model.forward_tokens(*(torch.from_numpy(entries[(str(video), s)]).float()[None] for s in ("rgb", "flow")))
    from core.video import open_video

    with open_video(video) as frames:
        prediction = classifier.predict_clip(frames, 1)
    assert starts == {1}  # the centred clip of 10 frames
    np.testing.assert_allclose(prediction.logits, logits[0].numpy(), atol=2e-2)
    assert prediction.label == "Green"


def test_cache_hits_corrupt_entries_and_unreadable_videos(dataset, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    (data / "Red" / "Red_broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    cache_dir = tmp_path / "cache"
    first = Log()
    result = train(data, settings(epochs=1), tmp_path / "a.safetensors", cache_dir=cache_dir, log=first)
    broken = data / "Red" / "Red_broken.mp4"
    assert broken in result.skipped and len(result.skipped) == 1
    assert any("Red_broken.mp4" in line and "skipped" in line for line in first)
    assert first.extraction() == (2 * 12, 0)  # 12 readable videos x 2 streams
    assert [s["path"] for s in read_checkpoint_info(tmp_path / "a.safetensors").extra["skipped"]] == [str(broken)]
    assert broken not in [s.path for s in (*result.split.train, *result.split.val)]

    second = Log()
    train(data, settings(epochs=1), tmp_path / "b.safetensors", cache_dir=cache_dir, log=second)
    assert second.extraction() == (0, 24)

    cache = TokenCache(cache_dir)
    victim = cache.entries()[3]
    victim.write_bytes(victim.read_bytes()[:-7])
    third = Log()
    train(data, settings(epochs=1), tmp_path / "c.safetensors", cache_dir=cache_dir, log=third)
    assert third.extraction() == (1, 23)
    assert cache.get(victim.name.removesuffix(".tokens")) is not None


def test_an_interrupted_extraction_continues_where_it_stopped(dataset, tmp_path):
    cache_dir = tmp_path / "cache"
    cancel = CancelToken()
    seen = []

    def progress(done: int, total: int, message: str = "") -> None:
        seen.append(message)
        if message.startswith("extract:") and done == 5:
            cancel.cancel()

    with pytest.raises(Cancelled):
        train(dataset, settings(epochs=1), tmp_path / "m.safetensors", cache_dir=cache_dir, cancel=cancel, progress=progress)
    written = len(TokenCache(cache_dir).entries())
    assert written == 8  # whole batches of 4 per stream reached the disk; the batch in flight is redone
    assert seen[-1] == "extract: 8 arrays computed, 0 cached"
    log = Log()
    train(dataset, settings(epochs=1), tmp_path / "m.safetensors", cache_dir=cache_dir, log=log)
    assert log.extraction() == (24 - written, written)


def test_an_interrupted_run_resumes_and_ends_identical(dataset, tmp_path):
    cache_dir = tmp_path / "cache"
    whole = tmp_path / "whole.safetensors"
    train(dataset, settings(epochs=4), whole, cache_dir=cache_dir)

    cut = tmp_path / "cut.safetensors"
    cancel = CancelToken()

    def stop_after_epoch_two(line: str) -> None:
        if line.startswith("epoch   2/"):
            cancel.cancel()

    with pytest.raises(Cancelled):
        train(dataset, settings(epochs=4), cut, cache_dir=cache_dir, cancel=cancel, log=stop_after_epoch_two)
    assert load_state(state_path(cut)).epoch == 2
    log = Log()
    resumed = train(dataset, settings(epochs=4), cut, cache_dir=cache_dir, log=log)
    assert resumed.resumed_from_epoch == 2 and resumed.epochs_run == 4
    assert any(line.startswith("resuming after epoch 2") for line in log)
    assert [l.split()[1] for l in log if l.startswith("epoch ")] == ["3/4", "4/4"]
    for name in (whole, state_path(whole)):
        twin = cut if name == whole else state_path(cut)
        a, b = tensors(name), tensors(twin)
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key

    again = Log()
    done = train(dataset, settings(epochs=4), cut, cache_dir=cache_dir, log=again)
    assert done.already_finished and done.epochs_run == 4
    assert any("already finished" in line for line in again)
    with pytest.raises(InputError, match=r"other settings \(lr differ\); pass --fresh"):
        train(dataset, settings(epochs=4, lr=1e-3), cut, cache_dir=cache_dir)
    more = train(dataset, settings(epochs=5), cut, cache_dir=cache_dir)  # more epochs continue the run
    assert more.resumed_from_epoch == 4 and more.epochs_run == 5


def test_early_stopping_keeps_the_best_epoch(dataset, tmp_path, monkeypatch):
    """The validation loss is scripted (falling for three epochs, then rising): on data this
    easy a real run's loss keeps falling for as long as a test can wait, whatever the lr."""
    from core.models.transformer.train import trainer

    scripted = iter([1.0, 0.8, 0.6, 0.7, 0.65, 0.9, 1.0, 1.1])
    evaluate = trainer._Run._evaluate
    monkeypatch.setattr(trainer._Run, "_evaluate", lambda run, *args: (next(scripted), evaluate(run, *args)[1]))
    result = train(dataset, settings(epochs=60, patience=3), tmp_path / "m.safetensors", cache_dir=tmp_path / "cache")
    val = [h["val_loss"] for h in result.history]
    assert val == [1.0, 0.8, 0.6, 0.7, 0.65, 0.9]
    assert result.stopped_early and result.epochs_run == 6
    assert result.best_epoch == int(np.argmin(val)) + 1 == 3
    assert read_checkpoint_info(tmp_path / "m.safetensors").extra["best_epoch"] == result.best_epoch


def test_finetuning_trains_the_backbones_on_cached_clips(dataset, tmp_path):
    cache_dir = tmp_path / "cache"
    out = tmp_path / "ft.safetensors"
    result = train(dataset, settings(epochs=2, finetune_backbones=True, val_fraction=0.0, test_fraction=0.25), out, cache_dir=cache_dir)
    assert not result.split.val and result.best_epoch >= 1  # no validation part: the training loss decides
    cache = TokenCache(cache_dir)
    shapes = {cache.get(p.name.removesuffix(".tokens")).shape for p in cache.entries()}
    assert shapes == {(8, 32, 32, 3)}  # prepared uint8 clips, not token grids
    frozen = train(dataset, settings(epochs=1), tmp_path / "frozen.safetensors", cache_dir=cache_dir)
    trained, initial = tensors(out), tensors(tmp_path / "frozen.safetensors")  # same seed: same initial backbones
    assert frozen.epochs_run == 1
    stem = "rgb_backbone.stem.0.weight"
    assert not torch.equal(trained[stem], initial[stem])


def test_flip_views_are_extracted_for_training_videos_only(dataset, tmp_path):
    log = Log()
    train(dataset, settings(epochs=1, augment="flip"), tmp_path / "f.safetensors", cache_dir=tmp_path / "cache", log=log)
    assert log.extraction() == ((9 * 2 + 3) * 2, 0)  # 9 training videos x 2 views + 3 validation videos, 2 streams


def test_command_line_trains_and_refuses_a_missing_folder(dataset, tmp_path, capsys):
    import main

    out = tmp_path / "cli.safetensors"
    args = ["train", str(dataset), "--out", str(out), "--tiny-dim", "16", "--frame-wise", "--rgb-time-pool", "--heads", "2",
            "--head-dim", "8", "--depth", "1", "--input-size", "32", "--clip-length", "8", "--epochs", "2", "--batch-size", "4",
            "--val-fraction", "0.25", "--test-fraction", "0", "--device", "cpu", "--cache-dir", str(tmp_path / "cache")]
    assert main.main(args) == 0
    captured = capsys.readouterr()
    assert re.search(r"^epoch   1/2  loss \d\.\d{4} acc +\d+\.\d%  val loss", captured.out, re.M)
    assert f"checkpoint: {out}" in captured.out and "done (all epochs run): best epoch" in captured.out
    assert training_record(out).settings.backbone_options == {"dim": 16, "frame_wise": True}
    assert main.main(args) == 0
    assert "already finished" in capsys.readouterr().out
    written, info = tensors(out), read_checkpoint_info(out)
    out.unlink()  # the state holds its best (and last) epoch's weights: the checkpoint is written from them again
    assert main.main(args) == 0
    assert "wrote the checkpoint of best epoch 2 from the training state" in capsys.readouterr().out
    again = tensors(out)
    assert again.keys() == written.keys() and all(torch.equal(again[k], written[k]) for k in written)
    assert (read_checkpoint_info(out).config, read_checkpoint_info(out).extra) == (info.config, info.extra)

    missing = tmp_path / "nowhere"
    assert main.main(["train", str(missing), "--out", str(tmp_path / "x.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {missing}: dataset folder does not exist"
    assert main.main(["train", str(dataset), "--out", str(tmp_path / "x.pt")]) == 2
    assert "must be a .safetensors file" in capsys.readouterr().err
