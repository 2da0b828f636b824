"""Classifier heads: the seed's LayerNorm-Dropout-Linear, and its 3-layer MLP variant."""

from __future__ import annotations

from torch import nn


class ClassifierHead(nn.Sequential):
    """``LayerNorm -> Dropout -> Linear`` (``layers=1``) or a 3-layer MLP with dropout (``layers=3``).

    The LayerNorm doubles as the encoder's final norm (the encoder is pre-norm).
    """

    def __init__(self, in_dim: int, num_classes: int, *, layers: int = 1, hidden: int = 0, dropout: float = 0.5) -> None:
        if num_classes < 1:
            raise ValueError(f"a classifier needs at least one class, got {num_classes}")
        if layers == 1:
            modules: list[nn.Module] = [nn.LayerNorm(in_dim), nn.Dropout(dropout), nn.Linear(in_dim, num_classes)]
        elif layers == 3:
            width = hidden or in_dim
            modules = [
                nn.LayerNorm(in_dim),
                nn.Dropout(dropout),
                nn.Linear(in_dim, width),
                nn.GELU(),
                nn.Dropout(dropout),
                nn.Linear(width, width),
                nn.GELU(),
                nn.Dropout(dropout),
                nn.Linear(width, num_classes),
            ]
        else:
            raise ValueError(f"head layers must be 1 or 3, got {layers}")
        super().__init__(*modules)
        self.num_classes = num_classes

    @property
    def classifier(self) -> nn.Linear:
        """The last Linear: its row count is the class count a checkpoint must match."""
        return self[-1]
