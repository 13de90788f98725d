# SPDX-License-Identifier: Apache-2.0
"""One-Euro filter and PoseSmoother: exact synthetic cases, then real MultiPose keypoints."""

from __future__ import annotations

import numpy as np
import pytest

from movenet_ros.core.results import UNTRACKED, Pose
from movenet_ros.core.smoothing import OneEuroFilter, PoseSmoother
from movenet_ros.core.tracking import PoseTracker

FPS = 30.0


def pose_at(xy: np.ndarray, pose_id: int = 0, kp_score: float = 0.9) -> Pose:
    """A pose with keypoints ``xy`` (17, 2) and the box around them."""
    keypoints = np.empty((17, 3))
    keypoints[:, :2] = xy
    keypoints[:, 2] = kp_score
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    return Pose(keypoints=keypoints, score=0.7, box=(lo[0], lo[1], hi[0], hi[1]), id=pose_id)


def figure(cx: float = 500.0, cy: float = 400.0, height: float = 400.0) -> np.ndarray:
    """17 fixed (x, y) points spread over a body of ``height`` pixels."""
    rng = np.random.default_rng(7)
    return rng.uniform(-0.5, 0.5, (17, 2)) * (0.4 * height, height) + (cx, cy)


# --- the filter itself ----------------------------------------------------------------------

def test_constant_signal_is_returned_exactly():
    signal = figure()
    one_euro = OneEuroFilter()
    stamps = np.cumsum(np.random.default_rng(1).uniform(0.01, 0.2, 200))
    for t in stamps:
        assert np.array_equal(one_euro(signal, t), signal)
    smoother = PoseSmoother()
    for t in stamps:
        (out,) = smoother.update([pose_at(signal)], t)
        assert np.array_equal(out.keypoints[:, :2], signal)


def test_noise_on_a_still_signal_loses_more_than_half_its_variance():
    rng = np.random.default_rng(3)
    still = figure()
    smoother = PoseSmoother()
    raw, smooth = [], []
    for k in range(300):
        noisy = still + rng.normal(0.0, 2.0, still.shape)      # MultiPose-like 2 px noise
        (out,) = smoother.update([pose_at(noisy)], k / FPS)
        raw.append(noisy)
        smooth.append(out.keypoints[:, :2])
    raw_var = np.var(np.array(raw)[30:], axis=0).mean()
    smooth_var = np.var(np.array(smooth)[30:], axis=0).mean()
    assert smooth_var < raw_var / 2.0, (raw_var, smooth_var)
    # ... while staying centred on the true position.
    assert np.abs(np.array(smooth)[30:].mean(axis=0) - still).max() < 0.5


def ramp_lag(dt: float, beta: float = 6.0, frames: int = 60) -> float:
    """How far (px) the filter trails a point moving 5 px per frame, frames ``dt`` apart."""
    one_euro = OneEuroFilter(beta=beta)
    for k in range(frames):
        out = one_euro(np.array([[5.0 * k, 0.0]]), k * dt, scale=400.0)
    return 5.0 * (frames - 1) - float(out[0, 0])


def test_stamps_not_frames_drive_the_filter():
    """Identical frames, stamps twice as far apart: each step is a larger share of the cutoff
    period, so the filter must trail the moving point by fewer pixels. With beta = 0 (a plain
    low-pass at min_cutoff) the steady-state lag is step / (2 pi dt min_cutoff): exactly half."""
    lag_30, lag_15 = ramp_lag(1 / 30), ramp_lag(2 / 30)
    assert lag_15 < lag_30 - 0.1, (lag_30, lag_15)
    lag_30, lag_15 = ramp_lag(1 / 30, beta=0.0, frames=200), ramp_lag(2 / 30, beta=0.0, frames=200)
    assert lag_30 == pytest.approx(5.0 / (2 * np.pi / 30 * 0.5), rel=1e-3)
    assert lag_15 == pytest.approx(lag_30 / 2, rel=1e-3)


def test_speed_raises_the_cutoff():
    assert ramp_lag(1 / 30, beta=6.0) < ramp_lag(1 / 30, beta=0.0) / 2.0


def test_zero_elapsed_time_holds_the_estimate():
    """A stamp not after the previous one: nothing can have moved, so the estimate stays
    (not the raw value: that would switch smoothing off for the frame), and the next step
    is filtered over the whole time since the last one that counted."""
    held, fresh = OneEuroFilter(), OneEuroFilter()
    for one_euro in (held, fresh):
        one_euro(np.zeros((3, 2)), 1.0)
        before = one_euro(np.full((3, 2), 10.0), 1.1).copy()
    moved = np.full((3, 2), 50.0)
    assert np.array_equal(held(moved, 1.1), before)
    assert np.array_equal(held(moved, 1.05), before)
    np.testing.assert_array_equal(held(moved, 1.2), fresh(moved, 1.2))


