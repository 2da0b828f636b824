"""Under the model line: what the model was trained on, its caveat, and the video's true class.

Plain rendering of state it is handed: the classification state (model,
prediction), the viewer state (the open video) and a lookup of known labels
(the open dataset's).  The checkpoint's header is read once per model (a few
kilobytes of JSON, no weights); what the video's files say (its sidecar, a
synthetic dataset's manifest) once per video and model: a refresh comes with every
prediction and every model change, on the GUI thread.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Callable, Mapping

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.data.ground_truth import true_class
from core.models.domain import ModelDomain, domain_note, model_domain

NOTE_STYLE = "background: #fff3cd; color: #664d03; padding: 3px; border: 1px solid #ffe69c;"


def _label(name: str, style: str) -> QLabel:
    label = QLabel("")
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setStyleSheet(style)
    return label


class TruthBadge(QWidget):
    def __init__(self, classify_state, viewer_state, labels: Callable[[], Mapping[str, str]], parent: QWidget | None = None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.classify_state, self.viewer_state, self.labels = classify_state, viewer_state, labels
        self.domain_label = _label("modelDomain", "color: #5f6368;")
        self.note_label = _label("domainNote", NOTE_STYLE)
        self.truth_label = _label("groundTruth", "")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        for label in (self.domain_label, self.note_label, self.truth_label):
            layout.addWidget(label)
        self._domain_of: tuple[Path | None, ModelDomain | None] = (None, None)
        self._facts_of: tuple[tuple, tuple[str, object]] | None = None  # (video, domain, labels) -> (note, true class)
        classify_state.modelChanged.connect(lambda _m: self.refresh())
        classify_state.predictionChanged.connect(lambda _p: self.refresh())
        viewer_state.videoChanged.connect(lambda _v: self.refresh())
        self.refresh()

    def domain(self) -> ModelDomain | None:
        status = self.classify_state.model
        if status.config is None or status.path is None:
            return None
        if self._domain_of[0] != status.path:
            from core.errors import InputError
            from core.models.checkpoint import read_checkpoint_info

            try:
                extra = read_checkpoint_info(status.path).extra
            except InputError:
                extra = {}
            self._domain_of = (status.path, model_domain(status.config.class_names, extra))
        return self._domain_of[1]

    def _video_facts(self, video: str | None, domain: ModelDomain | None) -> tuple[str, object]:
        """The domain caveat and the true class of ``video`` (files read once per video, model and labels)."""
        labels = self.labels()
        key = (video, domain, labels)  # the dataset controller replaces its mapping when it changes: identity says enough
        if self._facts_of is None or any(a is not b for a, b in zip(self._facts_of[0], key)):
            note = "" if domain is None else domain_note(domain, video)
            truth = None if video is None or domain is None else true_class(video, domain.classes, labels)
            self._facts_of = (key, (note, truth))
        return self._facts_of[1]

    def refresh(self) -> None:
        domain = self.domain()
        info = self.viewer_state.info
        video = None if info is None else info.path
        self.domain_label.setText("" if domain is None else domain.describe().capitalize())
        note, truth = self._video_facts(video, domain)
        self.note_label.setText(note)
        self.note_label.setVisible(bool(note))
        self.truth_label.setVisible(truth is not None)
        if truth is None:
            self.truth_label.setText("")
            return
        prediction = self.classify_state.prediction
        name = html.escape(truth.name)
        if prediction is None:
            self.truth_label.setText(f"true: <b>{name}</b> <span style='color:#5f6368'>(from the {truth.source})</span>")
        elif prediction.label == truth.name:
            self.truth_label.setText(f"true: <b>{name}</b> <span style='color:#1a7f37'>✔ right</span>")
        else:
            self.truth_label.setText(f"true: <b>{name}</b> <span style='color:#cf222e'>✘ wrong</span>")
