# SPDX-License-Identifier: Apache-2.0
"""The movenet_node: camera images in, poses, RViz markers and an annotated image out.

Thin glue over the ROS-free core: message -> array (image_conversion), array -> poses
(estimator), poses -> messages (pose_messages, markers). Frames are never processed stale:
the subscription only keeps the newest message and a worker thread runs the model on it, so
frames arriving while the model is busy replace each other and are counted as dropped.
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
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import (
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray

from movenet_ros.camera import Pinhole
from movenet_ros.drawing import draw_poses
from movenet_ros.estimator import (
    DEFAULT_KEYPOINT_THRESHOLD,
    DEFAULT_MAX_PEOPLE,
    DEFAULT_MIN_POSE_SCORE,
    PoseEstimator,
)
from movenet_ros.image_conversion import (
    ImageConversionError,
    array_to_image_msg,
    compressed_to_array,
    image_to_array,
)
from movenet_ros.markers import poses_to_markers
from movenet_ros.model import BUILTIN_MODELS, ModelError, MoveNetModel
from movenet_ros.msg import PersonPoseArray
from movenet_ros.pose_messages import result_to_msg

RELIABILITY = {'best_effort': ReliabilityPolicy.BEST_EFFORT,
               'reliable': ReliabilityPolicy.RELIABLE}
TRANSPORTS = ('raw', 'compressed')
WARN_THROTTLE_S = 5.0


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
    'image_qos_reliability': ('best_effort', _describe(
        'Reliability of the image subscription. best_effort (sensor data QoS) matches any '
        'publisher; reliable only matches reliable publishers.', read_only=True,
        choices=tuple(RELIABILITY))),
    'image_qos_depth': (1, _describe(
        'History depth of the image subscription. Only the newest frame is ever processed.',
        read_only=True, int_range=(1, 100))),
    'publish_markers': (True, _describe('Publish visualization_msgs/MarkerArray on '
                                        '"pose_markers".')),
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
RUNTIME_TUNABLE = ('keypoint_threshold', 'min_pose_score', 'max_people', 'crop_tracking',
                   'publish_markers', 'publish_annotated_image', 'marker_depth',
                   'marker_line_width')


@dataclass
class Counters:
    """Frame accounting, since the last diagnostics message (``period``) and in total.

    received: taken from the subscription. dropped: taken, then replaced by a newer frame
    before the model was free. lost: never taken: gaps in the publisher's sequence numbers,
    i.e. frames lost in transport or overwritten in the subscription queue (its depth).
    """

    received: int = 0
    processed: int = 0
    dropped: int = 0
    lost: int = 0
    bad: int = 0

    def add(self, **counts: int) -> None:
        for name, n in counts.items():
            setattr(self, name, getattr(self, name) + n)


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
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._lock = threading.Condition()
        self._pending = None          # newest unprocessed image message
        self._stop = False
        self._period = Counters()
        self._total = Counters()
        self._last_sequence = 0
        self._inference_ms: deque[float] = deque(maxlen=300)
        self._latency_ms: deque[float] = deque(maxlen=300)
        self._camera_info: CameraInfo | None = None
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
        if self.params['image_transport'] == 'compressed':
            self.create_subscription(CompressedImage, 'image/compressed', self._on_image,
                                     image_qos)
        else:
            self.create_subscription(Image, 'image', self._on_image, image_qos)
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

    def _on_set_parameters(self, changes) -> SetParametersResult:
        for param in changes:
            if param.name not in RUNTIME_TUNABLE:
                return SetParametersResult(
                    successful=False, reason=f'{param.name} needs a restart of the node')
        with self._lock:
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

    def _on_image(self, msg, info: dict) -> None:
        sequence = info.get('publication_sequence_number') or 0
        with self._lock:
            # A lower number means a new publisher (restart): start counting from it.
            lost = sequence - self._last_sequence - 1 if sequence > self._last_sequence else 0
            self._last_sequence = sequence
            self._count(received=1, dropped=int(self._pending is not None),
                        lost=max(0, lost) if self._total.received else 0)
            self._pending = msg
            self._lock.notify()

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _camera(self, image_wh: tuple[int, int]) -> Pinhole:
        info = self._camera_info
        if info is not None and info.k[0] > 0:
            try:
                return Pinhole.from_k(info.k, (info.width, info.height), image_wh)
            except ValueError:
                pass
        return Pinhole.default(image_wh)

    # ---- processing ----------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and not self._stop:
                    self._lock.wait()
                if self._stop:
                    return
                msg, self._pending = self._pending, None
            try:
                self._process(msg)
            except (ImageConversionError, ValueError) as exc:
                self._count_bad(f'bad image on {self._input_topic()}: {exc}')
            except Exception as exc:  # never let one frame kill the node
                if not self.context.ok():
                    return  # shutting down (Ctrl-C): publishers are gone, nothing to report
                self._count_bad(f'failed to process an image: {exc!r}')
                self.get_logger().debug(traceback.format_exc())

    def _count_bad(self, message: str) -> None:
        with self._lock:
            self._count(bad=1)
            self._last_error = message
        self.get_logger().warning(message, throttle_duration_sec=WARN_THROTTLE_S)

    def _process(self, msg) -> None:
        if isinstance(msg, CompressedImage):
            image, order = compressed_to_array(msg)
        else:
            image, order = image_to_array(msg)
        with self._lock:
            result = self.estimator.estimate(image, channel_order=order)
            params = dict(self.params)
        header = msg.header
        self.poses_pub.publish(result_to_msg(result, header))
        if params['publish_markers']:
            self.markers_pub.publish(poses_to_markers(
                result.poses, header, self._camera(result.image_size), params['marker_depth'],
                params['keypoint_threshold'], params['marker_line_width']))
        if params['publish_annotated_image'] and self.annotated_pub.get_subscription_count():
            self.annotated_pub.publish(self._annotate(image, order, result, header))
        now = self.get_clock().now().nanoseconds
        stamp = header.stamp.sec * 10**9 + header.stamp.nanosec
        with self._lock:
            self._count(processed=1)
            self._inference_ms.append(result.inference_ms)
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
            last_error = self._last_error
        status = DiagnosticStatus(name=f'{self.get_name()}: pose estimation',
                                  hardware_id=self.estimator.model.name)
        if period.bad:
            status.level, status.message = DiagnosticStatus.WARN, f'{period.bad} bad image(s)'
        elif period.received == 0:
            status.level = DiagnosticStatus.WARN
            status.message = f'no images on {self.resolve_topic_name(self._input_topic())}'
        else:
            status.level, status.message = DiagnosticStatus.OK, 'running'

        def pct(values: list[float], q: float) -> str:
            return f'{values[min(len(values) - 1, int(q * len(values)))]:.1f}' if values else ''

        values = {
            'input rate (Hz)': f'{(period.received + period.lost) / elapsed:.2f}',
            'processed rate (Hz)': f'{period.processed / elapsed:.2f}',
            'frames received': str(total.received),
            'frames processed': str(total.processed),
            'frames dropped': str(total.dropped),
            'frames lost upstream': str(total.lost),
            'bad messages': str(total.bad),
            'inference ms p50': pct(inference, 0.5),
            'inference ms p95': pct(inference, 0.95),
            'latency ms p50': pct(latency, 0.5),
            'latency ms p95': pct(latency, 0.95),
            'model': self.estimator.model.name,
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
    rclpy.init(args=args)
    node = None
    try:
        node = MoveNetNode()
        rclpy.spin(node)
    except ConfigurationError as exc:
        print(f'[movenet_node] configuration error: {exc}', file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
