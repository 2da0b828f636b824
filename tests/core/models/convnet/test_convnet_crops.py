"""``--augment crop`` for the two-stream ConvNet: each training sample is a random square of the
video's larger resize (shorter side 256/224 of the input size, the whole frame kept), the frame
and the flow stack cut at the same place, drawn from the run's seeded generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.models.convnet.config import ConvNetConfig
from core.models.convnet.inputs import stack_flow
from core.models.convnet.train import training_inputs
from core.models.shared.inputs import normalise_frames
from core.sampling import CROP_ROOM_SCALE, CropView, crop_offsets, resize_and_crop, resize_for_crops
from core.training import TrainSettings
from core.training.end_to_end import PreparedVideo

SIZE = 16
MARK = (10, 14)  # inside every 16 px crop of a 20 x 28 frame: rows 4-15 and columns 12-15 are in all of them


def _config() -> ConvNetConfig:
    """Raw displacements in the stack (no mean subtraction, scale or clamp), so a crop is comparable by value."""
    return ConvNetConfig.create(backbone="tiny", class_names=["a", "b"], backbone_options={"width": 8}, input_size=SIZE,
                                flow_length=2, mean_subtraction=False, flow_scale=1.0, flow_bound=0.0, variant="late")


def _settings(augment: str) -> TrainSettings:
    return TrainSettings(model="convnet", input_size=SIZE, flow_length=2, snippets=1, augment=augment)


def _whole_video() -> PreparedVideo:
    """Six 20 x 28 frames and their five pair flows (random, so every crop place is unique), a marker
    pixel in each at the same place: white in the frames, a displacement of 99 in the flow."""
    rng = np.random.default_rng(7)
    frames = rng.integers(0, 200, size=(6, 20, 28, 3), dtype=np.uint8)
    forward = rng.uniform(-5, 5, size=(5, 2, 20, 28)).astype(np.float32)
    frames[:, MARK[0], MARK[1]] = 255
    forward[:, :, MARK[0], MARK[1]] = 99.0
    return PreparedVideo(frames, forward, None, "dis")


def _place(sample: dict[str, torch.Tensor], video: PreparedVideo, config: ConvNetConfig) -> tuple[int, int]:
    """Where in the whole video the sample was cut: the one (top, left) whose slice gives its frame
    exactly, and which gives its flow stack exactly too (the window's centre frame and its pairs)."""
    found = []
    for top in range(video.frames.shape[1] - SIZE + 1):
        for left in range(video.frames.shape[2] - SIZE + 1):
            rows, cols = slice(top, top + SIZE), slice(left, left + SIZE)
            for first in range(len(video.frames) - config.flow_length):
                frame = video.frames[first + config.centre_offset, rows, cols]
                if torch.equal(sample["rgb"], normalise_frames(frame[None], config.mean, config.std)):
                    flow = stack_flow(video.forward[first : first + config.flow_length, :, rows, cols], None, config)
                    assert torch.equal(sample["flow"][0], torch.from_numpy(flow)), f"the flow stack is not cut where the frame is ({top}, {left})"
                    found.append((top, left))
    assert len(found) == 1, f"expected the sample at one place of the whole video, found {found}"
    return found[0]


def test_each_training_crop_is_one_slice_of_the_whole_resize_for_frame_and_flow_alike() -> None:
    config, video = _config(), _whole_video()
    rng = np.random.default_rng(0)
    places = []
    for _ in range(8):
        sample = training_inputs(config, video, rng, _settings("crop"))
        assert sample["rgb"].shape == (1, 3, SIZE, SIZE) and sample["flow"].shape == (1, 4, SIZE, SIZE)
        top, left = _place(sample, video, config)
        marked = (MARK[0] - top, MARK[1] - left)  # the marker lands at the same place of the frame and of the flow
        assert sample["rgb"][0, :, marked[0], marked[1]].tolist() == normalise_frames(np.full((1, 1, 1, 3), 255, np.uint8), config.mean, config.std)[0, :, 0, 0].tolist()
        assert sample["flow"][0, :, marked[0], marked[1]].tolist() == [99.0] * 4
        places.append((top, left))
    assert len(set(places)) > 4  # crops move from draw to draw
    centre = training_inputs(config, video, None, _settings("crop"))  # validation: the centre, never random
    assert _place(centre, video, config) == ((20 - SIZE) // 2, (28 - SIZE) // 2)


def test_the_same_seed_gives_the_same_crops_and_another_seed_others() -> None:
    config, video = _config(), _whole_video()

    def draws(seed: int) -> list[torch.Tensor]:
        rng = np.random.default_rng(seed)
        return [training_inputs(config, video, rng, _settings("flip+crop"))["flow"] for _ in range(6)]

    first, again, other = draws(3), draws(3), draws(4)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_crop_positions_are_uniform_over_the_whole_frame_and_centred_without_a_generator() -> None:
    rng = np.random.default_rng(1)
    tops, lefts = zip(*(crop_offsets(20, 28, SIZE, rng) for _ in range(2000)))
    assert sorted(set(tops)) == list(range(5)) and sorted(set(lefts)) == list(range(13))  # every place, edges included
    assert max(np.bincount(lefts)) < 1.5 * min(np.bincount(lefts))  # the edges as likely as the inside
    assert crop_offsets(20, 28, SIZE) == (2, 6)
    with pytest.raises(ValueError, match="a 24 px crop does not fit a 20x28 frame"):
        crop_offsets(20, 28, 24)


def test_the_training_resize_keeps_the_whole_frame_and_is_the_test_views_pixels() -> None:
    """Shorter side round(16 x 256/224) = 18: a 30 x 40 video becomes 18 x 24, nothing cut off; the
    crop at any place is exactly ``eval --views``' crop view there (the same resize, the same pixels)."""
    raw = np.random.default_rng(2).integers(0, 256, size=(3, 30, 40, 3), dtype=np.uint8)
    whole = resize_for_crops(raw, SIZE, CROP_ROOM_SCALE)
    assert whole.shape == (3, 18, 24, 3)
    for top, left in [(0, 0), (2, 8), (1, 3)]:
        view = CropView(x=left / 8, y=top / 2, scale=CROP_ROOM_SCALE)
        assert np.array_equal(whole[:, top : top + SIZE, left : left + SIZE], resize_and_crop(raw, SIZE, view)[0])
