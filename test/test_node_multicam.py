# SPDX-License-Identifier: Apache-2.0
"""One movenet_node serving several cameras over real Fast DDS (issue 15).

The node runs as its own process with ``cameras``; the test process plays every camera (one
fake camera node each, on one executor) and reads every camera's outputs. Fairness is asserted
by counts (how many of a camera's frames were answered), never by timing.
"""

from __future__ import annotations

import time

from builtin_interfaces.msg import Time
import cv2
from footage import read_frames
from lifecycle_msgs.msg import Transition
import numpy as np
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from ros_helpers import (
    RELIABLE,
    Camera,
    Manager,
    NodeProcess,
    keypoints_of,
    spin_until,
    stop_cleanly,
)
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from visualization_msgs.msg import ImageMarker

from movenet_ros.conversions.images import array_to_image_msg
from movenet_ros.nodes.movenet_config import PARAMETERS, NodeConfig, RuntimeSettings
from movenet_ros.nodes.pipeline import FramePipeline, load_interpreter

FRONT = (90, 91, 92, 93, 94)  # the woman walking, whole
BACK = (60, 110, 120, 0, 130)  # other people, other places in the picture


@pytest.fixture(scope='module')
def frames(demo_video) -> dict[int, np.ndarray]:
    return read_frames(demo_video, (*FRONT, *BACK))


def cameras(*names: str):
    """A fake camera per name on one executor, each with its own stamps."""
    rclpy.init()
    executor = SingleThreadedExecutor()
    cams = {name: Camera(name, executor) for name in names}
    for index, cam in enumerate(cams.values()):
        cam._seq = 10_000 * index  # distinct stamps per camera
    return cams


def close(cams) -> None:
    for cam in cams.values():
        cam.node.destroy_node()
    next(iter(cams.values())).executor.shutdown()
    rclpy.try_shutdown()


def movenet(repo, mode: str, names: tuple[str, ...], *args: str) -> NodeProcess:
    return NodeProcess('movenet_node', '--params-file', str(repo / 'config' / f'{mode}.yaml'),
                       '-p', f'cameras:=[{",".join(names)}]', '-p', 'diagnostics_period:=0.2',
                       *args)


def stamps(msgs) -> set[tuple[int, int]]:
    return {(m.header.stamp.sec, m.header.stamp.nanosec) for m in msgs}


def answers(cam) -> list:
    """The camera's poses but those of the warm-up images."""
    return [p for p in cam.poses if p.header.frame_id != 'warm_up']


def reference_pipelines(names) -> dict[str, FramePipeline]:
    """What the node should do per camera: one pipeline each on one model (the node's
    defaults, which config/singlepose_lightning.yaml lists)."""
    values = {spec.name: spec.default for spec in PARAMETERS}
    config, settings = NodeConfig.from_values(values), RuntimeSettings.from_values(values)
    interpreter = load_interpreter(config)
    return {name: FramePipeline(config, settings, interpreter) for name in names}


def test_two_cameras_keep_their_own_state_topics_and_headers(repo, frames):
    """Crop tracking, tracker ids and smoothing are per camera: interleaved frames of two
    cameras give, on each camera's topics, exactly what that camera alone would get. The
    back camera's image is remapped on the command line. Lifecycle transitions stop and
    restart both."""
    cams = cameras('front', 'back')
    front, back = cams['front'], cams['back']
    back.image_pub = back.node.create_publisher(Image, '/robot/rear/image_raw', RELIABLE)
    overlays = {name: [] for name in cams}  # image_markers/bones of each camera
    for name, cam in cams.items():
        cam.node.create_subscription(ImageMarker, f'{name}/image_markers/bones',
                                     overlays[name].append, RELIABLE)
    # Two interpreters: a camera's frames go to either, its state stays its own.
    node = movenet(repo, 'singlepose_lightning', ('front', 'back'),
                   '-r', 'back/image:=/robot/rear/image_raw', '-p', 'interpreters:=2',
                   '-p', 'num_threads:=1')
    try:
        for cam in cams.values():
            cam.wait_for_node(node)
        spin_until(front.node, front.executor, lambda: False, 0.5)  # let outputs match
        reference = reference_pipelines(cams)
        warm_up = array_to_image_msg(np.zeros((64, 64, 3), np.uint8), 'bgr8',
                                     Header(stamp=Time(sec=1), frame_id='warm_up'))
        for pipeline in reference.values():
            pipeline.estimate(warm_up, 0.0)
        sent = {'front': [], 'back': []}
        for f, b in zip(FRONT, BACK, strict=True):
            for cam, index, frame_id in ((front, f, 'front_optical'), (back, b, 'rear_optical')):
                msg = array_to_image_msg(frames[index], 'bgr8', cam.header(frame_id))
                sent[cam.name].append(msg)
                got = cam.send_and_wait(msg)
                want = reference[cam.name].estimate(msg, 0.0).poses
                assert got.header == msg.header
                assert [p.id for p in got.persons] == [p.id for p in want.persons], cam.name
                np.testing.assert_allclose(keypoints_of(got), keypoints_of(want), atol=2e-3)
        assert all(p.persons for p in front.poses[-len(FRONT):]), 'the woman is in every frame'
        # Markers, image markers and annotated images: each on its own camera's topics, with
        # its header.
        assert spin_until(front.node, front.executor, lambda: all(
            stamps(sent[c.name]) <= stamps(c.annotated) & stamps(overlays[c.name])
            for c in cams.values()), 10.0)
        for cam in cams.values():
            frame_ids = {m.header.frame_id for m in cam.poses + cam.annotated} | {
                m.markers[0].header.frame_id for m in cam.markers} | {
                m.header.frame_id for m in overlays[cam.name]}
            own = {'front': 'front_optical', 'back': 'rear_optical'}[cam.name]
            assert frame_ids == {'warm_up', own}, (cam.name, frame_ids)
            assert stamps(answers(cam)) == stamps(sent[cam.name])
        # One status per camera, named <node>: <camera>.
        assert spin_until(front.node, front.executor,
                          lambda: front.diagnostics and back.diagnostics, 5.0)
        assert {s.name for s in front.statuses} == {'movenet: front'}
        assert {s.name for s in back.statuses} == {'movenet: back'}
        assert back.diagnostics[-1]['upstream loss'] == 'counted: one publisher'

        manager = Manager(front)
        assert manager.change(Transition.TRANSITION_DEACTIVATE)
        before = {name: len(cam.poses) for name, cam in cams.items()}
        for _ in range(3):
            for cam in cams.values():
                cam.image_pub.publish(array_to_image_msg(frames[90], 'bgr8', cam.header()))
            front.spin(0.4)
        assert {name: len(cam.poses) for name, cam in cams.items()} == before
        assert manager.change(Transition.TRANSITION_ACTIVATE)
        for cam in cams.values():
            cam.send_and_wait(array_to_image_msg(frames[90], 'bgr8', cam.header()))
    finally:
        stop_cleanly(node)
        close(cams)


