# SPDX-License-Identifier: Apache-2.0
"""movenet_node over real Fast DDS: the node runs as its own process, fed real frames.

The test process plays the camera (publishing Image / CompressedImage) and the consumer
(subscribing to poses, markers, annotated images and diagnostics).
"""

from __future__ import annotations

from builtin_interfaces.msg import Time
import cv2
from footage import read_frames
import numpy as np
import pytest
from ros_helpers import keypoints_of, spin_until, start_node, stop_cleanly
from sensor_msgs.msg import CompressedImage, Image
from visualization_msgs.msg import Marker

from movenet_ros.conversions.images import array_to_image_msg
from movenet_ros.core.estimator import PoseEstimator
from movenet_ros.core.model import MoveNetModel
from movenet_ros.msg import PersonPose

FRAME_IDS = (0, 60, *range(90, 100), 110, 120)


@pytest.fixture(scope='module')
def frames(demo_video) -> dict[int, np.ndarray]:
    return read_frames(demo_video, FRAME_IDS)


def test_poses_match_the_core_with_the_image_header(repo, camera, frames):
    node = start_node(repo, 'singlepose_lightning', 'tracking.enabled:=false')
    try:
        camera.wait_for_node(node)
        # Same model, same defaults, same frame sequence (crop tracking included).
        reference = PoseEstimator(MoveNetModel('lightning'))
        reference.estimate(np.zeros((64, 64, 3), np.uint8))  # the warm-up image
        found = 0
        for index in (60, 90, 91, 92):
            msg = array_to_image_msg(frames[index], 'bgr8', camera.header())
            poses = camera.send_and_wait(msg)
            assert poses.header == msg.header  # stamp and frame_id unchanged
            assert (poses.image_width, poses.image_height) == (1768, 994)
            assert poses.model == 'singlepose_lightning'
            assert poses.keypoint_threshold == pytest.approx(0.3)
            expected = reference.estimate(frames[index], channel_order='bgr')
            assert len(poses.persons) == len(expected.poses)
            for person, keypoints, pose in zip(poses.persons, keypoints_of(poses),
                                               expected.poses, strict=True):
                np.testing.assert_allclose(keypoints, pose.keypoints, atol=1e-3)
                assert person.score == pytest.approx(pose.score, abs=1e-6)
                assert person.id == PersonPose.ID_UNTRACKED
                assert person.x_min < person.x_max and person.y_min < person.y_max
                found += 1
        assert found >= 3, 'the walking person is in all four frames'
    finally:
        stop_cleanly(node)


def test_markers_and_annotated_image_follow_the_image(repo, camera, frames):
    node = start_node(repo, 'multipose')
    try:
        camera.wait_for_node(node)
        spin_until(camera.node, camera.executor, lambda: False, 0.5)  # let outputs match
        msg = array_to_image_msg(frames[90], 'bgr8', camera.header('my_cam_frame'))
        poses = camera.send_and_wait(msg)
        assert poses.persons, 'the walking person is visible in frame 90'
        def of_this_image(msgs):
            return [m for m in msgs
                    if (m.markers[0].header if hasattr(m, 'markers') else m.header)
                    == msg.header]

        assert spin_until(camera.node, camera.executor,
                          lambda: of_this_image(camera.markers) and
                          of_this_image(camera.annotated), 10.0)
        markers = of_this_image(camera.markers)[0].markers
        assert markers[0].action == Marker.DELETEALL  # old people never linger
        drawn = markers[1:]
        assert {m.ns for m in drawn} == {'bones', 'keypoints', 'ids'}
        label = next(m for m in drawn if m.ns == 'ids')
        assert (label.type, label.text) == (Marker.TEXT_VIEW_FACING, str(poses.persons[0].id))
        assert label.pose.position.z == pytest.approx(2.0)  # on the plane, above the head
        for marker in markers:
            assert marker.header == msg.header
        bones = next(m for m in drawn if m.ns == 'bones')
        assert bones.type == Marker.LINE_LIST and len(bones.points) % 2 == 0
        assert len(bones.colors) == len(bones.points)
        assert all(p.z == pytest.approx(2.0) for p in bones.points)  # marker_depth

        annotated = of_this_image(camera.annotated)[0]
        assert annotated.header == msg.header
        assert (annotated.width, annotated.height, annotated.encoding) == (1768, 994, 'bgr8')
        drawn_image = np.frombuffer(annotated.data, np.uint8).reshape(994, 1768, 3)
        nose = poses.persons[0].keypoints[PersonPose.NOSE]
        x, y = round(nose.x), round(nose.y)
        changed = np.any(drawn_image != frames[90], axis=2)
        assert changed[y - 3:y + 4, x - 3:x + 4].any(), 'nothing drawn at the nose'
        assert changed.mean() < 0.05, 'the annotation covers more than the skeleton'
    finally:
        stop_cleanly(node)


