"""Benchmarks behind ``python main.py bench TARGET``: each prints a table with ratios
against a baseline measured in the same run (never a timed assertion in a test)."""
