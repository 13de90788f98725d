#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Load and fault runs of movenet_node over real DDS: what happens when things go wrong.

* ``burst``: 120 Hz of 1280x720 frames for a minute, far faster than the model. Memory must
  stay flat (RSS sampled from /proc), every output must be of a fresh frame (its age stays
  about one inference), and every frame not processed must be counted in /diagnostics.
* ``faults``: 10 000 random bad messages per transport (every kind the node rejects, plus
  random bytes, encodings and sizes) with a good frame after every few dozen: the node must
  never crash and must answer every good frame.
* ``soak``: 30 Hz for 11 minutes: RSS growth, and latency in the first vs the last minute.
* ``restarts``: the camera crashing and restarting (SIGKILL, SIGTERM, SIGINT), subscribers
  joining late (poses, markers, annotated image), and SIGINT/SIGTERM to the node at startup,
  idle and under load: it must exit with 0 and without a traceback.

Run from the repository after ``source tools/env.sh``::

    python bench/load.py burst | faults | soak | restarts | all
    python bench/load.py burst --duration 3     # a short version (the CI smoke test)

Each writes bench/results/load_<name>.json (burst and soak also doc/node_<name>.png), prints
a summary, and exits with 1 when a behavioural check fails (never on timings).
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import pathlib
import random
import signal
import struct
import sys
import time

from common import (
    DOC,
    RESULTS,
    NodeUnderTest,
    Observer,
    PublisherProcess,
    Sampler,
    counter_delta,
    load_frames,
    machine,
    percentiles,
    run_phases,
    use_private_domain,
)
import numpy as np


def report_base(args, name: str) -> dict:
    return {'bench': name,
            'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
            'machine': machine(), 'model': args.model, 'threads': args.threads}


def write(args, name: str, report: dict) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    report['machine']['loadavg_after'] = [round(v, 2) for v in os.getloadavg()]
    (args.out / f'load_{name}.json').write_text(json.dumps(report, indent=2) + '\n')


def clean_exit(code: int, output: str) -> dict:
    return {'exit_code': code, 'traceback': 'Traceback' in output,
            'clean': code == 0 and 'Traceback' not in output}


# ---- burst and soak: one long phase, watched over time ----------------------------------------

def stream(args, name: str, rate: float, duration: float, markers: bool) -> dict:
    """Play ``rate`` Hz for ``duration`` s into a fresh node; everything over time."""
    node = NodeUnderTest(args.model, args.threads, 'raw')
    observer = Observer(markers=markers)
    sampler = Sampler(node, 0.5 if duration < 120 else 2.0)
    spec = {'transport': 'raw', 'frames': 60, 'gap': 1.0, 'timeout': duration + 60,
            'phases': [{'name': name, 'size': args.size, 'rate': rate, 'warmup': 0.0,
                        'duration': duration}]}
    try:
        events = run_phases(observer, node, spec)
        observer.spin_for(1.0)  # the last diagnostics, after the last output
    finally:
        samples = sampler.stop()
        memory = node.memory_mb()
        code, output, took = node.stop(signal.SIGINT)
        observer.close()
    ready = next(e for e in events if e['event'] == 'ready')
    start = next(e for e in events if e['event'] == 'start')
    end = next(e for e in events if e['event'] == 'end')
    t0 = start['t']
    outputs = [o for o in observer.outputs if o.frame_id == name]
    stamps = [o.stamp_ns for o in outputs]
    final = observer.diagnostics[-1][1] if observer.diagnostics else {}
    counts = counter_delta(None, final)
    return {
        't0': t0, 'duration_s': round(end['t'] - t0, 2),
        'published': end['published'], 'primed': ready.get('primed', 0),
        'rate_hz': round(end['published'] / (end['t'] - t0), 2),
        'publisher_late': end['late'],
        'outputs': len(outputs),
        'in_stamp_order': stamps == sorted(stamps),
        'ages': [(round((o.recv_ns / 1e9) - t0, 3), round(o.age_ms, 2)) for o in outputs],
        'rss': [(round(s['t'] - t0, 2), round(s.get('rss', float('nan')), 2)) for s in samples],
        'cpu': [(round(s['t'] - t0, 2), s['cpu_s']) for s in samples],
        # Cores used by other processes on the machine (other users), per sample interval.
        'others': [(round(b['t'] - t0, 2), round((b['other_s'] - a['other_s']) /
                                                 max(b['t'] - a['t'], 1e-6), 3))
                   for a, b in itertools.pairwise(samples)],
        'diagnostics': [(round(t - t0, 2), {k: d[k] for k in (
            'frames received', 'frames processed', 'frames dropped', 'frames lost upstream',
            'inference ms p50', 'inference ms p95')})
            for t, d in observer.diagnostics],
        'final_diagnostics': final, 'counters': counts,
        'marker_arrays': observer.marker_arrays,
        'peak_rss_mb': round(memory.get('hwm', float('nan')), 1),
        'stop_s': round(took, 2), **clean_exit(code, output),
    }


