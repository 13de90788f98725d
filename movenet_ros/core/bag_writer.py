# SPDX-License-Identifier: Apache-2.0
"""Write pose results into a ROS 2 bag (rosbag2: MCAP or sqlite3 storage), without ROS.

Per processed image, with that image's header: the ``movenet_ros/PersonPoseArray``, the RViz
``MarkerArray`` and the two image markers (bones, keypoints), on the topics the node publishes
them on; optionally the input image itself. What the node would publish live is what the bag
holds (the messages come from :mod:`movenet_ros.core.messages`, shared with the node), so
``ros2 bag play`` of it looks like the node running, and Foxglove opens it as it is.

Every topic records the QoS its publisher offers, as ``ros2 bag record`` stores it:
discovery carries no history or depth, so they read ``unknown`` and 0; ``ros2 bag play``
publishes with the recorded reliability and durability.

Messages are stamped in the bag (receive time) with ``log_time_ns``: give the input image's
own log time to keep outputs next to the camera frames they came from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import pathlib
from typing import Any

import numpy as np
from rosbags.interfaces import (
    Connection,
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError

from movenet_ros.core.bag_messages import BagTypes
from movenet_ros.core.camera import Pinhole
from movenet_ros.core.image_codec import ImageConversionError, encode_compressed
from movenet_ros.core.messages import (
    IMAGE_MARKER,
    MARKER_ARRAY,
    POSE_ARRAY,
    image_marker_msgs,
    marker_array_msg,
    pose_array_msg,
)
from movenet_ros.core.overlay import DEFAULT_MARKER_DEPTH, DEFAULT_MARKER_LINE_WIDTH
from movenet_ros.core.results import PoseResult

STORAGES: dict[str, StoragePlugin] = {'mcap': StoragePlugin.MCAP,
                                      'sqlite3': StoragePlugin.SQLITE3}
DEFAULT_STORAGE = 'mcap'
IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE = 'sensor_msgs/msg/CompressedImage'
# The rosbag2 metadata version ROS 2 Jazzy writes.
BAG_VERSION = 9
# RMW's "infinite" duration, as recorded for deadline, lifespan and lease duration.
_INFINITE = QosTime(sec=9223372036, nsec=854775807)


class BagWriteError(RuntimeError):
    """The bag cannot be created or written; the message says why."""


def offered_qos(reliable: bool = True, transient_local: bool = False) -> Qos:
    """A publisher's QoS as ``ros2 bag record`` records it (history and depth unknown)."""
    return Qos(history=QosHistory.UNKNOWN, depth=0,
               reliability=QosReliability.RELIABLE if reliable else QosReliability.BEST_EFFORT,
               durability=(QosDurability.TRANSIENT_LOCAL if transient_local
                           else QosDurability.VOLATILE),
               deadline=_INFINITE, lifespan=_INFINITE, liveliness=QosLiveliness.AUTOMATIC,
               liveliness_lease_duration=_INFINITE, avoid_ros_namespace_conventions=False)


RELIABLE = offered_qos(reliable=True)


@dataclass(frozen=True)
class OutputTopics:
    """Where each output goes: the node's topic names, resolved in the root namespace."""

    poses: str = '/poses'
    markers: str = '/pose_markers'
    image_bones: str = '/image_markers/bones'
    image_keypoints: str = '/image_markers/keypoints'

    def under(self, namespace: str) -> OutputTopics:
        """The same topics in ``namespace`` (e.g. '/robot1'), as a namespaced node has them."""
        ns = '/' + namespace.strip('/') if namespace.strip('/') else ''
        return replace(self, **{name: ns + getattr(self, name)
                                for name in self.__dataclass_fields__})


@dataclass(frozen=True)
class MarkerSettings:
    """How RViz markers are drawn (the node's marker_depth and marker_line_width)."""

    depth: float = DEFAULT_MARKER_DEPTH
    line_width: float = DEFAULT_MARKER_LINE_WIDTH


