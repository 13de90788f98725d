# SPDX-License-Identifier: Apache-2.0
"""``movenet-ros``: MoveNet on image files, folders, videos and ROS 2 bags, without ROS.

    movenet-ros infer clip.mp4 --model thunder --output clip_pose.mp4 --json poses.jsonl
    movenet-ros infer photos/ --model multipose --output annotated/
    movenet-ros infer recording/ --topic /camera/color/image_raw --bag-out poses_bag/

Writes annotated images/videos (--output), one JSON line per image or frame (--json; '-' for
stdout) followed by a summary line, and a bag of the node's messages (--bag-out); shows a
progress bar on videos, bags and folders, and ends with a summary on stderr. A bad input is
reported and counted, and never stops the others; bad arguments stop the run before the
first frame.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
import json
import math
import os
import pathlib
import sys
import textwrap
import time

import cv2
import numpy as np
from tqdm import tqdm

from movenet_ros import __version__
from movenet_ros.cli_plan import (
    VIDEO_OUTPUT_SUFFIXES,
    Job,
    OutputError,
    Plan,
    UsageError,
    check_json_target,
    plan_inputs,
    plan_outputs,
)
from movenet_ros.cli_report import (
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    Report,
    StopRequest,
    StopSignals,
)
from movenet_ros.core.drawing import bgr_canvas, draw_poses
from movenet_ros.core.estimator import (
    DEFAULT_KEYPOINT_THRESHOLD,
    DEFAULT_MAX_PEOPLE,
    MAX_PEOPLE_RANGE,
    PoseEstimator,
    tuned_min_pose_scores,
)
from movenet_ros.core.geometry import DEFAULT_MULTIPOSE_MAX_SIDE, MULTIPOSE_MAX_SIDE_RANGE
from movenet_ros.core.media import (
    BAG_SUFFIXES,
    DEFAULT_MAX_FILE_PIXELS,
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    FrameSource,
    load_image,
    open_frame_source,
)
from movenet_ros.core.model import (
    BUILTIN_MODELS,
    DEFAULT_NUM_THREADS,
    DEFAULT_THREAD_PLACEMENT,
    NUM_THREADS_RANGE,
    THREAD_PLACEMENTS,
    ModelError,
    MoveNetModel,
)
from movenet_ros.core.options import SCORE_RANGE, Range
from movenet_ros.core.refine import (
    DEFAULT_MAX_REFINED,
    MAX_REFINED_RANGE,
    REFINE_MODELS,
    RefinedPoseEstimator,
    build_estimator,
)
from movenet_ros.core.temporal import TemporalFilter, TemporalSettings
from movenet_ros.core.tracking import DEFAULT_MIN_SIMILARITY

BAG_STORAGES = ('mcap', 'sqlite3')  # core.bag_writer.STORAGES, without importing rosbags
DEFAULT_BAG_FPS = 30.0  # annotated videos of bags whose first two stamps give no rate
_HELP_SECTIONS = {
    'inputs': (
        f'A file with an image suffix (any case: {" ".join(IMAGE_SUFFIXES)}) is read as one '
        f'image. A ROS 2 bag, a {" or ".join(BAG_SUFFIXES)} file or a rosbag2 folder (with '
        'its metadata.yaml, or only storage files: a recording that did not finish), is read '
        'on one image topic (sensor_msgs/Image or CompressedImage): --topic, or else the '
        "bag's image topics are listed and asked for at a terminal (exit code 2 with the "
        'list when nobody can answer). Any other file, a camera index (0) or /dev/videoN is '
        'opened as a video (GIF too: every frame). A folder stands for the images and then '
        f'the videos in it, in name order (videos: {" ".join(VIDEO_SUFFIXES)}); its other '
        'files, bags, hidden entries and, without --recursive, its sub-folders are listed as '
        'skipped. An input that cannot be read is reported and counted, and the others are '
        'still processed. A damaged bag (cut short, killed while recording, a corrupt chunk '
        'or message) is read to its last whole message: every frame that can be read is '
        'processed, and what was lost is reported (exit code 1).'),
    'outputs': (
        '--output is one file for one image input (an image suffix) or one video input '
        f'({" ".join(VIDEO_OUTPUT_SUFFIXES)}); otherwise it is a folder, created if missing, '
        'that gets NAME_pose.png per image and NAME_pose.mp4 per video, each keeping its path '
        'below the deepest folder holding all inputs (a/x.png and b/x.png -> OUT/a/x_pose.png '
        'and OUT/b/x_pose.png); inputs whose names differ only in suffix keep it '
        '(x_jpg_pose.png, x_png_pose.png); a bag gets NAME_pose.mp4 at the rate of its first '
        'two stamps. --json writes one line per image or frame (bag frames with their topic, '
        'header stamp and frame_id), then one last line {"summary": {...}}: counts, each '
        "video's and bag's frames_read and frames_declared, every failed and skipped "
        'input, and the exit code. --bag-out writes a new rosbag2 folder (--bag-storage '
        'mcap, the default, or sqlite3) with, per frame of the videos and bags processed and '
        'with its header, what movenet_node publishes: /poses, /pose_markers, '
        '/image_markers/bones and /image_markers/keypoints, and with --bag-images the input '
        "images (a bag's copied unchanged on their topic, a video's as JPEG on "
        '/image/compressed).'),
    'exit status': (
        '0 every input was read completely; 1 an input failed, a video ended before its '
        'declared frame count, a bag was damaged or held messages that are not images, or '
        'the run stopped on an error (what was done is kept); 2 bad arguments, output paths, '
        'model or (without a terminal) a bag without --topic, found before the first frame '
        '(nothing is written); 130 interrupted by Ctrl-C, 143 by SIGTERM (the run stops '
        'between two frames; the outputs so far are closed and kept).'),
}
EPILOG = '\n\n'.join(f'{title}:\n' + textwrap.fill(text, 79, initial_indent='  ',
                                                    subsequent_indent='  ',
                                                    break_on_hyphens=False)
                     for title, text in _HELP_SECTIONS.items())


class _Parser(argparse.ArgumentParser):
    """argparse with errors on one line, like every other error of the command."""

    def error(self, message: str) -> None:
        self.exit(EXIT_USAGE, f'movenet-ros: error: {message} (see {self.prog} --help)\n')


def _checked(cast: type, valid, wanted: str):
    """An argparse ``type`` that accepts finite values passing ``valid``, else says why."""
    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not valid(value):
            raise argparse.ArgumentTypeError(f'expected {wanted}, got {text!r}')
        return value
    return parse


def _ranged(allowed: Range):
    """An argparse ``type`` for the values of a core :class:`Range` (its words on error)."""
    return _checked(int if allowed.integer else float, allowed.contains, allowed.describe())


def _range_help(allowed: Range) -> str:
    """'0-1', 'multiple of 32, 128-1024': the range in a help line."""
    low, high = (f'{allowed.low:g}', f'{allowed.high:g}')
    return f'multiple of {allowed.step}, {low}-{high}' if allowed.step > 1 else f'{low}-{high}'


_PIXELS = _checked(int, lambda v: v >= 1, 'an integer >= 1')
# The tracking and smoothing options: (flag, TemporalSettings field, help). Their ranges
# and defaults are the settings' own, so the CLI and the node accept the same values.
_TEMPORAL_OPTIONS = (
    ('--min-similarity', 'min_similarity',
     '--track: least similarity for a match; 0 is the tuned default of the method '
     f'({", ".join(f"{k} {v}" for k, v in DEFAULT_MIN_SIMILARITY.items())})'),
    ('--max-age-s', 'max_age_s', '--track: seconds of video time an unseen person keeps their '
                                 'id'),
    ('--max-tracks', 'max_tracks', '--track: people tracked at most'),
    ('--min-cutoff', 'min_cutoff', '--smooth: cutoff in Hz for a still person (lower: '
                                   'smoother, more lag)'),
    ('--beta', 'beta', '--smooth: cutoff increase with speed (higher: less lag on fast '
                       'motion)'),
    ('--d-cutoff', 'd_cutoff', '--smooth: cutoff in Hz of the speed estimate'),
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog='movenet-ros', description='MoveNet pose estimation on images and videos.')
    parser.add_argument('--version', action='version', version=f'%(prog)s {__version__}')
    sub = parser.add_subparsers(dest='command', required=True)
    infer = sub.add_parser('infer', help='estimate poses in images, folders, videos and bags',
                           description='Estimate poses in images, folders, videos and ROS 2 '
                                       'bags.',
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    infer.add_argument('inputs', nargs='+', metavar='INPUT',
                       help='image files, folders of images and videos, video files, or ROS 2 '
                            'bags (rosbag2 folders, .mcap or .db3 files)')
    infer.add_argument('--model', default='lightning',
                       help=f'{"|".join(BUILTIN_MODELS)} or the path of a MoveNet .tflite '
                            'file (default: lightning)')
    infer.add_argument('--threads', type=_ranged(NUM_THREADS_RANGE),
                       default=DEFAULT_NUM_THREADS,
                       help=f'TFLite threads, {_range_help(NUM_THREADS_RANGE)} (%(default)s)')
    infer.add_argument('--thread-placement', choices=THREAD_PLACEMENTS,
                       default=DEFAULT_THREAD_PLACEMENT,
                       help="spread: pin this program's thread and the TFLite workers to "
                            'separate CPUs (helps paced input, e.g. a live camera; files run '
                            'back to back gain little); none: leave them to the scheduler '
                            '(%(default)s)')
    infer.add_argument('--threshold', type=_ranged(SCORE_RANGE),
                       default=DEFAULT_KEYPOINT_THRESHOLD,
                       help='keypoint score threshold for drawing, boxes and tracking, '
                            f'{_range_help(SCORE_RANGE)} (%(default)s)')
    infer.add_argument('--min-pose-score', type=_ranged(SCORE_RANGE), default=0.0,
                       help='people with a lower pose score are not reported (single-pose: '
                            'the mean of the 5 best keypoint scores; MultiPose: its person '
                            f'score), {_range_help(SCORE_RANGE)}; 0 is the tuned default of '
                            f'the model ({tuned_min_pose_scores()}) (%(default)s)')
    infer.add_argument('--max-people', type=_ranged(MAX_PEOPLE_RANGE),
                       default=DEFAULT_MAX_PEOPLE,
                       help=f'MultiPose: at most N people, {_range_help(MAX_PEOPLE_RANGE)} '
                            '(%(default)s)')
    infer.add_argument('--refine', choices=('none', *REFINE_MODELS), default='none',
                       help='--model multipose: refine each person with a single-pose model on '
                            'a crop around them (thunder: most accurate) (%(default)s)')
    infer.add_argument('--refine-max-people', type=_ranged(MAX_REFINED_RANGE),
                       default=DEFAULT_MAX_REFINED,
                       help='--refine: people refined per image at most, largest first, '
                            f'{_range_help(MAX_REFINED_RANGE)} (%(default)s)')
    infer.add_argument('--refine-min-pose-score', type=_ranged(SCORE_RANGE), default=0.0,
                       help='--refine: refined people with a lower single-pose score are not '
                            f'reported, {_range_help(SCORE_RANGE)}; 0 is the tuned default '
                            f'({tuned_min_pose_scores(refined=True)}) (%(default)s)')
    infer.add_argument('--multipose-max-side', type=_ranged(MULTIPOSE_MAX_SIDE_RANGE),
                       default=DEFAULT_MULTIPOSE_MAX_SIDE,
                       help='MultiPose input: the larger side in pixels, '
                            f'{_range_help(MULTIPOSE_MAX_SIDE_RANGE)} (%(default)s)')
    infer.add_argument('--max-image-pixels', type=_PIXELS, default=DEFAULT_MAX_FILE_PIXELS,
                       help='image files declaring more pixels (width x height) are refused '
                            'before decoding (%(default)s = 8192 x 8192)')
    infer.add_argument('--output', '-o', type=pathlib.Path,
                       help='annotated output: a file for one image or video input '
                            '(.png/.jpg/..., .mp4/.avi/.mkv/.mov), otherwise a folder')
    infer.add_argument('--json', metavar='PATH',
                       help="write one JSON line per image or frame, then a summary line, to "
                            "PATH ('-': stdout)")
    infer.add_argument('--topic', metavar='TOPIC',
                       help='bags: the image topic to read (sensor_msgs/Image or '
                            'CompressedImage); without it, the image topics are listed')
    infer.add_argument('--bag-out', metavar='DIR', type=pathlib.Path,
                       help='write a ROS 2 bag (a new folder) of the poses, markers and image '
                            'markers of every video and bag frame, with its header')
    infer.add_argument('--bag-storage', choices=BAG_STORAGES, default=BAG_STORAGES[0],
                       help='--bag-out storage: mcap or sqlite3 (%(default)s)')
    infer.add_argument('--bag-images', action='store_true',
                       help='--bag-out: the input images too (bags: copied as recorded; '
                            'videos: JPEG on /image/compressed)')
    infer.add_argument('--recursive', '-r', action='store_true',
                       help='folders: also read the images and videos in sub-folders')
    infer.add_argument('--track', action='store_true',
                       help='videos: give each person an id that stays the same across frames')
    infer.add_argument('--smooth', action='store_true',
                       help='videos: One-Euro filter keypoints and boxes per person '
                            '(implies --track)')
    defaults = TemporalSettings()
    infer.add_argument('--similarity', choices=TemporalSettings.CHOICES['similarity'],
                       default=defaults.similarity,
                       help='--track: match people by keypoints (oks) or boxes (iou) '
                            '(%(default)s)')
    for flag, name, text in _TEMPORAL_OPTIONS:
        allowed = TemporalSettings.RANGES[name]
        infer.add_argument(flag, type=_ranged(allowed), default=getattr(defaults, name),
                           help=f'{text}, {_range_help(allowed)} (%(default)s)')
    infer.add_argument('--no-progress', action='store_true', help='no progress bars')
    return parser


def temporal_settings(args) -> TemporalSettings:
    """The tracking/smoothing settings the options ask for (both off without --track or
    --smooth); ValueError if they are out of range."""
    settings = TemporalSettings(
        tracking=args.track or args.smooth, smoothing=args.smooth,
        similarity=args.similarity, keypoint_threshold=args.threshold,
        **{name: getattr(args, name) for _, name, _ in _TEMPORAL_OPTIONS})
    settings.validate()
    return settings


class JsonOutputError(OutputError):
    """The --json stream cannot be written (a full disk, a closed pipe)."""


class Runner:
    """Runs the estimator over the planned jobs, writing JSON lines and annotated files.

    Errors of one input are recorded in the report and the next input goes on; writers are
    closed whatever happens, so a video cut short keeps every frame written before.
    """

    def __init__(self, estimator: PoseEstimator, temporal: TemporalFilter, report: Report,
                 json_out, progress: bool, signals: StopSignals,
                 max_image_pixels: int = DEFAULT_MAX_FILE_PIXELS, bags: Bags | None = None,
                 ) -> None:
        self.signals = signals
        self.max_image_pixels = max_image_pixels
        self.estimator = estimator
        self.temporal = temporal
        self.report = report
        self.json_out = json_out
        self.progress = progress
        self.bags = bags if bags is not None else Bags()

    def run(self, plan: Plan) -> None:
        for name, jobs in plan.groups:
            if jobs[0].kind == 'image':
                self.run_images(name, jobs)
            elif jobs[0].kind == 'bag':
                self.run_bag(jobs[0])
            else:
                self.run_video(jobs[0])

    def _bar(self, total: int | None, name: str, unit: str) -> tqdm:
        return tqdm(total=total, desc=name, unit=unit, leave=False, file=sys.stderr,
                    disable=not self.progress or total == 1)

    def _emit(self, record: dict) -> None:
        if self.json_out is None:
            return
        try:
            self.json_out.write(json.dumps(record) + '\n')
        except OSError as exc:
            raise JsonOutputError(f'cannot write the --json output: {exc.strerror or exc}') \
                from exc

    def run_images(self, name: str, jobs: list[Job]) -> None:
        with self._bar(len(jobs), name, 'image') as bar:
            for job in jobs:
                self.signals.check()
                self.run_image(job)
                bar.update(1)

    def run_image(self, job: Job) -> None:
        try:
            image = load_image(job.source, self.max_image_pixels)
        except (OSError, ValueError) as exc:
            self.report.fail(job.source, str(exc))
            return
        self.estimator.reset()  # unrelated stills: no crop carried over
        start = time.perf_counter()
        try:
            result = self.estimator.estimate(image, channel_order='bgr')
            self.report.add(result, (time.perf_counter() - start) * 1e3)
            self._emit({'source': job.source, 'frame': job.index, **result.to_dict()})
            if job.output is not None:
                annotated = draw_poses(image, result.poses, self.estimator.keypoint_threshold,
                                       channel_order='bgr')
                job.output.parent.mkdir(parents=True, exist_ok=True)
                if not cv2.imwrite(str(job.output), annotated):
                    raise ValueError(f'cannot write image {job.output}')
        except (OSError, ValueError, cv2.error) as exc:
            self.report.fail(job.source, f'{job.source}: {exc}')

    def run_video(self, job: Job) -> None:
        try:
            source = open_frame_source(job.source)
        except (OSError, ValueError) as exc:
            self.report.fail(job.source, str(exc))
            return
        declared = source.frame_count
        entry = {'source': job.source, 'frames_read': 0, 'frames_declared': declared}
        self.report.videos.append(entry)  # before reading: an interrupted run lists it too
        if self.bags.output is not None:
            self.bags.output.start_video(source.fps)
        with source:
            self.estimator.reset()  # a new video starts without the previous one's crop
            self.temporal.reset()  # and tracks
            whole = self._frames(job, source, entry)
        read = entry['frames_read']
        if whole and declared and read < declared:
            self.report.fail(job.source, f'{job.source}: read {read} of {declared} declared '
                                         'frames (a truncated or damaged file); the frames '
                                         'read are kept', label='incomplete')

    def _frames(self, job: Job, source: FrameSource, entry: dict) -> bool:
        """Process every frame of ``source``, counting them in ``entry``; False on an error."""
        writer = None
        try:
            with self._bar(source.frame_count, pathlib.Path(job.source).name, 'frame') as bar:
                for index, frame in enumerate(source):
                    self.signals.check()
                    start = time.perf_counter()
                    result = self.estimator.estimate(frame, channel_order='bgr')
                    result = self.temporal.update(result, index / source.fps)
                    self.report.add(result, (time.perf_counter() - start) * 1e3)
                    self._emit({'source': job.source, 'frame': index,
                                'time_s': round(index / source.fps, 4), **result.to_dict()})
                    if self.bags.output is not None:
                        self.bags.output.add_video_frame(result, frame, index / source.fps)
                    if job.output is not None:
                        if writer is None:
                            writer = self._writer(job.output, source.fps, frame)
                        writer.write(draw_poses(frame, result.poses,
                                                self.estimator.keypoint_threshold,
                                                channel_order='bgr'))
                    entry['frames_read'] += 1
                    bar.update(1)
        except (OSError, ValueError, cv2.error) as exc:
            read = entry['frames_read']
            self.report.fail(job.source, f'{job.source}: stopped at frame {read}: {exc}; the '
                                         f'{read} frame(s) before it are kept')
            return False
        finally:
            if writer is not None:
                writer.release()  # finalises the file: what was written stays playable
        return True

    def run_bag(self, job: Job) -> None:
        """Every message of the bag's image topic: decoded frames are processed with their
        header stamp (the log time stands in for a zero stamp); undecodable ones and damage
        to the bag are counted and reported once the whole topic is read."""
        if job.source in self.bags.unreadable:
            self.report.fail(job.source, self.bags.unreadable[job.source])
            return
        bag = self.bags.opened.pop(job.source)
        topic = bag.topics[job.topic]
        entry = {'source': job.source, 'topic': job.topic, 'frames_read': 0,
                 'frames_declared': topic.count, 'frames_failed': 0, 'damage': []}
        self.report.bags.append(entry)  # before reading: an interrupted run lists it too
        first_error = None
        video = StampedVideo(job.output) if job.output is not None else None
        self.estimator.reset()
        self.temporal.reset()
        try:
            with bag, self._bar(topic.count, pathlib.Path(job.source).name, 'frame') as bar:
                for frame in bag.frames(job.topic):
                    self.signals.check()
                    bar.update(1)
                    if frame.error is not None:
                        entry['frames_failed'] += 1
                        first_error = first_error or frame.error
                        continue
                    start = time.perf_counter()
                    result = self.estimator.estimate(frame.image,
                                                     channel_order=frame.channel_order)
                    result = self.temporal.update(result, frame.stamp_ns * 1e-9,
                                                  frame.log_time_ns * 1e-9)
                    self.report.add(result, (time.perf_counter() - start) * 1e3)
                    self._emit({'source': job.source, 'topic': job.topic, 'frame': frame.index,
                                'stamp': frame.stamp_ns * 1e-9, 'stamp_ns': frame.stamp_ns,
                                'frame_id': frame.frame_id, **result.to_dict()})
                    if self.bags.output is not None:
                        self.bags.output.add_bag_frame(result, frame, topic)
                    if video is not None:
                        video.write(draw_poses(bgr_canvas(frame.image, frame.channel_order),
                                               result.poses, self.estimator.keypoint_threshold),
                                    frame.stamp_ns)
                    entry['frames_read'] += 1
        except (OSError, ValueError, cv2.error) as exc:
            self.report.fail(job.source, f'{job.source}: stopped at {job.topic} message '
                                         f'{entry["frames_read"] + entry["frames_failed"]}: '
                                         f'{exc}; the frames before it are kept')
        finally:
            entry['damage'] = list(bag.damage)
            if video is not None:
                video.close()
        if entry['frames_failed']:
            self.report.fail(job.source, f'{job.source}: {entry["frames_failed"]} of '
                                         f'{entry["frames_failed"] + entry["frames_read"]} '
                                         f'{job.topic} message(s) could not be read as images '
                                         f'(the first: {first_error})', label='incomplete')
        if entry['damage']:
            self.report.fail(job.source, f'{"; ".join(entry["damage"])}; every readable '
                                         f'frame was processed ({entry["frames_read"]})',
                             label='incomplete')

    @staticmethod
    def _writer(target: pathlib.Path, fps: float, frame) -> cv2.VideoWriter:
        target.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*'mp4v'), fps,
                                 (frame.shape[1], frame.shape[0]))
        if not writer.isOpened():
            raise ValueError(f'cannot write video {target}')
        return writer


class StampedVideo:
    """The annotated video of a bag's frames: a bag has no frame rate, so the video plays at
    the rate of its first two stamps (DEFAULT_BAG_FPS when they do not give one)."""

    def __init__(self, target: pathlib.Path) -> None:
        self.target = target
        self._writer: cv2.VideoWriter | None = None
        self._first: tuple[np.ndarray, int] | None = None  # held until the second frame

    def write(self, image: np.ndarray, stamp_ns: int) -> None:
        if self._writer is None and self._first is None:
            self._first = (image, stamp_ns)
            return
        if self._writer is None:
            period_ns = stamp_ns - self._first[1]
            self._open(1e9 / period_ns if period_ns > 0 else DEFAULT_BAG_FPS)
        self._writer.write(image)

    def _open(self, fps: float) -> None:
        first, _ = self._first
        self._writer = Runner._writer(self.target, min(max(fps, 1.0), 120.0), first)
        self._writer.write(first)
        self._first = None

    def close(self) -> None:
        if self._first is not None:  # a bag of one frame
            self._open(DEFAULT_BAG_FPS)
        if self._writer is not None:
            self._writer.release()


@dataclass
class Bags:
    """The run's bags: the input bags opened (by source, until their turn), why the others
    cannot be opened, and --bag-out. Their modules load only when a bag is in the run
    (rosbags takes a while to import)."""

    opened: dict = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    output: object | None = None  # cli_bags.BagOutput

    @classmethod
    def prepare(cls, args, plan: Plan) -> Bags:
        """Open the input bags and choose their topics; check --bag-out (UsageError)."""
        bag_options = [name for name, given in (('--bag-storage', args.bag_storage != 'mcap'),
                                                ('--bag-images', args.bag_images)) if given]
        if args.bag_out is None and bag_options:
            raise UsageError(f'{bag_options[0]} needs --bag-out')
        if args.bag_out is None and not any(job.kind == 'bag' for job in plan.jobs):
            return cls()
        from movenet_ros import cli_bags

        if args.bag_out is not None:
            cli_bags.check_bag_target(args.bag_out, plan)
        return cls(*cli_bags.open_bags(plan, args.topic, cli_bags.terminal_question(),
                                       args.max_image_pixels))

    def open_output(self, args) -> None:
        """Create the --bag-out bag (last of the checks: it writes the folder)."""
        if args.bag_out is not None:
            from movenet_ros.cli_bags import BagOutput

            self.output = BagOutput(args.bag_out, args.bag_storage, args.bag_images)

    def close(self) -> None:
        """Close every input bag still open and finish --bag-out (OutputError if it cannot
        be). Idempotent."""
        for bag in self.opened.values():
            bag.close()
        self.opened = {}
        if self.output is not None and not self.output.closed:
            self.output.close()


def prepare(args) -> tuple[Plan, PoseEstimator | RefinedPoseEstimator, TemporalFilter, Bags]:
    """Everything that can be refused before the first frame; raises UsageError/ModelError.

    Nothing is written yet, except the output folder and the --bag-out bag, created last.
    """
    plan = plan_inputs(args.inputs, args.recursive)
    check_json_target(args.json)
    output_folder = args.output is not None and not plan_outputs(args.output, plan)
    bags = Bags.prepare(args, plan)
    try:
        model = MoveNetModel(args.model, num_threads=args.threads,
                             multipose_max_side=args.multipose_max_side,
                             thread_placement=args.thread_placement)
        refiner = (MoveNetModel(args.refine, num_threads=args.threads,
                                thread_placement=args.thread_placement)
                   if args.refine != 'none' else None)
        try:
            estimator = build_estimator(
                model, refiner, keypoint_threshold=args.threshold,
                min_pose_score=args.min_pose_score or None, max_people=args.max_people,
                refined_min_pose_score=args.refine_min_pose_score or None,
                max_refined=args.refine_max_people)
        except ValueError as exc:
            raise UsageError(f'--refine {args.refine}: {exc}') from None
        temporal = TemporalFilter(temporal_settings(args))
        if output_folder:
            try:
                args.output.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(f'--output {args.output}: cannot create it '
                                 f'({exc.strerror or exc})') from None
        bags.open_output(args)
    except BaseException:
        bags.close()
        raise
    return plan, estimator, temporal, bags


def infer(args) -> int:
    # Every failure is reported below, naming the input: OpenCV's own log lines would only
    # repeat it in its internal terms.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        plan, estimator, temporal, bags = prepare(args)
    except (UsageError, ModelError, ValueError) as exc:
        print(f'movenet-ros: error: {exc}', file=sys.stderr)
        return EXIT_USAGE
    report = Report(estimator.name, inputs=len(plan.jobs), skipped=plan.skipped)
    for source, message in plan.failed:
        report.fail(source, message)
    json_out = None
    if args.json == '-':
        json_out = sys.stdout
    elif args.json:
        json_out = open(args.json, 'w', buffering=1)  # noqa: SIM115 (closed below)
    signals = StopSignals()
    runner = Runner(estimator, temporal, report, json_out, progress=not args.no_progress,
                    signals=signals, max_image_pixels=args.max_image_pixels, bags=bags)
    try:
        with signals:
            runner.run(plan)
    except StopRequest as stop:
        report.stop(stop.reason, stop.exit_code)
    except KeyboardInterrupt:  # a second Ctrl-C: at once, wherever the run was
        report.stop('interrupted (SIGINT twice)', EXIT_INTERRUPTED)
    except ModelError as exc:
        report.stop(f'model problem: {exc}', EXIT_INCOMPLETE)
    except OutputError as exc:
        report.stop(str(exc), EXIT_INCOMPLETE)
        if isinstance(exc, JsonOutputError):
            if json_out is sys.stdout:  # a closed pipe: nothing more can go there
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            json_out = None
    finally:
        try:
            bags.close()
        except OutputError as exc:
            report.stop(str(exc), EXIT_INCOMPLETE)
        if bags.output is not None:
            report.bag_out = bags.output.summary()
        if json_out is not None:
            runner._emit(report.footer())
            if json_out is not sys.stdout:
                json_out.close()
    for line in report.lines():
        print(line, file=sys.stderr)
    return report.final_exit_code()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == 'infer':
        try:
            return infer(args)
        except KeyboardInterrupt:  # before the first frame or after the last
            print('movenet-ros: interrupted', file=sys.stderr)
            return EXIT_INTERRUPTED
    return EXIT_USAGE


if __name__ == '__main__':
    sys.exit(main())
