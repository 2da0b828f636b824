"""Render the synthetic action classes: one object on a textured background.

The classes are built so that each stream's contribution can be measured:

* **Motion pairs** (``MoveLeft``/``MoveRight``, ``RotateClockwise``/
  ``RotateAnticlockwise``, ``Approach``/``Recede``): the same object on the same
  kind of scene, moving one way or the other.  Every pose parameter that moves is
  cyclic and starts at a uniformly random phase (the block travels on a ring of
  width ``W`` and wraps around the frame edge; the wheel's angle is uniform on
  the circle; the looming disk's pattern is periodic in log-radius), so the frame
  at *any* index has exactly the same distribution in both classes of a pair.
  With the same generator state both classes even draw the identical first
  frame: the direction of motion is the only thing the class changes.  A
  single-frame classifier is at chance within a pair; optical flow separates it.
* **Appearance group** (``RedBall``, ``GreenBall``, ``BlueBall``,
  ``StripedBall``): the same disk outline, the same luminance texture
  distribution and the same wandering motion; only the chroma differs, at equal
  luminance.  Grayscale optical flow (DIS, Farneback, TV-L1) therefore sees
  identically distributed input, and even the flow silhouette (a disk) is the
  same: a flow-only classifier is at chance within the group, while colour
  separates it.

Sizes and speeds scale with the shorter frame side relative to 112 px, so a
clip rendered at any size looks the same after a model's resize.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

MOTION = "motion"
APPEARANCE = "appearance"

REFERENCE_SIZE = 112  # speeds below are in pixels per frame at this shorter side
DEFAULT_NOISE_SIGMA = 2.0  # per-pixel, per-channel Gaussian noise (camera noise)
MIN_SIZE = 32
RIM_LUMA = 45.0  # the dark outline every object has (same for all classes)


@dataclass(frozen=True)
class SynthClass:
    """One class of the synthetic dataset and what separates it from its neighbours."""

    name: str
    group: str  # MOTION or APPEARANCE
    pair: str | None  # the motion pair ("translate", "rotate", "loom"); None for appearance
    description: str

    def to_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "group": self.group, "pair": self.pair, "description": self.description}


SYNTH_CLASSES: tuple[SynthClass, ...] = (
    SynthClass("MoveLeft", MOTION, "translate", "a textured grey block slides left, wrapping around the frame edge"),
    SynthClass("MoveRight", MOTION, "translate", "the same block slides right, wrapping around the frame edge"),
    SynthClass("RotateClockwise", MOTION, "rotate", "a textured sepia wheel turns clockwise (as seen on screen) in place"),
    SynthClass("RotateAnticlockwise", MOTION, "rotate", "the same wheel turns anticlockwise in place"),
    SynthClass("Approach", MOTION, "loom", "a steel-blue disk whose surface pattern expands outward endlessly (looming, zoom in)"),
    SynthClass("Recede", MOTION, "loom", "the same disk whose pattern contracts inward endlessly (zoom out)"),
    SynthClass("RedBall", APPEARANCE, None, "a red ball wanders about"),
    SynthClass("GreenBall", APPEARANCE, None, "a green ball wanders about the same way"),
    SynthClass("BlueBall", APPEARANCE, None, "a blue ball wanders about the same way"),
    SynthClass("StripedBall", APPEARANCE, None, "a ball with yellow/purple stripes (same luminance) wanders the same way"),
)
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in SYNTH_CLASSES)
_BY_NAME = {c.name: c for c in SYNTH_CLASSES}


def synth_class(name: str) -> SynthClass:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown synthetic class {name!r}; known: {', '.join(CLASS_NAMES)}") from None


@dataclass(frozen=True)
class RenderedClip:
    """Frames plus the truth behind them (tests, flow checks, attention checks)."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    masks: np.ndarray  # (T, H, W) float32 in [0, 1]: how much of each pixel the object covers
    params: dict[str, float | str | list[float]] = field(default_factory=dict)


# ----------------------------------------------------------------------------- colour and texture helpers


