# SPDX-License-Identifier: Apache-2.0
"""movenet_node's parameters: the declaration table, and the two frozen views the node uses.

:class:`NodeConfig` holds what configure reads (the model, the input, the QoS), checked all
at once; :class:`RuntimeSettings` what may change between two frames (thresholds, outputs,
tracking and smoothing). Both are built from a plain ``{name: value}`` dict, so they are
tested without ROS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import os
import re

from movenet_ros.core.depth import DepthError, DepthSettings
from movenet_ros.core.estimator import (
    DEFAULT_MAX_PEOPLE,
    MAX_IMAGE_SIDE,
    MAX_PEOPLE_RANGE,
    tuned_min_pose_scores,
)
from movenet_ros.core.geometry import DEFAULT_MULTIPOSE_MAX_SIDE, MULTIPOSE_MAX_SIDE_RANGE
from movenet_ros.core.image_headers import ACCEPTED_FORMATS, DEFAULT_MAX_IMAGE_PIXELS
from movenet_ros.core.model import (
    BUILTIN_MODELS,
    DEFAULT_NUM_THREADS,
    NUM_THREADS_RANGE,
    THREAD_PLACEMENTS,
)
from movenet_ros.core.options import SCORE_RANGE, Range
from movenet_ros.core.refine import DEFAULT_MAX_REFINED, MAX_REFINED_RANGE, REFINE_MODELS
from movenet_ros.core.sync import (
    CAPACITY_RANGE,
    DEFAULT_CAPACITY,
    DEFAULT_TOLERANCE_S,
    TOLERANCE_S_RANGE,
)
from movenet_ros.core.temporal import TemporalSettings
from movenet_ros.core.tracking import DEFAULT_MIN_SIMILARITY
from movenet_ros.nodes.parameters import Applies, ParameterSpec

TRANSPORTS = ('raw', 'compressed')
# Measured (README, "Thread placement"): 'spread' halves Lightning's paced invoke(), but on
# a machine whose CPUs other processes keep busy, pinned threads cannot move away from them:
# Thunder and MultiPose then dropped frames and their p95 latency tripled. So the default
# leaves the scheduler free; 'spread' is for CPUs the node has to itself.
NODE_THREAD_PLACEMENT = 'none'
RELIABILITIES = ('best_effort', 'reliable')
REFINE_CHOICES = ('none', *REFINE_MODELS)
RUN, CONFIGURE, START = Applies.RUN, Applies.CONFIGURE, Applies.START
# tracking.* and smoothing.* parameters -> TemporalSettings fields (keypoint_threshold too).
TEMPORAL_FIELDS = {
    'tracking.enabled': 'tracking', 'tracking.similarity': 'similarity',
    'tracking.min_similarity': 'min_similarity', 'tracking.max_age_s': 'max_age_s',
    'tracking.max_tracks': 'max_tracks', 'smoothing.enabled': 'smoothing',
    'smoothing.min_cutoff': 'min_cutoff', 'smoothing.beta': 'beta',
    'smoothing.d_cutoff': 'd_cutoff', 'keypoint_threshold': 'keypoint_threshold',
}
TEMPORAL_DEFAULTS = TemporalSettings()
# depth.* parameters -> DepthSettings fields.
DEPTH_FIELDS = {
    'depth.patch_size': 'patch_size', 'depth.min_range': 'min_range',
    'depth.max_range': 'max_range', 'depth.edge_tolerance': 'edge_tolerance',
    'depth.max_torso_offset': 'max_torso_offset',
}
DEPTH_DEFAULTS = DepthSettings()


def temporal(name: str, description: str) -> ParameterSpec:
    """A tracking/smoothing parameter: default, range and choices of its TemporalSettings
    field."""
    field = TEMPORAL_FIELDS[name]
    choices = TemporalSettings.CHOICES.get(field, ())
    if not all(isinstance(choice, str) for choice in choices):
        choices = ()  # booleans: the parameter's type says it all
    return ParameterSpec(name, getattr(TEMPORAL_DEFAULTS, field), description,
                         range=TemporalSettings.RANGES.get(field), choices=choices)


def depth(name: str, description: str) -> ParameterSpec:
    """A depth lifting parameter: default and range of its DepthSettings field."""
    field = DEPTH_FIELDS[name]
    return ParameterSpec(name, getattr(DEPTH_DEFAULTS, field), description,
                         range=DepthSettings.RANGES[field])


def _named(exc: ValueError, fields: Mapping[str, str]) -> ValueError:
    """``exc`` (a settings class's message, which starts with the field's name) naming the
    parameter of that field instead."""
    field = str(exc).split(' ', 1)[0]
    name = next((n for n, f in fields.items() if f == field), field)
    return ValueError(f'parameter {name}: {exc}')


class ConfigurationError(Exception):
    """A parameter is invalid; the message says which and how to fix it."""


# A camera name is a relative ROS name: tokens of letters, digits and underscores (not
# starting with a digit), separated by single slashes: front, head/left.
CAMERA_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*')
UNNAMED = ''  # the one camera of a node without camera names: today's topics


def camera_names(value: Sequence[str] | None) -> tuple[str, ...]:
    """The ``cameras`` parameter as a tuple of names; ValueError for a bad list.

    None or an empty list (rcl gives ``cameras:=[]`` as not set) is the one unnamed camera.
    """
    names = tuple(value or (UNNAMED,))
    if names == (UNNAMED,):
        return names
    for name in names:
        if name == UNNAMED:
            raise ValueError("'' (the unnamed camera) cannot be one of several: name every "
                             'camera, e.g. cameras:=[front,back]')
        if not CAMERA_NAME.fullmatch(name):
            raise ValueError(f'{name!r} is not a camera name: use letters, digits and '
                             'underscores, not starting with a digit, in parts separated by '
                             '/ (e.g. front, head/left)')
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f'{", ".join(duplicates)} listed twice')
    return names


def interpreter_count(requested: int, num_threads: int, cameras: int, cpus: int) -> int:
    """How many interpreters to run: ``requested`` (0: ``cpus // num_threads``), at least one
    and at most one per camera (a camera's frames are processed one at a time)."""
    wanted = requested or cpus // max(num_threads, 1)
    return max(1, min(wanted, cameras))


def camera_topic(camera: str, name: str) -> str:
    """The relative topic ``name`` of ``camera``: ``front/image``; ``image`` unnamed."""
    return f'{camera}/{name}' if camera else name


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec('autostart', True,
                  'Configure and activate at start-up, as a plain node does. false: wait in '
                  'the unconfigured state for a lifecycle manager (or `ros2 lifecycle set`).',
                  START),
    ParameterSpec('cameras', (UNNAMED,),
                  'Names of the cameras this node serves with one model. Camera c reads '
                  'c/image (or c/image/compressed) and c/camera_info and publishes c/poses, '
                  'c/pose_markers, c/image_markers/... and c/image_annotated. The default, one '
                  'unnamed camera '
                  '(or an empty list), uses image, camera_info, poses, ... as they are.',
                  CONFIGURE, check=camera_names),
    ParameterSpec('model', 'lightning',
                  'Built-in MoveNet model to run (ignored when model_path is set).',
                  CONFIGURE, choices=tuple(BUILTIN_MODELS)),
    ParameterSpec('model_path', '',
                  'Path of any MoveNet .tflite file (single-pose or multipose, e.g. from TF '
                  'Hub); overrides model when not empty.', CONFIGURE),
    ParameterSpec('num_threads', DEFAULT_NUM_THREADS, 'CPU threads for the TFLite interpreter.',
                  CONFIGURE, range=NUM_THREADS_RANGE),
    ParameterSpec('interpreters', 0,
                  'Model interpreters the cameras share, each run by its own frame thread '
                  '(one copy of the weights each, about 25 MB). 0: as many as the cores allow '
                  'with num_threads each (cores // num_threads), at most one per camera; '
                  'with the defaults (num_threads 2) on 2 cores that is 1. Several cameras on '
                  '2 cores: num_threads 1 gives 2 interpreters, which process more frames in '
                  'total than one with 2 threads.', CONFIGURE, range=Range(0, 16)),
    ParameterSpec('thread_placement', NODE_THREAD_PLACEMENT,
                  "spread pins the frame thread and the interpreter's worker threads to "
                  "separate CPUs (the process's CPUs cut into num_threads groups), so a "
                  'paced invoke() runs as fast as back to back; none leaves them to the '
                  'scheduler. Nothing is pinned with num_threads 1 or fewer CPUs than '
                  'threads (diagnostics say what was done).', CONFIGURE,
                  choices=THREAD_PLACEMENTS),
    ParameterSpec('multipose_max_side', DEFAULT_MULTIPOSE_MAX_SIDE,
                  'MultiPose input: the larger side in pixels (a multiple of 32); the other '
                  'side follows the image aspect. Larger finds smaller people, at a higher '
                  'cost.', CONFIGURE, range=MULTIPOSE_MAX_SIDE_RANGE),
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
                  range=Range(1, 100)),
    ParameterSpec('max_image_pixels', DEFAULT_MAX_IMAGE_PIXELS,
                  'Images with more pixels (width x height) are refused and counted as bad. '
                  'Compressed images are sized from their headers before decoding; formats '
                  'that cannot be sized are refused (accepted: '
                  f'{", ".join(ACCEPTED_FORMATS)}). The default, 3840 x 2160 (4K UHD), keeps '
                  'the node under 350 MB RSS; each extra megapixel costs about 12 MB.',
                  CONFIGURE, range=Range(1, MAX_IMAGE_SIDE * MAX_IMAGE_SIDE)),
    ParameterSpec('diagnostics_period', 1.0, 'Seconds between /diagnostics messages.',
                  CONFIGURE, range=Range(0.1, 60.0)),
    temporal('keypoint_threshold',
             'Keypoints with a lower score are not drawn, not counted in single-pose scores '
             'and boxes, not tracked or smoothed and not shown as markers (all 17 are still '
             'published).'),
    ParameterSpec('min_pose_score', 0.0,
                  'People with a lower pose score are not reported. The score is, single-pose: '
                  'the mean of the 5 best keypoint scores; MultiPose (and people left '
                  "unrefined): the model's person score. 0: the tuned default of the model "
                  f'({tuned_min_pose_scores()}).', range=SCORE_RANGE),
    ParameterSpec('max_people', DEFAULT_MAX_PEOPLE,
                  'At most this many people are reported (MultiPose).',
                  range=MAX_PEOPLE_RANGE),
    ParameterSpec('refine', 'none',
                  'MultiPose only: refine each person MultiPose finds with a single-pose model '
                  'run on a crop around them (thunder: most accurate, lightning: cheaper), '
                  "each person's next crop following their pose on video; none: MultiPose "
                  'alone.', CONFIGURE, choices=REFINE_CHOICES),
    ParameterSpec('refine_max_people', DEFAULT_MAX_REFINED,
                  'refine: at most this many people are refined per frame, the largest first '
                  "(one single-pose run each); the others keep MultiPose's keypoints.",
                  range=MAX_REFINED_RANGE),
    ParameterSpec('refine_min_pose_score', 0.0,
                  'refine: refined people with a lower single-pose score (the mean of their 5 '
                  'best keypoint scores on the crop) are not reported. 0: the tuned default '
                  f'of the refiner ({tuned_min_pose_scores(refined=True)}).', range=SCORE_RANGE),
    ParameterSpec('crop_tracking', True,
                  'Single-pose models, and refine: run each frame on a crop around the '
                  "previous pose (refine: each person's; more accurate on video)."),
    ParameterSpec('publish_markers', True,
                  'Publish visualization_msgs/MarkerArray on "pose_markers" (only built while '
                  'someone subscribes).'),
    ParameterSpec('publish_image_markers', True,
                  'Publish the 2D overlay as visualization_msgs/ImageMarker on '
                  '"image_markers/bones" (LINE_LIST) and "image_markers/keypoints" (POINTS), '
                  'in source-image pixels with the origin at the top-left corner of the image '
                  '(only built while someone subscribes).'),
    ParameterSpec('publish_annotated_image', True,
                  'Publish the image with skeletons drawn on "image_annotated" (only drawn '
                  'while someone subscribes).'),
    ParameterSpec('marker_depth', 2.0,
                  'Distance in metres at which 2D poses are drawn as markers, along the '
                  'camera rays (from camera_info, else an assumed 60 degree horizontal field '
                  'of view).', range=Range(0.1, 100.0)),
    ParameterSpec('marker_line_width', 0.02, 'Marker bone width in metres.',
                  range=Range(0.001, 1.0)),
    temporal('tracking.enabled',
             'Give each person an id that stays the same across frames (PersonPose.id).'),
    temporal('tracking.similarity',
             'How people are matched to tracks: oks (keypoint similarity) or iou (boxes).'),
    temporal('tracking.min_similarity',
             'Least similarity for a match; 0 uses the tuned default of the method '
             f'({", ".join(f"{k} {v}" for k, v in DEFAULT_MIN_SIMILARITY.items())}).'),
    temporal('tracking.max_age_s',
             'Seconds of image time (from the stamps) an unseen person keeps their id.'),
    temporal('tracking.max_tracks', 'Tracks kept at most.'),
    temporal('smoothing.enabled',
             'One-Euro filter keypoints and boxes per tracked person (needs tracking).'),
    temporal('smoothing.min_cutoff',
             'Cutoff frequency (Hz) for a still person: lower is smoother, with more lag.'),
    temporal('smoothing.beta',
             'How fast the cutoff rises with speed (Hz per person size per second): higher '
             'lags less on fast motion.'),
    temporal('smoothing.d_cutoff', 'Cutoff frequency (Hz) of the speed estimate.'),
    ParameterSpec('depth.enabled', False,
                  'Lift keypoints to 3D with a depth image registered (aligned) to the colour '
                  'image: subscribe to "depth/image" (16UC1 mm or 32FC1 m) and '
                  '"depth/camera_info", fill Keypoint.position and the person\'s position and '
                  'facing, publish "people" (geometry_msgs/PoseArray) and draw the markers in '
                  '3D. Also on, whatever this says, when depth/image is remapped.', CONFIGURE),
    ParameterSpec('depth.sync_tolerance', DEFAULT_TOLERANCE_S,
                  "Seconds a depth image's stamp may differ from the colour image's to be "
                  'paired with it (the nearest one within this is taken).',
                  range=TOLERANCE_S_RANGE),
    ParameterSpec('depth.queue_size', DEFAULT_CAPACITY,
                  'Newest depth images kept for pairing (the colour frame never waits for '
                  'depth; raise it if depth arrives long before its colour frame is '
                  'processed).', CONFIGURE, range=CAPACITY_RANGE),
    depth('depth.patch_size',
          'Depth pixels per side of the patch read around each keypoint (odd); the robust '
          'depth is the median of its nearer mode.'),
    depth('depth.min_range', 'Metres: nearer depth readings count as no reading.'),
    depth('depth.max_range', 'Metres: farther depth readings count as no reading.'),
    depth('depth.edge_tolerance',
          'Metres behind the near end of a patch still counted as the same surface (rejects '
          "the background where a patch straddles the body's edge)."),
    depth('depth.max_torso_offset',
          'Metres a keypoint may lie in front of or behind its own torso; farther, its depth '
          'is taken as wrong (position_valid false).'),
)
SPECS: dict[str, ParameterSpec] = {spec.name: spec for spec in PARAMETERS}


