"""The count-and-noun wording shared by eval's report and bench decode's header."""

from __future__ import annotations

from core.wording import counted


def test_a_count_is_plural_unless_it_is_one() -> None:
    assert [counted(n, "thread") for n in (0, 1, 2)] == ["0 threads", "1 thread", "2 threads"]
    assert counted(12, "video") == "12 videos"
