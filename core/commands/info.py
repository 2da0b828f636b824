"""``info VIDEO``: the video's metadata as one JSON object."""

from __future__ import annotations

import argparse
import json

from core.cli import add_deinterlace_option

NAME = "info"
HELP = "print a video's metadata (frames, fps, size, codec, rotation) as JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", metavar="VIDEO", help="video file or folder of frames")
    add_deinterlace_option(parser)


def run(args: argparse.Namespace) -> int:
    from core.video import open_video

    with open_video(args.video, deinterlace=not args.no_deinterlace) as video:
        info = video.info.to_dict()
    keys = ("path", "frames", "fps", "width", "height", "duration_s", "codec", "rotation")
    extra = {k: v for k, v in info.items() if k not in keys}
    print(json.dumps({**{k: info[k] for k in keys}, **extra}))
    return 0