def ycc_to_rgb(luma: np.ndarray, cb: np.ndarray | float, cr: np.ndarray | float) -> np.ndarray:
    """BT.601 full-range YCbCr to RGB (float).  Its luma row is exactly the one
    ``cv2.COLOR_RGB2GRAY`` uses, so gray(RGB) == luma while no channel clips."""
    luma = np.asarray(luma, np.float32)
    cb = np.broadcast_to(np.asarray(cb, np.float32), luma.shape)
    cr = np.broadcast_to(np.asarray(cr, np.float32), luma.shape)
    return np.stack([luma + 1.402 * cr, luma - 0.344136 * cb - 0.714136 * cr, luma + 1.772 * cb], axis=-1)


def _unit_noise(rng: np.random.Generator, height: int, width: int, sigma_px: float) -> np.ndarray:
    """Smooth random texture, zero mean and unit standard deviation."""
    noise = rng.standard_normal((height, width)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), max(float(sigma_px), 0.5), borderType=cv2.BORDER_REFLECT)
    noise -= noise.mean()
    return noise / (noise.std() + 1e-6)


def _background(rng: np.random.Generator, height: int, width: int, scale: float) -> np.ndarray:
    """A smooth, weakly coloured texture: every pixel has gradient structure for
    flow, and the low saturation keeps it apart from the coloured balls."""
    side = min(height, width)
    coarse = _unit_noise(rng, height, width, 0.08 * side)
    fine = _unit_noise(rng, height, width, 0.02 * side)
    luma = np.clip(rng.uniform(100.0, 150.0) + 30.0 * coarse + 12.0 * fine, 25.0, 230.0)
    cb = rng.uniform(-6.0, 6.0) + 4.0 * _unit_noise(rng, height, width, 0.1 * side)
    cr = rng.uniform(-6.0, 6.0) + 4.0 * _unit_noise(rng, height, width, 0.1 * side)
    return ycc_to_rgb(luma, cb, cr)


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return xs, ys


def _disk_sprite(radius: float, rgb: np.ndarray, rim: float = 1.5) -> np.ndarray:
    """A (D, D, 4) premultiplied RGBA disk with a dark anti-aliased outline;
    ``rgb`` is the (D, D, 3) fill."""
    size = rgb.shape[0]
    xs, ys = _grid(size, size)
    centre = (size - 1) / 2.0
    dist = np.hypot(xs - centre, ys - centre)
    outer = np.clip(radius + 0.5 - dist, 0.0, 1.0)
    inner = np.clip(radius - rim + 0.5 - dist, 0.0, 1.0)
    premultiplied = inner[..., None] * rgb + (outer - inner)[..., None] * RIM_LUMA
    return np.dstack([premultiplied, outer]).astype(np.float32)


def _box_sprite(half: float, rgb: np.ndarray, rim: float = 1.5) -> np.ndarray:
    """A (D, D, 4) premultiplied RGBA square with a dark anti-aliased outline."""
    size = rgb.shape[0]
    xs, ys = _grid(size, size)
    centre = (size - 1) / 2.0

    def coverage(h: float) -> np.ndarray:
        cx = np.clip(h + 0.5 - np.abs(xs - centre), 0.0, 1.0)
        cy = np.clip(h + 0.5 - np.abs(ys - centre), 0.0, 1.0)
        return cx * cy

    outer, inner = coverage(half), coverage(half - rim)
    premultiplied = inner[..., None] * rgb + (outer - inner)[..., None] * RIM_LUMA
    return np.dstack([premultiplied, outer]).astype(np.float32)


