# SPDX-License-Identifier: Apache-2.0
"""One frame through movenet_node: image message in, the messages to publish out.

:func:`load_interpreter` loads a model (and refiner) the cameras share. :class:`FramePipeline`
is one camera's state around it: the estimator (single-pose crop tracking, refinement crops)
and the tracker/smoother. It is used by one thread at a time (the one processing the
camera's frame); new :class:`RuntimeSettings` are handed over from any thread with
:meth:`FramePipeline.request` and applied by that thread before the camera's next frame, all
at once: a frame never sees half a change, and the thread that changes parameters never
waits for an inference. With depth on (:attr:`FramePipeline.depth`, the camera's own depth
input), each frame's poses are lifted to 3D after tracking and smoothing, with the depth
image nearest to its stamp; without one they stay 2D and the frame goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
import threading
import time

from geometry_msgs.msg import PoseArray
import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import ImageMarker, MarkerArray

from movenet_ros.conversions.images import array_to_image_msg, compressed_to_array, image_to_array
from movenet_ros.conversions.markers import poses_to_image_markers, poses_to_markers
from movenet_ros.conversions.people import poses_to_people
from movenet_ros.conversions.poses import result_to_msg
from movenet_ros.core.camera import DEFAULT_HFOV_DEG, Pinhole
from movenet_ros.core.drawing import draw_poses
from movenet_ros.core.model import ModelError, MoveNetModel
from movenet_ros.core.refine import RefinedPoseEstimator, build_estimator
from movenet_ros.core.results import PoseResult
from movenet_ros.core.temporal import StampStats, TemporalFilter
from movenet_ros.msg import PersonPoseArray
from movenet_ros.nodes.depth_input import DepthInput
from movenet_ros.nodes.diagnostics import INVALID_CAMERA_INFO
from movenet_ros.nodes.movenet_config import ConfigurationError, NodeConfig, RuntimeSettings

CALIBRATED = 'calibrated'


def camera_for(info: CameraInfo | None, image_wh: tuple[int, int]) -> tuple[Pinhole, str]:
    """The camera markers are placed with, and what diagnostics say about it.

    A K that is all zero (an uncalibrated camera) or invalid (see ``Pinhole.from_k``) falls
    back to the assumed default camera, as when no camera_info arrives.
    """
    assumed = f'assumed {DEFAULT_HFOV_DEG:g} degree horizontal field of view'
    if info is None:
        return Pinhole.default(image_wh), f'none received, {assumed}'
    if not any(info.k):
        return Pinhole.default(image_wh), f'uncalibrated (K is all zero), {assumed}'
    try:
        return Pinhole.from_k(info.k, (info.width, info.height), image_wh), CALIBRATED
    except ValueError as exc:
        return Pinhole.default(image_wh), f'{INVALID_CAMERA_INFO}: {exc}; {assumed}'


@dataclass
class Frame:
    """One processed frame: its poses message first, the rest built on demand."""

    poses: PersonPoseArray
    result: PoseResult
    image: np.ndarray  # the converted input, for the annotated image
    channel_order: str
    started: float  # perf_counter() when the frame's work began
    depth_problem: str | None = None  # why its depth could not be used, to warn about


@dataclass(frozen=True)
class Interpreter:
    """What one frame thread runs: the model and, with ``refine``, the refiner's model."""

    model: MoveNetModel
    refiner: MoveNetModel | None = None


def load_interpreter(config: NodeConfig) -> Interpreter:
    """The model (and refiner) ``config`` names; ConfigurationError (naming the parameter)
    if one cannot be loaded."""
    try:
        model = MoveNetModel(config.model, num_threads=config.num_threads,
                             multipose_max_side=config.multipose_max_side,
                             thread_placement=config.thread_placement)
    except ModelError as exc:
        raise ConfigurationError(f'parameter {config.model_parameter}: {exc}') from exc
    refiner = None
    if config.refine != 'none':
        try:
            refiner = MoveNetModel(config.refine, num_threads=config.num_threads,
                                   thread_placement=config.thread_placement)
        except ModelError as exc:
            raise ConfigurationError(f'parameter refine: {exc}') from exc
    return Interpreter(model, refiner)


