# SPDX-License-Identifier: Apache-2.0
"""Give each person a stable id across video frames (ROS-free).

:class:`PoseTracker` matches the poses of a new frame to the live tracks by object keypoint
similarity (OKS, as in the COCO keypoint evaluation) or by box IoU, greedily by best
similarity. Time is the image stamp in seconds, never a frame count, so a 15 fps camera, a
30 fps camera and dropped frames all forget a person after the same ``max_age_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from movenet_ros.core.keypoints import DEFAULT_KEYPOINT_THRESHOLD
from movenet_ros.core.options import DEFAULT_MAX_AGE_S, MAX_AGE_S_RANGE, SCORE_RANGE, Range
from movenet_ros.core.results import UNTRACKED, Pose, visible_mask

SIMILARITIES = ('oks', 'iou')
# Per-keypoint OKS sigmas of the COCO keypoint evaluation, in MoveNet (= COCO) keypoint order:
# pycocotools/cocoeval.py, Params.setKpParams (github.com/cocodataset/cocoapi), also in
# Ronchi & Perona, "Benchmarking and Error Diagnosis in Multi-Instance Pose Estimation",
# ICCV 2017. Small for the face (precise), large for hips (hard to place).
COCO_SIGMAS = np.array([0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
                        0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089])
# cocoeval's per-keypoint variance term: (2 * sigma) ** 2.
_OKS_VARS = (2.0 * COCO_SIGMAS) ** 2

DEFAULT_SIMILARITY = 'oks'
DEFAULT_MAX_TRACKS = 18
MAX_TRACKS_RANGE = Range(1, 100)
# 0 stands for the method's tuned default (DEFAULT_MIN_SIMILARITY): no match can need 0.
MIN_SIMILARITY_RANGE = Range(0.0, 1.0)
# Per method; tuned on the demo footage with bench/tracking.py (MultiPose, max side 640). The
# same person in consecutive frames scores OKS 0.62-0.97 (5th percentile 0.73) and IoU
# 0.67-0.98 when walking or standing, but between detections 3-8 frames apart in the middle of
# a backflip OKS drops to 0.11 at 30 fps and below 0.08 at 15 fps. OKS 0.05 is the largest
# threshold that keeps the man on one id through the flip at both rates, as IoU 0.2 is for
# IoU. A body 150 px (~0.4 body height) beside a track scores OKS 0.01-0.04 with it; nearer
# neighbours score more than any usable threshold and are kept apart by best-first matching.
DEFAULT_MIN_SIMILARITY = {'oks': 0.05, 'iou': 0.2}


def box_area(box: tuple[float, float, float, float] | np.ndarray) -> float:
    """Area of an (x_min, y_min, x_max, y_max) box, 0 if empty."""
    return max(0.0, float(box[2]) - float(box[0])) * max(0.0, float(box[3]) - float(box[1]))


def oks_matrix(reference: np.ndarray, areas: np.ndarray, keypoints: np.ndarray,
               threshold: float) -> np.ndarray:
    """Object keypoint similarity of (R, 17, 3) reference poses with (P, 17, 3) poses: (R, P).

    As COCO's, with each reference pose's box area standing in for the segment area (a box is
    all MoveNet gives, and it is larger than the segment, so this OKS is a little more
    lenient). Only keypoints scoring at least ``threshold`` in both poses count; a pair with
    none in common scores 0.
    """
    common = (visible_mask(reference[:, None, :, 2], threshold)
              & visible_mask(keypoints[None, :, :, 2], threshold))
    d2 = ((reference[:, None, :, :2] - keypoints[None, :, :, :2]) ** 2).sum(axis=-1)
    e = d2 / _OKS_VARS / (2.0 * np.maximum(areas, 1.0))[:, None, None]
    count = common.sum(axis=-1)
    return np.where(count > 0, (np.exp(-e) * common).sum(axis=-1) / np.maximum(count, 1), 0.0)


def oks(reference: np.ndarray, area: float, keypoints: np.ndarray, threshold: float) -> float:
    """OKS of two (17, 3) poses, the first one's box having ``area``; see :func:`oks_matrix`."""
    return float(oks_matrix(reference[None], np.array([area]), keypoints[None], threshold)[0, 0])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of (A, 4) with (B, 4) boxes (x_min, y_min, x_max, y_max): (A, B).

    Empty boxes score 0."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0.0, None).prod(axis=-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0.0, None).prod(axis=-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0.0, None).prod(axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0.0, inter / np.where(union > 0.0, union, 1.0), 0.0)


