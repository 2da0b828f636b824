"""Every test runs offscreen, offline, and with caches in a temporary folder."""

from __future__ import annotations

import os
import threading

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["TWOSTREAM_OFFLINE"] = "1"  # no test may reach for the network
os.environ.setdefault("OMP_NUM_THREADS", "2")


def _home_in(base, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWOSTREAM_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(base / "torch"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))


@pytest.fixture(scope="session", autouse=True)
def _isolated_dirs_of_the_session(tmp_path_factory: pytest.TempPathFactory):
    """The same for module- and session-scoped fixtures, which pytest makes before any function-scoped one: they
    wrote flow caches, survey stores and record caches into the user's real cache folder (shared by every test run
    on the machine, and kept from one run to the next)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _home_in(tmp_path_factory.mktemp("session-home"), monkeypatch)
        yield


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flow caches, settings and the torch hub live in a fresh folder per test."""
    _home_in(tmp_path_factory.mktemp("home"), monkeypatch)


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> None:
    """A test must not leave worker threads running behind it."""
    before = {t.ident for t in threading.enumerate()}
    yield
    # daemon threads count too (a leftover sampler or heartbeat runs on into the next test); threads
    # that Python did not start (Qt's pool threads, seen as _DummyThread) are checked by the viewer's
    # conftest, which waits for their jobs
    leaked = [t for t in threading.enumerate() if t.ident not in before and t.is_alive() and not isinstance(t, threading._DummyThread)]
    for thread in leaked:
        thread.join(timeout=5)
    still = [t.name for t in leaked if t.is_alive()]
    assert not still, f"threads left running: {still}"


@pytest.fixture
def one_torch_thread():
    """One torch thread: small training runs and backbones round their float sums the same way in every run
    (with two threads reductions round otherwise, and exact figures land elsewhere)."""
    import torch  # here, not at the top: OMP_NUM_THREADS above must be set before torch loads

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
