"""Writing what the viewer shows: PNG images, MP4 clips, metric and prediction tables.

Plain functions with no Qt, so the command line and tests use them as the
viewer does.  Every file goes through :mod:`core.atomic` (complete or absent,
never half-written) and every write failure becomes an :class:`ExportError`
that names the file and the problem in one line.

One module per job: :mod:`~core.export.target` (errors, the atomic target),
:mod:`~core.export.heatmap` (quality maps as fixed-scale colour overlays),
:mod:`~core.export.legend` (colour keys of every heat map, on screen and in exports), :mod:`~core.export.prediction_heat` (a prediction's heat maps as
layers in frame pixels, one colour table),
:mod:`~core.export.image` (side-by-side composites, PNG),
:mod:`~core.export.video` (streamed H.264 MP4), :mod:`~core.export.tables`
(flow metrics and predictions as CSV or JSON).
"""

from core.export.target import ExportError, export_target
from core.export.heatmap import INCONSISTENCY_SCALE, QUALITY_SCALES, WARP_ERROR_SCALE, HeatScale, blend_rgba, heat_rgba
from core.export.legend import LegendEntry, legend_band, legend_rows, map_entries
from core.export.prediction_heat import AttentionChoice, FrameHeat, heat_lut, heat_renderer, register_heat_renderer
from core.export.image import side_by_side, write_png
from core.export.video import write_mp4_stream
from core.export.tables import (
    flow_metric_rows,
    prediction_rows,
    predictions_to_dict,
    write_flow_metrics,
    write_predictions,
)

__all__ = [
    "ExportError", "export_target",
    "HeatScale", "INCONSISTENCY_SCALE", "WARP_ERROR_SCALE", "QUALITY_SCALES", "heat_rgba", "blend_rgba",
    "LegendEntry", "legend_band", "legend_rows", "map_entries",
    "AttentionChoice", "FrameHeat", "heat_lut", "heat_renderer", "register_heat_renderer",
    "side_by_side", "write_png",
    "write_mp4_stream",
    "flow_metric_rows", "write_flow_metrics", "prediction_rows", "predictions_to_dict", "write_predictions",
]
