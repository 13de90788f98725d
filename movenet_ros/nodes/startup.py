# SPDX-License-Identifier: Apache-2.0
"""Start-up shared by the nodes' main functions."""

from __future__ import annotations

import re
import sys

import rclpy
from rclpy.logging import LoggingSeverity, set_logger_level

EXIT_BAD_CONFIG = 2


def init_ros(args: list[str] | None, program: str) -> bool:
    """``rclpy.init``; False, after one line on stderr, if the ROS arguments are malformed.

    rcl refuses them (``-p -p``, a missing ``--params-file``) with an RCLError that would
    otherwise end the program in a traceback, after its own ``Failed to parse global
    arguments`` log line, which is silenced while rcl parses.
    """
    set_logger_level('rcl', LoggingSeverity.FATAL)
    try:
        rclpy.init(args=args)
    except RuntimeError as exc:  # rclpy's RCLError
        if 'failed to initialize rcl' not in str(exc):
            raise
        # "failed to initialize rcl: <why>, at /path/file.c:123, at ...": the why.
        why = str(exc).split(':', 1)[-1]
        why = re.sub(r'(, at [^,]+:\d+)+$', '', why).strip()
        print(f'[{program}] invalid ROS arguments: {why}', file=sys.stderr)
        return False
    finally:
        set_logger_level('rcl', LoggingSeverity.UNSET)
    return True
