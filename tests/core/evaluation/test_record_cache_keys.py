"""What the dataset panel's record cache keys on: a record is shown again (a reopened dataset, a second look) only when
nothing that made its prediction has changed since."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from core.data.flow_survey import file_key
from core.evaluation import record_cache
from core.evaluation.panel_settings import DEFAULT_PANEL_CLIPS, PanelScoring, scoring_settings
from core.evaluation.record_cache import RecordCache, flow_key
from core.evaluation.video_results import record_of

CLASSES = ("a", "b")


def _scored(root: Path, checkpoint: Path, video: Path, flow_method: str, scoring: PanelScoring = PanelScoring(),
            probabilities: list[float] | None = None) -> RecordCache:
    cache = RecordCache(checkpoint, CLASSES, root, flow_method=flow_method, scoring=scoring)
    flow = {"method": flow_method, "fell_back": False, "note": ""}
    cache.put(record_of("v.mp4", video, CLASSES, 0, probabilities or [0.8, 0.2], flow))
    cache.save()
    return cache


def test_a_raft_models_records_are_kept_per_raft_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RAFT's flow depends on the weights it loads (the flow cache keys on them): records scored with other weights,
    or with none (the flow fell back to another method), were shown as this RAFT's."""
    from core.flow import raft_weights

    checkpoint, video, weights = tmp_path / "m.safetensors", tmp_path / "gone" / "v.mp4", tmp_path / "raft_small.pth"
    checkpoint.write_bytes(b"model")
    weights.write_bytes(b"first weights")
    monkeypatch.setattr(raft_weights, "cached_weight_files", lambda variant: [weights])
    _scored(tmp_path / "c", checkpoint, video, "raft-small")
    assert RecordCache(checkpoint, CLASSES, tmp_path / "c", flow_method="raft-small").get(video) is not None

    weights.write_bytes(b"other weights, downloaded again")
    assert RecordCache(checkpoint, CLASSES, tmp_path / "c", flow_method="raft-small").get(video) is None
    monkeypatch.setattr(raft_weights, "cached_weight_files", lambda variant: [])  # none: RAFT falls back
    assert RecordCache(checkpoint, CLASSES, tmp_path / "c", flow_method="raft-small").get(video) is None


def test_a_classical_flow_models_cache_keeps_its_file_name(tmp_path: Path) -> None:
    """The weights are keyed for RAFT only: a cache scored before with DIS flow is found as before, not scored again."""
    checkpoint = tmp_path / "m.safetensors"
    checkpoint.write_bytes(b"model")
    digest = hashlib.sha256(f"{file_key(checkpoint)}|{flow_key('dis')}".encode("utf-8")).hexdigest()[:20]
    assert RecordCache(checkpoint, CLASSES, tmp_path, flow_method="dis").file == tmp_path / f"{digest}.jsonl"


def test_a_video_never_scored_is_answered_without_reading_its_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reopened dataset asks the cache about every row: a key for each (a container header opened) cost
    milliseconds a video, a minute for 13,320 rows, most of them never scored."""
    checkpoint, video = tmp_path / "m.safetensors", tmp_path / "v.mp4"
    checkpoint.write_bytes(b"model")
    cache = _scored(tmp_path / "c", checkpoint, video, "dis")
    keys: list[str] = []
    real = record_cache.video_key
    monkeypatch.setattr(record_cache, "video_key", lambda path, segment=None: keys.append(os.fspath(path)) or real(path, segment))
    assert cache.get(tmp_path / "other.mp4") is None and cache.get(video, (1.0, 2.0)) is None
    assert keys == []
    assert cache.get(video) is not None and keys == [os.fspath(video)]


@pytest.mark.parametrize("other", [PanelScoring(clips=5), PanelScoring(device="cuda", precision="bfloat16"),
                                   PanelScoring(device="cuda", precision="float32")])
def test_a_record_scored_with_other_clips_device_or_precision_is_not_reused(tmp_path: Path, other: PanelScoring) -> None:
    """Clips per video, the device and its precision change a record's probabilities: a record the panel scored with 5
    clips, or on a GPU in half precision, was shown as the 3 CPU clips' (and the other way round)."""
    checkpoint, video = tmp_path / "m.safetensors", tmp_path / "v.mp4"
    checkpoint.write_bytes(b"model")
    records = {"today": _scored(tmp_path / "c", checkpoint, video, "dis", PanelScoring())}
    records["other"] = _scored(tmp_path / "c", checkpoint, video, "dis", other, probabilities=[0.4, 0.6])
    assert RecordCache(checkpoint, CLASSES, tmp_path / "c", flow_method="dis", scoring=other).get(video).predicted == "b"
    assert RecordCache(checkpoint, CLASSES, tmp_path / "c", flow_method="dis").get(video).predicted == "a"
    assert records["today"].file != records["other"].file


def test_the_records_of_todays_settings_keep_their_file(tmp_path: Path) -> None:
    """Records scored before the settings were keyed (3 clips, float32 on the CPU) are found as before."""
    checkpoint = tmp_path / "m.safetensors"
    checkpoint.write_bytes(b"model")
    digest = hashlib.sha256(f"{file_key(checkpoint)}|{flow_key('dis')}".encode("utf-8")).hexdigest()[:20]
    today = scoring_settings("cpu")
    assert today == PanelScoring(DEFAULT_PANEL_CLIPS, "cpu", "float32") == PanelScoring()
    assert RecordCache(checkpoint, CLASSES, tmp_path, flow_method="dis", scoring=today).file == tmp_path / f"{digest}.jsonl"


def test_the_panels_settings_name_what_the_model_runs_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """"auto" precision is resolved as the classifier resolves it: half precision on a CUDA card."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert scoring_settings("cuda") == PanelScoring(3, "cuda", "float16")
    assert scoring_settings("cuda", precision="float32", clips=5) == PanelScoring(5, "cuda", "float32")
    assert scoring_settings("cpu", precision="bfloat16") == PanelScoring(3, "cpu", "bfloat16")
