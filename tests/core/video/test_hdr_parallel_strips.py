"""HDR strips shared by threads: the picture is the one-thread picture bit for bit, the threads are those given
(OpenCV's count, no more than torch's) and really run at once, and an error on a helper thread reaches the caller."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any, Sequence

import cv2
import numpy as np
import pytest
import torch

from core.video import hdr
from core.video.colour import rgb_conversion
from core.video.rgb_planes import yuv_codes
from media import random_yuv_frame

BT2020, BT709 = 9, 1
TOGETHER_TIMEOUT_S = 10


class _Together:
    """CodeRows that records the threads reading strips; with ``parties``, each thread's first strip waits until
    that many threads have one (a sequential run breaks the barrier); ``fail_on_helpers``: a strip read on any
    thread but the one that made this raises."""

    def __init__(self, codes: hdr.CodeRows, parties: int = 0, fail_on_helpers: bool = False) -> None:
        self.codes, self.shape, self.fail_on_helpers = codes, codes.shape, fail_on_helpers
        self.caller = threading.get_ident()
        self.barrier = threading.Barrier(parties) if parties > 1 else None
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def rows(self, top: int, bottom: int, out: Sequence[np.ndarray]) -> Sequence[np.ndarray]:
        with self._lock:
            first = threading.get_ident() not in self.threads
            self.threads.add(threading.get_ident())
        if first and self.barrier is not None:
            self.barrier.wait(TOGETHER_TIMEOUT_S)
        if self.fail_on_helpers and threading.get_ident() != self.caller:
            raise ValueError(f"strip at row {top} failed")
        return self.codes.rows(top, bottom, out)


def _random_codes(height: int, width: int, seed: int) -> hdr.CodeRows:
    """Random 10-bit R'G'B' over the whole range, as 16-bit codes (what the reader gives the tone mapping)."""
    rng = np.random.default_rng(seed)
    return hdr._Planes([np.rint(rng.integers(0, 1024, (height, width)) * (65535 / 1023)).astype(np.uint16) for _ in range(3)])


@pytest.mark.parametrize("transfer", ["pq", "hlg"])
@pytest.mark.parametrize("primaries", [BT2020, BT709])
def test_strips_on_three_threads_give_the_one_thread_picture_exactly(transfer: str, primaries: int) -> None:
    """331 x 509 pixels: 128-row strips, three of them, the last short; every thread has one at the same time."""
    codes = _random_codes(331, 509, seed=7)
    sequential = hdr.tone_map(codes, transfer, primaries, threads=1)
    together = _Together(codes, parties=3)
    parallel = hdr.tone_map(together, transfer, primaries, threads=3)
    assert len(together.threads) == 3
    np.testing.assert_array_equal(parallel, sequential)


@pytest.mark.parametrize("transfer", ["pq", "hlg"])
@pytest.mark.parametrize("primaries", [BT2020, BT709])
def test_yuv_strips_read_on_two_threads_at_once_give_the_one_thread_picture(transfer: str, primaries: int) -> None:
    """The decoder's planes (4:2:0, chroma repeated along each strip's rows into a buffer per thread)."""
    frame = random_yuv_frame("yuv420p10le", 330, 512, seed=5)  # 128-row strips: three
    conversion = rgb_conversion(frame)
    sequential = hdr.tone_map(yuv_codes(frame, conversion), transfer, primaries, threads=1)
    together = _Together(yuv_codes(frame, conversion), parties=2)
    np.testing.assert_array_equal(hdr.tone_map(together, transfer, primaries, threads=2), sequential)


@pytest.mark.parametrize(("opencv", "torch_threads", "expected"), [(1, 2, 1), (2, 2, 2), (2, 1, 1), (4, 4, 4)])
def test_strips_run_on_opencvs_thread_count_at_most_torchs(opencv: int, torch_threads: int, expected: int) -> None:
    """``bench decode --threads`` sets both counts; never more threads than either, none past the strips' count."""
    before = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(opencv)
    torch.set_num_threads(torch_threads)
    try:
        assert hdr.strip_threads() == expected
        codes = _Together(_random_codes(96, 64, seed=1))  # strips of up to 1024 rows: one, on the calling thread
        hdr.tone_map(codes, "pq", BT2020)
        assert codes.threads == {threading.get_ident()}
        codes = _Together(_random_codes(5000, 64, seed=1), parties=expected)  # five strips
        hdr.tone_map(codes, "pq", BT2020)
        assert threading.get_ident() in codes.threads and len(codes.threads) == expected
    finally:
        cv2.setNumThreads(before[0])
        torch.set_num_threads(before[1])


def test_an_error_on_a_helper_thread_reaches_the_caller() -> None:
    codes = _Together(_random_codes(512, 512, seed=2), parties=2, fail_on_helpers=True)  # four strips
    with pytest.raises(ValueError, match=r"strip at row \d+ failed"):
        hdr.tone_map(codes, "hlg", BT2020, threads=2)


class _FailsOnHelpers:
    """CodeRows whose strips fail on any thread but the caller's; the caller's first strip waits until the helpers
    have finished (``helpers_done``, set by the test), so every strip the caller reads after it is one it took after
    a helper had failed."""

    def __init__(self, codes: hdr.CodeRows) -> None:
        self.codes, self.shape = codes, codes.shape
        self.caller = threading.get_ident()
        self.helpers_done: threading.Event | None = None
        self.caller_strips = 0

    def rows(self, top: int, bottom: int, out: Sequence[np.ndarray]) -> Sequence[np.ndarray]:
        if threading.get_ident() != self.caller:
            raise ValueError(f"strip at row {top} failed")
        self.caller_strips += 1
        if self.caller_strips == 1 and self.helpers_done is not None:
            assert self.helpers_done.wait(TOGETHER_TIMEOUT_S), "the helper never finished"
        return self.codes.rows(top, bottom, out)


def test_an_error_on_a_helper_thread_stops_the_strips_left(monkeypatch: pytest.MonkeyPatch) -> None:
    """A helper's error was raised only once the other threads had tone-mapped the rest of the frame (16 strips:
    the caller read 15 after the helper had failed); the strips left are dropped when it fails, as on the caller."""
    codes = _FailsOnHelpers(_random_codes(2048, 512, seed=3))  # 128-row strips: sixteen
    codes.helpers_done = threading.Event()
    submitted: list[Future] = []

    class _Pool(hdr.ThreadPoolExecutor):
        def submit(self, *args: Any, **kwargs: Any) -> Future:
            future = super().submit(*args, **kwargs)
            submitted.append(future)
            future.add_done_callback(lambda _f: all(f.done() for f in submitted) and codes.helpers_done.set())
            return future

    monkeypatch.setattr(hdr, "ThreadPoolExecutor", _Pool)
    with pytest.raises(ValueError, match=r"strip at row \d+ failed"):
        hdr.tone_map(codes, "pq", BT2020, threads=2)
    assert codes.caller_strips <= 1  # a strip taken before the helper failed, or none (the helper failed first)
