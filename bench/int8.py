#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The int8 models against the float16 ones: invoke() speed, and keypoints on real frames.

For each model (lightning, thunder, multipose) and interpreter threads (1, 2), the float16
file and its int8 quantisation (``<model>_int8``) are loaded side by side, each in a thread
of its own with the node's thread placement (``--placement``), and timed interleaved in
rounds (the order alternates every round, so a change of the machine's load hits both
alike):

* **back to back**: ``invoke()`` as fast as it goes (``last_invoke_ms``);
* **paced**: one ``invoke()`` every 1/30 s, as a camera feeds the node.

Inputs are demo-video frames letterboxed as ``PoseEstimator`` does (1280x720, MultiPose at
its default input). Agreement: ``PoseEstimator`` (crop tracking off) on 40 frames (40, 44,
..., 196), the keypoints of the int8 model against the float16 model's, in % of the image's
longer side, over the keypoints the float16 model scores >= 0.3 (the accuracy on labelled photos is
``bench/accuracy.py``'s, run once per file set).

Run from the repository after ``source tools/env.sh``::

    python bench/int8.py            # about 3 minutes on 2 cores
    python bench/int8.py --quick    # a few calls per case (CI smoke test)

Writes bench/results/int8.json and int8.md, prints the table. Target (issue 16): int8 at
least 1.7x the float16 speed for every model.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
import datetime
import json
import os
import pathlib
import sys
import time

from common import RESULTS, VIDEO, machine, machine_busy_seconds, percentiles
import numpy as np

from movenet_ros.core.estimator import PoseEstimator
from movenet_ros.core.geometry import letterbox_region, warp_to_input
from movenet_ros.core.model import THREAD_PLACEMENTS, MoveNetModel
from movenet_ros.nodes.movenet_config import NODE_THREAD_PLACEMENT

MODELS = ('lightning', 'thunder', 'multipose')
SIZE = (1280, 720)
RATE = 30.0
TARGET_SPEEDUP = 1.7
CONFIDENT = 0.3
AGREEMENT_FRAMES = range(40, 200, 4)  # 40 frames, people in view


class Timed:
    """One model file in a thread of its own (placement pins the thread that calls it)."""

    def __init__(self, name: str, threads: int, frame: np.ndarray, placement: str) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=name)
        self.model = self._pool.submit(MoveNetModel, name, num_threads=threads,
                                       thread_placement=placement).result()
        hw = self.model.input_size(frame.shape[:2])
        self.input = np.ascontiguousarray(
            warp_to_input(frame, letterbox_region(frame.shape[:2], hw), hw)[..., ::-1])
        self._pool.submit(self._run, 5, 0.0).result()  # warm-up, workers started

    def _run(self, calls: int, period: float) -> list[float]:
        out, next_at = [], time.monotonic()
        for _ in range(calls):
            if period:
                next_at += period
                time.sleep(max(0.0, next_at - time.monotonic()))
            self.model.run(self.input)
            out.append(self.model.last_invoke_ms)
        return out

    def block(self, calls: int, period: float = 0.0) -> list[float]:
        return self._pool.submit(self._run, calls, period).result()

    def close(self) -> None:
        self._pool.shutdown()


def speed(model: str, threads: int, frame: np.ndarray, rounds: int, calls: int,
          placement: str) -> dict:
    pair = {'fp16': Timed(model, threads, frame, placement),
            'int8': Timed(f'{model}_int8', threads, frame, placement)}
    times = {(k, mode): [] for k in pair for mode in ('hot', 'paced')}
    try:
        for r in range(rounds):
            for key in (('fp16', 'int8') if r % 2 == 0 else ('int8', 'fp16')):
                times[(key, 'hot')] += pair[key].block(calls)
                times[(key, 'paced')] += pair[key].block(calls, 1.0 / RATE)
    finally:
        for timed in pair.values():
            timed.close()
    out = {'model': model, 'threads': threads,
           'input_hw': list(pair['fp16'].input.shape[:2])}
    for mode in ('hot', 'paced'):
        for key in pair:
            out[f'{key}_{mode}'] = percentiles(times[(key, mode)], (50, 95)) | {
                'n': len(times[(key, mode)])}
        out[f'speedup_{mode}'] = round(out[f'fp16_{mode}']['p50'] / out[f'int8_{mode}']['p50'],
                                       2)
    return out


