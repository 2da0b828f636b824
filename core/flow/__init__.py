"""Optical flow: RAFT (torchvision, with original-release checkpoints), TV-L1 in torch,
OpenCV's DIS and Farneback; colour rendering, quality measures, ``.flo`` files, a disk cache.

One module per job: :mod:`~core.flow.engine` (the entry point), :mod:`~core.flow.raft`
and :mod:`~core.flow.raft_weights`, :mod:`~core.flow.tvl1`, :mod:`~core.flow.classical`,
:mod:`~core.flow.render`, :mod:`~core.flow.quality`, :mod:`~core.flow.flo`,
:mod:`~core.flow.cache`, :mod:`~core.flow.synthetic` (sequences with known flow),
:mod:`~core.flow.groundtruth` (the benchmark pairs).  Importing this package does
not import torch; the methods import it when they run.
"""

from core.flow.engine import METHODS, FlowResult, check_frames, compute_flow
from core.flow.flo import read_flo, write_flo
from core.flow.render import FlowEncoding, flow_to_rgb, render_flow
from core.flow.quality import PairQuality, QualityMaps, clip_quality, endpoint_error, pair_quality
from core.flow.cache import FlowCache, compute_flow_cached

__all__ = [
    "METHODS", "FlowResult", "check_frames", "compute_flow",
    "read_flo", "write_flo",
    "FlowEncoding", "flow_to_rgb", "render_flow",
    "PairQuality", "QualityMaps", "clip_quality", "endpoint_error", "pair_quality",
    "FlowCache", "compute_flow_cached",
]
