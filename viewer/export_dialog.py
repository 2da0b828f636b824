"""File > Export > Clip: which frames (the classify region, the whole video, or a range) and whether
to burn in the frame number and the predicted class and score."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QRadioButton, QSpinBox, QVBoxLayout, QWidget


class ExportRangeDialog(QDialog):
    def __init__(self, frame_count: int, region: tuple[int, int], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export clip as MP4")
        self.setObjectName("exportRangeDialog")
        last = max(0, frame_count - 1)
        self.region = (max(0, region[0]), min(last, region[1]))
        self.frame_count = frame_count
        self.region_button = QRadioButton(f"Classify region: frames {self.region[0]}-{self.region[1]}")
        self.whole_button = QRadioButton(f"Whole video: frames 0-{last}")
        self.range_button = QRadioButton("Frames")
        self.region_button.setChecked(True)
        self.first_box, self.last_box = QSpinBox(), QSpinBox()
        for box, value in ((self.first_box, self.region[0]), (self.last_box, self.region[1])):
            box.setRange(0, last)
            box.setValue(value)
            box.valueChanged.connect(lambda _v: self.range_button.setChecked(True))
        self.burn_box = QCheckBox("Burn in the frame number, class and score")
        self.burn_box.setObjectName("burnInLabels")
        self.burn_box.setChecked(True)
        self.burn_box.setToolTip("Writes each frame's number and the class and score of the prediction covering it "
                                 "(the whole-video windows when classified, else the clip's) top-left on the frame")
        span = QHBoxLayout()
        span.addWidget(self.range_button)
        span.addWidget(self.first_box)
        span.addWidget(QLabel("to"))
        span.addWidget(self.last_box)
        span.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.region_button)
        layout.addWidget(self.whole_button)
        layout.addLayout(span)
        layout.addWidget(self.burn_box)
        layout.addWidget(buttons)

    def frame_range(self) -> tuple[int, int]:
        """The chosen first and last frame (inclusive; a reversed range is put in order)."""
        if self.whole_button.isChecked():
            return 0, max(0, self.frame_count - 1)
        if self.range_button.isChecked():
            first, last = self.first_box.value(), self.last_box.value()
            return min(first, last), max(first, last)
        return self.region

    def burn_in(self) -> bool:
        return self.burn_box.isChecked()
