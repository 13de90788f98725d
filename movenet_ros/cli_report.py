# SPDX-License-Identifier: Apache-2.0
"""What a ``movenet-ros`` run reports, and how Ctrl-C and SIGTERM end it.

The run's account (frames, failed and skipped inputs, the JSONL footer, the closing summary)
and its exit codes live here, apart from the options and the frame loop in :mod:`cli`, so
that what a user is told at the end can be read in one place.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
import signal
import sys
from typing import ClassVar

from tqdm import tqdm

from movenet_ros.core.results import PoseResult

EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
LISTED = 10  # failed or skipped inputs named in the summary (each kind); the footer has all


@dataclass
class Report:
    """Counts frames, collects failed and skipped inputs, and prints them readably.

    A failure is printed when it happens (above any progress bar) and again in the closing
    summary; skipped entries only in the summary. :meth:`footer` is the JSON summary line.
    """

    model: str
    inputs: int = 0
    frames: int = 0
    frames_with_people: int = 0
    people: int = 0
    inference_ms: float = 0.0
    total_ms: float = 0.0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # source, message, label
    skipped: list[tuple[str, str]] = field(default_factory=list)  # source, reason
    videos: list[dict] = field(default_factory=list)
    bags: list[dict] = field(default_factory=list)
    bag_out: dict | None = None  # what --bag-out holds
    stopped: str | None = None
    exit_code: int = EXIT_OK

    def add(self, result: PoseResult, total_ms: float) -> None:
        self.frames += 1
        self.people += len(result.poses)
        self.frames_with_people += bool(result.poses)
        self.inference_ms += result.inference_ms
        self.total_ms += total_ms

    def fail(self, source: str, message: str, label: str = 'failed') -> None:
        """Record an input that failed (or, ``label='incomplete'``, was read in part)."""
        self.failed.append((source, message, label))
        kind = 'warning' if label == 'incomplete' else 'error'
        tqdm.write(f'movenet-ros: {kind}: {message}', file=sys.stderr)

    def stop(self, reason: str, exit_code: int) -> None:
        """The run ends early (Ctrl-C, a model or output failure); what was done is kept."""
        self.stopped = reason
        self.exit_code = exit_code
        tqdm.write(f'movenet-ros: run stopped: {reason}; the outputs so far are closed and '
                   'kept', file=sys.stderr)

    def final_exit_code(self) -> int:
        return self.exit_code or (EXIT_INCOMPLETE if self.failed else EXIT_OK)

    def footer(self) -> dict:
        """The JSONL footer: ``{"summary": {...}}``, always the last line of --json."""
        return {'summary': {
            'model': self.model, 'inputs': self.inputs, 'frames': self.frames,
            'frames_with_people': self.frames_with_people, 'people': self.people,
            'mean_inference_ms': round(self.inference_ms / self.frames, 2)
            if self.frames else None,
            'videos': self.videos,
            'bags': self.bags,
            'bag_out': self.bag_out,
            'failed': [{'source': s, 'error': m} for s, m, _ in self.failed],
            'skipped': [{'source': s, 'reason': r} for s, r in self.skipped],
            'stopped': self.stopped,
            'exit_code': self.final_exit_code(),
        }}

    def lines(self) -> list[str]:
        """The closing summary: counts first, then what went wrong, one input a line."""
        if self.frames:
            counts = (f'{self.frames} frame(s), {self.frames_with_people} with people, '
                      f'{self.people} person detection(s) '
                      f'({self.people / self.frames:.2f} per frame); mean inference '
                      f'{self.inference_ms / self.frames:.1f} ms, mean per frame '
                      f'{self.total_ms / self.frames:.1f} ms')
        else:
            counts = 'no frames processed'
        lines = [f'{self.model}: {self.inputs} input(s): {counts}']
        tally = [f'{n} {label}' for label, n in
                 Counter(label for _, _, label in self.failed).items()]
        if self.skipped:
            tally.append(f'{len(self.skipped)} skipped')
        if tally:
            lines.append(f'movenet-ros: {", ".join(tally)} (exit code {self.final_exit_code()}):')
        width = max([len(label) for _, _, label in self.failed]
                    + [len('skipped')] * bool(self.skipped), default=0)
        lines += _listed([f'  {label:<{width}}  {message}'
                          for _, message, label in self.failed], 'failed or incomplete')
        lines += _listed([f'  {"skipped":<{width}}  {source}: {reason}'
                          for source, reason in self.skipped], 'skipped')
        return lines


def _listed(lines: list[str], what: str) -> list[str]:
    if len(lines) <= LISTED:
        return lines
    more = f'  ... and {len(lines) - LISTED} more {what} (the --json summary line lists all)'
    return [*lines[:LISTED], more]


class StopRequest(Exception):  # noqa: N818 (a request, not an error)
    """Ctrl-C or SIGTERM asked the run to end: raised between two frames."""

    def __init__(self, reason: str, exit_code: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code


class StopSignals:
    """Ctrl-C and SIGTERM end the run at the next frame boundary, not inside a frame.

    So the JSON lines, the annotated video and the summary all agree on the frames done, and
    the video is finalised (playable). A second signal stops at once (KeyboardInterrupt).
    """

    SIGNALS: ClassVar[dict[int, tuple[str, int]]] = {
        signal.SIGINT: ('interrupted (SIGINT)', EXIT_INTERRUPTED),
        signal.SIGTERM: ('interrupted (SIGTERM)', 128 + signal.SIGTERM)}

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        for signum in self.SIGNALS:
            # A signal the parent ignores (nohup, a background job) stays ignored.
            if signal.getsignal(signum) is not signal.SIG_IGN:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, _frame) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signum

    def check(self) -> None:
        """Raise StopRequest if a signal came since the run began."""
        if self.received is not None:
            raise StopRequest(*self.SIGNALS[self.received])
