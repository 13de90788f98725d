# SPDX-License-Identifier: Apache-2.0
"""The movenet_node: camera images in, poses, RViz markers, image markers and an annotated
image out.

A managed (lifecycle) node. The constructor only declares parameters; then

* configure checks the parameters, loads the model and creates the publishers (a failure
  leaves the node unconfigured and says why, in the log and on /diagnostics);
* activate subscribes to the camera and starts publishing; deactivate unsubscribes (no
  outputs and no work until the next activate);
* cleanup frees the model and the publishers; shutdown does so from any state.

With ``autostart`` (the default) the node configures and activates itself at start-up, as a
plain node would, and a bad configuration ends it with exit code 2.

Frames are never processed stale. The image callback hands each frame to the frame thread
and waits, as a coroutine, until it is processed; its own mutually exclusive callback group
keeps the executor from taking another image meanwhile, so newer frames replace each other
in the subscription's one-frame queue without being copied into Python, and the executor
(camera_info, depth images, parameters, lifecycle services, diagnostics) never waits for the
model. The policies live in plain classes beside this file: parameters
(:mod:`.movenet_config`), the frame's work (:mod:`.pipeline`), depth pairing and lifting
(:mod:`.depth_input`), frame intake and accounting (:mod:`.intake`, :mod:`.statistics`) and
the health report (:mod:`.diagnostics`).

Depth is on with ``depth.enabled`` or when ``depth/image`` is remapped: then the node also
subscribes to ``depth/image`` and ``depth/camera_info`` and publishes ``people``.
"""

from __future__ import annotations

from dataclasses import replace
import sys
import threading
import time
import traceback

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseArray
from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.task import Future
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import ImageMarker, MarkerArray

from movenet_ros.conversions.images import ImageConversionError
from movenet_ros.core.model import ModelError
from movenet_ros.core.temporal import StampStats
from movenet_ros.msg import PersonPoseArray
from movenet_ros.nodes.diagnostics import INVALID_CAMERA_INFO, View, assess
from movenet_ros.nodes.intake import FrameAccounting, FrameSlot, Pending
from movenet_ros.nodes.movenet_config import (
    PARAMETERS,
    SPECS,
    ConfigurationError,
    NodeConfig,
    RuntimeSettings,
)
from movenet_ros.nodes.parameters import change_problem, declare
from movenet_ros.nodes.pipeline import FramePipeline, camera_for
from movenet_ros.nodes.startup import EXIT_BAD_CONFIG, init_ros
from movenet_ros.nodes.statistics import FrameStats

