# SPDX-License-Identifier: Apache-2.0
"""PoseTracker: exact synthetic cases, then the real demo clip through MultiPose."""

from __future__ import annotations

from figures import ids, person
from footage import who
import numpy as np
import pytest

from movenet_ros.core.results import UNTRACKED, Pose
from movenet_ros.core.tracking import (
    COCO_SIGMAS,
    DEFAULT_MIN_SIMILARITY,
    PoseTracker,
    iou,
    iou_matrix,
    oks,
    oks_matrix,
)

# --- similarity functions -------------------------------------------------------------------

def test_oks_matches_the_coco_formula():
    a = person(500, 500)
    b = a.keypoints.copy()
    b[:, 0] += 10.0
    area = (a.box[2] - a.box[0]) * (a.box[3] - a.box[1])
    expected = np.mean(np.exp(-100.0 / (2.0 * area * (2.0 * COCO_SIGMAS) ** 2)))
    assert oks(a.keypoints, area, b, 0.3) == pytest.approx(expected, rel=1e-12)
    assert oks(a.keypoints, area, a.keypoints, 0.3) == 1.0


def test_oks_counts_only_keypoints_visible_in_both():
    a = person(500, 500)
    b = a.keypoints.copy()
    b[0, :2] += 1000.0          # the nose is far off ...
    b[0, 2] = 0.1               # ... but below the threshold: it must not count
    assert oks(a.keypoints, 1e5, b, 0.3) == 1.0
    b[:, 2] = 0.1
    assert oks(a.keypoints, 1e5, b, 0.3) == 0.0


def test_similarity_matrices_agree_with_pairwise():
    poses = [person(300, 500), person(380, 520, 350), person(1200, 500)]
    kps = np.array([p.keypoints for p in poses])
    boxes = np.array([p.box for p in poses])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    o, i = oks_matrix(kps, areas, kps, 0.3), iou_matrix(boxes, boxes)
    for r in range(3):
        for c in range(3):
            assert o[r, c] == pytest.approx(oks(kps[r], areas[r], kps[c], 0.3))
            assert i[r, c] == pytest.approx(iou(boxes[r], boxes[c]))
    assert iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_a_neighbour_half_a_body_away_is_below_the_default_threshold():
    """Keeps two people apart when one vanishes and a new one appears beside the track."""
    a = person(500, 500, height=400)
    area = (a.box[2] - a.box[0]) * (a.box[3] - a.box[1])
    assert oks(a.keypoints, area, person(700, 500).keypoints, 0.3) < DEFAULT_MIN_SIMILARITY['oks']
    assert oks(a.keypoints, area, person(510, 505).keypoints, 0.3) > 0.5


# --- tracker behaviour ----------------------------------------------------------------------

@pytest.mark.parametrize('similarity', ['oks', 'iou'])
def test_swapped_order_keeps_ids(similarity):
    tracker = PoseTracker(similarity=similarity)
    first = tracker.update([person(300, 500), person(900, 500)], 0.0)
    assert ids(first) == [0, 1]
    swapped = tracker.update([person(905, 502), person(296, 499)], 1 / 30)
    assert ids(swapped) == [1, 0]


def test_returns_copies_in_input_order_and_leaves_input_untouched():
    tracker = PoseTracker()
    poses = [person(300, 500), person(900, 500)]
    out = tracker.update(poses, 0.0)
    assert [p.id for p in poses] == [UNTRACKED, UNTRACKED]
    assert [o.keypoints is p.keypoints for o, p in zip(out, poses, strict=True)] == [True, True]
    assert [o.box for o in out] == [p.box for p in poses]


@pytest.mark.parametrize(('gap_s', 'same_id'), [(0.9, True), (1.1, False)])
def test_person_leaving_keeps_id_only_within_max_age(gap_s, same_id):
    tracker = PoseTracker(max_age_s=1.0)
    (first,) = tracker.update([person(300, 500)], 10.0)
    tracker.update([], 10.0 + gap_s / 2)
    (again,) = tracker.update([person(302, 500)], 10.0 + gap_s)
    assert (again.id == first.id) is same_id
    if not same_id:
        assert again.id > first.id