def other_load(run: dict) -> dict:
    """How busy the rest of the machine was: other users' work skews every number."""
    values = [v for _, v in run['others']]
    if not values:
        return {}
    return {'mean': round(float(np.mean(values)), 3), 'max': round(float(np.max(values)), 3),
            'share_of_time_above_0.25': round(float(np.mean(np.array(values) > 0.25)), 3)}


def window(series: list[tuple[float, float]], lo: float, hi: float) -> list[float]:
    return [v for t, v in series if lo <= t < hi]


def rss_summary(run: dict, settle: float) -> dict:
    """RSS after ``settle`` s vs at the end, and its trend (least squares) in MB/hour."""
    points = [(t, v) for t, v in run['rss'] if t >= settle and v == v]
    if len(points) < 2:
        points = [p for p in run['rss'] if p[1] == p[1]]
    t, v = np.array(points).T
    slope = float(np.polyfit(t, v, 1)[0]) * 3600 if len(t) > 2 else 0.0
    return {'rss_settled_mb': round(float(v[0]), 1), 'rss_end_mb': round(float(v[-1]), 1),
            'rss_growth_mb': round(float(v[-1] - v[0]), 2),
            'rss_max_mb': round(float(v.max()), 1), 'rss_trend_mb_per_hour': round(slope, 2),
            'settled_at_s': round(float(t[0]), 1)}


def burst(args) -> dict:
    run = stream(args, 'burst', args.rate or 120.0, args.duration or 60.0, markers=False)
    counts = run['counters']
    ages = [a for _, a in run['ages']]
    inference = [float(d['inference ms p50']) for _, d in run['diagnostics']
                 if d['inference ms p50']]
    invoke = float(np.median(inference)) if inference else float('nan')
    span = run['duration_s']
    sent = run['published'] + run['primed']
    report = {
        'size': args.size, 'rate_hz': run['rate_hz'], 'duration_s': span,
        'published': run['published'], 'outputs': run['outputs'],
        'processed_fps': round(run['outputs'] / span, 2),
        'node_invoke_ms_p50': round(invoke, 2),
        'age_ms': percentiles(ages, (50, 95, 99)),
        'age_p95_first_10s_ms': round(float(np.percentile(window(run['ages'], 0, 10), 95)), 2)
        if window(run['ages'], 0, 10) else None,
        'age_p95_last_10s_ms': round(float(np.percentile(
            window(run['ages'], span - 10, span + 5), 95)), 2)
        if window(run['ages'], span - 10, span + 5) else None,
        'counters': counts,
        # Every frame sent is processed, dropped by the node (a newer one came) or lost
        # before the node took it (transport / subscription queue), bar the last in flight.
        'unaccounted': sent - counts.get('frames received', 0) -
        counts.get('frames lost upstream', 0),
        'peak_rss_mb': run['peak_rss_mb'],
        **rss_summary(run, min(10.0, span / 3)),
        'in_stamp_order': run['in_stamp_order'], 'exit': {k: run[k] for k in (
            'exit_code', 'traceback', 'clean', 'stop_s')},
        'other_cpu_cores': other_load(run),
    }
    report['checks'] = {
        'node answered': run['outputs'] > 0,
        'outputs in capture order': run['in_stamp_order'],
        'every frame processed or counted dropped': counts.get('frames processed', 0) +
        counts.get('frames dropped', 0) == counts.get('frames received', -1),
        'clean exit': run['clean'],
    }
    plot_timeline(run, args.doc / 'node_burst.png',
                  f"movenet_node under a {run['rate_hz']:.0f} Hz burst ({args.model}, "
                  f"{args.size} bgr8, {args.threads} threads)", invoke)
    return report | {'timeline': {k: run[k] for k in ('rss', 'diagnostics', 'others')}}