def test_the_filter_is_scale_invariant():
    """Speed is in person sizes per second: a scene twice as large gives twice the output."""
    rng = np.random.default_rng(5)
    small, large = PoseSmoother(), PoseSmoother()
    for k in range(50):
        xy = figure(300 + 8.0 * k, 400) + rng.normal(0.0, 2.0, (17, 2))
        (a,) = small.update([pose_at(xy)], k / FPS)
        (b,) = large.update([pose_at(2.0 * xy)], k / FPS)
        np.testing.assert_allclose(b.keypoints[:, :2], 2.0 * a.keypoints[:, :2], rtol=1e-12)


# --- PoseSmoother bookkeeping ---------------------------------------------------------------

def run_still_then(smoother: PoseSmoother, first_id: int, jump_id: int, gap_s: float) -> Pose:
    """Track ``first_id`` at one place for 1 s, then show ``jump_id`` 100 px away after
    ``gap_s`` seconds."""
    here = figure()
    for k in range(30):
        smoother.update([pose_at(here, first_id)], k / FPS)
    (out,) = smoother.update([pose_at(here + 100.0, jump_id)], 29 / FPS + gap_s)
    return out


@pytest.mark.parametrize(('gap_s', 'restarted'), [(0.5, False), (1.5, True)])
def test_a_gap_longer_than_max_age_restarts_the_filter(gap_s, restarted):
    out = run_still_then(PoseSmoother(max_age_s=1.0), 3, 3, gap_s)
    jumped = figure() + 100.0
    assert np.array_equal(out.keypoints[:, :2], jumped) is restarted


def test_a_new_id_starts_at_its_own_position():
    out = run_still_then(PoseSmoother(), 3, 4, 1 / FPS)
    assert np.array_equal(out.keypoints[:, :2], figure() + 100.0)


def test_a_stamp_going_backwards_restarts_every_filter():
    smoother = PoseSmoother()
    here = figure()
    for k in range(30):
        smoother.update([pose_at(here)], 100.0 + k / FPS)
    (out,) = smoother.update([pose_at(here + 50.0)], 0.0)   # the video looped
    assert np.array_equal(out.keypoints[:, :2], here + 50.0)
    # ... and filtering goes on from there (not stuck on the old, "future" stamps).
    (out,) = smoother.update([pose_at(here + 60.0)], 1 / FPS)
    assert np.all((out.keypoints[:, :2] > here + 50.0) & (out.keypoints[:, :2] < here + 60.0))


def test_state_of_people_gone_longer_than_max_age_is_dropped():
    smoother = PoseSmoother(max_age_s=1.0)
    smoother.update([pose_at(figure(), 1), pose_at(figure(1200), 2)], 0.0)
    smoother.update([pose_at(figure(), 1)], 0.9)
    assert sorted(smoother.track_ids) == [1, 2]
    smoother.update([pose_at(figure(), 1)], 1.2)
    assert smoother.track_ids == [1]


def test_a_reappearing_keypoint_starts_at_its_measured_position():
    smoother = PoseSmoother()
    xy = figure()
    for k in range(10):
        pose = pose_at(xy)
        pose.keypoints[9] = (0.0, 0.0, 0.05)      # the left wrist is hidden, guessed at (0, 0)
        smoother.update([pose], k / FPS)
    (out,) = smoother.update([pose_at(xy)], 10 / FPS)
    np.testing.assert_array_equal(out.keypoints[9, :2], xy[9])


def test_scores_untracked_poses_and_the_input_are_left_alone():
    smoother = PoseSmoother()
    rng = np.random.default_rng(2)
    for k in range(5):
        tracked = pose_at(figure() + rng.normal(0, 3, (17, 2)), 0)
        tracked.keypoints[:, 2] = rng.uniform(0, 1, 17)
        untracked = pose_at(figure(1200), UNTRACKED)
        before = tracked.keypoints.copy()
        out = smoother.update([tracked, untracked], k / FPS)
        assert out[1] is untracked
        assert np.array_equal(out[0].keypoints[:, 2], before[:, 2])
        assert np.array_equal(tracked.keypoints, before)
        assert out[0].keypoints is not tracked.keypoints
        assert (out[0].id, out[0].score) == (tracked.id, tracked.score)
    assert smoother.track_ids == [0]


