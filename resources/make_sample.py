"""Generate the bundled sample video, resources/sample.mp4 (and sample.json).

    python resources/make_sample.py          (from the repository root)

One clip of ONE class of the synthetic dataset (``python main.py synth``), so
"the demo model gives the correct label on the bundled sample" is well defined:
the demo model is trained on that same synthetic data.  The frame is not
square (256x192) so the viewer's resize-and-crop mapping is exercised, and the
file is H.264 with B-frames so exact seeking is exercised too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script from anywhere

from core.atomic import write_text  # noqa: E402
from core.synth.dataset import clip_rng  # noqa: E402
from core.synth.render import render_clip_detailed  # noqa: E402
from core.synth.writer import write_mp4  # noqa: E402

SAMPLE_CLASS = "RotateClockwise"
SEED = 7
INDEX = 0
HEIGHT, WIDTH = 192, 256
FRAMES = 125  # 5 s at 25 fps
FPS = 25
CRF = 20
GOP = 50  # a key frame every 2 s: seeking decodes at most 50 frames
MAX_BYTES = 1_000_000
VIDEO_PATH = HERE / "sample.mp4"
INFO_PATH = HERE / "sample.json"


def main() -> int:
    clip = render_clip_detailed(SAMPLE_CLASS, clip_rng(SEED, SAMPLE_CLASS, INDEX), (HEIGHT, WIDTH), FRAMES)
    write_mp4(VIDEO_PATH, clip.frames, fps=FPS, crf=CRF, bframes=3, gop=GOP)
    size = VIDEO_PATH.stat().st_size
    info = {
        "class": SAMPLE_CLASS,
        "seed": SEED,
        "clip_index": INDEX,
        "width": WIDTH,
        "height": HEIGHT,
        "frames": FRAMES,
        "fps": FPS,
        "codec": f"H.264 (libx264, crf {CRF}, yuv420p, up to 3 B-frames, GOP {GOP})",
        "object": {k: round(v, 3) if isinstance(v, float) else v for k, v in clip.params.items()},
        "command": "python resources/make_sample.py",
    }
    write_text(INFO_PATH, json.dumps(info, indent=2) + "\n")
    print(f"{VIDEO_PATH}: {SAMPLE_CLASS}, {FRAMES} frames {WIDTH}x{HEIGHT} at {FPS} fps, {size / 1e3:.0f} kB")
    if size >= MAX_BYTES:
        print(f"error: {VIDEO_PATH} is {size} bytes, over the {MAX_BYTES}-byte budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
