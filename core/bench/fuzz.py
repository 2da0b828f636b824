"""``bench fuzz``: hostile input against the readers, case after case, counting what held.

A corpus of small valid files is written first: videos in each container and
codec the reader supports (H.264 in MP4, MPEG-4 part 2 in AVI, MJPEG in AVI, VP8
in WebM, VP9 in Matroska), a folder of PNG frames, a JPEG frame, and a tiny
checkpoint of each model family.  Each case takes one of them and mutates it,
deterministically from ``(seed, case number)``: cut short, bits flipped, bytes of
its header overwritten with boundary values, a stretch repeated, or (for a
checkpoint) its config JSON edited.  Then the reader that file is for opens it
(a video's metadata and every frame; a checkpoint loaded into its model).

Every case must end in one of two ways: it reads (a mutation can leave a file
valid), or it raises the program's own one-line error
(:class:`core.errors.CoreError`).  Anything else is a failure: another
exception (a "crash"), a case that runs past its time limit (a "hang"), or a
worker process that dies (a segmentation fault, the out-of-memory killer).
Cases run in a worker process that reports each one as it ends, so a worker
that dies costs one case and a fresh worker goes on after it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

NAME = "fuzz"
KINDS = ("video", "images", "checkpoint")
OUTCOMES = ("read", "clean error", "crash", "hang", "died")
DEFAULT_TIME_LIMIT_S = 20.0
MEMORY_LIMIT_BYTES = 4 << 30  # a worker that would pass this fails its case (MemoryError) instead of taking the machine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cases", type=int, default=1000, metavar="N", help="cases to run (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutations (default 0): the same seed runs the same cases")
    parser.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT_S, metavar="S", help="seconds a case may take (default 20)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


# -- the corpus --------------------------------------------------------------------------------

VIDEO_FORMATS = (  # (file name, codec, container format, pixel format)
    ("h264.mp4", "libx264", "mp4", "yuv420p"),
    ("mpeg4.avi", "mpeg4", "avi", "yuv420p"),
    ("mjpeg.avi", "mjpeg", "avi", "yuvj420p"),
    ("vp8.webm", "libvpx", "webm", "yuv420p"),
    ("vp9.mkv", "libvpx-vp9", "matroska", "yuv420p"),
)


def write_corpus(root: Path) -> dict[str, list[Path]]:
    """Small valid files of every kind the readers take, under ``root``."""
    import av
    import cv2
    import numpy as np

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    frames = [np.ascontiguousarray(np.roll(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), 3 * i, axis=1)) for i in range(12)]
    videos = []
    for name, codec, fmt, pix_fmt in VIDEO_FORMATS:
        path = root / name
        try:
            with av.open(str(path), "w", format=fmt) as out:
                stream = out.add_stream(codec, rate=25)
                stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
                for frame in frames:
                    for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                        out.mux(packet)
                for packet in stream.encode():
                    out.mux(packet)
        except (av.error.FFmpegError, ValueError):  # an FFmpeg built without this encoder: that format is left out
            path.unlink(missing_ok=True)
            continue
        videos.append(path)
    images = root / "frames"
    images.mkdir(exist_ok=True)
    for i, frame in enumerate(frames[:4]):
        cv2.imwrite(str(images / f"frame_{i}.png"), frame)
    cv2.imwrite(str(images / "frame_4.jpg"), frames[4])
    return {"video": videos, "images": [images], "checkpoint": _write_checkpoints(root)}


def _write_checkpoints(root: Path) -> list[Path]:
    import torch

    from core.models.checkpoint import save_checkpoint
    from core.models.convnet import ConvNetConfig, build_convnet
    from core.models.repflow import RepFlowConfig, build_repflow
    from core.models.transformer import TransformerConfig, build_transformer

    torch.manual_seed(0)
    classes = ["a", "b", "c"]
    models = [
        build_transformer(TransformerConfig.create(backbone="tiny", class_names=classes, backbone_options={"dim": 16}, input_size=32,
                                                   clip_length=8, fusion={"heads": 2, "head_dim": 8, "depth": 1})),
        build_convnet(ConvNetConfig.create(backbone="tiny", class_names=classes, backbone_options={"width": 4}, input_size=32, flow_length=2)),
        build_repflow(RepFlowConfig.create(backbone="tiny", class_names=classes, backbone_options={"width": 4}, input_size=32, clip_length=4)),
    ]
    return [save_checkpoint(root / f"{model.config.family}.safetensors", model) for model in models]


# -- mutations ---------------------------------------------------------------------------------

BOUNDARY_BYTES = (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00", b"\x00\x00\x00\x01", b"\xff\xff\xff\x7f")
CONFIG_EDITS = (  # (field, hostile value) written into a checkpoint's config JSON
    ("clip_length", 10**9), ("input_size", -1), ("input_size", 1e308), ("class_names", []), ("class_names", "abc"),
    ("mean", [float("nan")] * 3), ("std", [0, 0, 0]), ("frame_stride", 0), ("backbone", "resnet9000"), ("variant", None),
    ("family", 7), ("fusion", {"depth": 10**9}), ("flow_length", 10**7), ("backbone_options", {"width": 10**9}), ("format_version", "1"),
)


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One mutation of a file's bytes: (what was done, the new bytes)."""
    choice = rng.randrange(5)
    if choice == 0 or len(data) < 16:
        cut = rng.randrange(0, max(1, len(data)))
        return f"cut to {cut} bytes", data[:cut]
    buffer = bytearray(data)
    if choice == 1:
        flips = rng.randint(1, 16)
        for _ in range(flips):
            at = rng.randrange(len(buffer))
            buffer[at] ^= 1 << rng.randrange(8)
        return f"{flips} bits flipped", bytes(buffer)
    if choice == 2:
        at = rng.randrange(0, min(len(buffer) - 4, 1024))
        value = rng.choice(BOUNDARY_BYTES)
        buffer[at : at + 4] = value
        return f"header bytes {at}..{at + 3} set to {value.hex()}", bytes(buffer)
    if choice == 3:
        start = rng.randrange(len(buffer))
        stretch = bytes(buffer[start : start + rng.randint(1, 4096)])
        at = rng.randrange(len(buffer))
        return f"{len(stretch)} bytes repeated at {at}", bytes(buffer[:at]) + stretch + bytes(buffer[at:])
    at = rng.randrange(len(buffer))
    count = rng.randint(1, 64)
    buffer[at : at + count] = bytes(rng.randrange(256) for _ in range(count))
    return f"{count} random bytes at {at}", bytes(buffer)


