"""The thread budget: cores shared evenly between running jobs, per calling thread; idle OpenMP threads sleep."""

from __future__ import annotations

import threading

import torch

from core.thread_budget import ThreadBudget, available_cores, sleep_idle_openmp_threads


def test_share_is_an_even_split_of_the_cores_and_at_least_one() -> None:
    budget = ThreadBudget(cores=4)
    assert budget.share() == 4
    with budget.job():
        assert budget.share() == 4 and budget.active == 1
        with budget.job():
            assert budget.share() == 2
            with budget.job():
                assert budget.share() == 1  # 4 // 3
                with budget.job(), budget.job():
                    assert budget.share() == 1  # never zero
        assert budget.share() == 4
    assert budget.active == 0
    budget.enabled = False
    with budget.job(), budget.job():
        assert budget.share() == 4  # disabled: every job asks for every core


def test_a_job_sets_torch_threads_for_its_own_thread_only() -> None:
    budget = ThreadBudget(cores=2)
    before = torch.get_num_threads()
    entered, release = threading.Barrier(2, timeout=10), threading.Event()
    seen: dict[str, int] = {}

    def job(name: str) -> None:
        with budget.job():
            entered.wait()
            seen[name] = budget.apply()
            seen[name + " torch"] = torch.get_num_threads()
            release.wait(10)

    threads = [threading.Thread(target=job, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    while len(seen) < 4 and all(t.is_alive() for t in threads):
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(10)
    assert seen == {"a": 1, "a torch": 1, "b": 1, "b torch": 1}
    assert torch.get_num_threads() == before  # the test's own thread kept its setting


def test_budget_counts_this_process_cores() -> None:
    assert 1 <= available_cores() <= (torch.multiprocessing.cpu_count() or 1)


def test_wait_policy_is_passive_unless_the_user_chose(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert not sleep_idle_openmp_threads()
    import os

    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    assert not sleep_idle_openmp_threads()  # torch is loaded already: too late to take effect here
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
