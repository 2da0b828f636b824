"""Benchmarks of the real window (``python main.py bench ui``).

    ui.py    the longest GUI-thread stall while flow, classification, scrubbing and playback run
"""
