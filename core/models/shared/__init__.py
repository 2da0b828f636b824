"""What the model families share.

    backbones/      video backbones giving (B, T', H', W', C) token grids: tiny, mvit_v2_s, swin3d_s
    encoder.py      the pre-norm transformer encoder (fused attention, or recorded for explain)
    resnet.py       2-D ResNet trunks (tiny, resnet18/34/50), ImageNet weights, cross-modality init
    resnet_config.py  the ResNet families' config base: create, stream flags, checks, JSON
    streams.py      FrameStream (trunk per snippet + attention, ConvLSTM, own classifier), the two-branch loss
    cam.py          class activation maps and CAM spatial attention
    convlstm.py     a ConvLSTM over per-frame maps
    fusion.py       late / weighted / learned score fusion, feature fusion, conv fusion
    cam_maps.py     CamMaps: per-frame maps back to video pixels (what a prediction carries)
    streams_classifier.py  the ResNet families' classifier: two branches, a fusion, CAMs placed on the frames
    inputs.py       uint8 frames -> normalised float input: the one normalisation
"""
