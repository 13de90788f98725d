# SPDX-License-Identifier: Apache-2.0
"""The node's frame counters and timings, shared by the frame thread and diagnostics.

Every method takes the one lock for microseconds, so the thread that runs the model never
waits for the one that reports, or the other way round.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, fields, replace
import threading

WINDOW = 300  # frames the timing percentiles are taken over


class Tally:
    """Integer fields counted up by name (a dataclass's)."""

    def add(self, **counts: int) -> None:
        for name, n in counts.items():
            setattr(self, name, getattr(self, name) + n)


@dataclass
class Counters(Tally):
    """Frame accounting.

    received: reached the node (including frames replaced in its one-frame queue).
    processed: the model ran and the outputs were published. dropped: received, but a newer
    frame came before the model was free. lost: never reached the node (gaps in the
    publisher's sequence numbers not explained by drops). bad: refused input messages.
    model_errors: frames the model failed on, or gave invalid outputs for.
    """

    received: int = 0
    processed: int = 0
    dropped: int = 0
    lost: int = 0
    bad: int = 0
    model_errors: int = 0


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of sorted ``values`` by the nearest rank; None if empty."""
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


@dataclass(frozen=True)
class Snapshot:
    """The counters of one diagnostics period and since start, and the latest timings."""

    period: Counters
    total: Counters
    seconds: float  # length of the period
    inference_ms: list[float]  # sorted, the last WINDOW frames
    latency_ms: list[float]
    overhead_ms: list[float]
    last_error: str
    frame_id: str | None  # of the newest image, None before the first
    image_size: tuple[int, int] | None  # (width, height) of the newest processed image


@dataclass
class FrameStats:
    """Thread-safe counters (per period and total) and rolling timings."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _period: Counters = field(default_factory=Counters)
    _total: Counters = field(default_factory=Counters)
    _inference: deque = field(default_factory=lambda: deque(maxlen=WINDOW))
    _latency: deque = field(default_factory=lambda: deque(maxlen=WINDOW))
    _overhead: deque = field(default_factory=lambda: deque(maxlen=WINDOW))
    _last_error: str = ''
    _frame_id: str | None = None
    _image_size: tuple[int, int] | None = None

    def count(self, **counts: int) -> None:
        with self._lock:
            self._period.add(**counts)
            self._total.add(**counts)

    def arrived(self, frame_id: str, **counts: int) -> None:
        with self._lock:
            self._frame_id = frame_id
            self._period.add(**counts)
            self._total.add(**counts)

    def failed(self, counter: str, message: str) -> None:
        """A frame refused (``bad``) or failed by the model (``model_errors``)."""
        with self._lock:
            self._period.add(**{counter: 1})
            self._total.add(**{counter: 1})
            self._last_error = message

    def processed(self, inference_ms: float, overhead_ms: float, latency_ms: float | None,
                  image_size: tuple[int, int]) -> None:
        with self._lock:
            self._period.add(processed=1)
            self._total.add(processed=1)
            self._inference.append(inference_ms)
            self._overhead.append(overhead_ms)
            if latency_ms is not None:
                self._latency.append(latency_ms)
            self._image_size = image_size

    def take(self, seconds: float) -> Snapshot:
        """The snapshot of the period that lasted ``seconds``; the next period starts now."""
        with self._lock:
            period, self._period = self._period, Counters()
            return Snapshot(
                period=period, total=replace(self._total), seconds=seconds,
                inference_ms=sorted(self._inference), latency_ms=sorted(self._latency),
                overhead_ms=sorted(self._overhead), last_error=self._last_error,
                frame_id=self._frame_id, image_size=self._image_size)


COUNTER_NAMES = tuple(f.name for f in fields(Counters))