def edit_config(path: Path, out: Path, rng: random.Random) -> str:
    """A copy of checkpoint ``path`` with one config field set to a hostile value."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
    config = json.loads(metadata["config"])
    name, value = rng.choice(CONFIG_EDITS)
    config[name] = value
    metadata["config"] = json.dumps(config)
    save_file(load_file(str(path)), str(out), metadata=metadata)
    return f"config {name} = {value!r}"[:80]


# -- one case ----------------------------------------------------------------------------------


@dataclass
class CaseResult:
    number: int
    kind: str
    source: str
    mutation: str
    outcome: str
    detail: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def case_rng(seed: int, number: int) -> random.Random:
    return random.Random(f"{seed}/{number}")


def run_case(number: int, seed: int, corpus: dict[str, list[Path]], scratch: Path) -> CaseResult:
    """Mutate one corpus file and read the result; the outcome says how the reader took it."""
    from core.errors import CoreError

    rng = case_rng(seed, number)
    kind = KINDS[number % len(KINDS)]
    source = rng.choice(corpus[kind])
    mutation = "?"  # until the mutation is made
    started = time.perf_counter()
    try:
        if kind == "images":
            target, mutation = _mutated_folder(source, scratch / f"case_{number}", rng)
            _read_video(target)
        elif kind == "checkpoint" and rng.random() < 0.4:
            target = scratch / f"case_{number}.safetensors"
            mutation = edit_config(source, target, rng)
            _read_checkpoint(target)
        else:
            target = scratch / f"case_{number}{source.suffix}"
            mutation, data = mutate(source.read_bytes(), rng)
            target.write_bytes(data)
            _read_checkpoint(target) if kind == "checkpoint" else _read_video(target)
        outcome, detail = "read", ""
    except CoreError as err:
        text = str(err)
        outcome, detail = ("clean error", text) if "\n" not in text.strip() else ("crash", f"a multi-line error: {text[:200]!r}")
    except _CaseTimeout:
        outcome, detail = "hang", "past the time limit"
    except Exception as err:  # noqa: BLE001 - this is what the harness counts
        outcome, detail = "crash", f"{type(err).__name__}: {err}"[:300]
    return CaseResult(number, kind, source.name, mutation, outcome, detail, round(time.perf_counter() - started, 4))


def _mutated_folder(source: Path, target: Path, rng: random.Random) -> tuple[str, Path]:
    import shutil

    shutil.copytree(source, target)
    victim = rng.choice(sorted(target.iterdir()))
    mutation, data = mutate(victim.read_bytes(), rng)
    victim.write_bytes(data)
    return target, f"{victim.name}: {mutation}"


def _read_video(path: Path) -> None:
    from core.video import open_video

    with open_video(path) as video:
        count = len(video)
        _ = video.info
        indices = range(count) if count <= 16 else sorted({0, count // 2, count - 1})
        for index in indices:  # every frame of the corpus's short videos, in order and then one by seeking
            video.read_clip([index])
        video.read_clip([0])


def _read_checkpoint(path: Path) -> None:
    from core.models.checkpoint import load_checkpoint

    load_checkpoint(path, "cpu")


class _CaseTimeout(BaseException):
    """Raised in the worker's main thread when a case passes its time limit."""