@pytest.mark.parametrize('encoding', ['rgb8', 'bgra8', 'rgba8', 'mono8', 'yuv422_yuy2'])
def test_every_encoding_gives_the_same_person(repo, camera, frames, encoding):
    # Thunder: still confident on a grey frame, where Lightning loses this small person.
    node = start_node(repo, 'singlepose_thunder', 'crop_tracking:=false',
                      'tracking.enabled:=false')
    try:
        camera.wait_for_node(node)
        frame = frames[110]
        baseline = camera.send_and_wait(array_to_image_msg(frame, 'bgr8', camera.header()))
        if encoding == 'yuv422_yuy2':
            yuyv = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_YUY2)
            msg = Image(header=camera.header(), height=frame.shape[0], width=frame.shape[1],
                        encoding=encoding, step=frame.shape[1] * 2, data=yuyv.tobytes())
        else:
            code = {'rgb8': cv2.COLOR_BGR2RGB, 'bgra8': cv2.COLOR_BGR2BGRA,
                    'rgba8': cv2.COLOR_BGR2RGBA, 'mono8': cv2.COLOR_BGR2GRAY}[encoding]
            msg = array_to_image_msg(cv2.cvtColor(frame, code), encoding, camera.header())
        poses = camera.send_and_wait(msg)
        assert len(baseline.persons) == len(poses.persons) == 1
        got, want = keypoints_of(poses)[0], keypoints_of(baseline)[0]
        visible = (want[:, 2] >= 0.3) & (got[:, 2] >= 0.3)
        assert visible.sum() >= 8
        error = np.linalg.norm(got[visible, :2] - want[visible, :2], axis=1)
        if encoding in ('rgb8', 'bgra8', 'rgba8'):
            assert error.max() <= 1e-3, (encoding, error.max())  # the same pixels
        else:
            # Grey or chroma-subsampled pixels change the model's input, mostly where the
            # legs meet the grass: the same person, with joints a few percent of the
            # person's height apart (measured: mono8 mean 15 px, max 40 px of 350 px).
            height = baseline.persons[0].y_max - baseline.persons[0].y_min
            assert error.mean() <= 0.08 * height, (encoding, error.mean(), height)
            assert error.max() <= 0.16 * height, (encoding, error.max(), height)
    finally:
        stop_cleanly(node)


