# SPDX-License-Identifier: Apache-2.0
"""Top-down refinement: MultiPose finds the people, a single-pose model places their keypoints.

MultiPose Lightning sees the whole image at a small input (256 px on the larger side), so a
person is often only 30-100 input pixels tall and their keypoints are coarse. A single-pose
model (Thunder or Lightning) run on a square crop around each person sees them at 256 or
192 px. On the labelled development set that lifts whole-image keypoint AP from 0.19 to 0.34
with Thunder (bench/README.md: the figures, and the data each default below rests on).

Per image (:meth:`RefinedPoseEstimator.estimate`):

1. MultiPose runs on the whole image. Every person it outputs with a score of at least
   ``detection_min_score`` (default 0.02: nearly everything it sees) is a *candidate*; the
   refined score, not MultiPose's, decides who is reported, and low-scored MultiPose
   detections turn out to be real people often enough to pay for their crop.
2. On video (``crop_tracking``), the people refined in the previous frame are *crop tracks*.
   Each candidate is matched to at most one track by OKS (the tracker's similarity and
   threshold). A track MultiPose misses in this frame is cropped from its previous refined
   pose, as single-pose crop tracking does (:func:`~movenet_ros.core.cropping.next_crop_region`),
   which keeps a person MultiPose only finds now and then (the backlit man of the demo clip:
   MultiPose alone finds him in 40 % of the frames, refined he is there in 93 %). A track
   MultiPose finds again is cropped from its current MultiPose box (``crop_from='detection'``,
   the default) or from its previous pose (``'pose'``): the current box is the better crop
   (AP 0.337 against 0.325 when each photo is run three times as a still video), since it
   does not lag a frame behind. New people are cropped from their box.
3. At most ``max_refined`` crops are run per image, largest first; the candidates left over
   keep their MultiPose keypoints, box and score. Tracks left over are dropped.
4. A refined person is reported when their single-pose score reaches
   ``refined_min_pose_score`` (the single-pose rule,
   :func:`~movenet_ros.core.decoding.is_person`); an unrefined candidate when their MultiPose
   score reaches ``min_pose_score``, as in MultiPose mode: two scores, two thresholds.
   Duplicates (two crops converging on one person: OKS at least :data:`DUPLICATE_OKS`) keep
   the higher score. At most ``max_people``, best first.

What the published fields mean for a refined person: ``keypoints`` are the single-pose
model's, mapped from the crop to source pixels through the crop's
:class:`~movenet_ros.core.geometry.Region` (exact, as for every other mode); ``score`` is the
single-pose score of that crop (:func:`~movenet_ros.core.decoding.singlepose_score`);
``box`` is the tight box around the visible keypoints, as in single-pose mode. A person
that was not refined is exactly what MultiPose reported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import time

import numpy as np

from movenet_ros.core.cropping import next_crop_region
from movenet_ros.core.decoding import decode_singlepose, is_person
from movenet_ros.core.estimator import (
    CHANNEL_ORDERS,
    DEFAULT_MAX_PEOPLE,
    MAX_PEOPLE_RANGE,
    PoseEstimator,
    _to_rgb,
    check_image,
    default_min_pose_score,
)
from movenet_ros.core.geometry import Region, warp_to_input
from movenet_ros.core.keypoints import DEFAULT_KEYPOINT_THRESHOLD
from movenet_ros.core.model import ModelKind, MoveNetModel
from movenet_ros.core.options import SCORE_RANGE, Range
from movenet_ros.core.results import Pose, PoseResult
from movenet_ros.core.tracking import DEFAULT_MIN_SIMILARITY, box_area, oks_matrix

REFINE_MODELS = ('thunder', 'lightning')
# MultiPose detections of at least this score are refined candidates. Development set AP with
# Thunder: 0.25 -> 0.267, 0.1 -> 0.317, 0.02 -> 0.337, 0.0 -> 0.335.
DEFAULT_DETECTION_MIN_SCORE = 0.02
# At most this many crops per image, largest person first: 6, as many as MultiPose reports.
# Development set AP with Thunder: 1 -> 0.258, 2 -> 0.286, 3 -> 0.312, 4 -> 0.316, 6 -> 0.337
# (largest first beats best-scored first at every limit); they cost 1.5 crops per photo on
# average, and 2.0 per frame on a 1280x720 stream with two people.
DEFAULT_MAX_REFINED = 6
MAX_REFINED_RANGE = Range(1, 6)
# The crop around a MultiPose box: a square of side BOX_MARGIN x the box's longer side,
# centred on the box. Development set AP with Thunder: 1.1 -> 0.337, 1.25 -> 0.329,
# 1.4 -> 0.311.
BOX_MARGIN = 1.1
BOX_MARGIN_RANGE = Range(1.0, 3.0)
# Two reported people whose OKS reaches this are one person seen twice.
DUPLICATE_OKS = 0.5
CROP_SOURCES = ('detection', 'pose')
# Crops smaller than this many pixels on a side are not worth a model run.
MIN_CROP_SIDE = 8.0


def box_crop(box: tuple[float, float, float, float], margin: float = BOX_MARGIN) -> Region:
    """The square crop around a person box (pixel corners, inclusive): side ``margin`` x the
    longer side, centred on the box; it may reach past the image (padded black)."""
    x0, y0, x1, y1 = box
    # Pixel coordinates -> continuous: the box spans [x0 - 0.5, x1 + 0.5].
    side = max(x1 - x0 + 1.0, y1 - y0 + 1.0, MIN_CROP_SIDE) * margin
    cx, cy = (x0 + x1) / 2.0 + 0.5, (y0 + y1) / 2.0 + 0.5
    return Region(x0=cx - side / 2.0, y0=cy - side / 2.0, width=side, height=side)


def estimate_in_region(model: MoveNetModel, image: np.ndarray, region: Region,
                       keypoint_threshold: float, channel_order: str = 'rgb') -> Pose:
    """The single-pose model's pose for ``region`` of ``image``, in source pixels of the
    whole image (the region may reach past it: padded black), whether a person or not."""
    if model.kind is not ModelKind.SINGLEPOSE:
        raise ValueError(f'a single-pose model is needed, got {model.name}')
    h, w, channels = check_image(image)
    input_hw = model.input_size((h, w))
    sample = _to_rgb(warp_to_input(image, region, input_hw), channels, channel_order)
    return decode_singlepose(model.run(sample), region, keypoint_threshold, (w, h))


@dataclass
class _Crop:
    """One planned single-pose run: where, and what it replaces if it cannot be run."""

    region: Region
    candidate: Pose | None          # the MultiPose detection, None for a track MultiPose missed
    size: float                     # side of the person's box, for largest-first


class RefinedPoseEstimator:
    """MultiPose detection refined by a single-pose model per person (see the module doc).

    Offers what :class:`~movenet_ros.core.estimator.PoseEstimator` offers (``estimate``,
    ``reset``, ``set_crop_tracking``, ``keypoint_threshold``, ``min_pose_score``,
    ``max_people``, ``model``), so the CLI and the node can hold either (see
    :func:`build_estimator`); ``refined_min_pose_score`` and ``max_refined`` may change
    between calls too.

    Args:
        detector: a MultiPose model (finds the people).
        refiner: a single-pose model (places their keypoints), e.g. ``MoveNetModel('thunder')``.
        keypoint_threshold: keypoints scoring less are not seen (boxes, OKS, drawing).
        min_pose_score: people left unrefined (beyond ``max_refined``) are reported from
            this MultiPose score on; None: MultiPose's default.
        max_people: reported people at most, best first.
        refined_min_pose_score: refined people are reported from this single-pose score
            on; None: the default for ``refiner``
            (:func:`~movenet_ros.core.estimator.default_min_pose_score`).
        max_refined: single-pose runs per image at most, largest person first.
        detection_min_score: MultiPose score from which a detection is a candidate.
        crop_tracking: carry each refined person's pose to the next call (video).
        crop_from: where a person MultiPose finds again is cropped: ``'detection'`` (its
            current MultiPose box) or ``'pose'`` (their previous refined pose).
        box_margin: crop side / the longer side of a MultiPose box.
    """

    def __init__(self, detector: MoveNetModel, refiner: MoveNetModel,
                 keypoint_threshold: float = DEFAULT_KEYPOINT_THRESHOLD,
                 min_pose_score: float | None = None, max_people: int = DEFAULT_MAX_PEOPLE,
                 refined_min_pose_score: float | None = None,
                 max_refined: int = DEFAULT_MAX_REFINED,
                 detection_min_score: float = DEFAULT_DETECTION_MIN_SCORE,
                 crop_tracking: bool = True, crop_from: str = 'detection',
                 box_margin: float = BOX_MARGIN) -> None:
        if detector.kind is not ModelKind.MULTIPOSE:
            raise ValueError(f'the detector must be a MultiPose model, got {detector.name}')
        if refiner.kind is not ModelKind.SINGLEPOSE:
            raise ValueError(f'the refiner must be a single-pose model, got {refiner.name}')
        MAX_REFINED_RANGE.check('max_refined', max_refined)
        SCORE_RANGE.check('detection_min_score', detection_min_score)
        BOX_MARGIN_RANGE.check('box_margin', box_margin)
        if crop_from not in CROP_SOURCES:
            raise ValueError(f'crop_from must be one of {CROP_SOURCES}, got {crop_from!r}')
        # The detector reports every candidate; this class applies the user's limits.
        self.detector = PoseEstimator(detector, keypoint_threshold=keypoint_threshold,
                                      min_pose_score=detection_min_score,
                                      max_people=MAX_PEOPLE_RANGE.high)
        self.refiner = refiner
        MAX_PEOPLE_RANGE.check('max_people', max_people)
        self.min_pose_score = min_pose_score
        self.refined_min_pose_score = refined_min_pose_score
        self.max_people = max_people
        self.max_refined = max_refined
        self.crop_from = crop_from
        self.box_margin = box_margin
        self.last_refined = 0       # single-pose runs in the last call (for diagnostics)
        # The crop each pose of the last result was refined on (None: MultiPose's own pose).
        self.last_regions: list[Region | None] = []
        self._tracks: list[Pose] = []
        self._image_hw: tuple[int, int] | None = None
        self.set_crop_tracking(crop_tracking)

    @property
    def model(self) -> MoveNetModel:
        """The detector: the model that decides who is in the image."""
        return self.detector.model

    @property
    def name(self) -> str:
        """What results report as their model, e.g. ``multipose_lightning+singlepose_thunder``."""
        return f'{self.detector.model.name}+{self.refiner.name}'

    @property
    def min_pose_score(self) -> float:
        """People MultiPose reports that are not refined need this MultiPose score (as in
        MultiPose mode); None sets MultiPose's default."""
        return self._min_pose_score

    @min_pose_score.setter
    def min_pose_score(self, value: float | None) -> None:
        if value is None:
            value = default_min_pose_score(self.detector.model)
        SCORE_RANGE.check('min_pose_score', value)
        self._min_pose_score = value

    @property
    def refined_min_pose_score(self) -> float:
        """Refined people need this single-pose score; None sets the refiner's default."""
        return self._refined_min_pose_score

    @refined_min_pose_score.setter
    def refined_min_pose_score(self, value: float | None) -> None:
        if value is None:
            value = default_min_pose_score(self.detector.model, self.refiner)
        SCORE_RANGE.check('refined_min_pose_score', value)
        self._refined_min_pose_score = value

    @property
    def keypoint_threshold(self) -> float:
        return self.detector.keypoint_threshold

    @keypoint_threshold.setter
    def keypoint_threshold(self, value: float) -> None:
        self.detector.keypoint_threshold = value

    def set_crop_tracking(self, enabled: bool) -> None:
        """Carry refined poses to the next call (video) or not (unrelated images). Turning
        it on, or leaving it on, keeps the people carried over (the node sets it with every
        run-time change of its parameters)."""
        self.crop_tracking = enabled
        if not enabled:
            self.reset()

    def reset(self) -> None:
        """Forget the people carried over from the previous call."""
        self._tracks = []
        self._image_hw = None
        self.last_regions = []

    def estimate(self, image: np.ndarray, channel_order: str = 'rgb') -> PoseResult:
        """Poses in ``image`` (uint8, HxW mono or HxWx3/4 in ``channel_order``)."""
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError(f'channel_order must be one of {CHANNEL_ORDERS}, '
                             f'got {channel_order!r}')
        h, w, _ = check_image(image)
        if self._image_hw != (h, w):
            self._tracks = []
        detected = self.detector.estimate(image, channel_order)
        start = time.perf_counter()
        crops = self._plan(detected.poses, (h, w))
        crops.sort(key=lambda c: -c.size)
        invoke_ms = 0.0
        reported: list[tuple[Pose, Region | None]] = []
        for index, crop in enumerate(crops):
            if index >= self.max_refined:
                if crop.candidate is not None and crop.candidate.score >= self.min_pose_score:
                    reported.append((crop.candidate, None))
                continue
            pose = estimate_in_region(self.refiner, image, crop.region,
                                      self.keypoint_threshold, channel_order)
            invoke_ms += self.refiner.last_invoke_ms
            if is_person(pose, self.keypoint_threshold, self.refined_min_pose_score):
                reported.append((pose, crop.region))
        self.last_refined = min(len(crops), self.max_refined)
        kept = self._without_duplicates(reported)[:self.max_people]
        self.last_regions = [region for _, region in kept]
        if self.crop_tracking:
            self._tracks = [pose for pose, region in kept if region is not None]
            self._image_hw = (h, w)
        timings = dict(detected.timings_ms)
        timings['refine'] = (time.perf_counter() - start) * 1e3
        return replace(detected, poses=[replace(pose) for pose, _ in kept], model=self.name,
                       keypoint_threshold=self.keypoint_threshold,
                       inference_ms=detected.inference_ms + invoke_ms, timings_ms=timings)

    def _plan(self, candidates: list[Pose], image_hw: tuple[int, int]) -> list[_Crop]:
        """One crop per person: tracks matched to a candidate, tracks MultiPose missed,
        then new candidates."""
        crops = []
        matched = self._match(candidates)
        for track_index, track in enumerate(self._tracks):
            candidate = matched.get(track_index)
            region = None
            if candidate is None or self.crop_from == 'pose':
                region = next_crop_region(track.keypoints, image_hw)
            if region is None and candidate is not None:
                region = box_crop(candidate.box, self.box_margin)
            if region is not None:
                crops.append(_Crop(region, candidate, _box_side(track.box)))
        taken = {id(c) for c in matched.values()}
        for candidate in candidates:
            if id(candidate) not in taken:
                crops.append(_Crop(box_crop(candidate.box, self.box_margin), candidate,
                                   _box_side(candidate.box)))
        return crops

    def _match(self, candidates: list[Pose]) -> dict[int, Pose]:
        """Track index -> the candidate that is the same person, greedily by best OKS."""
        if not self._tracks or not candidates:
            return {}
        boxes = np.array([t.box for t in self._tracks], dtype=np.float64)
        areas = np.clip(boxes[:, 2:] - boxes[:, :2], 0.0, None).prod(axis=-1)
        sim = oks_matrix(np.array([t.keypoints for t in self._tracks]), areas,
                         np.array([c.keypoints for c in candidates]), self.keypoint_threshold)
        matched: dict[int, Pose] = {}
        used: set[int] = set()
        for flat in np.argsort(-sim, axis=None, kind='stable'):
            ti, ci = divmod(int(flat), len(candidates))
            if sim[ti, ci] < DEFAULT_MIN_SIMILARITY['oks']:
                break
            if ti not in matched and ci not in used:
                matched[ti] = candidates[ci]
                used.add(ci)
        return matched

    def _without_duplicates(self, poses: list[tuple[Pose, Region | None]]
                            ) -> list[tuple[Pose, Region | None]]:
        """Best first; a pose with OKS >= DUPLICATE_OKS to a better one is dropped."""
        kept: list[tuple[Pose, Region | None]] = []
        for pose, region in sorted(poses, key=lambda pr: -pr[0].score):
            if kept:
                areas = np.array([max(box_area(k.box), box_area(pose.box)) for k, _ in kept])
                sim = oks_matrix(np.array([k.keypoints for k, _ in kept]), areas,
                                 pose.keypoints[None], self.keypoint_threshold)[:, 0]
                if sim.max() >= DUPLICATE_OKS:
                    continue
            kept.append((pose, region))
        return kept


