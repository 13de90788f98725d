#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Keypoint accuracy of every mode on labelled photos (COCO format), and its cost per frame.

Any COCO person-keypoints set works (``--annotations person_keypoints.json --images DIR``,
e.g. COCO val2017); by default the labelled development set in
``shared/data/coco-keypoints-dev`` beside the repository (or ``$MOVENET_DEV_SET``). What is
measured, per mode (single-pose Lightning / Thunder, MultiPose, MultiPose refined by
Lightning / Thunder):

* **crops** (single-pose models): each labelled person on the square crop the refinement
  would use around their *labelled* box (:func:`~movenet_ros.core.refine.box_crop`): mean OKS,
  PCK@0.2 (labelled keypoints within 0.2 x torso size: left shoulder to right hip), and the
  miss rate at the mode's default ``min_pose_score`` (the person is reported as nobody), for
  all labelled people and for the clearly visible ones (at least 10 labelled keypoints and
  a segment of at least 64x64 pixels); and for the clearly visible people whose hips and
  ankles are labelled, on the photo cut off a little below the hips (feet out of frame).
  Background crops (same sizes, touching no labelled or unlabelled person) give the false
  positive rate of each threshold: that is how the single-pose defaults are chosen.
* **whole images**: COCO keypoint AP (OKS .50:.95), AP50 and AR with pycocotools, of what
  the mode reports at its default ``min_pose_score`` and of everything it outputs; the miss
  rate (labelled people without a reported pose at OKS >= 0.5), false detections, and the
  mean over labelled people of the best OKS of any reported pose. Single-pose modes run
  twice on each photo (whole image, then the crop from that pose: what a video gets from its
  second frame on); MultiPose and refinement once, without carry-over.
* **precision/recall** of each ``min_pose_score`` from 0 to 0.6 (whole images, OKS >= 0.5):
  the MultiPose and refinement defaults are the thresholds with the best F1.
* **frames per second** on a 1280x720 stream of the demo footage (frames 40-199: two people),
  ``num_threads`` 2, each mode on its own estimator (crop tracking on), modes interleaved in
  blocks of 10 frames so they share the machine's load alike; reported with the ratio to
  plain MultiPose measured in the same blocks, the load average and the CPU time other
  processes took meanwhile.

95 % intervals: bootstrap (``--bootstrap`` resamples) over people for crops, over images for
whole images. Writes ``bench/results/accuracy.json``, ``bench/results/accuracy.md`` (the
table) and ``doc/accuracy.png``; prints the table.

Run from the repository after ``source tools/env.sh``::

    python bench/accuracy.py                 # dev set, about 3 minutes on 2 cores
    python bench/accuracy.py --variants      # + refinement variants (crop margin, limits)
    python bench/accuracy.py --quick         # few images, 50 resamples: a smoke test
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

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from common import load_frames, machine, machine_busy_seconds
import keypoint_eval as ke

from movenet_ros.core.drawing import draw_poses
from movenet_ros.core.estimator import default_min_pose_score
from movenet_ros.core.geometry import Region
from movenet_ros.core.keypoints import DEFAULT_KEYPOINT_THRESHOLD
from movenet_ros.core.model import MoveNetModel
from movenet_ros.core.refine import (
    BOX_MARGIN,
    DEFAULT_DETECTION_MIN_SCORE,
    DEFAULT_MAX_REFINED,
    RefinedPoseEstimator,
    box_crop,
    build_estimator,
    estimate_in_region,
)

REPO = pathlib.Path(__file__).resolve().parent.parent
# mode -> (model, refiner or None)
MODES: dict[str, tuple[str, str | None]] = {
    'lightning': ('lightning', None),
    'thunder': ('thunder', None),
    'multipose': ('multipose', None),
    'multipose+lightning': ('multipose', 'lightning'),
    'multipose+thunder': ('multipose', 'thunder'),
}
CLEAR_KEYPOINTS = 10            # a clearly visible person: at least this many labelled
CLEAR_AREA = 64 * 64            # keypoints, and a segment area of at least this (pixels)
# Feet out of frame: the photo cut this share of the hip-to-ankle height below the hips.
FEET_CUT = 0.15
THRESHOLDS = np.round(np.arange(0.0, 0.601, 0.05), 2)
NEGATIVES_PER_IMAGE = 3
F1_TOLERANCE = 0.01             # about one person in the development set's 86
STREAM_SIZE = (1280, 720)
STREAM_FRAMES = (40, 200)       # both people in view
BLOCK = 10
WARMUP = 5
EXAMPLE_FROM = 60              # the README picture: both people in view from here
TARGET_AP_GAIN = 0.12
TARGET_FPS = 15.0