def test_compressed_input(repo, camera, frames):
    node = start_node(repo, 'singlepose_lightning', 'image_transport:=compressed')
    try:
        camera.wait_for_node(node, camera.compressed_pub)
        ok, jpeg = cv2.imencode('.jpg', frames[90], [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        msg = CompressedImage(header=camera.header(), format='jpeg', data=jpeg.tobytes())
        poses = camera.send_and_wait(msg, camera.compressed_pub)
        assert len(poses.persons) == 1
        nose = poses.persons[0].keypoints[PersonPose.NOSE]
        assert 1050 < nose.x < 1200 and 500 < nose.y < 620  # the woman walking on the grass
    finally:
        stop_cleanly(node)


def bad_images(good: Image) -> dict[str, Image]:
    """One malformed Image per kind the node must survive."""
    def variant(**fields) -> Image:
        msg = Image(header=good.header, height=good.height, width=good.width,
                    encoding=good.encoding, is_bigendian=0, step=good.step, data=good.data)
        for key, value in fields.items():
            setattr(msg, key, value)
        return msg

    return {
        'unknown encoding': variant(encoding='32FC7'),
        'step smaller than a row': variant(step=good.width),
        'truncated data': variant(data=bytes(good.data[:len(good.data) // 3])),
        'zero size': variant(width=0, height=0, step=0, data=b''),
        'absurdly large': variant(width=100_000, height=100_000, step=300_000,
                                  data=b'\x00' * 1024),
    }


def test_bad_input_never_kills_the_node(repo, camera, frames):
    node = start_node(repo)
    try:
        camera.wait_for_node(node)
        good = array_to_image_msg(frames[90], 'bgr8', camera.header())
        assert camera.send_and_wait(good).persons
        bad = bad_images(good)
        for kind, msg in bad.items():
            msg.header = camera.header()
            camera.image_pub.publish(msg)
            camera.spin(0.3)
            assert node.alive(), f'node died on {kind}'
            next_good = array_to_image_msg(frames[90], 'bgr8', camera.header())
            assert camera.send_and_wait(next_good).persons, f'no answer after {kind}'
        # Nothing was published for the bad ones, and diagnostics counted every one.
        bad_stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in bad.values()}
        assert not [p for p in camera.poses
                    if (p.header.stamp.sec, p.header.stamp.nanosec) in bad_stamps]
        assert spin_until(camera.node, camera.executor,
                          lambda: camera.diagnostics and
                          camera.diagnostics[-1]['bad messages'] == str(len(bad)), 5.0), \
            camera.diagnostics[-1:]
    finally:
        out = stop_cleanly(node)
    assert 'unknown encoding' in out.lower() or '32fc7' in out.lower(), out


def test_corrupt_jpeg_never_kills_the_node(repo, camera, frames):
    node = start_node(repo, 'singlepose_lightning', 'image_transport:=compressed')
    try:
        camera.wait_for_node(node, camera.compressed_pub)
        _, jpeg = cv2.imencode('.jpg', frames[90])
        corrupt = [jpeg.tobytes()[:len(jpeg) // 4], b'\xff\xd8garbage' * 100, b'']
        for data in corrupt:
            camera.compressed_pub.publish(
                CompressedImage(header=camera.header(), format='jpeg', data=data))
            camera.spin(0.3)
            good = CompressedImage(header=camera.header(), format='jpeg', data=jpeg.tobytes())
            assert camera.send_and_wait(good, camera.compressed_pub).persons
        assert node.alive()
    finally:
        stop_cleanly(node)


def test_newest_frame_wins_and_drops_are_counted(repo, camera, frames):
    node = start_node(repo, 'singlepose_thunder')
    try:
        camera.wait_for_node(node)
        # VGA frames: a burst of 30 fits the shared-memory transport whole, so every frame
        # reaches the node and only the node's own policy decides what is dropped.
        small = [cv2.resize(frames[i], (640, 360)) for i in (0, 60, 90, 120)]
        msgs = [array_to_image_msg(small[i % len(small)], 'bgr8', camera.header())
                for i in range(30)]
        for msg in msgs:  # a burst far faster than Thunder runs
            camera.image_pub.publish(msg)
        last = msgs[-1].header.stamp
        assert spin_until(camera.node, camera.executor,
                          lambda: any(p.header.stamp == last for p in camera.poses), 20.0)
        processed = len(camera.poses)
        assert processed < len(msgs), 'a busy node must skip stale frames'
        stamps = [p.header.stamp.sec for p in camera.poses]
        assert stamps == sorted(stamps), 'outputs are in capture order'
        def accounted() -> bool:
            if not camera.diagnostics:
                return False
            stats = camera.diagnostics[-1]
            return int(stats['frames processed']) == processed and \
                int(stats['frames received']) + int(stats['frames lost upstream']) == \
                len(msgs) + warm_ups

        warm_ups = processed - len([p for p in camera.poses if p.header.frame_id != 'warm_up'])
        # Every frame is accounted for: processed, dropped by the node, or lost upstream.
        assert spin_until(camera.node, camera.executor, accounted, 5.0), camera.diagnostics[-1:]
        stats = camera.diagnostics[-1]
        assert int(stats['frames dropped']) + int(stats['frames lost upstream']) > 0
        assert int(stats['frames processed']) + int(stats['frames dropped']) == \
            int(stats['frames received'])
    finally:
        stop_cleanly(node)


def test_tracking_keeps_ids_and_smoothing_uses_the_stamps(repo, camera, frames):
    node = start_node(repo, 'multipose', 'multipose_max_side:=512')
    try:
        camera.wait_for_node(node)
        reference = PoseEstimator(MoveNetModel('multipose', multipose_max_side=512))
        ids, moved = [], []
        for k, index in enumerate(range(90, 100)):
            header = camera.header()
            header.stamp = Time(sec=1_800_000_000, nanosec=k * 33_333_333)  # 30 fps
            poses = camera.send_and_wait(array_to_image_msg(frames[index], 'bgr8', header))
            ids.append(sorted(p.id for p in poses.persons))
            raw = reference.estimate(frames[index], channel_order='bgr').poses
            if k and len(raw) == len(poses.persons):
                moved += [np.abs(keypoints_of(poses)[i][:, :2] - raw[i].keypoints[:, :2]).max()
                          for i in range(len(raw))]
        assert ids[0] and all(i >= 0 for frame in ids for i in frame)
        assert all(frame == ids[0] for frame in ids), ids  # the same people, the same ids
        # Smoothed (not the raw model output), but only by a few pixels at 30 fps.
        assert moved and max(moved) > 0.01 and np.median(moved) < 15.0, moved
    finally:
        stop_cleanly(node)


@pytest.mark.parametrize('mode,model', [('singlepose_lightning', 'singlepose_lightning'),
                                        ('singlepose_thunder', 'singlepose_thunder'),
                                        ('multipose', 'multipose_lightning')])
def test_every_config_file_loads(repo, camera, frames, mode, model):
    node = start_node(repo, mode)
    try:
        camera.wait_for_node(node)
        poses = camera.send_and_wait(array_to_image_msg(frames[90], 'bgr8', camera.header()))
        assert poses.model == model
        assert poses.persons
    finally:
        stop_cleanly(node)


@pytest.mark.parametrize('param,expected', [
    ('model:=giant', 'model'),
    ('model_path:=/nonexistent/pose.tflite', '/nonexistent/pose.tflite'),
    ('num_threads:=0', 'num_threads'),
    ('keypoint_threshold:=1.5', 'keypoint_threshold'),
    ('image_transport:=carrier_pigeon', 'image_transport'),
    ('multipose_max_side:=250', 'multipose_max_side'),
    ('tracking.similarity:=nearest', 'similarity'),
])
def test_bad_startup_configuration_exits_with_a_message(repo, param, expected):
    node = start_node(repo, 'singlepose_lightning', param)
    code, out = node.wait(timeout=30)
    assert code != 0, out
    assert expected in out, out
    assert 'Traceback' not in out, out
