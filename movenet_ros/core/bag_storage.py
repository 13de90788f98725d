# SPDX-License-Identifier: Apache-2.0
"""The storage side of reading ROS 2 bags: one rosbag2 unit at a time, and damage recovery.

:class:`IndexedStorage` reads a sound bag (a folder with ``metadata.yaml``, or one file)
through ``rosbags``; :class:`McapScan` and :class:`SqliteScan` read a damaged ``.mcap`` or
``.db3`` file record by record or row by row, yielding every whole message and describing
each problem in ``problems``. :class:`movenet_ros.core.bags.RosBag` chooses among them and
decodes the images.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
import pathlib
import sqlite3
import struct
from typing import Any

import apsw
from mcap.exceptions import McapError
from mcap.records import Channel, Chunk, Message, Schema
from mcap.stream_reader import CRCValidationError, StreamReader, breakup_chunk
from rosbags.interfaces import Qos
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.rosbag2.metadata import parse_qos
from zstandard import ZstdError

try:  # rosbags' zstd: the standard library's from Python 3.14, its backport before
    from compression.zstd import ZstdError as StdZstdError
except ImportError:
    from backports.zstd import ZstdError as StdZstdError

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE = 'sensor_msgs/msg/CompressedImage'
IMAGE_TYPES = (IMAGE, COMPRESSED_IMAGE)
# What a damaged storage file makes the readers raise (rosbags, mcap, sqlite3/apsw, and the
# decompressors underneath): caught at this one boundary and reported as damage.
STORAGE_ERRORS = (ReaderError, McapError, CRCValidationError, OSError, EOFError,
                  sqlite3.Error, apsw.Error, struct.error, ValueError, KeyError, IndexError,
                  RuntimeError, MemoryError, ZstdError, StdZstdError)


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

class Storage:
    """One readable unit of a bag: its topics, its messages in order, and the problems met
    reading it (sentences, appended as they are found)."""

    name: str
    topics: list[BagTopic]
    problems: list[str]

    def messages(self, topics: set[str]) -> Iterator[BagMessage]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the files."""


class IndexedStorage(Storage):
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


class McapScan(Storage):
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
                        except STORAGE_ERRORS as exc:
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
            except STORAGE_ERRORS as exc:
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


class SqliteScan(Storage):
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


def scan_storage(path: pathlib.Path) -> McapScan | SqliteScan:
    return McapScan(path) if path.suffix == '.mcap' else SqliteScan(path)
