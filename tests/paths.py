"""Where the tests find the repository and the real material beside it (``../shared``)."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