RELIABILITY = {'best_effort': ReliabilityPolicy.BEST_EFFORT,
               'reliable': ReliabilityPolicy.RELIABLE}
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
WARN_THROTTLE_S = 5.0
DEPTH_TOPIC = 'depth/image'
SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class MoveNetNode(LifecycleNode):
    """Runs MoveNet on the newest image of "image" and publishes what it finds."""

    def __init__(self, **kwargs) -> None:
        super().__init__('movenet', **kwargs)
        # Start-up overrides rclpy refused (type, range), or with a value not among the
        # choices: configure fails with these messages until a valid value is set.
        self._problems = declare(self, PARAMETERS)
        self.add_on_set_parameters_callback(self._check_parameters)
        self.add_post_set_parameters_callback(self._parameters_set)
        self.lifecycle_state = 'unconfigured'
        self._configure_error = ''
        self._config: NodeConfig | None = None
        self._pipeline: FramePipeline | None = None
        self._inputs: list = []
        self._image_sub = None
        self._slot: FrameSlot | None = None
        self._frame_thread: threading.Thread | None = None
        self._outputs: dict = {}
        self._camera_info: CameraInfo | None = None
        self._stats = FrameStats()
        self._accounting = FrameAccounting()
        self._diagnostics_pub = None
        self._diagnostics_timer = None
        self._diagnostics_last = time.monotonic()
        self._stamp_problems = 0  # as last reported
        self.finalized = False  # the shutdown transition has run

    @property
    def autostart(self) -> bool:
        return bool(self.get_parameter('autostart').value)

    def _values(self) -> dict:
        return {name: self.get_parameter(name).value for name in SPECS}

    def start(self) -> bool:
        """Configure, then activate (``autostart``); False if either failed."""
        return (self.trigger_configure() == SUCCESS and
                self.trigger_activate() == SUCCESS)

    # ---- lifecycle -------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Check the parameters, load the model, create the publishers."""
        values = self._values()
        self._open_diagnostics(values['diagnostics_period'])
        try:
            config = NodeConfig.from_values(values, self._problems)
            if not config.depth_enabled and self._depth_remapped():
                config = replace(config, depth_enabled=True)
            pipeline = FramePipeline(config, RuntimeSettings.from_values(values))
        except (ConfigurationError, ValueError) as exc:
            self._configure_error = str(exc)
            self.get_logger().error(f'configuration error: {exc}')
            return FAILURE
        self._config, self._pipeline, self._configure_error = config, pipeline, ''
        self._outputs = {
            'poses': self.create_lifecycle_publisher(PersonPoseArray, 'poses', RELIABLE),
            'markers': self.create_lifecycle_publisher(MarkerArray, 'pose_markers', RELIABLE),
            'bones': self.create_lifecycle_publisher(ImageMarker, 'image_markers/bones',
                                                     RELIABLE),
            'keypoints': self.create_lifecycle_publisher(ImageMarker,
                                                         'image_markers/keypoints', RELIABLE),
            'annotated': self.create_lifecycle_publisher(
                Image, 'image_annotated',
                QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)),
        }
        if pipeline.depth is not None:
            self._outputs['people'] = self.create_lifecycle_publisher(PoseArray, 'people',
                                                                      RELIABLE)
        self.lifecycle_state = 'inactive'
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the camera; the publishers go live."""
        config = self._config
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=config.image_qos_depth,
                         reliability=RELIABILITY[config.image_qos_reliability])
        self._slot = FrameSlot()
        self._frame_thread = threading.Thread(target=self._work, name='movenet_frames',
                                              args=(self._slot, self._pipeline), daemon=True)
        self._frame_thread.start()
        self._image_sub = self.create_subscription(
            CompressedImage if config.image_transport == 'compressed' else Image,
            config.input_topic, self._on_image, qos,
            callback_group=MutuallyExclusiveCallbackGroup())
        self._inputs = [self._image_sub, self.create_subscription(
            CameraInfo, 'camera_info', self._on_camera_info, qos_profile_sensor_data)]
        depth = self._pipeline.depth
        if depth is not None:
            depth_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST,
                                   depth=config.depth_queue_size,
                                   reliability=RELIABILITY[config.image_qos_reliability])
            self._inputs += [
                self.create_subscription(Image, DEPTH_TOPIC,
                                         lambda msg: self._on_depth(depth, msg), depth_qos),
                self.create_subscription(CameraInfo, 'depth/camera_info', depth.set_camera_info,
                                         qos_profile_sensor_data)]
        self.lifecycle_state = 'active'
        model = self._pipeline.model
        self.get_logger().info(
            f'active: {self._pipeline.model_name} ({model.path}) on "{self._input_topic()}" '
            f'[{config.image_transport}, {config.image_qos_reliability}]'
            + (f', depth on "{self._depth_topic()}"' if depth is not None else ''))
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe; the frame being processed, if any, is finished first (the executor
        waits for it: at most one inference)."""
        self._close_inputs()
        self.lifecycle_state = 'inactive'
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Free the model and the publishers."""
        self.release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """From any state: unsubscribe, free the model and the publishers."""
        self.release()
        self.lifecycle_state = 'finalized'
        self.finalized = True
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """A transition raised: start again from unconfigured."""
        self.get_logger().error(f'error in a transition from {state.label}: freeing everything')
        self.release()
        return SUCCESS

    def _close_inputs(self) -> None:
        for sub in self._inputs:
            self.destroy_subscription(sub)
        self._inputs, self._image_sub = [], None
        if self._pipeline is not None and self._pipeline.depth is not None:
            self._pipeline.depth.clear()
        if self._slot is not None:
            waiting = self._slot.close()
            if waiting is not None:
                self._stats.count(dropped=1)
                waiting.finished()
            self._frame_thread.join()
            self._slot = self._frame_thread = None

    def release(self) -> None:
        """Undo activate and configure, whatever was done of them."""
        self._close_inputs()
        self._pipeline = None
        for publisher in self._outputs.values():
            self.destroy_lifecycle_publisher(publisher)
        self._outputs, self._camera_info = {}, None
        self.lifecycle_state = 'unconfigured'

    # ---- parameters ------------------------------------------------------------------------

    def _check_parameters(self, changes) -> SetParametersResult:
        """Refuse what cannot change now, and values the pipeline would refuse."""
        reason = change_problem(SPECS, [(p.name, p.value) for p in changes],
                                configured=self._pipeline is not None)
        if reason is None and any(p.name in SPECS for p in changes):
            values = self._values() | {p.name: p.value for p in changes if p.name in SPECS}
            try:
                RuntimeSettings.from_values(values)
            except ValueError as exc:
                reason = str(exc)
        return SetParametersResult(successful=reason is None, reason=reason or '')

    def _parameters_set(self, changes) -> None:
        """Hand the new settings to the frame thread; applied before its next frame."""
        for param in changes:
            self._problems.pop(param.name, None)
        pipeline = self._pipeline
        if pipeline is not None and any(p.name in SPECS for p in changes):
            pipeline.request(RuntimeSettings.from_values(self._values()))

    # ---- input -----------------------------------------------------------------------------

    def _input_topic(self) -> str:
        return self.resolve_topic_name(self._config.input_topic) if self._config else ''

    def _depth_topic(self) -> str:
        return self.resolve_topic_name(DEPTH_TOPIC)

    def _depth_remapped(self) -> bool:
        """Whether depth/image is remapped (which turns depth on, as the README says)."""
        return self._depth_topic() != self.resolve_topic_name(DEPTH_TOPIC, only_expand=True)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _on_depth(self, depth, msg: Image) -> None:
        """In the executor: keep the depth image for pairing, or say why it is refused."""
        problem = depth.add(msg)
        if problem is not None:
            self.get_logger().warning(f'{self._depth_topic()}: {problem}',
                                      throttle_duration_sec=WARN_THROTTLE_S)

    async def _on_image(self, msg, info: dict) -> None:
        """In the executor: account for the frame, hand it to the frame thread and, with a
        one-frame queue, wait until it is processed (the executor takes no image meanwhile)."""
        slot, gated = self._slot, self._config.image_qos_depth == 1
        if slot is None:
            return  # deactivated while the executor took it
        frame_id = msg.header.frame_id
        queued, lost = self._accounting.arrived(frame_id, info,
                                                self._image_sub.get_publisher_count())
        receipt_s = self.get_clock().now().nanoseconds * 1e-9
        done = Future()
        replaced = slot.put(Pending(msg, receipt_s, self._finisher(done)) if gated
                            else Pending(msg, receipt_s))
        if replaced is not None:
            replaced.finished()
        self._stats.arrived(frame_id, received=1 + queued,
                            dropped=queued + (replaced is not None), lost=lost)
        if gated:
            await done

    def _finisher(self, done: Future):
        """What the frame thread calls when done with a frame: the image callback resumes."""
        executor = self.executor

        def finished() -> None:
            if done.done():
                return
            done.set_result(None)
            if executor is not None:
                executor.wake()
        return finished

    def _work(self, slot: FrameSlot, pipeline: FramePipeline) -> None:
        """The frame thread: the newest frame, until the slot closes (deactivate)."""
        while (pending := slot.take()) is not None:
            try:
                self._process(pipeline, pending)
            except Exception as exc:  # never let one frame kill the node
                if not self.context.ok():
                    return  # shutting down (Ctrl-C): nothing left to report to
                self._bad(f'failed to process an image: {exc!r}')
                self.get_logger().debug(traceback.format_exc())
            finally:
                pending.finished()  # at the latest (again: no effect)

    def _process(self, pipeline: FramePipeline, pending: Pending) -> None:
        outputs, msg = self._outputs, pending.msg
        try:
            frame = pipeline.estimate(msg, pending.receipt_s, self._camera_info)
        except ModelError as exc:  # the model's fault, not the image's: nothing published
            self._stats.failed('model_errors', f'model: {exc}')
            self.get_logger().error(str(exc), throttle_duration_sec=WARN_THROTTLE_S)
            return
        except (ImageConversionError, ValueError) as exc:
            self._bad(f'bad image on {self._input_topic()}: {exc}')
            return
        finally:
            # The model is free: the executor takes the next frame while this one's
            # messages are built and published.
            self._accounting.model_free(time.time_ns())
            pending.finished()
        outputs['poses'].publish(frame.poses)
        if 'people' in outputs:
            outputs['people'].publish(pipeline.people(frame))
        if frame.depth_problem is not None:
            self.get_logger().warning(f'{self._depth_topic()}: {frame.depth_problem}; the poses '
                                      'stay 2D', throttle_duration_sec=WARN_THROTTLE_S)
        # Markers and drawings nobody receives cost as much as the rest of the frame's glue.
        settings = pipeline.settings
        if settings.publish_markers and outputs['markers'].get_subscription_count():
            markers, camera_state = pipeline.markers(frame, self._camera_info)
            if camera_state.startswith(INVALID_CAMERA_INFO):
                self.get_logger().warning(f'camera_info: {camera_state}',
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
        now = self.get_clock().now().nanoseconds
        self._stats.processed(frame.result.inference_ms, pipeline.overhead_ms(frame),
                              (now - stamp) / 1e6 if stamp > 0 else None,
                              frame.result.image_size)

    def _bad(self, message: str) -> None:
        self._stats.failed('bad', message)
        self.get_logger().warning(message, throttle_duration_sec=WARN_THROTTLE_S)

    # ---- diagnostics -----------------------------------------------------------------------

    def _open_diagnostics(self, period: float) -> None:
        """/diagnostics from the first configure on, in every state (a failed configure
        included); the period is read again on each configure."""
        if self._diagnostics_pub is None:
            self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics',
                                                          RELIABLE)
        if self._diagnostics_timer is None:
            self._diagnostics_timer = self.create_timer(period, self._publish_diagnostics)
        else:
            self._diagnostics_timer.timer_period_ns = round(period * 1e9)

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        snapshot = self._stats.take(now - self._diagnostics_last)
        self._diagnostics_last = now
        pipeline = self._pipeline
        camera_state = (camera_for(self._camera_info, snapshot.image_size)[1]
                        if snapshot.image_size else 'not checked: no image yet')
        stamps = pipeline.stamp_stats if pipeline else StampStats()
        reported, self._stamp_problems = self._stamp_problems, stamps.problems
        view = View(
            state=self.lifecycle_state, configure_error=self._configure_error,
            input_topic=self._input_topic(),
            model_name=pipeline.model_name if pipeline else '',
            model_file=str(pipeline.model.path) if pipeline else '',
            thread_placement=pipeline.model.placement.state if pipeline else '',
            camera_info=camera_state, upstream_loss=self._accounting.streams.describe(),
            stamp_problems=stamps.problems,
            stamp_problems_period=max(0, stamps.problems - reported),
            last_stamp_problem=stamps.last_problem,
            depth_topic=self._depth_topic() if pipeline and pipeline.depth else '',
            depth=pipeline.depth.report() if pipeline and pipeline.depth else None)
        health = assess(view, snapshot)
        status = DiagnosticStatus(
            level=bytes([health.level]), name=f'{self.get_name()}: pose estimation',
            message=health.message, hardware_id=health.hardware_id,
            values=[KeyValue(key=k, value=v) for k, v in health.values.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(msg)


def main(args: list[str] | None = None) -> int:
    """Run the node until Ctrl-C, SIGTERM or shutdown: 0, or 2 for a bad configuration.

    The installed executable runs this through :mod:`movenet_ros.entry_points`: a shutdown
    signal raises KeyboardInterrupt here at most once, so the teardown in ``finally`` runs to
    its end whenever the signal comes, even while ``rclpy.init`` runs.
    """
    node = executor = None
    try:
        if not init_ros(args, 'movenet_node'):
            return EXIT_BAD_CONFIG
        try:
            # The executor before the slow part: one built after a shutdown signal fails
            # half-way and prints a stray traceback from its destructor.
            executor = SingleThreadedExecutor()
            node = MoveNetNode()
            if node.autostart and not node.start():
                return 0 if not rclpy.ok() else EXIT_BAD_CONFIG
            executor.add_node(node)
            # Until Ctrl-C, SIGTERM, or the shutdown transition (then the process exits 0).
            while rclpy.ok() and not node.finalized:
                executor.spin_once()
        except Exception:
            # SIGINT/SIGTERM while the node is being built: rclpy's signal handler shuts the
            # context down under the constructor, whose next rcl call fails. Not an error.
            if rclpy.ok():
                raise
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.release()
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