# -- the worker and its supervisor -------------------------------------------------------------


def worker(corpus_dir: str, seed: int, first: int, last: int, time_limit: float) -> None:
    """Run cases ``first``..``last - 1``, one JSON line each on stdout (the supervisor reads them)."""
    import warnings

    warnings.simplefilter("ignore")
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))  # private memory only: the libraries mapped from disk do not count
    corpus = json.loads(Path(corpus_dir, "corpus.json").read_text())
    corpus = {kind: [Path(p) for p in paths] for kind, paths in corpus.items()}

    def alarm(signum: int, frame: object) -> None:
        raise _CaseTimeout

    signal.signal(signal.SIGALRM, alarm)
    with tempfile.TemporaryDirectory(prefix="fuzz-cases-") as scratch:
        for number in range(first, last):
            signal.setitimer(signal.ITIMER_REAL, time_limit)
            result = run_case(number, seed, corpus, Path(scratch))
            signal.setitimer(signal.ITIMER_REAL, 0)
            print(json.dumps(result.to_dict()), flush=True)
            _clear(Path(scratch))


def _clear(folder: Path) -> None:
    import shutil

    for entry in folder.iterdir():
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)


@dataclass
class FuzzReport:
    cases: list[CaseResult] = field(default_factory=list)
    peak_memory_mb: float = 0.0
    seconds: float = 0.0

    def counts(self) -> dict[str, dict[str, int]]:
        table = {kind: dict.fromkeys(OUTCOMES, 0) for kind in KINDS}
        for case in self.cases:
            table[case.kind][case.outcome] += 1
        return table

    @property
    def failures(self) -> list[CaseResult]:
        return [c for c in self.cases if c.outcome not in ("read", "clean error")]

    def to_dict(self) -> dict:
        return {"cases": len(self.cases), "counts": self.counts(), "failures": [c.to_dict() for c in self.failures],
                "peak_memory_mb": round(self.peak_memory_mb, 1), "seconds": round(self.seconds, 1),
                "slowest_case_s": max((c.seconds for c in self.cases), default=0.0)}


def supervise(corpus_dir: Path, seed: int, cases: int, time_limit: float, progress: Callable[[int, int], None] | None = None) -> FuzzReport:
    """Run the cases in worker processes; a worker that dies costs its case ("died") and the next one goes on."""
    report = FuzzReport()
    started = time.perf_counter()
    next_case = 0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TWOSTREAM_OFFLINE": "1"}
    code = "import sys; from core.bench.fuzz import worker; worker(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))"
    while next_case < cases:
        process = subprocess.Popen([sys.executable, "-c", code, str(corpus_dir), str(seed), str(next_case), str(cases), str(time_limit)],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=Path(__file__).resolve().parents[2])
        assert process.stdout is not None
        for line in process.stdout:
            result = CaseResult(**json.loads(line))
            report.cases.append(result)
            next_case = result.number + 1
            if progress is not None:
                progress(len(report.cases), cases)
        process.wait()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        report.peak_memory_mb = max(report.peak_memory_mb, usage.ru_maxrss / 1024.0)
        if process.returncode != 0 and next_case < cases:  # the worker died inside case next_case
            kind = KINDS[next_case % len(KINDS)]
            report.cases.append(CaseResult(next_case, kind, "?", "?", "died", f"worker exit status {process.returncode}"))
            next_case += 1
    report.seconds = time.perf_counter() - started
    return report


def run(args: argparse.Namespace) -> int:
    from core.bench.timing import format_table
    from core.errors import InputError
    from core.progress import ProgressLine

    if not 1 <= args.cases <= 1_000_000:
        raise InputError(f"--cases must be from 1 to 1000000, got {args.cases}")
    if not 0.1 <= args.time_limit <= 3600:
        raise InputError(f"--time-limit must be from 0.1 to 3600 seconds, got {args.time_limit}")
    with tempfile.TemporaryDirectory(prefix="fuzz-corpus-") as folder:
        corpus = write_corpus(Path(folder))
        Path(folder, "corpus.json").write_text(json.dumps({k: [str(p) for p in v] for k, v in corpus.items()}))
        line = ProgressLine("fuzz")
        try:
            report = supervise(Path(folder), args.seed, args.cases, args.time_limit, progress=line)
        finally:
            line.close()
    result = report.to_dict()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        rows = [[kind, *(str(result["counts"][kind][o]) for o in OUTCOMES)] for kind in KINDS]
        print(format_table(["input", *OUTCOMES], rows))
        print(f"{result['cases']} cases in {result['seconds']} s (slowest {result['slowest_case_s']:.2f} s); "
              f"peak worker memory {result['peak_memory_mb']:.0f} MB; {len(report.failures)} failures")
        for case in report.failures[:20]:
            print(f"  case {case.number} ({case.kind}, {case.source}, {case.mutation}): {case.outcome}: {case.detail}")
    return 0 if not report.failures else 1
