# SPDX-License-Identifier: Apache-2.0
"""Helpers for tests that talk over real DDS: a sample message and a bounded spin-wait."""

from __future__ import annotations

from collections.abc import Callable
import time

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point
from std_msgs.msg import Header

from movenet_ros.msg import Keypoint, PersonPose, PersonPoseArray


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
            y_max=410.0 + p, keypoints=keypoints))
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


class NodeProcess:
    """An installed node executable run as its own process, stopped with SIGINT.

    ``stop()`` returns the exit code and the captured output; a node that does not exit
    cleanly on SIGINT is killed.
    """

    def __init__(self, executable: str, *ros_args: str, package: str = 'movenet_ros') -> None:
        import os
        import pathlib
        import subprocess

        prefix = pathlib.Path(os.environ['AMENT_PREFIX_PATH'].split(os.pathsep)[0])
        path = prefix / 'lib' / package / executable
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
