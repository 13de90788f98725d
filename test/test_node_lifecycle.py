# SPDX-License-Identifier: Apache-2.0
"""movenet_node as a managed (lifecycle) node, driven over real DDS with the lifecycle_msgs
services a lifecycle manager (nav2's, ``ros2 lifecycle``) uses, and what it publishes in
each state. The node runs as its own process; the test plays camera and manager."""

from __future__ import annotations

from footage import read_frames
from lifecycle_msgs.msg import Transition
import pytest
from ros_helpers import Manager, spin_until, start_node, stop_cleanly

from movenet_ros.conversions.images import array_to_image_msg


@pytest.fixture(scope='module')
def frame90(demo_video):
    """The woman walking on the grass, whole and sharp."""
    return read_frames(demo_video, (90,))[90]


def poses_for(camera, msg, seconds: float = 1.5) -> list:
    """Publish ``msg`` a few times over ``seconds``; the poses answering it."""
    stamp = msg.header.stamp
    for _ in range(3):
        camera.image_pub.publish(msg)
        camera.spin(seconds / 3)
    return [p for p in camera.poses if p.header.stamp == stamp]


def wait_for_status(camera, condition, timeout: float = 10.0):
    since = len(camera.statuses)
    assert spin_until(camera.node, camera.executor,
                      lambda: any(condition(s) for s in camera.statuses[since:]), timeout), \
        camera.statuses[-1:]
    return next(s for s in camera.statuses[since:] if condition(s))


def value(status, key: str) -> str:
    return next(kv.value for kv in status.values if kv.key == key)


def test_every_transition_over_dds(repo, camera, frame90):
    node = start_node(repo, 'singlepose_lightning', 'autostart:=false')
    manager = Manager(camera)
    try:
        assert manager.state() == 'unconfigured'
        assert manager.transitions() == {'configure', 'shutdown'}
        # Unconfigured: not even subscribed; nothing published.
        camera.spin(1.0)
        assert camera.image_pub.get_subscription_count() == 0 and not camera.poses
        assert not camera.statuses  # /diagnostics starts with the first configure

        assert manager.change(Transition.TRANSITION_CONFIGURE)
        assert manager.state() == 'inactive'
        assert manager.transitions() == {'activate', 'cleanup', 'shutdown'}
        status = wait_for_status(camera, lambda s: value(s, 'lifecycle state') == 'inactive')
        assert status.message == 'inactive: not taking images'
        assert status.hardware_id == 'none'  # no frame seen yet
        # Inactive: the model is loaded, but the node does not take frames (no CPU for them).
        assert camera.image_pub.get_subscription_count() == 0
        assert not poses_for(camera, array_to_image_msg(frame90, 'bgr8', camera.header()))

        assert manager.change(Transition.TRANSITION_ACTIVATE)
        assert manager.state() == 'active'
        assert manager.transitions() == {'deactivate', 'shutdown'}
        camera.wait_for_node(node)
        first = poses_for(camera, array_to_image_msg(frame90, 'bgr8', camera.header('cam_a')))
        assert first and first[0].persons
        status = wait_for_status(camera, lambda s: s.hardware_id == 'cam_a')
        assert value(status, 'lifecycle state') == 'active'

        assert manager.change(Transition.TRANSITION_DEACTIVATE)
        assert manager.state() == 'inactive'
        assert camera.image_pub.get_subscription_count() == 0
        assert not poses_for(camera, array_to_image_msg(frame90, 'bgr8', camera.header()))

        assert manager.change(Transition.TRANSITION_ACTIVATE)  # poses resume
        camera.wait_for_node(node)
        assert poses_for(camera, array_to_image_msg(frame90, 'bgr8', camera.header()))

        # Cleanup frees the model: a configure-time parameter may change now, and the next
        # configure loads the new model.
        assert manager.change(Transition.TRANSITION_DEACTIVATE)
        refused = manager.set_string('model', 'thunder')
        assert not refused.successful and 'applied on configure' in refused.reason
        assert manager.change(Transition.TRANSITION_CLEANUP)
        assert manager.state() == 'unconfigured'
        status = wait_for_status(camera, lambda s: value(s, 'lifecycle state') ==
                                 'unconfigured')
        assert (status.message, value(status, 'model')) == ('unconfigured', '')
        assert manager.set_string('model', 'thunder').successful
        assert manager.change(Transition.TRANSITION_CONFIGURE)
        assert manager.change(Transition.TRANSITION_ACTIVATE)
        camera.wait_for_node(node)
        answers = poses_for(camera, array_to_image_msg(frame90, 'bgr8', camera.header()))
        assert answers and all(a.model == 'singlepose_thunder' and a.persons for a in answers)

        # Shutdown from active: everything is freed and the process exits 0.
        manager.shut_down(node, Transition.TRANSITION_ACTIVE_SHUTDOWN)
    finally:
        if node.alive():
            stop_cleanly(node)


def test_a_failed_configure_leaves_the_node_unconfigured_and_says_why(repo, camera):
    node = start_node(repo, 'singlepose_lightning', 'autostart:=false', 'model:=giant')
    manager = Manager(camera)
    try:
        assert not manager.change(Transition.TRANSITION_CONFIGURE)
        assert manager.state() == 'unconfigured' and node.alive()
        status = wait_for_status(camera, lambda s: s.message.startswith('configuration'))
        assert status.level == b'\x02'
        assert status.message == ("configuration failed: parameter model: 'giant' is not one "
                                  'of lightning, thunder, multipose, lightning_int8, '
                                  'thunder_int8, multipose_int8')
        # Fixed over the parameter service (allowed while unconfigured): configures now.
        assert manager.set_string('model', 'lightning').successful
        assert manager.change(Transition.TRANSITION_CONFIGURE)
        assert manager.state() == 'inactive'
        wait_for_status(camera, lambda s: s.message == 'inactive: not taking images')
        out = manager.shut_down(node, Transition.TRANSITION_INACTIVE_SHUTDOWN)
    finally:
        if node.alive():
            stop_cleanly(node)
    assert "configuration error: parameter model: 'giant'" in out


def test_shutdown_from_unconfigured(repo, camera):
    node = start_node(repo, 'singlepose_lightning', 'autostart:=false')
    manager = Manager(camera)
    try:
        assert manager.state() == 'unconfigured'
        manager.shut_down(node, Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
    finally:
        if node.alive():
            stop_cleanly(node)


def test_autostart_comes_up_active(repo, camera):
    node = start_node(repo, 'singlepose_lightning')
    manager = Manager(camera)
    try:
        camera.wait_for_node(node)
        assert manager.state() == 'active'
        assert manager.transitions() == {'deactivate', 'shutdown'}
    finally:
        stop_cleanly(node)
