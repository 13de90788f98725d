# SPDX-License-Identifier: Apache-2.0
"""The CLI's bags: choosing the image topic and the --bag-out bag (cli_bags.py), then
``movenet-ros infer`` on camera bags made with rosbags from the demo footage, its output bags
read with readers that share none of the project's code (mcap-ros2-support for MCAP; sqlite3
and rosbags, from the definitions stored in the file, for sqlite3)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import pty
import shutil
import signal
import sqlite3
import subprocess
import time

from bag_helpers import (
    COMPRESSED_TOPIC,
    FRAME_ID,
    RAW_TOPIC,
    check_image_markers,
    check_pose_array,
    make_camera_bag,
    storage_file,
)
from cli_helpers import movenet_ros, read_jsonl, split_jsonl
import cv2
from footage import read_frames
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
import numpy as np
import pytest
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
import yaml

from movenet_ros.cli_bags import (
    VIDEO_FRAME_ID,
    VIDEO_IMAGE_TOPIC,
    BagOutput,
    TopicChoiceError,
    choose_topic,
)
from movenet_ros.core.bags import RosBag
from movenet_ros.core.estimator import PoseEstimator
from movenet_ros.core.model import MoveNetModel
from movenet_ros.core.results import PoseResult


@pytest.fixture(scope='module')
def camera_bag(tmp_path_factory, demo_frames):
    path = tmp_path_factory.mktemp('cli_bags') / 'camera'
    written = make_camera_bag(path, demo_frames[:2], 'mcap')
    return path, written


def test_choose_topic(camera_bag):
    path, _ = camera_bag
    with RosBag(path) as bag:
        assert choose_topic(bag, RAW_TOPIC) == RAW_TOPIC
        with pytest.raises(TopicChoiceError) as refused:
            choose_topic(bag, None)
        assert 'choose an image topic with --topic' in str(refused.value)
        assert f'1. {RAW_TOPIC}' in str(refused.value)
        assert f'2. {COMPRESSED_TOPIC}' in str(refused.value)
        assert 'sensor_msgs/CompressedImage  2 message(s)' in str(refused.value)
        asked = []
        assert choose_topic(bag, None, lambda q: asked.append(q) or '2') == COMPRESSED_TOPIC
        assert 'topic to read (1-2 or its name)' in asked[0]
        assert choose_topic(bag, None, lambda _: f' {RAW_TOPIC}\n') == RAW_TOPIC
        with pytest.raises(TopicChoiceError, match="'3' is none of its image topics"):
            choose_topic(bag, None, lambda _: '3')
        with pytest.raises(TopicChoiceError, match='no image topic /camera/depth'):
            choose_topic(bag, '/camera/depth')


def test_choose_topic_without_images(demo_frames, tmp_path):
    path = tmp_path / 'poses_only'
    result = PoseResult([], (64, 48), 'singlepose_lightning', 0.3, (192, 192))
    output = BagOutput(path, 'mcap', images=False)
    output.add_video_frame(result, demo_frames[0], 0.0)
    output.close()
    with RosBag(path) as bag, pytest.raises(TopicChoiceError,
                                            match=r'no sensor_msgs/Image .* /poses'):
        choose_topic(bag, None)


def test_bag_output_of_a_video_and_a_bag(camera_bag, demo_frames, tmp_path):
    path, written = camera_bag
    result = PoseResult([], (1768, 994), 'singlepose_lightning', 0.3, (192, 192))
    out = tmp_path / 'out'
    output = BagOutput(out, 'mcap', images=True)
    output.add_video_frame(result, demo_frames[0], 1.5)
    with RosBag(path) as bag:
        topic = bag.topics[RAW_TOPIC]
        for frame in bag.frames(RAW_TOPIC):
            output.add_bag_frame(result, frame, topic)
    output.close()
    assert output.frames == 3
    with storage_file(out).open('rb') as f:
        reader = make_reader(f)
        channels = {c.topic: c for c in reader.get_summary().channels.values()}
        messages = [(c.topic, m) for _, c, m in reader.iter_messages()]
    # The camera frames copied byte for byte with their log time and recorded QoS.
    copied = [m for t, m in messages if t == RAW_TOPIC]
    assert [m.log_time for m in copied] == [w.log_time_ns for w in written]
    with RosBag(path) as bag:
        originals = [bytes(m.data) for m in bag.messages([RAW_TOPIC])]
    assert [m.data for m in copied] == originals
    qos = yaml.safe_load(channels[RAW_TOPIC].metadata['offered_qos_profiles'])
    assert qos[0]['reliability'] == 'best_effort'
    # The video frame as JPEG at its video time; poses at every frame's log time.
    (jpeg,) = [m for t, m in messages if t == VIDEO_IMAGE_TOPIC]
    assert jpeg.log_time == 1_500_000_000
    assert [m.log_time for t, m in messages if t == '/poses'] == [
        1_500_000_000, *(w.log_time_ns for w in written)]
    with RosBag(out) as bag:
        (frame,) = list(bag.frames(VIDEO_IMAGE_TOPIC))
        assert (frame.stamp_ns, frame.frame_id) == (1_500_000_000, VIDEO_FRAME_ID)
        assert np.abs(frame.image.astype(int) - demo_frames[0]).mean() < 4


# --- movenet-ros infer on bags, end to end (the installed command, as a user runs it) ---

CLI_FRAMES = (100, 101, 102, 103)  # the walking woman and the jumping man
OUTPUT_TOPICS = {
    '/poses': 'movenet_ros/msg/PersonPoseArray',
    '/pose_markers': 'visualization_msgs/msg/MarkerArray',
    '/image_markers/bones': 'visualization_msgs/msg/ImageMarker',
    '/image_markers/keypoints': 'visualization_msgs/msg/ImageMarker',
}


@pytest.fixture(scope='module')
def recordings(tmp_path_factory, demo_video):
    """Camera bags of four real frames as ``ros2 bag record`` saves them (raw and JPEG
    topics): an MCAP bag folder and a sqlite3 one, and what they hold."""
    frames = read_frames(demo_video, CLI_FRAMES)
    folder = tmp_path_factory.mktemp('recordings')
    bgr = [frames[i] for i in CLI_FRAMES]
    return {storage: (folder / storage, make_camera_bag(folder / storage, bgr, storage))
            for storage in ('mcap', 'sqlite3')}


@pytest.fixture(scope='module')
def lightning_results(recordings) -> list[PoseResult]:
    """What the CLI's default model finds in the raw frames, in order (no tracking)."""
    estimator = PoseEstimator(MoveNetModel('lightning'))
    return [estimator.estimate(w.bgr, 'bgr') for w in recordings['mcap'][1]]


