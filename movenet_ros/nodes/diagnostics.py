# SPDX-License-Identifier: Apache-2.0
"""What movenet_node reports on /diagnostics: level, message and values, from plain data.

The node hands over a :class:`~movenet_ros.nodes.statistics.Snapshot` and a :class:`View`
of its state; :func:`assess` says how healthy that is. The node only wraps the answer in a
``diagnostic_msgs/DiagnosticStatus``.
"""

from __future__ import annotations

from dataclasses import dataclass
import enum
from typing import TYPE_CHECKING

from movenet_ros.nodes.statistics import Snapshot, percentile

if TYPE_CHECKING:
    from movenet_ros.nodes.depth_input import DepthReport

INVALID_CAMERA_INFO = 'invalid K ignored'


class Level(enum.IntEnum):
    """diagnostic_msgs/DiagnosticStatus levels."""

    OK = 0
    WARN = 1
    ERROR = 2


@dataclass(frozen=True)
class View:
    """The node's state at the time of a report."""

    state: str  # lifecycle state: unconfigured, inactive, active
    configure_error: str  # why the last configure failed ('' if it did not)
    input_topic: str  # resolved
    model_name: str  # '' while unconfigured
    model_file: str
    camera_info: str  # what the markers' camera is based on
    upstream_loss: str  # how far 'frames lost upstream' can be trusted
    stamp_problems: int = 0  # frames whose stamp could not be used as it was, in total
    stamp_problems_period: int = 0
    last_stamp_problem: str = ''
    thread_placement: str = ''  # where the model's threads run (ThreadPlacement.state)
    depth_topic: str = ''  # resolved depth/image; '' while depth is off
    depth: DepthReport | None = None  # None while depth is off


@dataclass(frozen=True)
class Health:
    level: Level
    message: str
    hardware_id: str
    values: dict[str, str]


def _level(view: View, snap: Snapshot) -> tuple[Level, str]:
    period = snap.period
    if view.state == 'unconfigured':
        if view.configure_error:
            return Level.ERROR, f'configuration failed: {view.configure_error}'
        return Level.OK, 'unconfigured'
    if view.state != 'active':
        return Level.OK, f'{view.state}: not taking images'
    if period.model_errors:
        return (Level.ERROR,
                f'model {view.model_file.rsplit("/", 1)[-1]} failed on {period.model_errors} '
                'frame(s)')
    if period.bad:
        return Level.WARN, f'{period.bad} bad image(s)'
    if period.received == 0:
        return Level.WARN, f'no images on {view.input_topic}'
    depth = view.depth
    if depth is not None:
        if depth.period.bad:
            return Level.WARN, f'{depth.period.bad} bad depth image(s): {depth.last_problem}'
        if depth.period.unusable:
            return Level.WARN, f'depth not usable: {depth.last_problem}'
        if period.processed and not depth.period.paired:
            return Level.WARN, f'no depth on {view.depth_topic}: {depth.last_unpaired}'
    if view.camera_info.startswith(INVALID_CAMERA_INFO):
        return Level.WARN, 'invalid camera_info'
    if view.stamp_problems_period:
        return Level.WARN, f'{view.stamp_problems_period} frame(s) with unusable stamps'
    return Level.OK, 'running'


def assess(view: View, snap: Snapshot) -> Health:
    """The status of one diagnostics period."""
    level, message = _level(view, snap)
    period, total = snap.period, snap.total

    def pct(values: list[float], q: float, digits: int = 1) -> str:
        value = percentile(values, q)
        return '' if value is None else f'{value:.{digits}f}'

    elapsed = max(snap.seconds, 1e-6)
    values = {
        'lifecycle state': view.state,
        'input rate (Hz)': f'{(period.received + period.lost) / elapsed:.2f}',
        'processed rate (Hz)': f'{period.processed / elapsed:.2f}',
        'frames received': str(total.received),
        'frames processed': str(total.processed),
        'frames dropped': str(total.dropped),
        'frames lost upstream': str(total.lost),
        'upstream loss': view.upstream_loss,
        'bad messages': str(total.bad),
        'model errors': str(total.model_errors),
        'stamp problems': str(view.stamp_problems),
        'last stamp problem': view.last_stamp_problem,
        'inference ms p50': pct(snap.inference_ms, 0.5),
        'inference ms p95': pct(snap.inference_ms, 0.95),
        'latency ms p50': pct(snap.latency_ms, 0.5),
        'latency ms p95': pct(snap.latency_ms, 0.95),
        # What the node adds per frame to invoke(): conversion, pre/post-processing,
        # building and publishing messages (the image's transport not included).
        'overhead ms p50': pct(snap.overhead_ms, 0.5, 2),
        'overhead ms p95': pct(snap.overhead_ms, 0.95, 2),
        'model': view.model_name,
        'model file': view.model_file,
        'thread placement': view.thread_placement,
        'camera_info': view.camera_info,
        'last error': view.configure_error if view.state == 'unconfigured'
        else snap.last_error,
    }
    values |= _depth_values(view)
    hardware_id = snap.frame_id if snap.frame_id else 'none'
    return Health(level, message, hardware_id, values)


def _depth_values(view: View) -> dict[str, str]:
    depth = view.depth
    if depth is None:
        return {'depth': 'off'}
    total = depth.total
    return {
        'depth': view.depth_topic,
        'depth images received': str(total.received),
        'bad depth images': str(total.bad),
        'frames lifted to 3D': str(total.paired),
        'frames without depth': str(total.unpaired),
        'frames with unusable depth': str(total.unusable),
        'last depth problem': depth.last_problem,
        'last frame without depth': depth.last_unpaired,
    }
