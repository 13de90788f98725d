#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Several cameras: one movenet_node for all of them vs one movenet_node per camera.

Three layouts: one node with one interpreter (``num_threads`` 2), one node with two
interpreters (``num_threads`` 1 each), and one node per camera (``num_threads`` 2 each). For
each camera count (1, 2, 4 by default) the layouts run in the same invocation, the cases
interleaved (and their order alternated on each repeat), so the machine's other load
hits all alike. One camera process publishes every camera (``cam0/image``, ``cam1/image``,
...: real frames of the demo video at the set size and rate, stamped with the wall clock);
the node(s) answer on ``cam<i>/poses``; this process receives every answer:

* **total fps**: answers per second over the measured window, all cameras;
* **per-camera fps min / max**: fairness (equal rates give min / max = 1);
* **latency p95**: answer receipt minus image stamp, over all cameras (one host, one clock);
* **peak RSS**: the sum of the node processes' VmHWM (the camera process is the same in every
  layout and not counted).

Every case records ``os.getloadavg()`` before and after. Writes ``results/multicam.json``
and ``results/multicam.md``::

    python bench/multicam.py                    # 1, 2, 4 cameras, 2 repeats, ~8 minutes
    python bench/multicam.py --cameras 2 --repeats 1 --duration 3 --out /tmp/x   # smoke
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

from common import (
    MODES,
    RESULTS,
    NodeUnderTest,
    load_frames,
    machine,
    machine_busy_seconds,
    parse_size,
    percentiles,
    use_private_domain,
)

LAYOUTS = ('one process', 'one process, 2 interpreters', 'process per camera')


def camera_names(count: int) -> list[str]:
    return [f'cam{i}' for i in range(count)]


# ---- the camera process --------------------------------------------------------------------

