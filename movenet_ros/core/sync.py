# SPDX-License-Identifier: Apache-2.0
"""Pair each colour image with the depth image of the same moment, by stamp (ROS-free).

message_filters is not available here, and its synchronisers hold the colour image until a
depth image arrives: a pose node must never wait for depth. :class:`StampMatcher` keeps the
newest few depth frames as they arrive and answers at once, for a colour stamp, with the
depth frame nearest in time within a tolerance, or with why there is none:

* NO_DEPTH: none has arrived (yet, or since :meth:`StampMatcher.clear`);
* DEPTH_LATE: every depth frame kept is older than the colour image: its depth frame has not
  arrived (yet: it lags, it was dropped, or depth has stopped; at that moment these cannot be
  told apart);
* DEPTH_AHEAD: every depth frame kept is newer: the colour image was processed after its
  depth frame left the buffer (raise the buffer size);
* DEPTH_MISSING: depth frames before and after it, none close enough: that depth frame was
  dropped (known once a later one has arrived).

The buffer holds the newest frames by arrival, not by stamp, so a clock that jumps back (a bag
played again, a simulator reset) heals itself after a few frames. Stamps are integer
nanoseconds: equal stamps compare equal, as a driver's identical colour and depth stamps do.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum
import threading
from typing import Generic, TypeVar

from movenet_ros.core.options import Range

T = TypeVar('T')

# Less than half a frame at 30 fps, so the nearest frame within it is the only one; more than
# the offset of unsynchronised colour and depth sensors running at the same rate (RealSense
# colour and depth stamps of one moment differ by a few ms).
DEFAULT_TOLERANCE_S = 0.02
TOLERANCE_S_RANGE = Range(0.0, 1.0)
# 5 frames: 0.17 s of depth at 30 fps, more than a colour frame waits for the model.
DEFAULT_CAPACITY = 5
CAPACITY_RANGE = Range(1, 100)
NANOSECONDS = 1_000_000_000


class MatchFailure(Enum):
    """Why a colour stamp got no depth frame (see the module docstring)."""

    NO_DEPTH = 'no depth image received'
    DEPTH_LATE = 'no depth image as new as the colour image (late, dropped or stopped)'
    DEPTH_AHEAD = 'depth images are newer than the colour image (colour processed late)'
    DEPTH_MISSING = 'no depth image within the tolerance (a depth frame was dropped)'


@dataclass(frozen=True)
class Match(Generic[T]):
    """The depth frame paired with a colour stamp, or why there is none.

    ``offset_ns``: depth stamp minus colour stamp of the nearest depth frame kept (None when
    there is none), also when it is too far to be used, for diagnostics.
    """

    item: T | None
    failure: MatchFailure | None
    offset_ns: int | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


class StampMatcher(Generic[T]):
    """Newest ``capacity`` depth frames, paired to colour stamps within ``tolerance_s``.

    Thread-safe: depth and colour callbacks may run on different executor threads. Neither
    :meth:`add` nor :meth:`match` ever waits for a frame.
    """

    def __init__(self, tolerance_s: float = DEFAULT_TOLERANCE_S,
                 capacity: int = DEFAULT_CAPACITY) -> None:
        CAPACITY_RANGE.check('capacity', capacity)
        self._frames: deque[tuple[int, T]] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self.set_tolerance(tolerance_s)

    def set_tolerance(self, tolerance_s: float) -> None:
        """Pair within ``tolerance_s`` seconds from the next :meth:`match` on."""
        TOLERANCE_S_RANGE.check('tolerance_s', tolerance_s)
        self.tolerance_ns = round(tolerance_s * NANOSECONDS)

    def add(self, stamp_ns: int, item: T) -> None:
        """Keep ``item`` (a depth frame stamped ``stamp_ns``); the oldest arrival leaves when
        the buffer is full. A frame with a stamp already kept replaces it."""
        with self._lock:
            for index, (kept, _) in enumerate(self._frames):
                if kept == stamp_ns:
                    self._frames[index] = (stamp_ns, item)
                    return
            self._frames.append((stamp_ns, item))

    def match(self, stamp_ns: int) -> Match[T]:
        """The kept depth frame nearest to ``stamp_ns`` if within the tolerance (ties go to
        the earlier one), else why not."""
        with self._lock:
            frames = list(self._frames)
        if not frames:
            return Match(None, MatchFailure.NO_DEPTH)
        kept, item = min(frames, key=lambda frame: (abs(frame[0] - stamp_ns), frame[0]))
        offset = kept - stamp_ns
        if abs(offset) <= self.tolerance_ns:
            return Match(item, None, offset)
        stamps = [s for s, _ in frames]
        if max(stamps) < stamp_ns:
            failure = MatchFailure.DEPTH_LATE
        elif min(stamps) > stamp_ns:
            failure = MatchFailure.DEPTH_AHEAD
        else:
            failure = MatchFailure.DEPTH_MISSING
        return Match(None, failure, offset)

    def clear(self) -> None:
        """Forget every depth frame (e.g. when depth is switched off or the node deactivates)."""
        with self._lock:
            self._frames.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)


def stamp_ns(sec: int, nanosec: int) -> int:
    """A ROS stamp (builtin_interfaces/Time fields) as integer nanoseconds."""
    return int(sec) * NANOSECONDS + int(nanosec)
