# SPDX-License-Identifier: Apache-2.0
"""Depth Image messages <-> DepthImage on a real RealSense frame: exact round trips in both
REP-118 encodings, views over the message, every byte order and stride, every error."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest
from rgbd import depth_mm
from std_msgs.msg import Header

from movenet_ros.conversions.depth import depth_image_to_msg, depth_msg_to_image
from movenet_ros.conversions.images import ImageConversionError
from movenet_ros.core.depth import METRE, MILLIMETRE


@pytest.fixture(scope='module')
def millimetres() -> np.ndarray:
    return depth_mm('00035')


def test_16uc1_round_trips_as_a_view_over_the_message(millimetres):
    header = Header(frame_id='camera_color_optical_frame')
    msg = depth_image_to_msg(millimetres, header)
    assert (msg.encoding, msg.width, msg.height, msg.step) == ('16UC1', 640, 480, 1280)
    assert msg.header == header and msg.is_bigendian == (sys.byteorder == 'big')
    depth = depth_msg_to_image(msg)
    assert depth.scale == MILLIMETRE and depth.size == (640, 480)
    np.testing.assert_array_equal(depth.data, millimetres)
    msg.data[0], msg.data[1] = (0x34, 0x12) if sys.byteorder == 'little' else (0x12, 0x34)
    assert depth.data[0, 0] == 0x1234, 'not a view: the message was copied'


def test_32fc1_round_trips_with_rep118_invalid_values(millimetres):
    metres = (millimetres / 1000.0).astype(np.float32)
    metres[0, :4] = (np.nan, np.inf, -np.inf, 0.0)
    msg = depth_image_to_msg(metres)
    assert (msg.encoding, msg.step) == ('32FC1', 2560)
    depth = depth_msg_to_image(msg)
    assert depth.scale == METRE
    np.testing.assert_array_equal(depth.data, metres)  # NaN == NaN here
    assert np.isnan(depth.to_metres()[0, :4]).all()
    np.testing.assert_allclose(depth.to_metres()[1:], depth_msg_to_image(
        depth_image_to_msg(millimetres)).to_metres()[1:], atol=1e-6)


@pytest.mark.parametrize('dtype', ['>u2', '<u2', '>f4', '<f4'])
def test_either_byte_order_reads_the_same_values(millimetres, dtype):
    values = millimetres if dtype.endswith('u2') else (millimetres / 1000.0).astype(np.float32)
    data = values.astype(dtype)
    msg = SimpleNamespace(height=480, width=640, encoding='16UC1' if 'u' in dtype else '32FC1',
                          is_bigendian=int(dtype.startswith('>')), step=640 * 2 * (
                              1 if 'u' in dtype else 2), data=data.tobytes())
    np.testing.assert_array_equal(depth_msg_to_image(msg).data, values)
    # A message written from a non-native array is native again, flagged as such.
    again = depth_image_to_msg(data)
    assert again.is_bigendian == (sys.byteorder == 'big')
    np.testing.assert_array_equal(depth_msg_to_image(again).data, values)


def test_padded_rows_and_a_missing_last_padding_are_read(millimetres):
    rows = np.zeros((480, 1296), np.uint8)  # 16 bytes of padding per row
    rows[:, :1280] = millimetres.view(np.uint8).reshape(480, 1280)
    rows[:, 1280:] = 0xAB
    data = rows.tobytes()[:-16]
    msg = SimpleNamespace(height=480, width=640, encoding='16UC1', is_bigendian=0, step=1296,
                          data=data)
    np.testing.assert_array_equal(depth_msg_to_image(msg).data, millimetres)


def fake(**changes):
    fields = dict(height=4, width=6, encoding='16UC1', is_bigendian=0, step=12,
                  data=bytes(48))
    fields.update(changes)
    return SimpleNamespace(**fields)


@pytest.mark.parametrize(('msg', 'message'), [
    (fake(encoding='mono16'), r"unsupported depth encoding 'mono16'; supported: 16UC1, 32FC1"),
    (fake(encoding='bgr8'), r"unsupported depth encoding 'bgr8'"),
    (fake(encoding='32FC1'), r'step 12 is smaller than a row of 6 32FC1 pixels \(24 bytes\)'),
    (fake(step=13, data=bytes(52)), r'step 13 is not a whole number of 16UC1 pixels '
                                    r'\(2 bytes\)'),
    (fake(data=bytes(47)), r'truncated: 47 bytes, a 6x4 16UC1 image with step 12 needs at '
                           r'least 48'),
    (fake(width=0), r'depth image is empty: 0x4 pixels'),
    (fake(width=20000, step=40000), r'exceeds the 16384-pixel side limit'),
    (fake(data=[1, 2, 3]), r'truncated: 3 bytes'),
    (fake(data=object()), r'image data must be bytes-like, got object'),
])
def test_bad_depth_messages_are_refused_with_the_reason(msg, message):
    with pytest.raises(ImageConversionError, match=message):
        depth_msg_to_image(msg)


def test_the_pixel_budget_applies_to_depth():
    with pytest.raises(ImageConversionError, match='over the pixel budget of 20'):
        depth_msg_to_image(fake(), max_pixels=20)
    assert depth_msg_to_image(fake(), max_pixels=24).size == (6, 4)


@pytest.mark.parametrize(('array', 'message'), [
    (np.zeros((4, 4), np.uint8), r'uint16 \(millimetres, 16UC1\) or float32 \(metres, 32FC1\), '
                                 r'got uint8'),
    (np.zeros((4, 4), np.float64), r'got float64'),
    (np.zeros((4, 4, 1), np.uint16), r'an HxW array, got \(4, 4, 1\)'),
    ([[1, 2]], r'an HxW array, got list'),
    (np.zeros((0, 3), np.uint16), r'empty: 3x0'),
])
def test_bad_depth_arrays_are_not_written(array, message):
    with pytest.raises(ImageConversionError, match=message):
        depth_image_to_msg(array)
