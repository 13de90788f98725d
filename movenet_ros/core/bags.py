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
each problem is described in :attr:`RosBag.damage` (what was lost, and where). A message that
cannot be decoded is yielded as a :class:`BagFrame` with ``error`` set, and reading goes on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
import pathlib
import sqlite3
import struct
from typing import Any

import apsw
from mcap.exceptions import McapError
from mcap.records import Channel, Chunk, Message, Schema
from mcap.stream_reader import CRCValidationError, StreamReader, breakup_chunk
import numpy as np
from rosbags.interfaces import Qos
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.rosbag2.metadata import parse_qos
from rosbags.serde import SerdeError
from rosbags.typesys import Stores, get_typestore
from zstandard import ZstdError

from movenet_ros.core.image_codec import (
    ImageConversionError,
    compressed_to_array,
    image_to_array,
)
from movenet_ros.core.image_headers import DEFAULT_MAX_IMAGE_PIXELS
from movenet_ros.core.media import BAG_SUFFIXES

try:  # rosbags' zstd: the standard library's from Python 3.14, its backport before
    from compression.zstd import ZstdError as StdZstdError
except ImportError:
    from backports.zstd import ZstdError as StdZstdError

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE = 'sensor_msgs/msg/CompressedImage'
IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)
# What a damaged storage file makes the readers raise (rosbags, mcap, sqlite3/apsw, and the
# decompressors underneath): caught at this one boundary and reported as damage.
_STORAGE_ERRORS = (ReaderError, McapError, CRCValidationError, OSError, EOFError,
                   sqlite3.Error, apsw.Error, struct.error, ValueError, KeyError, IndexError,
                   RuntimeError, MemoryError, ZstdError, StdZstdError)
# Undecodable CDR (a cut or corrupt message).
_DECODE_ERRORS = (SerdeError, struct.error, ValueError, IndexError, KeyError, TypeError,
                  AssertionError)


class BagReadError(ValueError):
    """The path is not a bag that can be opened at all; the message says why."""


@dataclass(frozen=True)
class BagTopic:
    """One topic of a bag: name, message type and message count (None: unknown)."""

    name: str
    msgtype: str
    count: int | None
    qos: tuple[Qos, ...] = ()

    @property
    def is_image(self) -> bool:
        return self.msgtype in IMAGE_TYPES


@dataclass
class BagMessage:
    """One message as stored: topic, type, log (receive) time in ns, CDR bytes."""

    topic: str
    msgtype: str
    log_time_ns: int
    data: bytes | memoryview


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


