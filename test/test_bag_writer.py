# SPDX-License-Identifier: Apache-2.0
"""The bag writer (core/bag_writer.py), checked with readers that share none of its code.

Poses come from the real model on the demo footage (MultiPose with tracking, so ids are set,
and the empty last frame, so "nobody" is written too). MCAP bags are read back with the mcap
library and mcap-ros2-support, which decode every message from the schema embedded in the
file; sqlite3 bags with Python's sqlite3 and the same decoder, from the definitions stored
in the database. Counts, types, stamps, QoS and every field of each PersonPoseArray are
compared with what was written.
"""

from __future__ import annotations

import json
import pathlib
import sqlite3

from bag_helpers import check_image_markers, check_pose_array, storage_file
from footage import read_frames
from mcap.reader import make_reader
from mcap.records import Schema
from mcap_ros2.decoder import DecoderFactory
import numpy as np
import pytest
import yaml

from movenet_ros.core.bag_writer import (
    BagWriteError,
    MarkerSettings,
    OutputTopics,
    PoseBagWriter,
)
from movenet_ros.core.bags import RosBag
from movenet_ros.core.camera import Pinhole
from movenet_ros.core.estimator import PoseEstimator
from movenet_ros.core.keypoints import SKELETON
from movenet_ros.core.model import MoveNetModel
from movenet_ros.core.temporal import TemporalFilter, TemporalSettings

FRAME_INDICES = (100, 101, 102, 229)  # the man and the woman; then nobody
STAMP0 = 1_767_225_600_000_000_001
PERIOD = 33_366_700
FRAME_ID = 'camera_color_optical_frame'
IMAGE_TOPIC = '/camera/color/image_raw'
TOPICS = {
    '/poses': 'movenet_ros/msg/PersonPoseArray',
    '/pose_markers': 'visualization_msgs/msg/MarkerArray',
    '/image_markers/bones': 'visualization_msgs/msg/ImageMarker',
    '/image_markers/keypoints': 'visualization_msgs/msg/ImageMarker',
    IMAGE_TOPIC: 'sensor_msgs/msg/Image',
}


@pytest.fixture(scope='module')
def processed(demo_video) -> list:
    """[(frame, result, stamp_ns, log_time_ns)] of MultiPose with tracking on real frames."""
    frames = read_frames(demo_video, FRAME_INDICES)
    estimator = PoseEstimator(MoveNetModel('multipose'))
    temporal = TemporalFilter(TemporalSettings(smoothing=False))
    out = []
    for n, index in enumerate(FRAME_INDICES):
        stamp = STAMP0 + n * PERIOD
        result = temporal.update(estimator.estimate(frames[index], 'bgr'), stamp / 1e9)
        out.append((frames[index], result, stamp, stamp + 4_000_000))
    assert [len(r.poses) > 0 for _, r, _, _ in out] == [True, True, True, False]
    assert all(p.id >= 0 for _, r, _, _ in out for p in r.poses)
    return out


def _write(path: pathlib.Path, processed, storage: str) -> None:
    with PoseBagWriter(path, storage=storage, markers=MarkerSettings(depth=3.0)) as writer:
        for frame, result, stamp, log_time in processed:
            writer.write_image(IMAGE_TOPIC, frame, 'bgr', stamp, FRAME_ID, log_time)
            writer.write_result(result, stamp, FRAME_ID, log_time)


def _check_markers(msg, result) -> None:
    camera = Pinhole.default(result.image_size)
    assert msg.markers[0].action == 3  # DELETEALL
    bones = [m for m in msg.markers[1:] if m.ns == 'bones']
    assert len(bones) == len(result.poses)
    for marker, pose in zip(bones, result.poses, strict=True):
        visible = pose.visible(result.keypoint_threshold)
        ends = [i for a, b, _ in SKELETON if visible[a] and visible[b] for i in (a, b)]
        expected = camera.points_at_depth(pose.keypoints[ends, :2], 3.0)
        assert marker.type == 5 and marker.header.frame_id == FRAME_ID
        np.testing.assert_allclose([(p.x, p.y, p.z) for p in marker.points], expected)


def _check_all(decoded: dict[str, list], processed) -> None:
    """``decoded``: topic -> [(log_time_ns, message)] as an independent reader gave them."""
    assert set(decoded) == set(TOPICS)
    for topic, messages in decoded.items():
        assert [t for t, _ in messages] == [log for _, _, _, log in processed], topic
        if topic != '/pose_markers':  # a MarkerArray has no header; its markers do
            assert [(m.header.stamp.sec, m.header.stamp.nanosec) for _, m in messages] == [
                divmod(s, 10**9) for _, _, s, _ in processed]
    for n, (frame, result, stamp, _) in enumerate(processed):
        assert result.model == 'multipose_lightning'
        check_pose_array(decoded['/poses'][n][1], result, stamp, FRAME_ID)
        _check_markers(decoded['/pose_markers'][n][1], result)
        check_image_markers(decoded['/image_markers/bones'][n][1],
                            decoded['/image_markers/keypoints'][n][1], result)
        image = decoded[IMAGE_TOPIC][n][1]
        assert (image.width, image.height, image.encoding, image.step) == (
            1768, 994, 'bgr8', 1768 * 3)
        assert bytes(image.data) == frame.tobytes()


