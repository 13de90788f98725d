# SPDX-License-Identifier: Apache-2.0
"""Helpers for tests that talk over real DDS: a sample message, a bounded spin-wait, the node
as its own process and the fake camera that feeds it."""

from __future__ import annotations

from collections.abc import Callable
import os
import pathlib
import time

from builtin_interfaces.msg import Time
import cv2
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import Point, Vector3
import numpy as np
from rcl_interfaces.srv import SetParameters
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from movenet_ros.conversions.images import array_to_image_msg
from movenet_ros.msg import Keypoint, PersonPose, PersonPoseArray

RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def sample_pose_array() -> PersonPoseArray:
    """A PersonPoseArray with a distinct, float32-exact value in every field."""
    persons = []
    for p, person_id in enumerate((7, PersonPose.ID_UNTRACKED)):
        keypoints = [
            Keypoint(
                x=10.25 + 16.0 * k + p, y=400.5 - 8.0 * k - p, score=(k + 1) / 32.0,
                position=Point(x=0.125 * k, y=-0.25 * p, z=1.5 + k / 8.0),
                position_valid=bool((k + p) % 2))
            for k in range(PersonPose.NUM_KEYPOINTS)
        ]
        persons.append(PersonPose(
            id=person_id, score=0.75 - p / 4.0, x_min=5.5 + p, y_min=6.25, x_max=300.75,
            y_max=410.0 + p, keypoints=keypoints,
            position=Point(x=0.375 - p, y=-0.0625, z=2.25 + p), position_valid=not p,
            facing=Vector3(x=0.6, y=0.0, z=-0.8 + p / 8.0), facing_valid=bool(p)))
    return PersonPoseArray(
        header=Header(stamp=Time(sec=1_732_500_000, nanosec=123_456_789),
                      frame_id='camera_optical_frame'),
        image_width=1768, image_height=994, model='singlepose_thunder',
        keypoint_threshold=0.3125, persons=persons)


