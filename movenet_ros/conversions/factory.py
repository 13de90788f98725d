# SPDX-License-Identifier: Apache-2.0
"""rclpy's message classes as a :class:`movenet_ros.core.messages.MessageFactory`.

The core builds every output message through a factory, so the node (rclpy) and the bag
writer (rosbags) share one builder per message; this is the node's side.
"""

from __future__ import annotations

from functools import cache
import importlib
from typing import Any


@cache
def message_class(msgtype: str) -> type:
    """The rclpy class of ``msgtype`` ('pkg/msg/Name'), imported on first use."""
    package, kind, name = msgtype.split('/')
    return getattr(importlib.import_module(f'{package}.{kind}'), name)


class RclpyFactory:
    """Makes rclpy messages by type name; fields not given keep rclpy's defaults."""

    def new(self, msgtype: str, **fields: Any) -> Any:
        return message_class(msgtype)(**fields)

    def constant(self, msgtype: str, name: str) -> Any:
        return getattr(message_class(msgtype), name)


RCLPY = RclpyFactory()
