"""Our own pre-norm transformer encoder, because the viewer needs its attention weights.

``nn.TransformerEncoderLayer`` never returns them.  Here the normal path runs
``F.scaled_dot_product_attention`` (the fused kernel), and an explicit
recording path computes ``softmax(QK^T / sqrt(d))`` itself, in float32 even
under autocast, and hands the probabilities to an :class:`AttentionRecorder`,
still attached to the graph so gradient-weighted relevance (Chefer et al.
2021) can differentiate through them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class AttentionRecorder:
    """Collects each layer's attention probabilities ``(B, heads, L, L)`` in order."""

    def __init__(self) -> None:
        self.maps: list[torch.Tensor] = []

    def record(self, attention: torch.Tensor) -> None:
        self.maps.append(attention)


class SelfAttention(nn.Module):
    """Multi-head self-attention with ``heads`` x ``head_dim`` inner width."""

    def __init__(self, dim: int, *, heads: int, head_dim: int, attention_dropout: float = 0.0) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = head_dim
        self.scale = 1.0 / math.sqrt(head_dim)
        self.attention_dropout = attention_dropout
        self.qkv = nn.Linear(dim, 3 * heads * head_dim)
        self.proj = nn.Linear(heads * head_dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, recorder: AttentionRecorder | None = None) -> torch.Tensor:
        """``mask`` is boolean ``(L, L)``: True where a query may attend to a key."""
        batch, length, _ = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        if recorder is None:
            dropout = self.attention_dropout if self.training else 0.0
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        else:
            # float32 even under autocast (a GPU's default): autocast would run these matmuls in half precision
            with torch.autocast(x.device.type, enabled=False):
                scores = torch.matmul(q.float(), k.float().transpose(-2, -1)) * self.scale
                if mask is not None:
                    scores = scores.masked_fill(~mask, float("-inf"))
                attention = scores.softmax(dim=-1)
                recorder.record(attention)
                weights = F.dropout(attention, self.attention_dropout, self.training)
                out = torch.matmul(weights, v.float()).to(v.dtype)
        return self.proj(out.transpose(1, 2).reshape(batch, length, self.heads * self.head_dim))


class EncoderLayer(nn.Module):
    """Pre-norm block: ``x + attn(LN(x))`` then ``x + MLP(LN(x))``."""

    def __init__(self, dim: int, *, heads: int, head_dim: int, mlp_ratio: float = 4.0, dropout: float = 0.0, attention_dropout: float = 0.0) -> None:
        super().__init__()
        hidden = max(1, int(round(dim * mlp_ratio)))
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads=heads, head_dim=head_dim, attention_dropout=attention_dropout)
        self.drop1 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))
        self.drop2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, recorder: AttentionRecorder | None = None) -> torch.Tensor:
        x = x + self.drop1(self.attn(self.norm1(x), mask, recorder))
        return x + self.drop2(self.mlp(self.norm2(x)))


class Encoder(nn.Module):
    """A stack of :class:`EncoderLayer`; records attention when given a recorder."""

    def __init__(self, dim: int, *, depth: int, heads: int, head_dim: int, mlp_ratio: float = 4.0, dropout: float = 0.0, attention_dropout: float = 0.0) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            EncoderLayer(dim, heads=heads, head_dim=head_dim, mlp_ratio=mlp_ratio, dropout=dropout, attention_dropout=attention_dropout) for _ in range(depth)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, recorder: AttentionRecorder | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, mask, recorder)
        return x
