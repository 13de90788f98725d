#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Measure PoseTracker and PoseSmoother on the real demo footage.

MultiPose runs once over the whole clip (1768x994, 30 fps, 230 frames); the tracker and the
smoother then replay its detections with image stamps ``frame_index / 30`` (every frame =
30 fps, every 2nd = 15 fps, every 3rd = 10 fps). What is measured:

* detection coverage per MultiPose max side (``--sides``): how often each person is found,
  and the longest time they go unfound (the tracker cannot bridge more than ``max_age_s``);
* id switches: ground truth is by position, checked by viewing the frames (doc/tracking_ids.png
  shows them with their ids). Until frame 185 the man is on the box or in the air above it
  (box centre y < 520 px) and the woman walks on the grass below (y >= 520); from frame 185
  the man has landed right of x = 900 px and the woman is near the left edge. Nothing else is
  detected at min_pose_score 0.25 (counted as ``duplicates``: two detections labelled the same
  person in one frame). Switches of a person = distinct ids it got - 1;
* jitter: the man's ankles while his feet are planted (frames 0-10 and 75-88; frames 12-70
  are jumping jacks, checked by viewing), mean absolute second difference of x and y, raw vs
  smoothed;
* lag on fast motion: the woman's hip centre x while she walks (frames 60-180): mean distance
  the smoothed value trails the raw one (px), that / her speed (ms), and the time shift that
  best aligns smoothed with raw (ms); the man's ankles while landing (frames 183-200): mean and
  max |smoothed - raw| (px);
* moderate motion: RMS of smoothed - raw of the man's hip centre y during his jumping jacks
  (frames 12-70; the hips bob ~60 px at ~1 Hz);
* cost: microseconds per person of PoseTracker.update and PoseSmoother.update.

Run from the repository after ``source tools/env.sh``::

    python bench/tracking.py            # about 1 minute (4 MultiPose sizes)
    python bench/tracking.py --quick    # only the chosen max side: about 30 s

Writes bench/results/tracking.json, doc/tracking_smoothing.png and doc/tracking_ids.png.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import sys
import time

import cv2
import numpy as np

from movenet_ros.core.drawing import draw_poses
from movenet_ros.core.estimator import PoseEstimator
from movenet_ros.core.keypoints import LEFT_ANKLE, LEFT_HIP, NOSE, RIGHT_ANKLE, RIGHT_HIP
from movenet_ros.core.model import MoveNetModel
from movenet_ros.core.results import Pose
from movenet_ros.core.smoothing import PoseSmoother
from movenet_ros.core.tracking import PoseTracker, box_area, iou, oks

REPO = pathlib.Path(__file__).resolve().parent.parent
VIDEO = REPO / '.cache' / 'media' / 'demo.mp4'
FPS = 30.0
PEOPLE = ('man', 'woman')
MIN_POSE_SCORE = 0.25
STILL_WINDOWS = ((0, 11), (75, 89))   # frames [a, b) with the man's feet planted
WALK = (60, 181)                       # the woman walking steadily right to left
LANDING = (183, 201)                   # the man landing from his flip
JACKS = (12, 71)                       # the man's jumping jacks: hips bob ~60 px at ~1 Hz
RATES = {30: 1, 15: 2, 10: 3}          # fps -> frame step


def person(frame: int, pose: Pose) -> str:
    """Ground truth by position (see the module docstring)."""
    x0, y0, x1, y1 = pose.box
    if frame < 185:
        return 'man' if (y0 + y1) / 2 < 520 else 'woman'
    return 'man' if (x0 + x1) / 2 > 900 else 'woman'


def detect(max_side: int) -> tuple[list[list[Pose]], float]:
    """MultiPose poses of every frame of the clip, and the mean estimate() time in ms."""
    if not VIDEO.is_file():
        sys.exit(f'{VIDEO} is missing: run `make setup` first (it fetches the demo footage)')
    estimator = PoseEstimator(MoveNetModel('multipose', num_threads=2,
                                           multipose_max_side=max_side),
                              min_pose_score=MIN_POSE_SCORE)
    capture = cv2.VideoCapture(str(VIDEO))
    frames, elapsed = [], 0.0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        start = time.perf_counter()
        frames.append(estimator.estimate(image, 'bgr').poses)
        elapsed += time.perf_counter() - start
    capture.release()
    return frames, elapsed * 1000.0 / len(frames)


def coverage(detections: list[list[Pose]]) -> dict:
    out = {}
    for who in PEOPLE:
        found = np.array([any(person(i, p) == who for p in poses)
                          for i, poses in enumerate(detections)])
        idx = np.flatnonzero(found)
        span = found[idx[0]:idx[-1] + 1]
        gaps = np.diff(idx) - 1
        out[who] = {'first_frame': int(idx[0]), 'last_frame': int(idx[-1]),
                    'found_share': round(float(span.mean()), 3),
                    'longest_gap_s': round(float(gaps.max(initial=0)) / FPS, 3)}
    return out


