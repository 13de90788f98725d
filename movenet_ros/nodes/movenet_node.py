# SPDX-License-Identifier: Apache-2.0
"""The movenet_node: camera images in, poses, RViz markers, image markers and an annotated
image out.

One node serves one camera or several (``cameras``) with one model. A managed (lifecycle)
node. The constructor only declares parameters; then

* configure checks the parameters, loads the model and creates every camera's publishers (a
  failure leaves the node unconfigured and says why, in the log and on /diagnostics);
* activate subscribes to every camera and starts publishing; deactivate unsubscribes them
  all (no outputs and no work until the next activate);
* cleanup frees the model and the publishers; shutdown does so from any state.

With ``autostart`` (the default) the node configures and activates itself at start-up, as a
plain node would, and a bad configuration ends it with exit code 2.

Frames are never processed stale. A camera's image callback hands each frame to the frame
thread and waits, as a coroutine, until it is processed; its own mutually exclusive callback
group keeps the executor from taking another image of that camera meanwhile, so newer frames
replace each other in the subscription's one-frame queue without being copied into Python,
and the executor (other cameras, camera_info, depth images, parameters, lifecycle services,
diagnostics) never waits for the model. The frame thread takes the camera that has waited
longest (with ``interpreters`` above 1, a frame thread per interpreter, each taking the next
camera). The policies live in plain classes beside this file: parameters
(:mod:`.movenet_config`), one camera (:mod:`.camera_channel`), the frame's work
(:mod:`.pipeline`), depth pairing and lifting (:mod:`.depth_input`), frame intake, fair
scheduling and accounting (:mod:`.intake`, :mod:`.statistics`) and the health report
(:mod:`.diagnostics`).

Depth is on for every camera with ``depth.enabled``, and for a camera whose depth image is
remapped: then that camera also reads ``<camera>/depth/image`` and
``<camera>/depth/camera_info`` (``depth/image`` ... for the unnamed camera) and publishes
``<camera>/people``.
"""

from __future__ import annotations

