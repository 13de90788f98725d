#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark the ROS-free core: what PoseEstimator.estimate() costs on top of the model.

For each model (lightning, thunder, multipose) and frame size (640x480, 1280x720, 1920x1080;
the demo video's frames resized to it), with 2 interpreter threads:

* raw: ``MoveNetModel.run`` on an already prepared input, timed by ``last_invoke_ms`` (the
  interpreter's ``invoke()`` alone): the best any wrapper could do;
* core: ``PoseEstimator.estimate`` on the BGR frame (check, warp, colour, run, decode, crop
  tracking), timed wall-clock around the call.

Per frame, pre+post-processing = core wall time - that call's own invoke time. The throughput
ratio is raw mean / core mean (1.0 = the core adds nothing). Raw and core runs are interleaved
in short blocks so drift in CPU clocks hits both alike.

Run from the repository after ``source tools/env.sh``::

    python bench/core.py            # ~100 iterations per case, about 1 minute
    python bench/core.py --quick    # a few iterations: a smoke test for CI

Writes bench/results/core.json and core.png (core-quick.* with --quick) and prints a Markdown
table. The issue's targets:
pre+post <= 1.5 ms per 1280x720 frame, core throughput >= 0.95x raw invoke throughput.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import sys
import time

from common import load_frames  # bench/common.py: this script runs as bench/core.py
import cv2
import numpy as np

from movenet_ros.core.estimator import PoseEstimator
from movenet_ros.core.geometry import letterbox_region, warp_to_input
from movenet_ros.core.model import MoveNetModel

REPO = pathlib.Path(__file__).resolve().parent.parent
MODELS = ('lightning', 'thunder', 'multipose')
SIZES = ((640, 480), (1280, 720), (1920, 1080))  # (width, height)
TARGET_OVERHEAD_MS = 1.5       # per 1280x720 frame
TARGET_THROUGHPUT_RATIO = 0.95
TARGET_SIZE = (1280, 720)
BLOCK = 10  # raw and core runs alternate in blocks of this many calls


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from ai_edge_litert import __version__ as litert
    except ImportError:
        litert = 'unknown'
    return {
        'cpu': cpu,
        'cpus_available': len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity')
        else os.cpu_count(),
        'python': platform.python_version(),
        'numpy': np.__version__,
        'opencv': cv2.__version__,
        'ai_edge_litert': litert,
        'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'),
    }


def stats(values: list[float]) -> dict:
    array = np.asarray(values)
    return {'mean': float(array.mean()), 'median': float(np.median(array)),
            'p90': float(np.percentile(array, 90)), 'min': float(array.min())}


def bench_case(model: MoveNetModel, frames: list[np.ndarray], iterations: int,
               warmup: int) -> dict:
    """Raw invoke vs the whole core on ``frames`` (all of one size), interleaved in blocks."""
    h, w = frames[0].shape[:2]
    input_hw = model.input_size((h, w))
    # The raw input: the first frame exactly as the core prepares it (letterboxed, RGB).
    prepared = np.ascontiguousarray(
        warp_to_input(frames[0], letterbox_region((h, w), input_hw), input_hw)[..., ::-1])
    estimator = PoseEstimator(model)

    raw_ms: list[float] = []
    core_ms: list[float] = []
    core_invoke_ms: list[float] = []
    overhead_ms: list[float] = []
    parts: dict[str, list[float]] = {'preprocess': [], 'model_io': [], 'postprocess': []}
    people: list[int] = []
    frame_index = 0

    def run_raw(record: bool) -> None:
        model.run(prepared)
        if record:
            raw_ms.append(model.last_invoke_ms)

    def run_core(record: bool) -> None:
        nonlocal frame_index
        frame = frames[frame_index % len(frames)]
        frame_index += 1
        start = time.perf_counter()
        result = estimator.estimate(frame, 'bgr')
        whole = (time.perf_counter() - start) * 1000.0
        if record:
            core_ms.append(whole)
            core_invoke_ms.append(result.inference_ms)
            overhead_ms.append(whole - result.inference_ms)
            parts['preprocess'].append(result.timings_ms['preprocess'])
            parts['model_io'].append(result.timings_ms['model'] - result.inference_ms)
            parts['postprocess'].append(result.timings_ms['postprocess'])
            people.append(len(result.poses))

    for _ in range(warmup):
        run_raw(False)
        run_core(False)
    done = 0
    while done < iterations:
        n = min(BLOCK, iterations - done)
        for _ in range(n):
            run_raw(True)
        for _ in range(n):
            run_core(True)
        done += n

    raw, core = stats(raw_ms), stats(core_ms)
    return {
        'input_hw': list(input_hw),
        'iterations': iterations,
        'raw_invoke_ms': raw,
        'core_ms': core,
        'core_invoke_ms': stats(core_invoke_ms),
        'overhead_ms': stats(overhead_ms),
        'overhead_parts_ms': {k: stats(v)['mean'] for k, v in parts.items()},
        'raw_fps': 1000.0 / raw['mean'],
        'core_fps': 1000.0 / core['mean'],
        'throughput_ratio': raw['mean'] / core['mean'],
        # Paired version of the same ratio (each core call against its own invoke): immune to
        # invoke() itself running faster or slower between the raw and the core blocks.
        'invoke_share': float(np.sum(core_invoke_ms) / np.sum(core_ms)),
        'mean_people': float(statistics.fmean(people)),
    }


def markdown_table(results: list[dict]) -> str:
    rows = [
        '| model | frame | input | raw invoke ms | core ms | pre+post ms (mean / median)'
        ' | of which pre / run I/O / post | core / raw throughput | invoke share of core |',
        '|---|---|---|---:|---:|---:|---:|---:|---:|',
    ]
    for r in results:
        parts = r['overhead_parts_ms']
        rows.append(
            f"| {r['model']} | {r['frame_w']}x{r['frame_h']} "
            f"| {r['input_hw'][1]}x{r['input_hw'][0]} "
            f"| {r['raw_invoke_ms']['mean']:.2f} | {r['core_ms']['mean']:.2f} "
            f"| {r['overhead_ms']['mean']:.2f} / {r['overhead_ms']['median']:.2f} "
            f"| {parts['preprocess']:.2f} / {parts['model_io']:.2f} / "
            f"{parts['postprocess']:.2f} "
            f"| {r['throughput_ratio']:.3f} | {r['invoke_share']:.3f} |")
    return '\n'.join(rows)


def verdict(results: list[dict]) -> list[str]:
    lines = []
    for r in results:
        if (r['frame_w'], r['frame_h']) != TARGET_SIZE:
            continue
        overhead = r['overhead_ms']['mean']
        ratio = r['throughput_ratio']
        share = r['invoke_share']
        lines.append(
            f"{r['model']} @ 1280x720: pre+post {overhead:.2f} ms "
            f"({'meets' if overhead <= TARGET_OVERHEAD_MS else 'MISSES'} <= "
            f'{TARGET_OVERHEAD_MS} ms), throughput {ratio:.3f}x raw '
            f"({'meets' if ratio >= TARGET_THROUGHPUT_RATIO else 'MISSES'} >= "
            f'{TARGET_THROUGHPUT_RATIO}x; paired invoke share {share:.3f})')
    return lines


def plot(results: list[dict], path: pathlib.Path, title: str) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    labels = [f"{r['model']}\n{r['frame_w']}x{r['frame_h']}" for r in results]
    x = np.arange(len(results))
    raw = [r['raw_invoke_ms']['mean'] for r in results]
    core = [r['core_ms']['mean'] for r in results]
    overhead = [r['overhead_ms']['mean'] for r in results]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8), sharex=True,
                                      gridspec_kw={'height_ratios': [3, 2]})
    width = 0.38
    top.bar(x - width / 2, raw, width, label='raw invoke()', color='#4c72b0')
    top.bar(x + width / 2, core, width, label='core: PoseEstimator.estimate()', color='#dd8452')
    for xi, (r_ms, c_ms) in enumerate(zip(raw, core, strict=True)):
        top.text(xi + width / 2, c_ms, f'{r_ms / c_ms:.2f}x', ha='center', va='bottom',
                 fontsize=8)
    top.set_ylabel('ms per frame (mean)\nlabels: core / raw throughput')
    top.set_title(title)
    top.legend(loc='upper left')
    top.grid(axis='y', alpha=0.3)
    bottom.bar(x, overhead, 0.6, color='#55a868', label='pre+post (core - invoke)')
    bottom.axhline(TARGET_OVERHEAD_MS, color='#c44e52', linestyle='--',
                   label=f'target {TARGET_OVERHEAD_MS} ms (1280x720)')
    for xi, value in enumerate(overhead):
        bottom.text(xi, value, f'{value:.2f}', ha='center', va='bottom', fontsize=8)
    bottom.set_ylabel('ms per frame (mean)')
    bottom.legend(loc='upper left')
    bottom.grid(axis='y', alpha=0.3)
    bottom.set_xticks(x, labels, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='a few iterations only (CI smoke test; numbers are noisy)')
    parser.add_argument('--iterations', type=int, default=100,
                        help='timed calls per case for raw and for core (default 100)')
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--threads', type=int, default=2, help='interpreter threads')
    parser.add_argument('--frames', type=int, default=60,
                        help='distinct video frames cycled through (default 60)')
    parser.add_argument('--out', type=pathlib.Path, default=REPO / 'bench' / 'results')
    args = parser.parse_args(argv)
    if args.quick:
        args.iterations, args.warmup, args.frames = 5, 2, 5

    started = time.perf_counter()
    load_before = os.getloadavg()
    source = load_frames(args.frames)
    results = []
    for frame_w, frame_h in SIZES:
        frames = [cv2.resize(f, (frame_w, frame_h), interpolation=cv2.INTER_AREA)
                  for f in source]
        for name in MODELS:
            model = MoveNetModel(name, num_threads=args.threads)
            case = bench_case(model, frames, args.iterations, args.warmup)
            case.update(model=name, frame_w=frame_w, frame_h=frame_h)
            results.append(case)
            print(f"{name:9s} {frame_w}x{frame_h}: raw {case['raw_invoke_ms']['mean']:.2f} ms, "
                  f"core {case['core_ms']['mean']:.2f} ms, "
                  f"pre+post {case['overhead_ms']['mean']:.2f} ms", file=sys.stderr)
    # Order the report by model, then size.
    results.sort(key=lambda r: (MODELS.index(r['model']), r['frame_w']))
    elapsed = time.perf_counter() - started

    info = machine()
    report = {
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'machine': info,
        'threads': args.threads,
        'iterations': args.iterations,
        'warmup': args.warmup,
        'quick': args.quick,
        'elapsed_s': round(elapsed, 1),
        # Other processes on the machine skew every number: keep the evidence.
        'loadavg_1_5_15_before': [round(v, 2) for v in load_before],
        'loadavg_1_5_15_after': [round(v, 2) for v in os.getloadavg()],
        'targets': {'overhead_ms_1280x720': TARGET_OVERHEAD_MS,
                    'throughput_ratio': TARGET_THROUGHPUT_RATIO},
        'results': results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    # A --quick run never overwrites the real results.
    stem = 'core-quick' if args.quick else 'core'
    (args.out / f'{stem}.json').write_text(json.dumps(report, indent=2) + '\n')
    title = (f"movenet_ros core vs raw invoke ({args.threads} threads, {info['cpu']}, "
             f"{info['cpus_available']} CPUs{', QUICK' if args.quick else ''})")
    plot(results, args.out / f'{stem}.png', title)

    print(markdown_table(results))
    print()
    for line in verdict(results):
        print(f'- {line}')
    print(f"\n{info['cpu']}, {info['cpus_available']} CPUs, {args.threads} threads, "
          f'{args.iterations} iterations, {elapsed:.0f} s, load average before '
          f'{load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}. '
          f"Wrote {args.out / f'{stem}.json'} and {args.out / f'{stem}.png'}.")
    return 0


if __name__ == '__main__':
    sys.exit(main())
