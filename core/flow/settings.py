"""What decides a flow method's output besides its two frames: the settings every cache of flow keys on.

Why: a cache entry keyed by method name alone outlives a change of that
method's defaults.  TV-L1's pyramid, warps, lambda and theta changed twice
while the flow cache's engine version stayed put, so flow cached before was
served as today's TV-L1.  Keys that hold these settings miss as soon as a
default changes, with no version to remember to bump (:data:`ENGINE_VERSION`
is for changes that are not settings).  Only the settings are read; the
methods run elsewhere.
"""

from __future__ import annotations

import dataclasses
from typing import Any

# bump when every method's output changes other than by a setting below (2: RAFT clip path without warm
# starts; 3: these settings in the keys, so flow cached under 2 by older TV-L1 defaults is dropped); a change
# of one method's algorithm is a revision in its own settings (TV-L1's "stopping"), so the others' caches stay
ENGINE_VERSION = 3
# TV-L1 stops each pair of a batch on its own test (it stopped when the batch's slowest pair settled, so a
# pair's flow depended on its batch): flow cached before differs slightly and is not this
TVL1_STOPPING = "per pair"


def method_settings(method: str) -> dict[str, Any]:
    """The JSON-able settings that decide ``method``'s flow (a name as :data:`core.flow.engine.METHODS` spells it)."""
    if method == "tvl1":
        from core.flow.tvl1_image import DEFAULT_SETTINGS

        return {**dataclasses.asdict(DEFAULT_SETTINGS), "stopping": TVL1_STOPPING}
    if method == "dis":
        from core.flow.classical import DIS_PATCH_STRIDE, DIS_PRESET

        return {"preset": DIS_PRESET, "patch_stride": DIS_PATCH_STRIDE}
    if method == "farneback":
        from core.flow.classical import FARNEBACK_PARAMS

        return dict(FARNEBACK_PARAMS)
    if method in ("raft-large", "raft-small"):
        from core.flow.raft import DEFAULT_UPDATES, MAX_PIXELS, MIN_SIDE

        return {"min_side": MIN_SIDE, "max_pixels": MAX_PIXELS, "updates": DEFAULT_UPDATES}
    raise ValueError(f"no settings known for flow method {method!r}")


def flow_identity(method: str) -> dict[str, Any]:
    """The flow engine's version and ``method``'s settings: key material for anything made from its flow
    (flow entries, token grids, noise summaries), so a change of either makes them misses."""
    return {"engine": ENGINE_VERSION, "method": method, "settings": method_settings(method)}
