"""The fuzzing harness: a bounded run finds no crash, hang or dead worker, and the harness itself
tells a clean one-line error from a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.bench import fuzz
from core.errors import VideoError


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:  # noqa: ANN001
    folder = tmp_path_factory.mktemp("fuzz-corpus")
    files = fuzz.write_corpus(folder)
    assert len(files["video"]) >= 4 and files["images"] and len(files["checkpoint"]) == 3
    (folder / "corpus.json").write_text(json.dumps({k: [str(p) for p in v] for k, v in files.items()}))
    return folder


def test_three_hundred_mutated_inputs_each_read_or_fail_in_one_line(corpus: Path) -> None:
    report = fuzz.supervise(corpus, seed=11, cases=300, time_limit=20.0)
    assert len(report.cases) == 300 and [c.number for c in report.cases] == list(range(300))
    assert report.failures == [], report.to_dict()["failures"]
    counts = report.counts()
    assert all(counts[kind]["clean error"] > 0 for kind in fuzz.KINDS)  # the mutations do break files
    assert report.peak_memory_mb < 2048


def test_the_harness_tells_a_clean_error_from_a_crash(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = json.loads((corpus / "corpus.json").read_text())
    files = {kind: [Path(p) for p in paths] for kind, paths in files.items()}
    monkeypatch.setattr(fuzz, "_read_video", lambda path: (_ for _ in ()).throw(KeyError("width")))
    assert fuzz.run_case(0, 0, files, tmp_path).outcome == "crash"
    monkeypatch.setattr(fuzz, "_read_video", lambda path: (_ for _ in ()).throw(VideoError("is damaged", path)))
    clean = fuzz.run_case(0, 0, files, tmp_path)
    assert clean.outcome == "clean error" and clean.detail.endswith(": is damaged")
