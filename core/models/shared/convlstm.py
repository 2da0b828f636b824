"""A convolutional LSTM (Shi et al. 2015) that aggregates per-frame maps over time (seed 004).

The gates are convolutions over ``[x_t, h_{t-1}]``, so the state keeps its
spatial layout and the per-step hidden maps can still be read as class
activation maps.  Seed 004 prints the cell update as ``c~ * f_SA + C * f``; we
use the standard ``C_t = f_t * C_{t-1} + i_t * c~_t`` (Shi et al.), which its
equations (3)-(5) otherwise describe.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvLSTMCell(nn.Module):
    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        if hidden_channels < 1 or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"ConvLSTM needs hidden_channels >= 1 and an odd kernel size, got {hidden_channels}, {kernel_size}")
        self.hidden_channels = hidden_channels
        self.gates = nn.Conv2d(in_channels + hidden_channels, 4 * hidden_channels, kernel_size, padding=kernel_size // 2)
        with torch.no_grad():  # forget gate bias 1: remember by default early in training
            self.gates.bias.zero_()
            self.gates.bias[hidden_channels : 2 * hidden_channels].fill_(1.0)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_channels, *x.shape[2:])
            state = (zeros, zeros)
        h, c = state
        i, f, g, o = self.gates(torch.cat((x, h), dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class ConvLSTM(nn.Module):
    """``(B, T, C, h, w)`` maps in time order to the hidden maps of every step ``(B, T, H, h, w)``."""

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.cell = ConvLSTMCell(in_channels, hidden_channels, kernel_size)

    @property
    def hidden_channels(self) -> int:
        return self.cell.hidden_channels

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        if maps.ndim != 5:
            raise ValueError(f"ConvLSTM expects (B, T, C, h, w) maps, got shape {tuple(maps.shape)}")
        state = None
        hidden = []
        for t in range(maps.shape[1]):
            state = self.cell(maps[:, t], state)
            hidden.append(state[0])
        return torch.stack(hidden, dim=1)
