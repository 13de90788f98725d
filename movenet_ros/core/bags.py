# SPDX-License-Identifier: Apache-2.0
"""Camera images from ROS 2 bags (rosbag2: MCAP or sqlite3 storage), without ROS.

:class:`RosBag` opens a rosbag2 folder (``ros2 bag record`` output) or a single ``.mcap`` /
``.db3`` file with the pure-Python ``rosbags`` library, lists its image topics
(``sensor_msgs/Image`` and ``sensor_msgs/CompressedImage``) and yields their frames with the
header stamp and frame id. Images are decoded by the same duck-typed functions the node uses
(:mod:`movenet_ros.core.image_codec`), so a frame reads the same from a bag as
from a live topic.

Damaged bags lose nothing that is still there. A recording that was killed leaves a folder
without ``metadata.yaml`` and an MCAP file without its index and footer; a copy cut short
ends in the middle of a record; a disk error corrupts a chunk. Then the storage files are read
record by record (MCAP) or row by row (sqlite3), every message that is whole is yielded, and
each problem is described in :attr:`RosBag.damage` (what was lost, and where); the readers
are in :mod:`movenet_ros.core.bag_storage`. A message that cannot be decoded is yielded as a
:class:`BagFrame` with ``error`` set, and reading goes on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
import pathlib
import struct

import numpy as np
from rosbags.serde import SerdeError
from rosbags.typesys import Stores, get_typestore

from movenet_ros.core.bag_storage import (
    IMAGE,
    IMAGE_TYPES,
    STORAGE_ERRORS,
    BagMessage,
    BagReadError,
    BagTopic,
    IndexedStorage,
    Storage,
    scan_storage,
)
from movenet_ros.core.image_codec import (
    ImageConversionError,
    compressed_to_array,
    image_to_array,
)
from movenet_ros.core.image_headers import DEFAULT_MAX_IMAGE_PIXELS
from movenet_ros.core.media import BAG_SUFFIXES

# Undecodable CDR (a cut or corrupt message).
_DECODE_ERRORS = (SerdeError, struct.error, ValueError, IndexError, KeyError, TypeError,
                  AssertionError)


@dataclass
class BagFrame:
    """One image message of a bag, decoded.

    ``image`` is HxW(x3|4) uint8 in ``channel_order`` ('rgb' or 'bgr'), or None when the
    message could not be decoded (``error`` says why). ``stamp_ns`` and ``frame_id`` are the
    image header's; ``index`` counts the topic's messages read (bad ones too), from 0;
    ``message`` is the stored message, for copying it into another bag unchanged.
    """

    topic: str
    index: int
    message: BagMessage
    stamp_ns: int = 0
    frame_id: str = ''
    image: np.ndarray | None = None
    channel_order: str = 'bgr'
    error: str | None = None

    @property
    def log_time_ns(self) -> int:
        return self.message.log_time_ns

class RosBag:
    """A rosbag2 folder, or one .mcap/.db3 file, opened for reading images.

    ``topics`` maps every topic name to its :class:`BagTopic`; ``image_topics`` lists the
    image ones. ``damage`` lists what was found wrong with the storage, one sentence each;
    empty for a sound bag. Raises :class:`BagReadError` when nothing can be read at all.
    """

    def __init__(self, path: str | pathlib.Path,
                 max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> None:
        self.path = pathlib.Path(path)
        self.max_pixels = max_pixels
        self.damage: list[str] = []
        self._reported: dict[int, int] = {}  # per storage, its problems already in damage
        self._types = get_typestore(Stores.ROS2_JAZZY)
        self._storages: list[Storage] = []
        # Per storage, the files to read record by record if reading it fails part way.
        self._fallbacks: dict[int, list[pathlib.Path]] = {}
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        if not self._storages:
            raise BagReadError(f'{self.path}: no readable storage file: '
                               f'{"; ".join(self.damage)}')
        self.topics: dict[str, BagTopic] = {}
        for storage in self._storages:
            for topic in storage.topics:
                known = self.topics.get(topic.name)
                if known is None:
                    self.topics[topic.name] = topic
                else:  # the same topic in several files: counts add up, if all are known
                    count = (None if known.count is None or topic.count is None
                             else known.count + topic.count)
                    self.topics[topic.name] = replace(known, count=count)
        if not self.topics and self.damage:
            self.close()
            raise BagReadError(f'{self.path}: nothing readable in it: {"; ".join(self.damage)}')

    @property
    def image_topics(self) -> list[BagTopic]:
        return sorted((t for t in self.topics.values() if t.is_image), key=lambda t: t.name)

    @property
    def storage_files(self) -> list[pathlib.Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.iterdir() if p.suffix in BAG_SUFFIXES)
        return [self.path]

    def _open(self) -> None:
        path = self.path
        if not path.exists():
            raise BagReadError(f'{path}: no such file or folder')
        if path.is_dir():
            files = self.storage_files
            if (path / 'metadata.yaml').is_file():
                try:
                    self._add(IndexedStorage(path), files)
                    return
                except STORAGE_ERRORS as exc:
                    self._note(f'{path}: {exc}; its storage files are read one by one')
            elif files:
                self._note(f'{path} has no metadata.yaml (a recording that did not '
                                   'finish?): its storage files are read one by one')
            if not files:
                raise BagReadError(f'{path}: not a rosbag2 folder (no metadata.yaml, no '
                                   f'{" or ".join(BAG_SUFFIXES)} file in it)')
        elif path.suffix not in BAG_SUFFIXES:
            raise BagReadError(f'{path}: not a bag (a rosbag2 folder, or a '
                               f'{" or ".join(BAG_SUFFIXES)} file, is expected)')
        else:
            files = [path]
        for file in files:
            try:
                self._add(IndexedStorage(file), [file])
                continue
            except STORAGE_ERRORS as exc:
                first = f'{file}: rosbags cannot open it ({exc})'
            try:
                scan = scan_storage(file)
            except BagReadError as exc:
                self._note(f'{first}; {exc}')
                continue
            except STORAGE_ERRORS as exc:
                self._note(f'{first}; cannot be read record by record either ({exc})')
                continue
            self._note(f'{first}; it is read record by record')
            self._add(scan, [])
            self._report(scan)

    def _add(self, storage: Storage, fallback: list[pathlib.Path]) -> None:
        self._fallbacks[id(storage)] = fallback
        self._storages.append(storage)

    def _note(self, sentence: str) -> None:
        """Add a problem to ``damage``, once (reading a topic again finds it again)."""
        if sentence not in self.damage:
            self.damage.append(sentence)

    def _report(self, storage: Storage) -> None:
        """Add the storage's problems found since the last report to ``damage``."""
        done = self._reported.get(id(storage), 0)
        for problem in storage.problems[done:]:
            self._note(f'{storage.name}: {problem}')
        self._reported[id(storage)] = len(storage.problems)

    def messages(self, topics: set[str] | list[str]) -> Iterator[BagMessage]:
        """The messages of ``topics`` as stored, storage by storage, in time order within
        each. If a storage fails part way, its files are read again record by record from
        the start and the messages already yielded are skipped."""
        topics = set(topics)
        for storage in self._storages:
            yielded: Counter = Counter()
            try:
                for message in storage.messages(topics):
                    yielded[message.topic, message.log_time_ns, len(message.data)] += 1
                    yield message
                continue
            except STORAGE_ERRORS as exc:
                self._note(f'{storage.name}: reading stopped part way ({exc})')
            finally:
                self._report(storage)
            for file in self._fallbacks.get(id(storage), []):
                try:
                    scan = scan_storage(file)
                except (BagReadError, *STORAGE_ERRORS) as exc:
                    self._note(f'{file}: cannot be read record by record ({exc})')
                    continue
                self._note(f'{file}: read again record by record, skipping the '
                                   'messages already read')
                try:
                    for message in scan.messages(topics):
                        key = message.topic, message.log_time_ns, len(message.data)
                        if yielded[key]:
                            yielded[key] -= 1
                            continue
                        yield message
                finally:
                    self._report(scan)
                    scan.close()

    def frames(self, topic: str) -> Iterator[BagFrame]:
        """Every message of the image topic ``topic``, decoded (see :class:`BagFrame`)."""
        info = self.topics.get(topic)
        if info is None:
            raise BagReadError(f'{self.path}: no topic {topic}; image topics: '
                               f'{", ".join(t.name for t in self.image_topics) or "none"}')
        if not info.is_image:
            raise BagReadError(f'{self.path}: {topic} holds {info.msgtype}, not an image '
                               f'({" or ".join(IMAGE_TYPES)})')
        for index, message in enumerate(self.messages({topic})):
            yield self._decode(index, message)

    def _decode(self, index: int, message: BagMessage) -> BagFrame:
        frame = BagFrame(topic=message.topic, index=index, message=message)
        try:
            msg = self._types.deserialize_cdr(message.data, message.msgtype)
        except _DECODE_ERRORS as exc:
            frame.error = (f'{message.topic} message {index} cannot be decoded as '
                           f'{message.msgtype} ({type(exc).__name__}: {exc})')
            return frame
        frame.stamp_ns = int(msg.header.stamp.sec) * 10**9 + int(msg.header.stamp.nanosec)
        frame.frame_id = msg.header.frame_id
        try:
            if message.msgtype == IMAGE:
                frame.image, frame.channel_order = image_to_array(msg, self.max_pixels)
            else:
                frame.image, frame.channel_order = compressed_to_array(msg, self.max_pixels)
        except ImageConversionError as exc:
            frame.error = f'{message.topic} message {index}: {exc}'
        return frame

    def close(self) -> None:
        for storage in self._storages:
            storage.close()
        self._storages = []

    def __enter__(self) -> RosBag:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
