"""``bench demo``: the bundled demo models' figures that README quotes, measured again in one run.

README says how well each bundled model does; a figure nobody re-measures
drifts from the truth as the code changes.  This benchmark regenerates the
held-out synthetic clips the figures were first measured on (seed 1, which
training's seed-0 data never saw), scores each bundled model on them with its
own test protocol, labels the bundled sample, and prints every README claim
beside what this run measured, with whether it holds.  ``CLAIMS`` is the one
place those figures live: a test checks README quotes exactly them, and
checks them on a subset of the same clips.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HELDOUT_SEED = 1  # training used seed 0; seed 1 draws clips the models never saw
HELDOUT_SIZE = 112
HELDOUT_CLIPS_PER_CLASS = 20


@dataclass(frozen=True)
class DemoClaim:
    """What README says of one bundled model: held-out accuracy (all classes, motion-only and
    appearance-only ones), test samples a video, and its label of the bundled sample."""

    checkpoint: str  # attribute of core.resources
    title: str
    samples_per_video: int
    top1: float
    motion: float
    appearance: float
    sample_label: str
    sample_probability: float  # as README prints it; holds within SAMPLE_TOLERANCE
    sample_seconds: float  # README's "about" figure on the 2-core CPU; holds up to SPEED_SLACK times it

    def readme_sentence(self) -> str:
        """The sentence README gives this model's figures in (a test checks README has it word for word)."""
        from core.synth import CLASS_NAMES

        return (f"on {len(CLASS_NAMES) * HELDOUT_CLIPS_PER_CLASS} fresh clips (seed {HELDOUT_SEED}, `bench demo`) it scores "
                f"{_percent(self.top1)}% top-1 (motion classes {_percent(self.motion)}%, appearance {_percent(self.appearance)}%) "
                f"and labels the bundled sample {self.sample_label} ({_percent(self.sample_probability)}%) "
                f"in about {self.sample_seconds:g} s on a 2-core CPU")

    def path(self) -> Path:
        import core.resources as resources

        return Path(getattr(resources, self.checkpoint))


def _percent(fraction: float) -> str:
    """As README prints a percentage: 100 whole, anything else to a tenth of a point."""
    return "100" if fraction == 1 else f"{100 * fraction:.1f}"


CLAIMS = (
    DemoClaim("DEMO_CHECKPOINT", "two-stream transformer (demo_model)", 1, 0.990, 1.0, 0.975, "RotateClockwise", 0.999, 0.3),
    DemoClaim("DEMO_CONVNET", "two-stream ConvNet (demo_convnet)", 25, 1.0, 1.0, 1.0, "RotateClockwise", 0.67, 0.35),
)
# The sample's probability moves in its last digits with the versions of torch and OpenCV (DIS flow);
# a point either way still says the same thing.  Speed depends on the machine and its load.
SAMPLE_TOLERANCE = 0.01
SPEED_SLACK = 1.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="DIR", default=None,
                        help=f"held-out synthetic clips (default: generated into a temporary folder: seed {HELDOUT_SEED}, "
                             f"{HELDOUT_CLIPS_PER_CLASS} clips a class, {HELDOUT_SIZE} px)")
    parser.add_argument("--clips-per-class", type=int, default=HELDOUT_CLIPS_PER_CLASS, help="clips a class when generating (default 20)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")


@dataclass(frozen=True)
class DemoMeasurement:
    top1: float
    motion: float
    appearance: float
    videos: int
    seconds_per_video: float
    sample_label: str
    sample_probability: float
    sample_seconds: float