def soak(args) -> dict:
    duration = args.duration or 660.0
    run = stream(args, 'soak', args.rate or 30.0, duration, markers=True)
    span = run['duration_s']
    minute = min(60.0, span / 3)
    first = window(run['ages'], 0, minute)
    last = window(run['ages'], span - minute, span + 5)
    counts = run['counters']
    report = {
        'size': args.size, 'rate_hz': run['rate_hz'], 'duration_s': span,
        'published': run['published'], 'outputs': run['outputs'],
        'marker_arrays': run['marker_arrays'],
        'latency_first_minute_ms': percentiles(first, (50, 95, 99)),
        'latency_last_minute_ms': percentiles(last, (50, 95, 99)),
        'counters': counts, 'peak_rss_mb': run['peak_rss_mb'],
        **rss_summary(run, minute),
        'in_stamp_order': run['in_stamp_order'],
        'exit': {k: run[k] for k in ('exit_code', 'traceback', 'clean', 'stop_s')},
        'other_cpu_cores': other_load(run),
    }
    report['checks'] = {
        'node answered': run['outputs'] > 0,
        'markers built for the subscriber': run['marker_arrays'] > 0,
        'outputs in capture order': run['in_stamp_order'],
        'clean exit': run['clean'],
    }
    # Targets (reported, not behavioural checks): RSS growth < 5 MB, no latency drift.
    report['targets'] = {
        'rss_growth_below_5_mb': report['rss_growth_mb'] < 5.0,
        'latency_p95_last_vs_first': round(
            report['latency_last_minute_ms']['p95'] / report['latency_first_minute_ms']['p95'],
            3) if first and last else None,
    }
    inference = [float(d['inference ms p50']) for _, d in run['diagnostics']
                 if d['inference ms p50']]
    plot_timeline(run, args.doc / 'node_soak.png',
                  f"movenet_node soak: {run['rate_hz']:.0f} Hz for {span / 60:.0f} min "
                  f"({args.model}, {args.size} bgr8, {args.threads} threads, markers "
                  'subscribed)', float(np.median(inference)) if inference else float('nan'),
                  binned=True)
    return report | {'timeline': {'rss': run['rss'], 'others': run['others']}}


def plot_timeline(run: dict, path: pathlib.Path, title: str, invoke_ms: float,
                  binned: bool = False) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (mem, age, rate) = plt.subplots(3, 1, figsize=(10, 8.5), sharex=True)
    if run.get('others'):
        busy = max(v for _, v in run['others'])
        run['other_cpu_cores_mean'] = round(float(np.mean([v for _, v in run['others']])), 3)
        run['other_cpu_cores_max'] = round(float(busy), 3)
    t, v = zip(*run['rss'], strict=True) if run['rss'] else ((), ())
    mem.plot(t, v, color='#4c72b0', label='VmRSS')
    mem.axhline(run['peak_rss_mb'], color='#c44e52', linestyle=':',
                label=f"peak (VmHWM) {run['peak_rss_mb']:.0f} MB")
    mem.set_ylabel('node RSS (MB)')
    mem.legend(loc='lower right', fontsize=8)
    mem.grid(alpha=0.3)
    if run['ages']:
        at, ages = np.array(run['ages']).T
        if binned:
            edges = np.arange(0, at.max() + 10, 10.0)
            index = np.digitize(at, edges)
            centres, p50, p95, top = [], [], [], []
            for i in np.unique(index):
                chunk = ages[index == i]
                centres.append(edges[i - 1] + 5)
                p50.append(np.median(chunk))
                p95.append(np.percentile(chunk, 95))
                top.append(chunk.max())
            age.plot(centres, top, color='#cccccc', label='max per 10 s')
            age.plot(centres, p95, color='#dd8452', label='p95 per 10 s')
            age.plot(centres, p50, color='#4c72b0', label='p50 per 10 s')
        else:
            age.plot(at, ages, '.', markersize=2, color='#4c72b0', label='each output')
    if invoke_ms == invoke_ms:
        age.axhline(invoke_ms, color='#55a868', linestyle='--',
                    label=f'node invoke() p50 {invoke_ms:.1f} ms')
    age.set_ylabel('age of poses on receipt (ms)')
    age.set_ylim(0, None)
    age.legend(loc='upper right', fontsize=8)
    age.grid(alpha=0.3)
    diag = run['diagnostics']
    if len(diag) > 1:
        # Rates from the node's cumulative counters, per bin (1 s, or 10 s when binned).
        step = 10.0 if binned else 1.0
        times = np.array([t for t, _ in diag])
        counters = {k: np.array([int(d[k]) for _, d in diag]) for k in (
            'frames received', 'frames processed', 'frames dropped', 'frames lost upstream')}
        edges = np.arange(times[0], times[-1] + step, step)
        index = np.searchsorted(times, edges).clip(0, len(times) - 1)
        dt = np.diff(times[index])
        dt[dt == 0] = np.nan
        centres = (times[index][1:] + times[index][:-1]) / 2

        def per_second(*keys: str) -> np.ndarray:
            total = sum(counters[k] for k in keys)
            return np.diff(total[index]) / dt

        rate.plot(centres, per_second('frames received', 'frames lost upstream'),
                  color='#8172b2', label='input (received + lost upstream)')
        rate.plot(centres, per_second('frames processed'), color='#55a868',
                  label='processed')
        rate.plot(centres, per_second('frames dropped'), color='#c44e52', linestyle=':',
                  label='dropped by the node (a newer frame came)')
        rate.set_ylim(0, None)
    if run.get('others'):
        other = rate.twinx()
        ot, ov = zip(*run['others'], strict=True)
        other.plot(ot, ov, color='#999999', linewidth=0.8,
                   label='CPU cores used by other processes on the machine')
        other.set_ylabel('other processes (cores)')
        other.set_ylim(0, 2)
        other.legend(loc='lower right', fontsize=8)
    rate.set_ylabel('frames per second\n(node /diagnostics)')
    rate.set_xlabel('seconds since the stream started')
    rate.legend(loc='upper left', fontsize=8)
    rate.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---- faults -------------------------------------------------------------------------------------