def agreement(model: str, frames: list[np.ndarray]) -> dict:
    """int8 keypoints vs float16 keypoints on the same frames, in % of the longer side."""
    estimators = {k: PoseEstimator(MoveNetModel(name, num_threads=2), crop_tracking=False)
                  for k, name in (('fp16', model), ('int8', f'{model}_int8'))}
    distances, score_deltas, people = [], [], {'fp16': 0, 'int8': 0}
    for frame in frames:
        results = {k: e.estimate(frame, channel_order='bgr') for k, e in estimators.items()}
        for k in results:
            people[k] += len(results[k].poses)
        for ref in results['fp16'].poses:
            if not results['int8'].poses:
                continue
            # The int8 person nearest to this one (MultiPose may order people differently).
            def gap(pose, ref=ref):
                return float(np.nanmean(np.abs(pose.keypoints[:, :2] - ref.keypoints[:, :2])))
            match = min(results['int8'].poses, key=gap)
            confident = ref.keypoints[:, 2] >= CONFIDENT
            d = np.linalg.norm(match.keypoints[confident, :2] - ref.keypoints[confident, :2],
                               axis=1) / max(results['fp16'].image_size)
            distances += (100.0 * d).tolist()
            score_deltas += np.abs(match.keypoints[:, 2] - ref.keypoints[:, 2]).tolist()
    return {'model': model, 'frames': len(frames), 'people': people,
            'keypoint_pct': percentiles(distances, (50, 95)) | {'n': len(distances)},
            'score_delta': percentiles(score_deltas, (50, 95))}


def markdown(report: dict) -> str:
    lines = ['| model | threads | input | FP16 back to back p50 / p95 ms | int8 | x | '
             'FP16 at 30 Hz p50 / p95 ms | int8 | x |', '|---|---:|---|---:|---:|---:|---:|'
             '---:|---:|']
    for s in report['speed']:
        cells = []
        for mode in ('hot', 'paced'):
            f, i = s[f'fp16_{mode}'], s[f'int8_{mode}']
            cells += [f"{f['p50']:.2f} / {f['p95']:.2f}", f"{i['p50']:.2f} / {i['p95']:.2f}",
                      f"{s[f'speedup_{mode}']:.2f}"]
        lines.append(f"| {s['model']} | {s['threads']} | {s['input_hw'][0]}x{s['input_hw'][1]} "
                     f"| " + ' | '.join(cells) + ' |')
    lines += ['', '| model | frames | people FP16 / int8 | keypoint distance p50 / p95 (% of '
              'the longer side) | score delta p50 / p95 |', '|---|---:|---:|---:|---:|']
    for a in report['agreement']:
        k, s = a['keypoint_pct'], a['score_delta']
        lines.append(f"| {a['model']} | {a['frames']} | {a['people']['fp16']} / "
                     f"{a['people']['int8']} | {k['p50']:.2f} / {k['p95']:.2f} | "
                     f"{s['p50']:.3f} / {s['p95']:.3f} |")
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='a few calls per case')
    parser.add_argument('--models', default=','.join(MODELS))
    parser.add_argument('--threads', default='1,2')
    parser.add_argument('--rounds', type=int, default=6)
    parser.add_argument('--calls', type=int, default=30, help='calls per block')
    parser.add_argument('--placement', choices=THREAD_PLACEMENTS, default=NODE_THREAD_PLACEMENT,
                        help="the models' thread_placement (default: the node's)")
    parser.add_argument('--out', type=pathlib.Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.calls = 2, 3
    import cv2

    wanted = range(90, 121, 10) if args.quick else AGREEMENT_FRAMES
    capture, frames = cv2.VideoCapture(str(VIDEO)), []
    for index in range(wanted[-1] + 1):  # one pass, keeping only the wanted frames
        ok, frame = capture.read()
        if not ok:
            sys.exit(f'cannot decode frame {index} of {VIDEO}: run `make setup`')
        if index in wanted:
            frames.append(cv2.resize(frame, SIZE, interpolation=cv2.INTER_AREA))
    capture.release()
    info = machine()
    busy_before, started = machine_busy_seconds(), time.time()
    report = {'speed': [], 'agreement': []}
    for model in args.models.split(','):
        for threads in (int(t) for t in args.threads.split(',')):
            row = speed(model, threads, frames[len(frames) // 2], args.rounds, args.calls,
                        args.placement)
            row['loadavg'] = [round(v, 2) for v in os.getloadavg()]
            print(f"{model} t{threads}: x{row['speedup_hot']} back to back, "
                  f"x{row['speedup_paced']} at {RATE:g} Hz", file=sys.stderr, flush=True)
            report['speed'].append(row)
        report['agreement'].append(agreement(model, frames))
    elapsed = time.time() - started
    report |= {
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'machine': info | {'loadavg_after': [round(v, 2) for v in os.getloadavg()],
                           'machine_cpu_cores': round(  # this benchmark's included
                               (machine_busy_seconds() - busy_before) / elapsed, 2)},
        'rate_hz': RATE, 'placement': args.placement, 'elapsed_s': round(elapsed, 1)}
    name = 'int8-quick' if args.quick else 'int8'
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f'{name}.json').write_text(json.dumps(report, indent=2) + '\n')
    text = markdown(report)
    (args.out / f'{name}.md').write_text(text + '\n')
    print(text)
    print(f"\n{info['cpu']}, {info['cpus']} CPUs, load average before {info['loadavg']}, "
          f"after {report['machine']['loadavg_after']}; {elapsed:.0f} s.")
    return 0


if __name__ == '__main__':
    sys.exit(main())
