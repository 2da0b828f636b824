"""A folder of numbered images read as a video (how many datasets ship frames)."""

from __future__ import annotations

import functools
import io
import re
import struct
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import cv2
import numpy as np

from core.errors import VideoError, cannot_be_read, is_transient
from core.video.alpha import over_black
from core.video.base import MAX_PIXELS, Video, VideoInfo, check_resolution, to_rgb
from core.video.frame_cache import DEFAULT_CACHE_BYTES
from core.video.orientation import UPRIGHT, Orientation, from_exif

if TYPE_CHECKING:
    from PIL.Image import Image as PillowImage

Stamp = tuple[int, int] | None  # an image's size and modification time (ns); None when they cannot be asked for

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# OpenCV's decoders log their complaints on stderr ("PNG input buffer is incomplete"): this module
# says what failed itself, in one line naming the file, so theirs stay silent.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
DEFAULT_SEQUENCE_FPS = 25.0
EXIF_ORIENTATION = 0x0112  # the Orientation tag (274)


def _natural_key(path: Path) -> list[object]:
    """frame_2 before frame_10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_images(folder: Path) -> list[Path]:
    """The frames of a folder, in natural order; hidden files are none (macOS leaves ``._frame_0001.png`` resource
    forks on shared drives, editors their temporaries), as hidden videos are no dataset entries."""
    try:
        entries = list(folder.iterdir())
    except OSError as err:  # no permission to list it, a drive gone
        raise VideoError(cannot_be_read(err), folder) from None
    return sorted((p for p in entries if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS),
                  key=_natural_key)


def image_header(path: Path, data: bytes | None = None) -> tuple[int, int, Orientation]:
    """``(width, height, orientation)`` read from the file's header, without decoding a pixel: a small file can
    declare an enormous image (a 0.9 MB PNG of 30000x30000 decodes to 3.5 GB).  The size is as stored; the
    orientation is the EXIF one that image viewers apply (a camera held upright stores its JPEGs sideways and
    says so there).  A PNG's chunk checksums are verified too (still without decoding): libpng prints its
    complaint about a corrupt one on stderr, beside our own one-line error.  ``data``: the file's bytes when
    they are read already (the frame reader has them: the file is not read twice)."""
    from PIL import Image, UnidentifiedImageError  # header parsing only (Pillow comes with matplotlib)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data) if data is not None else path) as image:
                width, height = int(image.size[0]), int(image.size[1])
                orientation = _exif_orientation(image)
                if image.format == "PNG":
                    image.verify()
                return width, height, orientation
        except Image.DecompressionBombError:
            raise VideoError(f"declares an image far larger than the supported {MAX_PIXELS / 1e6:.0f} Mpx (not decoded)", path) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
            raise VideoError("is not a readable image", path) from None


def _exif_orientation(image: "PillowImage") -> Orientation:
    """The EXIF orientation of an opened image, from what its header holds: a PNG's EXIF after its pixels would
    need them decoded (Pillow's ``getexif`` does so), and such a PNG is shown as stored.  A damaged EXIF block
    is ignored, as viewers ignore it."""
    if image.format == "PNG" and "exif" not in image.info:
        return UPRIGHT
    try:
        return from_exif(image.getexif().get(EXIF_ORIENTATION))
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError, KeyError, TypeError):
        return UPRIGHT


def _read_image(path: Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    try:
        data = np.fromfile(str(path), dtype=np.uint8)  # cv2.imread cannot report why it failed
    except OSError as err:  # deleted since the folder was listed, no permission, a drive gone (which may come back)
        raise VideoError(cannot_be_read(err), path, transient=is_transient(err)) from None
    if data.size == 0:
        raise VideoError("image file is empty (0 bytes)", path)
    width, height, orientation = image_header(path, data.tobytes())
    check_resolution(str(path), width, height, max_pixels)  # before decoding: the header's word, checked
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)  # keeps alpha and 16 bits, but applies no EXIF orientation
    if image is None:
        raise VideoError("is not a readable image", path)
    if image.dtype != np.uint8:  # 16-bit PNG/TIFF: keep the top 8 bits
        image = (image / 257.0).round().astype(np.uint8) if image.dtype == np.uint16 else cv2.convertScaleAbs(image)
    if image.ndim == 3 and image.shape[2] == 4:  # over black, as the video reader composites alpha (core.video.alpha)
        image = over_black(cv2.cvtColor(image, cv2.COLOR_BGRA2RGB), image[..., 3], 255)
    elif image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return orientation.apply(to_rgb(image))


# Pillow modes of images OpenCV decodes with an alpha channel; palette and RGB images too when they name a
# transparent colour (a PNG's tRNS), which OpenCV turns into alpha (grey ones it drops).
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_KEYED_MODES = frozenset({"P", "RGB"})


def folder_has_alpha(folder: str | Path) -> bool:
    """Whether any image of ``folder`` has alpha, whose frames are composited over black (reader version 6 for
    cache keys, :mod:`core.video.reader_version`): headers only, remembered for the images' names, sizes and
    times (a folder's key is asked for on every cache look-up)."""
    return images_have_alpha(list_images(Path(folder)))


def images_have_alpha(files: Sequence[Path], stamps: Sequence[Stamp] | None = None) -> bool:
    """Whether any of ``files`` has alpha (:func:`folder_has_alpha` for images already listed; ``stamps``: their
    sizes and times when the caller asked for them already, as the flow cache's key does: not asked again)."""
    stamps = [_stamp(path) for path in files] if stamps is None else stamps
    return _any_alpha(tuple((str(path), stamp) for path, stamp in zip(files, stamps, strict=True)))


@functools.lru_cache(maxsize=256)
def _any_alpha(files: tuple[tuple[str, Stamp], ...]) -> bool:
    return any(_has_alpha(Path(name)) for name, _ in files)


def _has_alpha(path: Path) -> bool:
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                return image.mode in _ALPHA_MODES or (image.mode in _KEYED_MODES and "transparency" in image.info)
        except (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError, KeyError, TypeError, Image.DecompressionBombError):
            return False  # unreadable or damaged: the reader says so when it gets there


def _stamp(path: Path) -> Stamp:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


class ImageSequenceVideo(Video):
    """Frames are the folder's images in natural order; all must share one size."""

    cache_check_reads_disk = True  # each cached frame's image is stat'ed before it is given again

    def __init__(self, path: str, fps: float = DEFAULT_SEQUENCE_FPS, cache_bytes: int = DEFAULT_CACHE_BYTES, max_pixels: int = MAX_PIXELS) -> None:
        super().__init__(path, cache_bytes)
        self._files = list_images(Path(path))
        if not self._files:
            raise VideoError(f"is a folder with no images ({', '.join(IMAGE_EXTENSIONS)}); expected a video file or a folder of frames", path)
        self._max_pixels = max_pixels
        self._stamps: dict[int, tuple[int, int] | None] = {0: _stamp(self._files[0])}  # each decoded image's size and time
        first = _read_image(self._files[0], max_pixels)
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
            alpha=images_have_alpha(self._files),  # the folder as listed above, not listed again
        )

    @property
    def info(self) -> VideoInfo:
        return self._info

    @property
    def timestamps(self) -> np.ndarray:
        return np.arange(len(self._files)) / self._info.fps

    def _cached_is_current(self, index: int) -> bool:
        """A frame written again in place since it was decoded (``ffmpeg -y``, ``cv2.imwrite``) is decoded again: the
        flow cache keys on the images as they are now, and must not get flow of the old pictures under that key."""
        return self._stamps.get(index) == _stamp(self._files[index])

    def _decode(self, index: int) -> np.ndarray:
        self._stamps[index] = _stamp(self._files[index])  # before reading: a write after it makes the next read decode again
        frame = _read_image(self._files[index], self._max_pixels)
        if frame.shape != self._shape:
            raise VideoError(f"has size {frame.shape[1]}x{frame.shape[0]} but the sequence's first frame is {self._shape[1]}x{self._shape[0]}", self._files[index])
        return frame