RAW_KINDS = ('unknown encoding', 'step smaller than a row', 'step/size mismatch', 'truncated',
             '0x0', 'absurdly large', 'odd-width yuv422', 'random bytes', 'random fields')
JPEG_KINDS = ('truncated jpeg', 'corrupt jpeg', 'header only', 'random bytes', 'empty',
              'absurd declared size', 'zero declared size', 'truncated png', 'absurd png',
              'compressedDepth')
JUNK_ENCODINGS = ('32FC7', '16UC1', '32FC1', 'bayer_rggb8', 'rgb16', 'nv12', '', 'BGR8 ',
                  'jpeg', '8UC3', 'mono16', 'ÿ')
ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', 'yuv422', 'yuv422_yuy2', 'uyvy',
             'yuyv')
U32 = 2**32 - 1


def random_size(rng: random.Random) -> int:
    """Mostly small payloads, a few large ones."""
    return rng.choice((rng.randint(0, 4096), rng.randint(0, 65536), rng.randint(0, 600_000)))


def bad_raw(rng: random.Random, kind: str):
    """One malformed sensor_msgs/Image of ``kind`` (small, so thousands stay cheap)."""
    from sensor_msgs.msg import Image

    w, h = rng.randint(1, 320), rng.randint(1, 240)
    msg = Image(width=w, height=h, encoding='bgr8', step=3 * w)
    size = 3 * w * h
    if kind == 'unknown encoding':
        letters = 'abcdefghijklmnopqrstuvwxyz0123456789_;'
        junk = ''.join(rng.choice(letters) for _ in range(rng.randint(1, 40)))
        msg.encoding = rng.choice((*JUNK_ENCODINGS, junk))
    elif kind == 'step smaller than a row':
        msg.step = rng.randint(0, 3 * w - 1)
        size = msg.step * h
    elif kind == 'step/size mismatch':
        msg.step = 3 * w + rng.randint(1, 5000)  # data sized for the unpadded rows
    elif kind == 'truncated':
        size = rng.randint(0, 3 * w * h - 1)
    elif kind == '0x0':
        msg.width, msg.height = rng.choice(((0, 0), (0, h), (w, 0)))
        msg.step = rng.randint(0, 3 * w)
        size = rng.randint(0, 1000)
    elif kind == 'absurdly large':
        msg.width = rng.choice((16385, 100_000, 2**31 - 1, U32))
        msg.height = rng.choice((h, 16385, 100_000, 2**31 - 1, U32))
        msg.step = min(U32, msg.width * 3) if rng.random() < 0.5 else rng.randint(0, U32)
        size = rng.randint(0, 4096)
    elif kind == 'odd-width yuv422':
        msg.width = w | 1
        msg.encoding = rng.choice(('yuv422', 'yuv422_yuy2', 'uyvy', 'yuyv'))
        msg.step = 2 * msg.width
        size = msg.step * h
    elif kind == 'random bytes':
        msg.encoding = rng.choice(ENCODINGS)
        msg.width, msg.height = rng.randint(1, 4000), rng.randint(1, 3000)
        msg.step = msg.width * rng.randint(1, 4)
        size = random_size(rng)
    else:  # random fields
        msg.encoding = rng.choice((*ENCODINGS, *JUNK_ENCODINGS))
        msg.width, msg.height = rng.randint(0, 70000), rng.randint(0, 70000)
        msg.step = rng.randint(0, U32)
        msg.is_bigendian = rng.randint(0, 255)
        size = random_size(rng)
    msg.data = rng.randbytes(size)
    return msg


