# SPDX-License-Identifier: Apache-2.0
"""Reading camera bags (core/bags.py): rosbag2 folders and single .mcap/.db3 files made with
rosbags from the real demo footage, raw and compressed topics, and damaged copies of them.

What a damaged file still holds is worked out independently of the reader: for MCAP from
the intact file's chunk index (read with the mcap library), for sqlite3 by asking sqlite for
each row by id. The reader must yield exactly those frames, pixel for pixel, and say what
was wrong.
"""

from __future__ import annotations

import pathlib
import shutil
import sqlite3

from bag_helpers import (
    COMPRESSED_TOPIC,
    FRAME_ID,
    INFO_TOPIC,
    RAW_TOPIC,
    make_camera_bag,
    storage_file,
)
import cv2
from mcap.reader import make_reader
import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from movenet_ros.core.bags import BagReadError, RosBag

FRAMES = 4


@pytest.fixture(scope='module')
def bags(tmp_path_factory, demo_frames) -> dict:
    """{storage: (bag folder, what was written)} for 4 full-size frames of the demo."""
    root = tmp_path_factory.mktemp('camera_bags')
    return {storage: (root / storage, make_camera_bag(root / storage, demo_frames[:FRAMES],
                                                      storage))
            for storage in ('mcap', 'sqlite3')}


def _check_raw(frames, written, expected_indices=None):
    indices = list(range(len(written))) if expected_indices is None else expected_indices
    assert [f.index for f in frames] == list(range(len(indices)))
    for frame, index in zip(frames, indices, strict=True):
        source = written[index]
        assert frame.error is None
        assert (frame.stamp_ns, frame.log_time_ns, frame.frame_id) == (
            source.stamp_ns, source.log_time_ns, FRAME_ID)
        assert frame.channel_order == 'bgr'
        np.testing.assert_array_equal(frame.image, source.bgr)


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_lists_image_topics_and_reads_raw_and_compressed_frames(bags, storage):
    path, written = bags[storage]
    with RosBag(path) as bag:
        assert bag.damage == []
        assert [(t.name, t.msgtype, t.count) for t in bag.image_topics] == [
            (RAW_TOPIC, 'sensor_msgs/msg/Image', FRAMES),
            (COMPRESSED_TOPIC, 'sensor_msgs/msg/CompressedImage', FRAMES)]
        assert bag.topics[INFO_TOPIC].msgtype == 'sensor_msgs/msg/CameraInfo'
        assert bag.topics[RAW_TOPIC].qos[0].reliability.name == 'BEST_EFFORT'
        _check_raw(list(bag.frames(RAW_TOPIC)), written)
        compressed = list(bag.frames(COMPRESSED_TOPIC))
    assert len(compressed) == FRAMES
    for frame, source in zip(compressed, written, strict=True):
        assert frame.error is None and frame.stamp_ns == source.stamp_ns
        assert frame.log_time_ns == source.log_time_ns + 1000
        np.testing.assert_array_equal(
            frame.image, cv2.imdecode(np.frombuffer(source.jpeg, np.uint8), cv2.IMREAD_COLOR))
        # JPEG, so close to the raw frame, not equal
        assert np.abs(frame.image.astype(int) - source.bgr).mean() < 4


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_a_single_storage_file_and_a_folder_without_metadata(bags, storage, tmp_path):
    path, written = bags[storage]
    with RosBag(storage_file(path)) as bag:
        assert bag.damage == []
        _check_raw(list(bag.frames(RAW_TOPIC)), written)
    # A recording that was killed leaves no metadata.yaml: the files are still read.
    copy = tmp_path / 'killed'
    shutil.copytree(path, copy)
    (copy / 'metadata.yaml').unlink()
    with RosBag(copy) as bag:
        assert len(bag.damage) == 1 and 'no metadata.yaml' in bag.damage[0]
        _check_raw(list(bag.frames(RAW_TOPIC)), written)