def test_age_is_image_time_not_frame_count():
    # 100 empty frames within 0.2 s: the track survives.
    tracker = PoseTracker(max_age_s=1.0)
    (first,) = tracker.update([person(300, 500)], 0.0)
    for k in range(1, 101):
        tracker.update([], k * 0.002)
    assert tracker.update([person(300, 500)], 0.21)[0].id == first.id
    # 2 empty frames spanning 1.5 s: the track is gone.
    tracker = PoseTracker(max_age_s=1.0)
    (first,) = tracker.update([person(300, 500)], 0.0)
    tracker.update([], 0.75)
    assert tracker.update([person(300, 500)], 1.5)[0].id != first.id


def test_stamp_going_backwards_resets_without_reusing_ids():
    tracker = PoseTracker()
    assert ids(tracker.update([person(300, 500)], 5.0)) == [0]
    assert ids(tracker.update([person(300, 500)], 5.1)) == [0]
    # A looping video restarts at 0: same place, but history is void.
    assert ids(tracker.update([person(300, 500)], 0.0)) == [1]
    assert tracker.track_ids == [1]


def test_ids_are_never_reused():
    tracker = PoseTracker(max_age_s=0.5)
    seen = []
    for k in range(40):
        # Each person shows up for one frame, 1 s apart: always a new id.
        seen += ids(tracker.update([person(100 + 37 * k, 500), person(1500, 300 + k)], k * 1.0))
        if k == 20:
            tracker.reset()
    assert len(seen) == len(set(seen)) == 80
    assert seen == sorted(seen) and seen[0] == 0


def test_new_people_get_new_ids_and_old_ones_keep_theirs():
    tracker = PoseTracker()
    assert ids(tracker.update([person(300, 500)], 0.0)) == [0]
    assert ids(tracker.update([person(1200, 500), person(303, 500)], 0.1)) == [1, 0]


def test_max_tracks_drops_the_least_recently_seen_and_never_steals_within_a_frame():
    tracker = PoseTracker(max_tracks=2, max_age_s=10.0)
    tracker.update([person(100, 500)], 0.0)            # id 0
    tracker.update([person(600, 500)], 1.0)            # id 1
    tracker.update([person(1100, 500)], 2.0)           # id 2 evicts 0 (oldest)
    assert sorted(tracker.track_ids) == [1, 2]
    out = tracker.update([person(600, 500, score=0.9), person(1100, 500, score=0.8),
                          person(1600, 500, score=0.3)], 3.0)
    assert ids(out) == [1, 2, UNTRACKED]


def test_matching_is_best_first():
    tracker = PoseTracker()
    assert ids(tracker.update([person(300, 500), person(400, 500)], 0.0)) == [0, 1]
    # Both stepped right. Taken in list order, the first pose (360) would grab the nearer old
    # track (400, id 1) and leave the second (420) with id 0; best-first pairs 420 with 400
    # (20 px) before 360 with 300 (60 px).
    assert ids(tracker.update([person(360, 500), person(420, 500)], 0.1)) == [0, 1]


@pytest.mark.parametrize('kwargs', [
    {'similarity': 'distance'}, {'max_tracks': 0}, {'max_tracks': 101}, {'max_tracks': 2.5},
    {'max_age_s': 0.0}, {'min_similarity': -0.1}, {'min_similarity': 1.5},
    {'keypoint_threshold': -0.1}, {'first_id': -1},
])
def test_invalid_parameters_are_refused(kwargs):
    (name,) = kwargs
    with pytest.raises(ValueError, match=f'^{name} must be'):
        PoseTracker(**kwargs)


def test_defaults_per_similarity():
    assert PoseTracker().min_similarity == DEFAULT_MIN_SIMILARITY['oks']
    assert PoseTracker('iou').min_similarity == DEFAULT_MIN_SIMILARITY['iou']
    assert PoseTracker('iou', min_similarity=0.5).min_similarity == 0.5
    assert PoseTracker('iou', min_similarity=0.0).min_similarity == DEFAULT_MIN_SIMILARITY['iou']


