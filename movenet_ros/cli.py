# SPDX-License-Identifier: Apache-2.0
"""``movenet-ros``: MoveNet on image files, folders and videos, without ROS.

    movenet-ros infer clip.mp4 --model thunder --output clip_pose.mp4 --json poses.jsonl
    movenet-ros infer photos/ --model multipose --output annotated/

Writes annotated images/videos (--output) and one JSON line per image or video frame
(--json; '-' for stdout), shows a progress bar on videos and folders, and ends with a summary.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
import json
import pathlib
import sys
import time

import cv2

from movenet_ros import __version__
from movenet_ros.drawing import draw_poses
from movenet_ros.estimator import (
    DEFAULT_KEYPOINT_THRESHOLD,
    DEFAULT_MAX_PEOPLE,
    DEFAULT_MIN_POSE_SCORE,
    PoseEstimator,
)
from movenet_ros.media import IMAGE_SUFFIXES, FrameSource, open_frame_source
from movenet_ros.model import BUILTIN_MODELS, ModelError, MoveNetModel
from movenet_ros.results import PoseResult
from movenet_ros.smoothing import DEFAULT_BETA, DEFAULT_MIN_CUTOFF_HZ, PoseSmoother
from movenet_ros.temporal import TemporalFilter
from movenet_ros.tracking import DEFAULT_SIMILARITY, SIMILARITIES, PoseTracker

VIDEO_OUTPUT_SUFFIXES = ('.mp4', '.avi', '.mkv', '.mov')


@dataclass
class Summary:
    frames: int = 0
    frames_with_people: int = 0
    people: int = 0
    failed_inputs: list[str] = field(default_factory=list)
    inference_ms: float = 0.0
    total_ms: float = 0.0

    def add(self, result: PoseResult, total_ms: float) -> None:
        self.frames += 1
        self.people += len(result.poses)
        self.frames_with_people += bool(result.poses)
        self.inference_ms += result.inference_ms
        self.total_ms += total_ms

    def report(self) -> str:
        if not self.frames:
            return 'no frames processed'
        return (f'{self.frames} frame(s), {self.frames_with_people} with people, '
                f'{self.people} person detection(s) ({self.people / self.frames:.2f} per frame); '
                f'mean inference {self.inference_ms / self.frames:.1f} ms, '
                f'mean per frame {self.total_ms / self.frames:.1f} ms')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='movenet-ros', description='MoveNet pose estimation on images and videos.')
    parser.add_argument('--version', action='version', version=f'%(prog)s {__version__}')
    sub = parser.add_subparsers(dest='command', required=True)
    infer = sub.add_parser('infer', help='estimate poses in images, folders and videos')
    infer.add_argument('inputs', nargs='+', metavar='INPUT',
                       help='image files, folders of images, or video files')
    infer.add_argument('--model', default='lightning',
                       help=f'{"|".join(BUILTIN_MODELS)} or the path of a MoveNet .tflite '
                            'file (default: lightning)')
    infer.add_argument('--threads', type=int, default=2, help='TFLite threads (default: 2)')
    infer.add_argument('--threshold', type=float, default=DEFAULT_KEYPOINT_THRESHOLD,
                       help='keypoint score threshold for drawing and boxes (%(default)s)')
    infer.add_argument('--min-pose-score', type=float, default=DEFAULT_MIN_POSE_SCORE,
                       help='people with a lower pose score are not reported (%(default)s)')
    infer.add_argument('--max-people', type=int, default=DEFAULT_MAX_PEOPLE,
                       help='MultiPose: at most N people (%(default)s)')
    infer.add_argument('--multipose-max-side', type=int, default=256,
                       help='MultiPose input: the larger side, a multiple of 32 (256)')
    infer.add_argument('--output', '-o', type=pathlib.Path,
                       help='annotated output: a file for one image or video input '
                            '(.jpg/.png, .mp4/.avi), otherwise a folder')
    infer.add_argument('--json', metavar='PATH',
                       help="write one JSON line per image or frame to PATH ('-': stdout)")
    infer.add_argument('--track', action='store_true',
                       help='videos: give each person an id that stays the same across frames')
    infer.add_argument('--similarity', choices=SIMILARITIES, default=DEFAULT_SIMILARITY,
                       help='--track: match people by keypoints (oks) or boxes (iou)')
    infer.add_argument('--smooth', action='store_true',
                       help='videos: One-Euro filter keypoints and boxes per person '
                            '(implies --track)')
    infer.add_argument('--min-cutoff', type=float, default=DEFAULT_MIN_CUTOFF_HZ,
                       help='--smooth: cutoff in Hz for a still person (%(default)s)')
    infer.add_argument('--beta', type=float, default=DEFAULT_BETA,
                       help='--smooth: cutoff increase with speed (%(default)s)')
    infer.add_argument('--no-progress', action='store_true', help='no progress bars')
    return parser


def output_path(output: pathlib.Path | None, source: FrameSource, single_input: bool
                ) -> pathlib.Path | None:
    """Where the annotated version of ``source`` (or of the current image) goes."""
    if output is None:
        return None
    suffix = output.suffix.lower()
    if single_input and source.kind != 'images' and suffix in VIDEO_OUTPUT_SUFFIXES:
        return output
    if single_input and source.frame_count == 1 and suffix in IMAGE_SUFFIXES:
        return output
    output.mkdir(parents=True, exist_ok=True)
    return output


def make_temporal_filter(args) -> TemporalFilter:
    """The tracking/smoothing stage the flags ask for (a no-op without them)."""
    if not (args.track or args.smooth):
        return TemporalFilter()
    tracker = PoseTracker(similarity=args.similarity, keypoint_threshold=args.threshold)
    smoother = PoseSmoother(min_cutoff=args.min_cutoff, beta=args.beta,
                            keypoint_threshold=args.threshold) if args.smooth else None
    return TemporalFilter(tracker, smoother)


def run_source(source: FrameSource, estimator: PoseEstimator, temporal: TemporalFilter, args,
               summary: Summary, json_out, single_input: bool) -> None:
    out = output_path(args.output, source, single_input)
    stills = source.kind == 'images'
    estimator.reset()  # a new video starts without the previous one's crop and tracks
    temporal.reset()
    writer = None
    progress = None
    if not args.no_progress and source.frame_count != 1:
        from tqdm import tqdm
        progress = tqdm(total=source.frame_count, desc=pathlib.Path(source.name).name,
                        unit='image' if stills else 'frame', leave=False, file=sys.stderr)
    try:
        for index, image in enumerate(source):
            path = source.paths[index] if stills else pathlib.Path(source.name)
            if stills:
                estimator.reset()  # unrelated stills: no crop carried over
            start = time.perf_counter()
            result = estimator.estimate(image, channel_order='bgr')
            if not stills:  # stills are unrelated: nothing to track across them
                result = temporal.update(result, index / source.fps)
            summary.add(result, (time.perf_counter() - start) * 1e3)
            if json_out is not None:
                record = {'source': str(path), 'frame': index}
                if not stills:
                    record['time_s'] = round(index / source.fps, 4)
                record.update(result.to_dict())
                json_out.write(json.dumps(record) + '\n')
            if out is not None:
                annotated = draw_poses(image.copy(), result.poses,
                                       estimator.keypoint_threshold, channel_order='bgr')
                if not stills:
                    if writer is None:
                        target = out if out.suffix else out / f'{path.stem}_pose.mp4'
                        writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*'mp4v'),
                                                 source.fps, annotated.shape[1::-1])
                        if not writer.isOpened():
                            raise ValueError(f'cannot write video {target}')
                    writer.write(annotated)
                else:
                    target = out if out.suffix else out / f'{path.stem}_pose.png'
                    if not cv2.imwrite(str(target), annotated):
                        raise ValueError(f'cannot write image {target}')
            if progress is not None:
                progress.update(1)
    finally:
        if writer is not None:
            writer.release()
        if progress is not None:
            progress.close()


def infer(args) -> int:
    try:
        model = MoveNetModel(args.model, num_threads=args.threads,
                             multipose_max_side=args.multipose_max_side)
        estimator = PoseEstimator(model, keypoint_threshold=args.threshold,
                                  min_pose_score=args.min_pose_score,
                                  max_people=args.max_people)
        temporal = make_temporal_filter(args)
    except (ModelError, ValueError) as exc:
        print(f'movenet-ros: error: {exc}', file=sys.stderr)
        return 2
    summary = Summary()
    json_out = None
    if args.json == '-':
        json_out = sys.stdout
    elif args.json:
        json_out = open(args.json, 'w')  # noqa: SIM115 (closed below)
    try:
        for path in args.inputs:
            try:
                with open_frame_source(path) as source:
                    run_source(source, estimator, temporal, args, summary, json_out,
                               single_input=len(args.inputs) == 1)
            except (OSError, ValueError) as exc:
                print(f'movenet-ros: error: {path}: {exc}', file=sys.stderr)
                summary.failed_inputs.append(path)
    finally:
        if json_out not in (None, sys.stdout):
            json_out.close()
    print(f'{model.name}: {summary.report()}', file=sys.stderr)
    if summary.failed_inputs:
        print(f'movenet-ros: {len(summary.failed_inputs)} input(s) failed: '
              + ', '.join(summary.failed_inputs), file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == 'infer':
        return infer(args)
    return 2


if __name__ == '__main__':
    sys.exit(main())