def xywh_to_box(bbox) -> tuple[float, float, float, float]:
    """COCO [x, y, w, h] (continuous) -> (x_min, y_min, x_max, y_max) pixel corners."""
    x, y, w, h = bbox
    return x, y, x + w - 1.0, y + h - 1.0


class DataSet:
    """A COCO person-keypoints set: the annotations and the images (read once, on demand)."""

    def __init__(self, annotations: pathlib.Path, images: pathlib.Path,
                 limit: int | None) -> None:
        self.coco = ke.load_coco(annotations)
        self.annotations, self.images_dir = annotations, images
        ids = sorted(self.coco.getImgIds())   # photos without people count too (for AP)
        self.image_ids = ids[:limit] if limit else ids
        chosen = set(self.image_ids)
        self.people = [a for a in ke.labelled_people(self.coco) if a['image_id'] in chosen]
        self._cache: dict[int, np.ndarray] = {}

    def image(self, image_id: int) -> np.ndarray:
        if image_id not in self._cache:
            path = self.images_dir / self.coco.imgs[image_id]['file_name']
            image = cv2.imread(str(path))
            if image is None:
                sys.exit(f'cannot read {path}')
            self._cache[image_id] = image
        return self._cache[image_id]

    def negatives(self, seed: int = 0) -> list[tuple[int, Region]]:
        """Square background crops touching no person box (labelled or not, crowds too)."""
        rng = np.random.default_rng(seed)
        out = []
        for image_id in self.image_ids:
            info = self.coco.imgs[image_id]
            w, h = info['width'], info['height']
            boxes = [a['bbox'] for a in self.coco.loadAnns(self.coco.getAnnIds(imgIds=image_id))]
            found = 0
            for _ in range(40):
                side = rng.uniform(0.2, 0.8) * min(w, h)
                x, y = rng.uniform(0, w - side), rng.uniform(0, h - side)
                if all(_overlap(x, y, side, b) for b in boxes):
                    out.append((image_id, Region(x, y, side, side)))
                    found += 1
                    if found == NEGATIVES_PER_IMAGE:
                        break
        return out


def _overlap(x: float, y: float, side: float, bbox) -> bool:
    """Whether the crop is clear of a person box: < 2 % of the crop, < 10 % of the box."""
    bx, by, bw, bh = bbox
    ix = max(0.0, min(x + side, bx + bw) - max(x, bx))
    iy = max(0.0, min(y + side, by + bh) - max(y, by))
    return ix * iy <= 0.02 * side * side and ix * iy <= 0.1 * max(bw * bh, 1.0)


def is_clear(annotation: dict) -> bool:
    """A clearly visible person: enough labelled keypoints and not small."""
    return annotation['num_keypoints'] >= CLEAR_KEYPOINTS and annotation['area'] >= CLEAR_AREA


def feet_cut(annotation: dict) -> int | None:
    """The row to cut the photo at so that this person's feet are out of frame (FEET_CUT of
    the hip-to-ankle height below the hips), None unless hips and ankles are labelled."""
    truth = np.asarray(annotation['keypoints'], dtype=np.float64).reshape(17, 3)
    if not (truth[[11, 12, 15, 16], 2] > 0).all():
        return None
    hips, ankles = truth[[11, 12], 1].mean(), truth[[15, 16], 1].mean()
    return round(float(hips + FEET_CUT * (ankles - hips)))


def interval(values_of, units: list, samples: int) -> list[float]:
    return [round(v, 4) for v in ke.bootstrap(values_of, samples, units)]


