# SPDX-License-Identifier: Apache-2.0
"""movenet_node's parameters: the declaration table, and the two frozen views the node uses.

:class:`NodeConfig` holds what configure reads (the model, the input, the QoS), checked all
at once; :class:`RuntimeSettings` what may change between two frames (thresholds, outputs,
tracking and smoothing). Both are built from a plain ``{name: value}`` dict, so they are
tested without ROS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from movenet_ros.conversions.images import MAX_IMAGE_SIDE
from movenet_ros.core.estimator import DEFAULT_MAX_PEOPLE, DEFAULT_MIN_POSE_SCORE
from movenet_ros.core.image_headers import ACCEPTED_FORMATS, DEFAULT_MAX_IMAGE_PIXELS
from movenet_ros.core.keypoints import DEFAULT_KEYPOINT_THRESHOLD
from movenet_ros.core.model import BUILTIN_MODELS
from movenet_ros.core.smoothing import DEFAULT_BETA, DEFAULT_D_CUTOFF_HZ, DEFAULT_MIN_CUTOFF_HZ
from movenet_ros.core.tracking import (
    DEFAULT_MAX_AGE_S,
    DEFAULT_MAX_TRACKS,
    DEFAULT_MIN_SIMILARITY,
    DEFAULT_SIMILARITY,
    SIMILARITIES,
)
from movenet_ros.nodes.parameters import Applies, ParameterSpec

TRANSPORTS = ('raw', 'compressed')
RELIABILITIES = ('best_effort', 'reliable')
RUN, CONFIGURE, START = Applies.RUN, Applies.CONFIGURE, Applies.START


class ConfigurationError(Exception):
    """A parameter is invalid; the message says which and how to fix it."""


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec('autostart', True,
                  'Configure and activate at start-up, as a plain node does. false: wait in '
                  'the unconfigured state for a lifecycle manager (or `ros2 lifecycle set`).',
                  START),
    ParameterSpec('model', 'lightning',
                  'Built-in MoveNet model to run (ignored when model_path is set).',
                  CONFIGURE, choices=tuple(BUILTIN_MODELS)),
    ParameterSpec('model_path', '',
                  'Path of any MoveNet .tflite file (single-pose or multipose, e.g. from TF '
                  'Hub); overrides model when not empty.', CONFIGURE),
    ParameterSpec('num_threads', 2, 'CPU threads for the TFLite interpreter.', CONFIGURE,
                  int_range=(1, 64)),
    ParameterSpec('multipose_max_side', 256,
                  'MultiPose input: the larger side in pixels (a multiple of 32); the other '
                  'side follows the image aspect. Larger finds smaller people, at a higher '
                  'cost.', CONFIGURE, int_range=(128, 1024, 32)),
    ParameterSpec('image_transport', 'raw',
                  'raw subscribes to sensor_msgs/Image on "image"; compressed subscribes to '
                  'sensor_msgs/CompressedImage on "image/compressed".', CONFIGURE,
                  choices=TRANSPORTS),
    ParameterSpec('image_qos_reliability', 'best_effort',
                  'Reliability of the image subscription. best_effort (sensor data QoS) '
                  'matches any publisher; reliable only matches reliable publishers.',
                  CONFIGURE, choices=RELIABILITIES),
    ParameterSpec('image_qos_depth', 1,
                  'History depth of the image subscription. Frames are taken as they come '
                  'and only the newest is processed, whatever the depth: a deeper queue only '
                  'holds frames in a burst the node takes too slowly.', CONFIGURE,
                  int_range=(1, 100)),
    ParameterSpec('max_image_pixels', DEFAULT_MAX_IMAGE_PIXELS,
                  'Images with more pixels (width x height) are refused and counted as bad. '
                  'Compressed images are sized from their headers before decoding; formats '
                  'that cannot be sized are refused (accepted: '
                  f'{", ".join(ACCEPTED_FORMATS)}). The default, 3840 x 2160 (4K UHD), keeps '
                  'the node under 350 MB RSS; each extra megapixel costs about 12 MB.',
                  CONFIGURE, int_range=(1, MAX_IMAGE_SIDE * MAX_IMAGE_SIDE)),
    ParameterSpec('diagnostics_period', 1.0, 'Seconds between /diagnostics messages.',
                  CONFIGURE, float_range=(0.1, 60.0)),
    ParameterSpec('keypoint_threshold', DEFAULT_KEYPOINT_THRESHOLD,
                  'Keypoints with a lower score are not drawn, not counted in single-pose '
                  'scores and boxes, not tracked or smoothed and not shown as markers (all '
                  '17 are still published).', float_range=(0.0, 1.0)),
    ParameterSpec('min_pose_score', DEFAULT_MIN_POSE_SCORE,
                  'People with a lower pose score are not reported.', float_range=(0.0, 1.0)),
    ParameterSpec('max_people', DEFAULT_MAX_PEOPLE,
                  'At most this many people are reported (MultiPose).', int_range=(1, 6)),
    ParameterSpec('crop_tracking', True,
                  'Single-pose models: run each frame on a crop around the previous pose '
                  '(more accurate on video).'),
    ParameterSpec('publish_markers', True,
                  'Publish visualization_msgs/MarkerArray on "pose_markers" (only built while '
                  'someone subscribes).'),
    ParameterSpec('publish_annotated_image', True,
                  'Publish the image with skeletons drawn on "image_annotated" (only drawn '
                  'while someone subscribes).'),
    ParameterSpec('marker_depth', 2.0,
                  'Distance in metres at which 2D poses are drawn as markers, along the '
                  'camera rays (from camera_info, else an assumed 60 degree horizontal field '
                  'of view).', float_range=(0.1, 100.0)),
    ParameterSpec('marker_line_width', 0.02, 'Marker bone width in metres.',
                  float_range=(0.001, 1.0)),
    ParameterSpec('tracking.enabled', True,
                  'Give each person an id that stays the same across frames (PersonPose.id).'),
    ParameterSpec('tracking.similarity', DEFAULT_SIMILARITY,
                  'How people are matched to tracks: oks (keypoint similarity) or iou (boxes).',
                  choices=SIMILARITIES),
    ParameterSpec('tracking.min_similarity', 0.0,
                  'Least similarity for a match; 0 uses the tuned default of the method '
                  f'({", ".join(f"{k} {v}" for k, v in DEFAULT_MIN_SIMILARITY.items())}).',
                  float_range=(0.0, 1.0)),
    ParameterSpec('tracking.max_age_s', DEFAULT_MAX_AGE_S,
                  'Seconds of image time (from the stamps) an unseen person keeps their id.',
                  float_range=(0.01, 60.0)),
    ParameterSpec('tracking.max_tracks', DEFAULT_MAX_TRACKS, 'Tracks kept at most.',
                  int_range=(1, 100)),
    ParameterSpec('smoothing.enabled', True,
                  'One-Euro filter keypoints and boxes per tracked person (needs tracking).'),
    ParameterSpec('smoothing.min_cutoff', DEFAULT_MIN_CUTOFF_HZ,
                  'Cutoff frequency (Hz) for a still person: lower is smoother, with more '
                  'lag.', float_range=(0.001, 30.0)),
    ParameterSpec('smoothing.beta', DEFAULT_BETA,
                  'How fast the cutoff rises with speed (Hz per person size per second): '
                  'higher lags less on fast motion.', float_range=(0.0, 100.0)),
    ParameterSpec('smoothing.d_cutoff', DEFAULT_D_CUTOFF_HZ,
                  'Cutoff frequency (Hz) of the speed estimate.', float_range=(0.001, 30.0)),
)
SPECS: dict[str, ParameterSpec] = {spec.name: spec for spec in PARAMETERS}


@dataclass(frozen=True)
class NodeConfig:
    """What configure reads: the model, the input subscription, the diagnostics period."""

    model: str  # a built-in name or a .tflite path
    model_parameter: str  # the parameter that named it, for messages
    num_threads: int
    multipose_max_side: int
    image_transport: str
    image_qos_reliability: str
    image_qos_depth: int
    max_image_pixels: int
    diagnostics_period: float

    @property
    def input_topic(self) -> str:
        return 'image/compressed' if self.image_transport == 'compressed' else 'image'

    @classmethod
    def from_values(cls, values: Mapping, problems: Mapping[str, str] = ()) -> NodeConfig:
        """Check ``values`` (every declared parameter); ConfigurationError names the first
        problem, among them ``problems`` (overrides refused when they were declared)."""
        for name in SPECS:
            problem = dict(problems).get(name) or SPECS[name].problem(values[name])
            if problem:
                raise ConfigurationError(problem)
        if not values['model_path'] and values['model'] not in BUILTIN_MODELS:
            raise ConfigurationError(
                f'parameter model: {values["model"]!r} is not a built-in model; use one of '
                f'{", ".join(BUILTIN_MODELS)}, or set model_path to a .tflite file')
        if values['multipose_max_side'] % 32:
            raise ConfigurationError(f'parameter multipose_max_side: '
                                     f'{values["multipose_max_side"]} is not a multiple of 32')
        return cls(
            model=values['model_path'] or values['model'],
            model_parameter='model_path' if values['model_path'] else 'model',
            num_threads=values['num_threads'], multipose_max_side=values['multipose_max_side'],
            image_transport=values['image_transport'],
            image_qos_reliability=values['image_qos_reliability'],
            image_qos_depth=values['image_qos_depth'],
            max_image_pixels=values['max_image_pixels'],
            diagnostics_period=values['diagnostics_period'])


@dataclass(frozen=True)
class RuntimeSettings:
    """What may change between two frames; one frozen snapshot, applied all at once."""

    keypoint_threshold: float
    min_pose_score: float
    max_people: int
    crop_tracking: bool
    publish_markers: bool
    publish_annotated_image: bool
    marker_depth: float
    marker_line_width: float
    temporal: dict  # tracking.* and smoothing.* by their names without the prefix

    @classmethod
    def from_values(cls, values: Mapping) -> RuntimeSettings:
        temporal = {name: values[name] for name in SPECS
                    if name.startswith(('tracking.', 'smoothing.'))}
        return cls(
            keypoint_threshold=values['keypoint_threshold'],
            min_pose_score=values['min_pose_score'], max_people=values['max_people'],
            crop_tracking=values['crop_tracking'], publish_markers=values['publish_markers'],
            publish_annotated_image=values['publish_annotated_image'],
            marker_depth=values['marker_depth'],
            marker_line_width=values['marker_line_width'], temporal=temporal)