def spin_until(node, executor, condition: Callable[[], bool], timeout: float) -> bool:
    """Spin `executor` until `condition()` holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        executor.spin_once(timeout_sec=0.05)
    return True


def flatten(msg, prefix: str = '') -> dict[str, object]:
    """Every leaf field of a ROS message as {'persons[0].keypoints[3].x': value, ...}."""
    if not hasattr(msg, 'get_fields_and_field_types'):
        return {prefix: msg}
    out: dict[str, object] = {}
    for name in msg.get_fields_and_field_types():
        value = getattr(msg, name)
        path = f'{prefix}.{name}' if prefix else name
        if isinstance(value, (list, tuple)) or type(value).__name__ == 'ndarray':
            for i, item in enumerate(value):
                out.update(flatten(item, f'{path}[{i}]'))
            out[f'{path}.__len__'] = len(value)
        else:
            out.update(flatten(value, path))
    return out


def installed_program(name: str, package: str = 'movenet_ros') -> pathlib.Path:
    """An installed executable: a node in ``lib/<package>`` or a command in ``bin``, found
    in the ament prefixes in order (as ``ros2 run`` looks), whatever else is on the path."""
    prefixes = [pathlib.Path(p) for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)
                if p]
    for prefix in prefixes:
        for path in (prefix / 'lib' / package / name, prefix / 'bin' / name):
            if path.is_file():
                return path
    raise AssertionError(f'{name} is not installed in any of {prefixes} (make setup, then '
                         'source tools/env.sh)')


class NodeProcess:
    """An installed node executable run as its own process, stopped with SIGINT.

    ``stop()`` returns the exit code and the captured output; a node that does not exit
    cleanly on SIGINT is killed.
    """

    def __init__(self, executable: str, *ros_args: str, package: str = 'movenet_ros') -> None:
        import subprocess

        path = installed_program(executable, package)
        self.proc = subprocess.Popen([str(path), '--ros-args', *ros_args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float) -> tuple[int, str]:
        """Wait for the process to exit by itself; return (exit code, output)."""
        out, _ = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out

    def stop(self) -> tuple[int, str]:
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return self.proc.returncode, out


class Camera:
    """The test's side of the DDS link: publishes images, collects the node's outputs."""

    def __init__(self) -> None:
        self.node = rclpy.create_node('fake_camera')
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.image_pub = self.node.create_publisher(Image, 'image', RELIABLE)
        self.compressed_pub = self.node.create_publisher(CompressedImage, 'image/compressed',
                                                         RELIABLE)
        self.info_pub = self.node.create_publisher(CameraInfo, 'camera_info', RELIABLE)
        self.poses: list[PersonPoseArray] = []
        self.markers: list[MarkerArray] = []
        self.annotated: list[Image] = []
        self.diagnostics: list[dict[str, str]] = []  # the values of each status
        self.statuses: list[DiagnosticStatus] = []
        self.node.create_subscription(PersonPoseArray, 'poses', self.poses.append, RELIABLE)
        self.node.create_subscription(MarkerArray, 'pose_markers', self.markers.append,
                                      RELIABLE)
        self.node.create_subscription(Image, 'image_annotated', self.annotated.append,
                                      RELIABLE)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, RELIABLE)
        self._seq = 0

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.endswith('pose estimation'):
                self.diagnostics.append({kv.key: kv.value for kv in status.values})
                self.statuses.append(status)

    def wait_for_node(self, node: NodeProcess, publisher=None, timeout: float = 20.0) -> None:
        """Wait until the node answers: discovery is not symmetric, so a matched publisher
        alone does not mean the node already receives. A black image (nobody in it, so no
        crop carried over) is sent until its answer arrives."""
        publisher = publisher or self.image_pub
        ok = spin_until(self.node, self.executor,
                        lambda: publisher.get_subscription_count() > 0 or not node.alive(),
                        timeout)
        assert ok and node.alive(), f'node did not subscribe:\n{node.stop()[1]}'
        black = np.zeros((64, 64, 3), np.uint8)
        deadline = time.monotonic() + timeout
        sent = 0
        while not any(p.header.frame_id == 'warm_up' for p in self.poses):
            assert time.monotonic() < deadline and node.alive(), \
                f'node never answered:\n{node.stop()[1]}'
            # A new stamp each time: on a loaded machine several warm-ups may all arrive, and
            # a repeated stamp would count as a stamp problem in the node's diagnostics.
            sent += 1
            header = Header(stamp=Time(sec=1, nanosec=sent), frame_id='warm_up')
            if publisher is self.compressed_pub:
                warm_up = CompressedImage(header=header, format='png',
                                          data=cv2.imencode('.png', black)[1].tobytes())
            else:
                warm_up = array_to_image_msg(black, 'bgr8', header)
            publisher.publish(warm_up)
            self.spin(0.5)

    def header(self, frame_id: str = 'test_camera') -> Header:
        self._seq += 1
        return Header(stamp=Time(sec=1_700_000_000 + self._seq, nanosec=1000 * self._seq),
                      frame_id=frame_id)

    def send_and_wait(self, msg, publisher=None, timeout: float = 15.0) -> PersonPoseArray:
        """Publish one image and wait for the PersonPoseArray with its stamp."""
        (publisher or self.image_pub).publish(msg)
        stamp = msg.header.stamp

        def answered() -> bool:
            return any(p.header.stamp == stamp for p in self.poses)

        assert spin_until(self.node, self.executor, answered, timeout), \
            f'no poses for the image stamped {stamp.sec}.{stamp.nanosec:09d}'
        return next(p for p in self.poses if p.header.stamp == stamp)

    def spin(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.02)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def start_node(repo, mode: str = 'singlepose_lightning', *params: str) -> NodeProcess:
    args = ['--params-file', str(repo / 'config' / f'{mode}.yaml'),
            '-p', 'diagnostics_period:=0.2']
    for p in params:
        args += ['-p', p]
    return NodeProcess('movenet_node', *args)


def stop_cleanly(node: NodeProcess) -> str:
    code, out = node.stop()
    assert code == 0, f'node exited with {code}:\n{out}'
    assert 'Traceback' not in out, out
    return out


def keypoints_of(msg: PersonPoseArray) -> np.ndarray:
    return np.array([[[k.x, k.y, k.score] for k in p.keypoints] for p in msg.persons])


NODE = '/movenet'


def call(camera, service_type, name: str, request):
    """Call the node's service ``name`` from the camera's node; its response."""
    client = camera.node.create_client(service_type, f'{NODE}/{name}')
    try:
        assert spin_until(camera.node, camera.executor, client.service_is_ready, 20.0)
        future = client.call_async(request)
        assert spin_until(camera.node, camera.executor, future.done, 20.0)
        return future.result()
    finally:
        camera.node.destroy_client(client)


def set_parameters(camera, **values) -> list:
    """Set ``values`` (dots as double underscores) with SetParameters; its results."""
    request = SetParameters.Request(parameters=[
        Parameter(name.replace('__', '.'), value=value).to_parameter_msg()
        for name, value in values.items()])
    return call(camera, SetParameters, 'set_parameters', request).results