def _mcap_decoded(bag: pathlib.Path) -> tuple[dict, dict]:
    """(topic -> schema name, topic -> [(log_time, decoded message)]) read with mcap-ros2."""
    decoded: dict[str, list] = {}
    with storage_file(bag).open('rb') as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        types = {c.topic: summary.schemas[c.schema_id].name
                 for c in summary.channels.values()}
        for _, channel, message, ros_msg in reader.iter_decoded_messages():
            decoded.setdefault(channel.topic, []).append((message.log_time, ros_msg))
    return types, decoded


def _sqlite_decoded(bag: pathlib.Path) -> tuple[dict, dict]:
    """The same from a .db3 with sqlite3, decoded by rosbags from the definitions stored in
    the database only (an empty type store: nothing of ours or of Jazzy's built in)."""
    with sqlite3.connect(f'file:{storage_file(bag)}?mode=ro', uri=True) as db:
        topics = {tid: (name, kind) for tid, name, kind in db.execute(
            'SELECT id, name, type FROM topics')}
        definitions = dict(db.execute('SELECT topic_type, encoded_message_definition FROM '
                                      'message_definitions WHERE encoding = ?', ('ros2msg',)))
        rows = db.execute('SELECT topic_id, timestamp, data FROM messages ORDER BY timestamp, '
                          'id').fetchall()
    store = get_typestore(Stores.EMPTY)
    for _, kind in topics.values():
        store.register(get_types_from_msg(definitions[kind], kind))
    decoded: dict[str, list] = {}
    for tid, timestamp, data in rows:
        name, kind = topics[tid]
        decoded.setdefault(name, []).append((timestamp, store.deserialize_cdr(data, kind)))
    return {name: kind for name, kind in topics.values()}, decoded


def _check_stamps(records: list[dict], decoded: dict, written) -> None:
    """JSON lines and every output message carry the input frames' stamps and log times."""
    assert [(r['stamp_ns'], r['frame_id']) for r in records] == [
        (w.stamp_ns, FRAME_ID) for w in written]
    assert [r['stamp'] for r in records] == [w.stamp_ns * 1e-9 for w in written]
    for topic, messages in decoded.items():
        assert [t for t, _ in messages] == [w.log_time_ns for w in written], topic
        headers = [m.markers[0].header for _, m in messages] if topic == '/pose_markers' \
            else [m.header for _, m in messages]
        assert [(h.stamp.sec, h.stamp.nanosec, h.frame_id) for h in headers] == [
            (*divmod(w.stamp_ns, 10**9), FRAME_ID) for w in written], topic


