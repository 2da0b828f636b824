"""The two-stream temporal transformer of seed 000.

RGB clip -> backbone -> token grid; flow renderings -> a second backbone ->
token grid; ``[class; RGB tokens; flow tokens]`` + positional embeddings
(factorised: stream + time + space) -> our transformer encoder -> class token
-> MLP head.  With ``FusionConfig.rgb_time_pool`` the RGB tokens are averaged
over time and get no time embedding, so the fusion cannot read frame order
from the RGB stream (with the tiny backbone's ``frame_wise`` option the RGB
stream is then a bag of frames: appearance only, which the synthetic
ablation and the demo model rely on).  ``forward =
forward_head(forward_features(...))``, and
:meth:`TwoStreamTransformer.forward_tokens` starts from token grids, so
training with frozen backbones can cache them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from core.models.transformer.config import TransformerConfig, pooled_grid
from core.models.shared.encoder import AttentionRecorder, Encoder
from core.models.transformer.heads import ClassifierHead
from core.models.transformer.layout import FLOW, RGB, TokenLayout

if TYPE_CHECKING:
    from core.models.transformer.explain import Explanation


class TwoStreamTransformer(nn.Module):
    """Backbones (injected) plus the fusion encoder and head, for all four variants.

    ``rgb_backbone``/``flow_backbone`` may be ``None`` for a stream the variant
    does not use, or when only :meth:`forward_tokens` will be called (training
    from cached token grids).
    """

    def __init__(self, config: TransformerConfig, *, rgb_backbone: nn.Module | None, flow_backbone: nn.Module | None) -> None:
        super().__init__()
        config.validate()
        self.config = config
        fusion = config.fusion
        self.backbone_grid = config.grid_shape()
        self.layout = TokenLayout.for_variant(config.variant, pooled_grid(self.backbone_grid, fusion.spatial_pool))
        from core.models.shared.backbones import backbone_info

        token_dim = backbone_info(config.backbone, **dict(config.backbone_options)).dim
        self.token_dim = token_dim
        for stream, module in ((RGB, rgb_backbone), (FLOW, flow_backbone)):
            if module is not None and getattr(module, "info", None) is not None and module.info.dim != token_dim:
                raise ValueError(f"{stream} backbone gives {module.info.dim}-d tokens, the config's {config.backbone!r} gives {token_dim}")
        self.rgb_backbone = rgb_backbone if config.uses_rgb else None
        self.flow_backbone = flow_backbone if config.uses_flow else None

        dim = fusion.dim
        grid = self.layout.rgb_grid or self.layout.flow_grid
        assert grid is not None
        self.rgb_proj = self._projection(token_dim, dim) if config.uses_rgb else None
        self.flow_proj = self._projection(token_dim, dim) if config.uses_flow else None
        self.class_tokens = nn.Parameter(torch.zeros(self.layout.num_class_tokens, dim))
        self.stream_embed = nn.Parameter(torch.zeros(2, dim))
        self.time_embed = nn.Parameter(torch.zeros(grid[0], dim))
        self.space_embed = nn.Parameter(torch.zeros(grid[1] * grid[2], dim))
        for param in (self.class_tokens, self.stream_embed, self.time_embed, self.space_embed):
            nn.init.trunc_normal_(param, std=0.02)
        self.encoder = Encoder(
            dim,
            depth=fusion.depth,
            heads=fusion.heads,
            head_dim=fusion.head_dim,
            mlp_ratio=fusion.mlp_ratio,
            dropout=fusion.dropout,
            attention_dropout=fusion.attention_dropout,
        )
        self.head = ClassifierHead(
            dim * self.layout.num_class_tokens,
            config.num_classes,
            layers=fusion.head_layers,
            hidden=fusion.head_hidden,
            dropout=fusion.head_dropout,
        )
        mask = self.layout.attention_mask()
        self.register_buffer("attention_mask", mask if mask is not None else torch.empty(0, dtype=torch.bool), persistent=False)

    @staticmethod
    def _projection(token_dim: int, dim: int) -> nn.Module:
        return nn.Identity() if token_dim == dim else nn.Linear(token_dim, dim)

    # -- backbones -----------------------------------------------------------------

    def forward_backbones(self, rgb: torch.Tensor | None, flow: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Normalised clips ``(B, 3, T, H, W)`` to token grids; an unused stream gives ``None``."""
        rgb_tokens = self.stream_tokens(RGB, rgb) if self.config.uses_rgb else None
        flow_tokens = self.stream_tokens(FLOW, flow) if self.config.uses_flow else None
        return rgb_tokens, flow_tokens

    def stream_tokens(self, stream: str, clip: torch.Tensor | None) -> torch.Tensor:
        """One stream's backbone: a normalised clip ``(B, 3, T, H, W)`` to its token grid."""
        return self.checked_backbone(stream, clip)(clip)

    def checked_backbone(self, stream: str, clip: torch.Tensor | None) -> nn.Module:
        """``stream``'s backbone, once ``clip`` is known to be its input; a clear error otherwise
        (a compiled copy of the backbone is called with the clip by whoever asked)."""
        backbone = self.rgb_backbone if stream == RGB else self.flow_backbone
        if clip is None:
            raise ValueError(f"variant {self.config.variant!r} needs a {stream} clip, got None")
        if backbone is None:
            raise ValueError(f"this model was built without a {stream} backbone; use forward_tokens with cached token grids")
        expected = (3, self.config.clip_length, self.config.input_size, self.config.input_size)
        if clip.ndim != 5 or tuple(clip.shape[1:]) != expected:
            raise ValueError(f"{stream} clip must have shape (B, {', '.join(map(str, expected))}), got {tuple(clip.shape)}")
        return backbone

    # -- fusion ----------------------------------------------------------------------

    def sequence(self, rgb_tokens: torch.Tensor | None, flow_tokens: torch.Tensor | None) -> torch.Tensor:
        """Token grids to the encoder's input ``(B, L, dim)`` with positional embeddings."""
        parts: list[torch.Tensor] = []
        batch = None
        for stream, tokens, proj in ((RGB, rgb_tokens, self.rgb_proj), (FLOW, flow_tokens, self.flow_proj)):
            if proj is None:
                continue
            if tokens is None:
                raise ValueError(f"variant {self.config.variant!r} needs {stream} tokens, got None")
            expected = (*self.backbone_grid, self.token_dim)
            if tokens.ndim != 5 or tuple(tokens.shape[1:]) != expected:
                raise ValueError(f"{stream} tokens must have shape (B, {', '.join(map(str, expected))}), got {tuple(tokens.shape)}")
            if batch is not None and tokens.shape[0] != batch:
                raise ValueError(f"rgb and flow token batches differ: {batch} vs {tokens.shape[0]}")
            batch = tokens.shape[0]
            parts.append(self._embed_stream(stream, tokens, proj))
        assert batch is not None
        cls = self.class_tokens.unsqueeze(0).expand(batch, -1, -1).to(parts[0].dtype)
        return torch.cat([cls, *parts], dim=1)

    def _embed_stream(self, stream: str, tokens: torch.Tensor, proj: nn.Module) -> torch.Tensor:
        grid = self.layout.grid(stream)
        assert grid is not None
        if grid != self.backbone_grid:  # spatial pooling per time slice
            b, t, h, w, c = tokens.shape
            pooled = F.adaptive_avg_pool2d(tokens.permute(0, 1, 4, 2, 3).reshape(b * t, c, h, w), grid[1:])
            tokens = pooled.reshape(b, t, c, grid[1], grid[2]).permute(0, 1, 3, 4, 2)
        pool_time = stream == RGB and self.config.fusion.rgb_time_pool
        if pool_time:  # order-free RGB: the mean over time slices, on every slice (keeps the layout)
            tokens = tokens.mean(dim=1, keepdim=True).expand_as(tokens)
        x = proj(tokens)  # (B, T', H', W', dim)
        stream_index = 0 if stream == RGB else 1
        pos = self.space_embed.view(1, grid[1], grid[2], -1) + self.stream_embed[stream_index]
        if not pool_time:
            pos = pos + self.time_embed[:, None, None, :]
        else:
            pos = pos.expand(grid[0], -1, -1, -1)
        return (x + pos.to(x.dtype)).flatten(1, 3)

    def encode(self, sequence: torch.Tensor, recorder: AttentionRecorder | None = None) -> torch.Tensor:
        mask = self.attention_mask if self.attention_mask.numel() else None
        return self.encoder(sequence, mask, recorder)

    def fuse_tokens(self, rgb_tokens: torch.Tensor | None, flow_tokens: torch.Tensor | None, recorder: AttentionRecorder | None = None) -> torch.Tensor:
        """Token grids to the head's input: the class token(s), concatenated for ``concat``."""
        encoded = self.encode(self.sequence(rgb_tokens, flow_tokens), recorder)
        return encoded[:, : self.layout.num_class_tokens].flatten(1)

    def forward_features(self, rgb: torch.Tensor | None, flow: torch.Tensor | None = None) -> torch.Tensor:
        return self.fuse_tokens(*self.forward_backbones(rgb, flow))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    def classifier_keys(self) -> list[str]:
        """The state-dict key of the weight whose rows are the classes (a checkpoint's class count)."""
        return ["head." + str(len(self.head) - 1) + ".weight"]

    def forward_tokens(self, rgb_tokens: torch.Tensor | None, flow_tokens: torch.Tensor | None) -> torch.Tensor:
        """Logits from precomputed token grids ``(B, T', H', W', C)`` (frozen-backbone training)."""
        return self.forward_head(self.fuse_tokens(rgb_tokens, flow_tokens))

    def forward(self, rgb: torch.Tensor | None, flow: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_head(self.forward_features(rgb, flow))

    def explain(
        self,
        rgb: torch.Tensor | None = None,
        flow: torch.Tensor | None = None,
        *,
        rgb_tokens: torch.Tensor | None = None,
        flow_tokens: torch.Tensor | None = None,
        target_class: int | list[int] | None = None,
    ) -> "Explanation":
        """Logits plus :class:`~core.models.transformer.explain.AttentionMaps` per clip (see :func:`core.models.transformer.explain.explain`)."""
        from core.models.transformer.explain import explain

        return explain(self, rgb, flow, rgb_tokens=rgb_tokens, flow_tokens=flow_tokens, target_class=target_class)