def publish_main(count: int, size: str, rate: float, frames: int) -> int:
    """Publish ``count`` cameras at ``rate`` Hz each until SIGINT (staggered in time)."""
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from movenet_ros.conversions.images import array_to_image_msg

    rclpy.init(signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = rclpy.create_node('bench_cameras')
    names = camera_names(count)
    publishers = [node.create_publisher(Image, f'{n}/image', qos_profile_sensor_data)
                  for n in names]
    msgs = [array_to_image_msg(f, 'bgr8') for f in load_frames(frames, parse_size(size))]
    period = 1.0 / rate
    start = time.monotonic()
    due = [start + period * i / count for i in range(count)]
    sent = [0] * count
    try:
        while True:
            i = min(range(count), key=due.__getitem__)
            wait = due[i] - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            msg = msgs[sent[i] % len(msgs)]
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(time.time_ns(), 10**9)
            msg.header.frame_id = names[i]
            publishers[i].publish(msg)
            sent[i] += 1
            due[i] = max(due[i] + period, time.monotonic() - period)  # late: no burst
    except KeyboardInterrupt:
        pass
    finally:
        print(json.dumps({'sent': sent}), flush=True)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


# ---- one case -------------------------------------------------------------------------------

class Answers:
    """Every camera's poses, as (camera, stamp ns, receipt ns)."""

    def __init__(self, names: list[str]) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from movenet_ros.msg import PersonPoseArray

        self.node = rclpy.create_node('bench_multicam_observer')
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.got: list[tuple[str, int, int]] = []
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        for name in names:
            self.node.create_subscription(PersonPoseArray, f'{name}/poses',
                                          lambda m, n=name: self._on(n, m), qos)

    def _on(self, name: str, msg) -> None:
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        self.got.append((name, stamp, time.time_ns()))

    def spin(self, seconds: float, until=None) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if until is not None and until():
                return True
            self.executor.spin_once(timeout_sec=0.02)
        return until is None

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def run_case(count: int, layout: str, args) -> dict:
    names = camera_names(count)
    params = (f'multipose_max_side:={args.max_side}',)
    if layout == LAYOUTS[0]:
        nodes = [NodeUnderTest(args.model, args.threads,
                               params=(*params, 'interpreters:=1',
                                       f'cameras:=[{",".join(names)}]'))]
    elif layout == LAYOUTS[1]:  # the 2 cores split between two interpreters
        nodes = [NodeUnderTest(args.model, max(1, args.threads // 2),
                               params=(*params, 'interpreters:=2',
                                       f'cameras:=[{",".join(names)}]'))]
    else:
        nodes = [NodeUnderTest(args.model, args.threads,
                               params=(*params, 'interpreters:=1', f'cameras:=[{n}]'))
                 for n in names]
    load_before = [round(v, 2) for v in os.getloadavg()]
    answers = Answers(names)
    camera = subprocess.Popen(
        [sys.executable, __file__, 'publish', str(count), args.size, str(args.rate),
         str(args.frames)], stdout=subprocess.PIPE, text=True)
    try:
        ready = answers.spin(60.0, lambda: {n for n, _, _ in answers.got} == set(names))
        if not ready:
            raise RuntimeError(f'{layout}, {count} cameras: not every camera answered')
        answers.spin(args.warmup)
        answers.got.clear()
        cpu_before, busy_before = sum(n.cpu_seconds() for n in nodes), machine_busy_seconds()
        start = time.time_ns()
        answers.spin(args.duration)
        end = time.time_ns()
        cpu = sum(n.cpu_seconds() for n in nodes) - cpu_before
        busy = machine_busy_seconds() - busy_before
        memory = [node.memory_mb() for node in nodes]
    finally:
        camera.send_signal(signal.SIGINT)
        out, _ = camera.communicate(timeout=20)
        codes = [node.stop()[0] for node in nodes]
        answers.close()
    window = [(n, s, r) for n, s, r in answers.got if start <= r < end]
    seconds = (end - start) / 1e9
    per_camera = {n: sum(1 for c, _, _ in window if c == n) / seconds for n in names}
    latency = percentiles([(r - s) / 1e6 for _, s, r in window], (50, 95))
    return {
        'cameras': count, 'layout': layout, 'seconds': seconds,
        'total_fps': sum(per_camera.values()), 'per_camera_fps': per_camera,
        'min_fps': min(per_camera.values()), 'max_fps': max(per_camera.values()),
        'latency_ms': latency, 'peak_rss_mb': sum(m.get('hwm', 0.0) for m in memory),
        # CPU time of the node process(es) per answered frame: what a frame costs, which the
        # other sessions' load changes less than it changes the rates.
        'node_cpu_cores': cpu / seconds, 'cpu_ms_per_frame': 1000.0 * cpu / max(len(window), 1),
        'machine_busy_cores': busy / seconds,
        'processes': len(nodes), 'exit_codes': codes,
        'sent': json.loads(out.strip().splitlines()[-1])['sent'] if out.strip() else None,
        'loadavg_before': load_before, 'loadavg_after': [round(v, 2) for v in os.getloadavg()],
    }


# ---- the report -------------------------------------------------------------------------------

def table(cases: list[dict]) -> str:
    """One row per (cameras, layout): the mean over repeats (min-max of totals)."""
    rows = ['| cameras | layout | total fps | per-camera fps min / max | min / max | '
            'latency p95 ms | peak RSS MB (all nodes) | node CPU ms / frame | '
            'load avg (1 min) |',
            '|---:|---|---:|---:|---:|---:|---:|---:|---|']
    keys = sorted({(c['cameras'], LAYOUTS.index(c['layout'])) for c in cases})
    for count, index in keys:
        runs = [c for c in cases if c['cameras'] == count and c['layout'] == LAYOUTS[index]]

        def mean(key, runs=runs):
            return sum(key(c) for c in runs) / len(runs)

        totals = [c['total_fps'] for c in runs]
        loads = sorted({c['loadavg_before'][0] for c in runs} |
                       {c['loadavg_after'][0] for c in runs})
        rows.append(
            f'| {count} | {LAYOUTS[index]} | {mean(lambda c: c["total_fps"]):.1f} '
            f'({min(totals):.1f}-{max(totals):.1f}) | '
            f'{mean(lambda c: c["min_fps"]):.1f} / {mean(lambda c: c["max_fps"]):.1f} | '
            f'{mean(lambda c: c["min_fps"] / max(c["max_fps"], 1e-9)):.2f} | '
            f'{mean(lambda c: c["latency_ms"]["p95"] or 0.0):.0f} | '
            f'{mean(lambda c: c["peak_rss_mb"]):.0f} | '
            f'{mean(lambda c: c["cpu_ms_per_frame"]):.1f} | {loads[0]:.1f}-{loads[-1]:.1f} |')
    return '\n'.join(rows) + '\n'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--cameras', type=int, nargs='+', default=[1, 2, 4])
    parser.add_argument('--model', choices=tuple(MODES), default='multipose')
    parser.add_argument('--threads', type=int, default=2, help='num_threads of every node')
    parser.add_argument('--max-side', type=int, default=256, help='multipose_max_side')
    parser.add_argument('--size', default='1280x720')
    parser.add_argument('--rate', type=float, default=30.0, help='Hz per camera')
    parser.add_argument('--frames', type=int, default=30, help='demo frames cycled through')
    parser.add_argument('--warmup', type=float, default=3.0, help='s after every camera answered')
    parser.add_argument('--duration', type=float, default=10.0, help='s measured per case')
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--out', type=pathlib.Path, default=RESULTS)
    parser.add_argument('--domain', type=int, help='ROS domain (default: one of 40-60)')
    args = parser.parse_args()
    use_private_domain(args.domain)
    import rclpy

    rclpy.init()
    started = machine()
    cases = []
    try:
        for repeat in range(args.repeats):
            for count in args.cameras:
                # Interleaved, the order alternated: no layout always runs first. With one
                # camera, two interpreters would be one (at most one per camera).
                layouts = [lay for lay in LAYOUTS if count > 1 or lay != LAYOUTS[1]]
                order = layouts if (repeat + count) % 2 == 0 else layouts[::-1]
                for layout in order:
                    case = run_case(count, layout, args) | {'repeat': repeat}
                    cases.append(case)
                    print(f'{count} camera(s), {layout}: {case["total_fps"]:.1f} fps total, '
                          f'{case["min_fps"]:.1f}-{case["max_fps"]:.1f} per camera, p95 '
                          f'{case["latency_ms"]["p95"] or 0:.0f} ms, '
                          f'{case["peak_rss_mb"]:.0f} MB, {case["cpu_ms_per_frame"]:.1f} CPU ms '
                          f'per frame, load {case["loadavg_before"][0]}',
                          flush=True)
    finally:
        rclpy.try_shutdown()
    args.out.mkdir(parents=True, exist_ok=True)
    settings = {k: (str(v) if isinstance(v, pathlib.Path) else v) for k, v in vars(args).items()}
    (args.out / 'multicam.json').write_text(json.dumps(
        {'machine_before': started, 'machine_after': machine(), 'settings': settings,
         'cases': cases}, indent=1))
    report = table(cases)
    (args.out / 'multicam.md').write_text(report)
    print(report)
    return 0


if __name__ == '__main__':
    if len(sys.argv) == 6 and sys.argv[1] == 'publish':
        sys.exit(publish_main(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]),
                              int(sys.argv[5])))
    sys.exit(main())
