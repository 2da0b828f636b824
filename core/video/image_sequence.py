"""A folder of numbered images read as a video (how many datasets ship frames)."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from core.errors import VideoError
from core.video.base import MAX_PIXELS, Video, VideoInfo, check_resolution, to_rgb
from core.video.frame_cache import DEFAULT_CACHE_BYTES

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_SEQUENCE_FPS = 25.0


def _natural_key(path: Path) -> list[object]:
    """frame_2 before frame_10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_images(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS), key=_natural_key)


def _read_image(path: Path) -> np.ndarray:
    data = np.fromfile(str(path), dtype=np.uint8)  # cv2.imread cannot report why it failed
    if data.size == 0:
        raise VideoError("image file is empty (0 bytes)", path)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise VideoError("is not a readable image", path)
    if image.dtype != np.uint8:  # 16-bit PNG/TIFF: keep the top 8 bits
        image = (image / 257.0).round().astype(np.uint8) if image.dtype == np.uint16 else cv2.convertScaleAbs(image)
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    elif image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return to_rgb(image)


class ImageSequenceVideo(Video):
    """Frames are the folder's images in natural order; all must share one size."""

    def __init__(self, path: str, fps: float = DEFAULT_SEQUENCE_FPS, cache_bytes: int = DEFAULT_CACHE_BYTES, max_pixels: int = MAX_PIXELS) -> None:
        super().__init__(path, cache_bytes)
        self._files = list_images(Path(path))
        if not self._files:
            raise VideoError(f"is a folder with no images ({', '.join(IMAGE_EXTENSIONS)}); expected a video file or a folder of frames", path)
        first = _read_image(self._files[0])
        check_resolution(path, first.shape[1], first.shape[0], max_pixels)
        self._shape = first.shape
        self.cache.put(0, first)
        self._info = VideoInfo(
            path=path,
            frames=len(self._files),
            fps=fps,
            width=first.shape[1],
            height=first.shape[0],
            duration_s=round(len(self._files) / fps, 6),
            codec="images:" + self._files[0].suffix.lower().lstrip("."),
            rotation=0,
            container="image-sequence",
            pixel_format="rgb24",
            variable_frame_rate=False,
        )

    @property
    def info(self) -> VideoInfo:
        return self._info

    @property
    def timestamps(self) -> np.ndarray:
        return np.arange(len(self._files)) / self._info.fps

    def _decode(self, index: int) -> np.ndarray:
        frame = _read_image(self._files[index])
        if frame.shape != self._shape:
            raise VideoError(f"has size {frame.shape[1]}x{frame.shape[0]} but the sequence's first frame is {self._shape[1]}x{self._shape[0]}", self._files[index])
        return frame
