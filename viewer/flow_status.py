"""What the flow view says while it waits, and its banner: drawn over the view, never beside it.

The view shows flow of the video, pair and method its caption names, or
nothing: while that flow is computed the picture is cleared and a panel over
it says which job will fill it, its progress and the time left, with a
one-click switch to the fast method when the job is a slow one.  The banner
(RAFT without weights, a slow method not started) floats at the top of the
view: showing or hiding it never moves the views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from core.flow.raft_weights import default_weights_file, display_name
from viewer.flow_controller import FAST_METHOD, FlowController, FlowFrame, FlowJobStatus, SlowMethodOffer

if TYPE_CHECKING:
    from viewer.main_window import MainWindow

LOAD_WEIGHTS_MENU = "Flow > Load RAFT weights…"
PANEL_STYLE = "QFrame#%s { background: rgba(32, 33, 36, 215); border: 1px solid #5f6368; border-radius: 4px; } QLabel { color: #e8eaed; }"
BANNER_STYLE = "QFrame#flowBanner { background: #fff3cd; border: 1px solid #ffe69c; border-radius: 3px; } QLabel { color: #664d03; }"


def fallback_text(frame: FlowFrame, asked: str) -> str:
    """The banner for flow that fell back: which weights file is missing and what to do in this window."""
    if asked in ("raft-large", "raft-small"):
        return (f"{display_name(asked)} weights not found ({default_weights_file(asked).name}): showing {frame.method_used} flow. "
                f"Load a weights file with {LOAD_WEIGHTS_MENU}")
    return f"{asked} flow is not available: showing {frame.method_used} flow"


def flow_caption(flow: FlowFrame, controller: FlowController) -> str:
    """The flow view's caption: the pair, the method that made the picture, and its colour scale, in the video's
    pixels (the picture's radius is at the flow's analysis size, smaller on a large video)."""
    used = flow.method_used + (f" (fell back from {controller.method})" if flow.fell_back else "")
    if flow.encoding.normalization != "fixed":
        colours = f"colours per pair: this one saturates at {flow.radius * controller.video_pixels:.2g} px"
    else:
        radius = flow.encoding.max_radius * controller.video_pixels
        colours = f"colours saturate at {radius:g} px" + (" (auto)" if controller.auto_radius else " (locked)")
    return f"flow {flow.pair} -> {flow.pair + 1}, {used}; {colours}"


class _Panel(QFrame):
    """A message with optional buttons, floating over a view."""

    def __init__(self, name: str, style: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setStyleSheet(style % name if "%s" in style else style)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        self.button = self.add_button("")
        self.setVisible(False)

    def add_button(self, text: str) -> QPushButton:
        """A button after the message, hidden until asked for."""
        button = QPushButton(text)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setVisible(False)
        self.layout().addWidget(button)
        return button

    def text(self) -> str:
        return self.label.text()


class FlowStatus(QObject):
    """Wires the flow controller's job states, fallbacks and offers to the flow view."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window, self.flow, self.view = window, window.flow, window.flow_view
        self.panel = _Panel("flowJobPanel", PANEL_STYLE, self.view)
        self.panel.button.setObjectName("switchToFast")
        self.panel.button.setText(f"Switch to {FAST_METHOD.upper()} (fast)")
        self.panel.button.clicked.connect(lambda: self.window.method_box.setCurrentText(FAST_METHOD))
        self.retry_button = self.panel.add_button("Try again")  # a failure that may pass (memory, a drive gone a while)
        self.retry_button.setObjectName("retryFlow")
        self.retry_button.clicked.connect(self.flow.try_again)
        self.banner = _Panel("flowBanner", BANNER_STYLE, self.view)
        self.banner.button.setObjectName("useSlowMethod")
        self.banner.button.clicked.connect(self._take_offer)
        self._fallback: str = ""
        self.view.installEventFilter(self)
        self.flow.flowPending.connect(self._on_pending)
        self.flow.flowUnavailable.connect(self._on_unavailable)
        self.flow.jobStatus.connect(self._on_status)
        self.flow.fallbackNotice.connect(self._on_fallback)
        self.flow.slowMethodOffer.connect(lambda _offer: self._show_banner())
        self.flow.methodChanged.connect(self.window.method_box.setCurrentText)
        self.flow.scanStatus.connect(self.window.scan_label.setText)
        self.scan_button = window.timeline.scan_button
        self.scan_button.clicked.connect(self._scan_button_clicked)
        self.flow.scanActive.connect(self._on_scan_active)

    # -- the scan's Stop / Resume -------------------------------------------------
    def _on_scan_active(self, active: bool) -> None:
        self.scan_button.setText("Stop scan")
        self.scan_button.setVisible(active)

    def _scan_button_clicked(self) -> None:
        if self.flow.scanning:
            self.flow.stop_scan()
            self.scan_button.setText("Resume scan")
            self.scan_button.setVisible(True)
        else:
            self.flow.resume_scan()

    # -- the panel over the picture while its flow is computed ------------------
    def _on_pending(self, pair: int) -> None:
        self._empty(f"computing {self.flow.method} flow for frames {pair}-{pair + 1} ...")

    def _on_unavailable(self, reason: str) -> None:
        self._empty(reason)
        self.panel.setVisible(False)  # no job will fill it

    def _empty(self, caption: str) -> None:
        self.view.set_frame(None)  # nothing of another video, pair or method stays up
        self.view.graphics.viewport().update()  # repaint it all: an emptied image item invalidates no area of its own
        self.window._shown_flow = None
        self.view.set_caption(caption)

    def _on_status(self, status: FlowJobStatus) -> None:
        if status.phase == "ready":
            self.panel.setVisible(False)
            return
        if status.phase == "measuring":
            text = "Measuring the video's motion (a few pairs with DIS) to settle its colours"
        elif status.phase == "failed":
            text = f"No {status.method} flow for frames {status.pair}-{status.pair + 1}"
            if self.window._shown_flow is None:  # the empty view's caption said it was computing
                self.view.set_caption(f"no {status.method} flow for frames {status.pair}-{status.pair + 1}: it failed")
        else:
            text = f"Computing {status.method} flow for frames {status.pair}-{status.pair + 1}"
        if status.text:
            text += f": {status.text}"
        self.panel.label.setText(text)
        self.panel.button.setVisible(status.phase in ("computing", "failed") and status.slow)
        self.retry_button.setVisible(status.phase == "failed" and status.retryable)
        self.panel.setVisible(True)
        self._place()

    # -- the banner ---------------------------------------------------------------
    def _on_fallback(self, frame: FlowFrame | None) -> None:
        self._fallback = "" if frame is None else fallback_text(frame, self.flow.method)
        self._show_banner()

    def _show_banner(self) -> None:
        offer: SlowMethodOffer | None = self.flow.offer
        if offer is not None:
            self.banner.label.setText(offer.describe())
            self.banner.button.setText(f"Use {offer.method} anyway")
        else:
            self.banner.label.setText(self._fallback)
        self.banner.button.setVisible(offer is not None)
        self.banner.setVisible(offer is not None or bool(self._fallback))
        self._place()

    def _take_offer(self) -> None:
        offer = self.flow.offer
        if offer is not None:
            self.window.method_box.setCurrentText(offer.method)

    # -- placement: over the view's picture, whatever its size ------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if watched is self.view and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self._place()
        return False

    def _place(self) -> None:
        area = self.view.graphics.geometry()
        margin = 8
        width = max(120, area.width() - 2 * margin)
        if self.banner.isVisible():
            self.banner.setFixedWidth(width)
            self.banner.adjustSize()
            self.banner.move(area.left() + margin, area.top() + margin)
            self.banner.raise_()
        if self.panel.isVisible():
            self.panel.setFixedWidth(min(width, 460))
            self.panel.adjustSize()
            self.panel.move(area.left() + (area.width() - self.panel.width()) // 2, area.top() + (area.height() - self.panel.height()) // 2)
            self.panel.raise_()
