# SPDX-License-Identifier: Apache-2.0
"""TemporalSettings and TemporalFilter: ranges, changes at run time, the stamp rule; exact
synthetic cases first, then MultiPose on the demo footage."""

from __future__ import annotations

from dataclasses import fields, replace
import math

from figures import ids, person
import numpy as np
import pytest

from movenet_ros.core.keypoints import DEFAULT_KEYPOINT_THRESHOLD
from movenet_ros.core.options import Range
from movenet_ros.core.results import UNTRACKED, Pose, PoseResult
from movenet_ros.core.smoothing import (
    DEFAULT_BETA,
    DEFAULT_D_CUTOFF_HZ,
    DEFAULT_MIN_CUTOFF_HZ,
)
from movenet_ros.core.temporal import (
    BACKWARD_TOLERANCE_S,
    TemporalFilter,
    TemporalSettings,
)
from movenet_ros.core.tracking import DEFAULT_MAX_AGE_S, DEFAULT_MAX_TRACKS, PoseTracker

FPS = 30.0


def frame(*poses: Pose) -> PoseResult:
    return PoseResult(poses=list(poses), image_size=(1768, 994), model='test',
                      keypoint_threshold=DEFAULT_KEYPOINT_THRESHOLD, input_size=(256, 256))


def walkers(k: int, rng: np.random.Generator) -> PoseResult:
    """Frame ``k`` of two people walking towards each other, with 2 px of keypoint noise."""
    poses = [person(400 + 6 * k, 500), person(1300 - 6 * k, 520, height=380)]
    for p in poses:
        p.keypoints[:, :2] += rng.normal(0.0, 2.0, (17, 2))
    return frame(*poses)


# --- TemporalSettings -----------------------------------------------------------------------

def test_defaults_are_the_tuned_ones_and_every_field_has_a_range_or_choices():
    settings = TemporalSettings()
    settings.validate()
    assert (settings.max_age_s, settings.max_tracks, settings.min_cutoff, settings.beta,
            settings.d_cutoff, settings.keypoint_threshold) == \
        (DEFAULT_MAX_AGE_S, DEFAULT_MAX_TRACKS, DEFAULT_MIN_CUTOFF_HZ, DEFAULT_BETA,
         DEFAULT_D_CUTOFF_HZ, DEFAULT_KEYPOINT_THRESHOLD)
    names = {f.name for f in fields(settings)}
    assert set(TemporalSettings.RANGES) | set(TemporalSettings.CHOICES) == names
    assert not set(TemporalSettings.RANGES) & set(TemporalSettings.CHOICES)
    for name, allowed in TemporalSettings.RANGES.items():
        assert isinstance(allowed, Range) and allowed.contains(getattr(settings, name)), name
        assert allowed.integer == isinstance(getattr(settings, name), int), name
    assert settings.effective_min_similarity == 0.05
    assert replace(settings, similarity='iou').effective_min_similarity == 0.2
    assert replace(settings, min_similarity=0.4).effective_min_similarity == 0.4


@pytest.mark.parametrize(('change', 'message'), [
    ({'max_age_s': 0.0}, 'max_age_s must be a number from 0.01 to 60, got 0.0'),
    ({'max_age_s': math.inf}, 'max_age_s must be a number from 0.01 to 60, got inf'),
    ({'max_tracks': 0}, 'max_tracks must be an integer from 1 to 100, got 0'),
    ({'max_tracks': 3.0}, 'max_tracks must be an integer from 1 to 100, got 3.0'),
    ({'min_similarity': -0.5}, 'min_similarity must be a number from 0 to 1, got -0.5'),
    ({'min_cutoff': 0.0}, 'min_cutoff must be a number from 0.001 to 30, got 0.0'),
    ({'beta': math.nan}, 'beta must be a number from 0 to 100, got nan'),
    ({'d_cutoff': 31}, 'd_cutoff must be a number from 0.001 to 30, got 31'),
    ({'keypoint_threshold': 1.5}, 'keypoint_threshold must be a number from 0 to 1, got 1.5'),
    ({'similarity': 'nearest'}, "similarity must be one of oks, iou, got 'nearest'"),
    ({'tracking': 'yes'}, "tracking must be one of False, True, got 'yes'"),
    ({'smoothing': 1}, 'smoothing must be one of False, True, got 1'),
])
def test_validate_names_the_field_and_what_it_allows(change, message):
    settings = replace(TemporalSettings(), **change)
    for attempt in (settings.validate, lambda: TemporalFilter(settings),
                    lambda: TemporalFilter(TemporalSettings()).configure(settings)):
        with pytest.raises(ValueError) as info:
            attempt()
        assert str(info.value) == message


