# SPDX-License-Identifier: Apache-2.0
"""The movenet_node: camera images in, poses, RViz markers and an annotated image out.

Thin glue over the ROS-free core: message -> array (image_conversion), array -> poses
(estimator), poses -> messages (pose_messages, markers). Frames are never processed stale: a
worker thread runs the model on the newest frame only. While it is busy, the executor stops
taking images (:class:`TakeWhileIdle`): newer frames replace each other in the subscription's
one-frame DDS queue without being copied into Python, the worker takes the one waiting when it
is done, and the frames replaced are counted as dropped.

Two locks keep the executor from ever waiting for the model: ``_lock`` guards the one-frame
slot and the counters (held for microseconds), ``_estimator_lock`` the estimator and its
parameters (held for a whole inference). Markers and the annotated image are built only
while someone subscribes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import sys
import threading
import time
import traceback

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
import rclpy
from rclpy.callback_groups import CallbackGroup
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import (
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray

from movenet_ros.conversions.images import (
    MAX_IMAGE_SIDE,
    ImageConversionError,
    array_to_image_msg,
    compressed_to_array,
    image_to_array,
)
from movenet_ros.conversions.markers import poses_to_markers
from movenet_ros.conversions.poses import result_to_msg
from movenet_ros.core.camera import DEFAULT_HFOV_DEG, Pinhole
from movenet_ros.core.drawing import draw_poses
from movenet_ros.core.estimator import (
    DEFAULT_KEYPOINT_THRESHOLD,
    DEFAULT_MAX_PEOPLE,
    DEFAULT_MIN_POSE_SCORE,
    PoseEstimator,
)
from movenet_ros.core.image_headers import ACCEPTED_FORMATS, DEFAULT_MAX_IMAGE_PIXELS
from movenet_ros.core.model import BUILTIN_MODELS, ModelError, MoveNetModel
from movenet_ros.core.smoothing import (
    DEFAULT_BETA,
    DEFAULT_D_CUTOFF_HZ,
    DEFAULT_MIN_CUTOFF_HZ,
    PoseSmoother,
)
from movenet_ros.core.temporal import TemporalFilter
from movenet_ros.core.tracking import (
    DEFAULT_MAX_AGE_S,
    DEFAULT_MAX_TRACKS,
    DEFAULT_MIN_SIMILARITY,
    DEFAULT_SIMILARITY,
    SIMILARITIES,
    PoseTracker,
)
from movenet_ros.msg import PersonPoseArray

RELIABILITY = {'best_effort': ReliabilityPolicy.BEST_EFFORT,
               'reliable': ReliabilityPolicy.RELIABLE}
TRANSPORTS = ('raw', 'compressed')
WARN_THROTTLE_S = 5.0
INVALID_CAMERA_INFO = 'invalid K ignored'


class ConfigurationError(Exception):
    """A start-up parameter is invalid; the message says which and how to fix it."""


def _describe(description: str, *, read_only: bool = False, int_range=None,
              float_range=None, choices=None) -> ParameterDescriptor:
    if choices:
        description += f' One of: {", ".join(choices)}.'
    desc = ParameterDescriptor(description=description, read_only=read_only)
    if int_range:
        desc.integer_range = [IntegerRange(from_value=int_range[0], to_value=int_range[1],
                                           step=int_range[2] if len(int_range) > 2 else 1)]
    if float_range:
        desc.floating_point_range = [FloatingPointRange(from_value=float_range[0],
                                                        to_value=float_range[1])]
    return desc


# name: (default, descriptor). Declared all at once in __init__; read-only ones need a restart.
PARAMETERS = {
    'model': ('lightning', _describe(
        'Built-in MoveNet model to run (ignored when model_path is set).',
        read_only=True, choices=tuple(BUILTIN_MODELS))),
    'model_path': ('', _describe(
        'Path of any MoveNet .tflite file (single-pose or multipose, e.g. from TF Hub); '
        'overrides model when not empty.', read_only=True)),
    'num_threads': (2, _describe('CPU threads for the TFLite interpreter.',
                                 read_only=True, int_range=(1, 64))),
    'keypoint_threshold': (DEFAULT_KEYPOINT_THRESHOLD, _describe(
        'Keypoints with a lower score are not drawn, not counted in single-pose scores '
        'and boxes, and not shown as markers (all 17 are still published).',
        float_range=(0.0, 1.0))),
    'min_pose_score': (DEFAULT_MIN_POSE_SCORE, _describe(
        'People with a lower pose score are not reported.', float_range=(0.0, 1.0))),
    'max_people': (DEFAULT_MAX_PEOPLE, _describe(
        'At most this many people are reported (MultiPose).', int_range=(1, 6))),
    'multipose_max_side': (256, _describe(
        'MultiPose input: the larger side in pixels (a multiple of 32); the other side '
        'follows the image aspect. Larger finds smaller people, at a higher cost.',
        read_only=True, int_range=(128, 1024, 32))),
    'crop_tracking': (True, _describe(
        'Single-pose models: run each frame on a crop around the previous pose (more '
        'accurate on video).')),
    'image_transport': ('raw', _describe(
        'raw subscribes to sensor_msgs/Image on "image"; compressed subscribes to '
        'sensor_msgs/CompressedImage on "image/compressed".', read_only=True,
        choices=TRANSPORTS)),
    'max_image_pixels': (DEFAULT_MAX_IMAGE_PIXELS, _describe(
        'Images with more pixels (width x height) are refused and counted as bad. Compressed '
        'images are sized from their headers before decoding; formats that cannot be sized '
        f'are refused (accepted: {", ".join(ACCEPTED_FORMATS)}). The default, 3840 x 2160 '
        '(4K UHD), keeps the node under 350 MB RSS; each extra megapixel costs about 12 MB.',
        read_only=True,
        int_range=(1, MAX_IMAGE_SIDE * MAX_IMAGE_SIDE))),
    'image_qos_reliability': ('best_effort', _describe(
        'Reliability of the image subscription. best_effort (sensor data QoS) matches any '
        'publisher; reliable only matches reliable publishers.', read_only=True,
        choices=tuple(RELIABILITY))),
    'image_qos_depth': (1, _describe(
        'History depth of the image subscription. Only the newest frame is ever processed.',
        read_only=True, int_range=(1, 100))),
    'publish_markers': (True, _describe('Publish visualization_msgs/MarkerArray on '
                                        '"pose_markers" (only built while someone '
                                        'subscribes).')),
    'publish_annotated_image': (True, _describe(
        'Publish the image with skeletons drawn on "image_annotated" (only drawn while '
        'someone subscribes).')),
    'marker_depth': (2.0, _describe(
        'Distance in metres at which 2D poses are drawn as markers, along the camera rays '
        '(from camera_info, else an assumed 60 degree horizontal field of view).',
        float_range=(0.1, 100.0))),
    'marker_line_width': (0.02, _describe('Marker bone width in metres.',
                                          float_range=(0.001, 1.0))),
    'diagnostics_period': (1.0, _describe('Seconds between /diagnostics messages.',
                                          read_only=True, float_range=(0.1, 60.0))),
}
# Tracking and smoothing (core.tracking, core.smoothing), all tunable at run time.
PARAMETERS.update({
    'tracking.enabled': (True, _describe(
        'Give each person an id that stays the same across frames (PersonPose.id).')),
    'tracking.similarity': (DEFAULT_SIMILARITY, _describe(
        'How people are matched to tracks: oks (keypoint similarity) or iou (boxes).',
        choices=SIMILARITIES)),
    'tracking.min_similarity': (0.0, _describe(
        'Least similarity for a match; 0 uses the tuned default of the method '
        f'({", ".join(f"{k} {v}" for k, v in DEFAULT_MIN_SIMILARITY.items())}).',
        float_range=(0.0, 1.0))),
    'tracking.max_age_s': (DEFAULT_MAX_AGE_S, _describe(
        'Seconds of image time (from the stamps) an unseen person keeps their id.',
        float_range=(0.01, 60.0))),
    'tracking.max_tracks': (DEFAULT_MAX_TRACKS, _describe('Tracks kept at most.',
                                                          int_range=(1, 100))),
    'smoothing.enabled': (True, _describe(
        'One-Euro filter keypoints and boxes per tracked person (needs tracking).')),
    'smoothing.min_cutoff': (DEFAULT_MIN_CUTOFF_HZ, _describe(
        'Cutoff frequency (Hz) for a still person: lower is smoother, with more lag.',
        float_range=(0.001, 30.0))),
    'smoothing.beta': (DEFAULT_BETA, _describe(
        'How fast the cutoff rises with speed (Hz per person size per second): higher '
        'lags less on fast motion.', float_range=(0.0, 100.0))),
    'smoothing.d_cutoff': (DEFAULT_D_CUTOFF_HZ, _describe(
        'Cutoff frequency (Hz) of the speed estimate.', float_range=(0.001, 30.0))),
})
TEMPORAL_PARAMETERS = tuple(n for n in PARAMETERS if n.startswith(('tracking.', 'smoothing.')))
RUNTIME_TUNABLE = ('keypoint_threshold', 'min_pose_score', 'max_people', 'crop_tracking',
                   'publish_markers', 'publish_annotated_image', 'marker_depth',
                   'marker_line_width', *TEMPORAL_PARAMETERS)


@dataclass
class Counters:
    """Frame accounting, since the last diagnostics message (``period``) and in total.

    received: reached the node. dropped: received, but a newer frame came before the model
    was free (replaced in the one-frame subscription queue, or in the node's own slot).
    lost: never reached the node: gaps in the publisher's sequence numbers not explained by
    the above, i.e. frames lost in transport (or overwritten in a deeper queue). bad: refused
    input messages. model_errors: frames the model failed on (not the input's fault).
    """

    received: int = 0
    processed: int = 0
    dropped: int = 0
    lost: int = 0
    bad: int = 0
    model_errors: int = 0  # received, but the model failed or its output was invalid

    def add(self, **counts: int) -> None:
        for name, n in counts.items():
            setattr(self, name, getattr(self, name) + n)


class TakeWhileIdle(CallbackGroup):
    """A callback group whose members the executor only waits on while ``idle()`` holds.

    For the image subscription: while the model runs, new frames stay in the subscription's
    DDS queue (depth 1), where each replaces the last without ever being copied into Python.
    Taking (deserialising: three copies) every frame only to drop it slows the model running
    beside it: 120 Hz of 1280x720 bgr8 frames took Thunder's invoke() from 17 to 28 ms on a
    2-core machine (bench/node.py).
    """

    def __init__(self, idle) -> None:
        super().__init__()
        self._idle = idle

    def can_execute(self, entity) -> bool:
        return self._idle()

    def beginning_execution(self, entity) -> bool:
        return True

    def ending_execution(self, entity) -> None:
        pass


class MoveNetNode(Node):
    """Runs MoveNet on the newest image of "image" and publishes what it finds."""

    def __init__(self, **kwargs) -> None:
        super().__init__('movenet', **kwargs)
        for name, (default, descriptor) in PARAMETERS.items():
            try:
                self.declare_parameter(name, default, descriptor)
            except Exception as exc:  # range / type violations of overrides
                raise ConfigurationError(f'parameter {name}: {exc}') from exc
        self.params = {name: self.get_parameter(name).value for name in PARAMETERS}
        self._validate_startup_parameters()
        self.estimator = self._make_estimator()
        try:
            self.temporal = self._make_temporal(self.params)
        except ValueError as exc:
            raise ConfigurationError(f'tracking/smoothing parameters: {exc}') from exc
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._lock = threading.Condition()  # the slot, counters and statistics
        self._estimator_lock = threading.Lock()  # the estimator and self.params
        self._pending = None          # newest unprocessed image message
        self._busy = False            # the worker is processing a frame
        self._reopened_ns = 0         # when the worker last became free (wall clock, ns)
        self._stop = False
        self._period = Counters()
        self._total = Counters()
        self._last_sequence = 0
        self._inference_ms: deque[float] = deque(maxlen=300)
        self._latency_ms: deque[float] = deque(maxlen=300)
        self._overhead_ms: deque[float] = deque(maxlen=300)
        self._camera_info: CameraInfo | None = None
        self._image_size: tuple[int, int] | None = None  # (width, height) of the last image
        self._last_error = ''

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.poses_pub = self.create_publisher(PersonPoseArray, 'poses', reliable)
        self.markers_pub = self.create_publisher(MarkerArray, 'pose_markers', reliable)
        self.annotated_pub = self.create_publisher(
            Image, 'image_annotated', QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', reliable)

        image_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST,
                               depth=self.params['image_qos_depth'],
                               reliability=RELIABILITY[self.params['image_qos_reliability']])
        # With a one-frame queue, frames are only taken while the worker is free (see
        # TakeWhileIdle); a deeper queue is drained as frames come, the newest one kept.
        gate = TakeWhileIdle(self._idle) if self.params['image_qos_depth'] == 1 else None
        self._wake = self.create_guard_condition(lambda: None) if gate else None
        image_type = (CompressedImage if self.params['image_transport'] == 'compressed'
                      else Image)
        self._image_sub = self.create_subscription(
            image_type, self._input_topic(), self._on_image, image_qos, callback_group=gate)
        self.create_subscription(CameraInfo, 'camera_info', self._on_camera_info,
                                 qos_profile_sensor_data)
        self._diag_period = self.params['diagnostics_period']
        self._diag_last = time.monotonic()
        self.create_timer(self._diag_period, self._publish_diagnostics)

        self._worker = threading.Thread(target=self._work, name='movenet_inference',
                                        daemon=True)
        self._worker.start()
        self.get_logger().info(
            f'{self.estimator.model.name} ({self.estimator.model.path}) on '
            f'"{self.resolve_topic_name(self._input_topic())}" '
            f'[{self.params["image_transport"]}, {self.params["image_qos_reliability"]}]')

    # ---- set-up --------------------------------------------------------------------------

    def _input_topic(self) -> str:
        return 'image/compressed' if self.params['image_transport'] == 'compressed' else 'image'

    def _validate_startup_parameters(self) -> None:
        p = self.params
        if not p['model_path'] and p['model'] not in BUILTIN_MODELS:
            raise ConfigurationError(
                f'parameter model: {p["model"]!r} is not a built-in model; use one of '
                f'{", ".join(BUILTIN_MODELS)}, or set model_path to a .tflite file')
        for name, choices in (('image_transport', TRANSPORTS),
                              ('image_qos_reliability', tuple(RELIABILITY))):
            if p[name] not in choices:
                raise ConfigurationError(f'parameter {name}: {p[name]!r} is not one of '
                                         f'{", ".join(choices)}')
        if p['multipose_max_side'] % 32:
            raise ConfigurationError(f'parameter multipose_max_side: {p["multipose_max_side"]}'
                                     ' is not a multiple of 32')

    def _make_estimator(self) -> PoseEstimator:
        p = self.params
        source = p['model_path'] or p['model']
        try:
            model = MoveNetModel(source, num_threads=p['num_threads'],
                                 multipose_max_side=p['multipose_max_side'])
        except ModelError as exc:
            which = 'model_path' if p['model_path'] else 'model'
            raise ConfigurationError(f'parameter {which}: {exc}') from exc
        return PoseEstimator(model, keypoint_threshold=p['keypoint_threshold'],
                             min_pose_score=p['min_pose_score'], max_people=p['max_people'],
                             crop_tracking=p['crop_tracking'])

    def _make_temporal(self, p: dict, first_id: int = 0) -> TemporalFilter:
        """Tracker and smoother as the parameters ask (ValueError for a bad combination)."""
        if not p['tracking.enabled']:
            return TemporalFilter()
        tracker = PoseTracker(
            similarity=p['tracking.similarity'], max_tracks=p['tracking.max_tracks'],
            max_age_s=p['tracking.max_age_s'],
            min_similarity=p['tracking.min_similarity'] or None,
            keypoint_threshold=p['keypoint_threshold'], first_id=first_id)
        smoother = PoseSmoother(
            min_cutoff=p['smoothing.min_cutoff'], beta=p['smoothing.beta'],
            d_cutoff=p['smoothing.d_cutoff'], max_age_s=p['tracking.max_age_s'],
            keypoint_threshold=p['keypoint_threshold']) if p['smoothing.enabled'] else None
        return TemporalFilter(tracker, smoother)

    def _on_set_parameters(self, changes) -> SetParametersResult:
        for param in changes:
            if param.name not in RUNTIME_TUNABLE:
                return SetParametersResult(
                    successful=False, reason=f'{param.name} needs a restart of the node')
        new_params = {**self.params, **{param.name: param.value for param in changes}}
        temporal = self.temporal
        if any(p.name in TEMPORAL_PARAMETERS or p.name == 'keypoint_threshold'
               for p in changes):
            try:
                # A replacement tracker continues the id count: no id is handed out twice.
                old = self.temporal.tracker
                temporal = self._make_temporal(new_params, old.next_id if old else 0)
            except ValueError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
        with self._estimator_lock:
            self.temporal = temporal
            for param in changes:
                self.params[param.name] = param.value
            est = self.estimator
            est.keypoint_threshold = self.params['keypoint_threshold']
            est.min_pose_score = self.params['min_pose_score']
            est.max_people = self.params['max_people']
            est.set_crop_tracking(self.params['crop_tracking'])
        return SetParametersResult(successful=True)

    # ---- input ---------------------------------------------------------------------------

    def _count(self, **counts: int) -> None:
        """Add to both the period and the total counters (call with the lock held)."""
        self._period.add(**counts)
        self._total.add(**counts)

    def _idle(self) -> bool:
        return self._pending is None and not self._busy

    def _on_image(self, msg, info: dict) -> None:
        sequence = info.get('publication_sequence_number') or 0
        with self._lock:
            # A lower number means a new publisher (restart): start counting from it.
            gap = sequence - self._last_sequence - 1 if sequence > self._last_sequence else 0
            gap = max(0, gap) if self._total.received else 0
            self._last_sequence = sequence
            # A frame that waited in the closed queue (see TakeWhileIdle) replaced the ones
            # missing before it: the node's own choice, so dropped (and received). Other gaps
            # are frames that never arrived: lost upstream.
            waited = 0 < (info.get('received_timestamp') or 0) <= self._reopened_ns
            replaced = gap if self._wake is not None and waited else 0
            self._count(received=1 + replaced,
                        dropped=replaced + int(self._pending is not None),
                        lost=gap - replaced)
            self._pending = msg
            self._lock.notify()

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _camera(self, image_wh: tuple[int, int]) -> tuple[Pinhole, str]:
        """The camera markers are placed with, and what diagnostics say about it.

        A K that is all zero (an uncalibrated camera) or invalid (see ``Pinhole.from_k``)
        falls back to the assumed default camera, as when no camera_info arrives.
        """
        info = self._camera_info
        assumed = f'assumed {DEFAULT_HFOV_DEG:g} degree horizontal field of view'
        if info is None:
            return Pinhole.default(image_wh), f'none received, {assumed}'
        if not any(info.k):
            return Pinhole.default(image_wh), f'uncalibrated (K is all zero), {assumed}'
        try:
            return Pinhole.from_k(info.k, (info.width, info.height), image_wh), 'calibrated'
        except ValueError as exc:
            return Pinhole.default(image_wh), f'{INVALID_CAMERA_INFO}: {exc}; {assumed}'

    # ---- processing ----------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and not self._stop:
                    self._lock.wait()
                if self._stop:
                    return
                msg, self._pending = self._pending, None
                self._busy = True
            try:
                self._process(msg)
            except ModelError as exc:  # the model's fault, not the image's: nothing published
                self._count_model_error(str(exc))
            except (ImageConversionError, ValueError) as exc:
                self._count_bad(f'bad image on {self._input_topic()}: {exc}')
            except Exception as exc:  # never let one frame kill the node
                if not self.context.ok():
                    return  # shutting down (Ctrl-C): publishers are gone, nothing to report
                self._count_bad(f'failed to process an image: {exc!r}')
                self.get_logger().debug(traceback.format_exc())
            finally:
                with self._lock:
                    self._reopened_ns = time.time_ns()
                if self._wake is not None:
                    self._take_waiting()
                with self._lock:
                    self._busy = False
                    reopen = self._wake is not None and self._pending is None
            if reopen and self.context.ok():
                self._wake.trigger()  # the executor waits on the image queue again

    def _take_waiting(self) -> None:
        """Take the frame that waited in the closed queue, from this thread.

        Handing the queue back to the executor would cost a round of its loop (a wake-up, a
        new wait set, the take, a thread switch) before the next inference; this is the
        take the executor itself does (``Executor._take_subscription``).
        """
        sub = self._image_sub
        try:
            with sub.handle:
                taken = sub.handle.take_message(sub.msg_type, sub.raw)
        except Exception:  # destroyed or shutting down: the executor's problem, not ours
            return
        if taken is not None:
            self._on_image(*taken)

    def _count_bad(self, message: str) -> None:
        with self._lock:
            self._count(bad=1)
            self._last_error = message
        self.get_logger().warning(message, throttle_duration_sec=WARN_THROTTLE_S)

    def _count_model_error(self, message: str) -> None:
        with self._lock:
            self._count(model_errors=1)
            self._last_error = f'model: {message}'
        self.get_logger().error(message, throttle_duration_sec=WARN_THROTTLE_S)

    def _process(self, msg) -> None:
        start = time.perf_counter()
        max_pixels = self.params['max_image_pixels']
        if isinstance(msg, CompressedImage):
            image, order = compressed_to_array(msg, max_pixels)
        else:
            image, order = image_to_array(msg, max_pixels)
        with self._estimator_lock:
            result = self.estimator.estimate(image, channel_order=order)
            result = self.temporal.update(
                result, msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)
            params = self.params.copy()
        header = msg.header
        self.poses_pub.publish(result_to_msg(result, header))
        # Markers and drawings nobody receives cost as much as the rest of the frame's glue.
        self._image_size = result.image_size
        if params['publish_markers'] and self.markers_pub.get_subscription_count():
            camera, camera_state = self._camera(result.image_size)
            if camera_state.startswith(INVALID_CAMERA_INFO):
                self.get_logger().warning(f'camera_info: {camera_state}',
                                          throttle_duration_sec=WARN_THROTTLE_S)
            self.markers_pub.publish(poses_to_markers(
                result.poses, header, camera, params['marker_depth'],
                params['keypoint_threshold'], params['marker_line_width']))
        if params['publish_annotated_image'] and self.annotated_pub.get_subscription_count():
            self.annotated_pub.publish(self._annotate(image, order, result, header))
        overhead = (time.perf_counter() - start) * 1000.0 - result.inference_ms
        now = self.get_clock().now().nanoseconds
        stamp = header.stamp.sec * 10**9 + header.stamp.nanosec
        with self._lock:
            self._count(processed=1)
            self._inference_ms.append(result.inference_ms)
            self._overhead_ms.append(overhead)
            if stamp > 0:
                self._latency_ms.append((now - stamp) / 1e6)

    def _annotate(self, image, order: str, result, header) -> Image:
        if image.ndim == 2 or image.shape[2] == 1:
            import cv2
            canvas, order = cv2.cvtColor(image.reshape(image.shape[:2]),
                                         cv2.COLOR_GRAY2BGR), 'bgr'
        else:
            canvas = image[..., :3].copy()
        draw_poses(canvas, result.poses, result.keypoint_threshold, channel_order=order)
        return array_to_image_msg(canvas, 'rgb8' if order == 'rgb' else 'bgr8', header)

    # ---- diagnostics ---------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        with self._lock:
            elapsed = max(now - self._diag_last, 1e-6)
            self._diag_last = now
            period, total = self._period, self._total
            self._period = Counters()
            inference = sorted(self._inference_ms)
            latency = sorted(self._latency_ms)
            overhead = sorted(self._overhead_ms)
            last_error = self._last_error
        status = DiagnosticStatus(name=f'{self.get_name()}: pose estimation',
                                  hardware_id=self.estimator.model.name)
        image_size = self._image_size
        camera_state = self._camera(image_size)[1] if image_size else 'not checked: no image yet'
        if period.model_errors:
            status.level = DiagnosticStatus.ERROR
            status.message = (f'model {self.estimator.model.path.name} failed on '
                              f'{period.model_errors} frame(s)')
        elif period.bad:
            status.level, status.message = DiagnosticStatus.WARN, f'{period.bad} bad image(s)'
        elif period.received == 0:
            status.level = DiagnosticStatus.WARN
            status.message = f'no images on {self.resolve_topic_name(self._input_topic())}'
        elif camera_state.startswith(INVALID_CAMERA_INFO):
            status.level, status.message = DiagnosticStatus.WARN, 'invalid camera_info'
        else:
            status.level, status.message = DiagnosticStatus.OK, 'running'

        def pct(values: list[float], q: float, digits: int = 1) -> str:
            if not values:
                return ''
            return f'{values[min(len(values) - 1, int(q * len(values)))]:.{digits}f}'

        values = {
            'input rate (Hz)': f'{(period.received + period.lost) / elapsed:.2f}',
            'processed rate (Hz)': f'{period.processed / elapsed:.2f}',
            'frames received': str(total.received),
            'frames processed': str(total.processed),
            'frames dropped': str(total.dropped),
            'frames lost upstream': str(total.lost),
            'bad messages': str(total.bad),
            'model errors': str(total.model_errors),
            'inference ms p50': pct(inference, 0.5),
            'inference ms p95': pct(inference, 0.95),
            'latency ms p50': pct(latency, 0.5),
            'latency ms p95': pct(latency, 0.95),
            # What the node adds per frame to invoke(): conversion, pre/post-processing,
            # building and publishing messages (the image's transport not included).
            'overhead ms p50': pct(overhead, 0.5, 2),
            'overhead ms p95': pct(overhead, 0.95, 2),
            'model': self.estimator.model.name,
            'model file': str(self.estimator.model.path),
            'camera_info': camera_state,
            'last error': last_error,
        }
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(msg)

    def destroy_node(self) -> None:
        with self._lock:
            self._stop = True
            self._lock.notify_all()
        if self._worker.is_alive():
            self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args=None) -> int:
    """Run the node until Ctrl-C, SIGTERM or shutdown: 0, or 2 for a bad configuration.

    The installed executable runs this through :mod:`movenet_ros.entry_points`: a shutdown
    signal raises KeyboardInterrupt here at most once, so the teardown in ``finally`` runs to
    its end whenever the signal comes, even while ``rclpy.init`` runs.
    """
    node = None
    try:
        rclpy.init(args=args)
        try:
            # The executor before the slow part: one built after a shutdown signal fails
            # half-way and prints a stray traceback from its destructor.
            executor = SingleThreadedExecutor()
            node = MoveNetNode()
            executor.add_node(node)
            executor.spin()
        except ConfigurationError as exc:
            if not rclpy.ok():
                return 0  # a shutdown signal while declaring parameters, not a bad parameter
            print(f'[movenet_node] configuration error: {exc}', file=sys.stderr)
            return 2
        except Exception:
            # SIGINT/SIGTERM while the node is being built: rclpy's signal handler shuts the
            # context down under the constructor, whose next rcl call fails. Not an error.
            if rclpy.ok():
                raise
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