from dataclasses import replace
import sys
import threading
import time
import traceback

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from movenet_ros.nodes.camera_channel import (
    NOT_SUBSCRIBED,
    RELIABLE,
    CameraChannel,
    depth_remapped,
    status_msg,
)
from movenet_ros.nodes.diagnostics import View, assess
from movenet_ros.nodes.intake import FrameScheduler
from movenet_ros.nodes.movenet_config import (
    PARAMETERS,
    SPECS,
    UNNAMED,
    ConfigurationError,
    NodeConfig,
    RuntimeSettings,
    camera_names,
)
from movenet_ros.nodes.parameters import change_problem, declare
from movenet_ros.nodes.pipeline import FramePipeline, Interpreter, load_interpreter
from movenet_ros.nodes.startup import EXIT_BAD_CONFIG, init_ros
from movenet_ros.nodes.statistics import FrameStats

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class MoveNetNode(LifecycleNode):
    """Runs MoveNet on the newest image of each camera and publishes what it finds."""

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
        self._channels: list[CameraChannel] = []
        self._scheduler: FrameScheduler | None = None
        self._interpreters: list[Interpreter] = []  # each has a frame thread
        self._frame_threads: list[threading.Thread] = []
        self._stats: dict[str, FrameStats] = {}  # per camera name, since start
        self._diagnostics_pub = None
        self._diagnostics_timer = None
        self._diagnostics_last = time.monotonic()
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
        """Check the parameters, load the model, create every camera's publishers."""
        values = self._values()
        self._open_diagnostics(values['diagnostics_period'])
        try:
            config = NodeConfig.from_values(values, self._problems)
            settings = RuntimeSettings.from_values(values)
            interpreters = [load_interpreter(config) for _ in range(config.interpreters)]
            # A camera's depth is on with depth.enabled or when its depth/image is remapped.
            pipelines = [FramePipeline(replace(config, depth_enabled=config.depth_enabled or
                                               depth_remapped(self, name)),
                                       settings, interpreters[0])
                         for name in config.cameras]
        except (ConfigurationError, ValueError) as exc:
            self._configure_error = str(exc)
            self.get_logger().error(f'configuration error: {exc}')
            return FAILURE
        self._config, self._configure_error = config, ''
        self._interpreters = interpreters
        self._channels = [
            CameraChannel(self, name, config, pipeline, self._stats.setdefault(name,
                                                                                FrameStats()))
            for name, pipeline in zip(config.cameras, pipelines, strict=True)]
        self.lifecycle_state = 'inactive'
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to every camera; the publishers go live."""
        self._scheduler = FrameScheduler()
        self._frame_threads = [
            threading.Thread(target=self._work, name=f'movenet_frames_{index}',
                             args=(self._scheduler, interpreter), daemon=True)
            for index, interpreter in enumerate(self._interpreters)]
        for thread in self._frame_threads:
            thread.start()
        for channel in self._channels:
            channel.subscribe(self._scheduler)
        self.lifecycle_state = 'active'
        config, model = self._config, self._channels[0].pipeline.model
        topics = ', '.join(
            f'"{channel.input_topic}"' + (f' (depth on "{channel.depth_topic}")'
                                          if channel.depth_topic else '')
            for channel in self._channels)
        count = len(self._interpreters)
        interpreters = f', {count} interpreters' if count > 1 else ''
        self.get_logger().info(
            f'active: {self._channels[0].pipeline.model_name} ({model.path}) on {topics} '
            f'[{config.image_transport}, {config.image_qos_reliability}{interpreters}]')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe every camera; the frame being processed, if any, is finished first
        (the executor waits for it: at most one inference)."""
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
        for channel in self._channels:
            channel.unsubscribe()
        if self._scheduler is not None:
            for channel, waiting in self._scheduler.close():
                channel.stats.count(dropped=1)
                waiting.finished()
            for thread in self._frame_threads:
                thread.join()
            self._scheduler, self._frame_threads = None, []

    def release(self) -> None:
        """Undo activate and configure, whatever was done of them."""
        self._close_inputs()
        for channel in self._channels:
            channel.destroy()
        self._channels, self._interpreters = [], []
        self.lifecycle_state = 'unconfigured'

    # ---- parameters ------------------------------------------------------------------------

    def _check_parameters(self, changes) -> SetParametersResult:
        """Refuse what cannot change now, and values the pipeline would refuse."""
        reason = change_problem(SPECS, [(p.name, p.value) for p in changes],
                                configured=bool(self._channels))
        if reason is None and any(p.name in SPECS for p in changes):
            values = self._values() | {p.name: p.value for p in changes if p.name in SPECS}
            try:
                RuntimeSettings.from_values(values)
            except ValueError as exc:
                reason = str(exc)
        return SetParametersResult(successful=reason is None, reason=reason or '')

    def _parameters_set(self, changes) -> None:
        """Hand the new settings to every camera; applied before its next frame."""
        for param in changes:
            self._problems.pop(param.name, None)
        if self._channels and any(p.name in SPECS for p in changes):
            settings = RuntimeSettings.from_values(self._values())
            for channel in self._channels:
                channel.pipeline.request(settings)

    # ---- the frame thread ------------------------------------------------------------------

    def _work(self, scheduler: FrameScheduler, interpreter: Interpreter) -> None:
        """A frame thread: on its ``interpreter``, the frame of the camera waiting longest,
        until the scheduler closes (deactivate)."""
        while (taken := scheduler.take()) is not None:
            channel, pending = taken
            try:
                channel.process(pending, interpreter)
            except Exception as exc:  # never let one frame kill the node
                if not self.context.ok():
                    return  # shutting down (Ctrl-C): nothing left to report to
                channel.bad(f'failed to process an image: {exc!r}')
                self.get_logger().debug(traceback.format_exc())
            finally:
                pending.finished()  # at the latest (again: no effect)
                scheduler.release(channel)

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

    def _reported_cameras(self) -> tuple[str, ...]:
        """The cameras configured; unconfigured, those the parameter names (if it can)."""
        if self._channels:
            return tuple(channel.name for channel in self._channels)
        try:
            return camera_names(self.get_parameter('cameras').value)
        except ValueError:
            return (UNNAMED,)

    def _publish_diagnostics(self) -> None:
        """One status per camera."""
        now = time.monotonic()
        seconds, self._diagnostics_last = now - self._diagnostics_last, now
        channels = {channel.name: channel for channel in self._channels}
        statuses = []
        for name in self._reported_cameras():
            snapshot = self._stats.setdefault(name, FrameStats()).take(seconds)
            channel = channels.get(name)
            if channel is not None:
                statuses.append(channel.status(self.lifecycle_state, snapshot))
                continue
            view = View(state=self.lifecycle_state, configure_error=self._configure_error,
                        input_topic='', model_name='', model_file='',
                        camera_info='not checked: not configured', upstream_loss=NOT_SUBSCRIBED)
            statuses.append(status_msg(self.get_name(), name, assess(view, snapshot)))
        msg = DiagnosticArray(status=statuses)
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