# --- configure: new settings between frames, the same people ---------------------------------

def run(temporal: TemporalFilter, frames: range, rng: np.random.Generator) -> list[PoseResult]:
    return [temporal.update(walkers(k, rng), k / FPS) for k in frames]


@pytest.mark.parametrize('change', [
    {'keypoint_threshold': 0.5}, {'beta': 2.0}, {'min_cutoff': 1.5}, {'d_cutoff': 3.0},
    {'max_age_s': 0.2}, {'max_age_s': 30.0}, {'similarity': 'iou'}, {'min_similarity': 0.3},
    {'max_tracks': 2}, {'smoothing': False},
])
def test_configure_keeps_every_id(change):
    rng = np.random.default_rng(4)
    temporal = TemporalFilter(TemporalSettings())
    before = run(temporal, range(10), rng)
    temporal.configure(replace(TemporalSettings(), **change))
    after = run(temporal, range(10, 20), rng)
    assert [ids(r.poses) for r in before + after] == [[0, 1]] * 20


@pytest.mark.parametrize(('change', 'smoothing_changes'), [
    ({'beta': 2.0}, True), ({'min_cutoff': 1.5}, True), ({'d_cutoff': 3.0}, True),
    ({'keypoint_threshold': 0.5}, False), ({'max_age_s': 30.0}, False),
    ({'similarity': 'iou'}, False), ({'min_similarity': 0.3}, False),
])
def test_configure_keeps_the_filter_state(change, smoothing_changes):
    """After a change, each person's filter goes on from its state: never the raw keypoints
    (a restarted filter returns those). A smoothing constant changes the next step; the other
    settings leave it exactly as it would have been."""
    streams = [walkers(k, np.random.default_rng(k)) for k in range(12)]
    changed, kept = TemporalFilter(TemporalSettings()), TemporalFilter(TemporalSettings())
    for k in range(11):
        changed.update(streams[k], k / FPS)
        kept.update(streams[k], k / FPS)
    settings = replace(TemporalSettings(), **change)
    changed.configure(settings)
    kept.configure(TemporalSettings())           # the same settings again: no change at all
    out_changed = changed.update(streams[11], 11 / FPS)
    out_kept = kept.update(streams[11], 11 / FPS)
    for raw, a, b in zip(streams[11].poses, out_changed.poses, out_kept.poses, strict=True):
        assert not np.array_equal(a.keypoints[:, :2], raw.keypoints[:, :2])
        assert np.array_equal(a.keypoints, b.keypoints) is not smoothing_changes
    for pose in out_changed.poses:
        one_euro = changed.smoother._tracks[pose.id].filter
        assert (one_euro.min_cutoff, one_euro.beta, one_euro.d_cutoff) == \
            (settings.min_cutoff, settings.beta, settings.d_cutoff)
    # Reconfiguring with identical settings changes nothing, to the bit.
    reference = TemporalFilter(TemporalSettings())
    for k in range(12):
        expected = reference.update(streams[k], k / FPS)
    for a, b in zip(out_kept.poses, expected.poses, strict=True):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)


def test_smoothing_off_passes_raw_keypoints_and_on_again_starts_afresh():
    rng = np.random.default_rng(5)
    temporal = TemporalFilter(TemporalSettings())
    run(temporal, range(5), rng)
    temporal.configure(TemporalSettings(smoothing=False))
    raw = walkers(5, rng)
    out = temporal.update(raw, 5 / FPS)
    assert ids(out.poses) == [0, 1] and temporal.smoother.track_ids == []
    for a, b in zip(out.poses, raw.poses, strict=True):
        assert np.array_equal(a.keypoints, b.keypoints)
    temporal.configure(TemporalSettings())
    raw = walkers(6, rng)
    out = temporal.update(raw, 6 / FPS)       # a new filter starts at the measurement
    assert ids(out.poses) == [0, 1]
    for a, b in zip(out.poses, raw.poses, strict=True):
        assert np.array_equal(a.keypoints, b.keypoints)
    out = temporal.update(walkers(7, rng), 7 / FPS)
    assert ids(out.poses) == [0, 1]
    assert sorted(temporal.smoother.track_ids) == [0, 1]