def _sample_sprite(sprite: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Look the sprite up at sprite coordinates (bilinear, transparent outside)."""
    layer = cv2.remap(sprite, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return layer[..., :3], layer[..., 3]


# Each motion pair has its own material (chroma Cb, Cr), so a single frame tells
# the pairs apart easily and only the direction inside a pair needs motion.
BLOCK_TINT = (0.0, 0.0)  # neutral grey
WHEEL_TINT = (-14.0, 12.0)  # sepia
LOOM_TINT = (14.0, -8.0)  # steel blue


def _tint(rng: np.random.Generator, base: tuple[float, float], spread: float = 4.0) -> tuple[float, float]:
    return base[0] + rng.uniform(-spread, spread), base[1] + rng.uniform(-spread, spread)


def _object_luma(rng: np.random.Generator, size: int, sigma_px: float, mean: float, contrast: float) -> np.ndarray:
    return mean + contrast * np.clip(_unit_noise(rng, size, size, sigma_px), -2.0, 2.0)


# ----------------------------------------------------------------------------- the objects

Layer = tuple[np.ndarray, np.ndarray]  # premultiplied RGB (H, W, 3), alpha (H, W)
Animator = Callable[[int], Layer]


def _block(rng: np.random.Generator, height: int, width: int, direction: int) -> tuple[Animator, dict]:
    """MoveLeft / MoveRight: the block's x lives on a ring of circumference W
    with a uniform start, so its position is uniform at every frame index."""
    side = min(height, width)
    unit = side / REFERENCE_SIZE
    edge = rng.uniform(0.26, 0.34) * side
    sprite_size = int(math.ceil(edge)) + 5
    luma = _object_luma(rng, sprite_size, 0.03 * side, rng.uniform(85.0, 165.0), 30.0)
    rgb = ycc_to_rgb(luma, *_tint(rng, BLOCK_TINT))
    sprite = _box_sprite(edge / 2.0, rgb)
    x0 = rng.uniform(0.0, width)
    yc = rng.uniform(edge / 2 + 2, height - edge / 2 - 2)
    speed = rng.uniform(1.2, 2.6) * unit
    xs, ys = _grid(height, width)
    centre = (sprite_size - 1) / 2.0
    map_y = ys - yc + centre

    def frame(t: int) -> Layer:
        xc = (x0 + direction * speed * t) % width
        offset = np.mod(xs - xc + width / 2.0, width) - width / 2.0  # wrap-around distance
        return _sample_sprite(sprite, offset + centre, map_y)

    return frame, {"edge": edge, "x0": x0, "y": yc, "velocity_x": direction * speed, "velocity_y": 0.0}


def _wheel(rng: np.random.Generator, height: int, width: int, direction: int) -> tuple[Animator, dict]:
    """RotateClockwise / RotateAnticlockwise: the angle starts uniform on the
    circle, so the wheel's look is the same in distribution at every frame."""
    side = min(height, width)
    radius = rng.uniform(0.2, 0.26) * side
    sprite_size = int(math.ceil(2 * radius)) + 5
    luma = _object_luma(rng, sprite_size, 0.03 * side, rng.uniform(85.0, 165.0), 32.0)
    rgb = ycc_to_rgb(luma, *_tint(rng, WHEEL_TINT))
    sprite = _disk_sprite(radius, rgb)
    cx = rng.uniform(radius + 2, width - radius - 2)
    cy = rng.uniform(radius + 2, height - radius - 2)
    angle0 = rng.uniform(0.0, 2 * math.pi)
    omega = rng.uniform(0.045, 0.09)  # rad per frame; the rim moves 1-2 px per frame at 112 px
    xs, ys = _grid(height, width)
    dx, dy = xs - cx, ys - cy
    centre = (sprite_size - 1) / 2.0

    def frame(t: int) -> Layer:
        # Screen coordinates have y pointing down, so a growing angle turns clockwise.
        angle = angle0 + direction * omega * t
        cos, sin = math.cos(angle), math.sin(angle)
        # The texture point now at (dx, dy) came from rotating (sx, sy) by +angle.
        map_x = cos * dx + sin * dy + centre
        map_y = -sin * dx + cos * dy + centre
        return _sample_sprite(sprite, map_x, map_y)

    return frame, {"radius": radius, "centre_x": cx, "centre_y": cy, "angular_velocity": direction * omega}


LOOM_LAYERS = 3  # texture layers at scales spaced by LOOM_LOG_PERIOD, cross-faded like a Shepard tone
LOOM_LOG_PERIOD = math.log(2.0)  # each layer grows 2x before the next one takes its place
LOOM_MIN_SCALE = 0.35  # a layer fades in at this scale and out at LOOM_MIN_SCALE * 2**LOOM_LAYERS


def _looming_disk(rng: np.random.Generator, height: int, width: int, direction: int) -> tuple[Animator, dict]:
    """Approach / Recede: a disk whose surface pattern zooms endlessly.

    The pattern is a few random textures, each magnified about the disk centre
    by ``exp(k)`` per frame and cross-faded so that a layer fades in small and
    out large (a visual Shepard tone).  Every layer moves with the same radial
    flow ``k * (x - c)`` (divergence ``2k``; the slow cross-fade changes only
    brightness), and the blend is periodic in log-scale: with a uniform start
    phase every frame has the same distribution whether it expands or contracts.
    """
    side = min(height, width)
    radius = rng.uniform(0.22, 0.28) * side
    cx = rng.uniform(radius + 2, width - radius - 2)
    cy = rng.uniform(radius + 2, height - radius - 2)
    rate = rng.uniform(0.035, 0.07)  # log-scale change per frame: the rim moves 1-2 px per frame at 112 px
    phase0 = rng.uniform(0.0, 1.0)
    mean = rng.uniform(85.0, 165.0)
    tint = _tint(rng, LOOM_TINT)
    # Texture coordinates are frame pixels divided by the layer's scale; the
    # smallest scale needs the widest texture.
    half = int(math.ceil(radius / LOOM_MIN_SCALE)) + 3
    feature_px = 0.035 * side  # texture pixels: about this size in the frame at mid-fade
    textures = [_unit_noise(rng, 2 * half + 1, 2 * half + 1, feature_px) for _ in range(LOOM_LAYERS)]

    xs, ys = _grid(height, width)
    dx, dy = xs - cx, ys - cy
    dist = np.hypot(dx, dy)
    outer = np.clip(radius + 0.5 - dist, 0.0, 1.0)
    inner = np.clip(radius - 1.5 + 0.5 - dist, 0.0, 1.0)

    def frame(t: int) -> Layer:
        position = phase0 + direction * rate * t / LOOM_LOG_PERIOD  # in units of one layer step
        mix = np.zeros_like(dist)
        weight_sq = 0.0
        for j, texture in enumerate(textures):
            cycle = ((j + position) / LOOM_LAYERS) % 1.0  # 0 = smallest scale, 1 = largest
            weight = math.sin(math.pi * cycle) ** 2
            scale = LOOM_MIN_SCALE * math.exp(cycle * LOOM_LAYERS * LOOM_LOG_PERIOD)
            sample = cv2.remap(texture, dx / scale + half, dy / scale + half, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            mix += weight * sample
            weight_sq += weight * weight
        luma = mean + 34.0 * np.clip(mix / math.sqrt(weight_sq), -2.0, 2.0)
        rgb = ycc_to_rgb(luma, *tint)
        premultiplied = inner[..., None] * rgb + (outer - inner)[..., None] * RIM_LUMA
        return premultiplied, outer

    return frame, {"radius": radius, "centre_x": cx, "centre_y": cy, "zoom_rate": direction * rate}


# Chroma (Cb, Cr) of the balls.  Luminance is shared, and these stay inside the
# RGB gamut for ball luminance 74..176, so gray(frame) does not depend on the class.
BALL_CHROMA: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "RedBall": ((-12.0, 48.0), (-12.0, 48.0)),
    "GreenBall": ((-30.0, -38.0), (-30.0, -38.0)),
    "BlueBall": ((42.0, -14.0), (42.0, -14.0)),
    "StripedBall": ((-34.0, 14.0), (30.0, 40.0)),  # yellow and purple stripes
}


def _ball(rng: np.random.Generator, height: int, width: int, class_name: str) -> tuple[Animator, dict]:
    """The appearance group: every class draws the same random numbers in the
    same order; the class only picks the chroma."""
    side = min(height, width)
    unit = side / REFERENCE_SIZE
    radius = rng.uniform(0.14, 0.19) * side
    sprite_size = int(math.ceil(2 * radius)) + 5
    luma = _object_luma(rng, sprite_size, 0.025 * side, rng.uniform(112.0, 138.0), 18.0)
    stripe_angle = rng.uniform(0.0, math.pi)  # drawn for every class so all share the random stream
    stripe_period = 0.12 * side
    sx, sy = _grid(sprite_size, sprite_size)
    along = sx * math.cos(stripe_angle) + sy * math.sin(stripe_angle)
    weight = 0.5 + 0.5 * np.tanh(2.5 * np.sin(2 * math.pi * along / stripe_period))
    (cb_a, cr_a), (cb_b, cr_b) = BALL_CHROMA[class_name]
    cb = cb_a + (cb_b - cb_a) * weight
    cr = cr_a + (cr_b - cr_a) * weight
    sprite = _disk_sprite(radius, ycc_to_rgb(luma, cb, cr))

    low_x, high_x = radius + 2, width - radius - 2
    low_y, high_y = radius + 2, height - radius - 2
    x, y = rng.uniform(low_x, high_x), rng.uniform(low_y, high_y)
    start = (x, y)
    heading = rng.uniform(0.0, 2 * math.pi)
    speed = rng.uniform(0.8, 1.8) * unit
    turn = rng.uniform(-0.06, 0.06)
    xs, ys = _grid(height, width)
    centre = (sprite_size - 1) / 2.0
    path: list[tuple[float, float]] = []

    def position(t: int) -> tuple[float, float]:
        nonlocal x, y, heading
        while len(path) <= t:  # walk the path up to frame t, bouncing off the borders
            path.append((x, y))
            x += speed * math.cos(heading)
            y += speed * math.sin(heading)
            heading += turn
            if not low_x <= x <= high_x:
                x = 2 * (low_x if x < low_x else high_x) - x
                heading = math.pi - heading
            if not low_y <= y <= high_y:
                y = 2 * (low_y if y < low_y else high_y) - y
                heading = -heading
        return path[t]

    def frame(t: int) -> Layer:
        px, py = position(t)
        return _sample_sprite(sprite, xs - px + centre, ys - py + centre)

    return frame, {"radius": radius, "speed": speed, "turn_rate": turn, "start_x": start[0], "start_y": start[1]}


_MOTION_OBJECTS = {
    "MoveLeft": (_block, -1),
    "MoveRight": (_block, +1),
    "RotateClockwise": (_wheel, +1),
    "RotateAnticlockwise": (_wheel, -1),
    "Approach": (_looming_disk, +1),
    "Recede": (_looming_disk, -1),
}


# ----------------------------------------------------------------------------- public entry points


def _frame_shape(size: int | tuple[int, int]) -> tuple[int, int]:
    height, width = (size, size) if isinstance(size, (int, np.integer)) else size
    height, width = int(height), int(width)
    if min(height, width) < MIN_SIZE or height % 2 or width % 2:
        raise ValueError(f"frame size must be even and at least {MIN_SIZE} px on each side, got {height}x{width} (HxW)")
    return height, width


def render_clip_detailed(
    class_name: str,
    rng: np.random.Generator,
    size: int | tuple[int, int],
    frames: int,
    *,
    noise_sigma: float = DEFAULT_NOISE_SIGMA,
) -> RenderedClip:
    """Render one clip of ``class_name``; ``size`` is a side or ``(height, width)``.

    Deterministic in ``rng``'s state.  Classes of one motion pair (and all the
    appearance classes) consume ``rng`` identically, so the same state gives the
    same scene and only the class's difference changes.
    """
    spec = synth_class(class_name)
    height, width = _frame_shape(size)
    if frames < 1:
        raise ValueError(f"a clip needs at least one frame, got frames={frames}")
    background = _background(rng, height, width, min(height, width))
    if spec.group == MOTION:
        build, direction = _MOTION_OBJECTS[class_name]
        animate, params = build(rng, height, width, direction)
    else:
        animate, params = _ball(rng, height, width, class_name)
    out = np.empty((frames, height, width, 3), np.uint8)
    masks = np.empty((frames, height, width), np.float32)
    for t in range(frames):
        premultiplied, alpha = animate(t)
        composite = premultiplied + (1.0 - alpha[..., None]) * background
        if noise_sigma > 0:
            composite = composite + rng.normal(0.0, noise_sigma, composite.shape).astype(np.float32)
        out[t] = np.clip(np.rint(composite), 0, 255).astype(np.uint8)
        masks[t] = alpha
    params = {"class": class_name, "group": spec.group, **{k: float(v) for k, v in params.items()}}
    return RenderedClip(frames=out, masks=masks, params=params)


def render_clip(class_name: str, rng: np.random.Generator, size: int | tuple[int, int], frames: int) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 RGB frames of one clip of ``class_name`` (see :func:`render_clip_detailed`)."""
    return render_clip_detailed(class_name, rng, size, frames).frames
