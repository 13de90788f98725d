# SPDX-License-Identifier: Apache-2.0
"""video_publisher as users run it: a separate process over Fast DDS, checked frame by frame.

Also checks the shipped Fast DDS profile (config/fastdds_large_images.xml): with it on the
publisher, full-HD raw frames reach a best-effort subscriber.
"""

from __future__ import annotations

import math
import os
import pathlib
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from ros_helpers import spin_until
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from movenet_ros.conversions.depth import depth_msg_to_image
from movenet_ros.conversions.images import compressed_to_array, image_to_array
from movenet_ros.core.media import open_frame_source, output_size

RELIABLE = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=20,
                      reliability=ReliabilityPolicy.RELIABLE)
BEST_EFFORT = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                         reliability=ReliabilityPolicy.BEST_EFFORT)


def ros_arg(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def run_publisher(executor, params: dict, timeout: float = 60.0,
                  env: dict | None = None) -> tuple[int, str]:
    """Run video_publisher to its end while spinning ``executor``; (exit code, log)."""
    cmd = [sys.executable, '-m', 'movenet_ros.nodes.video_publisher', '--ros-args']
    for name, value in params.items():
        cmd += ['-p', f'{name}:={ros_arg(value)}']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None:
            assert time.monotonic() < deadline, f'video_publisher still running after {timeout} s'
            executor.spin_once(timeout_sec=0.02)
        linger = time.monotonic() + 0.5  # samples already on their way
        while time.monotonic() < linger:
            executor.spin_once(timeout_sec=0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate()[0]
    return proc.returncode, output


def subscribe(node, msg_type, topic: str, qos: QoSProfile = RELIABLE) -> list:
    received: list = []
    node.create_subscription(msg_type, topic, received.append, qos)
    return received


def stamp_s(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def test_video_frames_arrive_exactly_with_matching_camera_info(ros_node, demo_video,
                                                               demo_frames):
    node, executor = ros_node
    infos = subscribe(node, CameraInfo, 'camera_info')
    images = subscribe(node, Image, 'image')
    code, log = run_publisher(executor, {
        'source': demo_video, 'max_frames': 10, 'rate': 10.0, 'frame_id': 'test_cam',
        'wait_for_subscribers': 1})
    assert code == 0, log
    assert 'max_frames=10 reached: published 10 frame(s) of 1768x994 bgr8' in log
    assert len(images) == 10 and len(infos) == 10, log
    for index, msg in enumerate(images):
        assert (msg.width, msg.height, msg.encoding, msg.step) == (1768, 994, 'bgr8', 1768 * 3)
        pixels, order = image_to_array(msg)
        assert order == 'bgr'
        assert np.shares_memory(pixels, np.frombuffer(msg.data, np.uint8))  # a received view
        assert np.array_equal(pixels, demo_frames[index]), f'frame {index} differs'
    assert [(m.header.stamp, m.header.frame_id) for m in infos] == \
        [(m.header.stamp, m.header.frame_id) for m in images]
    assert images[0].header.frame_id == 'test_cam'
    intervals = np.diff([stamp_s(m) for m in images])
    assert (intervals > 0).all()
    assert 0.08 < intervals.mean() < 0.2, f'expected ~10 Hz, intervals {intervals}'
    info = infos[0]
    fx = 884 / math.tan(math.radians(30))  # 60 degree horizontal field of view
    assert (info.width, info.height, info.distortion_model) == (1768, 994, 'plumb_bob')
    assert np.allclose(info.k, [fx, 0, 883.5, 0, fx, 496.5, 0, 0, 1])
    assert np.allclose(info.p, [fx, 0, 883.5, 0, 0, fx, 496.5, 0, 0, 0, 1, 0])
    assert np.allclose(info.r, np.eye(3).ravel()) and list(info.d) == [0.0] * 5


def test_resized_rgb8_and_compressed(ros_node, demo_video, demo_frames):
    node, executor = ros_node
    images = subscribe(node, Image, 'image')
    jpegs = subscribe(node, CompressedImage, 'image/compressed')
    infos = subscribe(node, CameraInfo, 'camera_info')
    code, log = run_publisher(executor, {
        'source': demo_video, 'max_frames': 3, 'rate': 20.0, 'encoding': 'rgb8',
        'width': 640, 'publish_compressed': True, 'jpeg_quality': 95,
        'focal_length_px': 500.0, 'wait_for_subscribers': 2})  # one raw + one JPEG
    assert code == 0, log
    assert 'starting anyway' not in log, log
    assert len(images) == 3 and len(jpegs) == 3 and len(infos) == 3, log
    for index, (msg, jpeg) in enumerate(zip(images, jpegs, strict=True)):
        # 1768x994 at width 640 keeps the aspect: 359.8 -> 360 rows.
        assert (msg.width, msg.height, msg.encoding) == (640, 360, 'rgb8')
        expected = cv2.resize(demo_frames[index], (640, 360), interpolation=cv2.INTER_AREA)
        pixels, order = image_to_array(msg)
        assert order == 'rgb'
        assert np.array_equal(pixels, cv2.cvtColor(expected, cv2.COLOR_BGR2RGB))
        assert jpeg.header == msg.header and jpeg.format == 'rgb8; jpeg compressed bgr8'
        decoded, _ = compressed_to_array(jpeg)
        assert cv2.PSNR(decoded, expected) > 35
    assert (infos[0].width, infos[0].height) == (640, 360)
    assert np.allclose(infos[0].k, [500, 0, 319.5, 0, 500, 179.5, 0, 0, 1])


@pytest.mark.parametrize('params', [{}, {'depth_encoding': '32FC1', 'width': 320}],
                         ids=['16UC1', '32FC1 at half size'])
def test_an_rgbd_folder_plays_as_an_aligned_rgbd_camera(ros_node, repo, params):
    """Colour on image, its registered depth on depth/image, the folder's intrinsics on both
    camera infos: four topics with the same header, as a driver's aligned topics."""
    from rgbd import FRAMES, camera_json, colour, depth_mm

    node, executor = ros_node
    topics = {'image': Image, 'camera_info': CameraInfo, 'depth/image': Image,
              'depth/camera_info': CameraInfo}
    received = {topic: subscribe(node, msg_type, topic) for topic, msg_type in topics.items()}
    code, log = run_publisher(executor, {
        'source': repo / 'test' / 'data' / 'rgbd', 'rate': 10.0, 'frame_id': 'rgbd_optical',
        'wait_for_subscribers': 1, **params})
    assert code == 0, log
    encoding = params.get('depth_encoding', '16UC1')
    assert f'with {encoding} depth on /depth/image' in log
    assert all(len(msgs) == len(FRAMES) for msgs in received.values()), log
    headers = [m.header for m in received['image']]
    for msgs in received.values():
        assert [m.header for m in msgs] == headers
    assert headers[0].frame_id == 'rgbd_optical'
    width = params.get('width', 640)
    scale = width / 640
    info = camera_json()
    for topic in ('camera_info', 'depth/camera_info'):
        k = received[topic][0].k
        assert (received[topic][0].width, received[topic][0].height) == (width, 480 * scale)
        np.testing.assert_allclose(k, [info['fx'] * scale, 0, (info['cx'] + 0.5) * scale - 0.5,
                                       0, info['fy'] * scale, (info['cy'] + 0.5) * scale - 0.5,
                                       0, 0, 1])
    for name, image, depth in zip(FRAMES, received['image'], received['depth/image'],
                                  strict=True):
        assert (depth.encoding, depth.width, depth.height) == (encoding, width, 480 * scale)
        expected_mm = cv2.resize(depth_mm(name), (width, round(480 * scale)),
                                 interpolation=cv2.INTER_NEAREST)
        received_depth = depth_msg_to_image(depth)
        if encoding == '16UC1':  # the file's millimetres, exactly
            assert np.array_equal(received_depth.data, expected_mm)
        else:  # its metres, NaN where the file has no reading; no reading blended in
            np.testing.assert_allclose(received_depth.data,
                                       np.where(expected_mm > 0, expected_mm * 0.001, np.nan),
                                       rtol=1e-6)
        if not params:
            assert np.array_equal(image_to_array(image)[0], colour(name))


def test_image_folder_in_name_order_with_loop_and_max_frames(ros_node, demo_frames, tmp_path):
    node, executor = ros_node
    images = subscribe(node, Image, 'image')
    stills = {name: cv2.resize(demo_frames[i], (160, 90), interpolation=cv2.INTER_AREA)
              for i, name in enumerate(['b.png', 'a.png', 'c.PNG'])}
    for name, still in stills.items():
        assert cv2.imwrite(str(tmp_path / name), still)
    (tmp_path / 'notes.txt').write_text('not an image')
    code, log = run_publisher(executor, {
        'source': tmp_path, 'rate': 20.0, 'loop': True, 'max_frames': 7,
        'wait_for_subscribers': 1})
    assert code == 0, log
    order = ['a.png', 'b.png', 'c.PNG'] * 3
    assert len(images) == 7, log
    for msg, name in zip(images, order, strict=False):
        assert np.array_equal(image_to_array(msg)[0], stills[name]), name


def test_a_folder_plays_once_and_exits_zero(ros_node, demo_frames, tmp_path):
    node, executor = ros_node
    images = subscribe(node, Image, 'image')
    for i in range(3):
        cv2.imwrite(str(tmp_path / f'{i:03d}.jpg'), demo_frames[i][:64, :96])
    code, log = run_publisher(executor, {'source': tmp_path, 'rate': 30.0, 'encoding': 'mono8',
                                         'wait_for_subscribers': 1})
    assert code == 0, log
    assert 'end of source: published 3 frame(s) of 96x64 mono8' in log
    assert [(m.encoding, m.width, m.height) for m in images] == [('mono8', 96, 64)] * 3


def test_ctrl_c_exits_zero_with_a_summary(ros_node, demo_video):
    node, executor = ros_node
    images = subscribe(node, Image, 'image')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'movenet_ros.nodes.video_publisher', '--ros-args', '-p',
         f'source:={demo_video}', '-p', 'loop:=true', '-p', 'width:=320'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert spin_until(node, executor, lambda: len(images) >= 3, 30.0)
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, output
    assert 'interrupted: published' in output and 'Failed' not in output, output


@pytest.mark.parametrize(('params', 'expected'), [
    ({'source': '/no/such/video.mp4'}, '/no/such/video.mp4 does not exist'),
    ({}, "parameter 'source' is not set"),
    ({'source': '/dev/video97'}, 'camera device /dev/video97 does not exist'),
    ({'source': '{demo}', 'encoding': 'yuv422'},
     "parameter encoding: 'yuv422' is not one of bgr8, rgb8, mono8"),
    ({'source': '{demo}', 'image_qos_reliability': 'sometimes'},
     "parameter image_qos_reliability: 'sometimes' is not one of reliable, best_effort"),
    ({'source': '{demo}', 'rate': 5}, 'needs a decimal point, e.g. rate:=5.0'),
    ({'source': '{demo}', 'width': -1}, 'Parameter width out of range'),
])
def test_bad_configuration_exits_2_with_a_message(demo_video, tmp_path, params, expected):
    params = {k: str(v).replace('{demo}', str(demo_video)) if k == 'source' else v
              for k, v in params.items()}
    cmd = [sys.executable, '-m', 'movenet_ros.nodes.video_publisher', '--ros-args']
    for name, value in params.items():
        cmd += ['-p', f'{name}:={ros_arg(value)}']
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr


def test_unreadable_files_are_reported(tmp_path):
    bogus = tmp_path / 'clip.mp4'
    bogus.write_bytes(b'not a video at all' * 100)
    (tmp_path / 'empty').mkdir()
    for source, expected in ((bogus, f'cannot open {bogus} as a video'),
                             (tmp_path / 'empty', 'holds no images')):
        proc = subprocess.run([sys.executable, '-m', 'movenet_ros.nodes.video_publisher',
                               '--ros-args', '-p', f'source:={source}'],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and expected in proc.stderr, proc.stderr


# --- Fast DDS profile for large images ---------------------------------------------------

def test_profile_declares_a_large_shared_memory_segment(repo):
    ns = {'p': 'http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles'}
    root = ET.parse(repo / 'config' / 'fastdds_large_images.xml').getroot()
    shm = [d for d in root.iterfind('.//p:transport_descriptor', ns)
           if d.findtext('p:type', namespaces=ns) == 'SHM']
    assert len(shm) == 1 and int(shm[0].findtext('p:segment_size', namespaces=ns)) == 64 << 20
    participant = root.find('.//p:participant', ns)
    assert participant.get('is_default_profile') == 'true'
    assert participant.findtext('.//p:useBuiltinTransports', namespaces=ns) == 'false'
    used = [t.text for t in participant.iterfind('.//p:userTransports/p:transport_id', ns)]
    kinds = {d.findtext('p:transport_id', namespaces=ns): d.findtext('p:type', namespaces=ns)
             for d in root.iterfind('.//p:transport_descriptor', ns)}
    assert sorted(kinds[t] for t in used) == ['SHM', 'UDPv4']


def test_full_hd_frames_reach_a_best_effort_subscriber_with_the_profile(ros_node, repo,
                                                                        demo_video):
    """Measured without the profile on the publisher: 2-5 of 10 such frames arrive."""
    node, executor = ros_node
    sizes = []
    node.create_subscription(Image, 'image', lambda m: sizes.append(len(m.data)), BEST_EFFORT)
    env = dict(os.environ, FASTRTPS_DEFAULT_PROFILES_FILE=str(
        pathlib.Path(repo, 'config', 'fastdds_large_images.xml')))
    code, log = run_publisher(executor, {
        'source': demo_video, 'width': 1920, 'height': 1080, 'rate': 5.0, 'max_frames': 10,
        'image_qos_reliability': 'best_effort', 'wait_for_subscribers': 1}, env=env)
    assert code == 0, log
    assert len(sizes) >= 9, f'only {len(sizes)} of 10 full-HD frames arrived\n{log}'
    assert set(sizes) == {1920 * 1080 * 3}


# --- the ROS-free frame sources ----------------------------------------------------------

def test_video_source_reports_rate_size_and_rewinds(demo_video, demo_frames):
    with open_frame_source(demo_video) as source:
        assert (source.kind, source.fps, source.size, source.frame_count) == \
            ('video', 30.0, (1768, 994), 230)
        first = [source.read() for _ in range(3)]
        assert all(np.array_equal(a, b) for a, b in zip(first, demo_frames, strict=False))
        source.rewind()
        assert np.array_equal(source.read(), demo_frames[0])
        assert sum(1 for _ in source) == 229


def test_image_sources_and_errors(tmp_path, demo_frames):
    cv2.imwrite(str(tmp_path / 'one.bmp'), demo_frames[0][:8, :8])
    with open_frame_source(tmp_path / 'one.bmp') as source:
        assert (source.kind, source.frame_count, source.size) == ('images', 1, (8, 8))
        assert [f.shape for f in source] == [(8, 8, 3)]
    (tmp_path / 'two.jpg').write_bytes(b'garbage')
    with pytest.raises(ValueError, match=r'two\.jpg'):
        list(open_frame_source(tmp_path))  # one.bmp, then the corrupt two.jpg
    with pytest.raises(FileNotFoundError, match='nope'):
        open_frame_source(tmp_path / 'nope')
    with pytest.raises(ValueError, match='no source given'):
        open_frame_source('  ')


def test_output_size_keeps_the_aspect_when_one_side_is_set():
    assert output_size((1768, 994)) == (1768, 994)
    assert output_size((1768, 994), 640) == (640, 360)
    assert output_size((1768, 994), 0, 497) == (884, 497)
    assert output_size((1768, 994), 100, 100) == (100, 100)


def test_udp_profile_is_udp_only_with_large_socket_buffers(repo):
    """config/fastdds_udp_large_images.xml (across machines): UDPv4 only, 4 MB buffers."""
    ns = {'p': 'http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles'}
    root = ET.parse(repo / 'config' / 'fastdds_udp_large_images.xml').getroot()
    participant = root.find('.//p:participant', ns)
    assert participant.get('is_default_profile') == 'true'
    assert participant.findtext('.//p:useBuiltinTransports', namespaces=ns) == 'false'
    used = [t.text for t in participant.iterfind('.//p:userTransports/p:transport_id', ns)]
    descriptors = {d.findtext('p:transport_id', namespaces=ns): d
                   for d in root.iterfind('.//p:transport_descriptor', ns)}
    assert [descriptors[t].findtext('p:type', namespaces=ns) for t in used] == ['UDPv4']
    for key in ('sendBufferSize', 'receiveBufferSize'):
        assert int(descriptors[used[0]].findtext(f'p:{key}', namespaces=ns)) == 4 << 20