class PoseBagWriter:
    """A new rosbag2 at ``path`` (a folder, created; it must not exist), written frame by frame.

    Use as a context manager, or call :meth:`close`: closing writes the index and
    ``metadata.yaml``, and also happens when the run stops on an error, so everything written
    until then stays readable.
    """

    def __init__(self, path: str | pathlib.Path, storage: str = DEFAULT_STORAGE,
                 topics: OutputTopics = OutputTopics(),
                 markers: MarkerSettings = MarkerSettings(),
                 types: BagTypes | None = None) -> None:
        if storage not in STORAGES:
            raise BagWriteError(f'bag storage {storage!r} is not one of '
                                f'{", ".join(STORAGES)}')
        self.path = pathlib.Path(path)
        self.storage = storage
        self.topics = topics
        self.markers = markers
        self.types = types if types is not None else BagTypes()
        self.counts: dict[str, int] = {}
        self._connections: dict[str, Connection] = {}
        if self.path.exists():
            raise BagWriteError(f'{self.path} exists already; a bag is written into a new '
                                'folder (remove it or choose another)')
        self._writer = Writer(self.path, version=BAG_VERSION, storage_plugin=STORAGES[storage])
        try:
            self._writer.open()
        except (OSError, WriterError) as exc:
            raise BagWriteError(f'cannot create the bag {self.path}: {exc}') from exc

    @property
    def files(self) -> list[pathlib.Path]:
        """The storage file(s) of the bag (one .mcap or .db3)."""
        return sorted(p for p in self.path.iterdir() if p.suffix in ('.mcap', '.db3'))

    def _connection(self, topic: str, msgtype: str, qos: Qos) -> Connection:
        connection = self._connections.get(topic)
        if connection is None:
            msgdef, digest = self.types.definition(msgtype)
            connection = self._writer.add_connection(
                topic, msgtype, msgdef=msgdef, rihs01=digest, offered_qos_profiles=[qos])
            self._connections[topic] = connection
        elif connection.msgtype != msgtype:
            raise BagWriteError(f'topic {topic} holds {connection.msgtype}, not {msgtype}')
        return connection

    def write_serialized(self, topic: str, msgtype: str, data: bytes | memoryview,
                         log_time_ns: int, qos: Qos = RELIABLE) -> None:
        """One message already serialised to CDR (e.g. by rclpy, or copied from a bag)."""
        connection = self._connection(topic, msgtype, qos)
        try:
            self._writer.write(connection, int(log_time_ns), data)
        except (OSError, WriterError) as exc:
            raise BagWriteError(f'cannot write to the bag {self.path}: {exc}') from exc
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def write_message(self, topic: str, msg: Any, log_time_ns: int,
                      qos: Qos = RELIABLE) -> None:
        """One rosbags message object (see :class:`BagTypes`)."""
        self.write_serialized(topic, msg.__msgtype__, self.types.serialize(msg), log_time_ns,
                              qos)

    def write_result(self, result: PoseResult, stamp_ns: int, frame_id: str,
                     log_time_ns: int, camera: Pinhole | None = None) -> None:
        """The outputs of one processed image: poses, markers, image markers.

        ``stamp_ns`` and ``frame_id`` are the image's header; ``camera`` places the markers
        (default: the node's assumed camera for the image size).
        """
        header = self.types.header(stamp_ns, frame_id)
        camera = camera if camera is not None else Pinhole.default(result.image_size)
        t = self.topics
        self.write_message(t.poses, pose_array_msg(self.types, result, header), log_time_ns)
        self.write_message(t.markers, marker_array_msg(
            self.types, result.poses, header, camera, self.markers.depth,
            result.keypoint_threshold, self.markers.line_width), log_time_ns)
        bones, keypoints = image_marker_msgs(self.types, result.poses, header,
                                             result.keypoint_threshold, result.image_size)
        self.write_message(t.image_bones, bones, log_time_ns)
        self.write_message(t.image_keypoints, keypoints, log_time_ns)

    def write_image(self, topic: str, image: np.ndarray, channel_order: str, stamp_ns: int,
                    frame_id: str, log_time_ns: int, qos: Qos = RELIABLE) -> None:
        """An input image (HxWx3 uint8, 'bgr' or 'rgb') as a ``sensor_msgs/Image``."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise BagWriteError(f'images are written from HxWx3 uint8 arrays, got '
                                f'{image.dtype} {image.shape}')
        height, width = image.shape[:2]
        msg = self.types.new(
            IMAGE, header=self.types.header(stamp_ns, frame_id), height=height, width=width,
            encoding=f'{channel_order}8', step=width * 3,
            data=np.ascontiguousarray(image).reshape(-1))
        self.write_message(topic, msg, log_time_ns, qos)

    def write_compressed(self, topic: str, image: np.ndarray, stamp_ns: int, frame_id: str,
                         log_time_ns: int, quality: int = 90, qos: Qos = RELIABLE) -> None:
        """An input image (HxWx3 uint8 BGR) as a JPEG ``sensor_msgs/CompressedImage``, as
        image_transport's compressed publisher sends it (a tenth of the raw size)."""
        try:
            fmt, data = encode_compressed(image, 'jpeg', quality)
        except ImageConversionError as exc:
            raise BagWriteError(f'cannot write an image to {topic}: {exc}') from exc
        msg = self.types.new(COMPRESSED_IMAGE, header=self.types.header(stamp_ns, frame_id),
                             format=fmt, data=data)
        self.write_message(topic, msg, log_time_ns, qos)

    def close(self) -> None:
        """Finish the bag (index, metadata.yaml). Idempotent."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            try:
                writer.close()
            except (OSError, WriterError) as exc:
                raise BagWriteError(f'cannot finish the bag {self.path}: {exc}') from exc

    def __enter__(self) -> PoseBagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ['COMPRESSED_IMAGE', 'DEFAULT_STORAGE', 'IMAGE', 'IMAGE_MARKER', 'MARKER_ARRAY',
           'POSE_ARRAY', 'RELIABLE', 'STORAGES', 'BagWriteError', 'MarkerSettings',
           'OutputTopics', 'PoseBagWriter', 'offered_qos']
