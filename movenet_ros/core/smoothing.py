# SPDX-License-Identifier: Apache-2.0
"""Take the jitter out of tracked keypoints without making fast motion lag (ROS-free).

The One-Euro filter (Casiez, Roussel & Vogel, "1€ Filter: A Simple Speed-based Low-pass Filter
for Noisy Input in Interactive Systems", CHI 2012, https://gery.casiez.net/1euro/) is a
first-order low-pass filter whose cutoff rises with the signal's speed: still keypoints get a
low cutoff (``min_cutoff``, jitter removed), moving ones a high one (little lag). Each step
uses the time between the two image stamps, so irregular rates and dropped frames behave.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

from movenet_ros.core.keypoints import DEFAULT_KEYPOINT_THRESHOLD, NUM_KEYPOINTS
from movenet_ros.core.options import DEFAULT_MAX_AGE_S, MAX_AGE_S_RANGE, SCORE_RANGE, Range
from movenet_ros.core.results import UNTRACKED, Pose, visible_mask

# Tuned on the demo footage with bench/tracking.py (MultiPose, 30 and 15 fps; the sweep is in
# bench/results/tracking.json). (0.5 Hz, 6.0) cuts the jitter of planted feet 5.0x at 30 fps
# (3.2x at 15 fps) and trails a walk by 21 ms. (1.0, 3.0) cuts less (4.6x) and trails more
# (31 ms); (1.5, 6.0) trails as little (19 ms) but cuts less (3.5x, 2.3x at 15 fps).
DEFAULT_MIN_CUTOFF_HZ = 0.5
# Speed is measured in person sizes (the longer side of the pose's box) per second, so one
# beta suits every image resolution and distance from the camera; a walk is ~1 size/s.
DEFAULT_BETA = 6.0
# The cutoff Casiez et al. use for the velocity's own low-pass filter.
DEFAULT_D_CUTOFF_HZ = 1.0
# min_cutoff and d_cutoff: a cutoff must be > 0; beyond ~15 Hz (half of 30 fps) nothing is left
# to filter at camera rates, 30 Hz leaves room for fast cameras.
CUTOFF_HZ_RANGE = Range(0.001, 30.0)
BETA_RANGE = Range(0.0, 100.0)


def _alpha(cutoff_hz: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass filter at ``cutoff_hz`` for a step ``dt``:
    dt / (dt + tau) with tau = 1 / (2 pi cutoff), written with one division."""
    r = (2.0 * math.pi * dt) * cutoff_hz
    return r / (r + 1.0)


class OneEuroFilter:
    """One-Euro filter over an (..., D) array: points of D coordinates sharing one clock.

    Each point's cutoff follows the norm of its own (filtered) velocity, divided by ``scale``
    (an optional unit of length, per call), so x and y of a point are smoothed alike. The
    parameters are plain attributes, read at every step: change them (validated, see
    :meth:`check`) between two calls and the signal goes on from where it was.
    """

    def __init__(self, min_cutoff: float = DEFAULT_MIN_CUTOFF_HZ, beta: float = DEFAULT_BETA,
                 d_cutoff: float = DEFAULT_D_CUTOFF_HZ) -> None:
        self.check(min_cutoff, beta, d_cutoff)
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.reset()

    @staticmethod
    def check(min_cutoff: float, beta: float, d_cutoff: float) -> None:
        """Raise ValueError, naming the parameter and its range, for a value out of range."""
        CUTOFF_HZ_RANGE.check('min_cutoff', min_cutoff)
        BETA_RANGE.check('beta', beta)
        CUTOFF_HZ_RANGE.check('d_cutoff', d_cutoff)

    def reset(self) -> None:
        """Forget the signal: the next value is returned as is and starts a new one."""
        self.value: np.ndarray | None = None
        self.velocity: np.ndarray | None = None
        self.stamp_s: float | None = None

    def __call__(self, x: np.ndarray, stamp_s: float, scale: float = 1.0) -> np.ndarray:
        """Filtered ``x`` at ``stamp_s`` (seconds), a new array. A first value is returned
        as it is. A stamp not after the previous one is zero elapsed time: nothing can have
        moved, so the estimate is held (returned again, the state unchanged); the next value
        with a later stamp is filtered over the whole time since the last one that moved it."""
        x = np.asarray(x, dtype=np.float64)
        if self.value is None or self.value.shape != x.shape:
            self.value, self.velocity, self.stamp_s = x.copy(), np.zeros_like(x), stamp_s
            return x.copy()
        dt = stamp_s - self.stamp_s
        if not dt > 0.0:
            return self.value.copy()
        step = x - self.value
        velocity = self.velocity
        velocity += _alpha(self.d_cutoff, dt) * (step / dt - velocity)
        speed = np.sqrt(np.einsum('...j,...j->...', velocity, velocity))[..., None]
        cutoff = self.min_cutoff + (self.beta / max(scale, 1e-9)) * speed
        self.value += _alpha(cutoff, dt) * step
        self.stamp_s = stamp_s
        return self.value.copy()

    def restart_points(self, rows: np.ndarray, x: np.ndarray) -> None:
        """Restart the points selected by ``rows`` (a boolean mask) at the values ``x``."""
        if self.value is not None:
            self.value[rows] = x[rows]
            self.velocity[rows] = 0.0


@dataclass
class _TrackFilter:
    filter: OneEuroFilter
    visible: np.ndarray       # (17,) which keypoints were above the threshold last time
    last_seen_s: float


