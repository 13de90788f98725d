# SPDX-License-Identifier: Apache-2.0
"""One camera of movenet_node: its topics, its frames and everything it keeps of its own.

A node serves one or several cameras (the ``cameras`` parameter) with one model. Each camera
is a :class:`CameraChannel`: its subscriptions (``<camera>/image`` or
``<camera>/image/compressed``, ``<camera>/camera_info``) and publishers (``<camera>/poses``,
``<camera>/pose_markers``, ``<camera>/image_markers/bones`` and ``.../keypoints``,
``<camera>/image_annotated``; with depth also ``<camera>/depth/image``,
``<camera>/depth/camera_info`` in and ``<camera>/people`` out), its
:class:`~movenet_ros.nodes.pipeline.FramePipeline` (single-pose crop, tracker ids, smoother)
on the shared model, its frame accounting and statistics, and its ``/diagnostics`` status
``<node>: <camera>``. The unnamed camera (``''``, the default) keeps the topic names of a
single-camera node and its status ``<node>: pose estimation``.

Frames reach the model through the node's one :class:`~movenet_ros.nodes.intake.
FrameScheduler`: the camera's image callback (its own mutually exclusive callback group, so
cameras do not wait for each other) puts the frame there and, with a one-frame queue, waits
as a coroutine until the frame thread is done with it.
"""

from __future__ import annotations

import time

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.task import Future
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import ImageMarker, MarkerArray

from movenet_ros.conversions.images import ImageConversionError
from movenet_ros.core.model import ModelError
from movenet_ros.msg import PersonPoseArray
from movenet_ros.nodes.diagnostics import INVALID_CAMERA_INFO, Health, View, assess
from movenet_ros.nodes.intake import FrameAccounting, FrameScheduler, Pending
from movenet_ros.nodes.movenet_config import NodeConfig, camera_topic
from movenet_ros.nodes.pipeline import FramePipeline, Interpreter, camera_for
from movenet_ros.nodes.statistics import FrameStats, Snapshot

RELIABILITY = {'best_effort': ReliabilityPolicy.BEST_EFFORT,
               'reliable': ReliabilityPolicy.RELIABLE}
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
WARN_THROTTLE_S = 5.0
NOT_SUBSCRIBED = 'not subscribed'
DEPTH_TOPIC = 'depth/image'


def depth_remapped(node, camera: str) -> bool:
    """Whether ``camera``'s depth/image is remapped (which turns its depth on)."""
    topic = camera_topic(camera, DEPTH_TOPIC)
    return node.resolve_topic_name(topic) != node.resolve_topic_name(topic, only_expand=True)


def status_name(node_name: str, camera: str) -> str:
    """``<node>: <camera>``; ``<node>: pose estimation`` for the unnamed camera."""
    return f'{node_name}: {camera or "pose estimation"}'


def status_msg(node_name: str, camera: str, health: Health) -> DiagnosticStatus:
    return DiagnosticStatus(
        level=bytes([health.level]), name=status_name(node_name, camera),
        message=health.message, hardware_id=health.hardware_id,
        values=[KeyValue(key=k, value=v) for k, v in health.values.items()])


