# SPDX-License-Identifier: Apache-2.0
"""Where the model looks in the source image, and the exact mapping back to source pixels.

Two coordinate conventions appear here:

* *continuous* coordinates put the image's outer edge at 0 and at ``width``/``height``;
  MoveNet's normalized outputs (0..1 across the model input) are continuous.
* *pixel* coordinates (the public ones, as in OpenCV, image_geometry and our messages) put
  the centre of the top-left pixel at (0, 0): ``pixel = continuous - 0.5``.

A :class:`Region` is a rectangle of the source image in continuous coordinates that is
stretched onto the whole model input. It may extend past the image (that part is padded with
black), which is how letterboxing and the single-pose crop both work. Sampling uses one affine
warp whose matrix is derived from the region, so the inverse mapping is exact by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import cv2
import numpy as np

from movenet_ros.core.options import Range

MULTIPOSE_STRIDE = 32
# MultiPose input: the larger side, in pixels. 256 is the model's own size; 128 still finds
# people filling the image, and beyond 1024 a frame costs over 0.3 s for little gain.
DEFAULT_MULTIPOSE_MAX_SIDE = 256
MULTIPOSE_MAX_SIDE_RANGE = Range(128, 1024, MULTIPOSE_STRIDE)


@dataclass(frozen=True)
class Region:
    """A source-image rectangle (continuous coordinates) mapped onto the model input."""

    x0: float
    y0: float
    width: float
    height: float

    def __post_init__(self) -> None:
        if not (self.width > 0 and self.height > 0):
            raise ValueError(f'region size must be positive, got {self.width}x{self.height}')

    def to_source_pixels(self, xy_norm: np.ndarray) -> np.ndarray:
        """Map (..., 2) model-normalized (x, y) in [0, 1] to source pixel coordinates."""
        out = np.empty_like(xy_norm, dtype=np.float64)
        out[..., 0] = self.x0 + xy_norm[..., 0] * self.width - 0.5
        out[..., 1] = self.y0 + xy_norm[..., 1] * self.height - 0.5
        return out

    def to_model_normalized(self, xy_pixels: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_source_pixels`."""
        out = np.empty_like(xy_pixels, dtype=np.float64)
        out[..., 0] = (xy_pixels[..., 0] + 0.5 - self.x0) / self.width
        out[..., 1] = (xy_pixels[..., 1] + 0.5 - self.y0) / self.height
        return out


def letterbox_region(image_hw: tuple[int, int], input_hw: tuple[int, int]) -> Region:
    """The region that fits the whole image into the input keeping its aspect, centred.

    The image touches two opposite sides of the input; the other axis is padded equally on
    both sides (the same as MoveNet's reference ``resize_with_pad``).
    """
    h, w = image_hw
    in_h, in_w = input_hw
    scale = min(in_w / w, in_h / h)
    width, height = in_w / scale, in_h / scale
    return Region(x0=(w - width) / 2.0, y0=(h - height) / 2.0, width=width, height=height)


def multipose_input_size(image_hw: tuple[int, int],
                         max_side: int = DEFAULT_MULTIPOSE_MAX_SIDE) -> tuple[int, int]:
    """MultiPose input (height, width): the larger side ``max_side``, both multiples of 32.

    The smaller side is rounded *up* to a multiple of 32 so the whole image fits and only a
    thin band of padding is added (1768x994 -> 256x160 with the default).
    """
    if max_side <= 0 or max_side % MULTIPOSE_STRIDE:
        raise ValueError(f'max_side must be a positive multiple of {MULTIPOSE_STRIDE}, '
                         f'got {max_side}')
    h, w = image_hw
    small = min(h, w) * max_side / max(h, w)
    small = max(MULTIPOSE_STRIDE, math.ceil(small / MULTIPOSE_STRIDE - 1e-9) * MULTIPOSE_STRIDE)
    return (small, max_side) if w >= h else (max_side, small)


def warp_to_input(image: np.ndarray, region: Region, input_hw: tuple[int, int]) -> np.ndarray:
    """Sample ``region`` of ``image`` into an array of ``input_hw`` (bilinear, black outside).

    Cost scales with the model input, not with the source image, so a 1080p frame costs the
    same as a VGA one. The matrix maps input pixel centres to source pixel centres.
    """
    in_h, in_w = input_hw
    sx, sy = region.width / in_w, region.height / in_h
    matrix = np.array([[sx, 0.0, region.x0 + 0.5 * sx - 0.5],
                       [0.0, sy, region.y0 + 0.5 * sy - 0.5]])
    return cv2.warpAffine(image, matrix, (in_w, in_h),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
