"""Training the two-stream transformer (seed 000's recipe): frozen backbones whose token grids are
cached on disk, the fusion trained on them (or end to end with ``finetune_backbones``), torchrun.

    settings.py     the run's settings -> TransformerConfig; the train options only this family reads
    model.py        seeded model building: backbones shared across variants
    extraction.py   clips -> frozen backbones -> token grids in the cache
    token_cache.py  the on-disk fp16 token cache (atomic, verified, resumable)
    trainer.py      train_transformer(dataset_root, settings, out) -> TrainResult
"""