class CameraChannel:
    """One camera: created on configure (publishers), subscribed on activate."""

    def __init__(self, node, name: str, config: NodeConfig, pipeline: FramePipeline,
                 stats: FrameStats) -> None:
        """``stats`` outlives the channel: a camera's totals count since the node started."""
        self.name = name
        self.pipeline = pipeline
        self.stats = stats
        self.accounting = FrameAccounting()
        self.camera_info: CameraInfo | None = None
        self._node = node
        self._config = config
        self._scheduler: FrameScheduler | None = None
        self._image_sub = None
        self._inputs: list = []
        self._stamp_problems = 0  # as last reported
        self.outputs = {
            'poses': node.create_lifecycle_publisher(PersonPoseArray, self.topic('poses'),
                                                     RELIABLE),
            'markers': node.create_lifecycle_publisher(MarkerArray, self.topic('pose_markers'),
                                                       RELIABLE),
            'bones': node.create_lifecycle_publisher(
                ImageMarker, self.topic('image_markers/bones'), RELIABLE),
            'keypoints': node.create_lifecycle_publisher(
                ImageMarker, self.topic('image_markers/keypoints'), RELIABLE),
            'annotated': node.create_lifecycle_publisher(
                Image, self.topic('image_annotated'),
                QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)),
        }
        if pipeline.depth is not None:
            self.outputs['people'] = node.create_lifecycle_publisher(
                PoseArray, self.topic('people'), RELIABLE)

    def topic(self, name: str) -> str:
        """The camera's relative topic ``name`` (``front/poses``; ``poses`` unnamed)."""
        return camera_topic(self.name, name)

    @property
    def input_topic(self) -> str:
        """The image topic, resolved (namespace and remapping applied)."""
        return self._node.resolve_topic_name(self.topic(self._config.input_topic))

    @property
    def depth_topic(self) -> str:
        """The depth image topic, resolved; '' while the camera's depth is off."""
        if self.pipeline.depth is None:
            return ''
        return self._node.resolve_topic_name(self.topic(DEPTH_TOPIC))

    # ---- lifecycle -------------------------------------------------------------------------

    def subscribe(self, scheduler: FrameScheduler) -> None:
        """Activate: take the camera's frames into ``scheduler``."""
        config, node = self._config, self._node
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=config.image_qos_depth,
                         reliability=RELIABILITY[config.image_qos_reliability])
        # A new subscription starts new sequences: frames sent while inactive are not lost.
        self.accounting = FrameAccounting()
        self._scheduler = scheduler
        self._image_sub = node.create_subscription(
            CompressedImage if config.image_transport == 'compressed' else Image,
            self.topic(config.input_topic), self._on_image, qos,
            callback_group=MutuallyExclusiveCallbackGroup())
        self._inputs = [self._image_sub, node.create_subscription(
            CameraInfo, self.topic('camera_info'), self._on_camera_info,
            qos_profile_sensor_data)]
        depth = self.pipeline.depth
        if depth is not None:
            depth_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST,
                                   depth=config.depth_queue_size,
                                   reliability=RELIABILITY[config.image_qos_reliability])
            self._inputs += [
                node.create_subscription(Image, self.topic(DEPTH_TOPIC), self._on_depth,
                                         depth_qos),
                node.create_subscription(CameraInfo, self.topic('depth/camera_info'),
                                         depth.set_camera_info, qos_profile_sensor_data)]

    def unsubscribe(self) -> None:
        """Deactivate: no more frames (the node closes the scheduler)."""
        for sub in self._inputs:
            self._node.destroy_subscription(sub)
        self._inputs, self._image_sub, self._scheduler = [], None, None
        if self.pipeline.depth is not None:
            self.pipeline.depth.clear()

    def destroy(self) -> None:
        """Cleanup: the publishers go."""
        self.unsubscribe()
        for publisher in self.outputs.values():
            self._node.destroy_lifecycle_publisher(publisher)
        self.outputs, self.camera_info = {}, None

    # ---- input -----------------------------------------------------------------------------

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self.camera_info = msg

    def _on_depth(self, msg: Image) -> None:
        """In the executor: keep the depth image for pairing, or say why it is refused."""
        problem = self.pipeline.depth.add(msg)
        if problem is not None:
            self._node.get_logger().warning(f'{self.depth_topic}: {problem}',
                                            throttle_duration_sec=WARN_THROTTLE_S)

    async def _on_image(self, msg, info: dict) -> None:
        """In the executor: account for the frame, hand it to the frame thread and, with a
        one-frame queue, wait until it is processed (the executor takes no image of this
        camera meanwhile; the other cameras' callbacks are not held up)."""
        scheduler, image_sub = self._scheduler, self._image_sub
        if scheduler is None or image_sub is None:
            return  # deactivated while the executor took it
        gated = self._config.image_qos_depth == 1
        frame_id = msg.header.frame_id
        queued, lost = self.accounting.arrived(frame_id, info, image_sub.get_publisher_count())
        receipt_s = self._node.get_clock().now().nanoseconds * 1e-9
        done = Future()
        replaced = scheduler.put(self, Pending(msg, receipt_s, self._finisher(done)) if gated
                                 else Pending(msg, receipt_s))
        if replaced is not None:
            replaced.finished()
        self.stats.arrived(frame_id, received=1 + queued,
                           dropped=queued + (replaced is not None), lost=lost)
        if gated:
            await done

    def _finisher(self, done: Future):
        """What the frame thread calls when done with a frame: the image callback resumes."""
        executor = self._node.executor

        def finished() -> None:
            if done.done():
                return
            done.set_result(None)
            if executor is not None:
                executor.wake()
        return finished

    # ---- the frame thread ------------------------------------------------------------------

    def process(self, pending: Pending, interpreter: Interpreter) -> None:
        """Estimate on ``interpreter`` (the frame thread's), then publish; a bad image or a
        model failure is counted, not raised."""
        outputs, msg, pipeline, logger = self.outputs, pending.msg, self.pipeline, \
            self._node.get_logger()
        try:
            frame = pipeline.estimate(msg, pending.receipt_s, self.camera_info, interpreter)
        except ModelError as exc:  # the model's fault, not the image's: nothing published
            self.stats.failed('model_errors', f'model: {exc}')
            logger.error(str(exc), throttle_duration_sec=WARN_THROTTLE_S)
            return
        except (ImageConversionError, ValueError) as exc:
            self.bad(f'bad image on {self.input_topic}: {exc}')
            return
        finally:
            # The model is free: the executor takes this camera's next frame while this
            # one's messages are built and published.
            self.accounting.model_free(time.time_ns())
            pending.finished()
        outputs['poses'].publish(frame.poses)
        if 'people' in outputs:
            outputs['people'].publish(pipeline.people(frame))
        if frame.depth_problem is not None:
            logger.warning(f'{self.depth_topic}: {frame.depth_problem}; the poses stay 2D',
                           throttle_duration_sec=WARN_THROTTLE_S)
        # Markers and drawings nobody receives cost as much as the rest of the frame's glue.
        settings = pipeline.settings
        if settings.publish_markers and outputs['markers'].get_subscription_count():
            markers, camera_state = pipeline.markers(frame, self.camera_info)
            if camera_state.startswith(INVALID_CAMERA_INFO):
                logger.warning(f'{self.topic("camera_info")}: {camera_state}',
                               throttle_duration_sec=WARN_THROTTLE_S)
            outputs['markers'].publish(markers)
        if settings.publish_image_markers and (outputs['bones'].get_subscription_count() or
                                               outputs['keypoints'].get_subscription_count()):
            bones, keypoints = pipeline.image_markers(frame)
            outputs['bones'].publish(bones)
            outputs['keypoints'].publish(keypoints)
        if settings.publish_annotated_image and outputs['annotated'].get_subscription_count():
            outputs['annotated'].publish(pipeline.annotated(frame))
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        now = self._node.get_clock().now().nanoseconds
        self.stats.processed(frame.result.inference_ms, pipeline.overhead_ms(frame),
                             (now - stamp) / 1e6 if stamp > 0 else None,
                             frame.result.image_size)

    def bad(self, message: str) -> None:
        """A refused frame: counted, and said (throttled)."""
        self.stats.failed('bad', message)
        self._node.get_logger().warning(message, throttle_duration_sec=WARN_THROTTLE_S)

    # ---- diagnostics -----------------------------------------------------------------------

    def view(self, state: str, snapshot: Snapshot) -> View:
        """The camera's state for its status of one diagnostics period."""
        pipeline = self.pipeline
        camera_state = (camera_for(self.camera_info, snapshot.image_size)[1]
                        if snapshot.image_size else 'not checked: no image yet')
        stamps = pipeline.stamp_stats
        reported, self._stamp_problems = self._stamp_problems, stamps.problems
        return View(
            state=state, configure_error='', input_topic=self.input_topic,
            model_name=pipeline.model_name, model_file=str(pipeline.model.path),
            thread_placement=pipeline.model.placement.state,
            camera_info=camera_state, upstream_loss=self.accounting.streams.describe(),
            stamp_problems=stamps.problems,
            stamp_problems_period=max(0, stamps.problems - reported),
            last_stamp_problem=stamps.last_problem, depth_topic=self.depth_topic,
            depth=pipeline.depth.report() if pipeline.depth is not None else None)

    def status(self, state: str, snapshot: Snapshot) -> DiagnosticStatus:
        return status_msg(self._node.get_name(), self.name,
                          assess(self.view(state, snapshot), snapshot))
