# SPDX-License-Identifier: Apache-2.0
"""movenet_node's depth side: depth frames in, each colour frame's poses lifted to 3D.

Depth images (``depth/image``) and their CameraInfo (``depth/camera_info``) arrive in executor
callbacks: :meth:`DepthInput.add` checks a frame and keeps it in a :class:`StampMatcher`, so
the depth callback never waits for the model and the frame thread never waits for depth. After
a colour frame's inference, :meth:`DepthInput.lift` pairs it by stamp with the nearest depth
frame and lifts its poses (:mod:`movenet_ros.core.depth`); without a usable depth frame the
poses stay 2D, the reason is counted and kept for /diagnostics, and the 2D output goes on.

What a depth frame must be (else it is counted as bad, or unusable, and warned about):

* 16UC1 (mm) or 32FC1 (m), with readings within [min_range, max_range] somewhere (REP-118);
* in the colour image's frame (``header.frame_id``): registered to the colour camera, as the
  drivers' aligned topics are. A depth image in the depth camera's own frame would need a
  reprojection: it is refused, saying what to remap;
* of the colour image's size, or of another size with a ``depth/camera_info`` that says how
  its pixels map to the colour's (without one, a size of the same aspect ratio is taken as a
  resize of the colour grid);
* with intrinsics to place keypoints in metres: the colour ``camera_info`` or, since the
  depth is registered to the colour camera, ``depth/camera_info``. The assumed field of view
  the markers fall back to is never used for metric positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import math
import threading

from sensor_msgs.msg import CameraInfo, Image

from movenet_ros.conversions.depth import depth_msg_to_image
from movenet_ros.conversions.images import ImageConversionError
from movenet_ros.core.camera import Pinhole
from movenet_ros.core.depth import (
    DepthImage,
    DepthLifter,
    DepthRegistration,
    DepthSettings,
    alignment_problem,
)
from movenet_ros.core.results import PoseResult
from movenet_ros.core.sync import MatchFailure, StampMatcher, stamp_ns
from movenet_ros.nodes.statistics import Tally

# A depth image of another size without a depth/camera_info is taken as a resize of the
# colour grid only when the aspect ratios agree this closely (640x480 vs 1280x960, not 1280x720).
ASPECT_TOLERANCE = 0.01


@dataclass
class DepthCounters(Tally):
    """received: depth images that arrived. bad: refused on arrival (encoding, size, data,
    no reading in range). paired: colour frames lifted with a depth frame. unpaired: colour
    frames with no depth frame near their stamp. unusable: colour frames whose paired depth
    could not be used (another frame, no intrinsics, sizes that do not map)."""

    received: int = 0
    bad: int = 0
    paired: int = 0
    unpaired: int = 0
    unusable: int = 0


@dataclass(frozen=True)
class DepthReport:
    """The depth side's counters of one diagnostics period and since start."""

    period: DepthCounters
    total: DepthCounters
    last_problem: str
    last_unpaired: str  # the latest reason a colour frame found no depth


@dataclass(frozen=True)
class DepthFrame:
    """A depth image kept for pairing: its pixels (a view over ``msg``), frame and size."""

    image: DepthImage
    frame_id: str
    msg: Image  # keeps the buffer the view reads alive


@dataclass
class _Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    period: DepthCounters = field(default_factory=DepthCounters)
    total: DepthCounters = field(default_factory=DepthCounters)
    last_problem: str = ''
    last_unpaired: str = ''

    def count(self, problem: str | None = None, why_unpaired: str | None = None,
              **counts: int) -> None:
        with self.lock:
            self.period.add(**counts)
            self.total.add(**counts)
            if problem is not None:
                self.last_problem = problem
            if why_unpaired is not None:
                self.last_unpaired = why_unpaired