def _whole_mcap_frames(file: pathlib.Path, cut: int, written) -> list[int]:
    """Indices of the raw frames whose chunk lies wholly before byte ``cut`` (from the
    intact file's summary, read with the mcap library)."""
    with file.open('rb') as f:
        chunks = make_reader(f).get_summary().chunk_indexes
    whole = [c for c in chunks if c.chunk_start_offset + c.chunk_length <= cut]
    return [i for i, w in enumerate(written)
            if any(c.message_start_time <= w.log_time_ns <= c.message_end_time for c in whole)]


@pytest.mark.parametrize('zstd', [False, True], ids=['plain-chunks', 'zstd-chunks'])
def test_cut_mcap_yields_every_whole_frame(demo_frames, tmp_path, zstd):
    written = make_camera_bag(tmp_path / 'bag', demo_frames[:FRAMES], 'mcap', zstd_chunks=zstd)
    file = storage_file(tmp_path / 'bag')
    data = file.read_bytes()
    seen = set()
    for fraction in (0.0001, 0.35, 0.6, 0.9, 0.999):
        cut = int(len(data) * fraction)
        expected = _whole_mcap_frames(file, cut, written)
        seen.add(len(expected))
        damaged = tmp_path / f'cut_{fraction}.mcap'
        damaged.write_bytes(data[:cut])
        if not expected and fraction < 0.01:
            with pytest.raises(BagReadError, match=r'nothing readable in it: .* ends inside'):
                RosBag(damaged)
            continue
        with RosBag(damaged) as bag:
            _check_raw(list(bag.frames(RAW_TOPIC)), written, expected)
            assert any('ends inside a record starting at byte' in d and f'of {cut}' in d
                       for d in bag.damage), bag.damage
            assert bag.topics[RAW_TOPIC].count == len(expected)
    assert len(seen) >= 3  # the cuts fell in different chunks: none, some, most frames


@pytest.mark.parametrize('footer', [True, False], ids=['indexed', 'no-footer'])
def test_a_corrupt_mcap_chunk_is_skipped_and_the_rest_read(demo_frames, tmp_path, footer):
    """With its index, rosbags stops at the corrupt chunk and the file is read again record
    by record, skipping what was read; without it, the scan skips the chunk."""
    written = make_camera_bag(tmp_path / 'bag', demo_frames[:FRAMES], 'mcap', zstd_chunks=True)
    file = storage_file(tmp_path / 'bag')
    with file.open('rb') as f:
        chunks = make_reader(f).get_summary().chunk_indexes
    # The chunk holding the second raw frame: flip bytes in its compressed data.
    target = next(c for c in chunks
                  if c.message_start_time <= written[1].log_time_ns <= c.message_end_time)
    data = bytearray(file.read_bytes())
    middle = target.chunk_start_offset + target.chunk_length // 2
    data[middle:middle + 64] = bytes(64)
    damaged = tmp_path / 'corrupt.mcap'
    damaged.write_bytes(bytes(data if footer else data[:len(data) - 100]))
    with RosBag(damaged) as bag:
        assert bool(bag.damage) != footer  # with its index, the damage shows when reading
        for _ in range(2):  # a second pass reads the same, and reports nothing new
            _check_raw(list(bag.frames(RAW_TOPIC)), written, [0, 2, 3])
            damage = list(bag.damage)
            assert any('is corrupt' in d and 'skipped' in d for d in damage), damage
            if footer:
                assert any('read again record by record' in d for d in damage), damage
        assert bag.damage == damage


def _readable_rows(file: pathlib.Path, topic_id: int, max_id: int) -> list[int]:
    """Row ids of ``topic_id`` that sqlite can still read, one by one."""
    db = sqlite3.connect(f'file:{file}?mode=ro&immutable=1', uri=True)
    db.execute('PRAGMA writable_schema = ON')
    readable = []
    for row_id in range(1, max_id + 1):
        try:
            row = db.execute('SELECT topic_id, length(data) FROM messages WHERE id = ?',
                             (row_id,)).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row and row[0] == topic_id:
            readable.append(row_id)
    db.close()
    return readable