# --- real footage ---------------------------------------------------------------------------

FPS = 30.0
STEP = 2          # every 2nd frame: 15 fps, and half the MultiPose time
MAX_SIDE = 640    # at 256-512 MultiPose loses the backlit man for > 1 s (bench/tracking.py)


@pytest.fixture(scope='module')
def detections(demo_video) -> dict[int, list[Pose]]:
    """MultiPose poses of every 2nd frame of the demo clip, by frame index."""
    import cv2

    from movenet_ros.core.estimator import PoseEstimator
    from movenet_ros.core.model import MoveNetModel

    estimator = PoseEstimator(MoveNetModel('multipose', num_threads=2,
                                           multipose_max_side=MAX_SIDE))
    capture = cv2.VideoCapture(str(demo_video))
    out, index = {}, 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % STEP == 0:
            out[index] = estimator.estimate(frame, 'bgr').poses
        index += 1
    capture.release()
    assert index == 230
    return out


def replay(detections: dict[int, list[Pose]], tracker: PoseTracker,
           time_scale: float = 1.0) -> dict[str, list[tuple[int, int]]]:
    """Ground-truth person -> [(frame, id)] over the clip."""
    seen: dict[str, list[tuple[int, int]]] = {'man': [], 'woman': []}
    for frame, poses in detections.items():
        tracked = tracker.update(poses, frame / FPS * time_scale)
        labels = [who(frame, p) for p in tracked]
        assert len(set(labels)) == len(labels), f'two detections of one person in {frame}'
        for label, pose in zip(labels, tracked, strict=True):
            seen[label].append((frame, pose.id))
    return seen


@pytest.mark.parametrize('similarity', ['oks', 'iou'])
def test_each_person_keeps_one_id_on_real_footage(detections, similarity):
    seen = replay(detections, PoseTracker(similarity=similarity))
    frames = {k: [f for f, _ in v] for k, v in seen.items()}
    # The labelling finds both people over their whole presence (man: the box, the flip and
    # the grass; woman: entering behind the tree on the right to leaving on the left).
    assert frames['man'][0] == 0 and frames['man'][-1] >= 220 and len(frames['man']) >= 80
    assert frames['woman'][0] <= 40 and frames['woman'][-1] >= 194
    assert len(frames['woman']) >= 75
    man_ids = {i for _, i in seen['man']}
    woman_ids = {i for _, i in seen['woman']}
    assert len(man_ids) == 1, f'man: {seen["man"]}'
    assert len(woman_ids) == 1, f'woman: {seen["woman"]}'
    assert man_ids != woman_ids


def test_real_footage_ages_by_stamps(detections):
    """The same frames stamped 4x further apart: the man's longest detection gap (~0.4 s)
    now lasts > 1 s, so he must get a new id with max_age_s 1 s, and not with 2.5 s."""
    frames = [f for f, _ in replay(detections, PoseTracker())['man']]
    gap_s = max(np.diff(frames)) / FPS
    assert 1.0 < 4.0 * gap_s < 2.5, gap_s
    man = {i for _, i in replay(detections, PoseTracker(max_age_s=1.0), time_scale=4.0)['man']}
    assert len(man) > 1
    man = {i for _, i in replay(detections, PoseTracker(max_age_s=2.5), time_scale=4.0)['man']}
    assert len(man) == 1


def test_single_pose_results_keep_one_id(demo_frames):
    """Single-pose boxes are tight around the visible keypoints (smaller area: stricter OKS);
    the man standing on the box must still keep one id over the first 10 frames."""
    from movenet_ros.core.estimator import PoseEstimator
    from movenet_ros.core.model import MoveNetModel

    estimator = PoseEstimator(MoveNetModel('thunder', num_threads=2))
    tracker = PoseTracker()
    seen = []
    for index, frame in enumerate(demo_frames):
        poses = estimator.estimate(frame, 'bgr').poses
        assert len(poses) == 1
        seen += ids(tracker.update(poses, index / FPS))
    assert seen == [0] * len(demo_frames)