def bad_compressed(rng: random.Random, kind: str, jpeg: bytes, png: bytes):
    """One malformed sensor_msgs/CompressedImage of ``kind``."""
    from sensor_msgs.msg import CompressedImage

    fmt, data = 'jpeg', jpeg
    sof = jpeg.find(b'\xff\xc0')
    if kind == 'truncated jpeg':
        data = jpeg[:rng.randint(1, len(jpeg) - 3)]
    elif kind == 'corrupt jpeg':  # entropy-coded bytes overwritten: may still decode
        body = bytearray(jpeg)
        for _ in range(rng.randint(1, 50)):
            i = rng.randint(sof + 20, len(body) - 3)
            body[i:i + 8] = rng.randbytes(8)
        data = bytes(body[:len(jpeg) - 2]) + b'\xff\xd9'
    elif kind == 'header only':
        data = b'\xff\xd8' + rng.randbytes(rng.randint(0, 3000))
    elif kind == 'random bytes':
        data = rng.randbytes(random_size(rng) or 1)
        fmt = rng.choice(('jpeg', 'png', '', 'bgr8; jpeg compressed bgr8'))
    elif kind == 'empty':
        data = b''
    elif kind in ('absurd declared size', 'zero declared size'):
        # A few hundred bytes declaring a huge (or empty) picture: a decompression bomb.
        side = (rng.choice((16385, 30000, 65535)) if kind == 'absurd declared size' else 0)
        other = rng.choice((side, 480)) if side else rng.choice((0, 640))
        data = (jpeg[:sof + 5] + struct.pack('>HH', side, other) + jpeg[sof + 9:sof + 400]
                + b'\xff\xd9')
    elif kind == 'truncated png':
        fmt, data = 'png', png[:rng.randint(1, len(png) - 13)]
    elif kind == 'absurd png':
        side = rng.choice((16385, 100_000, 2**31 - 1))
        fmt, data = 'png', png[:16] + struct.pack('>II', side, side) + png[24:200]
    else:  # compressedDepth
        fmt = rng.choice(('16UC1; compressedDepth png', '32FC1; compressedDepth'))
    return CompressedImage(format=fmt, data=data)