def bad_image(header: Header) -> Image:
    """Claims 640x360 bgr8 but carries 1000 bytes."""
    return Image(header=header, height=360, width=640, encoding='bgr8', step=1920,
                 data=bytes(1000))


def test_three_cameras_at_different_rates_are_served_fairly(repo, frames):
    """A camera at 5x the rate of another cannot starve it; a camera sending bad frames, and
    a camera going silent, leave the others untouched."""
    names = ('fast', 'slow', 'bad')
    cams = cameras(*names)
    fast = cams['fast']
    # Thunder (the slowest single-pose model): the model, not the cameras, is the bottleneck.
    node = movenet(repo, 'singlepose_thunder', names, '-p', 'interpreters:=1')
    try:
        for cam in cams.values():
            cam.wait_for_node(node)
        small = {i: cv2.resize(frames[i], (640, 360)) for i in (*FRONT, *BACK)}
        sent = {name: [] for name in names}

        def run(seconds: float, rates: dict[str, float]) -> None:
            start = time.monotonic()
            due = dict.fromkeys(rates, start)
            while (now := time.monotonic()) < start + seconds:
                for name, rate in rates.items():
                    if now >= due[name]:
                        due[name] += 1.0 / rate
                        cam = cams[name]
                        header = cam.header(f'{name}_optical')
                        msg = bad_image(header) if name == 'bad' else array_to_image_msg(
                            small[FRONT[len(sent[name]) % len(FRONT)]], 'bgr8', header)
                        cam.image_pub.publish(msg)
                        sent[name].append(msg)
                fast.executor.spin_once(timeout_sec=0.002)

        run(4.0, {'fast': 100.0, 'slow': 20.0, 'bad': 20.0})
        fast.spin(1.0)  # the frames in flight
        answered = {n: stamps(cams[n].poses) & stamps(sent[n]) for n in names}
        counts = {n: (len(answered[n]), len(sent[n])) for n in names}
        # Fair: the cameras take turns at the model, so each gets its share of the frames
        # processed (or all of its frames, if it sends fewer), whatever its rate. The model
        # is the bottleneck here (the fast camera always has a frame waiting).
        share = (len(answered['fast']) + len(answered['slow'])) / 2
        assert len(answered['fast']) < len(sent['fast']), counts
        for name in ('fast', 'slow'):
            assert len(answered[name]) >= 0.7 * min(len(sent[name]), share), counts
        assert not answered['bad'], counts
        for name in ('fast', 'slow'):
            cam = cams[name]
            assert {p.header.frame_id for p in cam.poses} == {'warm_up', f'{name}_optical'}
            assert stamps(answers(cam)) <= stamps(sent[name])

        # The slow camera goes silent: the fast one goes on (and gets its share too).
        sent['fast'].clear()
        run(2.0, {'fast': 100.0, 'bad': 20.0})
        fast.spin(1.0)
        alone = stamps(fast.poses) & stamps(sent['fast'])
        assert len(alone) >= 10, (len(alone), len(sent['fast']))

        def latest(cam) -> dict[str, str]:
            count = len(cam.diagnostics)
            assert spin_until(cam.node, cam.executor, lambda: len(cam.diagnostics) > count, 5.0)
            return cam.diagnostics[-1]

        values = {name: latest(cam) for name, cam in cams.items()}
        for v in values.values():
            # Every frame taken is processed, dropped (replaced by a newer one) or refused.
            assert int(v['frames received']) == sum(int(v[key]) for key in (
                'frames processed', 'frames dropped', 'bad messages', 'model errors')), v
        assert int(values['bad']['bad messages']) > 0, values['bad']
        assert 'bad image on /bad/image' in values['bad']['last error'], values['bad']
        for name in ('fast', 'slow'):
            assert values[name]['bad messages'] == '0', values[name]
            assert values[name]['model errors'] == '0', values[name]
        assert int(values['slow']['frames processed']) >= len(answered['slow'])
        assert values['slow']['input rate (Hz)'] == '0.00'  # silent now
    finally:
        stop_cleanly(node)
        close(cams)