def test_tracking_off_forgets_and_on_again_never_reuses_an_id():
    rng = np.random.default_rng(6)
    temporal = TemporalFilter(TemporalSettings())
    assert [ids(r.poses) for r in run(temporal, range(3), rng)] == [[0, 1]] * 3
    temporal.configure(TemporalSettings(tracking=False))
    assert [ids(r.poses) for r in run(temporal, range(3, 6), rng)] == [[UNTRACKED] * 2] * 3
    assert temporal.tracker.track_ids == [] and temporal.smoother.track_ids == []
    temporal.configure(TemporalSettings())
    assert [ids(r.poses) for r in run(temporal, range(6, 9), rng)] == [[2, 3]] * 3


def test_fewer_max_tracks_drops_the_least_recently_seen():
    temporal = TemporalFilter(TemporalSettings(max_age_s=10.0))
    temporal.update(frame(person(200, 500)), 0.0)
    temporal.update(frame(person(700, 500)), 1.0)
    temporal.update(frame(person(1200, 500)), 2.0)
    assert temporal.tracker.track_ids == [0, 1, 2]
    temporal.configure(TemporalSettings(max_age_s=10.0, max_tracks=2))
    assert temporal.tracker.track_ids == [1, 2]
    out = temporal.update(frame(person(1200, 500), person(700, 500), person(200, 500)), 3.0)
    assert ids(out.poses) == [2, 1, UNTRACKED]


def test_a_refused_configure_changes_nothing():
    rng = np.random.default_rng(7)
    temporal = TemporalFilter(TemporalSettings())
    run(temporal, range(3), rng)
    with pytest.raises(ValueError, match='beta'):
        temporal.configure(TemporalSettings(max_age_s=5.0, beta=-1.0))
    assert temporal.settings == TemporalSettings()
    assert (temporal.tracker.max_age_s, temporal.smoother.max_age_s) == (1.0, 1.0)
    assert [ids(r.poses) for r in run(temporal, range(3, 5), rng)] == [[0, 1]] * 2


def test_without_settings_nothing_is_done():
    raw = frame(person(300, 500))
    assert TemporalFilter().update(raw, 1.0) is raw


# --- the stamp rule -------------------------------------------------------------------------

def test_a_zero_stamp_uses_the_receipt_time():
    temporal = TemporalFilter(TemporalSettings())
    (first,) = temporal.update(frame(person(300, 500)), 0.0, receipt_s=50.0).poses
    (near,) = temporal.update(frame(person(302, 500)), 0.0, receipt_s=50.5).poses
    (late,) = temporal.update(frame(person(304, 500)), 0.0, receipt_s=52.0).poses  # 1.5 s gap
    assert (first.id, near.id, late.id) == (0, 0, 1)
    stats = temporal.stamp_stats
    assert (stats.frames, stats.zero_stamps, stats.problems) == (3, 3, 3)
    assert stats.last_problem == 'stamp 0 (unset): the receipt time was used'
    # Smoothing runs on the receipt times: the same output as with those as stamps.
    stamped, unstamped = TemporalFilter(TemporalSettings()), TemporalFilter(TemporalSettings())
    rng = np.random.default_rng(8)
    for k in range(10):
        result = walkers(k, rng)
        a = stamped.update(result, 20.0 + k / FPS)
        b = unstamped.update(result, 0.0, receipt_s=20.0 + k / FPS)
        for pa, pb in zip(a.poses, b.poses, strict=True):
            np.testing.assert_array_equal(pa.keypoints, pb.keypoints)


def test_a_zero_stamp_without_receipt_time_is_a_repeat():
    temporal = TemporalFilter(TemporalSettings())
    temporal.update(frame(person(300, 500)), 5.0)
    for _ in range(50):   # however many: no time passes, nobody ages
        (again,) = temporal.update(frame(person(300, 500)), 0.0).poses
    assert again.id == 0
    assert temporal.stamp_stats.zero_stamps == 50
    assert 'no receipt time: zero elapsed time' in temporal.stamp_stats.last_problem


