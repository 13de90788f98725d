# SPDX-License-Identifier: Apache-2.0
"""NumPy -> ``sensor_msgs/Image`` and ``CompressedImage`` (rclpy messages), and the decoding of
:mod:`movenet_ros.core.image_codec` (ROS-free, shared with the bags) under the names the nodes
use.
"""

from __future__ import annotations

import array
from typing import TYPE_CHECKING

import numpy as np

from movenet_ros.core.image_codec import (
    MAX_IMAGE_BYTES,
    OUTPUT_ENCODINGS,
    SUPPORTED_ENCODINGS,
    ImageConversionError,
    check_size,
    compressed_to_array,
    encode_compressed,
    image_to_array,
)

if TYPE_CHECKING:
    from sensor_msgs.msg import CompressedImage, Image
    from std_msgs.msg import Header

__all__ = ['MAX_IMAGE_BYTES', 'SUPPORTED_ENCODINGS', 'ImageConversionError',
           'array_to_compressed_msg', 'array_to_image_msg', 'compressed_to_array',
           'encode_compressed', 'image_to_array']


def array_to_image_msg(image: np.ndarray, encoding: str, header: Header | None = None) -> Image:
    """A ``sensor_msgs/Image`` holding a copy of ``image`` (uint8; HxW or HxWxC).

    ``encoding`` (rgb8, bgr8, rgba8, bgra8, mono8) must match the channel count; it names the
    order the caller's array already has, nothing is converted. The pixels are copied once
    into an ``array.array``, which the message setter keeps as is (a bytes or NumPy value
    would be copied again or, worse, iterated per byte).
    """
    from sensor_msgs.msg import Image

    if encoding not in OUTPUT_ENCODINGS:
        raise ImageConversionError(
            f'cannot write encoding {encoding!r}; supported: {", ".join(OUTPUT_ENCODINGS)}')
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        kind = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
        raise ImageConversionError(f'image must be a uint8 NumPy array, got {kind}')
    channels = OUTPUT_ENCODINGS[encoding]
    shape_ok = (image.ndim == 3 and image.shape[2] == channels) or (
        channels == 1 and image.ndim == 2)
    if not shape_ok:
        raise ImageConversionError(
            f'{encoding} needs {"HxW or HxWx1" if channels == 1 else f"HxWx{channels}"} '
            f'pixels, got shape {image.shape}')
    height, width = image.shape[:2]
    check_size(width, height)
    data = array.array('B')
    data.frombytes(np.ascontiguousarray(image))
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=0,
                step=width * channels)
    if header is not None:
        msg.header = header
    msg.data = data
    return msg


def array_to_compressed_msg(image: np.ndarray, header: Header | None = None,
                            image_format: str = 'jpeg', quality: int = 90,
                            encoding: str = 'bgr8') -> CompressedImage:
    """A ``sensor_msgs/CompressedImage`` (JPEG or PNG) of a BGR or mono ``image``; see
    :func:`encode_compressed` for ``format`` and ``quality``."""
    from sensor_msgs.msg import CompressedImage

    fmt, encoded = encode_compressed(image, image_format, quality, encoding)
    data = array.array('B')
    data.frombytes(encoded)
    msg = CompressedImage(format=fmt)
    if header is not None:
        msg.header = header
    msg.data = data
    return msg
