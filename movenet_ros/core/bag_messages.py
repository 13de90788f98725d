# SPDX-License-Identifier: Apache-2.0
"""ROS 2 message types without ROS: rosbags' Jazzy type store plus our own messages.

:class:`BagTypes` is the bag side's :class:`movenet_ros.core.messages.MessageFactory`: it makes
rosbags message objects by type name, filling the fields not given with their defaults (as
rclpy does), and serialises them to CDR. Our ``movenet_ros/msg/*`` types are registered from
the package's own ``.msg`` files, so the definitions and type hashes written into bags are the
ones rosidl generates for the node (``ros2 bag play`` and Foxglove decode them).
"""

from __future__ import annotations

from collections.abc import Iterable
import os
import pathlib
import sys
from typing import Any

import numpy as np
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

PACKAGE = 'movenet_ros'
# rosbags' Nodetype values (rosbags.interfaces.Nodetype), as they appear in field definitions.
_BASE, _NAME, _ARRAY, _SEQUENCE = 1, 2, 3, 4
# rosbags' type store drops the default values of .msg fields ("float64 w 1"); those of the
# types a bag of ours holds are listed here, so new() matches rclpy's constructors (a test
# checks every type written against rclpy).
_FIELD_DEFAULTS = {('geometry_msgs/msg/Quaternion', 'w'): 1.0}
_NUMPY_TYPES = {
    'bool': np.bool_, 'byte': np.uint8, 'char': np.uint8, 'int8': np.int8, 'uint8': np.uint8,
    'int16': np.int16, 'uint16': np.uint16, 'int32': np.int32, 'uint32': np.uint32,
    'int64': np.int64, 'uint64': np.uint64, 'float32': np.float32, 'float64': np.float64,
}


class MessageDefinitionsError(RuntimeError):
    """Our .msg files cannot be found; the message names the places searched."""


def message_directories() -> list[pathlib.Path]:
    """Where our ``.msg`` files may be, most specific first: the package data of a pip install
    (setup.cfg), the source tree next to this package (a checkout or a colcon symlink
    install), ``share/movenet_ros/msg`` of the prefix this package is installed in, of every
    ``AMENT_PREFIX_PATH`` entry, and of sys.prefix."""
    here = pathlib.Path(__file__).resolve().parent.parent   # .../movenet_ros
    candidates = [here / 'message_definitions', here.parent / 'msg']
    # <prefix>/lib/pythonX.Y/site-packages/movenet_ros -> <prefix>
    if len(here.parents) >= 4:
        candidates.append(here.parents[3] / 'share' / PACKAGE / 'msg')
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        if prefix:
            candidates.append(pathlib.Path(prefix) / 'share' / PACKAGE / 'msg')
    candidates.append(pathlib.Path(sys.prefix) / 'share' / PACKAGE / 'msg')
    return list(dict.fromkeys(candidates))


def find_message_files(directories: Iterable[pathlib.Path] | None = None) -> list[pathlib.Path]:
    """Our ``.msg`` files, from the first directory that has them."""
    searched = list(directories if directories is not None else message_directories())
    for directory in searched:
        files = sorted(directory.glob('*.msg'))
        if files:
            return files
    raise MessageDefinitionsError(
        f'cannot find the {PACKAGE} message definitions (msg/*.msg) to write bags; searched: '
        f'{", ".join(str(d) for d in searched)}')


def pose_typestore(msg_files: Iterable[pathlib.Path] | None = None) -> Typestore:
    """rosbags' ROS 2 Jazzy types plus ours, registered from ``msg_files`` (default: found by
    :func:`find_message_files`)."""
    store = get_typestore(Stores.ROS2_JAZZY)
    types: dict = {}
    for path in msg_files if msg_files is not None else find_message_files():
        types.update(get_types_from_msg(path.read_text(), f'{PACKAGE}/msg/{path.stem}'))
    store.register(types)
    return store


class BagTypes:
    """rosbags messages by type name (the bag side's MessageFactory), and CDR serialisation."""

    def __init__(self, typestore: Typestore | None = None) -> None:
        self.store = typestore if typestore is not None else pose_typestore()

    def new(self, msgtype: str, **fields: Any) -> Any:
        """A ``msgtype`` message; fields not given get their defaults (0, '', empty, ...)."""
        _, definitions = self.store.fielddefs[msgtype]
        values = {name: fields.pop(name) if name in fields
                  else _FIELD_DEFAULTS.get((msgtype, name)) or self._default(desc)
                  for name, desc in definitions}
        if fields:
            raise TypeError(f'{msgtype} has no field(s) {", ".join(sorted(fields))}')
        return self.store.types[msgtype](**values)

    def constant(self, msgtype: str, name: str) -> Any:
        return getattr(self.store.types[msgtype], name)

    def _default(self, desc: tuple) -> Any:
        kind, rest = desc
        if kind == _BASE:
            base = rest[0]
            return '' if base in ('string', 'wstring') else (
                0.0 if base.startswith('float') else False if base == 'bool' else 0)
        if kind == _NAME:
            return self.new(rest)
        (item_kind, item), size = rest
        if item_kind == _BASE and item[0] in _NUMPY_TYPES:
            return np.zeros(size if kind == _ARRAY else 0, dtype=_NUMPY_TYPES[item[0]])
        if kind == _ARRAY:
            return [self._default((item_kind, item)) for _ in range(size)]
        return []

    def header(self, stamp_ns: int, frame_id: str) -> Any:
        """A ``std_msgs/Header`` stamped ``stamp_ns`` (ns since the epoch)."""
        sec, nanosec = divmod(int(stamp_ns), 10**9)
        return self.new('std_msgs/msg/Header', frame_id=frame_id,
                        stamp=self.new('builtin_interfaces/msg/Time', sec=sec,
                                       nanosec=nanosec))

    def serialize(self, msg: Any) -> bytes:
        """``msg`` as little-endian CDR, the bytes rclpy would publish."""
        return bytes(self.store.serialize_cdr(msg, msg.__msgtype__))

    def deserialize(self, data: bytes | memoryview, msgtype: str) -> Any:
        return self.store.deserialize_cdr(data, msgtype)

    def definition(self, msgtype: str) -> tuple[str, str]:
        """(message definition text as ros2 bag writes it, RIHS01 type hash) of ``msgtype``."""
        text, _ = self.store.generate_msgdef(msgtype, ros_version=2)
        return text, self.store.hash_rihs01(msgtype)


def stamp_ns(header: Any) -> int:
    """A header's stamp in ns since the epoch (rclpy or rosbags headers alike)."""
    return int(header.stamp.sec) * 10**9 + int(header.stamp.nanosec)
