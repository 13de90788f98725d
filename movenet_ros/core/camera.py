# SPDX-License-Identifier: Apache-2.0
"""A pinhole camera model, to place 2D keypoints along their viewing rays in 3D.

Pixel coordinates follow OpenCV / image_geometry (centre of the top-left pixel at (0, 0)),
the same as our keypoints, so a keypoint at the principal point lies on the optical axis.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

# Assumed horizontal field of view when no camera_info is available: a typical webcam.
DEFAULT_HFOV_DEG = 60.0
# Focal lengths accepted, as multiples of the image side they go with: 0.05 is a 169 degree
# field of view (even a fisheye's K stays above it), 1000 is 0.06 degree (no lens is that
# narrow). Outside, a K is a unit mistake or garbage, and would put every marker at infinity
# or on one line.
MIN_FOCAL_PER_SIDE = 0.05
MAX_FOCAL_PER_SIDE = 1000.0
# The principal point may lie off the image (a crop of a larger sensor), by at most this many
# image sides beyond each edge.
PRINCIPAL_POINT_MARGIN = 1.0


@dataclass(frozen=True)
class Pinhole:
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_k(cls, k, calibrated_wh: tuple[int, int], image_wh: tuple[int, int]) -> Pinhole:
        """From a row-major 3x3 intrinsic matrix (CameraInfo.k) calibrated at
        ``calibrated_wh`` (0 x 0: unknown, taken as ``image_wh``), rescaled to an image of
        ``image_wh`` (e.g. a resized stream).

        ValueError, saying which value and why, unless the focal lengths are finite and
        within MIN/MAX_FOCAL_PER_SIDE of the image width (fx) and height (fy), and the
        principal point within PRINCIPAL_POINT_MARGIN image sides of the image.
        """
        sx = image_wh[0] / calibrated_wh[0] if calibrated_wh[0] else 1.0
        sy = image_wh[1] / calibrated_wh[1] if calibrated_wh[1] else 1.0
        # Principal point moves with pixel centres: (c + 0.5) * s - 0.5.
        camera = cls(fx=float(k[0]) * sx, fy=float(k[4]) * sy,
                     cx=(float(k[2]) + 0.5) * sx - 0.5, cy=(float(k[5]) + 0.5) * sy - 0.5)
        camera._check(image_wh)
        return camera

    def _check(self, image_wh: tuple[int, int]) -> None:
        for name in ('fx', 'fy', 'cx', 'cy'):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f'{name} = {getattr(self, name)} is not finite')
        for name, focal, side in (('fx', self.fx, image_wh[0]), ('fy', self.fy, image_wh[1])):
            if not MIN_FOCAL_PER_SIDE * side <= focal <= MAX_FOCAL_PER_SIDE * side:
                raise ValueError(
                    f'focal length {name} = {focal:.6g} px is not within '
                    f'{MIN_FOCAL_PER_SIDE:g}-{MAX_FOCAL_PER_SIDE:g} times the image side of '
                    f'{side} px')
        for name, centre, side in (('cx', self.cx, image_wh[0]), ('cy', self.cy, image_wh[1])):
            low, high = -PRINCIPAL_POINT_MARGIN * side, (1 + PRINCIPAL_POINT_MARGIN) * side
            if not low <= centre <= high:
                raise ValueError(f'principal point {name} = {centre:.6g} px is not within '
                                 f'{low:g}..{high:g} for an image side of {side} px')

    @classmethod
    def default(cls, image_wh: tuple[int, int], hfov_deg: float = DEFAULT_HFOV_DEG) -> Pinhole:
        """A centred camera with square pixels and the given horizontal field of view."""
        w, h = image_wh
        f = (w / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(fx=f, fy=f, cx=(w - 1) / 2.0, cy=(h - 1) / 2.0)

    def points_at_depth(self, xy: np.ndarray, depth: float | np.ndarray) -> np.ndarray:
        """(N, 2) pixels -> (N, 3) points in the optical frame (x right, y down, z forward)
        on the plane z = ``depth`` metres, or each at its own z given (N,) depths."""
        out = np.empty((len(xy), 3))
        out[:, 0] = (xy[:, 0] - self.cx) / self.fx * depth
        out[:, 1] = (xy[:, 1] - self.cy) / self.fy * depth
        out[:, 2] = depth
        return out
