# SPDX-License-Identifier: Apache-2.0
"""Keypoints in metres from a depth image aligned to the colour image (ROS-free).

A depth image *registered* (aligned) to the colour camera shares its optical centre and axes,
so a colour pixel's depth is read at the same ray in the depth image, whatever its size. Each
keypoint's depth is a robust estimate over a small patch, and the keypoint is back-projected
through the colour camera into its optical frame (REP-103: x right, y down, z forward).

The robust depth of a patch (:meth:`DepthLifter.patch_depths`), ``patch_size`` readings per
side:

1. readings that are no reading (REP-118: 0, NaN, +-inf; negative too) or outside
   [min_range, max_range] are dropped; fewer than MIN_VALID_FRACTION of the patch left means
   no depth;
2. the *near end* of the patch is its NEAR_QUANTILE quantile (robust to a few stray readings
   in front), and only readings within ``edge_tolerance`` of it are kept: the nearer mode;
3. the depth is the median of those.

On a single surface step 2 keeps (almost) every reading and this is the plain median. Where the
patch straddles the body's silhouette it holds the person and the wall behind; a keypoint lies
on the body, and the body is in front of its background, so the nearer mode is the person.
Measured on the 40 real RealSense frames of ../shared/data/rgbd-realsense-two-people (two
people at 2.2 and 2.4 m before walls at 2.8-3.5 m; MultiPose keypoints, 7x7 patches): 30 of
1343 seen keypoints have patches spreading over 0.3 m. The standing man's left ear, whose
patch is half head, half wall, has a plain median 0.11-0.33 m (typically 0.18 m) behind his
nose in 27 frames, the nearer mode 0.02-0.18 m (typically 0.07 m): an ear is about 0.1 m
behind the nose. His fast hand in frame 49 (blurred, half missing from the depth): median
2.68 m, nearer mode 2.05 m, torso 2.19 m. The rule fails where something is in front of the
keypoint (an arm across a shoulder: the arm is measured) and where the depth misses the limb
altogether (frame 44: the blurred hand has no depth, every reading is the wall 3.0 m away);
``max_torso_offset`` (0.8 m: an adult's reach along the line of sight) rejects keypoints that
far in front of or behind their own torso, as that hand at 0.86 m behind. Every other keypoint
on those frames lies within 0.45 m of its torso.

Per person, ``position`` is the torso centre (the mean of the seen shoulders and hips, at least
two) lifted with a patch spread TORSO_PATCH_FACTOR times wider, on the chest: the body's surface
facing the camera, not its centre of mass (about 0.1 m deeper). ``facing`` is the direction the
chest faces, from the shoulders checked by the hips (see :func:`facing_direction`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import math
from typing import ClassVar

import numpy as np

from movenet_ros.core.camera import Pinhole
from movenet_ros.core.keypoints import (
    LEFT_HIP,
    LEFT_SHOULDER,
    NUM_KEYPOINTS,
    RIGHT_HIP,
    RIGHT_SHOULDER,
    TORSO,
)
from movenet_ros.core.options import Range
from movenet_ros.core.results import Pose, Pose3D, visible_mask

# Metres per unit of the two depth encodings REP-118 allows: 16UC1 (mm) and 32FC1 (m).
MILLIMETRE = 0.001
METRE = 1.0
# A patch needs at least this fraction of its pixels with a reading to give a depth: fewer
# readings are too easily all stray ones (edge artefacts, speckle).
MIN_VALID_FRACTION = 0.25
# The near end of a patch: its 10 % quantile, so up to a tenth of the readings may be stray
# ones in front of the surface (flying pixels at edges, speckle) without moving it.
NEAR_QUANTILE = 0.1
# The torso patch spreads this many times wider than a keypoint's (7 readings per side, 3 px
# apart: 19 px): the chest is large, and a wider patch bridges holes in the depth, with as
# many readings to sort as a keypoint's.
TORSO_PATCH_FACTOR = 3
# A torso centre needs this many seen torso keypoints (of shoulders and hips): one alone is at
# the body's edge, not its centre.
MIN_TORSO_KEYPOINTS = 2
# Left/right keypoint pairs the facing direction is measured from, with the horizontal 3D
# distance each must span to count: adult shoulder keypoints are 0.3-0.45 m apart, hip joints
# 0.17-0.22 m (measured on the real frames). Much less and the person is seen from the side,
# where the far keypoint is hidden and its patch reads the near one; much more and a depth is
# wrong.
FACING_PAIRS = ((LEFT_SHOULDER, RIGHT_SHOULDER, 0.15, 0.8), (LEFT_HIP, RIGHT_HIP, 0.1, 0.6))
# Shoulders and hips disagreeing by more than this are not a twisted torso (people rarely
# twist further) but an arm in front of a shoulder, or a hand on a hip: facing unknown.
MAX_TWIST_DEG = 45.0
_COS_MAX_TWIST = math.cos(math.radians(MAX_TWIST_DEG))
# Larger patches cost more than they help: 31 px is a hand at 0.5 m.
MAX_PATCH_SIZE = 31


class DepthError(ValueError):
    """A depth image, camera or setting that cannot be used; the message says why."""


@dataclass(frozen=True)
class DepthImage:
    """A depth image as it arrived: ``data`` (HxW uint16 or float32, any strides or byte
    order, e.g. a view over a message) and ``scale``, metres per unit of ``data``.

    Readings are converted to metres only where they are sampled, so a 1280x720 image costs
    nothing until keypoints are looked up.
    """

    data: np.ndarray
    scale: float
    # Row stride in elements and a flat view over every row, for one-index gathers (None
    # when the rows are not a whole number of elements apart).
    _row_stride: int = field(init=False, repr=False, compare=False, default=0)
    _flat: np.ndarray | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        data = self.data
        if not isinstance(data, np.ndarray) or data.ndim != 2:
            shape = data.shape if isinstance(data, np.ndarray) else type(data).__name__
            raise DepthError(f'a depth image must be an HxW array, got {shape}')
        kind = (data.dtype.kind, data.dtype.itemsize)
        if kind not in (('u', 2), ('f', 4)):
            raise DepthError(f'a depth image must be uint16 or float32, got {data.dtype}')
        if data.size == 0:
            raise DepthError(f'the depth image is empty ({data.shape[1]}x{data.shape[0]})')
        if not (math.isfinite(self.scale) and self.scale > 0.0):
            raise DepthError(f'the depth scale must be a positive number of metres per unit, '
                             f'got {self.scale}')
        item = data.itemsize
        row_bytes, column_bytes = data.strides
        if column_bytes == item and row_bytes > 0 and row_bytes % item == 0:
            stride = row_bytes // item
            flat = np.lib.stride_tricks.as_strided(
                data, shape=((data.shape[0] - 1) * stride + data.shape[1],), strides=(item,),
                writeable=False)
            object.__setattr__(self, '_row_stride', stride)
            object.__setattr__(self, '_flat', flat)

    @classmethod
    def from_millimetres(cls, data: np.ndarray) -> DepthImage:
        """16UC1: uint16 millimetres, 0 = no reading."""
        return cls(data, MILLIMETRE)

    @classmethod
    def from_metres(cls, data: np.ndarray) -> DepthImage:
        """32FC1: float32 metres, 0, NaN and +-inf = no reading."""
        return cls(data, METRE)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.data.shape[1], self.data.shape[0]

    def take(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The raw readings at pixels (rows, cols): integer arrays of one shape, inside the
        image. One flat gather when the layout allows (a message's rows always do)."""
        if self._flat is None:
            return self.data[rows, cols]
        return self._flat.take(rows * self._row_stride + cols)

    def to_metres(self, values: np.ndarray | None = None) -> np.ndarray:
        """``values`` of this image (all of it by default) as float32 metres, NaN where there
        is no reading (REP-118's 0, NaN and +-inf, and anything negative)."""
        raw = self.data if values is None else values
        metres = raw.astype(np.float32) * np.float32(self.scale)
        metres[~(np.isfinite(metres) & (metres > 0.0))] = np.nan
        return metres

    def valid_fraction(self, min_range: float, max_range: float, step: int = 16) -> float:
        """Fraction of readings within [min_range, max_range], sampled every ``step`` pixels
        (cheap enough for every frame: 3 600 readings at 1280x720)."""
        metres = self.to_metres(self.data[step // 2::step, step // 2::step])
        with np.errstate(invalid='ignore'):
            return float(np.mean((metres >= min_range) & (metres <= max_range)))


@dataclass(frozen=True)
class DepthSettings:
    """How keypoints are lifted (the node's ``depth.*`` parameters); RANGES are the allowed
    values, checked on construction (DepthError naming the field and its range)."""

    patch_size: int = 7               # depth pixels per side of a keypoint's patch (odd)
    min_range: float = 0.3            # metres: nearer readings are no reading
    max_range: float = 10.0           # metres: farther readings are no reading
    edge_tolerance: float = 0.15      # metres kept behind a patch's near end (see module)
    max_torso_offset: float = 0.8     # metres a keypoint may lie in front of/behind its torso

    RANGES: ClassVar[dict[str, Range]] = {
        'patch_size': Range(1, MAX_PATCH_SIZE),
        # Depth cameras measure from ~0.1 m (stereo at close range) to ~20 m (ToF, outdoor
        # stereo); 100 m leaves room without letting a unit mistake through unnoticed.
        'min_range': Range(0.01, 100.0),
        'max_range': Range(0.01, 100.0),
        'edge_tolerance': Range(0.01, 100.0),    # 100: no edge rule, the plain median
        'max_torso_offset': Range(0.1, 100.0),   # 100: no torso check
    }

    def __post_init__(self) -> None:
        try:
            for name, allowed in self.RANGES.items():
                allowed.check(name, getattr(self, name))
        except ValueError as exc:
            raise DepthError(str(exc)) from None
        if self.patch_size % 2 == 0:
            raise DepthError(f'patch_size must be odd (a patch centred on its pixel), got '
                             f'{self.patch_size}')
        if self.max_range <= self.min_range:
            raise DepthError(f'max_range ({self.max_range:g} m) must be larger than min_range '
                             f'({self.min_range:g} m)')


@dataclass(frozen=True)
class DepthRegistration:
    """Colour pixel -> depth pixel, for a depth image registered to the colour camera (same
    optical centre and axes) but maybe of another size or intrinsics: per axis
    ``depth = scale * colour + offset``. The default is the identity (same image grid)."""

    scale_x: float = 1.0
    offset_x: float = 0.0
    scale_y: float = 1.0
    offset_y: float = 0.0

    @classmethod
    def from_cameras(cls, colour: Pinhole, depth: Pinhole) -> DepthRegistration:
        """Through both cameras' intrinsics (CameraInfo.k): a colour pixel's ray,
        (u - cx) / fx, hits the depth image at fx_d * ray + cx_d."""
        sx, sy = depth.fx / colour.fx, depth.fy / colour.fy
        return cls(sx, depth.cx - sx * colour.cx, sy, depth.cy - sy * colour.cy)

    @classmethod
    def from_sizes(cls, colour_wh: tuple[int, int],
                   depth_wh: tuple[int, int]) -> DepthRegistration:
        """For a depth image that is a resize of the colour grid (no depth CameraInfo): pixel
        centres scale as (u + 0.5) * s - 0.5, as in Pinhole.from_k."""
        sx, sy = depth_wh[0] / colour_wh[0], depth_wh[1] / colour_wh[1]
        return cls(sx, 0.5 * sx - 0.5, sy, 0.5 * sy - 0.5)

    def depth_pixels(self, uv: np.ndarray) -> np.ndarray:
        """(N, 2) colour pixels -> (N, 2) depth pixels (centre of the top-left pixel = 0)."""
        out = np.empty_like(uv, dtype=np.float64)
        out[:, 0] = uv[:, 0] * self.scale_x + self.offset_x
        out[:, 1] = uv[:, 1] * self.scale_y + self.offset_y
        return out


def alignment_problem(colour_frame: str, depth_frame: str) -> str | None:
    """Why a depth image cannot be used with the colour image, or None if it can.

    Only a depth image registered to the colour camera can be read at a keypoint's pixel; a
    depth image in its own frame needs the extrinsics and a reprojection, which the camera
    drivers do already when asked.
    """
    if depth_frame == colour_frame:
        return None
    return (f'depth/image is in frame {depth_frame!r} but the colour image in '
            f'{colour_frame!r}: the depth must be aligned (registered) to the colour camera. '
            f'Remap depth/image and depth/camera_info to the aligned topics, e.g. RealSense '
            f'(align_depth.enable:=true) /camera/camera/aligned_depth_to_color/image_raw, '
            f'OAK-D (stereo.i_align_depth:=true) /oak/stereo/image_raw, Azure Kinect '
            f'/depth_to_rgb/image_raw')


def facing_direction(xyz: np.ndarray, valid: np.ndarray) -> np.ndarray | None:
    """Where a person's chest faces, from their (17, 3) lifted keypoints and (17,) validity:
    a unit vector, or None when unknown.

    Convention: horizontal in the camera's frame (y = 0: "up" is taken as the camera's -y, so
    a tilted camera tilts it equally), forward = left x up with left = a left keypoint minus
    its right partner: (0, 0, -1) for a person facing the camera, (0, 0, 1) for one showing
    their back, (1, 0, 0) for one facing the image's right.

    Measured from the shoulders and from the hips (FACING_PAIRS), each pair counting when
    both keypoints have a position and their horizontal distance is plausible, and averaged;
    from one pair when only it counts; unknown when neither does, or when the two disagree by
    more than MAX_TWIST_DEG. The hips check the shoulders: on the real frames, a forearm in
    front of the chest makes the shoulders alone swing by up to 90 degrees between frames
    (the sitting man: -57 to 66 degrees) while the hips stay within 30 (15 to 42); with the
    check, his direction stays within 13 to 50 degrees and the frames with an arm across are
    unknown.

    MoveNet tells left from right by appearance; when it swaps them (a person seen from behind
    may look frontal to it), the direction flips.
    """
    directions = []
    for left, right, low, high in FACING_PAIRS:
        if valid[left] and valid[right]:
            lx = float(xyz[left, 0] - xyz[right, 0])
            lz = float(xyz[left, 2] - xyz[right, 2])
            span = math.hypot(lx, lz)
            if low <= span <= high:
                directions.append((lz / span, -lx / span))
    if not directions:
        return None
    if len(directions) == 2:
        (ax, az), (bx, bz) = directions
        if ax * bx + az * bz < _COS_MAX_TWIST:
            return None
        x, z = ax + bx, az + bz
        norm = math.hypot(x, z)
        return np.array([x / norm, 0.0, z / norm])
    x, z = directions[0]
    return np.array([x, 0.0, z])


def facing_quaternion(facing: np.ndarray | None) -> tuple[float, float, float, float]:
    """(x, y, z, w) orientation of a person in the optical frame, for geometry_msgs/Pose: the
    person's own body frame (REP-103: x forward, y left, z up) with x along ``facing``, z up
    (the camera's -y) and y = z x x; the identity (0, 0, 0, 1) when ``facing`` is None.

    So a follower transforming the pose into its base frame reads the person's heading as the
    yaw of this orientation. For a person facing the camera the body x axis is the optical
    -z and their left is the optical +x.
    """
    if facing is None:
        return 0.0, 0.0, 0.0, 1.0
    fx, fz = float(facing[0]), float(facing[2])
    # Columns: body x = (fx, 0, fz), body y = up x facing = (-fz, 0, fx), body z = (0, -1, 0).
    m00, m01, m02 = fx, -fz, 0.0
    m10, m11, m12 = 0.0, 0.0, -1.0
    m20, m21, m22 = fz, fx, 0.0
    trace = m00 + m11 + m22
    # Shepperd's method: divide by the largest of the four candidates, never by ~0.
    if trace > 0.0:
        s = 2.0 * math.sqrt(1.0 + trace)
        q = ((m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s, 0.25 * s)
    elif m00 > m11 and m00 > m22:
        s = 2.0 * math.sqrt(1.0 + m00 - m11 - m22)
        q = (0.25 * s, (m01 + m10) / s, (m02 + m20) / s, (m21 - m12) / s)
    elif m11 > m22:
        s = 2.0 * math.sqrt(1.0 + m11 - m00 - m22)
        q = ((m01 + m10) / s, 0.25 * s, (m12 + m21) / s, (m02 - m20) / s)
    else:
        s = 2.0 * math.sqrt(1.0 + m22 - m00 - m11)
        q = ((m02 + m20) / s, (m12 + m21) / s, 0.25 * s, (m10 - m01) / s)
    return q if q[3] >= 0.0 else (-q[0], -q[1], -q[2], -q[3])


class DepthLifter:
    """Lift 2D poses to 3D with a registered depth image (see the module docstring)."""

    def __init__(self, settings: DepthSettings | None = None) -> None:
        self.settings = settings or DepthSettings()
        half = self.settings.patch_size // 2
        offsets = np.arange(-half, half + 1)
        # Row and column offset of each reading of a patch, row by row.
        self._dy = np.repeat(offsets, len(offsets))
        self._dx = np.tile(offsets, len(offsets))
        self._min_valid = max(1, math.ceil(MIN_VALID_FRACTION * self.settings.patch_size ** 2))

    def lift(self, poses: list[Pose], depth: DepthImage, camera: Pinhole,
             keypoint_threshold: float,
             registration: DepthRegistration | None = None) -> list[Pose]:
        """``poses`` with ``pose3d`` set (new Pose objects; the inputs are untouched).

        ``camera``: the colour image's intrinsics; keypoints are in its pixels.
        ``registration``: colour -> depth pixels (identity when the images share a grid).
        Only keypoints seen at ``keypoint_threshold`` get a position.
        """
        if not poses:
            return []
        settings = self.settings
        keypoints = np.stack([pose.keypoints for pose in poses])       # (n, 17, 3)
        n = len(poses)
        seen = visible_mask(keypoints[..., 2], keypoint_threshold)      # (n, 17)
        torso_seen = seen[:, TORSO]
        torso_count = torso_seen.sum(axis=1)
        centres = ((keypoints[:, TORSO, :2] * torso_seen[..., None]).sum(axis=1)
                   / np.maximum(torso_count, 1)[:, None])
        # Keypoint patches, then one torso patch per person: the same number of readings,
        # the torso's spread TORSO_PATCH_FACTOR times wider, in one pass.
        uv = np.concatenate([keypoints[..., :2].reshape(-1, 2), centres])
        steps = np.ones(len(uv), np.intp)
        steps[-n:] = TORSO_PATCH_FACTOR
        z_all = self._patch_depths(
            depth, uv if registration is None else registration.depth_pixels(uv), steps)
        z = z_all[:-n].reshape(n, NUM_KEYPOINTS)
        torso_z = np.where(torso_count >= MIN_TORSO_KEYPOINTS, z_all[-n:], np.nan)

        with np.errstate(invalid='ignore'):
            # No torso depth, no comparison: NaN > x is False.
            too_far = np.abs(z - torso_z[:, None]) > settings.max_torso_offset
        valid = seen & ~np.isnan(z) & ~too_far
        points = camera.points_at_depth(uv, np.concatenate([np.where(valid, z, 0.0).ravel(),
                                                            torso_z]))
        xyz = points[:-n].reshape(n, NUM_KEYPOINTS, 3)
        xyz[~valid] = 0.0
        positions = points[-n:]
        located = ~np.isnan(torso_z)
        return [replace(pose, pose3d=Pose3D(
                    keypoints=xyz[i], valid=valid[i],
                    position=positions[i] if located[i] else None,
                    facing=facing_direction(xyz[i], valid[i])))
                for i, pose in enumerate(poses)]

    def patch_depths(self, depth: DepthImage, uv: np.ndarray, step: int = 1) -> np.ndarray:
        """Robust depth in metres of the patch around each of the (N, 2) depth-image pixels
        ``uv`` (patch_size readings per side, ``step`` pixels apart); NaN where there is none
        (see the module docstring)."""
        return self._patch_depths(depth, uv, np.full(len(uv), step, np.intp))

    def _patch_depths(self, depth: DepthImage, uv: np.ndarray, steps: np.ndarray) -> np.ndarray:
        settings = self.settings
        width, height = depth.size
        # Pixel (u, v) is column round(u), row round(v). A broken coordinate (NaN) or one far
        # outside becomes one just outside: every reading of its patch is then outside.
        reach = MAX_PATCH_SIZE * TORSO_PATCH_FACTOR
        centre = np.rint(np.clip(np.where(np.isnan(uv), -reach, uv), -reach,
                                 (width + reach, height + reach))).astype(np.intp)
        rows = centre[:, 1:] + steps[:, None] * self._dy                 # (N, P * P)
        cols = centre[:, :1] + steps[:, None] * self._dx
        # Negative indices wrap to huge unsigned ones: one comparison per side.
        inside = (rows.astype(np.uintp) < height) & (cols.astype(np.uintp) < width)
        raw = depth.take(rows.clip(0, height - 1), cols.clip(0, width - 1))
        metres = raw.astype(np.float32) * np.float32(depth.scale)
        with np.errstate(invalid='ignore'):
            ok = inside & (metres >= settings.min_range) & (metres <= settings.max_range)
        metres = np.where(ok, metres, np.float32(np.inf))
        metres.sort(axis=1)
        count = ok.sum(axis=1)
        index = np.arange(len(uv))
        near = metres[index, ((count - 1).clip(0) * NEAR_QUANTILE).astype(np.intp)]
        kept = (metres <= (near + np.float32(settings.edge_tolerance))[:, None]).sum(axis=1)
        median = 0.5 * (metres[index, (kept - 1) // 2].astype(np.float64)
                        + metres[index, kept // 2])
        return np.where(count >= self._min_valid, median, np.nan)