def test_cut_sqlite3_yields_every_readable_frame(bags, tmp_path):
    path, written = bags['sqlite3']
    file = storage_file(path)
    data = file.read_bytes()
    with sqlite3.connect(file) as db:
        raw_id = db.execute('SELECT id FROM topics WHERE name = ?', (RAW_TOPIC,)).fetchone()[0]
        order = [r[0] for r in db.execute('SELECT id FROM messages WHERE topic_id = ? '
                                          'ORDER BY id', (raw_id,))]
    counts = set()
    for fraction in (0.5, 0.8, 0.999):
        damaged = tmp_path / f'cut_{fraction}.db3'
        damaged.write_bytes(data[:int(len(data) * fraction)])
        expected = [order.index(i) for i in _readable_rows(damaged, raw_id, 3 * len(order))]
        counts.add(len(expected))
        with RosBag(damaged) as bag:
            _check_raw(list(bag.frames(RAW_TOPIC)), written, expected)
            assert bag.damage and all(str(damaged) in d for d in bag.damage)
    assert max(counts) > 0 and min(counts) < FRAMES


def test_undecodable_messages_are_reported_and_the_others_read(demo_frames, tmp_path):
    """A cut raw message and a compressed one holding garbage: each is a frame with an error
    naming it; the frames around them are read."""
    path = tmp_path / 'bad'
    written = make_camera_bag(path, demo_frames[:3], 'mcap', with_info=False)
    store = get_typestore(Stores.ROS2_JAZZY)
    good = tmp_path / 'good'
    with RosBag(path) as bag:
        messages = list(bag.messages([RAW_TOPIC, COMPRESSED_TOPIC]))
    Compressed = store.types['sensor_msgs/msg/CompressedImage']  # noqa: N806
    with Writer(good, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        kinds = {m.topic: m.msgtype for m in messages}
        connections = {t: writer.add_connection(t, kind, typestore=store)
                       for t, kind in kinds.items()}
        for number, message in enumerate(messages):
            data = bytes(message.data)
            if number == 2:    # the second raw frame, cut short
                data = data[:len(data) // 3]
            elif number == 3:  # the second compressed frame: not an image
                garbage = Compressed(header=store.deserialize_cdr(data, message.msgtype).header,
                                     format='jpeg', data=np.frombuffer(b'no jpeg here', np.uint8))
                data = bytes(store.serialize_cdr(garbage, message.msgtype))
            writer.write(connections[message.topic], message.log_time_ns, data)
    with RosBag(good) as bag:
        raw = list(bag.frames(RAW_TOPIC))
        compressed = list(bag.frames(COMPRESSED_TOPIC))
        assert bag.damage == []
    assert [f.error is None for f in raw] == [True, False, True]
    assert 'message 1 cannot be decoded as sensor_msgs/msg/Image' in raw[1].error
    np.testing.assert_array_equal(raw[2].image, written[2].bgr)
    assert [f.error is None for f in compressed] == [True, False, True]
    assert compressed[1].stamp_ns == written[1].stamp_ns  # the header was still readable
    assert f'{COMPRESSED_TOPIC} message 1' in compressed[1].error


def test_what_is_not_a_bag_is_refused_with_a_reason(bags, tmp_path):
    with pytest.raises(BagReadError, match='no such file or folder'):
        RosBag(tmp_path / 'missing')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(BagReadError, match='not a rosbag2 folder'):
        RosBag(tmp_path / 'empty')
    (tmp_path / 'notes.txt').write_text('hello')
    with pytest.raises(BagReadError, match=r'\.mcap or \.db3'):
        RosBag(tmp_path / 'notes.txt')
    (tmp_path / 'fake.mcap').write_bytes(b'not an mcap file at all, only text' * 10)
    with pytest.raises(BagReadError, match='not an MCAP file'):
        RosBag(tmp_path / 'fake.mcap')
    path, _ = bags['mcap']
    with RosBag(path) as bag:
        with pytest.raises(BagReadError, match=f'no topic /nope; image topics: {RAW_TOPIC}'):
            next(bag.frames('/nope'))
        with pytest.raises(BagReadError, match='not an image'):
            next(bag.frames(INFO_TOPIC))
