# SPDX-License-Identifier: Apache-2.0
"""The CLI's bag pieces (cli_bags.py): choosing the image topic, and the --bag-out bag."""

from __future__ import annotations

from bag_helpers import COMPRESSED_TOPIC, RAW_TOPIC, make_camera_bag, storage_file
from mcap.reader import make_reader
import numpy as np
import pytest
import yaml

from movenet_ros.cli_bags import (
    VIDEO_FRAME_ID,
    VIDEO_IMAGE_TOPIC,
    BagOutput,
    TopicChoiceError,
    choose_topic,
)
from movenet_ros.core.bags import RosBag
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
