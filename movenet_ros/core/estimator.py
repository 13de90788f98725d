# SPDX-License-Identifier: Apache-2.0
"""The whole ROS-free pipeline for one image: check, sample, run, decode, track the crop.

This is what the CLI and the ROS node both call; neither re-implements any of it.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from movenet_ros.core.cropping import next_crop_region
from movenet_ros.core.decoding import decode_multipose, decode_singlepose, is_person
from movenet_ros.core.geometry import Region, letterbox_region, warp_to_input
from movenet_ros.core.keypoints import DEFAULT_KEYPOINT_THRESHOLD
from movenet_ros.core.model import ModelKind, MoveNetModel
from movenet_ros.core.options import SCORE_RANGE, Range
from movenet_ros.core.results import PoseResult

CHANNEL_ORDERS = ('rgb', 'bgr')
# Defaults shared by the CLI, the node and the config files.
# min_pose_score per mode, chosen with bench/accuracy.py on the labelled development set
# (README "Accuracy"). What a pose score is differs by mode: single-pose, the mean of the 5
# best keypoint scores (decoding.singlepose_score); MultiPose, the model's own person score;
# refined, the single-pose score of the person's crop (core/refine.py).
# Single-pose: the highest threshold that still reports 95 % of the clearly visible people
# (10+ labelled keypoints, 64x64+ pixels) on crops around them, whole and with their feet out
# of frame: Lightning 0.35 reports 23 of 24 (and 12 of 12 with feet cut off) and 5 % of crops
# with nobody; Thunder 0.30 reports all of them and 9 % of the empty crops.
# MultiPose and refined: the highest threshold whose F1 (people found at OKS >= 0.5 on whole
# photos) is within 0.01 of the best: MultiPose 0.25 (F1 0.456, best 0.459 at 0.15 with four
# times the false detections), refined by Thunder 0.40, by Lightning 0.45.
DEFAULT_MIN_POSE_SCORES: dict[str, float] = {
    'singlepose_lightning': 0.35,
    'singlepose_thunder': 0.3,
    'multipose_lightning': 0.25,
}
# Refined people, by refiner.
DEFAULT_REFINED_MIN_POSE_SCORES: dict[str, float] = {
    'singlepose_lightning': 0.45,
    'singlepose_thunder': 0.4,
}
# Model files other than the built-in ones get the defaults of the built-in model of their kind.
_KIND_DEFAULTS = {ModelKind.SINGLEPOSE: 'singlepose_lightning',
                  ModelKind.MULTIPOSE: 'multipose_lightning'}
DEFAULT_MAX_PEOPLE = 6
MAX_PEOPLE_RANGE = Range(1, 6)   # MultiPose finds at most 6 people
# The model's options have their defaults and ranges beside it (core.model, core.geometry):
# DEFAULT_NUM_THREADS / NUM_THREADS_RANGE, DEFAULT_MULTIPOSE_MAX_SIDE / MULTIPOSE_MAX_SIDE_RANGE.
# Larger images are refused: 16k x 16k is beyond any camera and protects memory.
MAX_IMAGE_SIDE = 16384


def tuned_min_pose_scores(refined: bool = False) -> str:
    """The defaults in words, for help texts: 'lightning 0.35, thunder 0.3, MultiPose 0.25'
    (``refined``: by refiner)."""
    table = DEFAULT_REFINED_MIN_POSE_SCORES if refined else DEFAULT_MIN_POSE_SCORES
    names = {'singlepose_lightning': 'lightning', 'singlepose_thunder': 'thunder',
             'multipose_lightning': 'MultiPose'}
    return ', '.join(f'{names[name]} {value:g}' for name, value in table.items())


def default_min_pose_score(model: MoveNetModel, refiner: MoveNetModel | None = None) -> float:
    """The default ``min_pose_score`` of ``model`` alone, or of ``model`` refined by
    ``refiner`` (see :mod:`movenet_ros.core.refine`)."""
    if refiner is not None:
        name = refiner.name if refiner.name in DEFAULT_REFINED_MIN_POSE_SCORES \
            else _KIND_DEFAULTS[ModelKind.SINGLEPOSE]
        return DEFAULT_REFINED_MIN_POSE_SCORES[name]
    name = model.name if model.name in DEFAULT_MIN_POSE_SCORES else _KIND_DEFAULTS[model.kind]
    return DEFAULT_MIN_POSE_SCORES[name]


def check_image(image: np.ndarray) -> tuple[int, int, int]:
    """Validate an image array; return (height, width, channels) or raise ValueError."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f'image must be a numpy array, got {type(image).__name__}')
    if image.dtype != np.uint8:
        raise ValueError(f'image must be uint8 (8 bits per channel), got {image.dtype}')
    if image.ndim == 2:
        channels = 1
    elif image.ndim == 3 and image.shape[2] in (1, 3, 4):
        channels = image.shape[2]
    else:
        raise ValueError(f'image must be HxW (mono) or HxWxC with C in 1, 3, 4; '
                         f'got shape {image.shape}')
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f'image is empty ({w}x{h} pixels)')
    if max(h, w) > MAX_IMAGE_SIDE:
        raise ValueError(f'image {w}x{h} exceeds the {MAX_IMAGE_SIDE}-pixel side limit')
    return h, w, channels


