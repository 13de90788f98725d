# SPDX-License-Identifier: Apache-2.0
"""What runs after each frame's estimate on video: ids (tracking), then smoothing (ROS-free).

The CLI and the node both build a :class:`TemporalSettings` and run a :class:`TemporalFilter`,
so a video gives the same ids and smoothed keypoints whichever runs it, at every setting; the
settings' ranges and defaults (:attr:`TemporalSettings.RANGES`) are the CLI's argparse checks
and the node's parameter descriptors. :meth:`TemporalFilter.configure` applies new settings
between two frames without giving anyone a new id.

Time comes from the frames' stamps, never from frame counts, so irregular rates and dropped
frames behave. Stamps from cameras are not always sane, so the filter runs on its own image
clock, advanced by this rule (each case counted in :attr:`TemporalFilter.stamp_stats`):

* A stamp of 0 (a driver that never sets it; or one that is not a finite number) is replaced
  by the receipt time when the caller gives one (the node does); else it is a repeat of the
  previous stamp (the first frame then starts the clock at 0).
* The elapsed time from one frame to the next is the difference of their stamps.
* The same stamp again is zero elapsed time: tracks do not age, and smoothing holds its
  estimate for that frame (it neither stops nor jumps to the raw keypoints).
* A stamp up to :data:`BACKWARD_TOLERANCE_S` (0.5 s) before the previous one (jitter of a
  camera driver, frames a few ms out of order) is zero elapsed time too, not a reset: the next
  frame's elapsed time is measured from this stamp.
* Only a larger step back (a looping video, a restarted bag or simulation) resets: every track
  and filter is dropped and ids go on counting up, so no id is ever given out twice.

A forward jump needs no rule: tracks not seen for ``max_age_s`` of image time expire.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
import math
from typing import ClassVar

from movenet_ros.core.keypoints import DEFAULT_KEYPOINT_THRESHOLD
from movenet_ros.core.options import DEFAULT_MAX_AGE_S, MAX_AGE_S_RANGE, SCORE_RANGE, Range
from movenet_ros.core.results import PoseResult
from movenet_ros.core.smoothing import (
    BETA_RANGE,
    CUTOFF_HZ_RANGE,
    DEFAULT_BETA,
    DEFAULT_D_CUTOFF_HZ,
    DEFAULT_MIN_CUTOFF_HZ,
    PoseSmoother,
)
from movenet_ros.core.tracking import (
    DEFAULT_MAX_TRACKS,
    DEFAULT_MIN_SIMILARITY,
    DEFAULT_SIMILARITY,
    MAX_TRACKS_RANGE,
    MIN_SIMILARITY_RANGE,
    SIMILARITIES,
    PoseTracker,
)

# Larger than any driver's jitter (a few ms), smaller than any loop worth the name.
BACKWARD_TOLERANCE_S = 0.5


@dataclass(frozen=True)
class TemporalSettings:
    """Tracking and smoothing settings, as the CLI options and the node parameters give them.

    Defaults are the tuned ones (see :mod:`~movenet_ros.core.tracking` and
    :mod:`~movenet_ros.core.smoothing`); :meth:`validate` checks every field against
    :attr:`RANGES` and :attr:`CHOICES`. Smoothing is per person id, so it only runs with
    tracking (:attr:`smoothing_active`).
    """

    tracking: bool = True
    similarity: str = DEFAULT_SIMILARITY
    min_similarity: float = 0.0          # 0: the method's tuned DEFAULT_MIN_SIMILARITY
    max_age_s: float = DEFAULT_MAX_AGE_S
    max_tracks: int = DEFAULT_MAX_TRACKS
    smoothing: bool = True
    min_cutoff: float = DEFAULT_MIN_CUTOFF_HZ
    beta: float = DEFAULT_BETA
    d_cutoff: float = DEFAULT_D_CUTOFF_HZ
    keypoint_threshold: float = DEFAULT_KEYPOINT_THRESHOLD

    # The allowed (inclusive) range of every numeric field and the choices of the others.
    RANGES: ClassVar[dict[str, Range]] = {
        'min_similarity': MIN_SIMILARITY_RANGE,
        'max_age_s': MAX_AGE_S_RANGE,
        'max_tracks': MAX_TRACKS_RANGE,
        'min_cutoff': CUTOFF_HZ_RANGE,
        'beta': BETA_RANGE,
        'd_cutoff': CUTOFF_HZ_RANGE,
        'keypoint_threshold': SCORE_RANGE,
    }
    CHOICES: ClassVar[dict[str, tuple]] = {
        'tracking': (False, True),
        'similarity': SIMILARITIES,
        'smoothing': (False, True),
    }

    def validate(self) -> None:
        """Raise ValueError naming the first bad field and what it allows."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in self.RANGES:
                self.RANGES[f.name].check(f.name, value)
            elif value not in self.CHOICES[f.name] or type(value) is not \
                    type(self.CHOICES[f.name][0]):
                raise ValueError(f'{f.name} must be one of '
                                 f'{", ".join(map(str, self.CHOICES[f.name]))}, got {value!r}')

    @property
    def smoothing_active(self) -> bool:
        """Whether the keypoints are smoothed: smoothing on, and tracking to key it by."""
        return self.tracking and self.smoothing

    @property
    def effective_min_similarity(self) -> float:
        """``min_similarity``, or the tuned default of ``similarity`` where it is 0."""
        return self.min_similarity or DEFAULT_MIN_SIMILARITY[self.similarity]