# ---- crops ---------------------------------------------------------------------------------

def crop_report(data: DataSet, model_name: str, threads: int, samples: int,
                negatives: list[tuple[int, Region]]) -> dict:
    """Single-pose accuracy on labelled-box crops, and scores on background crops."""
    model = MoveNetModel(model_name, num_threads=threads)
    default = default_min_pose_score(model)
    people = []
    for ann in data.people:
        pose = estimate_in_region(model, data.image(ann['image_id']),
                                  box_crop(xywh_to_box(ann['bbox'])),
                                  DEFAULT_KEYPOINT_THRESHOLD, 'bgr')
        people.append({'oks': ke.coco_oks(ann, pose.keypoints),
                       'pck': ke.pck(ann, pose.keypoints), 'score': pose.score,
                       'mean17': float(pose.keypoints[:, 2].mean()),
                       'seen': bool(pose.visible(DEFAULT_KEYPOINT_THRESHOLD).any()),
                       'clear': is_clear(ann)})
    feet_out = []
    for ann in filter(is_clear, data.people):
        cut = feet_cut(ann)
        if cut is None:
            continue
        image = np.ascontiguousarray(data.image(ann['image_id'])[:cut])
        x0, y0, x1, y1 = xywh_to_box(ann['bbox'])
        pose = estimate_in_region(model, image, box_crop((x0, y0, x1, min(y1, cut - 1.0))),
                                  DEFAULT_KEYPOINT_THRESHOLD, 'bgr')
        feet_out.append({'score': pose.score,
                         'seen': bool(pose.visible(DEFAULT_KEYPOINT_THRESHOLD).any())})
    background = [estimate_in_region(model, data.image(i), region, DEFAULT_KEYPOINT_THRESHOLD,
                                      'bgr') for i, region in negatives]
    bg = [(p.score, bool(p.visible(DEFAULT_KEYPOINT_THRESHOLD).any())) for p in background]
    bg_mean17 = np.array([p.keypoints[:, 2].mean() for p in background])

    def miss(rows, t):
        return float(np.mean([not (r['seen'] and r['score'] >= t) for r in rows])) if rows \
            else 0.0

    clear = [r for r in people if r['clear']]
    sweep = [{'min_pose_score': float(t), 'miss': round(miss(people, t), 4),
              'miss_clear': round(miss(clear, t), 4),
              'miss_feet_out': round(miss(feet_out, t), 4),
              'false_positive_rate': round(float(np.mean([s >= t and seen for s, seen in bg])),
                                           4)}
             for t in THRESHOLDS]
    with_pck = [r for r in people if r['pck'] is not None]
    scores_p = np.array([r['score'] for r in clear])
    scores_n = np.array([s for s, _ in bg])
    return {
        'model': model.name, 'people': len(people), 'clear_people': len(clear),
        'feet_out_people': len(feet_out),
        'background_crops': len(bg), 'default_min_pose_score': default,
        'oks': round(float(np.mean([r['oks'] for r in people])), 4),
        'oks_ci': interval(lambda rs: np.mean([r['oks'] for r in rs]), people, samples),
        'pck': round(float(np.mean([r['pck'] for r in with_pck])), 4),
        'pck_ci': interval(lambda rs: np.mean([r['pck'] for r in rs]), with_pck, samples),
        'pck_people': len(with_pck),
        'miss': round(miss(people, default), 4),
        'miss_ci': interval(lambda rs: miss(rs, default), people, samples),
        'miss_clear': round(miss(clear, default), 4),
        'miss_clear_ci': interval(lambda rs: miss(rs, default), clear, samples),
        'miss_feet_out': round(miss(feet_out, default), 4),
        'false_positive_rate': round(float(np.mean([s >= default and v for s, v in bg])), 4),
        'score_auc_clear': round(_auc(scores_p, scores_n), 4),
        # The same with the score of before (the mean of all 17 keypoint scores).
        'mean17_auc_clear': round(_auc(np.array([r['mean17'] for r in clear]), bg_mean17), 4),
        'suggested_min_pose_score': _suggest_singlepose(sweep),
        'sweep': sweep,
    }


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """ROC area: the chance a clear person's crop scores above a background crop."""
    if not len(positive) or not len(negative):
        return float('nan')
    greater = (positive[:, None] > negative[None, :]).mean()
    equal = (positive[:, None] == negative[None, :]).mean()
    return float(greater + 0.5 * equal)


