# SPDX-License-Identifier: Apache-2.0
"""The header of a serialized (CDR) message, read without deserializing the rest.

movenet_node takes images as serialized bytes (a ``raw=True`` subscription) and deserializes
only the frames it processes; the header's ``frame_id`` is needed for every frame, to tell
cameras apart in the frame accounting. Messages whose first field is a ``std_msgs/Header``
(sensor_msgs/Image, sensor_msgs/CompressedImage) start, after the 4-byte encapsulation
(OMG XCDR1: byte 1 is 0 for big, 1 for little endian), with ``int32 sec``, ``uint32
nanosec`` and the frame_id as ``uint32 length`` (its terminating NUL included) + bytes.
"""

from __future__ import annotations

import struct

ENCAPSULATION = 4
MAX_FRAME_ID = 4096  # bytes; longer ones are refused (a frame_id is a short TF name)


class HeaderError(ValueError):
    """The bytes do not start with a valid serialized std_msgs/Header."""


def header_of(serialized: bytes) -> tuple[int, int, str]:
    """(sec, nanosec, frame_id) of ``serialized``; HeaderError if it cannot be read."""
    data = memoryview(serialized)
    if len(data) < ENCAPSULATION + 12:
        raise HeaderError(f'{len(data)} bytes are too few for a message header')
    if data[0] != 0 or data[1] not in (0, 1):
        raise HeaderError(f'unknown CDR encapsulation {bytes(data[:2]).hex()}')
    order = '<' if data[1] == 1 else '>'
    sec, nanosec, length = struct.unpack_from(f'{order}iII', data, ENCAPSULATION)
    start = ENCAPSULATION + 12
    if not 1 <= length <= MAX_FRAME_ID or start + length > len(data) or \
            data[start + length - 1] != 0:
        raise HeaderError(f'frame_id of {length} bytes does not fit the message')
    try:
        frame_id = bytes(data[start:start + length - 1]).decode()
    except UnicodeDecodeError as exc:
        raise HeaderError(f'frame_id is not UTF-8: {exc}') from exc
    return sec, nanosec, frame_id