def track(detections: list[list[Pose]], step: int,
          tracker: PoseTracker) -> dict[int, list[Pose]]:
    """Frame index -> tracked poses, replaying every ``step``-th frame."""
    return {i: tracker.update(detections[i], i / FPS) for i in range(0, len(detections), step)}


def id_report(tracked: dict[int, list[Pose]]) -> dict:
    ids: dict[str, list[int]] = {who: [] for who in PEOPLE}
    duplicates = 0
    for i, poses in tracked.items():
        labels = [person(i, p) for p in poses]
        duplicates += len(labels) - len(set(labels))
        for label, pose in zip(labels, poses, strict=True):
            ids[label].append(pose.id)
    report = {}
    for who, seq in ids.items():
        distinct = list(dict.fromkeys(seq))
        report[who] = {'ids': distinct, 'switches': len(distinct) - 1, 'frames': len(seq)}
    report['duplicates'] = duplicates
    return report


def series(tracked: dict[int, list[Pose]], who: str, frames: range, step: int,
           keypoints: list[int], axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(frame indices, mean coordinate of ``keypoints``) of one person where detected."""
    t, v = [], []
    for i in frames:
        if i % step:
            continue
        for pose in tracked.get(i, []):
            if person(i, pose) == who:
                t.append(i)
                v.append(pose.keypoints[keypoints, axis].mean())
    return np.array(t), np.array(v)


def smoothing_report(raw: dict[int, list[Pose]], smooth: dict[int, list[Pose]],
                     step: int) -> dict:
    # Jitter of the planted ankles.
    diffs = {'raw': [], 'smoothed': []}
    for name, tracked in (('raw', raw), ('smoothed', smooth)):
        for a, b in STILL_WINDOWS:
            for kp in (LEFT_ANKLE, RIGHT_ANKLE):
                for axis in (0, 1):
                    t, v = series(tracked, 'man', range(a, b), step, [kp], axis)
                    assert len(t) == len(range(a, b, step)), 'the man is not found in a window'
                    diffs[name].append(np.abs(np.diff(v, 2)))
    jitter_raw = float(np.concatenate(diffs['raw']).mean())
    jitter_smooth = float(np.concatenate(diffs['smoothed']).mean())
    # Lag while walking.
    hips = [LEFT_HIP, RIGHT_HIP]
    t, x_raw = series(raw, 'woman', range(*WALK), step, hips, 0)
    _, x_smooth = series(smooth, 'woman', range(*WALK), step, hips, 0)
    seconds = t / FPS
    speed = -np.polyfit(seconds, x_raw, 1)[0]           # px/s, she walks towards -x
    behind = float(np.mean(x_smooth - x_raw))             # > 0: trailing her
    shifts = np.arange(0.0, 0.2005, 0.001)
    # The first frames of the window compare against extrapolated raw values; skip 0.2 s.
    keep = seconds >= seconds[0] + 0.2
    errors = [np.sqrt(np.mean((x_smooth[keep] - np.interp(seconds[keep] - s, seconds,
                                                         x_raw)) ** 2)) for s in shifts]
    # Landing.
    _, y_raw = series(raw, 'man', range(*LANDING), step, [LEFT_ANKLE, RIGHT_ANKLE], 1)
    _, y_smooth = series(smooth, 'man', range(*LANDING), step, [LEFT_ANKLE, RIGHT_ANKLE], 1)
    landing = np.abs(y_smooth - y_raw)
    # Moderate motion: how far the smoothed hips stray from the raw ones while bobbing.
    _, h_raw = series(raw, 'man', range(*JACKS), step, hips, 1)
    _, h_smooth = series(smooth, 'man', range(*JACKS), step, hips, 1)
    return {
        'still_ankle_jitter_px': {'raw': round(jitter_raw, 3),
                                  'smoothed': round(jitter_smooth, 3),
                                  'ratio': round(jitter_raw / jitter_smooth, 2)},
        'walk_lag': {'speed_px_s': round(float(speed), 1), 'behind_px': round(behind, 2),
                     'behind_ms': round(behind / speed * 1000.0, 1),
                     'best_shift_ms': round(float(shifts[int(np.argmin(errors))]) * 1000.0)},
        'landing_error_px': {'mean': round(float(landing.mean()), 2),
                             'max': round(float(landing.max()), 2)},
        'jumping_jacks_hip_rms_px': round(float(np.sqrt(np.mean((h_smooth - h_raw) ** 2))), 2),
    }


def similarity_stats(detections: list[list[Pose]]) -> dict:
    """Similarity of each person's consecutive detections (30 fps), outside the flip."""
    out = {}
    for who in PEOPLE:
        values = {'oks': [], 'iou': []}
        for i in range(1, len(detections)):
            if 160 <= i <= 195:
                continue
            a = [p for p in detections[i - 1] if person(i - 1, p) == who]
            b = [p for p in detections[i] if person(i, p) == who]
            if a and b:
                values['oks'].append(oks(a[0].keypoints, box_area(a[0].box), b[0].keypoints,
                                         0.3))
                values['iou'].append(iou(a[0].box, b[0].box))
        out[who] = {k: {'min': round(min(v), 3), 'p5': round(float(np.percentile(v, 5)), 3),
                        'median': round(float(np.median(v)), 3)} for k, v in values.items()}
    return out


def cost_us(detections: list[list[Pose]], repeats: int) -> dict:
    """Microseconds per person of the tracker and of the smoother (30 fps replay)."""
    people = sum(len(p) for p in detections) * repeats
    track_s = smooth_s = 0.0
    for _ in range(repeats):
        tracker, smoother = PoseTracker(), PoseSmoother()
        for i, poses in enumerate(detections):
            start = time.perf_counter()
            tracked = tracker.update(poses, i / FPS)
            middle = time.perf_counter()
            smoother.update(tracked, i / FPS)
            track_s += middle - start
            smooth_s += time.perf_counter() - middle
    return {'tracker_us_per_person': round(track_s / people * 1e6, 1),
            'smoother_us_per_person': round(smooth_s / people * 1e6, 1),
            'people_per_frame': round(sum(len(p) for p in detections) / len(detections), 2)}


def _with_gaps(t: np.ndarray, v: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Insert NaN where frames are missing so the plot does not draw across gaps."""
    full = np.arange(t[0], t[-1] + 1, step)
    out = np.full(len(full), np.nan)
    out[np.searchsorted(full, t)] = v
    return full, out


def plot(raw: dict[int, list[Pose]], smooth: dict[int, list[Pose]], path: pathlib.Path,
         title: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 8), gridspec_kw={'width_ratios': [2, 1]})
    panels = (
        (axes[0, 0], 'man', range(0, 230), [LEFT_ANKLE], 1,
         "man's left ankle y (px): on the box, flip, landing"),
        (axes[0, 1], 'man', range(70, 95), [LEFT_ANKLE], 1,
         'zoom: feet planted (frames 75-88)'),
        (axes[1, 0], 'woman', range(0, 230), [NOSE], 0, "woman's nose x (px): walking"),
        (axes[1, 1], 'woman', range(100, 125), [NOSE], 0, 'zoom: walking (lag)'),
    )
    for ax, who, frames, kps, axis, label in panels:
        for tracked, name, style in ((raw, 'raw', '.-'), (smooth, 'One-Euro', '-')):
            t, v = _with_gaps(*series(tracked, who, frames, 1, kps, axis), 1)
            ax.plot(t / FPS, v, style, label=name, lw=1.4, ms=4)
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(loc='best', fontsize=9)
        if axis == 1:
            ax.invert_yaxis()   # image y grows downwards: up on the plot is up in the image
    axes[0, 0].axvspan(LANDING[0] / FPS, LANDING[1] / FPS, color='orange', alpha=0.15)
    for ax in axes[1]:
        ax.set_xlabel('image stamp (s)')
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def contact_sheet(tracked: dict[int, list[Pose]], frames: list[int],
                  path: pathlib.Path) -> None:
    """Selected frames with the tracked poses and their ids, to check the ground truth."""
    capture = cv2.VideoCapture(str(VIDEO))
    tiles, index = [], 0
    while len(tiles) < len(frames):
        ok, image = capture.read()
        if not ok:
            break
        if index in frames:
            poses = tracked.get(index, [])
            draw_poses(image, poses, 0.3, 'bgr', draw_boxes=True)
            tile = cv2.resize(image, (image.shape[1] // 4, image.shape[0] // 4),
                              interpolation=cv2.INTER_AREA)
            cv2.putText(tile, f'frame {index}', (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                        (0, 0, 255), 2, cv2.LINE_AA)
            for pose in poses:
                x = min(max(round(pose.box[0] / 4), 0), tile.shape[1] - 110)
                y = min(max(round(pose.box[3] / 4) + 20, 20), tile.shape[0] - 6)
                cv2.putText(tile, f'id {pose.id} {person(index, pose)}', (x, y),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 255, 255), 2, cv2.LINE_AA)
            tiles.append(tile)
        index += 1
    capture.release()
    # PIL comes with matplotlib; a 256-colour PNG is several times smaller than cv2's.
    from PIL import Image

    rows = [np.hstack(tiles[r:r + 4]) for r in range(0, len(tiles), 4)]
    sheet = Image.fromarray(np.ascontiguousarray(np.vstack(rows)[..., ::-1]))
    sheet.quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--max-side', type=int, default=640,
                        help='MultiPose max side used for tracking (default: 640)')
    parser.add_argument('--sides', default='256,384,512,640',
                        help='max sides whose detection coverage is reported')
    parser.add_argument('--quick', action='store_true', help='only the --max-side run')
    parser.add_argument('--repeats', type=int, default=20, help='replays for the cost')
    args = parser.parse_args(argv)

    sides = [args.max_side] if args.quick else sorted(
        {int(s) for s in args.sides.split(',')} | {args.max_side})
    report: dict = {'date': datetime.datetime.now().isoformat(timespec='seconds'),
                    'video': str(VIDEO.relative_to(REPO)), 'max_side': args.max_side,
                    'min_pose_score': MIN_POSE_SCORE, 'coverage': {}}
    detections = None
    for side in sides:
        found, ms = detect(side)
        ids = id_report(track(found, 1, PoseTracker()))
        report['coverage'][side] = {'estimate_ms': round(ms, 1), **coverage(found),
                                    'switches_30fps': {who: ids[who]['switches']
                                                       for who in PEOPLE}}
        print(f'max side {side}: {report["coverage"][side]}', flush=True)
        if side == args.max_side:
            detections = found

    tracker_defaults = PoseTracker()
    smoother_defaults = PoseSmoother()
    report['tracker'] = {'similarity': tracker_defaults.similarity,
                         'min_similarity': tracker_defaults.min_similarity,
                         'max_age_s': tracker_defaults.max_age_s}
    report['smoother'] = {'min_cutoff': smoother_defaults.min_cutoff,
                          'beta': smoother_defaults.beta, 'd_cutoff': smoother_defaults.d_cutoff}
    report['consecutive_similarity'] = similarity_stats(detections)

    report['ids'] = {}
    for similarity in ('oks', 'iou'):
        for fps, step in RATES.items():
            tracked = track(detections, step, PoseTracker(similarity=similarity))
            report['ids'][f'{similarity}_{fps}fps'] = id_report(tracked)
    # Switches of the man (the woman never switches) vs min_similarity.
    report['min_similarity_sweep'] = {}
    for similarity, grid in (('oks', (0.02, 0.05, 0.08, 0.1, 0.15, 0.2)),
                             ('iou', (0.1, 0.2, 0.3, 0.4))):
        for threshold in grid:
            report['min_similarity_sweep'][f'{similarity}_{threshold}'] = {
                f'{fps}fps': {who: id_report(track(
                    detections, step, PoseTracker(similarity, min_similarity=threshold)))[who][
                        'switches'] for who in PEOPLE}
                for fps, step in RATES.items()}

    report['smoothing'] = {}
    for fps, step in ((30, 1), (15, 2)):
        raw = track(detections, step, PoseTracker())
        smoother = PoseSmoother()
        smooth = {i: smoother.update(poses, i / FPS) for i, poses in raw.items()}
        report['smoothing'][f'{fps}fps'] = smoothing_report(raw, smooth, step)
        if fps == 30:
            plot(raw, smooth, REPO / 'doc' / 'tracking_smoothing.png',
                 f'MultiPose (max side {args.max_side}) + PoseTracker + PoseSmoother '
                 f'(min_cutoff {smoother.min_cutoff} Hz, beta {smoother.beta}), demo.mp4 '
                 f'at 30 fps')
            contact_sheet(raw, [0, 45, 100, 150, 168, 186, 200, 222],
                          REPO / 'doc' / 'tracking_ids.png')
    report['smoothing_sweep'] = {}
    for min_cutoff in (0.5, 1.0, 1.5):
        for beta in (0.0, 1.0, 3.0, 6.0, 10.0):
            for fps, step in ((30, 1), (15, 2)):
                raw = track(detections, step, PoseTracker())
                smoother = PoseSmoother(min_cutoff=min_cutoff, beta=beta)
                smooth = {i: smoother.update(poses, i / FPS) for i, poses in raw.items()}
                r = smoothing_report(raw, smooth, step)
                report['smoothing_sweep'][f'mc{min_cutoff}_beta{beta}_{fps}fps'] = {
                    'jitter_ratio': r['still_ankle_jitter_px']['ratio'],
                    'walk_behind_ms': r['walk_lag']['behind_ms'],
                    'landing_mean_px': r['landing_error_px']['mean'],
                    'jacks_rms_px': r['jumping_jacks_hip_rms_px']}
    report['cost'] = cost_us(detections, args.repeats)

    out = REPO / 'bench' / 'results'
    out.mkdir(parents=True, exist_ok=True)
    (out / 'tracking.json').write_text(json.dumps(report, indent=2) + '\n')
    print(json.dumps({k: report[k] for k in ('ids', 'smoothing', 'cost')}, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