def test_infer_mcap_bag_raw_topic_to_jsonl_bag_and_video(recordings, lightning_results,
                                                          tmp_path):
    path, written = recordings['mcap']
    log, out, annotated = tmp_path / 'poses.jsonl', tmp_path / 'poses_bag', tmp_path / 'ann'
    run = movenet_ros('infer', str(path), '--topic', RAW_TOPIC, '--json', str(log),
                      '--bag-out', str(out), '--bag-images', '--output', str(annotated),
                      '--no-progress')
    assert run.returncode == 0, run.stderr
    assert '4 frame(s)' in run.stderr
    records, summary = split_jsonl(log.read_text())
    assert [(r['source'], r['topic'], r['frame']) for r in records] == [
        (str(path), RAW_TOPIC, n) for n in range(4)]
    assert summary['bags'] == [{'source': str(path), 'topic': RAW_TOPIC, 'frames_read': 4,
                                'frames_declared': 4, 'frames_failed': 0, 'damage': []}]
    assert summary['bag_out']['closed'] and summary['bag_out']['frames'] == 4
    types, decoded = _mcap_decoded(out)
    assert types == {**OUTPUT_TOPICS, RAW_TOPIC: 'sensor_msgs/msg/Image'}
    assert {t: len(m) for t, m in decoded.items()} == dict.fromkeys(types, 4)
    _check_stamps(records, decoded, written)
    assert sum(len(r.poses) for r in lightning_results) == 4
    for n, result in enumerate(lightning_results):
        check_pose_array(decoded['/poses'][n][1], result, written[n].stamp_ns, FRAME_ID)
        check_image_markers(decoded['/image_markers/bones'][n][1],
                            decoded['/image_markers/keypoints'][n][1], result)
        assert bytes(decoded[RAW_TOPIC][n][1].data) == written[n].bgr.tobytes()
    video = cv2.VideoCapture(str(annotated / 'mcap_pose.mp4'))
    assert (video.get(cv2.CAP_PROP_FRAME_COUNT), round(video.get(cv2.CAP_PROP_FPS))) == (4, 30)
    video.release()


def test_infer_db3_file_compressed_topic_to_sqlite3_bag(recordings, tmp_path):
    path, written = recordings['sqlite3']
    db3 = storage_file(path)  # the storage file alone, as copied off a robot
    out = tmp_path / 'poses_db'
    run = movenet_ros('infer', str(db3), '--topic', COMPRESSED_TOPIC, '--json', '-',
                      '--bag-out', str(out), '--bag-storage', 'sqlite3', '--bag-images',
                      '--no-progress')
    assert run.returncode == 0, run.stderr
    records, summary = split_jsonl(run.stdout)
    assert summary['bag_out']['storage'] == 'sqlite3'
    types, decoded = _sqlite_decoded(out)
    assert types == {**OUTPUT_TOPICS, COMPRESSED_TOPIC: 'sensor_msgs/msg/CompressedImage'}
    assert {t: len(m) for t, m in decoded.items()} == dict.fromkeys(types, 4)
    _check_stamps(records, decoded, [
        dataclasses.replace(w, log_time_ns=w.log_time_ns + 1000) for w in written])
    assert [bytes(m.data) for _, m in decoded[COMPRESSED_TOPIC]] == [w.jpeg for w in written]
    for record, (_, msg) in zip(records, decoded['/poses'], strict=True):
        assert msg.model == record['model'] == 'singlepose_lightning'
        assert len(msg.persons) == len(record['persons']) == 1
        for person, expected in zip(msg.persons, record['persons'], strict=True):
            assert person.score == pytest.approx(expected['score'], abs=5e-5)
            np.testing.assert_allclose(  # the JSON rounds to 0.01 px and 0.0001
                [(k.x, k.y, k.score * 100) for k in person.keypoints],
                [(k['x'], k['y'], k['score'] * 100) for k in expected['keypoints']],
                rtol=0, atol=5.1e-3)
            np.testing.assert_allclose((person.x_min, person.y_min, person.x_max,
                                        person.y_max), expected['box'], rtol=0, atol=5.1e-3)


