"""Compiled backbones: the same results as eager, compiled only in warm-up, eager again on any failure.

A counting backend stands in for inductor (which would take minutes on two
cores): Dynamo still traces the backbone, guards its inputs and hands the graph
to the backend once per compile, so the count says when compiling happened.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch
from torch import nn

from core.errors import Cancelled
from core.inference import compiled as compiled_module
from core.inference.compiled import CompiledModule, GraphThread, compile_unavailable, use_persistent_cache, wants_compile
from core.models import build_model
from core.models.transformer.config import TransformerConfig
from core.models.transformer.predict import TransformerClassifier
from core.progress import CancelToken


class CountingBackend:
    """A torch.compile backend that runs the traced graph as it is and counts compilations."""

    def __init__(self, fail: bool = False) -> None:
        self.compiles = 0
        self.graph_runs = 0  # calls of the compiled graphs
        self.fail = fail

    def __call__(self, graph: torch.fx.GraphModule, example_inputs: list) -> object:
        self.compiles += 1
        if self.fail:
            raise RuntimeError("this backend cannot compile anything")

        def run(*args: object) -> object:
            self.graph_runs += 1
            return graph.forward(*args)

        return run


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def config() -> TransformerConfig:
    return TransformerConfig.create(
        backbone="tiny", class_names=list("abcdef"), variant="fusion", backbone_options={"dim": 16}, input_size=32, clip_length=4,
        frame_stride=2, fusion={"heads": 2, "head_dim": 8, "depth": 1}, flow_method="dis",
    )


def video(frames: int = 30) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 200, size=(48, 64, 3), dtype=np.uint8)
    return np.stack([np.roll(base, 3 * i, axis=1) + np.uint8(2 * i) for i in range(frames)])


def classifiers(backend: CountingBackend) -> tuple[TransformerClassifier, TransformerClassifier]:
    cfg = config()
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    eager = TransformerClassifier(model, cfg, device="cpu", batch_size=2)
    compiled = TransformerClassifier(model, cfg, device="cpu", batch_size=2, compile_backbones="on", compile_backend=backend)
    return eager, compiled


def test_warm_up_compiles_each_batch_size_once_and_results_match_eager() -> None:
    backend = CountingBackend()
    eager, compiled = classifiers(backend)
    frames = video()
    starts = [0, 3, 7, 20, 27]  # batches of 2, 2 and 1
    expected = eager.predict_clips(frames, starts, attention=True, target_class=1)
    assert backend.compiles == 0  # building the classifier compiles nothing
    compiled.warm_up()
    after_warm_up = backend.compiles
    assert after_warm_up > 0
    reports = {r.name: r for r in compiled.compile_reports()}
    assert set(reports) == {"rgb_backbone", "flow_backbone"}
    assert all(r.batches == (1, 2) and r.failure is None for r in reports.values())
    got = compiled.predict_clips(frames, starts, attention=True, target_class=1)
    got.append(compiled.predict_clip(frames, 5))  # one clip alone: batch 1
    expected.append(eager.predict_clip(frames, 5))
    assert backend.compiles == after_warm_up  # no call after warm-up compiled anything
    for old, new in zip(expected, got):
        np.testing.assert_allclose(new.logits, old.logits, atol=1e-5, rtol=0)
        if old.attention is not None:
            np.testing.assert_allclose(new.attention.rollout, old.attention.rollout, atol=1e-5)


def test_without_warm_up_nothing_is_compiled() -> None:
    backend = CountingBackend()
    eager, compiled = classifiers(backend)
    frames = video()
    got = compiled.predict_clips(frames, [0, 9, 18])
    assert backend.compiles == 0
    for old, new in zip(eager.predict_clips(frames, [0, 9, 18]), got):
        np.testing.assert_allclose(new.logits, old.logits, atol=1e-6, rtol=0)


def test_a_failing_compiler_leaves_the_backbones_eager_with_the_reason() -> None:
    backend = CountingBackend(fail=True)
    eager, compiled = classifiers(backend)
    compiled.warm_up()  # does not raise
    reports = compiled.compile_reports()
    assert reports and all(r.batches == () and "cannot compile anything" in r.failure for r in reports)
    frames = video()
    np.testing.assert_allclose(compiled.predict_clip(frames, 4).logits, eager.predict_clip(frames, 4).logits, atol=1e-6, rtol=0)


def test_torch_compile_refusing_at_wrap_time_leaves_the_classifier_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.compile itself raises on some set-ups (a Python newer than its Dynamo): the classifier
    is still built, warms up and classifies eager with the reason, instead of failing to load."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Dynamo is not supported on Python 3.99+")

    eager, _ = classifiers(CountingBackend())
    monkeypatch.setattr(torch, "compile", refuse)
    cfg = config()
    compiled = TransformerClassifier(eager.model, cfg, device="cpu", batch_size=2, compile_backbones="on", compile_backend=CountingBackend())
    compiled.warm_up()
    assert "Dynamo is not supported on Python 3.99+" in compiled.compile_problem and not compiled.compile_pending
    frames = video()
    np.testing.assert_allclose(compiled.predict_clip(frames, 4).logits, eager.predict_clip(frames, 4).logits, atol=1e-6, rtol=0)


class PerSample(nn.Module):
    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return torch.tanh(clip * 3).mean(dim=(2, 3, 4))


def test_smaller_batches_are_padded_larger_and_changed_inputs_run_eager_without_compiling() -> None:
    backend = CountingBackend()
    module = PerSample()
    wrapped = CompiledModule(module, "backbone", torch.device("cpu"), backend=backend)
    clips = torch.randn(4, 3, 2, 4, 4)
    assert torch.equal(wrapped(clips[:2]), module(clips[:2])) and backend.compiles == 0  # nothing compiled yet: eager
    wrapped.compile_for(clips[:2])
    assert backend.compiles == 1 and wrapped.report().batches == (2,)
    torch.testing.assert_close(wrapped(clips[:1]), module(clips[:1]))  # padded to 2, compiled
    torch.testing.assert_close(wrapped(clips), module(clips))  # 4 > every compiled size: eager
    torch.testing.assert_close(wrapped(clips[:2].double()), module(clips[:2].double()))  # a new dtype would recompile: refused, eager
    assert backend.compiles == 1 and wrapped.failure is None


def test_cancelling_still_stops_a_compiled_classifier() -> None:
    eager, compiled = classifiers(CountingBackend())
    compiled.warm_up()
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        compiled.predict_clip(video(), 0, cancel=cancel)


def test_a_click_that_can_be_cancelled_runs_the_compiled_backbones() -> None:
    """The viewer passes a cancel token with every click.  Its hooks once went on every block of the
    backbones too, so each compiled call failed its guards, was refused a recompile and ran eager:
    on a GPU the viewer never ran compiled."""
    backend = CountingBackend()
    eager, compiled = classifiers(backend)
    compiled.warm_up()
    compiles, runs = backend.compiles, backend.graph_runs
    frames = video()
    got = compiled.predict_clip(frames, 2, attention=True, cancel=CancelToken())
    assert backend.graph_runs == runs + 2  # the RGB and the flow backbone, compiled
    assert backend.compiles == compiles
    np.testing.assert_allclose(got.logits, eager.predict_clip(frames, 2).logits, atol=1e-5, rtol=0)


def test_compile_choices() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert wants_compile("on", cpu) and not wants_compile("auto", cpu) and wants_compile("auto", cuda) and not wants_compile("off", cuda)
    with pytest.raises(ValueError, match="unknown compile choice 'fast'"):
        wants_compile("fast", cpu)
    assert "not used on meta" in compile_unavailable(torch.device("meta"))


def test_compiling_on_cuda_needs_triton_and_a_c_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a C compiler Triton fails only after tracing, seconds into the warm-up: say so before."""
    import shutil

    import torch.utils._triton as triton_check

    cuda = torch.device("cuda")
    monkeypatch.setattr(triton_check, "has_triton", lambda: False)
    assert "Triton is not installed" in compile_unavailable(cuda)
    monkeypatch.setattr(triton_check, "has_triton", lambda: True)
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/gcc" if name == "gcc" else None)
    assert compile_unavailable(cuda) is None
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert "no C compiler (gcc or clang) on PATH" in compile_unavailable(cuda)
    monkeypatch.setenv("CC", "my-cc")  # Triton takes $CC as given: gcc beside it does not help
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/gcc" if name == "gcc" else None)
    assert "$CC (my-cc) is not on PATH" in compile_unavailable(cuda)


