"""Settings that persist between runs (QSettings): recent files, last folder, layout."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "TwoStream"
APPLICATION = "TwoStreamViewer"
MAX_RECENT = 10


def settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def recent_files() -> list[str]:
    value = settings().value("recent_files", [])
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in (value or []) if v]


def add_recent_file(path: str) -> list[str]:
    path = str(Path(path).resolve())
    files = [path] + [f for f in recent_files() if f != path]
    files = files[:MAX_RECENT]
    store = settings()
    store.setValue("recent_files", files)
    store.setValue("last_folder", str(Path(path).parent))
    return files


def last_folder() -> str:
    return str(settings().value("last_folder", str(Path.home())))