def test_a_missing_topic_is_asked_for_at_a_terminal_and_listed_otherwise(recordings,
                                                                          tmp_path):
    path, _ = recordings['mcap']
    out = tmp_path / 'not_written'
    run = movenet_ros('infer', str(path), '--bag-out', str(out), '--no-progress')
    assert run.returncode == 2
    assert 'choose an image topic with --topic' in run.stderr
    assert f'1. {RAW_TOPIC}' in run.stderr and f'2. {COMPRESSED_TOPIC}' in run.stderr
    assert not out.exists()
    # At a terminal the same list is a question; the answer '2' reads the JPEG topic.
    log = tmp_path / 'asked.jsonl'
    main, side = pty.openpty()
    process = subprocess.Popen([shutil.which('movenet-ros'), 'infer', str(path), '--json',
                                str(log), '--no-progress'], stdin=side, stderr=side,
                               stdout=subprocess.DEVNULL)
    os.close(side)
    shown = b''
    while b'topic to read (1-2 or its name): ' not in shown:
        shown += os.read(main, 4096)
    os.write(main, b'2\n')
    with contextlib.suppress(OSError):  # EIO once the command has ended
        while os.read(main, 4096):
            pass
    assert process.wait(timeout=120) == 0
    os.close(main)
    assert f'2. {COMPRESSED_TOPIC}' in shown.decode()
    assert {r['topic'] for r in read_jsonl(log)} == {COMPRESSED_TOPIC}


def test_a_cut_bag_gives_every_readable_frame_and_exit_code_1(recordings, tmp_path):
    path, written = recordings['mcap']
    cut = tmp_path / 'cut.mcap'
    data = storage_file(path).read_bytes()
    cut.write_bytes(data[:len(data) * 3 // 5])  # a copy that stopped part way
    with RosBag(cut) as bag:
        readable = [f.stamp_ns for f in bag.frames(RAW_TOPIC) if f.error is None]
    assert 0 < len(readable) < 4
    out = tmp_path / 'cut_poses'
    run = movenet_ros('infer', str(cut), '--topic', RAW_TOPIC, '--json', '-', '--bag-out',
                      str(out), '--no-progress')
    assert run.returncode == 1, run.stderr
    assert 'warning: ' in run.stderr and 'it ends inside a record' in run.stderr
    assert f'every readable frame was processed ({len(readable)})' in run.stderr
    records, summary = split_jsonl(run.stdout)
    assert [r['stamp_ns'] for r in records] == readable == [
        w.stamp_ns for w in written[:len(readable)]]
    assert summary['exit_code'] == 1 and summary['bags'][0]['frames_read'] == len(readable)
    _, decoded = _mcap_decoded(out)  # the output bag is finished and whole
    assert {t: len(m) for t, m in decoded.items()} == dict.fromkeys(OUTPUT_TOPICS,
                                                                     len(readable))


def test_an_unreadable_bag_is_reported_and_the_others_still_run(recordings, tmp_path):
    path, _ = recordings['mcap']
    broken = tmp_path / 'broken.db3'
    broken.write_bytes(b'not a database' * 100)
    run = movenet_ros('infer', str(broken), str(path), '--topic', RAW_TOPIC, '--json', '-',
                      '--no-progress')
    assert run.returncode == 1
    records, summary = split_jsonl(run.stdout)
    assert len(records) == 4 and {r['source'] for r in records} == {str(path)}
    (failed,) = summary['failed']
    assert failed['source'] == str(broken) and str(broken) in failed['error']


def test_ctrl_c_keeps_a_whole_output_bag(demo_frames, tmp_path):
    """Interrupted between two frames, the run finishes --bag-out (index, metadata.yaml):
    it holds exactly the frames the JSON lines list."""
    path = tmp_path / 'ten'
    make_camera_bag(path, demo_frames, 'mcap', with_info=False)
    log, out = tmp_path / 'ten.jsonl', tmp_path / 'ten_poses'
    process = subprocess.Popen(
        [shutil.which('movenet-ros'), 'infer', str(path), '--topic', COMPRESSED_TOPIC,
         '--model', 'thunder', '--threads', '1', '--json', str(log), '--bag-out', str(out),
         '--no-progress'], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (log.exists() and log.read_text().count('\n') >= 2):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    records, summary = split_jsonl(log.read_text())
    assert 2 <= len(records) < 10
    assert summary['bag_out']['closed'] and summary['bag_out']['frames'] == len(records)
    info = yaml.safe_load((out / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert info['message_count'] == 4 * len(records)
    _, decoded = _mcap_decoded(out)
    assert [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec
            for _, m in decoded['/poses']] == [r['stamp_ns'] for r in records]