def _suggest_singlepose(sweep: list[dict]) -> float:
    """The highest threshold that still reports at least 95 % of the clearly visible people,
    whole and with their feet out of frame (fewest false positives at that recall)."""
    ok = [row['min_pose_score'] for row in sweep
          if row['miss_clear'] <= 0.05 and row['miss_feet_out'] <= 0.05]
    return max(ok) if ok else 0.0


def _suggest_multipose(sweep: list[dict]) -> float:
    """The highest threshold whose F1 (OKS >= 0.5) is within F1_TOLERANCE of the best: on a
    plateau, fewer false detections win over a recall gain of one person."""
    best = max(row['f1'] for row in sweep)
    return max(row['min_pose_score'] for row in sweep if row['f1'] >= best - F1_TOLERANCE)


# ---- whole images --------------------------------------------------------------------------

def make_estimator(mode: str, threads: int, min_pose_score: float | None = None,
                   crop_tracking: bool = False, **refine_options):
    """The mode's estimator; ``min_pose_score`` is the threshold of the poses it reports
    (refined: the refined people's; the unrefined keep MultiPose's default); None: default."""
    model_name, refiner = MODES[mode]
    model = MoveNetModel(model_name, num_threads=threads)
    if refiner is None:
        return build_estimator(model, min_pose_score=min_pose_score,
                               crop_tracking=crop_tracking)
    return RefinedPoseEstimator(model, MoveNetModel(refiner, num_threads=threads),
                                refined_min_pose_score=min_pose_score,
                                crop_tracking=crop_tracking, **refine_options)


def reported_threshold(estimator) -> float:
    """The threshold the mode's reported poses pass (refined people's, in refinement)."""
    return getattr(estimator, 'refined_min_pose_score', estimator.min_pose_score)


def detections(data: DataSet, estimator, calls: int) -> list[dict]:
    """Everything ``estimator`` reports on each image, ``calls`` calls after a reset."""
    out = []
    for image_id in data.image_ids:
        estimator.reset()
        for _ in range(calls):
            result = estimator.estimate(data.image(image_id), 'bgr')
        out += [ke.as_detection(image_id, p.keypoints, p.score) for p in result.poses]
    return out


def image_report(data: DataSet, mode: str, threads: int, samples: int, default: float,
                 calls: int | None = None, as_configured: bool = False,
                 **refine_options) -> dict:
    """Whole-image AP and misses at the default threshold and over the sweep.

    The estimator reports everything and the thresholds are applied here, which is exact
    for every mode whose reported poses share one score (all but refinement that leaves
    people unrefined). ``as_configured``: the estimator applies its own default thresholds
    instead (for the refinement variants with ``max_refined`` < 6)."""
    if calls is None:
        calls = 2 if MODES[mode][1] is None and MODES[mode][0] != 'multipose' else 1
    estimator = make_estimator(mode, threads, None if as_configured else 0.0,
                               crop_tracking=calls > 1, **refine_options)
    evaluation = ke.Evaluation(data.coco, detections(data, estimator, calls), data.image_ids)
    ids = data.image_ids
    if as_configured:
        default = 0.0
    at_default = evaluation.summary(ids, default)
    everything = evaluation.summary(ids, 0.0)

    def miss(sample, t=default):
        hit, people, _ = evaluation.found(sample, t)
        return 1.0 - hit / people if people else 0.0

    def mean_oks(sample, t=default):
        best = evaluation.best_oks(sample, t)
        return float(np.mean(list(best.values()))) if best else 0.0

    sweep = []
    for t in THRESHOLDS:
        hit, people, false = evaluation.found(ids, float(t))
        precision = hit / (hit + false) if hit + false else 1.0
        recall = hit / people if people else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        sweep.append({'min_pose_score': float(t), 'precision': round(precision, 4),
                      'recall': round(recall, 4), 'f1': round(f1, 4),
                      'false_per_image': round(false / len(ids), 4),
                      'ap': round(evaluation.summary(ids, float(t))['ap'], 4)})
    _, _, false = evaluation.found(ids, default)
    return {
        'default_min_pose_score': default, 'calls_per_image': calls,
        'ap': round(at_default['ap'], 4),
        'ap_ci': interval(lambda s: evaluation.summary(s, default)['ap'], ids, samples),
        'ap50': round(at_default['ap50'], 4), 'ar': round(at_default['ar'], 4),
        'ap_all_detections': round(everything['ap'], 4),
        'ap_all_detections_ci': interval(lambda s: evaluation.summary(s, 0.0)['ap'], ids,
                                         samples),
        'miss': round(miss(ids), 4), 'miss_ci': interval(miss, ids, samples),
        'false_per_image': round(false / len(ids), 4),
        'oks': round(mean_oks(ids), 4), 'oks_ci': interval(mean_oks, ids, samples),
        'suggested_min_pose_score': _suggest_multipose(sweep),
        'sweep': sweep,
        '_evaluation': evaluation,
    }


