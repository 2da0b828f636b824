"""The dataset panel's summary line: which split its Split column shows, and how many rows each part holds.

Once a checkpoint is chosen, the Split column follows the split Evaluate scores it on (the one recorded in the
checkpoint, as ``eval`` uses it), because testing on videos the model trained on would be wrong.  The summary line
went on describing the dataset's own split, so on a 50-video folder it read "30 train, 10 val, 10 test" beside a
"test" filter showing 9 rows, with the same words ("stratified split, seed 0: ...") for both splits.  It now names the
split the column shows and counts its parts from the rows themselves, so its figures are those the split filter
shows; the dataset's own split's sizes follow when another split is shown.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable

PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitSource:
    """A split the Split column can show, in words."""

    name: str  # "the dataset's own split", "the split recorded in model.safetensors"
    description: str  # how it was made: "stratified split, seed 0: test 0.2, validation 0.1"

    def text(self) -> str:
        return f"{self.name} ({self.description})" if self.description else self.name


def part_sizes(parts: Iterable[str]) -> str:
    """``"30 train, 10 val, 10 test"``, and the rows in no part (an official split's unused videos, or videos the
    checkpoint's split does not list) when there are any."""
    counts = Counter(parts)
    sizes = ", ".join(f"{counts[part]} {part}" for part in PARTS)
    return sizes + (f", {counts['']} in no part" if counts[""] else "")


@dataclass(frozen=True)
class DatasetSummary:
    """What the line says of a listed dataset, whatever split its Split column shows."""

    heading: str  # "50 videos, 10 classes (folders)"
    own: SplitSource  # the dataset's own split (what ``train`` would use)
    own_sizes: str  # its parts' sizes, counted on the rows when they were listed
    notes: str = ""  # "; 1 note: ..." (the dataset's and its split's)

    def line(self, parts: Iterable[str], shown: SplitSource | None = None) -> str:
        """The line for rows whose Split column holds ``parts``: that of ``shown``, else the dataset's own split."""
        if shown is None:
            return f"{self.heading}; Split column: {self.own.text()}: {part_sizes(parts)}{self.notes}"
        return (f"{self.heading}; Split column: {shown.text()}: {part_sizes(parts)}, as Evaluate and eval use it; "
                f"{self.own.name}: {self.own_sizes}{self.notes}")
