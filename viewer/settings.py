"""Settings that persist between runs (QSettings): recent files, last folder, preferences, layout.

The file is resolved on every call from the platform's config folder
(``$XDG_CONFIG_HOME/TwoStream/TwoStreamViewer.ini`` on Linux): Qt caches the
folder of ``QSettings(format, scope, org, app)`` for the life of the process,
which would make every test share one file.

Paths are stored so that they read back as the same file: a name with bytes that
are not UTF-8 is stored percent-encoded (Qt dropped those bytes: ``clip\xff.mp4``
came back as ``clip.mp4``, another file or none).

Values read back are validated: an INI file edited by hand (or written by an
older version) gives the defaults for what it spells wrong, never a crash.  That
includes values of another type: Qt reads ``@Point(1 2)``, ``@Size(..)`` or
``@ByteArray(..)`` as a QPoint, a QSize or bytes, not text.
"""

from __future__ import annotations

import math
import os
import urllib.parse
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

ORGANIZATION = "TwoStream"
APPLICATION = "TwoStreamViewer"
MAX_RECENT = 10
OVERLAY_TARGETS = ("flow", "rgb")


def settings_path() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation) or str(Path.home() / ".config")
    return Path(base) / ORGANIZATION / f"{APPLICATION}.ini"


_open: dict[str, QSettings] = {}


def settings() -> QSettings:
    """The settings file's QSettings, one per path: reading and parsing the file once, not on
    every call (it happens on the GUI thread); Qt writes changes back shortly after, on its own."""
    path = str(settings_path())
    store = _open.get(path)
    if store is None:
        store = _open[path] = QSettings(path, QSettings.Format.IniFormat)
    return store


def flush() -> None:
    """Write pending changes now (the window closing)."""
    for store in _open.values():
        store.sync()


def write_problem() -> str:
    """``""`` when the settings file took the changes made so far, else why not, in one line naming it (its folder
    read-only, or a file where its folder should be): Qt says nothing, and every choice was lost at each run."""
    store = settings()
    store.sync()
    if store.status() != QSettings.Status.AccessError:
        return ""
    return f"{settings_path()}: cannot be written (its folder is read-only, or is not a folder): the choices made now are not kept"


def _text(value: object, default: str) -> str:
    """``value`` when the file held text there, else ``default``."""
    return value if isinstance(value, str) and value else default


def _items(value: object) -> list[object]:
    """A list as QSettings reads one back from INI: a list, one item as a plain value, none as absent or ``""``."""
    return list(value) if isinstance(value, (list, tuple)) else [] if value is None or value == "" else [value]


def _texts(value: object) -> list[str]:
    """The non-empty texts of a list the file held (one text is a list of one); anything else reads as none."""
    return [v for v in _items(value) if isinstance(v, str) and v]


_BYTES = "bytes:"  # a stored path with bytes that are not UTF-8, percent-encoded (no absolute path starts so)


def _stored(path: str) -> str:
    """``path`` as text Qt keeps whole: itself, or when it holds bytes that are not UTF-8 (which ``os.fsdecode``
    keeps as lone surrogates, and Qt drops) those bytes percent-encoded."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return _BYTES + urllib.parse.quote_from_bytes(os.fsencode(path), safe="/")
    return path


def _path(text: str) -> str:
    """The path :func:`_stored` stored as ``text``."""
    return os.fsdecode(urllib.parse.unquote_to_bytes(text[len(_BYTES):])) if text.startswith(_BYTES) else text


def _paths(value: object) -> list[str]:
    return [_path(text) for text in _texts(value)]


# -- recent files -----------------------------------------------------------------
def recent_files() -> list[str]:
    return _paths(settings().value("recent_files", []))


def add_recent_file(path: str) -> list[str]:
    path = os.path.abspath(path)  # not resolve(): it stats every part of the path, on the GUI thread (a network drive stalls)
    files = [path] + [f for f in recent_files() if f != path]
    files = files[:MAX_RECENT]
    store = settings()
    store.setValue("recent_files", [_stored(f) for f in files])
    store.setValue("last_folder", _stored(str(Path(path).parent)))
    return files


def last_folder() -> str:
    return _path(_text(settings().value("last_folder"), str(Path.home())))


def set_last_folder(folder: str) -> None:
    """Remember a folder the user saved to (exports), so the next dialog starts there."""
    settings().setValue("last_folder", _stored(str(folder)))


# -- preferences ------------------------------------------------------------------
@dataclass
class Preferences:
    """What the user chose in the window; the defaults are a first run's."""

    flow_method: str = "dis"
    device: str = "auto"
    overlay_inconsistency: bool = False
    overlay_warp_error: bool = False
    overlay_target: str = "flow"
    overlay_opacity: float = 0.8
    noise_threshold: float = 0.35


