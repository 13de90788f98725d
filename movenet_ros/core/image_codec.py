# SPDX-License-Identifier: Apache-2.0
"""``sensor_msgs/Image`` and ``CompressedImage`` -> NumPy, and NumPy -> compressed bytes, without
ROS: our small stand-in for cv_bridge.

cv_bridge is not available from PyPI (see the notes on ROS from wheels), so conversion lives
here, in one place, total over the encodings it claims and raising one error type,
:class:`ImageConversionError`, for everything else.

Decoding reads messages by duck typing: any object with the fields of ``sensor_msgs/Image``
(``height``, ``width``, ``encoding``, ``is_bigendian``, ``step``, ``data``) works, an rclpy
message in the node as well as a rosbags message from a bag (:mod:`.bags`), so a frame reads
the same from a live topic and from a recording. The rclpy messages the node publishes are
built in :mod:`movenet_ros.conversions.images`.

Raw 8-bit encodings are returned as a *view* over ``msg.data`` (no copy), with the row stride
set to ``msg.step`` so padded rows cost nothing. The estimator converts colour only on its
small model-input sample, so :func:`image_to_array` returns the channel order instead of
converting. ``is_bigendian`` is ignored: it describes the byte order of multi-byte channels,
and every encoding here has one byte per channel.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from movenet_ros.core.estimator import MAX_IMAGE_SIDE
from movenet_ros.core.image_headers import DEFAULT_MAX_IMAGE_PIXELS, ImageHeaderError, read_header


class ImageConversionError(ValueError):
    """An image message (or array) that cannot be converted; the message says why."""


# Size limits, checked before any work: the estimator's MAX_IMAGE_SIDE, and 512 MB, since a
# frame that large is more likely a corrupt header than a picture. The pixel budget
# (max_pixels, DEFAULT_MAX_IMAGE_PIXELS) is tighter still.
MAX_IMAGE_BYTES = 512 * 1024 * 1024

# encoding -> (bytes per pixel, channel order returned by image_to_array)
_RAW_ENCODINGS: dict[str, tuple[int, str]] = {
    'rgb8': (3, 'rgb'),
    'bgr8': (3, 'bgr'),
    'rgba8': (4, 'rgb'),
    'bgra8': (4, 'bgr'),
    'mono8': (1, 'rgb'),  # grey has no channel order; 'rgb' is the estimator's default
}
# Packed 4:2:2 YUV, two bytes per pixel. In ROS, 'yuv422' is UYVY (U0 Y0 V0 Y1) and
# 'yuv422_yuy2' is YUYV (Y0 U0 Y1 V0); 'uyvy' and 'yuyv' are the newer names for the same.
_YUV422_ENCODINGS: dict[str, int] = {
    'yuv422': cv2.COLOR_YUV2RGB_UYVY,
    'uyvy': cv2.COLOR_YUV2RGB_UYVY,
    'yuv422_yuy2': cv2.COLOR_YUV2RGB_YUYV,
    'yuyv': cv2.COLOR_YUV2RGB_YUYV,
}
SUPPORTED_ENCODINGS: tuple[str, ...] = (*_RAW_ENCODINGS, *_YUV422_ENCODINGS)
# Encodings the node writes (conversions.images.array_to_image_msg): channels per pixel.
OUTPUT_ENCODINGS: dict[str, int] = {'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1}


def check_size(width: int, height: int, max_pixels: int | None = None,
               what: str = 'image') -> None:
    """Refuse empty sizes, sides over MAX_IMAGE_SIDE and, given ``max_pixels``, more pixels."""
    if width <= 0 or height <= 0:
        raise ImageConversionError(f'{what} is empty: {width}x{height} pixels')
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        raise ImageConversionError(
            f'{what} {width}x{height} exceeds the {MAX_IMAGE_SIDE}-pixel side limit '
            f'(a corrupt header?)')
    if max_pixels is not None and width * height > max_pixels:
        raise ImageConversionError(
            f'{what} {width}x{height} has {width * height} pixels, over the pixel budget of '
            f'{max_pixels}')


def _byte_buffer(data: Any) -> memoryview:
    """``data`` as flat bytes without copying (array.array('B'), bytes, NumPy, ...)."""
    try:
        view = memoryview(data)
    except TypeError:
        # A list of ints (a message built by hand with check_fields off). Rare; copies.
        try:
            view = memoryview(bytes(data))
        except (TypeError, ValueError) as exc:
            raise ImageConversionError(
                f'image data must be bytes-like, got {type(data).__name__}') from exc
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast('B')
    return view


def pixel_buffer(msg: Any, bytes_per_pixel: int, max_pixels: int | None,
                 what: str = 'image') -> tuple[memoryview, int, int, int]:
    """(data, width, height, step) of a raw ``sensor_msgs/Image`` (colour or depth), once its
    size is within the limits and ``data`` holds every pixel: at least ``step * (height - 1)
    + width * bytes_per_pixel`` bytes (the padding of the last row may be missing)."""
    encoding = str(msg.encoding)
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    check_size(width, height, max_pixels, what)
    row_bytes = width * bytes_per_pixel
    if step < row_bytes:
        raise ImageConversionError(
            f'step {step} is smaller than a row of {width} {encoding} pixels '
            f'({row_bytes} bytes)')
    if step * height > MAX_IMAGE_BYTES:
        raise ImageConversionError(
            f'{what} of {step} x {height} bytes exceeds the {MAX_IMAGE_BYTES >> 20} MB limit '
            f'(a corrupt header?)')
    data = _byte_buffer(msg.data)
    needed = step * (height - 1) + row_bytes
    if len(data) < needed:
        raise ImageConversionError(
            f'{what} data is truncated: {len(data)} bytes, a {width}x{height} {encoding} '
            f'image with step {step} needs at least {needed}')
    return data, width, height, step


def image_to_array(msg: Any,
                   max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> tuple[np.ndarray, str]:
    """Pixels of a ``sensor_msgs/Image`` and their channel order ('rgb' or 'bgr').

    Raw encodings (rgb8, bgr8, rgba8, bgra8, mono8) give a read-only-or-not view over
    ``msg.data`` (HxW for mono8, else HxWxC), whose row stride is ``msg.step``: no copy, and
    valid as long as ``msg.data`` is. YUV 4:2:2 encodings are converted to a new RGB array.

    ``data`` must hold every pixel: at least ``step * (height - 1) + width * bytes_per_pixel``
    bytes (the padding of the last row may be missing). Bytes past ``step * height`` are
    ignored, as cv_bridge does: they cannot change any pixel. Images of more than
    ``max_pixels`` pixels are refused.
    """
    encoding = str(msg.encoding)
    key = encoding.lower()
    if key in _RAW_ENCODINGS:
        bpp, channel_order = _RAW_ENCODINGS[key]
    elif key in _YUV422_ENCODINGS:
        bpp, channel_order = 2, 'rgb'
    else:
        raise ImageConversionError(
            f'unsupported image encoding {encoding!r}; supported: '
            f'{", ".join(SUPPORTED_ENCODINGS)}')
    data, width, height, step = pixel_buffer(msg, bpp, max_pixels)
    shape = (height, width) if bpp == 1 else (height, width, bpp)
    strides = (step, 1) if bpp == 1 else (step, bpp, 1)
    # np.ndarray checks that shape and strides stay inside the buffer.
    pixels = np.ndarray(shape, np.uint8, buffer=data, strides=strides)
    if key in _YUV422_ENCODINGS:
        if width % 2:
            raise ImageConversionError(
                f'{encoding} needs an even width (2 pixels share chroma), got {width}')
        return cv2.cvtColor(pixels, _YUV422_ENCODINGS[key]), channel_order
    return pixels, channel_order


def compressed_to_array(msg: Any,
                        max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> tuple[np.ndarray, str]:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG, PNG, ...) to an HxWx3 BGR array.

    ``format`` is informational ('jpeg', 'png', or image_transport's 'rgb8; jpeg compressed
    bgr8'): the data itself says what it is, and a decoded image is BGR whatever the original
    encoding was. compressedDepth (16-bit depth) is refused: it is not a picture.

    The size the data declares is read first (:mod:`movenet_ros.core.image_headers`): data over
    ``max_pixels``, or whose size cannot be read, is refused before the decoder allocates
    anything. Bytes after a JPEG's end-of-image marker are ignored; a JPEG without one is
    refused as cut short (libjpeg would fill the missing part with grey).
    """
    fmt = str(getattr(msg, 'format', ''))
    if 'compresseddepth' in fmt.lower():
        raise ImageConversionError(
            f'compressed depth images are not supported (format {fmt!r})')
    data = _byte_buffer(msg.data)
    if len(data) == 0:
        raise ImageConversionError(f'compressed image is empty (format {fmt!r})')
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageConversionError(
            f'compressed image of {len(data)} bytes exceeds the {MAX_IMAGE_BYTES >> 20} MB '
            f'limit')
    try:
        header = read_header(data)
    except ImageHeaderError as exc:
        raise ImageConversionError(f'{exc} (format {fmt!r}, {len(data)} bytes)') from exc
    check_size(header.width, header.height, max_pixels, f'{header.format} image')
    image = cv2.imdecode(np.frombuffer(data[:header.length], np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageConversionError(
            f'cannot decode {header.format} image (format {fmt!r}, {len(data)} bytes): '
            f'corrupt or truncated')
    check_size(image.shape[1], image.shape[0], max_pixels)
    return image, 'bgr'


def encode_compressed(image: np.ndarray, image_format: str = 'jpeg', quality: int = 90,
                      encoding: str = 'bgr8') -> tuple[str, np.ndarray]:
    """(CompressedImage ``format``, encoded bytes as a uint8 array) of a BGR or mono image.

    ``format`` follows image_transport ('bgr8; jpeg compressed bgr8'), so its subscribers and
    :func:`compressed_to_array` both read it; ``encoding`` names the original image's
    encoding. ``quality`` is the JPEG quality (1-100). ROS-free: bags use it too.
    """
    if image_format not in ('jpeg', 'png'):
        raise ImageConversionError(f"image_format must be 'jpeg' or 'png', got {image_format!r}")
    if not 1 <= quality <= 100:
        raise ImageConversionError(f'JPEG quality must be in 1..100, got {quality}')
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if image_format == 'jpeg' else []
    ok, encoded = cv2.imencode('.jpg' if image_format == 'jpeg' else '.png', image, params)
    if not ok:
        raise ImageConversionError(f'cannot {image_format}-encode an image of shape '
                                   f'{image.shape}')
    target = 'mono8' if image.ndim == 2 or image.shape[2] == 1 else 'bgr8'
    return f'{encoding}; {image_format} compressed {target}', encoded.reshape(-1)