def test_a_classifier_that_cannot_compile_says_why_and_runs_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.inference.classifier.compile_unavailable", lambda device: "Triton is not installed")
    cfg = config()
    model = build_model(cfg).eval()
    classifier = TransformerClassifier(model, cfg, device="cpu", compile_backbones="on")
    assert classifier.compile_note == "runs eager: Triton is not installed" and classifier.compile_reports() == []


def test_the_inductor_cache_is_kept_beside_the_tools_caches(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv(compiled_module.INDUCTOR_CACHE_ENV, raising=False)
    monkeypatch.setenv("TWOSTREAM_CACHE_DIR", str(tmp_path))
    use_persistent_cache()
    assert os.environ[compiled_module.INDUCTOR_CACHE_ENV] == str(tmp_path / "inductor")
    monkeypatch.setenv(compiled_module.INDUCTOR_CACHE_ENV, "/somewhere/chosen")
    use_persistent_cache()
    assert os.environ[compiled_module.INDUCTOR_CACHE_ENV] == "/somewhere/chosen"  # the user's choice stays


def test_a_call_during_a_compile_elsewhere_runs_eager_instead_of_waiting() -> None:
    module = PerSample()
    wrapped = CompiledModule(module, "backbone", torch.device("cpu"), backend=CountingBackend())
    clips = torch.randn(2, 3, 2, 4, 4)
    wrapped.compile_for(clips)
    with CompiledModule._lock:  # as while another thread compiles (a blocking wait here would never end)
        torch.testing.assert_close(wrapped(clips), module(clips))
    assert wrapped.failure is None


class RecordingBackend(CountingBackend):
    """Also records, for each run of a compiled graph, the thread it ran on and that thread's modes."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[tuple[int, bool, bool]] = []

    def __call__(self, graph: torch.fx.GraphModule, example_inputs: list) -> object:
        forward = super().__call__(graph, example_inputs)

        def run(*args: object) -> object:
            self.runs.append((threading.get_ident(), torch.is_grad_enabled(), torch.is_autocast_enabled("cpu")))
            return forward(*args)

        return run


def in_thread(fn) -> tuple[object, int]:  # noqa: ANN001
    """``fn()``'s result from a new thread, and that thread's ident."""
    out: dict[str, object] = {}

    def body() -> None:
        out["ident"] = threading.get_ident()
        out["result"] = fn()

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    return out["result"], out["ident"]


@pytest.fixture
def graph_thread():
    yield GraphThread
    GraphThread.close()  # the thread lives as long as the process otherwise


def test_a_graph_module_compiles_and_runs_on_one_thread_under_each_callers_modes(graph_thread) -> None:
    backend = RecordingBackend()
    module = PerSample()
    wrapped = CompiledModule(module, "backbone", torch.device("cpu"), backend=backend, on_graph_thread=True)
    clips = torch.randn(2, 3, 2, 4, 4)

    def under_callers_modes(fn):  # noqa: ANN001 - as a classifier calls: no grad, autocast
        def call() -> object:
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                return fn()
        return call

    _, compiling_thread = in_thread(under_callers_modes(lambda: wrapped.compile_for(clips)))
    assert backend.compiles == 1 and len(backend.runs) == 1
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected = module(clips)
    first, first_thread = in_thread(under_callers_modes(lambda: wrapped(clips)))
    second, second_thread = in_thread(under_callers_modes(lambda: wrapped(clips[:1])))  # padded to 2
    assert backend.compiles == 1 and len(backend.runs) == 3  # both calls ran the compiled graph
    graph_threads = {ident for ident, _grad, _autocast in backend.runs}
    assert len(graph_threads) == 1 and graph_threads.isdisjoint({compiling_thread, first_thread, second_thread})
    assert all(not grad and autocast for _ident, grad, autocast in backend.runs)  # the callers' modes, carried over
    assert torch.equal(first, expected) and torch.equal(second, expected[:1])
    plain, _ = in_thread(lambda: wrapped(clips))  # grad on, no autocast: the graph's guards fail, so eager
    assert len(backend.runs) == 3 and backend.compiles == 1 and wrapped.failure is None
    torch.testing.assert_close(plain, module(clips))


def test_a_compiled_backbone_still_refuses_a_clip_of_the_wrong_shape() -> None:
    _, compiled = classifiers(CountingBackend())
    compiled.warm_up()
    wrong = torch.zeros(1, 3, 4, 24, 24)  # the model takes 32 px
    with pytest.raises(ValueError, match=r"rgb clip must have shape \(B, 3, 4, 32, 32\), got \(1, 3, 4, 24, 24\)"):
        compiled.forward({"rgb": wrong, "flow": wrong}, [], attention=False, target_class=None, timings={})
