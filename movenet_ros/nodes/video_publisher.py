# SPDX-License-Identifier: Apache-2.0
"""A camera stand-in: publish a video file, an image folder or a camera as ROS 2 images.

Publishes ``sensor_msgs/Image`` on ``image``, ``sensor_msgs/CameraInfo`` with the same header
on ``camera_info`` and, optionally, JPEG ``sensor_msgs/CompressedImage`` on
``image/compressed``, at the source's own frame rate or a set one. With ``max_frames`` or at
the end of a file (unless ``loop``) the node exits 0, so demos and tests can run it to the end.

An RGB-D folder (``camera.json`` + ``color/`` + ``depth/``, see
:mod:`movenet_ros.core.rgbd_folder`) plays as an aligned RGB-D camera: each colour frame on
``image`` and its registered depth on ``depth/image`` (``depth_encoding``: 16UC1 mm or 32FC1
m), with the folder's intrinsics on both ``camera_info`` and ``depth/camera_info``, all four
with the same header, as a RealSense driver's aligned topics.

    python -m movenet_ros.nodes.video_publisher --ros-args -p source:=video.mp4 -p max_frames:=5

Frames come from :mod:`movenet_ros.core.media` (ROS-free) and become messages through
:mod:`movenet_ros.conversions.images`. Large raw images over Fast DDS need the shared-memory
profile in ``config/fastdds_large_images.xml`` for best-effort subscribers (see the README).
"""

from __future__ import annotations

from dataclasses import replace
import sys
import time

import cv2
import numpy as np
from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from movenet_ros.conversions.depth import depth_image_to_msg, depth_in_encoding
from movenet_ros.conversions.images import array_to_compressed_msg, array_to_image_msg
from movenet_ros.core.camera import DEFAULT_HFOV_DEG, Pinhole
from movenet_ros.core.depth import DepthImage
from movenet_ros.core.estimator import MAX_IMAGE_SIDE
from movenet_ros.core.media import (
    DEFAULT_IMAGE_FPS,
    FrameSource,
    open_frame_source,
    output_size,
    resize,
)
from movenet_ros.core.options import Range
from movenet_ros.core.rgbd_folder import RgbdFolderSource, is_rgbd_folder
from movenet_ros.nodes.parameters import Applies, ParameterSpec, change_problem, declare
from movenet_ros.nodes.startup import EXIT_BAD_CONFIG, init_ros

ENCODINGS = ('bgr8', 'rgb8', 'mono8')
DEPTH_ENCODINGS = ('16UC1', '32FC1')
RELIABILITIES = {'reliable': ReliabilityPolicy.RELIABLE,
                 'best_effort': ReliabilityPolicy.BEST_EFFORT}
START = Applies.START
# The image stream's QoS has the same parameter names in movenet_node.
PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec('source', '',
                  'Video file, image folder, image file, camera index or /dev/videoN; or an '
                  'RGB-D folder (camera.json, color/, depth/), played with depth/image and '
                  'depth/camera_info.', START),
    ParameterSpec('rate', 0.0, "Publishing rate in Hz; 0 = the source's own frame rate "
                  f'(images: {DEFAULT_IMAGE_FPS:g}). Never faster than frames decode.', START,
                  range=Range(0.0, 1000.0)),
    ParameterSpec('loop', False, 'Start the source again at its end (files and folders).'),
    ParameterSpec('max_frames', 0,
                  'Exit (code 0) after publishing this many frames; 0 = no limit.',
                  range=Range(0, 2**31 - 1)),
    ParameterSpec('frame_id', 'camera_optical_frame', 'frame_id of every header.'),
    ParameterSpec('width', 0, 'Output width in pixels; 0 = native (or keep the aspect if '
                  'only height is set).', START, range=Range(0, MAX_IMAGE_SIDE)),
    ParameterSpec('height', 0, 'Output height in pixels; 0 = native (or keep the aspect if '
                  'only width is set).', START, range=Range(0, MAX_IMAGE_SIDE)),
    ParameterSpec('encoding', 'bgr8', 'Image encoding.', START, choices=ENCODINGS),
    ParameterSpec('focal_length_px', 0.0, 'Focal length (fx = fy) in CameraInfo, pixels of '
                  f'the output image; 0 = a {DEFAULT_HFOV_DEG:g} degree horizontal field of '
                  "view. Not used for an RGB-D folder: its camera.json's intrinsics are "
                  'published.', range=Range(0.0, 1e6)),
    ParameterSpec('depth_encoding', '16UC1',
                  'Encoding of depth/image for an RGB-D folder: 16UC1 (uint16 millimetres) '
                  'or 32FC1 (float32 metres), as REP-118 defines them.', START,
                  choices=DEPTH_ENCODINGS),
    ParameterSpec('publish_compressed', False, 'Also publish JPEG on image/compressed.', START),
    ParameterSpec('jpeg_quality', 90, 'JPEG quality of image/compressed (1-100).',
                  range=Range(1, 100)),
    ParameterSpec('wait_for_subscribers', 0, 'Before the first frame, wait until this many '
                  'subscribers match: those on image (on image and depth/image, for an RGB-D '
                  'folder) plus those on image/compressed; 0 = start at once.', START,
                  range=Range(0, 1000)),
    ParameterSpec('wait_timeout', 30.0, 'Seconds to wait for subscribers before starting '
                  'anyway; 0 = wait forever.', START, range=Range(0.0, 86400.0)),
    ParameterSpec('image_qos_reliability', 'reliable',
                  'Reliability of the image, camera_info and image/compressed publishers: '
                  'reliable (matches every subscriber, as REP-2003 asks of drivers) or '
                  'best_effort.', START, choices=tuple(RELIABILITIES)),
    ParameterSpec('image_qos_depth', 5, 'History depth of the publishers.', START,
                  range=Range(1, 1000)),
)
SPECS = {spec.name: spec for spec in PARAMETERS}