class DepthInput:
    """Depth frames from executor callbacks, paired and lifted on the frame thread."""

    def __init__(self, settings: DepthSettings, tolerance_s: float, queue_size: int,
                 max_image_pixels: int) -> None:
        self._matcher: StampMatcher[DepthFrame] = StampMatcher(tolerance_s, queue_size)
        self._lifter = DepthLifter(settings)
        self._max_pixels = max_image_pixels
        self._info: CameraInfo | None = None
        self._stats = _Stats()

    @property
    def settings(self) -> DepthSettings:
        return self._lifter.settings

    def configure(self, settings: DepthSettings, tolerance_s: float) -> None:
        """New settings from the next frame on (call from the frame thread, between frames)."""
        if settings != self._lifter.settings:
            self._lifter = DepthLifter(settings)
        self._matcher.set_tolerance(tolerance_s)

    def set_camera_info(self, msg: CameraInfo) -> None:
        """The CameraInfo of depth/image (executor thread)."""
        self._info = msg

    def add(self, msg: Image) -> str | None:
        """Keep a depth image for pairing (executor thread); the reason if it is refused."""
        settings = self._lifter.settings
        try:
            image = depth_msg_to_image(msg, self._max_pixels)
        except ImageConversionError as exc:
            return self._refuse(f'bad depth image: {exc}')
        if image.valid_fraction(settings.min_range, settings.max_range) == 0.0:
            return self._refuse(
                f'depth image {image.size[0]}x{image.size[1]} ({msg.encoding}) has no reading '
                f'within {settings.min_range:g}-{settings.max_range:g} m')
        self._stats.count(received=1)
        self._matcher.add(stamp_ns(msg.header.stamp.sec, msg.header.stamp.nanosec),
                          DepthFrame(image, msg.header.frame_id, msg))
        return None

    def _refuse(self, problem: str) -> str:
        self._stats.count(problem, received=1, bad=1)
        return problem

    def lift(self, result: PoseResult, header, colour_camera: Pinhole | None
             ) -> tuple[PoseResult, str | None]:
        """``result`` with its poses lifted by the depth frame nearest to ``header.stamp``,
        or unchanged (``colour_camera``: from a calibrated colour camera_info, None without
        one). The second value is a problem to warn about: depth that cannot be used, or
        none received at all (a depth frame that is late or dropped now and then is only
        counted)."""
        match = self._matcher.match(stamp_ns(header.stamp.sec, header.stamp.nanosec))
        if not match.ok:
            reason = self._unpaired_reason(match.failure, match.offset_ns)
            self._stats.count(why_unpaired=reason, unpaired=1)
            return result, reason if match.failure is MatchFailure.NO_DEPTH else None
        depth: DepthFrame = match.item
        problem = alignment_problem(header.frame_id, depth.frame_id)
        camera = registration = None
        if problem is None:
            camera, registration, problem = self._geometry(result.image_size, depth.image.size,
                                                           colour_camera)
        if problem is not None:
            self._stats.count(problem, unusable=1)
            return result, problem
        try:
            poses = self._lifter.lift(result.poses, depth.image, camera,
                                      result.keypoint_threshold, registration)
        except ValueError as exc:  # never expected; the 2D poses go on whatever happens
            problem = f'depth lifting failed: {exc}'
            self._stats.count(problem, unusable=1)
            return result, problem
        self._stats.count(paired=1)
        return replace(result, poses=poses), None

    @staticmethod
    def _unpaired_reason(failure: MatchFailure, offset_ns: int | None) -> str:
        if offset_ns is None:
            return failure.value
        return f'{failure.value}; nearest {offset_ns / 1e6:+.1f} ms'

    def _geometry(self, colour_wh: tuple[int, int], depth_wh: tuple[int, int],
                  colour: Pinhole | None
                  ) -> tuple[Pinhole | None, DepthRegistration | None, str | None]:
        """(colour camera, colour -> depth pixels, None), or (None, None, the problem)."""
        info = self._info
        depth_camera = None
        if info is not None and any(info.k):
            try:
                depth_camera = Pinhole.from_k(info.k, (info.width, info.height), depth_wh)
            except ValueError as exc:
                return None, None, f'depth/camera_info: {exc}'
        if colour is None and depth_camera is not None:
            # Registered: the depth camera's rays are the colour camera's.
            colour = Pinhole.from_k(info.k, (info.width, info.height), colour_wh)
        if colour is None:
            return None, None, ('no calibrated camera_info (colour or depth): keypoints '
                                'cannot be placed in metres')
        if depth_wh == colour_wh and depth_camera is None:
            return colour, None, None
        if depth_camera is not None:
            return colour, DepthRegistration.from_cameras(colour, depth_camera), None
        aspect_c, aspect_d = colour_wh[0] / colour_wh[1], depth_wh[0] / depth_wh[1]
        if not math.isclose(aspect_c, aspect_d, rel_tol=ASPECT_TOLERANCE):
            return None, None, (
                f'depth image {depth_wh[0]}x{depth_wh[1]} and colour image {colour_wh[0]}x'
                f'{colour_wh[1]} differ in aspect ratio and no depth/camera_info says how '
                f'their pixels map: remap depth/camera_info to the depth camera_info')
        return colour, DepthRegistration.from_sizes(colour_wh, depth_wh), None

    def report(self) -> DepthReport:
        """The counters of the period since the last report, and since start."""
        stats = self._stats
        with stats.lock:
            period, stats.period = stats.period, DepthCounters()
            return DepthReport(period, replace(stats.total), stats.last_problem,
                               stats.last_unpaired)

    def clear(self) -> None:
        """Forget the depth frames kept (deactivate)."""
        self._matcher.clear()