def faults_on(args, transport: str, count: int, seed: int) -> dict:
    """``count`` bad messages into a fresh node, a good frame after every batch."""
    import cv2
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage, Image

    from movenet_ros.conversions.images import array_to_compressed_msg, array_to_image_msg

    rng = random.Random(seed)
    frames = [cv2.resize(f, (640, 480), interpolation=cv2.INTER_AREA)
              for f in load_frames(60)[::6]]
    jpeg = transport == 'jpeg'
    good = [array_to_compressed_msg(f) if jpeg else array_to_image_msg(f, 'bgr8')
            for f in frames]
    jpeg_bytes = bytes(good[0].data) if jpeg else b''
    png_bytes = cv2.imencode('.png', frames[0])[1].tobytes()
    kinds = JPEG_KINDS if jpeg else RAW_KINDS
    # A deep subscription queue, so most bad messages reach the node's checks instead of
    # being overwritten in the queue by the next one.
    node = NodeUnderTest(args.model, args.threads, transport, params=('image_qos_depth:=100',))
    observer = Observer()
    publisher = observer.node.create_publisher(
        CompressedImage if jpeg else Image, 'image/compressed' if jpeg else 'image',
        QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    seq = 0

    def send(msg, frame_id: str) -> int:
        nonlocal seq
        seq += 1
        msg.header.stamp.sec, msg.header.stamp.nanosec = 1_000_000 + seq, 0
        msg.header.frame_id = frame_id
        publisher.publish(msg)
        return 1_000_000 + seq

    answered = {}

    def wait_answer(sec: int, timeout: float) -> bool:
        return observer.spin_until(
            lambda: any(o.stamp_ns // 1_000_000_000 == sec
                        for o in observer.outputs[-5:]), timeout)

    sent = dict.fromkeys(kinds, 0)
    bad_stamps: dict[int, str] = {}
    good_sent, good_answered, died = 0, 0, False
    started = time.monotonic()
    try:
        # Wait for the node: a good frame until it is answered.
        deadline = time.monotonic() + 30
        while not observer.outputs:
            if time.monotonic() > deadline or not node.alive():
                raise RuntimeError(f'node never answered:\n{node.output()[-3000:]}')
            send(good[0], 'prime')
            observer.spin_for(0.3)
        total = 0
        while total < count:
            for _ in range(min(rng.randint(20, 80), count - total)):
                kind = kinds[total % len(kinds)] if total < len(kinds) else rng.choice(kinds)
                msg = (bad_compressed(rng, kind, jpeg_bytes, png_bytes) if jpeg
                       else bad_raw(rng, kind))
                bad_stamps[send(msg, 'bad')] = kind
                sent[kind] += 1
                total += 1
                observer.spin_for(args.pace)
            sec = send(good[good_sent % len(good)], 'good')
            good_sent += 1
            ok = wait_answer(sec, 10.0)
            good_answered += ok
            answered[sec] = ok
            if not node.alive():
                died = True
                break
        observer.spin_for(1.0)
        final = observer.diagnostics[-1][1] if observer.diagnostics else {}
    finally:
        code, output, took = node.stop(signal.SIGINT)
        observer.close()
    accepted: dict[str, int] = {}
    for o in observer.outputs:
        kind = bad_stamps.get(o.stamp_ns // 1_000_000_000)
        if kind is not None and o.frame_id == 'bad':
            accepted[kind] = accepted.get(kind, 0) + 1
    counts = counter_delta(None, final)
    return {
        'transport': transport, 'bad_sent': sum(sent.values()), 'bad_sent_by_kind': sent,
        # Random fields can make a valid (if meaningless) picture: processed, not rejected.
        'bad_accepted_as_images_by_kind': accepted,
        'bad_rejected_by_node': counts.get('bad messages'),
        'not_checked_newer_frame_came': counts.get('frames dropped'),
        'lost_in_queue': counts.get('frames lost upstream'),
        'good_sent': good_sent, 'good_answered': good_answered,
        'node_died': died or code not in (0,), 'seconds': round(time.monotonic() - started, 1),
        'last_error': final.get('last error', ''), 'counters': counts,
        'stop_s': round(took, 2), **clean_exit(code, output),
    }


def faults(args) -> dict:
    count = args.count or 10_000
    runs = [faults_on(args, transport, count, seed=1234 + i)
            for i, transport in enumerate(args.transports.split(','))]
    report = {'count_per_transport': count, 'runs': runs}
    report['checks'] = {
        f"{r['transport']}: no crash": not r['node_died'] for r in runs} | {
        f"{r['transport']}: every good frame answered": r['good_answered'] == r['good_sent']
        for r in runs} | {
        f"{r['transport']}: clean exit": r['clean'] for r in runs}
    return report


# ---- restarts and signals -----------------------------------------------------------------------

def camera(node: NodeUnderTest, name: str, duration: float = 120.0) -> PublisherProcess:
    return PublisherProcess({'transport': 'raw', 'frames': 10, 'gap': 0.5,
                             'phases': [{'name': name, 'size': '640x480', 'rate': 30,
                                         'duration': duration}]}, node)


def wait_event(publisher: PublisherProcess, observer: Observer, kind: str,
               timeout: float = 40.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        event = publisher.next_event(observer, max(0.1, deadline - time.monotonic()))
        if event['event'] == kind:
            return event
        if event['event'] in ('exit', 'error'):
            raise RuntimeError(f'publisher: {event}\n{publisher.stderr()}')


def restarts(args) -> dict:
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from visualization_msgs.msg import MarkerArray

    from movenet_ros.msg import PersonPoseArray

    hold = args.hold
    report: dict = {}
    # 1. The camera dies and comes back, three times, while the node keeps running.
    node = NodeUnderTest(args.model, args.threads, 'raw')
    observer = Observer()
    cameras = []
    publisher = None
    try:
        for i, sig in enumerate((signal.SIGKILL, signal.SIGTERM, signal.SIGINT)):
            name = f'camera{i}'
            started = time.time()
            publisher = camera(node, name)
            ready = wait_event(publisher, observer, 'ready')
            observer.spin_for(hold)
            outputs = [o for o in observer.outputs if o.frame_id == name]
            publisher.stop(sig)
            observer.spin_for(0.5)
            cameras.append({'camera': i, 'killed_with': sig.name, 'outputs': len(outputs),
                            'first_output_after_start_s': round(
                                outputs[0].recv_ns / 1e9 - started, 2) if outputs else None,
                            'primed_s': round(ready['t'] - started, 2),
                            'node_alive': node.alive()})
        # 2. Late subscribers: a second node joins while frames flow, then leaves.
        publisher = camera(node, 'late')
        wait_event(publisher, observer, 'ready')
        observer.spin_for(hold)
        before = len(observer.outputs)
        late = rclpy.create_node('late_subscriber')
        got = {'poses': 0, 'pose_markers': 0, 'image_annotated': 0}
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)

        def counter(key: str):
            def callback(_msg) -> None:
                got[key] += 1
            return callback

        late.create_subscription(PersonPoseArray, 'poses', counter('poses'), reliable)
        late.create_subscription(MarkerArray, 'pose_markers', counter('pose_markers'), reliable)
        late.create_subscription(Image, 'image_annotated', counter('image_annotated'), reliable)
        observer.executor.add_node(late)
        joined = time.monotonic()
        first_seen = {}
        while time.monotonic() - joined < hold + 2:
            observer.executor.spin_once(timeout_sec=0.05)
            for key, n in got.items():
                if n and key not in first_seen:
                    first_seen[key] = round(time.monotonic() - joined, 2)
        observer.executor.remove_node(late)
        late.destroy_node()
        during = len(observer.outputs) - before
        observer.spin_for(1.0)
        after_leave = len(observer.outputs) - before - during
        publisher.stop(signal.SIGINT)
        report['late_subscriber'] = {
            'messages': got, 'first_after_join_s': first_seen,
            'first_subscriber_outputs_while_joined': during,
            'first_subscriber_outputs_after_it_left': after_leave}
        # 3. SIGINT under load.
        publisher = camera(node, 'sigint')
        wait_event(publisher, observer, 'ready')
        observer.spin_for(1.0)
    finally:
        code, output, took = node.stop(signal.SIGINT)
        if publisher is not None:
            publisher.stop(signal.SIGINT)
    report['camera_restarts'] = cameras
    stops = [{'signal': 'SIGINT', 'when': 'under 30 Hz load', 'stop_s': round(took, 2),
              **clean_exit(code, output)}]
    # 4. SIGTERM under load, and both signals when idle.
    for sig, loaded in ((signal.SIGTERM, True), (signal.SIGINT, False), (signal.SIGTERM, False)):
        node = NodeUnderTest(args.model, args.threads, 'raw')
        publisher = camera(node, 'stop')
        try:
            wait_event(publisher, observer, 'ready')
            if not loaded:
                publisher.stop(signal.SIGINT)
            observer.spin_for(1.0)
        finally:
            code, output, took = node.stop(sig)
            publisher.stop(signal.SIGINT)
        stops.append({'signal': sig.name, 'when': 'under 30 Hz load' if loaded else 'idle',
                      'stop_s': round(took, 2), **clean_exit(code, output)})
    observer.close()
    # 5. A signal at every moment of start-up (imports, rclpy.init, model loading, spinning).
    startup = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        for delay in args.startup_delays:
            node = NodeUnderTest(args.model, args.threads, 'raw')
            time.sleep(delay)
            code, output, took = node.stop(sig)
            outcome = clean_exit(code, output)
            # Before rclpy.init Python's own handlers act: SIGTERM kills (-15), which is
            # clean; SIGINT raises KeyboardInterrupt in the imports (entry-point script).
            outcome['clean'] = ((code in (0, -signal.SIGTERM) if sig == signal.SIGTERM
                                 else code == 0) and not outcome['traceback'])
            startup.append({'signal': sig.name, 'after_s': delay, **outcome,
                            'stop_s': round(took, 2),
                            'error': next((line for line in output.splitlines()[::-1]
                                           if 'Error' in line or 'Interrupt' in line), '')})
    report['stops'] = stops
    report['startup_signals'] = startup
    report['checks'] = {
        'node survived every camera restart': all(c['node_alive'] for c in cameras),
        'answered every restarted camera': all(c['outputs'] > 0 for c in cameras),
        'late subscriber got poses, markers and annotated images': all(got.values()),
        'first subscriber undisturbed': report['late_subscriber'][
            'first_subscriber_outputs_while_joined'] > 0 and report['late_subscriber'][
            'first_subscriber_outputs_after_it_left'] > 0,
        'clean exit on SIGINT/SIGTERM (idle and under load)': all(s['clean'] for s in stops),
    }
    # Reported separately: only the entry-point script can catch Ctrl-C during its imports.
    report['startup_signals_clean'] = sum(s['clean'] for s in startup)
    report['startup_signals_total'] = len(startup)
    return report


# ---- main ---------------------------------------------------------------------------------------

def summary(name: str, report: dict) -> list[str]:
    lines = [f'## {name}']
    skip = {'timeline', 'machine', 'checks', 'startup_signals', 'runs', 'camera_restarts',
            'stops', 'late_subscriber'}
    for key, value in report.items():
        if key not in skip:
            lines.append(f'- {key}: {json.dumps(value)}')
    for key in ('runs', 'camera_restarts', 'stops', 'late_subscriber'):
        if key in report:
            items = report[key] if isinstance(report[key], list) else [report[key]]
            lines += [f'- {key}: {json.dumps(item)}' for item in items]
    if 'startup_signals' in report:
        bad = [s for s in report['startup_signals'] if not s['clean']]
        lines.append(f"- startup signals: {report['startup_signals_clean']}/"
                     f"{report['startup_signals_total']} clean; not clean: {json.dumps(bad)}")
    for check, ok in report.get('checks', {}).items():
        lines.append(f"- check: {check}: {'OK' if ok else 'FAILED'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('what', choices=('burst', 'faults', 'soak', 'restarts', 'all'))
    parser.add_argument('--model', default=None,
                        help='model of the node (default: multipose for burst and soak, '
                             'lightning for faults and restarts)')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--size', default='1280x720', help='frame size for burst and soak')
    parser.add_argument('--rate', type=float, default=None,
                        help='Hz (default 120 for burst, 30 for soak)')
    parser.add_argument('--duration', type=float, default=None,
                        help='seconds (default 60 for burst, 660 for soak)')
    parser.add_argument('--count', type=int, default=None,
                        help='bad messages per transport (default 10000)')
    parser.add_argument('--transports', default='raw,jpeg', help='for faults')
    parser.add_argument('--pace', type=float, default=0.002,
                        help='seconds between bad messages (default 0.002)')
    parser.add_argument('--hold', type=float, default=3.0,
                        help='restarts: seconds each camera / subscriber stays')
    parser.add_argument('--startup-delays', default='0.05,0.2,0.35,0.45,0.6,1.0,2.0',
                        help='restarts: seconds after start at which a signal is sent')
    parser.add_argument('--domain', type=int, default=None, help='ROS_DOMAIN_ID (default 40-60)')
    parser.add_argument('--out', type=pathlib.Path, default=RESULTS)
    parser.add_argument('--doc', type=pathlib.Path, default=DOC, help='where plots go')
    args = parser.parse_args(argv)
    args.startup_delays = [float(v) for v in args.startup_delays.split(',') if v]
    use_private_domain(args.domain)
    failed = False
    model = args.model
    for name in (('burst', 'faults', 'restarts', 'soak') if args.what == 'all'
                 else (args.what,)):
        args.model = model or ('multipose' if name in ('burst', 'soak') else 'lightning')
        started = time.time()
        report = report_base(args, name) | {'burst': burst, 'faults': faults, 'soak': soak,
                                            'restarts': restarts}[name](args)
        report['elapsed_s'] = round(time.time() - started, 1)
        write(args, name, report)
        print('\n'.join(summary(name, report)), flush=True)
        failed |= not all(report.get('checks', {}).values())
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