@dataclass(frozen=True)
class NodeConfig:
    """What configure reads: the model, the input subscription, the diagnostics period."""

    cameras: tuple[str, ...]  # ('',): the one unnamed camera
    model: str  # a built-in name or a .tflite path
    model_parameter: str  # the parameter that named it, for messages
    refine: str  # 'none' or the refiner's built-in name
    num_threads: int
    interpreters: int  # resolved: 1 or more, at most one per camera
    thread_placement: str
    multipose_max_side: int
    image_transport: str
    image_qos_reliability: str
    image_qos_depth: int
    max_image_pixels: int
    diagnostics_period: float
    depth_enabled: bool  # the parameter; a remapped depth/image enables depth too
    depth_queue_size: int

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
        cameras = camera_names(values['cameras'])
        return cls(
            cameras=cameras,
            model=values['model_path'] or values['model'],
            model_parameter='model_path' if values['model_path'] else 'model',
            refine=values['refine'],
            num_threads=values['num_threads'], thread_placement=values['thread_placement'],
            interpreters=interpreter_count(values['interpreters'], values['num_threads'],
                                           len(cameras), len(os.sched_getaffinity(0))),
            multipose_max_side=values['multipose_max_side'],
            image_transport=values['image_transport'],
            image_qos_reliability=values['image_qos_reliability'],
            image_qos_depth=values['image_qos_depth'],
            max_image_pixels=values['max_image_pixels'],
            diagnostics_period=values['diagnostics_period'],
            depth_enabled=values['depth.enabled'], depth_queue_size=values['depth.queue_size'])


