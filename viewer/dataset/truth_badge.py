"""Under the model line: what the model was trained on, its caveat, and the video's true class.

Plain rendering of state it is handed: the classification state (model,
prediction), the viewer state (the open video) and a lookup of known labels
(the open dataset's).  What it says comes from files: the checkpoint's header
(a few kilobytes of JSON, no weights), the video's sidecar, a synthetic
dataset's manifest near it.  They are read in a worker ("truth-badge" channel)
once per model, video and labels, never on the GUI thread (a video on a
network drive stalled the window at every open); until they are in, the badge
says nothing rather than what it said of another video or model.  The verdict
on a prediction (right or wrong) is drawn from them at once.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.data.ground_truth import TrueClass, true_class
from core.models.domain import ModelDomain, domain_note, model_domain
from viewer.jobs import JobRunner
from viewer.notifier import Notifier
from viewer.widgets.elided_label import ElidedLabel

NOTE_STYLE = "background: #fff3cd; color: #664d03; padding: 3px; border: 1px solid #ffe69c;"
CHANNEL = "truth-badge"


@dataclass(frozen=True)
class BadgeFacts:
    """What the files say: the model's domain, the caveat for this video, and its true class."""

    domain: ModelDomain | None
    note: str
    truth: TrueClass | None


def read_facts(path: Path | None, config: Any, video: str | None, labels: Mapping[str, str],
               domain: ModelDomain | None = None) -> BadgeFacts:
    """The badge's facts (worker: reads files); ``domain``: the model's, when it was read before."""
    if domain is None and config is not None and path is not None:
        from core.errors import InputError
        from core.models.checkpoint import read_checkpoint_info

        try:
            extra = read_checkpoint_info(path).extra
        except InputError:
            extra = {}
        domain = model_domain(config.class_names, extra)
    note = "" if domain is None else domain_note(domain, video)
    truth = None if video is None or domain is None else true_class(video, domain.classes, labels)
    return BadgeFacts(domain, note, truth)


def _label(name: str, style: str, label: QLabel | None = None) -> QLabel:
    """``label`` (a word-wrapped QLabel when none is given: an ElidedLabel keeps to its one line) named and styled."""
    if label is None:
        label = QLabel("")
        label.setWordWrap(True)
    label.setObjectName(name)
    label.setStyleSheet(style)
    return label


class TruthBadge(QWidget):
    def __init__(self, classify_state, viewer_state, labels: Callable[[], Mapping[str, str]], jobs: JobRunner,  # noqa: ANN001
                 notifier: Notifier | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.classify_state, self.viewer_state, self.labels = classify_state, viewer_state, labels
        self.jobs, self.notifier = jobs, notifier
        self.domain_label = _label("modelDomain", "color: #5f6368;")
        # one line, the whole caveat in its tooltip: wrapped, it took four lines of the Classification dock and
        # pushed the prediction's timings past its edge at 1280x800
        self.note_label = _label("domainNote", NOTE_STYLE, ElidedLabel())
        self.truth_label = _label("groundTruth", "")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        for label in (self.domain_label, self.note_label, self.truth_label):
            layout.addWidget(label)
        self._domain_of: tuple[tuple, ModelDomain | None] | None = None  # (model path, config) -> its domain
        self._facts_of: tuple[tuple, BadgeFacts] | None = None  # (model path, config, video, labels) -> facts
        self._asked: tuple | None = None  # the key the job in progress reads the facts of
        classify_state.modelChanged.connect(lambda _m: self.refresh())
        classify_state.predictionChanged.connect(lambda _p: self.refresh())
        viewer_state.videoChanged.connect(lambda _v: self.refresh())
        self.refresh()

    def _key(self) -> tuple:
        status, info = self.classify_state.model, self.viewer_state.info
        model = (status.path, status.config) if status.config is not None and status.path is not None else (None, None)
        return (*model, None if info is None else info.path, self.labels())

    def refresh(self) -> None:
        """Show the facts of the model, video and labels now; read in a worker when they are not known yet."""
        key = self._key()
        if self._facts_of is not None and _same(self._facts_of[0], key):
            self._show(self._facts_of[1])
            return
        known = self._domain_of[1] if self._domain_of is not None and _same(self._domain_of[0], key[:2]) else None
        self._show(BadgeFacts(known, "", None))  # nothing of another video or model while this one's files are read
        if self._asked is not None and _same(self._asked, key) and self.jobs.is_busy(CHANNEL):
            return  # on its way
        self._asked = key
        path, config, video, labels = key

        def work(cancel, progress):  # noqa: ANN001, ANN202
            return read_facts(path, config, video, labels, known)

        failed = None if self.notifier is None else (lambda e, t: self.notifier.error("Cannot read the video's true class", e, t))
        self.jobs.submit(CHANNEL, work, lambda facts: self._arrived(key, facts), on_error=failed)

    def _arrived(self, key: tuple, facts: BadgeFacts) -> None:
        self._domain_of = (key[:2], facts.domain)
        self._facts_of = (key, facts)
        self.refresh()  # shown if still current; else the newer request's job is on its way

    def _show(self, facts: BadgeFacts) -> None:
        domain, note, truth = facts.domain, facts.note, facts.truth
        self.domain_label.setText("" if domain is None else domain.describe().capitalize())
        self.note_label.setText(note)
        self.note_label.setVisible(bool(note))
        self.truth_label.setVisible(truth is not None)
        if truth is None:
            self.truth_label.setText("")
            return
        prediction = self.classify_state.prediction
        name = html.escape(truth.name)
        if domain is not None and truth.name not in domain.classes:  # a dataset's class the model never learnt
            self.truth_label.setText(f"true: <b>{name}</b> <span style='color:#5f6368'>(from the {truth.source}; not one of the "
                                     "model's classes: neither right nor wrong)</span>")
        elif prediction is None:
            self.truth_label.setText(f"true: <b>{name}</b> <span style='color:#5f6368'>(from the {truth.source})</span>")
        elif prediction.label == truth.name:
            self.truth_label.setText(f"true: <b>{name}</b> <span style='color:#1a7f37'>✔ right</span>")
        else:
            self.truth_label.setText(f"true: <b>{name}</b> <span style='color:#cf222e'>✘ wrong</span>")


def _same(a: tuple, b: tuple) -> bool:
    """Keys compared by value for paths, by identity for the rest (a config, a labels mapping that is replaced when it
    changes, never changed in place)."""
    return len(a) == len(b) and all(x is y or (isinstance(x, (str, Path)) and x == y) for x, y in zip(a, b))
