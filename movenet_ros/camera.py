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


@dataclass(frozen=True)
class Pinhole:
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_k(cls, k, calibrated_wh: tuple[int, int], image_wh: tuple[int, int]) -> Pinhole:
        """From a row-major 3x3 intrinsic matrix (CameraInfo.k) calibrated at
        ``calibrated_wh``, rescaled to an image of ``image_wh`` (e.g. a resized stream)."""
        sx = image_wh[0] / calibrated_wh[0] if calibrated_wh[0] else 1.0
        sy = image_wh[1] / calibrated_wh[1] if calibrated_wh[1] else 1.0
        fx, fy = float(k[0]) * sx, float(k[4]) * sy
        if fx <= 0 or fy <= 0:
            raise ValueError(f'camera_info has no valid focal length (k = {list(k)})')
        # Principal point moves with pixel centres: (c + 0.5) * s - 0.5.
        return cls(fx=fx, fy=fy, cx=(float(k[2]) + 0.5) * sx - 0.5,
                   cy=(float(k[5]) + 0.5) * sy - 0.5)

    @classmethod
    def default(cls, image_wh: tuple[int, int], hfov_deg: float = DEFAULT_HFOV_DEG) -> Pinhole:
        """A centred camera with square pixels and the given horizontal field of view."""
        w, h = image_wh
        f = (w / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(fx=f, fy=f, cx=(w - 1) / 2.0, cy=(h - 1) / 2.0)

    def points_at_depth(self, xy: np.ndarray, depth: float) -> np.ndarray:
        """(N, 2) pixels -> (N, 3) points in the optical frame (x right, y down, z forward)
        on the plane z = ``depth`` metres."""
        out = np.empty((len(xy), 3))
        out[:, 0] = (xy[:, 0] - self.cx) / self.fx * depth
        out[:, 1] = (xy[:, 1] - self.cy) / self.fy * depth
        out[:, 2] = depth
        return out