@dataclass
class StampStats:
    """How the frames' stamps went, since the filter was made (for ``/diagnostics``)."""

    frames: int = 0
    zero_stamps: int = 0        # 0 or not finite: the receipt time was used, or a repeat
    repeated_stamps: int = 0    # the same stamp as the previous frame: zero elapsed time
    backward_steps: int = 0     # up to BACKWARD_TOLERANCE_S back: zero elapsed time
    resets: int = 0             # further back: tracks and filters dropped
    last_problem: str = ''      # the latest of the above, in words ('' while none)

    @property
    def problems(self) -> int:
        """Frames whose stamp was not later than the previous one, or missing."""
        return self.zero_stamps + self.repeated_stamps + self.backward_steps + self.resets


@dataclass
class StampClock:
    """The image clock of the stamp rule (see the module docstring): a time that never goes
    back, and whether a frame's stamp jumped back far enough to reset."""

    tolerance_s: float = BACKWARD_TOLERANCE_S
    time_s: float = 0.0
    stats: StampStats = field(default_factory=StampStats)
    _last_stamp_s: float | None = field(default=None, init=False, repr=False)

    def reset(self) -> None:
        """Forget the previous stamp (the clock and the counters go on)."""
        self._last_stamp_s = None

    def tick(self, stamp_s: float, receipt_s: float | None = None) -> tuple[float, bool]:
        """(image time, reset) of the frame stamped ``stamp_s``, received at ``receipt_s``."""
        stats = self.stats
        stats.frames += 1
        unset = stamp_s == 0.0 or not math.isfinite(stamp_s)
        if unset:
            stats.zero_stamps += 1
            if receipt_s is not None and math.isfinite(receipt_s):
                stats.last_problem = f'stamp {stamp_s:g} (unset): the receipt time was used'
                stamp_s = receipt_s
            else:
                stats.last_problem = (f'stamp {stamp_s:g} (unset) and no receipt time: zero '
                                      'elapsed time')
                stamp_s = 0.0 if self._last_stamp_s is None else self._last_stamp_s
        previous, self._last_stamp_s = self._last_stamp_s, stamp_s
        if previous is None:
            return self.time_s, False
        elapsed = stamp_s - previous
        if elapsed > 0.0:
            self.time_s += elapsed
        elif elapsed < -self.tolerance_s:
            stats.resets += 1
            stats.last_problem = (f'stamp {stamp_s:.6f} is {-elapsed:.3f} s before the previous '
                                  'one: tracks reset (ids go on counting up)')
            return self.time_s, True
        elif elapsed < 0.0:
            stats.backward_steps += 1
            stats.last_problem = (f'stamp {stamp_s:.6f} is {-elapsed * 1e3:.1f} ms before the '
                                  'previous one: zero elapsed time')
        elif not unset:
            stats.repeated_stamps += 1
            stats.last_problem = f'stamp {stamp_s:.6f} repeats the previous one: zero elapsed time'
        return self.time_s, False


class TemporalFilter:
    """Tracking and One-Euro smoothing of a stream of results, as :class:`TemporalSettings`
    ask, on the image clock of the stamp rule (see the module docstring)."""

    def __init__(self, settings: TemporalSettings | None = None) -> None:
        """``settings`` None: nothing is done (as ``TemporalSettings(tracking=False)``)."""
        settings = TemporalSettings(tracking=False) if settings is None else settings
        settings.validate()
        self.settings = settings
        self.tracker = PoseTracker(**self._tracker_args(settings))
        self.smoother = PoseSmoother(**self._smoother_args(settings))
        self._clock = StampClock()

    @staticmethod
    def _tracker_args(s: TemporalSettings) -> dict:
        return {'similarity': s.similarity, 'max_tracks': s.max_tracks,
                'max_age_s': s.max_age_s, 'min_similarity': s.min_similarity,
                'keypoint_threshold': s.keypoint_threshold}

    @staticmethod
    def _smoother_args(s: TemporalSettings) -> dict:
        return {'min_cutoff': s.min_cutoff, 'beta': s.beta, 'd_cutoff': s.d_cutoff,
                'max_age_s': s.max_age_s, 'keypoint_threshold': s.keypoint_threshold}

    @property
    def stamp_stats(self) -> StampStats:
        """A copy of the stamp counters (safe to read from another thread)."""
        return replace(self._clock.stats)

    def configure(self, settings: TemporalSettings) -> None:
        """Apply ``settings`` between two frames, in place.

        Every live track keeps its id and its filter state whatever changes, except that
        tracking off forgets the tracks (on again, ids go on counting up: none is reused) and
        smoothing off drops the filters (on again, each person's filter starts afresh). Raises
        ValueError, changing nothing, for invalid settings.
        """
        settings.validate()
        self.tracker.configure(**self._tracker_args(settings))
        self.smoother.configure(**self._smoother_args(settings))
        if not settings.tracking:
            self.tracker.reset()
        if not settings.smoothing_active:
            self.smoother.reset()
        self.settings = settings

    def update(self, result: PoseResult, stamp_s: float,
               receipt_s: float | None = None) -> PoseResult:
        """``result`` with its poses given ids and smoothed (a new result; input untouched).

        ``stamp_s`` is the frame's stamp in seconds (the image header's, or the video time),
        ``receipt_s`` the time it was received on the same clock (the stand-in for a stamp of
        0; see the module docstring).
        """
        time_s, jumped = self._clock.tick(stamp_s, receipt_s)
        if jumped:
            self.tracker.reset()
            self.smoother.reset()
        if not self.settings.tracking:
            return result
        poses = self.tracker.update(result.poses, time_s)
        if self.settings.smoothing_active:
            poses = self.smoother.update(poses, time_s)
        return replace(result, poses=poses)

    def reset(self) -> None:
        """Forget every track, filter and the previous stamp (for a new, unrelated video).
        Ids go on counting up; the stamp counters keep counting."""
        self.tracker.reset()
        self.smoother.reset()
        self._clock.reset()