def test_a_repeated_stamp_is_zero_elapsed_time_and_smoothing_holds():
    temporal = TemporalFilter(TemporalSettings())
    rng = np.random.default_rng(9)
    previous = None
    for k in range(8):
        previous = temporal.update(walkers(k, rng), k / FPS)
    raw = walkers(8, rng)
    out = temporal.update(raw, 7 / FPS)                   # the stamp of the frame before
    assert ids(out.poses) == [0, 1]
    for held, before, measured in zip(out.poses, previous.poses, raw.poses, strict=True):
        np.testing.assert_array_equal(held.keypoints[:, :2], before.keypoints[:, :2])
        np.testing.assert_array_equal(held.keypoints[:, 2], measured.keypoints[:, 2])
        assert not np.array_equal(held.keypoints[:, :2], measured.keypoints[:, :2])
    # Tracks do not age on repeats: 100 frames of an empty scene at one stamp, then back.
    for _ in range(100):
        temporal.update(frame(), 7 / FPS)
    assert ids(temporal.update(walkers(9, rng), 7 / FPS + 0.5).poses) == [0, 1]
    stats = temporal.stamp_stats
    assert (stats.repeated_stamps, stats.resets) == (1 + 100, 0)


@pytest.mark.parametrize(('back_s', 'reset'), [
    (0.003, False), (BACKWARD_TOLERANCE_S, False), (BACKWARD_TOLERANCE_S + 0.01, True),
    (7.6, True),
])
def test_only_a_large_step_back_resets(back_s, reset):
    temporal = TemporalFilter(TemporalSettings())
    for k in range(5):   # stamps 1/32 s apart: exact in binary, so is the tolerance's edge
        temporal.update(frame(person(300 + 2 * k, 500)), 100.0 + k / 32)
    (after,) = temporal.update(frame(person(310, 500)), 100.0 + 4 / 32 - back_s).poses
    stats = temporal.stamp_stats
    assert (after.id == 0) is not reset
    assert (stats.backward_steps, stats.resets) == ((0, 1) if reset else (1, 0))
    if reset:
        assert after.id == 1   # ids go on counting up
        assert stats.last_problem.endswith('s before the previous one: tracks reset (ids go '
                                           'on counting up)')
    else:
        assert stats.last_problem.endswith('ms before the previous one: zero elapsed time')
    # Elapsed time is measured from the stamp that stepped back: 0.9 s later, same id.
    (later,) = temporal.update(frame(person(312, 500)), 100.0 + 4 / 32 - back_s + 0.9).poses
    assert later.id == after.id


def test_reset_forgets_tracks_but_not_ids_or_counters():
    temporal = TemporalFilter(TemporalSettings())
    temporal.update(frame(person(300, 500)), 0.0)
    temporal.update(frame(person(300, 500)), 0.0)
    temporal.reset()
    assert ids(temporal.update(frame(person(300, 500)), 0.0).poses) == [1]
    assert temporal.stamp_stats.frames == 3


# --- real footage ---------------------------------------------------------------------------

FRAMES = range(40, 80)   # the man jumping on the box, the woman walking in from the right


@pytest.fixture(scope='module')
def results(demo_video) -> dict[int, PoseResult]:
    """MultiPose (max side 640: both people in every frame) on frames 40-79 of the demo."""
    import cv2

    from movenet_ros.core.estimator import PoseEstimator
    from movenet_ros.core.model import MoveNetModel

    estimator = PoseEstimator(MoveNetModel('multipose', num_threads=2, multipose_max_side=640))
    capture = cv2.VideoCapture(str(demo_video))
    out = {}
    for index in range(FRAMES.stop):
        ok, image = capture.read()
        assert ok
        if index in FRAMES:
            out[index] = estimator.estimate(image, 'bgr')
    capture.release()
    assert all(len(r.poses) == 2 for r in out.values())
    return out


def who(pose: Pose) -> str:
    """The man is on the box (upper half of the image) in these frames, the woman below."""
    return 'man' if (pose.box[1] + pose.box[3]) / 2 < 520 else 'woman'