@dataclass(frozen=True)
class RuntimeSettings:
    """What may change between two frames; one frozen snapshot, applied all at once."""

    min_pose_score: float  # 0: the mode's tuned default
    max_people: int
    refine_max_people: int
    refine_min_pose_score: float  # 0: the refiner's tuned default
    crop_tracking: bool
    publish_markers: bool
    publish_image_markers: bool
    publish_annotated_image: bool
    marker_depth: float
    marker_line_width: float
    temporal: TemporalSettings  # tracking.*, smoothing.*, keypoint_threshold
    depth: DepthSettings  # depth.* but enabled, sync_tolerance and queue_size
    depth_tolerance: float  # depth.sync_tolerance

    @property
    def keypoint_threshold(self) -> float:
        return self.temporal.keypoint_threshold

    @classmethod
    def from_values(cls, values: Mapping) -> RuntimeSettings:
        """The settings of ``values``; ValueError (naming the parameter) if invalid."""
        temporal = TemporalSettings(**{field: values[name]
                                       for name, field in TEMPORAL_FIELDS.items()})
        try:
            temporal.validate()
        except ValueError as exc:
            raise _named(exc, TEMPORAL_FIELDS) from exc
        try:
            depth = DepthSettings(**{field: values[name] for name, field in DEPTH_FIELDS.items()})
        except DepthError as exc:
            raise _named(exc, DEPTH_FIELDS) from exc
        return cls(
            min_pose_score=values['min_pose_score'], max_people=values['max_people'],
            refine_max_people=values['refine_max_people'],
            refine_min_pose_score=values['refine_min_pose_score'],
            crop_tracking=values['crop_tracking'], publish_markers=values['publish_markers'],
            publish_image_markers=values['publish_image_markers'],
            publish_annotated_image=values['publish_annotated_image'],
            marker_depth=values['marker_depth'],
            marker_line_width=values['marker_line_width'], temporal=temporal, depth=depth,
            depth_tolerance=values['depth.sync_tolerance'])