def _box_side(box: tuple[float, float, float, float]) -> float:
    return max(box[2] - box[0], box[3] - box[1])


def build_estimator(model: MoveNetModel, refiner: MoveNetModel | None = None, *,
                    keypoint_threshold: float = DEFAULT_KEYPOINT_THRESHOLD,
                    min_pose_score: float | None = None, max_people: int = DEFAULT_MAX_PEOPLE,
                    crop_tracking: bool = True, refined_min_pose_score: float | None = None,
                    max_refined: int = DEFAULT_MAX_REFINED
                    ) -> PoseEstimator | RefinedPoseEstimator:
    """The estimator of a mode: ``model`` alone, or MultiPose ``model`` refined by
    ``refiner``. None thresholds are the mode's defaults. ValueError, saying what to change,
    when ``refiner`` is given with a single-pose ``model``."""
    if refiner is None:
        return PoseEstimator(model, keypoint_threshold=keypoint_threshold,
                             min_pose_score=min_pose_score, max_people=max_people,
                             crop_tracking=crop_tracking)
    if model.kind is not ModelKind.MULTIPOSE:
        raise ValueError(f'refinement runs on MultiPose detections; {model.name} is a '
                         'single-pose model: use the multipose model or no refinement')
    return RefinedPoseEstimator(model, refiner, keypoint_threshold=keypoint_threshold,
                                min_pose_score=min_pose_score, max_people=max_people,
                                refined_min_pose_score=refined_min_pose_score,
                                max_refined=max_refined, crop_tracking=crop_tracking)
