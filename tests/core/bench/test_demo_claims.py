"""README's figures for the bundled demo models are ``bench demo``'s claims, and they hold.

README quotes each claim's sentence word for word; the models are scored here
on a small held-out set drawn the way the benchmark draws its 200 clips
(seed 1, which training never saw), and label the bundled sample as README
says.  The full figures are the benchmark's job (1.5 min); this checks the
claims are true of the models that ship, in a few seconds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from core.bench import demo
from core.resources import RESOURCES_DIR

README = RESOURCES_DIR.parent / "README.md"


@pytest.fixture(scope="module")
def heldout(tmp_path_factory) -> Path:
    from core.synth import generate_dataset

    data = tmp_path_factory.mktemp("heldout") / "data"
    generate_dataset(data, clips_per_class=1, size=demo.HELDOUT_SIZE, seed=demo.HELDOUT_SEED)
    return data


def test_readme_quotes_every_claim_word_for_word():
    text = " ".join(README.read_text(encoding="utf-8").split())
    for claim in demo.CLAIMS:
        assert claim.readme_sentence() in text, claim.title


@pytest.mark.parametrize("claim", demo.CLAIMS, ids=lambda c: c.checkpoint)
def test_each_bundled_model_does_what_readme_says_on_held_out_clips(claim, heldout):
    measured = demo.measure(claim, heldout)
    assert measured.videos == 10
    assert measured.top1 >= 0.9, measured  # one miss in ten at most: README's 99-100% is over 200 clips
    verdict = demo.holds(claim, measured)
    assert verdict["sample"], measured  # the sample's label, and its probability within a point


def test_the_verdict_fails_a_model_that_does_worse_than_claimed():
    claim = demo.CLAIMS[0]
    worse = demo.DemoMeasurement(top1=claim.top1 - 0.02, motion=claim.motion, appearance=claim.appearance, videos=200,
                                 seconds_per_video=0.1, sample_label="RotateAnticlockwise",
                                 sample_probability=claim.sample_probability, sample_seconds=10 * claim.sample_seconds)
    verdict = demo.holds(claim, worse)
    assert verdict == {"top1": False, "motion": True, "appearance": True, "sample": False, "time": False}


def test_bench_demo_rejects_a_silly_clip_count():
    from core.errors import InputError

    with pytest.raises(InputError, match="--clips-per-class"):
        demo.run(argparse.Namespace(data=None, clips_per_class=0, device="cpu"))
