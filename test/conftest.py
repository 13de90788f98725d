# SPDX-License-Identifier: Apache-2.0
"""Test session set-up shared by all tests.

Every test run gets its own ROS domain and discovery limited to this host, so DDS tests of
parallel runs (or a developer's running nodes) never see each other. Every participant of the
run (subprocesses inherit the environment) uses the shipped Fast DDS profile for large
images, as the README tells users to: without it, best-effort subscribers such as the node's
lose most full-HD frames.
"""

import os
import pathlib
import random

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(REPO / 'config' / 'fastdds_large_images.xml')
# MOVENET_TEST_DOMAIN_ID pins the domain (for several checkouts testing at once on one host).
os.environ['ROS_DOMAIN_ID'] = (os.environ.get('MOVENET_TEST_DOMAIN_ID')
                               or str(random.Random(os.getpid()).randint(1, 100)))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('RCUTILS_LOGGING_BUFFERED_STREAM', '0')


@pytest.fixture(scope='session')
def repo() -> pathlib.Path:
    """The repository root (source files, not the installed package)."""
    return REPO


@pytest.fixture
def ros_node():
    """An rclpy context with one plain node and its executor, for tests that talk over DDS."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    rclpy.init()
    node = rclpy.create_node('test_peer')
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    yield node, executor
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown()


@pytest.fixture(scope='session')
def demo_video(repo) -> pathlib.Path:
    """The real demo footage (1768x994, 30 fps, 230 frames) fetched by `make setup`."""
    path = repo / '.cache' / 'media' / 'demo.mp4'
    if not path.is_file():
        pytest.fail(f'{path} is missing: run `make setup` (it fetches the demo footage)')
    return path


@pytest.fixture(scope='session')
def demo_frames(demo_video) -> list:
    """The first 10 frames of the demo video as OpenCV decodes them (BGR uint8 arrays)."""
    import cv2

    capture = cv2.VideoCapture(str(demo_video))
    frames = []
    while len(frames) < 10:
        ok, frame = capture.read()
        assert ok, f'cannot decode frame {len(frames)} of {demo_video}'
        frames.append(frame)
    capture.release()
    return frames


@pytest.fixture
def camera():
    """The fake camera (see ros_helpers.Camera) in its own rclpy context."""
    import rclpy
    from ros_helpers import Camera

    rclpy.init()
    cam = Camera()
    yield cam
    cam.close()
    rclpy.try_shutdown()