def test_the_box_is_smoothed_with_the_keypoints():
    smoother = PoseSmoother()
    for k in range(10):
        (out,) = smoother.update([pose_at(figure(500 + 10 * k))], k / FPS)
    raw = pose_at(figure(590)).box
    assert raw[0] - 10 * 9 < out.box[0] < raw[0]          # trails the moving box
    assert out.box[1] == pytest.approx(raw[1]) and out.box[3] == pytest.approx(raw[3])


def test_disabled_passes_poses_through():
    smoother = PoseSmoother(enabled=False)
    poses = [pose_at(figure())]
    for k in range(3):
        assert smoother.update(poses, k / FPS)[0] is poses[0]
    assert smoother.track_ids == []


@pytest.mark.parametrize('kwargs', [
    {'min_cutoff': 0.0}, {'beta': -1.0}, {'beta': float('nan')}, {'d_cutoff': -1.0},
    {'d_cutoff': 31.0}, {'max_age_s': 0.0}, {'keypoint_threshold': 2.0},
])
def test_invalid_parameters_are_refused(kwargs):
    (name,) = kwargs
    with pytest.raises(ValueError, match=f'^{name} must be a number from'):
        PoseSmoother(**kwargs)


# --- real footage ---------------------------------------------------------------------------

STILL = ((0, 11), (75, 89))   # the man's feet planted on the box (frames 12-70: jumping jacks)
WALK = (90, 131)              # the woman walking right to left on the grass
ANKLES = [15, 16]
HIPS = [11, 12]


@pytest.fixture(scope='module')
def tracked_frames(demo_video) -> dict[int, list[Pose]]:
    """MultiPose (max side 640) + PoseTracker poses of the frames the tests below use."""
    import cv2

    from movenet_ros.core.estimator import PoseEstimator
    from movenet_ros.core.model import MoveNetModel

    wanted = {i for a, b in (*STILL, WALK) for i in range(a, b)}
    estimator = PoseEstimator(MoveNetModel('multipose', num_threads=2, multipose_max_side=640))
    tracker = PoseTracker()
    capture = cv2.VideoCapture(str(demo_video))
    out = {}
    for index in range(max(wanted) + 1):
        ok, frame = capture.read()
        assert ok
        if index in wanted:
            out[index] = tracker.update(estimator.estimate(frame, 'bgr').poses, index / FPS)
    capture.release()
    return out


def track_of(tracked: dict[int, list[Pose]], frames: range, on_box: bool) -> list[Pose]:
    """The man (on the box: box centre above y = 520) or the woman, in every frame."""
    out = []
    for i in frames:
        match = [p for p in tracked[i] if ((p.box[1] + p.box[3]) / 2 < 520) == on_box]
        assert len(match) == 1, f'frame {i}: {len(match)} candidates'
        out.append(match[0])
    assert len({p.id for p in out}) == 1
    return out


def smooth_track(poses: list[Pose], frames: range) -> list[Pose]:
    smoother = PoseSmoother()
    return [smoother.update([p], i / FPS)[0] for p, i in zip(poses, frames, strict=True)]


def test_real_still_ankles_jitter_at_least_halved(tracked_frames):
    raw_d2, smooth_d2 = [], []
    for a, b in STILL:
        raw = track_of(tracked_frames, range(a, b), on_box=True)
        smooth = smooth_track(raw, range(a, b))
        raw_d2.append(np.diff([p.keypoints[ANKLES, :2] for p in raw], 2, axis=0))
        smooth_d2.append(np.diff([p.keypoints[ANKLES, :2] for p in smooth], 2, axis=0))
    raw_jitter = np.abs(np.concatenate(raw_d2)).mean()
    smooth_jitter = np.abs(np.concatenate(smooth_d2)).mean()
    assert raw_jitter > 0.5       # MultiPose does jitter (~1.6 px), else this proves nothing
    assert smooth_jitter < raw_jitter / 2.0, (raw_jitter, smooth_jitter)


def test_real_walk_lags_little(tracked_frames):
    frames = range(*WALK)
    raw = track_of(tracked_frames, frames, on_box=False)
    smooth = smooth_track(raw, frames)
    x_raw = np.array([p.keypoints[HIPS, 0].mean() for p in raw])
    x_smooth = np.array([p.keypoints[HIPS, 0].mean() for p in smooth])
    speed = -np.polyfit(np.array(frames) / FPS, x_raw, 1)[0]
    assert speed > 200.0          # she walks right to left at ~300 px/s
    behind_ms = np.mean(x_smooth[10:] - x_raw[10:]) / speed * 1000.0
    assert 0.0 < behind_ms < 40.0, behind_ms    # bench: 21 ms at 30 fps
