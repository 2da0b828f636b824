"""Inspection tools on the frame views, as napari users expect them: linked zoom and pan, a cursor
readout (pixel value, flow vector, noise there) and an optional arrow layer for the flow.

Wiring only: the link is :class:`~viewer.widgets.view_link.ViewLink`, the readout's text
:func:`~viewer.widgets.cursor_readout.readout_text`, the vectors and arrows come from a worker
(:class:`~viewer.flow_field.FlowFieldSource`).  Per mouse move the GUI thread does a few array
look-ups; per flow frame it hands ready-made segments to the view.  While the flow view waits for
another pair or method, the arrows and the readout's flow part go with its picture: nothing of the
old pair stays up beside the new caption.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from viewer.flow_field import FlowFieldSource
from viewer.widgets.cursor_readout import IDLE_TEXT, CursorReadout, readout_text
from viewer.widgets.frame_view import FrameView
from viewer.widgets.view_link import ViewLink

if TYPE_CHECKING:
    from viewer.main_window import MainWindow


class InspectUi(QObject):
    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self.link = ViewLink(window.rgb_view, window.flow_view, parent=self)
        self.link_action = QAction("&Link zoom and pan of RGB and flow", window)
        self.link_action.setObjectName("linkViews")
        self.link_action.setCheckable(True)
        self.link_action.setChecked(True)
        self.link_action.setToolTip("Zooming or panning one view shows the same part of the frame in the other")
        self.link_action.toggled.connect(self.link.set_enabled)
        self.arrows_action = QAction("Flow &arrows", window)
        self.arrows_action.setObjectName("flowArrows")
        self.arrows_action.setCheckable(True)
        self.arrows_action.setShortcut(QKeySequence("A"))
        self.arrows_action.setToolTip("Draw the flow as arrows over the flow view (A): each cell's mean motion, one length scale per video")
        self.arrows_action.toggled.connect(self.set_arrows)
        window.view_menu.addSeparator()
        window.view_menu.addAction(self.link_action)
        window.view_menu.addAction(self.arrows_action)
        window.addAction(self.arrows_action)

        self.readout = CursorReadout()
        window.statusBar().insertPermanentWidget(0, self.readout)
        window.statusBar().messageChanged.connect(lambda _message: self._fit_readout())
        self.fields = FlowFieldSource(window.jobs, self._flow_settings, window.notifier.notice, self)
        self.fields.ready.connect(self._fields_ready)
        self._flow_frame = None  # the FlowFrame the flow view shows
        self._pending: int | None = None  # the pair the flow view waits for, while it waits
        self._hover: tuple[float, float] | None = None  # fractions of the frame under the mouse
        window.flow.flowReady.connect(self._flow_shown)
        window.flow.flowPending.connect(self._flow_pending)
        window.rgb_view.imageChanged.connect(self._update_readout)  # frames decode in a worker: the pixel value follows the one shown
        window.video.videoLoaded.connect(lambda _video: self._reset())
        for view in (window.rgb_view, window.flow_view):
            view.hovered.connect(lambda x, y, v=view: self._hovered(v, x, y))

    def _flow_settings(self) -> tuple:
        flow = self.window.flow
        weights_for = getattr(flow, "raft_weights_for", None)
        return flow.video, flow.method, flow.device, None if weights_for is None else weights_for(flow.method)

    def _reset(self) -> None:
        self.fields.reset()
        self._flow_frame, self._pending = None, None
        self.window.flow_view.set_segments(None)
        self._update_readout()

    # -- arrows ------------------------------------------------------------------------------------------
    def set_arrows(self, on: bool) -> None:
        self.fields.arrows_wanted = bool(on)
        if on and self._flow_frame is not None:
            self.fields.request(self._flow_frame.pair)
        self._draw_arrows()

    def _draw_arrows(self) -> None:
        view = self.window.flow_view
        arrows = None if not self.arrows_action.isChecked() or self._flow_frame is None else self.fields.arrows(self._flow_frame.pair)
        view.set_segments(None if arrows is None else arrows.segments)
        cell = 0.0 if arrows is None else arrows.step * self._flow_frame.video_pixels  # laid out at the analysis size
        view.arrows.setToolTip("" if arrows is None else f"flow arrows: each {cell:g} px cell's mean motion, drawn {arrows.scale:.2g}x its length")

    # -- what the views show ------------------------------------------------------------------------------
    def _flow_pending(self, pair: int) -> None:
        """The flow view waits for another pair or method: the old pair's arrows and vectors go with its picture."""
        self._flow_frame, self._pending = None, pair
        self._draw_arrows()
        self._update_readout()

    def _flow_shown(self, frame: object) -> None:
        self._flow_frame, self._pending = frame, None
        if self.arrows_action.isChecked() or self._hover is not None:
            self.fields.request(frame.pair)  # type: ignore[attr-defined]
        self._draw_arrows()
        self._update_readout()

    def _fields_ready(self) -> None:
        self._draw_arrows()
        self._update_readout()

    def _hovered(self, view: FrameView, x: float, y: float) -> None:
        size = view.image_size()
        if x < 0 or size is None:
            self._hover = None
        else:
            self._hover = (x / size[1], y / size[0])
            if self._flow_frame is not None and self.fields.field(self._flow_frame.pair) is None:
                self.fields.request(self._flow_frame.pair)
        self._update_readout()
        self._fit_readout()

    def _fit_readout(self) -> None:
        """A status message (an error, a video's size and codec) gets the readout's room, unless the mouse
        is over a view and the readout is what the user is reading.  Changes only as the mouse enters or
        leaves a view, or a message comes or goes: never a relayout per mouse move."""
        wanted = self._hover is not None or not self.window.statusBar().currentMessage()
        if self.readout.isVisibleTo(self.window.statusBar()) != wanted:
            self.readout.setVisible(wanted)

    def _update_readout(self) -> None:
        if self._hover is None:
            self.readout.setText(IDLE_TEXT)
            return
        flow = self._flow_frame
        field = None if flow is None else self.fields.field(flow.pair)
        noise = {} if flow is None else {"inconsistency": (flow.inconsistency, "px"), "warp error": (flow.warp_error, "grey levels")}
        self.readout.setText(readout_text(*self._hover, frame=self.window.rgb_view.current_image(), field=field, noise=noise,
                                          flow_note=self._flow_note(), video_pixels=1.0 if flow is None else flow.video_pixels))

    def _flow_note(self) -> str:
        """What the readout says in place of a vector it does not have: the pair still computed, or its vectors still read."""
        flow, pending = self._flow_frame, self._pending
        if flow is not None:
            return f"flow {flow.pair} -> {flow.pair + 1}: reading its vectors"
        if pending is not None:
            return f"{self.window.flow.method} flow {pending} -> {pending + 1}: not computed yet"
        return ""