def pinhole_camera_info(width: int, height: int, camera: Pinhole) -> CameraInfo:
    """An ideal pinhole CameraInfo for ``camera``: no distortion, no rectification."""
    return CameraInfo(
        width=width, height=height, distortion_model='plumb_bob', d=[0.0] * 5,
        k=[camera.fx, 0.0, camera.cx, 0.0, camera.fy, camera.cy, 0.0, 0.0, 1.0],
        r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        p=[camera.fx, 0.0, camera.cx, 0.0, 0.0, camera.fy, camera.cy, 0.0, 0.0, 0.0, 1.0,
           0.0])


class VideoPublisher(Node):
    """Publish frames of one source as Image + CameraInfo (+ CompressedImage) on a timer."""

    def __init__(self, node_name: str = 'video_publisher', **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        problems = declare(self, PARAMETERS)
        if problems:
            raise ValueError(next(iter(problems.values())))
        p = {name: self.get_parameter(name).value for name in SPECS}
        self.source_name: str = p['source']
        self.encoding: str = p['encoding']
        self.loop: bool = p['loop']
        self.max_frames: int = p['max_frames']
        self.frame_id: str = p['frame_id']
        self.focal_length_px: float = p['focal_length_px']
        self.jpeg_quality: int = p['jpeg_quality']
        self._wait_for: int = p['wait_for_subscribers']
        self._wait_timeout: float = p['wait_timeout']
        if not self.source_name.strip():
            raise ValueError("parameter 'source' is not set: pass -p source:=<video file, "
                             'image folder, image file, camera index or /dev/videoN>')
        try:
            self._source: FrameSource = (RgbdFolderSource(self.source_name)
                                         if is_rgbd_folder(self.source_name)
                                         else open_frame_source(self.source_name))
        except (OSError, ValueError) as exc:
            raise ValueError(f'cannot open source: {exc}; set -p source:=<video file, image '
                             f'folder, image file, camera index or /dev/videoN>') from exc
        self._size = output_size(self._source.size, p['width'], p['height'])
        self.rate: float = p['rate'] or self._source.fps

        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=p['image_qos_depth'],
                         reliability=RELIABILITIES[p['image_qos_reliability']])
        self._image_pub = self.create_publisher(Image, 'image', qos)
        self._info_pub = self.create_publisher(CameraInfo, 'camera_info', qos)
        self._compressed_pub = (self.create_publisher(CompressedImage, 'image/compressed', qos)
                                if p['publish_compressed'] else None)
        self._rgbd = isinstance(self._source, RgbdFolderSource)
        self._depth_encoding: str = p['depth_encoding']
        self._depth_pub = self._depth_info_pub = None
        if self._rgbd:
            self._depth_pub = self.create_publisher(Image, 'depth/image', qos)
            self._depth_info_pub = self.create_publisher(CameraInfo, 'depth/camera_info', qos)
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self.published = 0
        self.summary = ''
        self.summary_pending = False
        self.done = False
        self.exit_code = 0
        self._started: float | None = None
        self._publish_times: tuple[float, float] | None = None  # first, last
        self._camera_info: dict[tuple[int, int], CameraInfo] = {}
        self._next_frame: np.ndarray | None = None
        self._next_depth: np.ndarray | None = None
        self._read_next(self._source.read())
        self._publish_timer = None
        self._wait_began = time.monotonic()
        self._wait_timer = self.create_timer(0.05, self._check_subscribers)
        self.get_logger().info(
            f'{self._source.kind} {self.source_name}: {self._source.size[0]}x'
            f'{self._source.size[1]} at {self._source.fps:.3g} fps -> publishing '
            f'{self._size[0]}x{self._size[1]} {self.encoding} at {self.rate:.3g} Hz on '
            f'{self._image_pub.topic_name} ({p["image_qos_reliability"]}, depth '
            f'{p["image_qos_depth"]})'
            + (f' with {self._depth_encoding} depth on {self._depth_pub.topic_name}'
               if self._rgbd else '')
            + (f', waiting for {self._wait_for} subscriber(s)' if self._wait_for else ''))

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """Apply run-time changes of the parameters that need no restart."""
        reason = change_problem(SPECS, [(p.name, p.value) for p in params], configured=True)
        if reason:
            return SetParametersResult(successful=False, reason=reason)
        for param in params:
            if param.name in SPECS:
                setattr(self, param.name, param.value)
            if param.name == 'focal_length_px':
                self._camera_info.clear()
        return SetParametersResult(successful=True)

    def _check_subscribers(self) -> None:
        """Start publishing once enough subscribers matched, or the wait timed out."""
        matched = self._image_pub.get_subscription_count()
        if self._depth_pub is not None:  # an RGB-D consumer takes both from the first frame
            matched = min(matched, self._depth_pub.get_subscription_count())
        if self._compressed_pub is not None:  # a viewer or recorder on the JPEG topic counts
            matched += self._compressed_pub.get_subscription_count()
        waited = time.monotonic() - self._wait_began
        if matched < self._wait_for:
            if not self._wait_timeout or waited < self._wait_timeout:
                return
            self.get_logger().warning(
                f'only {matched} of {self._wait_for} subscriber(s) on '
                f'{self._image_pub.topic_name}{"(/compressed)" if self._compressed_pub else ""} '
                f'after {waited:.1f} s; starting anyway')
        self.destroy_timer(self._wait_timer)
        self._started = time.monotonic()
        self._publish_timer = self.create_timer(1.0 / self.rate, self._publish_next)
        self._publish_next()

    def _read(self) -> np.ndarray | None:
        frame = self._source.read()
        if frame is None and self.loop and self._source.can_rewind:
            self._source.rewind()
            frame = self._source.read()
        return frame

    def _read_next(self, frame: np.ndarray | None) -> None:
        """Keep ``frame`` (and, from an RGB-D folder, its depth in the published encoding)
        for the next tick."""
        self._next_frame, self._next_depth = frame, None
        if self._rgbd and frame is not None:
            source = self._source
            depth = DepthImage(source.depth, source.depth_scale)
            self._next_depth = depth_in_encoding(depth, self._depth_encoding)

    def _camera_info_for(self, width: int, height: int) -> CameraInfo:
        key = (width, height)
        if key not in self._camera_info:
            if self._rgbd:  # measured intrinsics, scaled to the output size
                camera = self._source.camera
                k = [camera.fx, 0.0, camera.cx, 0.0, camera.fy, camera.cy, 0.0, 0.0, 1.0]
                camera = Pinhole.from_k(k, self._source.size, (width, height))
            else:
                camera = Pinhole.default((width, height))
                if self.focal_length_px:
                    camera = replace(camera, fx=self.focal_length_px, fy=self.focal_length_px)
            self._camera_info[key] = pinhole_camera_info(width, height, camera)
        return self._camera_info[key]

    def _publish_next(self) -> None:
        """Publish the frame decoded last time, then decode the next one."""
        if self.done:
            return
        frame = self._next_frame
        if frame is None:
            self.finish(0, 'end of source')
            return
        frame = resize(frame, self._size)
        if self.encoding == 'rgb8':
            pixels = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        elif self.encoding == 'mono8':
            pixels = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        else:
            pixels = frame
        now = time.monotonic()
        self._publish_times = (self._publish_times[0] if self._publish_times else now, now)
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.frame_id)
        self._image_pub.publish(array_to_image_msg(pixels, self.encoding, header))
        info = self._camera_info_for(frame.shape[1], frame.shape[0])
        info.header = header
        self._info_pub.publish(info)
        if self._compressed_pub is not None:
            self._compressed_pub.publish(array_to_compressed_msg(
                pixels if self.encoding == 'mono8' else frame, header,
                quality=self.jpeg_quality, encoding=self.encoding))
        if self._next_depth is not None:
            # Nearest neighbour: depth readings are never blended across a body's edge.
            depth = resize(self._next_depth, self._size, cv2.INTER_NEAREST)
            self._depth_pub.publish(depth_image_to_msg(depth, header))
            self._depth_info_pub.publish(info)
        self.published += 1
        if self.max_frames and self.published >= self.max_frames:
            self.finish(0, f'max_frames={self.max_frames} reached')
            return
        try:
            self._read_next(self._read())
        except ValueError as exc:
            self.get_logger().error(str(exc))
            self.finish(1, 'a frame could not be read')

    def finish(self, exit_code: int, reason: str, defer_log: bool = False) -> None:
        """Stop publishing and log a summary; main() exits with ``exit_code``.

        ``defer_log`` leaves the summary to main() after the node is gone: after Ctrl-C the
        context shuts down concurrently, and logging through the node would fail on /rosout.
        """
        if self.done:
            return
        self.done = True
        self.exit_code = exit_code
        if self._publish_timer is not None:
            self.destroy_timer(self._publish_timer)
        elapsed = time.monotonic() - self._started if self._started else 0.0
        first, last = self._publish_times or (0.0, 0.0)
        mean_rate = (self.published - 1) / (last - first) if last > first else 0.0
        self.summary = (f'{reason}: published {self.published} frame(s) of {self._size[0]}x'
                        f'{self._size[1]} {self.encoding} in {elapsed:.1f} s '
                        f'({mean_rate:.1f} Hz)')
        if defer_log:
            self.summary_pending = True
        else:
            self.get_logger().info(self.summary)

    def flush(self, timeout_s: float = 2.0) -> None:
        """Give the last frames time to reach reliable subscribers before the node goes."""
        deadline = Duration(seconds=timeout_s)
        for pub in (self._image_pub, self._info_pub, self._compressed_pub, self._depth_pub,
                    self._depth_info_pub):
            if pub is not None:
                pub.wait_for_all_acked(deadline)

    def destroy_node(self) -> None:
        self._source.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run the node until its source ends, ``max_frames``, Ctrl-C or shutdown.

    Returns the exit code: 0, or 2 for a bad configuration. The installed executable runs
    this through :mod:`movenet_ros.entry_points`: a shutdown signal raises KeyboardInterrupt
    here at most once, so the teardown in ``finally`` runs to its end.
    """
    node: VideoPublisher | None = None
    exit_code = 0
    try:
        if not init_ros(args, 'video_publisher'):
            return EXIT_BAD_CONFIG
        try:
            node = VideoPublisher()
        except Exception as exc:
            if not rclpy.ok():
                # SIGINT/SIGTERM while the node was built: rclpy's handler shut the context
                # down under the constructor, whose next rcl call failed. Not an error.
                return 0
            if not isinstance(exc, ValueError):
                raise
            get_logger('video_publisher').error(str(exc))
            return EXIT_BAD_CONFIG
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while rclpy.ok() and not node.done:
            executor.spin_once(timeout_sec=0.1)
        if node.done:
            node.flush()
            # Best-effort subscribers are not acked: leave a moment for the last sample.
            time.sleep(0.2)
        else:
            node.finish(0, 'shut down', defer_log=True)
        exit_code = node.exit_code
    except (KeyboardInterrupt, ExternalShutdownException):
        if node is not None:
            node.finish(0, 'interrupted', defer_log=True)
    finally:
        if node is not None:
            logger_name = node.get_logger().name
            node.destroy_node()
            if node.summary_pending:
                get_logger(logger_name).info(node.summary)
        rclpy.try_shutdown()
    return exit_code


if __name__ == '__main__':
    sys.exit(main())
