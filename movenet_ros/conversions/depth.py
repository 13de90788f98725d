# SPDX-License-Identifier: Apache-2.0
"""Depth ``sensor_msgs/Image`` <-> :class:`~movenet_ros.core.depth.DepthImage`.

The two encodings REP-118 defines for depth: ``16UC1`` (uint16 millimetres, 0 = no reading)
and ``32FC1`` (float32 metres, 0, NaN and +-inf = no reading). Reading is zero-copy: the array
is a view over ``msg.data`` with the message's row stride and byte order (``is_bigendian`` is
honoured, these channels have more than one byte). Errors are
:class:`~movenet_ros.conversions.images.ImageConversionError`, as for colour images, so a node
catches one type for every image it receives. Messages are read by duck typing, as in
:mod:`movenet_ros.conversions.images`.
"""

from __future__ import annotations

import array
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from movenet_ros.core.depth import METRE, MILLIMETRE, DepthError, DepthImage
from movenet_ros.core.image_codec import ImageConversionError, check_size, pixel_buffer
from movenet_ros.core.image_headers import DEFAULT_MAX_IMAGE_PIXELS

if TYPE_CHECKING:
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

# encoding -> (NumPy type code, byte order added from is_bigendian; metres per unit)
DEPTH_ENCODINGS: dict[str, tuple[str, float]] = {
    '16UC1': ('u2', MILLIMETRE),
    '32FC1': ('f4', METRE),
}
_ENCODING_OF_DTYPE = {np.dtype(np.uint16): '16UC1', np.dtype(np.float32): '32FC1'}


def depth_msg_to_image(msg: Image | Any,
                       max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> DepthImage:
    """A view over a depth ``sensor_msgs/Image`` (16UC1 or 32FC1), valid while ``msg.data``
    is. ``data`` must hold every pixel (see images.pixel_buffer), ``step`` be a whole number
    of pixels. Images over ``max_pixels`` pixels are refused."""
    encoding = str(msg.encoding)
    if encoding.upper() not in DEPTH_ENCODINGS:
        raise ImageConversionError(
            f'unsupported depth encoding {encoding!r}; supported: '
            f'{", ".join(DEPTH_ENCODINGS)} (REP-118: millimetres or metres)')
    code, scale = DEPTH_ENCODINGS[encoding.upper()]
    dtype = np.dtype(('>' if msg.is_bigendian else '<') + code)
    data, width, height, step = pixel_buffer(msg, dtype.itemsize, max_pixels, 'depth image')
    if step % dtype.itemsize:
        raise ImageConversionError(
            f'step {step} is not a whole number of {encoding} pixels ({dtype.itemsize} bytes)')
    pixels = np.ndarray((height, width), dtype, buffer=data, strides=(step, dtype.itemsize))
    try:
        return DepthImage(pixels, scale)
    except DepthError as exc:  # not reachable for the encodings above; kept total
        raise ImageConversionError(str(exc)) from exc


def depth_image_to_msg(depth: np.ndarray, header: Header | None = None) -> Image:
    """A depth ``sensor_msgs/Image`` holding a copy of ``depth``: uint16 millimetres become
    16UC1, float32 metres 32FC1 (in this machine's byte order, flagged in is_bigendian)."""
    from sensor_msgs.msg import Image

    if not isinstance(depth, np.ndarray) or depth.ndim != 2:
        shape = depth.shape if isinstance(depth, np.ndarray) else type(depth).__name__
        raise ImageConversionError(f'a depth image must be an HxW array, got {shape}')
    encoding = _ENCODING_OF_DTYPE.get(depth.dtype.newbyteorder('='))
    if encoding is None:
        raise ImageConversionError(
            f'a depth image must be uint16 (millimetres, 16UC1) or float32 (metres, 32FC1), '
            f'got {depth.dtype}')
    height, width = depth.shape
    check_size(width, height, what='depth image')
    native = np.ascontiguousarray(depth, dtype=depth.dtype.newbyteorder('='))
    data = array.array('B')
    data.frombytes(native.view(np.uint8))
    msg = Image(height=height, width=width, encoding=encoding,
                is_bigendian=int(sys.byteorder == 'big'), step=width * native.itemsize)
    if header is not None:
        msg.header = header
    msg.data = data
    return msg


def depth_in_encoding(depth: DepthImage, encoding: str) -> np.ndarray:
    """The readings of ``depth`` as the array of a depth message in ``encoding``: 16UC1,
    uint16 millimetres (0 = no reading; farther than 65.535 m too), or 32FC1, float32 metres
    (NaN = no reading). A uint16 millimetre image is returned as it is."""
    if encoding not in DEPTH_ENCODINGS:
        raise ImageConversionError(f'unsupported depth encoding {encoding!r}; supported: '
                                   f'{", ".join(DEPTH_ENCODINGS)}')
    if encoding == '16UC1' and depth.data.dtype == np.uint16 and depth.scale == MILLIMETRE:
        return depth.data
    metres = depth.to_metres()
    if encoding == '32FC1':
        return metres
    with np.errstate(invalid='ignore'):
        millimetres = np.rint(metres / MILLIMETRE)
        millimetres[~(millimetres <= np.iinfo(np.uint16).max)] = 0  # NaN and too far
    return millimetres.astype(np.uint16)
