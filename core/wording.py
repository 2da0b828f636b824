"""Small pieces of the words the command lines print."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """``1 video``, ``3 videos``: a count with its noun, plural unless it is one (nouns with a plain "s" only)."""
    return f"{n} {noun}" + ("" if n == 1 else "s")
