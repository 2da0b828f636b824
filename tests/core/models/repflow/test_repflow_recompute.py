"""The flow layer's iterations are recomputed in the backward pass (activation checkpointing):
the same outputs and gradients as keeping every iteration's tensors, with far less kept."""

from __future__ import annotations

import pytest
import torch

from core.models.repflow import RepresentationFlow
from core.models.repflow.model import RepresentationFlowBlock


def _layer(chunk: int, iterations: int = 7) -> RepresentationFlow:
    torch.manual_seed(0)
    layer = RepresentationFlow(iterations=iterations, recompute_chunk=chunk)
    with torch.no_grad():  # off the initial values, so every parameter's gradient is generic
        for param in layer.parameters():
            param.mul_(1.0 + 0.1 * torch.rand_like(param))
    return layer


def _gradients(layer: RepresentationFlow, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    x = x.clone().requires_grad_(True)
    flow = layer(x)
    (flow * torch.linspace(-1.0, 1.0, flow.numel()).view_as(flow)).sum().backward()
    return (flow.detach(), x.grad, *(p.grad for p in layer.parameters()))


@pytest.mark.parametrize("chunk", [1, 3, 7, 10])
def test_recomputed_iterations_give_the_same_flow_and_gradients(chunk):
    x = torch.randn(2, 3, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    kept = _gradients(_layer(0), x)
    recomputed = _gradients(_layer(chunk), x)
    for a, b in zip(kept, recomputed):
        assert torch.isfinite(b).all()
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5), float((a - b).abs().max())


def _saved_bytes(block: RepresentationFlowBlock, x: torch.Tensor) -> int:
    """Bytes autograd keeps for the backward pass outside checkpointed regions."""
    total = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        block(x).sum().backward()
    return total


def test_recompute_keeps_a_fraction_of_the_iterations_tensors():
    x = torch.randn(1, 8, 4, 16, 16)
    block = RepresentationFlowBlock(8, layers=2, bottleneck=8, iterations=20)
    kept = _saved_bytes(block, x)
    for layer in block.flows:
        layer.recompute_chunk = 0
    everything = _saved_bytes(block, x)
    assert kept < everything / 5, (kept, everything)


def test_no_checkpoint_without_autograd(monkeypatch):
    import core.models.repflow.layer as layer_module

    def refuse(*args, **kwargs):
        raise AssertionError("checkpoint called without autograd recording")

    monkeypatch.setattr(layer_module, "checkpoint", refuse)
    with torch.no_grad():
        flow = RepresentationFlow(iterations=3)(torch.randn(1, 2, 2, 8, 8))
    assert flow.shape == (1, 4, 1, 8, 8)


def test_a_negative_chunk_is_refused_naming_it():
    with pytest.raises(ValueError, match="recompute_chunk must be >= 0 .* got -1"):
        RepresentationFlow(recompute_chunk=-1)