def _to_rgb(sample: np.ndarray, channels: int, channel_order: str) -> np.ndarray:
    """Colour-convert the small model-input sample (cheaper than converting the source)."""
    # cv2 conversions write contiguous arrays: a strided [..., ::-1] view would make the
    # model's dtype conversion ten times slower.
    if channels == 1:
        return cv2.cvtColor(sample.reshape(sample.shape[:2]), cv2.COLOR_GRAY2RGB)
    if channels == 4:
        return cv2.cvtColor(sample, cv2.COLOR_BGRA2RGB if channel_order == 'bgr'
                            else cv2.COLOR_RGBA2RGB)
    return cv2.cvtColor(sample, cv2.COLOR_BGR2RGB) if channel_order == 'bgr' else sample


class PoseEstimator:
    """Estimate poses in images or video frames with one MoveNet model.

    For single-pose models, consecutive calls are treated as video: each frame's crop comes
    from the previous frame's pose (see :mod:`movenet_ros.core.cropping`). Call :meth:`reset`
    between unrelated images, or pass ``crop_tracking=False``. ``min_pose_score`` None: the
    model's default (:func:`default_min_pose_score`).
    """

    def __init__(self, model: MoveNetModel,
                 keypoint_threshold: float = DEFAULT_KEYPOINT_THRESHOLD,
                 min_pose_score: float | None = None,
                 max_people: int = DEFAULT_MAX_PEOPLE, crop_tracking: bool = True) -> None:
        SCORE_RANGE.check('keypoint_threshold', keypoint_threshold)
        MAX_PEOPLE_RANGE.check('max_people', max_people)
        self.model = model
        self.keypoint_threshold = keypoint_threshold
        self.min_pose_score = min_pose_score
        self.max_people = max_people
        self._crop: Region | None = None
        self._crop_image_hw: tuple[int, int] | None = None
        self.set_crop_tracking(crop_tracking)

    @property
    def name(self) -> str:
        """What results report as their model (``PoseResult.model``)."""
        return self.model.name

    @property
    def min_pose_score(self) -> float:
        """People scoring less are not reported; set None for the model's default."""
        return self._min_pose_score

    @min_pose_score.setter
    def min_pose_score(self, value: float | None) -> None:
        if value is None:
            value = default_min_pose_score(self.model)
        SCORE_RANGE.check('min_pose_score', value)
        self._min_pose_score = value

    def set_crop_tracking(self, enabled: bool) -> None:
        """Turn single-pose crop tracking on or off (always off for MultiPose)."""
        self.crop_tracking = enabled and self.model.kind is ModelKind.SINGLEPOSE
        if not self.crop_tracking:
            self.reset()

    def reset(self) -> None:
        """Forget the crop carried over from the previous frame."""
        self._crop = None
        self._crop_image_hw = None

    def estimate(self, image: np.ndarray, channel_order: str = 'rgb') -> PoseResult:
        """Poses in ``image`` (uint8, HxW mono or HxWx3/4 in ``channel_order``)."""
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError(f'channel_order must be one of {CHANNEL_ORDERS}, '
                             f'got {channel_order!r}')
        t0 = time.perf_counter()
        h, w, channels = check_image(image)
        input_hw = self.model.input_size((h, w))
        region = self._crop if self._crop_image_hw == (h, w) else None
        if region is None:
            region = letterbox_region((h, w), input_hw)
        sample = _to_rgb(warp_to_input(image, region, input_hw), channels, channel_order)
        t1 = time.perf_counter()
        output = self.model.run(sample)
        t2 = time.perf_counter()
        if self.model.kind is ModelKind.SINGLEPOSE:
            pose = decode_singlepose(output, region, self.keypoint_threshold, (w, h))
            poses = [pose] if is_person(pose, self.keypoint_threshold,
                                        self.min_pose_score) else []
            if self.crop_tracking:
                # Even a pose too weak to report places the next crop if its torso was seen:
                # that is how the crop finds a small person the whole image hides.
                self._crop = next_crop_region(pose.keypoints, (h, w))
                self._crop_image_hw = (h, w)
        else:
            poses = decode_multipose(output, region, self.min_pose_score, self.max_people,
                                     (w, h))
        t3 = time.perf_counter()
        return PoseResult(
            poses=poses, image_size=(w, h), model=self.name,
            keypoint_threshold=self.keypoint_threshold, input_size=input_hw,
            inference_ms=self.model.last_invoke_ms,
            timings_ms={'preprocess': (t1 - t0) * 1e3, 'model': (t2 - t1) * 1e3,
                        'postprocess': (t3 - t2) * 1e3})