def _as_bool(value: object, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    return default


def _as_float(value: object, default: float, low: float, high: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) and low <= number <= high else default


def load_preferences(*, methods: tuple[str, ...] | list[str] = (), devices: tuple[str, ...] | list[str] = ()) -> Preferences:
    """The saved preferences; a method or device not among ``methods``/``devices`` (when given) reads as the default."""
    store = settings()
    default = Preferences()
    method = _text(store.value("preferences/flow_method"), default.flow_method)
    device = _text(store.value("preferences/device"), default.device)
    target = _text(store.value("preferences/overlay_target"), default.overlay_target)
    return Preferences(
        flow_method=method if not methods or method in methods else default.flow_method,
        device=device if not devices or device in devices else default.device,
        overlay_inconsistency=_as_bool(store.value("preferences/overlay_inconsistency"), default.overlay_inconsistency),
        overlay_warp_error=_as_bool(store.value("preferences/overlay_warp_error"), default.overlay_warp_error),
        overlay_target=target if target in OVERLAY_TARGETS else default.overlay_target,
        overlay_opacity=_as_float(store.value("preferences/overlay_opacity"), default.overlay_opacity, 0.0, 1.0),
        noise_threshold=_as_float(store.value("preferences/noise_threshold"), default.noise_threshold, 0.0, 1.0),
    )


def save_preferences(preferences: Preferences) -> None:
    store = settings()
    for name, value in asdict(preferences).items():
        store.setValue(f"preferences/{name}", value)


def save_preference(name: str, value: object) -> None:
    """Save one preference as soon as it changes (a crash later does not lose it)."""
    if name not in {f.name for f in fields(Preferences)}:
        raise KeyError(f"unknown preference {name!r}")
    settings().setValue(f"preferences/{name}", value)


# -- window layout ------------------------------------------------------------------
def save_window_layout(geometry: QByteArray, state: QByteArray) -> None:
    """``QMainWindow.saveGeometry()`` and ``saveState()`` (toolbars and docks)."""
    store = settings()
    store.setValue("window/geometry", geometry)
    store.setValue("window/state", state)
    store.sync()


def window_layout() -> tuple[QByteArray | None, QByteArray | None]:
    store = settings()
    geometry = store.value("window/geometry")
    state = store.value("window/state")
    return (geometry if isinstance(geometry, QByteArray) else None, state if isinstance(state, QByteArray) else None)


# -- models: the chosen checkpoint and the recently loaded ones -----------------------------
def recent_checkpoints() -> list[str]:
    """Checkpoints loaded before, newest first (missing files are dropped by whoever lists them:
    checking is file-system work, done in a worker)."""
    return _paths(settings().value("models/recent", []))


def add_recent_checkpoint(path: str | Path) -> list[str]:
    path = str(Path(path).expanduser().absolute())
    files = ([path] + [f for f in recent_checkpoints() if f != path])[:MAX_RECENT]
    settings().setValue("models/recent", [_stored(f) for f in files])
    return files


def chosen_checkpoint() -> str | None:
    """The checkpoint the user chose last (loaded at start when no other is given), or ``None``."""
    return _path(_text(settings().value("models/chosen"), "")) or None


def set_chosen_checkpoint(path: str | Path) -> None:
    settings().setValue("models/chosen", _stored(str(Path(path).expanduser().absolute())))


# -- flow: RAFT weights files and the colour scale ------------------------------------------
RAFT_VARIANTS = ("raft-large", "raft-small")
COLOUR_SCALES = ("video", "pair")  # one radius per video (auto or locked), or each pair its own


def raft_weights() -> dict[str, str]:
    """The RAFT weights files the user loaded, by variant (only those still on disk: a file moved
    away reads as never loaded, so the flow falls back with a banner instead of failing)."""
    out = {}
    for variant in RAFT_VARIANTS:
        value = _path(_text(settings().value(f"flow/raft_weights/{variant}"), ""))
        if value and Path(value).is_file():
            out[variant] = value
    return out


def set_raft_weights(variant: str, path: str | Path) -> None:
    if variant not in RAFT_VARIANTS:
        raise KeyError(f"unknown RAFT variant {variant!r}")
    settings().setValue(f"flow/raft_weights/{variant}", _stored(str(Path(path).expanduser().absolute())))


def colour_scale() -> tuple[str, float]:
    """``(scale, radius)``: "video" or "pair", and the locked radius in the video's pixels (0: each video's own).
    A radius saved before it was in the video's pixels (it was in the flow's analysis pixels, smaller on a video
    over 480 lines) is read as video pixels: the same number, the same colours on videos up to 480 lines."""
    scale = _text(settings().value("flow/colour_scale"), COLOUR_SCALES[0])
    radius = _as_float(settings().value("flow/locked_radius"), 0.0, 0.0, 200.0)
    return (scale if scale in COLOUR_SCALES else COLOUR_SCALES[0]), radius


def set_colour_scale(scale: str, radius: float) -> None:
    if scale not in COLOUR_SCALES:
        raise ValueError(f"colour scale must be one of {COLOUR_SCALES}, got {scale!r}")
    store = settings()
    store.setValue("flow/colour_scale", scale)
    store.setValue("flow/locked_radius", float(radius))


# -- the dataset panel's layout: the table beside the figures, the table's column widths -----------------
MAX_LAYOUT_PX = 100_000  # far wider than any screen: a larger saved size is a damaged value
MIN_COLUMN_PX = 8  # narrower, a column cannot be found to drag wider again


def _whole_numbers(value: object) -> list[int | None]:
    """Each item of a list the file held (:func:`_items`): a whole number, or ``None`` where it is not one."""
    out: list[int | None] = []
    for item in _items(value):
        try:
            out.append(int(str(item).strip()))
        except ValueError:
            out.append(None)
    return out


def dataset_splitter_sizes(panes: int) -> list[int] | None:
    """The widths of the table and the figures beside it, saved last; ``None`` (the defaults) when absent, not
    ``panes`` whole numbers from 0 to :data:`MAX_LAYOUT_PX`, or with the table at 0 (a collapsed table at start
    looks like an empty panel)."""
    sizes = _whole_numbers(settings().value("dataset_panel/splitter"))
    if len(sizes) != panes or any(s is None or not 0 <= s <= MAX_LAYOUT_PX for s in sizes) or not sizes[0]:
        return None
    return [int(s) for s in sizes if s is not None]


def dataset_column_widths(columns: int) -> list[int | None]:
    """Each table column's width saved last, ``None`` for one absent or outside :data:`MIN_COLUMN_PX` to
    :data:`MAX_LAYOUT_PX` (it keeps its default); all ``None`` when not ``columns`` were saved (another
    version's columns)."""
    widths = _whole_numbers(settings().value("dataset_panel/column_widths"))
    if len(widths) != columns:
        return [None] * columns
    return [w if w is not None and MIN_COLUMN_PX <= w <= MAX_LAYOUT_PX else None for w in widths]


def save_dataset_panel_layout(splitter_sizes: list[int], column_widths: list[int]) -> None:
    store = settings()
    store.setValue("dataset_panel/splitter", [int(s) for s in splitter_sizes])
    store.setValue("dataset_panel/column_widths", [int(w) for w in column_widths])
    store.sync()