def iou(a: tuple[float, float, float, float] | np.ndarray,
        b: tuple[float, float, float, float] | np.ndarray) -> float:
    """IoU of two (x_min, y_min, x_max, y_max) boxes; see :func:`iou_matrix`."""
    return float(iou_matrix(np.array([a], dtype=np.float64),
                            np.array([b], dtype=np.float64))[0, 0])


@dataclass
class _Track:
    id: int
    keypoints: np.ndarray                      # (17, 3) of the last matched pose (a copy)
    box: tuple[float, float, float, float]
    last_seen_s: float


class PoseTracker:
    """Assign persistent integer ids to the poses of consecutive frames.

    Ids start at 0 and come from a counter that never goes back, not even on :meth:`reset`:
    an id is never given to two people by the same tracker. A track not matched for more
    than ``max_age_s`` seconds of image time is dropped; the person gets a new id when seen
    again. A stamp earlier than the previous one resets the tracker first, since nothing from
    the "future" can be matched to the present: feed it camera stamps through
    :class:`~movenet_ros.core.temporal.TemporalFilter`, whose stamp rule tells a looping
    video from a driver's jitter.

    Matching is greedy: all (track, pose) similarities are computed and the best remaining
    pair is taken until none reaches ``min_similarity``; poses left over start new tracks,
    highest score first. Greedy and optimal (Hungarian) assignment agree whenever each
    person's own track is clearly their best match (on the demo: OKS >= 0.62 against < 1e-11
    between the two people), which is the normal case for MoveNet's at most 6 people; they can
    differ only when people overlap, where taking the surest pair first is a sound choice.
    Greedy needs only a sort in numpy (no scipy) and costs O(n^2 log n).

    Args:
        similarity: ``'oks'`` (keypoints; default) or ``'iou'`` (boxes only).
        max_tracks: live tracks kept at most; beyond, the least recently seen is dropped.
        max_age_s: image time (s) a track survives without being matched.
        min_similarity: the least similarity a match needs, in (0, 1]; None or 0: the tuned
            value for ``similarity`` (:data:`DEFAULT_MIN_SIMILARITY`).
        keypoint_threshold: the score from which a keypoint counts in OKS.
        first_id: the first id handed out.
    """

    def __init__(self, similarity: str = DEFAULT_SIMILARITY,
                 max_tracks: int = DEFAULT_MAX_TRACKS, max_age_s: float = DEFAULT_MAX_AGE_S,
                 min_similarity: float | None = None,
                 keypoint_threshold: float = DEFAULT_KEYPOINT_THRESHOLD,
                 first_id: int = 0) -> None:
        if isinstance(first_id, bool) or not isinstance(first_id, int) or first_id < 0:
            raise ValueError(f'first_id must be an integer >= 0, got {first_id!r}')
        self._next_id = first_id
        self._tracks: list[_Track] = []
        self._last_stamp_s: float | None = None
        self.configure(similarity, max_tracks, max_age_s, min_similarity, keypoint_threshold)

    def configure(self, similarity: str = DEFAULT_SIMILARITY,
                  max_tracks: int = DEFAULT_MAX_TRACKS, max_age_s: float = DEFAULT_MAX_AGE_S,
                  min_similarity: float | None = None,
                  keypoint_threshold: float = DEFAULT_KEYPOINT_THRESHOLD) -> None:
        """Change the parameters (see the class) between two frames, keeping every live track
        and its id. Raises ValueError, changing nothing, if one is out of range. With fewer
        ``max_tracks`` than live tracks, the least recently seen ones are dropped."""
        if similarity not in SIMILARITIES:
            raise ValueError(f'similarity must be one of {", ".join(SIMILARITIES)}, '
                             f'got {similarity!r}')
        MAX_TRACKS_RANGE.check('max_tracks', max_tracks)
        MAX_AGE_S_RANGE.check('max_age_s', max_age_s)
        if min_similarity is not None:
            MIN_SIMILARITY_RANGE.check('min_similarity', min_similarity)
        SCORE_RANGE.check('keypoint_threshold', keypoint_threshold)
        self.similarity = similarity
        self.max_tracks = max_tracks
        self.max_age_s = max_age_s
        self.min_similarity = min_similarity or DEFAULT_MIN_SIMILARITY[similarity]
        self.keypoint_threshold = keypoint_threshold
        excess = len(self._tracks) - max_tracks
        for track in sorted(self._tracks, key=lambda t: t.last_seen_s)[:max(excess, 0)]:
            self._tracks.remove(track)

    @property
    def next_id(self) -> int:
        """The id the next new person gets (pass it as ``first_id`` to a replacement tracker
        so that ids stay unique)."""
        return self._next_id

    @property
    def track_ids(self) -> list[int]:
        """Ids of the live tracks, oldest first."""
        return [t.id for t in self._tracks]

    def reset(self) -> None:
        """Forget all tracks (ids keep counting up: old ids are never handed out again)."""
        self._tracks = []
        self._last_stamp_s = None

    def _similarities(self, poses: list[Pose]) -> np.ndarray:
        """(tracks, poses) similarity matrix."""
        track_boxes = np.array([t.box for t in self._tracks], dtype=np.float64)
        if self.similarity == 'iou':
            return iou_matrix(track_boxes, np.array([p.box for p in poses], dtype=np.float64))
        areas = np.clip(track_boxes[:, 2:] - track_boxes[:, :2], 0.0, None).prod(axis=-1)
        return oks_matrix(np.array([t.keypoints for t in self._tracks]), areas,
                          np.array([p.keypoints for p in poses]), self.keypoint_threshold)

    def update(self, poses: list[Pose], stamp_s: float) -> list[Pose]:
        """The poses of the frame stamped ``stamp_s`` (seconds), in the same order, with ids.

        Returns new :class:`Pose` objects (``dataclasses.replace``; the keypoint arrays are
        shared with the input, which is left untouched). A pose left over when all
        ``max_tracks`` tracks are matched in this very frame keeps ``UNTRACKED`` (-1).
        """
        if self._last_stamp_s is not None and stamp_s < self._last_stamp_s:
            self.reset()
        self._last_stamp_s = stamp_s
        self._tracks = [t for t in self._tracks if stamp_s - t.last_seen_s <= self.max_age_s]

        ids = [UNTRACKED] * len(poses)
        matched: set[int] = set()
        if self._tracks and poses:
            sim = self._similarities(poses)
            # Best pair first; ties broken by track age then pose order (stable sort).
            for flat in np.argsort(-sim, axis=None, kind='stable'):
                ti, pi = divmod(int(flat), len(poses))
                if sim[ti, pi] < self.min_similarity:
                    break
                track = self._tracks[ti]
                if ids[pi] != UNTRACKED or track.id in matched:
                    continue
                track.keypoints = poses[pi].keypoints.copy()
                track.box = tuple(poses[pi].box)
                track.last_seen_s = stamp_s
                matched.add(track.id)
                ids[pi] = track.id
        for pi in sorted(range(len(poses)), key=lambda i: -poses[i].score):
            if ids[pi] == UNTRACKED and self._make_room(matched):
                track = _Track(self._next_id, poses[pi].keypoints.copy(),
                               tuple(poses[pi].box), stamp_s)
                self._next_id += 1
                self._tracks.append(track)
                matched.add(track.id)
                ids[pi] = track.id
        return [replace(p, id=i) for p, i in zip(poses, ids, strict=True)]

    def _make_room(self, matched: set[int]) -> bool:
        """If all ``max_tracks`` slots are taken, drop the least recently seen track not in
        this frame (``matched``); False when every track belongs to this frame."""
        if len(self._tracks) < self.max_tracks:
            return True
        stale = [t for t in self._tracks if t.id not in matched]
        if not stale:
            return False
        self._tracks.remove(min(stale, key=lambda t: t.last_seen_s))
        return True