class FramePipeline:
    """One camera's frames: conversion, estimate, ids and smoothing, and the output messages.

    The pipelines of several cameras share the interpreters: only the estimator's crops and
    the tracker/smoother are the camera's own.
    """

    def __init__(self, config: NodeConfig, settings: RuntimeSettings,
                 interpreter: Interpreter | None = None) -> None:
        """On ``interpreter``, else on one of its own (:func:`load_interpreter`). With
        ``config.depth_enabled``, :attr:`depth` takes the camera's depth images to lift poses
        with."""
        self.interpreter = interpreter or load_interpreter(config)
        self.model, refiner = self.interpreter.model, self.interpreter.refiner
        self.max_image_pixels = config.max_image_pixels
        try:
            self._estimator = build_estimator(
                self.model, refiner, keypoint_threshold=settings.keypoint_threshold,
                min_pose_score=settings.min_pose_score or None,
                max_people=settings.max_people, crop_tracking=settings.crop_tracking,
                refined_min_pose_score=settings.refine_min_pose_score or None,
                max_refined=settings.refine_max_people)
        except ValueError as exc:
            raise ConfigurationError(f'parameter refine: {exc}') from exc
        self._temporal = TemporalFilter(settings.temporal)
        self.depth = (DepthInput(settings.depth, settings.depth_tolerance,
                                 config.depth_queue_size, config.max_image_pixels)
                      if config.depth_enabled else None)
        self.settings = settings
        self._lock = threading.Lock()
        self._requested: RuntimeSettings | None = None

    @property
    def model_name(self) -> str:
        """What the poses come from: the model, or e.g. multipose_lightning+singlepose_thunder."""
        return self._estimator.name

    def request(self, settings: RuntimeSettings) -> None:
        """Use ``settings`` from the next frame on (any thread; never waits for a frame)."""
        with self._lock:
            self._requested = settings

    def _use(self, interpreter: Interpreter) -> None:
        """Run the next frame on ``interpreter``: the crops and tracks stay the camera's."""
        estimator = self._estimator
        if isinstance(estimator, RefinedPoseEstimator):
            estimator.detector.model, estimator.refiner = interpreter.model, interpreter.refiner
        else:
            estimator.model = interpreter.model

    def _apply_requested(self) -> None:
        with self._lock:
            settings, self._requested = self._requested, None
        if settings is None:
            return
        if settings.temporal != self.settings.temporal:
            self._temporal.configure(settings.temporal)  # every person keeps their id
        estimator = self._estimator
        estimator.keypoint_threshold = settings.keypoint_threshold
        estimator.min_pose_score = settings.min_pose_score or None   # 0: the tuned default
        estimator.max_people = settings.max_people
        if isinstance(estimator, RefinedPoseEstimator):
            estimator.refined_min_pose_score = settings.refine_min_pose_score or None
            estimator.max_refined = settings.refine_max_people
        estimator.set_crop_tracking(settings.crop_tracking)
        if self.depth is not None:
            self.depth.configure(settings.depth, settings.depth_tolerance)
        self.settings = settings

    def estimate(self, msg: Image | CompressedImage, receipt_s: float,
                 camera_info: CameraInfo | None = None,
                 interpreter: Interpreter | None = None) -> Frame:
        """The poses for ``msg``, received at ``receipt_s`` (ROS time), lifted to 3D when depth
        is on and pairs (``camera_info``: the colour camera's latest), on ``interpreter`` (one
        of the same model files, free for this thread) or else on :attr:`interpreter`; raises
        ImageConversionError/ValueError for a bad image, ModelError when the model fails."""
        self._apply_requested()
        self._use(interpreter or self.interpreter)
        started = time.perf_counter()
        if isinstance(msg, CompressedImage):
            image, order = compressed_to_array(msg, self.max_image_pixels)
        else:
            image, order = image_to_array(msg, self.max_image_pixels)
        result = self._estimator.estimate(image, channel_order=order)
        stamp = msg.header.stamp
        result = self._temporal.update(result, stamp.sec + stamp.nanosec * 1e-9, receipt_s)
        problem = None
        if self.depth is not None:
            camera, state = camera_for(camera_info, result.image_size)
            result, problem = self.depth.lift(result, msg.header,
                                              camera if state == CALIBRATED else None)
        return Frame(result_to_msg(result, msg.header), result, image, order, started,
                     problem)

    def markers(self, frame: Frame, camera_info: CameraInfo | None) -> tuple[MarkerArray, str]:
        """The frame's markers, and what their camera is based on (in words)."""
        settings, result = self.settings, frame.result
        camera, camera_state = camera_for(camera_info, result.image_size)
        return poses_to_markers(result.poses, frame.poses.header, camera, settings.marker_depth,
                                settings.keypoint_threshold, settings.marker_line_width,
                                label_ids=True), camera_state

    @staticmethod
    def people(frame: Frame) -> PoseArray:
        """The frame's people with a measured position (``people``)."""
        return poses_to_people(frame.result.poses, frame.poses.header)

    def image_markers(self, frame: Frame) -> tuple[ImageMarker, ImageMarker]:
        """The frame's 2D overlay: (bones, keypoints), in corner-origin image pixels."""
        result = frame.result
        return poses_to_image_markers(result.poses, frame.poses.header,
                                      self.settings.keypoint_threshold, result.image_size)

    def annotated(self, frame: Frame) -> Image:
        """The frame's image with its skeletons drawn."""
        return self._annotate(frame.image, frame.channel_order, frame.result,
                              frame.poses.header)

    @property
    def stamp_stats(self) -> StampStats:
        """How the frames' stamps went (a copy: safe from any thread)."""
        return self._temporal.stamp_stats

    @staticmethod
    def overhead_ms(frame: Frame) -> float:
        """The frame's time so far beside invoke()."""
        return (time.perf_counter() - frame.started) * 1000.0 - frame.result.inference_ms

    @staticmethod
    def _annotate(image, order: str, result: PoseResult, header) -> Image:
        if image.ndim == 2 or image.shape[2] == 1:
            import cv2
            canvas, order = cv2.cvtColor(image.reshape(image.shape[:2]),
                                         cv2.COLOR_GRAY2BGR), 'bgr'
        else:
            canvas = image[..., :3].copy()
        draw_poses(canvas, result.poses, result.keypoint_threshold, channel_order=order)
        return array_to_image_msg(canvas, 'rgb8' if order == 'rgb' else 'bgr8', header)
