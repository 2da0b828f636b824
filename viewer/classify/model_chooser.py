"""The model chooser: the bundled demo models, the recently loaded checkpoints, "Load checkpoint...".

Each entry names its family by the title of the family's registry record; the
family is read from the checkpoint's header
(:func:`core.models.checkpoint.read_checkpoint_info`: a JSON header, no
weights).  Listing touches the disk (existence checks, header reads), so
:func:`scan_models` runs in the job runner; the combo shows the current model
at once and fills in when the scan returns.  Choosing an entry asks the
classify controller to load it (a worker job); the previous prediction is
cleared when the new model is in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from core.models import registry
from core.progress import CancelToken, check
from viewer import settings as app_settings
from viewer.classify.state import ModelStatus
from viewer.jobs import JobRunner

CATALOG_CHANNEL = "classify-catalog"
LOAD_OTHER = "__load_checkpoint__"  # the combo's last entry: opens the file dialog


def family_words(family: str) -> str:
    """The family's title from its registry record (a family no longer registered: its name)."""
    try:
        return registry.family(family).title
    except ValueError:
        return f"{family} model"


@dataclass(frozen=True)
class ModelEntry:
    """One choice of the combo: a checkpoint file, its family (``None`` when its header cannot be
    read, with the reason in ``problem``) and whether it is a bundled demo."""

    path: Path
    family: str | None
    bundled: bool
    problem: str = ""

    @property
    def text(self) -> str:
        if self.family is None:
            return f"{self.path.name} (unreadable)"
        if self.bundled:
            return f"Demo: {family_words(self.family)}"
        return f"{family_words(self.family)} — {self.path.name}"


def _same(a: Path, b: Path) -> bool:
    return str(a.expanduser().absolute()) == str(b.expanduser().absolute())


def scan_models(demos: Mapping[str, Path], recent: Sequence[str | Path], cancel: CancelToken | None = None) -> list[ModelEntry]:
    """The entries that exist: one per bundled demo family, then the recent checkpoints (bundled
    ones not repeated).  Reads each file's header only; runs in a worker."""
    from core.errors import InputError
    from core.models.checkpoint import read_checkpoint_info

    entries: list[ModelEntry] = []

    def entry(path: Path, bundled: bool) -> ModelEntry:
        try:
            return ModelEntry(path, registry.family_of(read_checkpoint_info(path).config), bundled)
        except (InputError, ValueError, OSError) as error:
            return ModelEntry(path, None, bundled, problem=str(error))

    for path in demos.values():
        check(cancel)
        path = Path(path)
        if path.is_file():
            entries.append(entry(path, True))
    for name in recent:
        check(cancel)
        path = Path(name)
        if path.is_file() and not any(_same(path, e.path) for e in entries):
            entries.append(entry(path, False))
    return entries


class ModelChooser(QWidget):
    """"Model [combo]": the entries of the last scan, the current model selected."""

    modelChosen = Signal(object)  # a path the user picked (a str through Qt loses the bytes of a name that are not UTF-8)
    loadOtherRequested = Signal()  # "Load checkpoint..."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.box = QComboBox()
        self.box.setObjectName("modelChooser")
        self.box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.box.setMinimumContentsLength(18)
        self.box.setToolTip("The model that classifies: a bundled demo per family, a checkpoint loaded before, or another file")
        self.box.activated.connect(self._activated)  # the user's choices only, never our own updates
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Model"))
        layout.addWidget(self.box, 1)
        self.entries: list[ModelEntry] = []
        self.current: Path | None = None
        self._fill()

    def set_entries(self, entries: Sequence[ModelEntry]) -> None:
        self.entries = list(entries)
        self._fill()

    def set_current(self, path: Path | None) -> None:
        self.current = None if path is None else Path(path)
        self._fill()

    def entry_paths(self) -> list[Path]:
        return [Path(self.box.itemData(i)) for i in range(self.box.count()) if self.box.itemData(i) not in (None, LOAD_OTHER)]

    def choose(self, path: str | Path) -> None:
        """Pick the entry for ``path`` as a user does (tests, keyboard-less use)."""
        wanted = Path(path)
        index = next((i for i in range(self.box.count()) if self.box.itemData(i) == wanted), -1)
        if index < 0:
            raise ValueError(f"{path} is not among the models offered: {[str(p) for p in self.entry_paths()]}")
        self.box.setCurrentIndex(index)
        self._activated(index)

    def _fill(self) -> None:
        entries = list(self.entries)
        if self.current is not None and not any(_same(self.current, e.path) for e in entries):
            entries.insert(0, ModelEntry(self.current, None, False, problem="reading ..."))  # shown until a scan lists it
        self.box.blockSignals(True)
        self.box.clear()
        selected = -1
        for entry in entries:
            text = entry.text if entry.problem != "reading ..." else entry.path.name
            self.box.addItem(text, entry.path)  # the Path itself: Qt keeps a str's text only, without bytes that are not UTF-8
            row = self.box.count() - 1
            self.box.setItemData(row, entry.problem or str(entry.path), Qt.ItemDataRole.ToolTipRole)
            if entry.family is None and entry.problem != "reading ...":
                self.box.model().item(row).setEnabled(False)  # type: ignore[attr-defined]
            if self.current is not None and _same(self.current, entry.path):
                selected = row
        if entries:
            self.box.insertSeparator(self.box.count())
        self.box.addItem("Load checkpoint…", LOAD_OTHER)
        self.box.setCurrentIndex(selected)
        self.box.blockSignals(False)

    def _activated(self, index: int) -> None:
        data = self.box.itemData(index)
        if data == LOAD_OTHER:
            self._fill()  # the selection goes back to the current model until a file is loaded
            self.loadOtherRequested.emit()
        elif data is not None:  # the current model too: picked back while another loads, it must stay
            self.modelChosen.emit(str(data))


class ModelCatalog(QObject):
    """Keeps the chooser's list up to date: rescans (in a worker) when the loaded model changes,
    records the loaded model as chosen and recent.  A recent file that is gone is not offered but stays
    remembered (the list is capped): a drive not mounted at one start must not empty the list for good."""

    def __init__(
        self,
        chooser: ModelChooser,
        jobs: JobRunner,
        *,
        demos: Callable[[], Mapping[str, Path]] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.chooser, self.jobs = chooser, jobs
        self.demos = demos or _bundled_demos
        self.scans = 0  # finished scans (tests wait on it)
        self._recorded: Path | None = None

    def model_changed(self, status: ModelStatus) -> None:
        self.chooser.set_current(status.path)
        if status.ready and status.chosen and status.config is not None and status.path is not None and status.path != self._recorded:
            self._recorded = status.path
            app_settings.set_chosen_checkpoint(status.path)
            if not any(_same(status.path, Path(p)) for p in self.demos().values()):
                app_settings.add_recent_checkpoint(status.path)
            self.refresh()

    @property
    def busy(self) -> bool:
        return self.jobs.is_busy(CATALOG_CHANNEL)

    def refresh(self) -> int:
        demos, recent = dict(self.demos()), app_settings.recent_checkpoints()

        def work(cancel, progress):  # noqa: ANN001 - the JobFunction signature
            return scan_models(demos, recent, cancel)

        return self.jobs.submit(CATALOG_CHANNEL, work, self._scanned)

    def _scanned(self, entries: list[ModelEntry]) -> None:
        self.chooser.set_entries(entries)
        self.scans += 1


def _bundled_demos() -> Mapping[str, Path]:
    return registry.demo_checkpoints()  # looked up on each call: tests point the records at their own files
