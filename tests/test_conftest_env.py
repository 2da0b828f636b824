"""The test session's environment is set before torch loads: OpenMP reads ``OMP_NUM_THREADS`` once, when torch's
library is loaded, so a value set after ``import torch`` leaves every test on all the machine's cores.  And no test, nor a fixture
of a module, writes into the user's cache or settings folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

PROBE = """
import os, sys
seen = []

class WatchTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and not seen:
            seen.append(os.environ.get("OMP_NUM_THREADS"))
        return None

sys.meta_path.insert(0, WatchTorch())
import conftest
import torch
print(seen[0])
"""


def test_conftest_sets_the_thread_count_before_torch_is_imported() -> None:
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(TESTS.parent)])
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=TESTS, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"


@pytest.fixture(scope="module")
def env_of_a_module_fixture() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in ("TWOSTREAM_CACHE_DIR", "TORCH_HOME", "XDG_CONFIG_HOME")}


def test_module_fixtures_write_no_cache_or_setting_into_the_users_folders(env_of_a_module_fixture, tmp_path_factory) -> None:
    """Module fixtures (a generated dataset, an ablation run) are made before the per-test folders are set."""
    session_root = tmp_path_factory.getbasetemp()
    for name, value in env_of_a_module_fixture.items():
        assert value is not None, name
        assert Path(value).is_relative_to(session_root), (name, value)
