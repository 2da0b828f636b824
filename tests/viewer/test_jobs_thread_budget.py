"""Jobs running at once in the viewer's workers share the cores: each gets an even share of torch threads."""

from __future__ import annotations

import threading
import time

import torch

from core.thread_budget import WORKER_BUDGET
from viewer.jobs import JobRunner


def test_overlapping_jobs_share_the_cores_and_a_lone_job_gets_them_back(qtbot, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(WORKER_BUDGET, "cores", 2)
    runner = JobRunner()
    seen: dict[str, int] = {}
    second_started, first_checked, first_done = threading.Event(), threading.Event(), threading.Event()
    results: list[str] = []

    def first(cancel, progress):  # noqa: ANN001
        seen["first alone"] = torch.get_num_threads()
        second_started.wait(10)
        progress(1, 2)  # a chunk boundary: the share follows the second job's start
        seen["first beside second"] = torch.get_num_threads()
        first_checked.set()
        return "first"

    def second(cancel, progress):  # noqa: ANN001
        seen["second beside first"] = torch.get_num_threads()
        second_started.set()
        first_done.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and torch.get_num_threads() != 2:
            progress(1, 2)  # the first job has ended (or is ending): its cores come back here
            time.sleep(0.01)
        seen["second alone"] = torch.get_num_threads()
        return "second"

    try:
        runner.submit("scan", first, results.append)
        qtbot.waitUntil(lambda: "first alone" in seen, timeout=10000)
        runner.submit("view", second, results.append)
        qtbot.waitUntil(lambda: results == ["first"], timeout=10000)
        first_done.set()
        qtbot.waitUntil(lambda: len(results) == 2, timeout=15000)
    finally:
        first_done.set()
        runner.shutdown()
    assert seen == {"first alone": 2, "second beside first": 1, "first beside second": 1, "second alone": 2}
    assert WORKER_BUDGET.active == 0
