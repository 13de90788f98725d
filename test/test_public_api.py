# SPDX-License-Identifier: Apache-2.0
"""The package uses rclpy's public API only: no handles, no private modules, no executor or
lifecycle internals (before issue 11 the node took messages with ``sub.handle.take_message``
and steered the executor through a CallbackGroup subclass)."""

from __future__ import annotations

import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = REPO / 'movenet_ros'  # the sources, which every install is made of
PRIVATE = re.compile(
    r'\.handle\b'  # rcl handles of entities
    r'|\b_rclpy\b|rclpy\.impl|_rclpy_pybind11'  # the C extension
    r'|\._(take_|execute_|wait_for_ready|make_handler|state_machine|executor_event|cb_iter'
    r'|tasks\b|parameters\b|descriptors\b)\w*'  # executor, lifecycle and node internals
    r'|\(CallbackGroup\)'  # a subclass steering the executor
)


def sources() -> list[pathlib.Path]:
    return sorted([*PACKAGE.rglob('*.py'), *(REPO / 'bench').glob('*.py'),
                   *(REPO / 'tools').glob('*.py'), *(REPO / 'launch').glob('*.py')])


def test_no_private_rclpy_api():
    assert len(sources()) > 30
    found = [f'{path.relative_to(REPO)}:{n}: {line.strip()}'
             for path in sources()
             for n, line in enumerate(path.read_text().splitlines(), start=1)
             if PRIVATE.search(line)]
    assert not found, '\n'.join(found)


def test_the_check_finds_what_it_looks_for():
    for line in ('with sub.handle:', 'taken = sub.handle.take_message(t, raw)',
                 'from rclpy.impl.implementation_singleton import rclpy_implementation',
                 'executor._take_subscription(sub)', 'node._state_machine.current_state',
                 'node._parameters[name]',
                 'class TakeWhileIdle(CallbackGroup):'):
        assert PRIVATE.search(line), line
    for line in ('sub.get_publisher_count()', 'self._handle_frame()', 'self.executor.wake()'):
        assert not PRIVATE.search(line), line
