# SPDX-License-Identifier: Apache-2.0
"""The node's frame intake: the hand-over of frames from the executor to the frame thread,
and the accounting of frames dropped by the node or lost before they reached it.

With the default one-frame subscription queue (``image_qos_depth`` 1) the image callback
gates the subscription: it hands the frame over and waits, as a coroutine, until the frame
thread is done with it. Meanwhile its (mutually exclusive) callback group is busy, so the
executor takes no image: newer frames replace each other in the middleware's queue without
ever being copied into Python, and the newest is taken once the model is free. With a deeper
queue the callback does not wait: the executor drains the queue as frames come and the
:class:`FrameSlot` keeps the newest.

Frames replaced in the middleware's queue, and frames that never arrive (lost in transport),
show up as gaps in the publisher's sequence numbers (``publication_sequence_number`` of the
message info); a gap before a frame that waited in the queue while the model was busy is
the node's choice (dropped), other gaps are losses upstream. rclpy's message info (Jazzy)
carries the sequence number but not the publisher's GID (its keys: source_timestamp,
received_timestamp, publication_sequence_number, reception_sequence_number). With one
publisher on the topic that does not matter; with several, sequences are kept per header
``frame_id`` (distinct cameras have distinct frames). Sequences are trusted only as far as
they can be:

* the topic's publisher count changed since a stream's last frame (a camera came or went):
  its next gap is not counted, the stream starts again from that frame;
* a sequence that steps back with one publisher is a restarted publisher: started again;
* one that steps back with several publishers means several of them share the frame_id:
  that stream's losses are unknown (and said so) until one publisher is left. The jump
  forward just before the step back was the other publisher's, not a loss: with several
  publishers a gap is counted only once the stream's next frame has come in order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
import threading

MAX_STREAMS = 64  # frame_ids followed at once; the least recently seen is forgotten first


@dataclass
class _Stream:
    last: int  # sequence number of the stream's newest frame
    era: int  # SequenceStreams.era when it arrived
    shared: bool = False  # several publishers use this frame_id: gaps mean nothing
    unconfirmed: int = 0  # the last gap, counted once the next frame comes in order


class SequenceStreams:
    """Frames lost upstream: gaps in the publication sequence numbers, per stream."""

    def __init__(self, max_streams: int = MAX_STREAMS) -> None:
        self._streams: OrderedDict[str, _Stream] = OrderedDict()
        self._max = max_streams
        self._publishers = 0  # the topic's publisher count at the last frame
        self._era = 0  # counts the changes of the publisher count
        self.without_numbers = False  # the middleware gave no sequence numbers

    def lost_before(self, frame_id: str, sequence: int, publishers: int) -> int:
        """How many frames of this frame's stream are missing before it (0 if unknown)."""
        if publishers != self._publishers:
            self._publishers, self._era = publishers, self._era + 1
        if sequence <= 0:
            self.without_numbers = True
            return 0
        key = frame_id if publishers > 1 else ''  # one publisher: one sequence
        stream = self._streams.get(key)
        if stream is None or stream.era != self._era:
            self._start(key, sequence)
            return 0
        self._streams.move_to_end(key)
        previous, stream.last = stream.last, sequence
        if sequence > previous and not stream.shared:
            gap = sequence - previous - 1
            if publishers <= 1:
                return gap
            confirmed, stream.unconfirmed = stream.unconfirmed, gap
            return confirmed
        if publishers > 1:
            stream.shared, stream.unconfirmed = True, 0
        else:
            self._start(key, sequence)  # a restarted publisher
        return 0

    def _start(self, key: str, sequence: int) -> None:
        self._streams[key] = _Stream(sequence, self._era)
        self._streams.move_to_end(key)
        while len(self._streams) > self._max:
            self._streams.popitem(last=False)

    def describe(self) -> str:
        """How far 'frames lost upstream' can be trusted, in words, for diagnostics."""
        if self.without_numbers:
            return 'unknown: the middleware gives no sequence numbers'
        current = sorted((key, s) for key, s in self._streams.items() if s.era == self._era)
        if not current:
            return 'no images yet'
        if self._publishers <= 1:
            return 'counted: one publisher'
        shared = [key or '(empty)' for key, s in current if s.shared]
        counted = [key or '(empty)' for key, s in current if not s.shared]
        text = f'{self._publishers} publishers'
        if counted:
            text += f'; counted per frame_id: {", ".join(counted)}'
        if shared:
            text += f'; unknown for frame_id {", ".join(shared)}, which several of them use'
        return text


class FrameAccounting:
    """What each arriving frame says about the frames before it: dropped or lost."""

    def __init__(self) -> None:
        self.streams = SequenceStreams()
        self._free_since_ns = 0  # wall clock when the model last became free

    def arrived(self, frame_id: str, info: dict, publishers: int) -> tuple[int, int]:
        """(frames replaced in the node's queue, frames lost upstream) before this one."""
        gap = self.streams.lost_before(frame_id, info.get('publication_sequence_number', 0),
                                       publishers)
        # Received by the middleware before the model became free: it waited in the queue,
        # where the frames missing before it were replaced, one by the next.
        queued = 0 < info.get('received_timestamp', 0) <= self._free_since_ns
        return (gap, 0) if queued else (0, gap)

    def model_free(self, now_ns: int) -> None:
        """The model finished a frame at ``now_ns`` (wall clock, ns)."""
        self._free_since_ns = now_ns


@dataclass(frozen=True)
class Pending:
    """A frame waiting for the frame thread."""

    msg: object  # the image message
    receipt_s: float  # when it arrived, in ROS time (the node's clock)
    finished: Callable[[], None] = lambda: None  # called once the frame thread is done


class FrameSlot:
    """The newest unprocessed frame, handed from the executor to the frame thread."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._item: Pending | None = None
        self._closed = False

    def put(self, item: Pending) -> Pending | None:
        """Offer ``item``; return the frame it replaced (dropped), if one was waiting."""
        with self._ready:
            if self._closed:
                return item
            replaced, self._item = self._item, item
            self._ready.notify()
        return replaced

    def take(self) -> Pending | None:
        """The newest frame, once there is one; None once closed."""
        with self._ready:
            while self._item is None and not self._closed:
                self._ready.wait()
            item, self._item = self._item, None
            return item

    def close(self) -> Pending | None:
        """No more frames: :meth:`take` returns None. Returns the frame still waiting."""
        with self._ready:
            self._closed = True
            waiting, self._item = self._item, None
            self._ready.notify_all()
        return waiting