def test_depth_is_per_camera(repo):
    """Remapping one camera's depth/image turns depth on for that camera only: it lifts its
    people (c/people) from its own depth images; the other stays 2D, without people."""
    from geometry_msgs.msg import PoseArray
    from rgbd import FRAMES, camera_json, colour, depth_mm
    from sensor_msgs.msg import CameraInfo

    from movenet_ros.conversions.depth import depth_image_to_msg

    cams = cameras('front', 'wrist')
    front, wrist = cams['front'], cams['wrist']
    depth_pub = wrist.node.create_publisher(Image, '/wrist_rgbd/depth', RELIABLE)
    people = []
    wrist.node.create_subscription(PoseArray, 'wrist/people', people.append, RELIABLE)
    node = movenet(repo, 'singlepose_thunder', ('front', 'wrist'),
                   '-r', 'wrist/depth/image:=/wrist_rgbd/depth')
    try:
        for cam in cams.values():
            cam.wait_for_node(node)
        assert spin_until(wrist.node, wrist.executor,
                          lambda: depth_pub.get_subscription_count() > 0, 10.0)
        assert front.node.count_publishers('/front/people') == 0
        assert front.node.count_subscribers('/front/depth/image') == 0
        info = camera_json()
        got = {}
        for cam in cams.values():
            header = cam.header(f'{cam.name}_color_optical_frame')
            cam.info_pub.publish(CameraInfo(
                header=header, width=info['width'], height=info['height'],
                k=[info['fx'], 0.0, info['cx'], 0.0, info['fy'], info['cy'], 0.0, 0.0, 1.0]))
            depth_pub.publish(depth_image_to_msg(depth_mm(FRAMES[0]), header))
            cam.spin(0.5)  # camera_info and depth in before the colour frame
            got[cam.name] = cam.send_and_wait(array_to_image_msg(colour(FRAMES[0]), 'bgr8',
                                                                 header))
        assert got['wrist'].persons and got['front'].persons, 'the person is in the frame'
        assert any(p.position_valid for p in got['wrist'].persons)
        assert not any(p.position_valid for p in got['front'].persons)
        def lifted() -> list:
            return [p for p in people if p.header == got['wrist'].header]

        assert spin_until(wrist.node, wrist.executor, lifted, 5.0)
        assert lifted()[0].poses
    finally:
        stop_cleanly(node)
        close(cams)


def test_refinement_on_two_interpreters_keeps_each_camera_s_crops(repo, frames):
    """MultiPose refined by Thunder, two cameras on two interpreters: each camera gets what
    it alone would get (refinement crops carried per camera, whichever interpreter runs)."""
    cams = cameras('left', 'right')
    node = movenet(repo, 'multipose', ('left', 'right'), '-p', 'refine:=thunder',
                   '-p', 'interpreters:=2', '-p', 'num_threads:=1')
    try:
        for cam in cams.values():
            cam.wait_for_node(node)
        values = {spec.name: spec.default for spec in PARAMETERS} | {
            'model': 'multipose', 'refine': 'thunder', 'num_threads': 1}
        config, settings = NodeConfig.from_values(values), RuntimeSettings.from_values(values)
        interpreter = load_interpreter(config)
        reference = {name: FramePipeline(config, settings, interpreter) for name in cams}
        warm_up = array_to_image_msg(np.zeros((64, 64, 3), np.uint8), 'bgr8',
                                     Header(stamp=Time(sec=1, nanosec=1), frame_id='warm_up'))
        for pipeline in reference.values():
            pipeline.estimate(warm_up, 0.0)
        for left, right in ((90, 60), (91, 110), (92, 120)):
            for cam, index in ((cams['left'], left), (cams['right'], right)):
                msg = array_to_image_msg(frames[index], 'bgr8', cam.header(cam.name))
                got = cam.send_and_wait(msg)
                want = reference[cam.name].estimate(msg, 0.0).poses
                assert got.model == want.model == 'multipose_lightning+singlepose_thunder'
                assert [p.id for p in got.persons] == [p.id for p in want.persons], cam.name
                np.testing.assert_allclose(keypoints_of(got), keypoints_of(want), atol=2e-3)
        assert all(answers(cam)[-1].persons for cam in cams.values())
    finally:
        stop_cleanly(node)
        close(cams)
