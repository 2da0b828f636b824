"""Play/pause, a frame slider and the frame/time readout."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSlider, QStyle, QWidget

from viewer.state import ViewerState
from viewer.widgets.steady_label import SteadyLabel


class TransportBar(QWidget):
    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.play_button = QPushButton()
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.play_button.clicked.connect(lambda: state.set_playing(not state.playing))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrow keys belong to the window
        self.slider.valueChanged.connect(state.set_frame)
        self.readout = SteadyLabel("no video", chars=28)  # relabelled on every frame: no relayout (see its module)
        self.readout.setMinimumWidth(190)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.play_button)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.readout)
        state.videoChanged.connect(self._on_video)
        state.frameChanged.connect(self._on_frame)
        state.playingChanged.connect(self._on_playing)
        self._on_video(state.info)
        self._on_playing(False)

    def _on_video(self, info: object) -> None:
        count = self.state.frame_count
        self.slider.setEnabled(count > 0)
        self.play_button.setEnabled(count > 0)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, count - 1))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self._on_frame(self.state.frame_index)

    def _on_frame(self, index: int) -> None:
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        info = self.state.info
        if info is None:
            self.readout.setText("no video")
            return
        seconds = self.state.seconds_at(index)
        self.readout.setText(f"frame {index} / {info.frames - 1}   {seconds:6.2f} s")

    def _on_playing(self, playing: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
