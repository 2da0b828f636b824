"""``synth``: the dataset on disk, its files, resuming, cancelling, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

import main
from core.data import discover_dataset, make_split
from core.errors import Cancelled, DatasetError, InputError
from core.progress import CancelToken
from core.synth import CLASS_NAMES, SYNTH_CLASSES, render_clip_detailed
from core.synth.dataset import MANIFEST_NAME, clip_filename, clip_rng, generate_dataset, load_manifest


PICTURE_TYPES = {1: "I", 2: "P", 3: "B"}  # FFmpeg AVPictureType


def decode(path: Path) -> tuple[np.ndarray, list[str]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, kinds = [], []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            kinds.append(PICTURE_TYPES.get(int(frame.pict_type), "?"))
    return np.stack(frames), kinds


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "data"
    generate_dataset(root, clips_per_class=2, size=64, frames=8, seed=3)
    return root


def test_layout_is_ucf101_like_with_class_index_and_manifest(small_dataset: Path):
    root = small_dataset
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(CLASS_NAMES)
    for name in CLASS_NAMES:
        assert sorted(p.name for p in (root / name).iterdir()) == [f"{name}_0001.mp4", f"{name}_0002.mp4"]
    assert (root / "classInd.txt").read_text().splitlines() == [f"{i} {n}" for i, n in enumerate(CLASS_NAMES, start=1)]
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    assert manifest["complete"] is True
    assert manifest["settings"] == {"clips_per_class": 2, "size": 64, "frames": 8, "seed": 3, "fps": 25, "crf": 18}
    assert manifest["groups"]["motion"] == [c.name for c in SYNTH_CLASSES if c.group == "motion"]
    assert manifest["groups"]["appearance"] == ["RedBall", "GreenBall", "BlueBall", "StripedBall"]
    assert [c["pair"] for c in manifest["classes"][:6]] == ["translate", "translate", "rotate", "rotate", "loom", "loom"]
    assert manifest["command"].endswith("--clips-per-class 2 --size 64 --frames 8 --seed 3")
    assert load_manifest(root) == manifest
    assert "RotateClockwise" in (root / "README.txt").read_text()
    assert not [p for p in root.rglob(".*")], "temporary files left behind"


def test_clips_decode_to_the_rendered_frames_at_25_fps(small_dataset: Path):
    for name in ("RedBall", "StripedBall", "Approach"):
        frames, kinds = decode(small_dataset / name / clip_filename(name, 1))
        assert frames.shape == (8, 64, 64, 3)
        assert kinds[0] == "I" and "B" in kinds, kinds  # real inter coding, as in the wild
        expected = render_clip_detailed(name, clip_rng(3, name, 1), 64, 8)
        assert psnr(frames, expected.frames) > 33, name
        # Faithful colour on the object (chroma is all that separates the balls), despite 4:2:0.
        inside = np.stack([cv2.erode((m > 0.99).astype(np.uint8), np.ones((5, 5), np.uint8)) for m in expected.masks]) > 0
        decoded_colour = frames[inside].mean(0)
        rendered_colour = expected.frames[inside].mean(0)
        assert np.abs(decoded_colour - rendered_colour).max() < 3, (name, decoded_colour, rendered_colour)
    with av.open(str(small_dataset / "MoveLeft" / "MoveLeft_0001.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.average_rate == 25 and stream.frames == 8


def test_the_data_layer_reads_the_dataset_in_class_index_order(small_dataset: Path):
    dataset = discover_dataset(small_dataset)
    assert dataset.classes == CLASS_NAMES
    assert len(dataset) == 20
    assert {s.label_name: s.label_index for s in dataset.samples} == {n: i for i, n in enumerate(CLASS_NAMES)}
    split = make_split(dataset, val_fraction=0.0, test_fraction=0.5)
    assert split.scheme == "stratified"
    assert sorted(s.label_name for s in split.test) == sorted(CLASS_NAMES)


def test_the_same_seed_gives_the_same_clips_and_another_seed_others(tmp_path: Path):
    a = generate_dataset(tmp_path / "a", clips_per_class=1, size=32, frames=3, seed=9)
    b = generate_dataset(tmp_path / "b", clips_per_class=1, size=32, frames=3, seed=9)
    c = generate_dataset(tmp_path / "c", clips_per_class=1, size=32, frames=3, seed=10)
    for pa, pb, pc in zip(a.clips, b.clips, c.clips):
        fa, fb, fc = decode(pa)[0], decode(pb)[0], decode(pc)[0]
        np.testing.assert_array_equal(fa, fb)
        assert np.abs(fa.astype(int) - fc.astype(int)).mean() > 5


def test_an_interrupted_run_resumes_and_skips_finished_clips(tmp_path: Path):
    root = tmp_path / "data"
    token = CancelToken()
    seen = []

    def progress(done: int, total: int, message: str = "") -> None:
        seen.append(done)
        if done == 3:
            token.cancel()

    with pytest.raises(Cancelled):
        generate_dataset(root, clips_per_class=1, size=32, frames=2, seed=1, cancel=token, progress=progress)
    finished = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.mp4"))
    assert len(finished) == 3 and not [p for p in root.rglob(".*")]
    assert json.loads((root / MANIFEST_NAME).read_text())["complete"] is False
    killed = root / "MoveRight" / f".MoveRight_0000.mp4.{2**22 + 7}.abcd1234.tmp.mp4"  # a run killed mid-write (no such pid)
    killed.parent.mkdir(exist_ok=True)
    killed.write_bytes(b"")
    result = generate_dataset(root, clips_per_class=1, size=32, frames=2, seed=1)
    assert (result.reused, result.written) == (3, 7)
    assert not killed.exists()
    assert json.loads((root / MANIFEST_NAME).read_text())["complete"] is True
    assert seen[:4] == [0, 1, 2, 3]


def test_refuses_a_foreign_folder_or_other_settings(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not empty and holds no synth.json") as err:
        generate_dataset(tmp_path, clips_per_class=1, size=32, frames=2)
    assert str(tmp_path) in str(err.value)
    root = tmp_path / "data"
    generate_dataset(root, clips_per_class=1, size=32, frames=2)
    with pytest.raises(DatasetError, match=r"other settings \(frames 2, not 3\)"):
        generate_dataset(root, clips_per_class=1, size=32, frames=3)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatasetError, match="not a folder"):
        generate_dataset(tmp_path / "file", clips_per_class=1, size=32, frames=2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"size": 33}, "--size must be an even number"),
        ({"size": 16}, "--size must be an even number"),
        ({"frames": 1}, "--frames must be from 2"),
        ({"size": 100000, "frames": 2}, "--size must be an even number of pixels from 32 to 4096, got 100000"),
        ({"frames": 9000}, "--frames must be from 2 .* to 8192"),
        ({"size": 4096, "frames": 100}, r"a clip of 100 frames of 4096x4096 takes 4.7 GiB in memory \(at most 2\)"),
        ({"clips_per_class": 0}, "--clips-per-class must be from 1 to 10000, got 0"),
        ({"clips_per_class": 100_000_000}, "--clips-per-class must be from 1 to 10000, got 100000000"),  # ran out of memory
        ({"seed": -1}, "--seed must be >= 0"),
    ],
)
def test_bad_settings_are_input_errors(tmp_path: Path, kwargs: dict, message: str):
    with pytest.raises(InputError, match=message):
        generate_dataset(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "cli"
    code = main.main(["synth", str(out), "--clips-per-class", "1", "--size", "32", "--frames", "2", "--seed", "4"])
    assert code == 0
    captured = capsys.readouterr()
    assert f"{out}: 10 clips, 10 classes" in captured.out
    assert "synth: 10/10 (100%)" in captured.err
    assert len(list(out.rglob("*.mp4"))) == 10
    assert main.main(["synth", str(out), "--size", "31"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "--size" in err and "\n" not in err


def test_a_dataset_of_another_crf_is_refused_naming_it(tmp_path: Path):
    """Its command line is the same (crf has no option): only the setting named tells the user why."""
    root = tmp_path / "data"
    generate_dataset(root, clips_per_class=1, size=32, frames=2, crf=23)
    with pytest.raises(DatasetError, match=r"other settings \(crf 23, not 18\)"):
        generate_dataset(root, clips_per_class=1, size=32, frames=2)


def test_a_dataset_whose_manifest_lost_its_settings_is_refused_saying_so(tmp_path: Path):
    """Refused as "format version 1, not 1": the version was named as the difference when it was the settings."""
    root = tmp_path / "data"
    generate_dataset(root, clips_per_class=1, size=32, frames=2)
    manifest = json.loads((root / "synth.json").read_text(encoding="utf-8"))
    del manifest["settings"]
    (root / "synth.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(DatasetError, match=r"other settings \(its synth.json records no settings\)"):
        generate_dataset(root, clips_per_class=1, size=32, frames=2)


def test_two_runs_decode_to_the_very_same_pixels(tmp_path: Path):
    """x264's macroblock tree encoded about one clip in ten differently from run to run (decoded pixels up to 24
    levels apart), which moved the ablation's accuracies; these settings gave 3 to 5 varying clips in 4 runs."""
    runs = []
    for run in range(3):
        root = tmp_path / f"run{run}"
        generate_dataset(root, clips_per_class=3, size=112, frames=10, seed=7)
        runs.append({path.relative_to(root): decode(path)[0] for path in sorted(root.rglob("*.mp4"))})
    for name, frames in runs[0].items():
        for other in runs[1:]:
            assert np.array_equal(frames, other[name]), name