def _check_qos(profiles: list[dict], reliability: str = 'reliable') -> None:
    """As ros2 bag record stores a discovered publisher: history unknown, depth 0."""
    (qos,) = profiles
    assert (qos['history'], qos['depth'], qos['reliability'], qos['durability'],
            qos['liveliness']) == ('unknown', 0, reliability, 'volatile', 'automatic')
    assert qos['deadline'] == {'sec': 9223372036, 'nsec': 854775807}


def _rosidl_hash(repo: pathlib.Path, msgtype: str) -> str:
    """The type hash rosidl generated for the node's message (colcon install/)."""
    package, _, name = msgtype.split('/')
    info = json.loads((repo / 'install' / package / 'share' / package / 'msg' /
                       f'{name}.json').read_text())
    (entry,) = [t for t in info['type_hashes'] if t['type_name'] == msgtype]
    return entry['hash_string']


def _check_metadata(path: pathlib.Path, storage: str, repo: pathlib.Path) -> None:
    info = yaml.safe_load((path / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert (info['version'], info['storage_identifier']) == (9, storage)
    topics = {t['topic_metadata']['name']: t for t in info['topics_with_message_count']}
    assert {name: t['topic_metadata']['type'] for name, t in topics.items()} == TOPICS
    assert all(t['message_count'] == 4 for t in topics.values())
    assert info['message_count'] == 20
    for t in topics.values():
        _check_qos(t['topic_metadata']['offered_qos_profiles'])
    assert topics['/poses']['topic_metadata']['type_description_hash'] == _rosidl_hash(
        repo, 'movenet_ros/msg/PersonPoseArray')


def test_mcap_bag_decodes_completely_with_mcap_ros2(processed, tmp_path, repo):
    path = tmp_path / 'poses_bag'
    _write(path, processed, 'mcap')
    _check_metadata(path, 'mcap', repo)
    file = storage_file(path)
    assert file.name == 'poses_bag.mcap'
    decoded: dict[str, list] = {}
    with file.open('rb') as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        channels = {c.topic: c for c in summary.channels.values()}
        assert {t: summary.schemas[c.schema_id].name for t, c in channels.items()} == TOPICS
        for channel in channels.values():
            assert channel.message_encoding == 'cdr'
            assert summary.schemas[channel.schema_id].encoding == 'ros2msg'
            assert summary.statistics.channel_message_counts[channel.id] == 4
            _check_qos(yaml.safe_load(channel.metadata['offered_qos_profiles']))
        for _, channel, message, ros_msg in reader.iter_decoded_messages():
            assert message.publish_time == message.log_time
            decoded.setdefault(channel.topic, []).append((message.log_time, ros_msg))
    _check_all(decoded, processed)


def test_sqlite3_bag_decodes_completely_with_sqlite_and_its_stored_definitions(
        processed, tmp_path, repo):
    path = tmp_path / 'poses_db'
    _write(path, processed, 'sqlite3')
    _check_metadata(path, 'sqlite3', repo)
    file = storage_file(path)
    assert file.suffix == '.db3'
    factory = DecoderFactory()
    with sqlite3.connect(f'file:{file}?mode=ro', uri=True) as db:
        topics = {tid: (name, kind, fmt, qos) for tid, name, kind, fmt, qos in db.execute(
            'SELECT id, name, type, serialization_format, offered_qos_profiles FROM topics')}
        definitions = dict(db.execute('SELECT topic_type, encoded_message_definition FROM '
                                      'message_definitions WHERE encoding = ?', ('ros2msg',)))
        rows = db.execute('SELECT topic_id, timestamp, data FROM messages ORDER BY timestamp, '
                          'id').fetchall()
    assert {name: kind for name, kind, _, _ in topics.values()} == TOPICS
    decoders = {}
    for tid, (_, kind, fmt, qos) in topics.items():
        assert fmt == 'cdr'
        _check_qos(yaml.safe_load(qos))
        decoders[tid] = factory.decoder_for('cdr', Schema(
            id=tid, name=kind, encoding='ros2msg', data=definitions[kind].encode()))
    decoded: dict[str, list] = {}
    for tid, timestamp, data in rows:
        decoded.setdefault(topics[tid][0], []).append((timestamp, decoders[tid](data)))
    _check_all(decoded, processed)


def test_a_written_bag_reads_back_as_a_camera_bag(processed, tmp_path):
    """Raw images come back pixel for pixel; JPEG ones (write_compressed) as image_transport
    formats them, close to the original."""
    path = tmp_path / 'bag'
    _write(path, processed, 'mcap')
    with PoseBagWriter(tmp_path / 'jpeg') as writer:
        for image, _, stamp, log_time in processed:
            writer.write_compressed('/image/compressed', image, stamp, FRAME_ID, log_time)
    with RosBag(path) as bag:
        assert [t.name for t in bag.image_topics] == [IMAGE_TOPIC]
        frames = list(bag.frames(IMAGE_TOPIC))
    for frame, (image, _, stamp, log_time) in zip(frames, processed, strict=True):
        assert (frame.stamp_ns, frame.log_time_ns, frame.frame_id) == (stamp, log_time,
                                                                      FRAME_ID)
        np.testing.assert_array_equal(frame.image, image)
    with RosBag(tmp_path / 'jpeg') as bag:
        frames = list(bag.frames('/image/compressed'))
    with storage_file(tmp_path / 'jpeg').open('rb') as f:
        formats = {m.format for *_, m in make_reader(
            f, decoder_factories=[DecoderFactory()]).iter_decoded_messages()}
    assert formats == {'bgr8; jpeg compressed bgr8'}
    for frame, (image, _, stamp, _) in zip(frames, processed, strict=True):
        assert frame.error is None and frame.stamp_ns == stamp
        assert frame.image.shape == image.shape
        assert np.abs(frame.image.astype(int) - image).mean() < 4


def test_copied_messages_keep_their_bytes_and_qos(processed, tmp_path):
    """A camera message copied from an input bag (write_serialized) is stored unchanged, with
    the QoS it was recorded with, under a namespace's topics."""
    source = tmp_path / 'source'
    _write(source, processed[:1], 'mcap')
    with RosBag(source) as bag:
        (original,) = list(bag.messages([IMAGE_TOPIC]))
        qos = bag.topics[IMAGE_TOPIC].qos
    out = tmp_path / 'copy'
    with PoseBagWriter(out, topics=OutputTopics().under('/robot1/')) as writer:
        writer.write_serialized('/robot1/image', original.msgtype, original.data,
                                original.log_time_ns, qos[0])
        writer.write_result(processed[0][1], processed[0][2], FRAME_ID, original.log_time_ns)
    with storage_file(out).open('rb') as f:
        reader = make_reader(f)
        topics = {c.topic for c in reader.get_summary().channels.values()}
        copied = [m for _, c, m in reader.iter_messages() if c.topic == '/robot1/image']
    assert topics == {'/robot1/image', '/robot1/poses', '/robot1/pose_markers',
                      '/robot1/image_markers/bones', '/robot1/image_markers/keypoints'}
    assert copied[0].data == bytes(original.data)
    assert OutputTopics().under('') == OutputTopics()


def test_what_was_written_before_an_error_is_kept(processed, tmp_path):
    path = tmp_path / 'stopped'
    with pytest.raises(KeyboardInterrupt), PoseBagWriter(path) as writer:
        for _, result, stamp, log_time in processed[:2]:
            writer.write_result(result, stamp, FRAME_ID, log_time)
        raise KeyboardInterrupt
    assert writer.counts == {topic: 2 for topic in TOPICS if topic != IMAGE_TOPIC}
    with storage_file(path).open('rb') as f:
        counts = make_reader(f).get_summary().statistics.channel_message_counts
    assert sorted(counts.values()) == [2, 2, 2, 2]


def test_bad_targets_are_refused(tmp_path):
    (tmp_path / 'taken').mkdir()
    with pytest.raises(BagWriteError, match='exists already'):
        PoseBagWriter(tmp_path / 'taken')
    with pytest.raises(BagWriteError, match="'zip' is not one of mcap, sqlite3"):
        PoseBagWriter(tmp_path / 'new', storage='zip')
    (tmp_path / 'file').write_text('x')
    with pytest.raises(BagWriteError, match='cannot create'):
        PoseBagWriter(tmp_path / 'file' / 'bag')
    with PoseBagWriter(tmp_path / 'typed') as writer:
        writer.write_image('/image', np.zeros((4, 4, 3), np.uint8), 'bgr', 0, 'f', 1)
        with pytest.raises(BagWriteError, match='holds sensor_msgs/msg/Image'):
            writer.write_serialized('/image', 'sensor_msgs/msg/CompressedImage', b'', 2)
        with pytest.raises(BagWriteError, match='HxWx3 uint8'):
            writer.write_image('/image', np.zeros((4, 4), np.uint8), 'bgr', 0, 'f', 1)