class PoseSmoother:
    """One-Euro filtering of the keypoints (x, y) and the box of each tracked person.

    Keyed by :attr:`Pose.id`, so run it after :class:`~movenet_ros.core.tracking.PoseTracker`;
    poses with ``UNTRACKED`` ids pass through unchanged. A person's filter starts afresh when
    the id is new or has not been seen for more than ``max_age_s`` (its state is then
    dropped), and all filters restart when a stamp goes backwards (feed it camera stamps
    through :class:`~movenet_ros.core.temporal.TemporalFilter`, whose stamp rule tells a
    looping video from a driver's jitter). A keypoint that comes back above
    ``keypoint_threshold`` restarts at its measured position instead of sliding in from where
    it was last seen. A pose stamped the same as its person's previous one gets the held
    estimate (zero elapsed time, see :class:`OneEuroFilter`). Scores are not smoothed: they
    are the model's per-frame confidence, which thresholds downstream must see as is.

    Args:
        min_cutoff: cutoff (Hz) for a still person; lower removes more jitter, adds more lag
            at slow speeds.
        beta: how fast the cutoff rises with speed, in Hz per (person size per second); higher
            means less lag on fast motion, more jitter while moving.
        d_cutoff: cutoff (Hz) of the velocity estimate that drives the adaptation.
        max_age_s: a person unseen for longer than this (image time) starts a new filter.
        keypoint_threshold: the score from which a keypoint counts as visible.
        enabled: False passes poses through untouched (and keeps no state).
    """

    def __init__(self, min_cutoff: float = DEFAULT_MIN_CUTOFF_HZ, beta: float = DEFAULT_BETA,
                 d_cutoff: float = DEFAULT_D_CUTOFF_HZ, max_age_s: float = DEFAULT_MAX_AGE_S,
                 keypoint_threshold: float = DEFAULT_KEYPOINT_THRESHOLD,
                 enabled: bool = True) -> None:
        self._tracks: dict[int, _TrackFilter] = {}
        self._last_stamp_s: float | None = None
        self.enabled = enabled
        self.configure(min_cutoff, beta, d_cutoff, max_age_s, keypoint_threshold)

    def configure(self, min_cutoff: float = DEFAULT_MIN_CUTOFF_HZ, beta: float = DEFAULT_BETA,
                  d_cutoff: float = DEFAULT_D_CUTOFF_HZ, max_age_s: float = DEFAULT_MAX_AGE_S,
                  keypoint_threshold: float = DEFAULT_KEYPOINT_THRESHOLD) -> None:
        """Change the parameters (see the class) between two frames: every person's filter
        keeps its state and goes on with the new values. Raises ValueError, changing nothing,
        if one is out of range."""
        OneEuroFilter.check(min_cutoff, beta, d_cutoff)
        MAX_AGE_S_RANGE.check('max_age_s', max_age_s)
        SCORE_RANGE.check('keypoint_threshold', keypoint_threshold)
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.max_age_s = max_age_s
        self.keypoint_threshold = keypoint_threshold
        for track in self._tracks.values():
            track.filter.min_cutoff, track.filter.beta = min_cutoff, beta
            track.filter.d_cutoff = d_cutoff

    @property
    def track_ids(self) -> list[int]:
        """Ids that currently have filter state."""
        return list(self._tracks)

    def reset(self) -> None:
        """Forget every person's filter."""
        self._tracks = {}
        self._last_stamp_s = None

    def update(self, poses: list[Pose], stamp_s: float) -> list[Pose]:
        """The poses of the frame stamped ``stamp_s`` (seconds), smoothed, in the same order.

        Returns new :class:`Pose` objects with new keypoint arrays; the input is untouched.
        """
        if not self.enabled:
            self.reset()
            return list(poses)
        if self._last_stamp_s is not None and stamp_s < self._last_stamp_s:
            self.reset()
        self._last_stamp_s = stamp_s
        self._tracks = {i: t for i, t in self._tracks.items()
                        if stamp_s - t.last_seen_s <= self.max_age_s}
        return [self._smooth(p, stamp_s) if p.id != UNTRACKED else p for p in poses]

    def _smooth(self, pose: Pose, stamp_s: float) -> Pose:
        values = np.empty((NUM_KEYPOINTS + 2, 2))
        values[:NUM_KEYPOINTS] = pose.keypoints[:, :2]
        values[NUM_KEYPOINTS:] = ((pose.box[0], pose.box[1]), (pose.box[2], pose.box[3]))
        visible = visible_mask(pose.keypoints[:, 2], self.keypoint_threshold)
        track = self._tracks.get(pose.id)
        if track is None:
            track = _TrackFilter(OneEuroFilter(self.min_cutoff, self.beta, self.d_cutoff),
                                 visible, stamp_s)
            self._tracks[pose.id] = track
        else:
            reappeared = visible & ~track.visible
            if reappeared.any():
                track.filter.restart_points(np.append(reappeared, (False, False)), values)
            track.visible = visible
            track.last_seen_s = stamp_s
        box_w, box_h = pose.box[2] - pose.box[0], pose.box[3] - pose.box[1]
        smoothed = track.filter(values, stamp_s, scale=max(box_w, box_h, 1.0))
        keypoints = pose.keypoints.copy()
        keypoints[:, :2] = smoothed[:NUM_KEYPOINTS]
        (x0, y0), (x1, y1) = smoothed[NUM_KEYPOINTS:].tolist()
        return Pose(keypoints=keypoints, score=pose.score, box=(x0, y0, x1, y1), id=pose.id)
