"""Classification in the viewer: the model, its predictions, and its heat maps on the frames.

    state.py             ClassifyState: clip region, model status, prediction, timeline, drawing choices (signals only)
    controller.py        ClassifyController: load checkpoints and classify clips and videos in workers, CUDA fallback
    ui.py                ClassifyUi: the docks, the device toolbar, File > Load checkpoint, the status line (wiring only)
    model_chooser.py     the model combo (bundled demos, recent checkpoints) and the catalog that rescans it
    prediction_chart.py  the classification panel: the model's description, buttons, progress, top-5 bars, timings
    attention_panel.py   the heat-map controls and the cross-stream attention matrix
    maps_panels.py       per type of maps, what the controls offer and say (napari's layer_to_controls)
    overlays.py          the heat-map and token-box layers on both frame views, and their MP4 export snapshots
    cross_stream.py      a transformer's cross-stream matrix: its cells, their tokens, hover texts (no Qt)
    timeline.py          the timeline's clip region and the band of sliding-window predictions

The heat maps' pixels come from :mod:`core.export.prediction_heat`; how a model is
described, from its family's record in :mod:`core.models.registry`.  Nothing
here asks which family a model belongs to.
"""