def paired_gain(base: dict, other: dict, ids: list[int], samples: int) -> dict:
    """AP gain of ``other`` over ``base`` (each at its default) with a paired bootstrap."""
    b, o = base['_evaluation'], other['_evaluation']
    tb, to = base['default_min_pose_score'], other['default_min_pose_score']

    def gain(sample):
        return o.summary(sample, to)['ap'] - b.summary(sample, tb)['ap']

    found = [a for a, v in b.best_oks(ids, tb).items() if v >= 0.5]
    ob, oo = b.best_oks(ids, tb), o.best_oks(ids, to)
    return {'ap_gain': round(gain(ids), 4), 'ap_gain_ci': interval(gain, ids, samples),
            'found_by_base': len(found),
            'oks_of_found_base': round(float(np.mean([ob[a] for a in found])), 4) if found
            else None,
            'oks_of_found_other': round(float(np.mean([oo[a] for a in found])), 4) if found
            else None}


# ---- frames per second ---------------------------------------------------------------------

def stream_fps(modes: list[str], threads: int, frames_per_mode: int) -> dict:
    """Each mode on a 1280x720 stream of the demo footage, interleaved in blocks."""
    frames = load_frames(STREAM_FRAMES[1], STREAM_SIZE)[STREAM_FRAMES[0]:]
    estimators = {m: make_estimator(m, threads, crop_tracking=True) for m in modes}
    position = dict.fromkeys(modes, 0)
    elapsed = dict.fromkeys(modes, 0.0)
    done = dict.fromkeys(modes, 0)
    people = {m: [] for m in modes}
    refined = {m: [] for m in modes}
    refine_ms = {m: [] for m in modes}
    for est in estimators.values():   # warm-up (allocation, caches)
        for frame in frames[:WARMUP]:
            est.estimate(frame, 'bgr')
        est.reset()
    load_before = machine()['loadavg']
    busy0, own0, wall0 = machine_busy_seconds(), time.process_time(), time.perf_counter()
    while min(done.values()) < frames_per_mode:
        for mode, est in estimators.items():
            for _ in range(BLOCK):
                frame = frames[position[mode] % len(frames)]
                if position[mode] % len(frames) == 0:
                    est.reset()
                start = time.perf_counter()
                result = est.estimate(frame, 'bgr')
                elapsed[mode] += time.perf_counter() - start
                position[mode] += 1
                done[mode] += 1
                people[mode].append(len(result.poses))
                refined[mode].append(getattr(est, 'last_refined', 0))
                refine_ms[mode].append(result.timings_ms.get('refine', 0.0))
    wall = time.perf_counter() - wall0
    others = (machine_busy_seconds() - busy0) - (time.process_time() - own0)
    out = {'size': f'{STREAM_SIZE[0]}x{STREAM_SIZE[1]}', 'threads': threads,
           'frames_per_mode': frames_per_mode, 'loadavg_before': load_before,
           'loadavg_after': machine()['loadavg'],
           'other_processes_cpu_cores': round(max(others, 0.0) / wall, 2), 'modes': {}}
    for mode in modes:
        fps = done[mode] / elapsed[mode]
        out['modes'][mode] = {'fps': round(fps, 2), 'ms_per_frame': round(1e3 / fps, 2),
                              'people_per_frame': round(float(np.mean(people[mode])), 2),
                              'refined_per_frame': round(float(np.mean(refined[mode])), 2),
                              # of ms_per_frame: the crops (warp, single-pose runs, decoding)
                              'refine_ms_per_frame': round(float(np.mean(refine_ms[mode])), 2)}
    if 'multipose' in modes:
        base = out['modes']['multipose']['fps']
        for mode in modes:
            out['modes'][mode]['fps_ratio_to_multipose'] = round(
                out['modes'][mode]['fps'] / base, 3)
    return out


