# SPDX-License-Identifier: Apache-2.0
"""Camera bags made from the real demo footage, as ``ros2 bag record`` would have saved them.

Written with rosbags' own writer and types (not the project's bag writer), so the reader is
tested on bags it did not make: a raw ``sensor_msgs/Image`` topic (bgr8) and a JPEG
``sensor_msgs/CompressedImage`` topic of the same frames, each message stamped at capture time
and logged a few milliseconds later, as a recorder receives it.
"""

from __future__ import annotations

from dataclasses import dataclass
import pathlib

import cv2
import numpy as np
from rosbags import interfaces as bag_types
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from movenet_ros.core.keypoints import SKELETON

RAW_TOPIC = '/camera/color/image_raw'
COMPRESSED_TOPIC = '/camera/color/image_raw/compressed'
INFO_TOPIC = '/camera/color/camera_info'
FRAME_ID = 'camera_color_optical_frame'
START_NS = 1_767_225_600_123_456_789  # 2026-01-01, with nanoseconds that must survive
PERIOD_NS = 33_333_333                # 30 fps
LOG_DELAY_NS = 7_000_000              # receive time after capture
STORAGES = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
_INFINITE = bag_types.QosTime(9223372036, 854775807)
# A camera driver's sensor-data publisher, as a recorder discovers it.
CAMERA_QOS = bag_types.Qos(
    bag_types.QosHistory.UNKNOWN, 0, bag_types.QosReliability.BEST_EFFORT,
    bag_types.QosDurability.VOLATILE, _INFINITE, _INFINITE, bag_types.QosLiveliness.AUTOMATIC,
    _INFINITE, False)


@dataclass
class RecordedFrame:
    """What a frame of the camera bag holds: the BGR pixels, JPEG bytes and its times."""

    bgr: np.ndarray
    jpeg: bytes
    stamp_ns: int
    log_time_ns: int


def make_camera_bag(path: pathlib.Path, frames: list[np.ndarray], storage: str = 'mcap',
                    with_info: bool = True, zstd_chunks: bool = False) -> list[RecordedFrame]:
    """Write ``frames`` (BGR) to a new bag folder ``path`` on RAW_TOPIC and COMPRESSED_TOPIC
    (plus a camera_info topic, which is not an image); returns what was written. Every
    message has its own log time. ``zstd_chunks``: MCAP chunks compressed, as ``ros2 bag
    record`` can write them."""
    store = get_typestore(Stores.ROS2_JAZZY)
    Image = store.types['sensor_msgs/msg/Image']  # noqa: N806 (message classes)
    Compressed = store.types['sensor_msgs/msg/CompressedImage']  # noqa: N806
    Header = store.types['std_msgs/msg/Header']  # noqa: N806
    Time = store.types['builtin_interfaces/msg/Time']  # noqa: N806
    Info = store.types['sensor_msgs/msg/CameraInfo']  # noqa: N806
    Roi = store.types['sensor_msgs/msg/RegionOfInterest']  # noqa: N806
    written = []
    writer = Writer(path, version=9, storage_plugin=STORAGES[storage])
    if zstd_chunks:
        writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    with writer:
        raw = writer.add_connection(RAW_TOPIC, Image.__msgtype__, typestore=store,
                                    offered_qos_profiles=[CAMERA_QOS])
        jpeg = writer.add_connection(COMPRESSED_TOPIC, Compressed.__msgtype__, typestore=store,
                                     offered_qos_profiles=[CAMERA_QOS])
        info = writer.add_connection(INFO_TOPIC, Info.__msgtype__, typestore=store,
                                     offered_qos_profiles=[CAMERA_QOS]) if with_info else None
        for index, bgr in enumerate(frames):
            stamp = START_NS + index * PERIOD_NS
            log_time = stamp + LOG_DELAY_NS
            header = Header(stamp=Time(sec=stamp // 10**9, nanosec=stamp % 10**9),
                            frame_id=FRAME_ID)
            h, w = bgr.shape[:2]
            msg = Image(header=header, height=h, width=w, encoding='bgr8', is_bigendian=0,
                        step=w * 3, data=np.ascontiguousarray(bgr).reshape(-1))
            writer.write(raw, log_time, store.serialize_cdr(msg, Image.__msgtype__))
            ok, encoded = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
            assert ok
            cmsg = Compressed(header=header, format='bgr8; jpeg compressed bgr8',
                              data=encoded.reshape(-1))
            writer.write(jpeg, log_time + 1000, store.serialize_cdr(cmsg, Compressed.__msgtype__))
            if info is not None:
                imsg = Info(header=header, height=h, width=w, distortion_model='plumb_bob',
                            d=np.zeros(5),
                            k=np.array([1000.0, 0, w / 2, 0, 1000.0, h / 2, 0, 0, 1]),
                            r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0,
                            roi=Roi(x_offset=0, y_offset=0, height=0, width=0,
                                    do_rectify=False))
                writer.write(info, log_time + 2000, store.serialize_cdr(imsg, Info.__msgtype__))
            written.append(RecordedFrame(bgr, encoded.tobytes(), stamp, log_time))
    return written


def storage_file(bag: pathlib.Path) -> pathlib.Path:
    """The one .mcap or .db3 file of a bag folder."""
    (file,) = [p for p in bag.iterdir() if p.suffix in ('.mcap', '.db3')]
    return file


def check_pose_array(msg, result, stamp: int, frame_id: str) -> None:
    """Every field of a decoded PersonPoseArray against the result it was written from."""
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == divmod(stamp, 10**9)
    assert msg.header.frame_id == frame_id
    assert (msg.image_width, msg.image_height) == result.image_size == (1768, 994)
    assert msg.model == result.model
    assert msg.keypoint_threshold == np.float32(result.keypoint_threshold)
    assert len(msg.persons) == len(result.poses)
    for person, pose in zip(msg.persons, result.poses, strict=True):
        assert person.id == pose.id
        assert person.score == np.float32(pose.score)
        assert (person.x_min, person.y_min, person.x_max, person.y_max) == tuple(
            np.float32(v) for v in pose.box)
        assert len(person.keypoints) == 17
        for kp, (x, y, score) in zip(person.keypoints, pose.keypoints, strict=True):
            assert (kp.x, kp.y, kp.score) == (np.float32(x), np.float32(y), np.float32(score))
            assert (kp.position.x, kp.position.y, kp.position.z, kp.position_valid) == (
                0.0, 0.0, 0.0, False)


def check_image_markers(bones, keypoints, result) -> None:
    """Both image markers of a frame: every visible keypoint (POINTS) and both ends of every
    bone between two visible keypoints (LINE_LIST), in corner-origin pixels (+0.5 px)."""
    visible = [p.visible(result.keypoint_threshold) for p in result.poses]
    points = [p.keypoints[v, :2] for p, v in zip(result.poses, visible, strict=True)]
    ends = [p.keypoints[[i for a, b, _ in SKELETON if v[a] and v[b] for i in (a, b)], :2]
            for p, v in zip(result.poses, visible, strict=True)]
    assert (bones.type, keypoints.type) == (2, 4)  # LINE_LIST, POINTS
    for marker, expected in ((keypoints, points), (bones, ends)):
        expected = np.concatenate([np.empty((0, 2)), *expected]) + 0.5
        np.testing.assert_array_equal(
            np.array([(p.x, p.y) for p in marker.points]).reshape(-1, 2), expected)
        assert len(marker.outline_colors) == len(expected)