def measure(claim: DemoClaim, data: Path, *, device: str = "cpu", progress: Any = None) -> DemoMeasurement:
    """Score ``claim``'s model on every video of ``data`` with its protocol, and label the sample."""
    import numpy as np

    from core.evaluation.ablation import synthetic_groups
    from core.evaluation.evaluate import evaluate
    from core.evaluation.metrics import group_accuracy, topk_accuracy
    from core.models.checkpoint import open_classifier
    from core.resources import SAMPLE_VIDEO
    from core.video import open_video

    evaluation = evaluate(data, claim.path(), clips_per_video=claim.samples_per_video, part="all", device=device, progress=progress)
    names = list(evaluation.class_names)
    groups = {g.name: [names.index(c) for c in g.classes] for g in synthetic_groups(data)}
    scores, labels = evaluation.video_scores, evaluation.video_labels
    classifier = open_classifier(claim.path(), device=device)
    with open_video(SAMPLE_VIDEO) as video:
        classifier.predict_video(video)  # warm-up: the figure is the second call's, as a user's second click
        started = time.perf_counter()
        prediction = classifier.predict_video(video)
        seconds = time.perf_counter() - started
    best = int(np.argmax(prediction.probabilities))
    return DemoMeasurement(
        top1=topk_accuracy(scores, labels, 1),
        motion=group_accuracy(scores, labels, groups.get("motion", [])),
        appearance=group_accuracy(scores, labels, groups.get("appearance", [])),
        videos=len(evaluation.videos),
        seconds_per_video=evaluation.seconds / max(1, len(evaluation.videos)),
        sample_label=names[best],
        sample_probability=float(prediction.probabilities[best]),
        sample_seconds=seconds,
    )


def holds(claim: DemoClaim, measured: DemoMeasurement) -> dict[str, bool]:
    """Each figure of ``claim`` against ``measured``: accuracies to the 0.1 point README prints,
    the sample's label exactly and its probability within a point, its time within the slack."""
    return {
        "top1": round(measured.top1, 3) >= claim.top1,
        "motion": round(measured.motion, 3) >= claim.motion,
        "appearance": round(measured.appearance, 3) >= claim.appearance,
        "sample": measured.sample_label == claim.sample_label and abs(measured.sample_probability - claim.sample_probability) <= SAMPLE_TOLERANCE,
        "time": measured.sample_seconds <= SPEED_SLACK * claim.sample_seconds,
    }


def run(args: argparse.Namespace) -> int:
    from core.bench.timing import format_table
    from core.errors import InputError
    from core.progress import ProgressLine
    from core.synth import generate_dataset

    if not 1 <= args.clips_per_class <= 500:
        raise InputError(f"--clips-per-class must be from 1 to 500, got {args.clips_per_class}")
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as scratch:
        data = Path(args.data) if args.data else Path(scratch) / "heldout"
        if args.data is None:
            line = ProgressLine("held-out clips")
            try:
                generate_dataset(data, clips_per_class=args.clips_per_class, size=HELDOUT_SIZE, seed=HELDOUT_SEED, progress=line)
            finally:
                line.close()
        rows, verdicts = [], []
        for claim in CLAIMS:
            if not claim.path().is_file():
                print(f"{claim.title}: {claim.path()} is missing; skipped")
                continue
            line = ProgressLine(claim.title)
            try:
                measured = measure(claim, data, device=args.device, progress=line)
            finally:
                line.close()
            verdict = holds(claim, measured)
            verdicts.append(all(verdict.values()))
            for key, name in (("top1", "top-1"), ("motion", "motion classes"), ("appearance", "appearance classes")):
                rows.append([claim.title, f"held-out {name} ({claim.samples_per_video}/video)", f"{100 * getattr(claim, key):.1f}%",
                             f"{100 * getattr(measured, key):.1f}%", "yes" if verdict[key] else "NO"])
            rows.append([claim.title, "sample label", f"{claim.sample_label} {100 * claim.sample_probability:g}%",
                         f"{measured.sample_label} {100 * measured.sample_probability:.2f}%", "yes" if verdict["sample"] else "NO"])
            rows.append([claim.title, "time to label the sample (s, warm)", f"about {claim.sample_seconds:g}",
                         f"{measured.sample_seconds:.3f}", "yes" if verdict["time"] else "NO"])
            rows.append([claim.title, "time per held-out video (s)", "-", f"{measured.seconds_per_video:.3f}", "-"])
    print(f"held-out clips: {data if args.data else f'seed {HELDOUT_SEED}, {args.clips_per_class} a class, {HELDOUT_SIZE} px'}")
    print(format_table(["model", "figure", "README", "measured", "holds"], rows))
    return 0 if all(verdicts) else 1