# ---- output --------------------------------------------------------------------------------

def _ci(value, ci) -> str:
    return f'{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]'


def markdown_table(report: dict) -> str:
    lines = ['| mode | min_pose_score | AP [95 % CI] | AP50 | AR | miss (images) | '
             'OKS (images) | OKS (crops) [95 % CI] | PCK@0.2 (crops) | miss (crops, clear; '
             'feet out) | '
             'fps 1280x720 | fps / MultiPose |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    fps = report.get('fps', {}).get('modes', {})
    for mode, row in report['modes'].items():
        img, crop = row['images'], row.get('crops') or report['crops'].get(MODES[mode][1])
        crop_cols = ['–'] * 3
        if crop and MODES[mode][1] is None:
            crop_cols = [_ci(crop['oks'], crop['oks_ci']), f"{crop['pck']:.3f}",
                         f"{crop['miss_clear']:.3f}; {crop['miss_feet_out']:.3f}"]
        f = fps.get(mode)
        lines.append(
            f"| {mode} | {img['default_min_pose_score']:.2f} | {_ci(img['ap'], img['ap_ci'])} "
            f"| {img['ap50']:.3f} | {img['ar']:.3f} | {img['miss']:.3f} | {img['oks']:.3f} | "
            + ' | '.join(crop_cols)
            + (f" | {f['fps']:.1f} | {f.get('fps_ratio_to_multipose', float('nan')):.2f} |"
               if f else ' | – | – |'))
    return '\n'.join(lines)


def plot(report: dict, path: pathlib.Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    names = list(report['modes'])
    ap = [report['modes'][m]['images']['ap'] for m in names]
    ci = np.array([report['modes'][m]['images']['ap_ci'] for m in names])
    ax = axes[0]
    ax.bar(range(len(names)), ap, yerr=[np.array(ap) - ci[:, 0], ci[:, 1] - np.array(ap)],
           capsize=4, color=['#999', '#777', '#5a8', '#48c', '#26a'][:len(names)])
    ax.set_xticks(range(len(names)), [n.replace('+', '\n+') for n in names], fontsize=8)
    ax.set_ylabel('keypoint AP (OKS .50:.95), whole images')
    ax.set_title('AP at the default min_pose_score (95 % CI)')
    ax = axes[1]
    for mode in names:
        sweep = report['modes'][mode]['images']['sweep']
        if MODES[mode][0] != 'multipose':
            continue
        r = [s['recall'] for s in sweep]
        p = [s['precision'] for s in sweep]
        line, = ax.plot(r, p, marker='.', label=mode)
        d = report['modes'][mode]['images']['default_min_pose_score']
        at = min(sweep, key=lambda s: abs(s['min_pose_score'] - d))
        ax.plot(at['recall'], at['precision'], 'o', ms=10, mfc='none', color=line.get_color())
    ax.set_xlabel('recall (labelled people found at OKS >= 0.5)')
    ax.set_ylabel('precision')
    ax.set_title('min_pose_score 0-0.6, whole images (circle: default)')
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax = axes[2]
    for name, crop in report['crops'].items():
        sweep = crop['sweep']
        line, = ax.plot([s['false_positive_rate'] for s in sweep],
                        [1 - s['miss_clear'] for s in sweep], marker='.', label=name)
        d = crop['default_min_pose_score']
        at = min(sweep, key=lambda s: abs(s['min_pose_score'] - d))
        ax.plot(at['false_positive_rate'], 1 - at['miss_clear'], 'o', ms=10, mfc='none',
                color=line.get_color())
    ax.set_xlabel('background crops reported as a person')
    ax.set_ylabel('clearly visible people reported')
    ax.set_title('single-pose min_pose_score 0-0.6, crops (circle: default)')
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def example_picture(path: pathlib.Path, threads: int, first: int = EXAMPLE_FROM) -> dict:
    """MultiPose beside MultiPose + Thunder on the 1280x720 demo stream, at the first frame
    from ``first`` on where refinement reports both people and MultiPose does not."""
    frames = load_frames(STREAM_FRAMES[1], STREAM_SIZE)
    plain = make_estimator('multipose', threads, crop_tracking=True)
    refined = make_estimator('multipose+thunder', threads, crop_tracking=True)
    for index, frame in enumerate(frames):
        a, b = plain.estimate(frame, 'bgr').poses, refined.estimate(frame, 'bgr').poses
        if index >= first and len(b) == 2 and len(a) < 2:
            break
    else:
        return {}
    panels = []
    for poses, title in ((a, 'MultiPose'), (b, 'MultiPose + Thunder refinement')):
        panel = draw_poses(frame.copy(), poses, DEFAULT_KEYPOINT_THRESHOLD)
        (tw, th), _ = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, 1.4, 3)
        bottom = panel.shape[0]   # at the bottom left: grass, nobody there
        cv2.rectangle(panel, (0, bottom - th - 40), (tw + 40, bottom), (0, 0, 0), -1)
        cv2.putText(panel, title, (20, bottom - 20), cv2.FONT_HERSHEY_SIMPLEX, 1.4,
                    (255, 255, 255), 3, cv2.LINE_AA)
        panels.append(panel)
    picture = cv2.resize(np.hstack(panels), (1600, 450), interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), picture, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return {'frame': index, 'multipose_people': len(a), 'refined_people': len(b)}


def variants(data: DataSet, threads: int, samples: int, default: float) -> dict:
    """Refinement (Thunder) with one setting changed at a time: what the defaults rest on."""
    cases = {
        f'max_refined={n}': {'max_refined': n} for n in (1, 2, 3, 4)
    } | {
        f'detection_min_score={s}': {'detection_min_score': s} for s in (0.0, 0.1, 0.25)
    } | {
        f'box_margin={m}': {'box_margin': m} for m in (1.25, 1.4)
    } | {
        'video (3 calls), crop_from=detection': {'calls': 3, 'crop_from': 'detection'},
        'video (3 calls), crop_from=pose': {'calls': 3, 'crop_from': 'pose'},
    }
    out = {'defaults': {'max_refined': DEFAULT_MAX_REFINED, 'box_margin': BOX_MARGIN,
                        'detection_min_score': DEFAULT_DETECTION_MIN_SCORE}}
    for name, options in cases.items():
        row = image_report(data, 'multipose+thunder', threads, samples, default,
                           as_configured=True, **options)
        out[name] = {k: row[k] for k in ('ap', 'ap_ci', 'ap50', 'ar', 'miss', 'oks')}
        print(f'  {name}: AP {row["ap"]:.3f}', flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--annotations', type=pathlib.Path,
                        help='COCO person-keypoints JSON (default: the development set)')
    parser.add_argument('--images', type=pathlib.Path,
                        help='folder of its images (default: images/ beside the JSON)')
    parser.add_argument('--modes', nargs='+', choices=list(MODES), default=list(MODES))
    parser.add_argument('--limit', type=int, help='only the first N images (by id)')
    parser.add_argument('--bootstrap', type=int, default=1000, help='resamples for the CIs')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--fps-frames', type=int, default=160,
                        help='frames per mode for the fps measurement (0: skip)')
    parser.add_argument('--variants', action='store_true', help='refinement variants too')
    parser.add_argument('--example', action='store_true',
                        help='also write doc/refine_example.jpg (the README picture)')
    parser.add_argument('--quick', action='store_true',
                        help='10 images, 50 resamples, 20 fps frames (a smoke test)')
    parser.add_argument('--out', type=pathlib.Path, default=REPO / 'bench' / 'results')
    parser.add_argument('--doc', type=pathlib.Path, default=REPO / 'doc')
    args = parser.parse_args(argv)
    if args.quick:
        args.limit, args.bootstrap, args.fps_frames = 10, 50, 20
    annotations = args.annotations
    if annotations is None:
        found = ke.find_dev_set(REPO)
        if found is None:
            sys.exit(f'no labelled set ({ke.dev_set_absence()}): pass --annotations '
                     f'(and --images), set ${ke.DEV_SET_ENV}, or put the set in '
                     f'{ke.DEV_SET_NAME} beside the repository')
        annotations = found / ke.ANNOTATIONS
    images = args.images or annotations.parent / 'images'
    if not annotations.is_file() or not images.is_dir():
        sys.exit(f'{annotations} or {images} is missing')
    data = DataSet(annotations, images, args.limit)
    samples = args.bootstrap
    print(f'{len(data.image_ids)} images, {len(data.people)} labelled people '
          f'({annotations})', flush=True)
    report = {'date': datetime.date.today().isoformat(), 'machine': machine(),
              'dataset': {'annotations': str(annotations), 'images': len(data.image_ids),
                          'people': len(data.people),
                          'clear_people': sum(map(is_clear, data.people))},
              'bootstrap': samples, 'crops': {}, 'modes': {}}
    negatives = data.negatives()
    for name in ('lightning', 'thunder'):
        if any(name in (m, r) for m, r in (MODES[x] for x in args.modes)):
            report['crops'][name] = crop_report(data, name, args.threads, samples, negatives)
            print(f'crops {name}: OKS {report["crops"][name]["oks"]:.3f}', flush=True)
    for mode in args.modes:
        model_name, refiner = MODES[mode]
        default = reported_threshold(make_estimator(mode, args.threads))
        row = {'images': image_report(data, mode, args.threads, samples, default)}
        if refiner is None and model_name != 'multipose':
            row['crops'] = report['crops'][model_name]
        report['modes'][mode] = row
        print(f'{mode}: AP {row["images"]["ap"]:.3f}', flush=True)
    ids = data.image_ids
    if 'multipose' in report['modes']:
        report['refinement_vs_multipose'] = {
            mode: paired_gain(report['modes']['multipose']['images'], row['images'], ids,
                              samples)
            for mode, row in report['modes'].items() if MODES[mode][1] is not None}
    if args.variants:
        default = reported_threshold(make_estimator('multipose+thunder', args.threads))
        report['variants'] = variants(data, args.threads, samples, default)
    if args.fps_frames:
        report['fps'] = stream_fps(args.modes, args.threads, args.fps_frames)
    if args.example:
        report['example'] = example_picture(args.doc / 'refine_example.jpg', args.threads)
    table = markdown_table(report)
    for row in report['modes'].values():
        row['images'].pop('_evaluation')
        if 'crops' in row:
            row['crops'] = f'see crops.{row["crops"]["model"]}'
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'accuracy.json').write_text(json.dumps(report, indent=1) + '\n')
    (args.out / 'accuracy.md').write_text(table + '\n')
    plot(report, args.doc / 'accuracy.png')
    print(table)
    for mode, row in report['modes'].items():
        crop = report['crops'].get(MODES[mode][0]) if MODES[mode][1] is None else None
        suggested = (crop or row['images'])['suggested_min_pose_score']
        print(f'{mode}: min_pose_score {row["images"]["default_min_pose_score"]:.2f} '
              f'(the data suggest {suggested:.2f})')
    for mode, gain in report.get('refinement_vs_multipose', {}).items():
        print(f'{mode} - multipose: AP {gain["ap_gain"]:+.3f} {gain["ap_gain_ci"]} '
              f'(target +{TARGET_AP_GAIN}); OKS of the {gain["found_by_base"]} people '
              f'MultiPose finds: {gain["oks_of_found_base"]} -> {gain["oks_of_found_other"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