class _Storage:
    """One readable unit of a bag: its topics, its messages in order, and the problems met
    reading it (sentences, appended as they are found)."""

    name: str
    topics: list[BagTopic]
    problems: list[str]

    def messages(self, topics: set[str]) -> Iterator[BagMessage]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the files."""


class _Indexed(_Storage):
    """A bag folder or storage file that rosbags opens (metadata and index intact)."""

    def __init__(self, path: pathlib.Path) -> None:
        self.name = str(path)
        self.problems = []
        self._reader = Reader(path)
        self._reader.open()
        counts: Counter = Counter()
        kinds: dict[str, tuple[str, tuple[Qos, ...]]] = {}
        for c in self._reader.connections:
            counts[c.topic] += c.msgcount
            kinds.setdefault(c.topic, (c.msgtype, tuple(c.ext.offered_qos_profiles)))
        self.topics = [BagTopic(t, kinds[t][0], counts[t], kinds[t][1]) for t in kinds]

    def messages(self, topics: set[str]) -> Iterator[BagMessage]:
        wanted = [c for c in self._reader.connections if c.topic in topics]
        if not wanted:
            return
        for connection, timestamp, data in self._reader.messages(wanted):
            yield BagMessage(connection.topic, connection.msgtype, timestamp, data)

    def close(self) -> None:
        self._reader.close()


class _McapScan(_Storage):
    """An MCAP file read record by record, for files rosbags refuses (no footer, cut short)
    or cannot finish. Every whole message is read; a corrupt chunk is skipped."""

    def __init__(self, path: pathlib.Path) -> None:
        self.name = str(path)
        self.path = path
        self.problems: list[str] = []
        self._schemas: dict[int, str] = {}
        self._channels: dict[int, str] = {}
        counts: Counter = Counter()
        channels: dict[str, tuple[str, tuple[Qos, ...]]] = {}
        for record in self._records(self.problems):
            if isinstance(record, Channel):
                channels.setdefault(record.topic, (self._schemas.get(record.schema_id, ''),
                                                   self._qos(record)))
            elif isinstance(record, Message):
                counts[self._channels[record.channel_id]] += 1
        self.topics = [BagTopic(t, kind, counts[t], qos) for t, (kind, qos) in
                       channels.items()]

    @staticmethod
    def _qos(channel: Channel) -> tuple[Qos, ...]:
        try:
            return tuple(parse_qos(channel.metadata.get('offered_qos_profiles', '')))
        except ReaderError:
            return ()

    def _records(self, problems: list[str]) -> Iterator[Any]:
        """Schema, Channel and Message records in file order, chunks opened; what stops the
        scan (or a chunk skipped) is appended to ``problems``."""
        size = self.path.stat().st_size
        records, good_end = 0, 0
        with self.path.open('rb') as file:
            reader = StreamReader(file, emit_chunks=True, record_size_limit=size)
            try:
                for record in reader.records:
                    records += 1
                    chunk_start, good_end = good_end, file.tell()
                    if isinstance(record, Chunk):
                        try:
                            inner = breakup_chunk(record, validate_crc=True)
                        except _STORAGE_ERRORS as exc:
                            problems.append(
                                f'the chunk at bytes {chunk_start}-{good_end} is corrupt '
                                f'({exc}) and was skipped: the messages in it are lost')
                            continue
                    else:
                        inner = [record]
                    for item in inner:
                        if isinstance(item, Schema):
                            self._schemas[item.id] = item.name
                        elif isinstance(item, Channel):
                            self._channels[item.id] = item.topic
                        if isinstance(item, (Schema, Channel, Message)):
                            yield item
            except _STORAGE_ERRORS as exc:
                reason = str(exc) or type(exc).__name__
                if not records:
                    raise BagReadError(f'{self.path}: not an MCAP file ({reason})') from exc
                problems.append(f'it ends inside a record starting at byte {good_end} of '
                                f'{size} ({reason}; a cut copy or a recording that did not '
                                f'finish): the whole records before it are read, the rest '
                                f'is lost')

    def messages(self, topics: set[str]) -> Iterator[BagMessage]:
        kinds = {t.name: t.msgtype for t in self.topics}
        for record in self._records([]):
            if isinstance(record, Message):
                topic = self._channels.get(record.channel_id)
                if topic in topics:
                    yield BagMessage(topic, kinds[topic], record.log_time, record.data)


class _SqliteScan(_Storage):
    """A sqlite3 storage file read with the standard library, for files rosbags refuses or
    cannot finish (a cut copy): rows in id order while they can be read, then row by row,
    so every row that is still whole is read.

    A cut file is smaller than its header says, which sqlite calls corrupt unless
    ``writable_schema`` is on (the file is opened read-only and immutable all the same).
    """

    # Probing row by row stops after this many ids in a row that cannot be read or are
    # missing: the end of what the file still holds.
    MISSING_RUN = 1000

    def __init__(self, path: pathlib.Path) -> None:
        self.name = str(path)
        self.problems: list[str] = []
        self._db = sqlite3.connect(f'file:{path}?mode=ro&immutable=1', uri=True)
        try:
            self._db.execute('PRAGMA writable_schema = ON')
            rows = self._db.execute(
                'SELECT id, name, type, offered_qos_profiles FROM topics').fetchall()
        except sqlite3.Error as exc:
            self._db.close()
            raise BagReadError(f'{path}: not a readable rosbag2 sqlite3 file ({exc})') from exc
        try:
            counts = dict(self._db.execute(
                'SELECT topic_id, count(*) FROM messages GROUP BY topic_id').fetchall())
        except sqlite3.Error as exc:
            counts = None  # unknown: the rows cannot all be read
            self.problems.append(f'its messages cannot all be counted ({exc})')
        self._topic_names = {row[0]: row[1] for row in rows}
        self._kinds = {row[1]: row[2] for row in rows}
        self.topics = [BagTopic(name, kind, counts.get(tid, 0) if counts is not None else None,
                                self._parse_qos(qos)) for tid, name, kind, qos in rows]

    @staticmethod
    def _parse_qos(text: str) -> tuple[Qos, ...]:
        try:
            return tuple(parse_qos(text or ''))
        except ReaderError:
            return ()

    def messages(self, topics: set[str]) -> Iterator[BagMessage]:
        ids = [tid for tid, name in self._topic_names.items() if name in topics]
        if not ids:
            return
        # The blob is only read for the wanted topics (sqlite reads columns lazily).
        columns = (f'id, topic_id, timestamp, CASE WHEN topic_id IN ({",".join("?" * len(ids))}) '
                   'THEN data END')
        last = 0
        try:
            for row_id, topic_id, timestamp, data in self._db.execute(
                    f'SELECT {columns} FROM messages ORDER BY id', ids):
                last = row_id
                if data is not None:
                    yield self._message(topic_id, timestamp, data)
            return
        except sqlite3.Error as exc:
            stopped = exc
        probe, found, misses, unreadable, last_found = last + 1, 0, 0, [], last
        while misses < self.MISSING_RUN:
            try:
                row = self._db.execute(f'SELECT {columns} FROM messages WHERE id = ?',
                                       (*ids, probe)).fetchone()
            except sqlite3.Error:
                row = None
                unreadable.append(probe)
            if row is None:
                misses += 1
            else:
                misses, found, last_found = 0, found + 1, probe
                if row[3] is not None:
                    yield self._message(row[1], row[2], row[3])
            probe += 1
        lost = sum(1 for i in unreadable if i < last_found)
        self.problems.append(
            f'rows cannot be read in order after id {last} ({stopped}); row by row, {found} '
            f'more were read' + (f' and {lost} damaged row(s) skipped' if lost else '')
            + f', and none after id {last_found}')

    def _message(self, topic_id: int, timestamp: int, data: bytes) -> BagMessage:
        topic = self._topic_names[topic_id]
        return BagMessage(topic, self._kinds[topic], timestamp, data)

    def close(self) -> None:
        self._db.close()


def _scan(path: pathlib.Path) -> _McapScan | _SqliteScan:
    return _McapScan(path) if path.suffix == '.mcap' else _SqliteScan(path)


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
        self._storages: list[_Storage] = []
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
                    self._add(_Indexed(path), files)
                    return
                except _STORAGE_ERRORS as exc:
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
                self._add(_Indexed(file), [file])
                continue
            except _STORAGE_ERRORS as exc:
                first = f'{file}: rosbags cannot open it ({exc})'
            try:
                scan = _scan(file)
            except BagReadError as exc:
                self._note(f'{first}; {exc}')
                continue
            except _STORAGE_ERRORS as exc:
                self._note(f'{first}; cannot be read record by record either ({exc})')
                continue
            self._note(f'{first}; it is read record by record')
            self._add(scan, [])
            self._report(scan)

    def _add(self, storage: _Storage, fallback: list[pathlib.Path]) -> None:
        self._fallbacks[id(storage)] = fallback
        self._storages.append(storage)

    def _note(self, sentence: str) -> None:
        """Add a problem to ``damage``, once (reading a topic again finds it again)."""
        if sentence not in self.damage:
            self.damage.append(sentence)

    def _report(self, storage: _Storage) -> None:
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
            except _STORAGE_ERRORS as exc:
                self._note(f'{storage.name}: reading stopped part way ({exc})')
            finally:
                self._report(storage)
            for file in self._fallbacks.get(id(storage), []):
                try:
                    scan = _scan(file)
                except (BagReadError, *_STORAGE_ERRORS) as exc:
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
