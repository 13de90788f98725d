# SPDX-License-Identifier: Apache-2.0
"""Frame accounting at the node's input: received, dropped by the node, lost upstream.

The image subscription has a one-frame queue (``image_qos_depth`` 1) that the executor only
takes from while the model is free, so while it runs each new frame replaces the waiting one
in the middleware, without ever reaching Python. Those frames are not seen; they show up as
gaps in the publisher's sequence numbers (``publication_sequence_number`` of the message
info), and so do frames lost in transport. A gap before a frame that arrived while the model
was busy is the node's own choice (dropped); any other gap is a loss upstream.

rclpy's message info (Jazzy) carries the sequence number but not the publisher's GID (its
keys: source_timestamp, received_timestamp, publication_sequence_number,
reception_sequence_number). With one publisher on the topic that does not matter; with
several, sequences are kept per header ``frame_id`` (distinct cameras have distinct frames).
Sequences are trusted only as far as they can be:

* the topic's publisher count changed since a stream's last frame (a camera came or went):
  its next gap is not counted, the stream starts again from that frame;
* a sequence that steps back with one publisher is a restarted publisher: started again;
* one that steps back with several publishers means several of them share the frame_id:
  that stream's losses are unknown (and said so) until one publisher is left.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

MAX_STREAMS = 64  # frame_ids followed at once; the least recently seen is forgotten first


@dataclass
class _Stream:
    last: int  # sequence number of the stream's newest frame
    publishers: int  # the topic's publisher count when it arrived
    shared: bool = False  # several publishers use this frame_id: gaps mean nothing


class SequenceStreams:
    """Gaps in the publication sequence numbers, per frame_id."""

    def __init__(self, max_streams: int = MAX_STREAMS) -> None:
        self._streams: OrderedDict[str, _Stream] = OrderedDict()
        self._max = max_streams
        self.without_numbers = False  # the middleware gave no sequence numbers
        self._publishers = 0  # the topic's publisher count at the last frame

    def gap(self, key: str, sequence: int, publishers: int) -> int | None:
        """How many frames of ``key``'s stream are missing before this one; None: unknown."""
        self._publishers = publishers
        if sequence <= 0:
            self.without_numbers = True
            return None
        stream = self._streams.get(key)
        if stream is None or stream.publishers != publishers or \
                (stream.shared and publishers <= 1):
            self._start(key, sequence, publishers)
            return 0
        self._streams.move_to_end(key)
        previous, stream.last = stream.last, sequence
        if sequence > previous and not stream.shared:
            return sequence - previous - 1
        if publishers > 1:
            stream.shared = True
            return None
        self._start(key, sequence, publishers)  # a restarted publisher
        return 0

    def _start(self, key: str, sequence: int, publishers: int) -> None:
        self._streams[key] = _Stream(sequence, publishers)
        self._streams.move_to_end(key)
        while len(self._streams) > self._max:
            self._streams.popitem(last=False)

    def describe(self) -> str:
        """How far 'frames lost upstream' can be trusted, in words, for diagnostics."""
        if self.without_numbers:
            return 'unknown: the middleware gives no sequence numbers'
        current = [(key, s) for key, s in self._streams.items()
                   if s.publishers == self._publishers]
        if self._publishers <= 1:
            return 'counted: one publisher' if current else 'no images yet'
        shared = [key or '(empty)' for key, s in current if s.shared]
        counted = [key or '(empty)' for key, s in current if not s.shared]
        text = f'{self._publishers} publishers'
        if counted:
            text += f'; counted per frame_id: {", ".join(counted)}'
        if shared:
            text += f'; unknown for frame_id {", ".join(shared)}, which several of them use'
        return text


@dataclass(frozen=True)
class Arrival:
    """What one arriving frame adds to the counters."""

    received: int  # this frame, and the frames it replaced in the queue
    dropped: int  # frames replaced in the queue while the model ran
    lost: int  # frames missing for another reason: lost in transport


class FrameIntake:
    """Turns each arriving frame's message info into :class:`Arrival` counts."""

    def __init__(self) -> None:
        self.streams = SequenceStreams()
        self._free_since_ns = 0  # wall clock when the model last became free

    def model_free(self, now_ns: int) -> None:
        """The model finished a frame at ``now_ns`` (wall clock, ns)."""
        self._free_since_ns = now_ns

    def arrived(self, frame_id: str, info: dict, publishers: int) -> Arrival:
        # One publisher: one sequence, whatever frame_ids it sends.
        key = frame_id if publishers > 1 else ''
        gap = self.streams.gap(key, info.get('publication_sequence_number') or 0, publishers)
        if not gap:
            return Arrival(received=1, dropped=0, lost=0)
        # Received (by the middleware) before the model became free: it waited in the queue,
        # where the frames missing before it were replaced, one by the next.
        waited = 0 < (info.get('received_timestamp') or 0) <= self._free_since_ns
        replaced = gap if waited else 0
        return Arrival(received=1 + replaced, dropped=replaced, lost=gap - replaced)