def ids_by_person(tracked: list[list[Pose]]) -> dict[str, set[int]]:
    seen: dict[str, set[int]] = {'man': set(), 'woman': set()}
    for poses in tracked:
        for pose in poses:
            seen[who(pose)].add(pose.id)
    return seen


def jittering_stamps() -> list[float]:
    """30 fps stamps of which every second one is 3 ms before the one before it (a driver
    whose stamps jitter, or frames delivered a few ms out of order)."""
    stamps: list[float] = []
    for k in range(len(FRAMES)):
        stamps.append(1_700_000_000.0 + k / FPS if k % 2 == 0 else stamps[-1] - 0.003)
    return stamps


def test_jittering_stamps_keep_one_id_per_person(results):
    """Before issue 11 the filter reset on every step back: each person got 21 ids in these
    40 frames (what the bare PoseTracker, fed the raw stamps, still shows)."""
    stamps = jittering_stamps()
    bare = PoseTracker()
    before = ids_by_person([bare.update(results[f].poses, s)
                            for f, s in zip(FRAMES, stamps, strict=True)])
    assert {k: len(v) for k, v in before.items()} == {'man': 21, 'woman': 21}

    temporal = TemporalFilter(TemporalSettings())
    now = [temporal.update(results[f], s).poses for f, s in zip(FRAMES, stamps, strict=True)]
    assert ids_by_person(now) == {'man': {0}, 'woman': {1}}
    assert temporal.stamp_stats.backward_steps == 20 and temporal.stamp_stats.resets == 0
    # Smoothing stays on: only each person's first frame is the raw measurement.
    raw_frames = sum(np.array_equal(p.keypoints, q.keypoints)
                     for f, poses in zip(FRAMES, now, strict=True)
                     for p, q in zip(results[f].poses, poses, strict=True))
    assert raw_frames == 2


def test_repeated_stamps_keep_smoothing_on(results):
    """Each stamp sent twice (15 fps in pairs): before issue 11 every repeat passed the raw
    keypoints through (smoothing off for half the frames); now a repeat holds the estimate."""
    stamps = [1_700_000_000.0 + (k // 2) * 2 / FPS for k in range(len(FRAMES))]
    temporal = TemporalFilter(TemporalSettings())
    tracked = [temporal.update(results[f], s).poses for f, s in zip(FRAMES, stamps, strict=True)]
    assert ids_by_person(tracked) == {'man': {0}, 'woman': {1}}
    previous: dict[int, Pose] = {}
    raw_frames, held = 0, 0
    for f, poses in zip(FRAMES, tracked, strict=True):
        for raw, out in zip(results[f].poses, poses, strict=True):
            raw_frames += np.array_equal(raw.keypoints, out.keypoints)
            if f % 2:
                # A repeat: the estimate is held, except for keypoints coming back into view
                # (they restart where they are measured).
                back = raw.visible(0.3) & ~previous[out.id].visible(0.3)
                same = np.array_equal(out.keypoints[~back, :2],
                                      previous[out.id].keypoints[~back, :2])
                held += same and np.array_equal(out.keypoints[back], raw.keypoints[back])
            previous[out.id] = out
    assert raw_frames == 2          # each person's first frame only
    assert held == 2 * 20           # both people, every repeated stamp
    assert temporal.stamp_stats.repeated_stamps == 20


def test_zero_stamps_smooth_on_receipt_times(results):
    """A camera that leaves every stamp at 0: before issue 11 the filter saw no time pass and
    passed the raw keypoints through; with the receipt times the output is what the stamps
    would have given."""
    receipts = [1_700_000_000.0 + k / FPS for k in range(len(FRAMES))]
    stamped, unstamped = TemporalFilter(TemporalSettings()), TemporalFilter(TemporalSettings())
    for f, receipt in zip(FRAMES, receipts, strict=True):
        a = stamped.update(results[f], receipt)
        b = unstamped.update(results[f], 0.0, receipt_s=receipt)
        assert [p.to_dict() for p in a.poses] == [p.to_dict() for p in b.poses]
    assert unstamped.stamp_stats.zero_stamps == len(FRAMES)
    assert ids_by_person([b.poses]) == {'man': {0}, 'woman': {1}}
    assert not np.array_equal(b.poses[0].keypoints, results[79].poses[0].keypoints)

