"""Two-stream action recognition: video input, optical flow, models, inference, training.

Nothing under ``core`` imports Qt, so every piece runs from the command line, in
tests and in worker processes; ``viewer`` is the only Qt layer.
"""

__version__ = "0.1.0"
