#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Shared parts of the node benchmarks: the node under test, the camera, the observer.

The node runs as its own process, as it would on a robot, and is watched from outside:
CPU time and memory from ``/proc/<pid>``, frame accounting from ``/diagnostics``, latency as
the age of each ``poses`` message when it reaches another process (receipt time minus the
image stamp; every process is on one host, so they share the clock).

The camera is another process too (``python bench/common.py publish SPEC``): it plays
phases of real frames at a set size, transport and rate, and reports each phase on stdout as
JSON lines. Keeping it out of the observer's process keeps the observer's receipt times free
of the publisher's serialisation work; on a 2-core machine it still competes with the node
for CPU, which is what a camera driver on the same computer does too.

Every process gets a private ROS domain, localhost-only discovery and the Fast DDS profile
for large images (without it most HD frames never reach a best-effort subscriber).
"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
import json
import os
import pathlib
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
VIDEO = REPO / '.cache' / 'media' / 'demo.mp4'
FASTDDS_PROFILE = REPO / 'config' / 'fastdds_large_images.xml'
RESULTS = REPO / 'bench' / 'results'
DOC = REPO / 'doc'
# model name -> the parameter file it is started with
MODES = {'lightning': 'singlepose_lightning', 'thunder': 'singlepose_thunder',
         'multipose': 'multipose'}
TRANSPORTS = ('raw', 'jpeg')
CLOCK_TICK = os.sysconf('SC_CLK_TCK')


def use_private_domain(domain: int | None = None) -> int:
    """Isolate this process and its children from other ROS users of the machine."""
    if domain is None:
        domain = 40 + os.getpid() % 21  # 40..60, per process: parallel runs stay apart
    os.environ['ROS_DOMAIN_ID'] = str(domain)
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(FASTDDS_PROFILE)
    os.environ.setdefault('RCUTILS_LOGGING_BUFFERED_STREAM', '0')
    return domain


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720)."""
    width, height = (int(v) for v in text.lower().split('x'))
    return width, height


def load_frames(count: int, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """The first ``count`` frames of the demo video (BGR), resized to ``size`` (w, h)."""
    import cv2

    if not VIDEO.is_file():
        sys.exit(f'{VIDEO} is missing: run `make setup` first (it fetches the demo footage)')
    capture = cv2.VideoCapture(str(VIDEO))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        if size is not None and (frame.shape[1], frame.shape[0]) != size:
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        frames.append(frame)
    capture.release()
    if not frames:
        sys.exit(f'cannot decode {VIDEO}')
    return frames


def percentiles(values, qs=(50, 95, 99)) -> dict[str, float | None]:
    if len(values) == 0:
        return {f'p{q}': None for q in qs} | {'mean': None, 'max': None}
    array = np.asarray(values, dtype=float)
    out = {f'p{q}': float(np.percentile(array, q)) for q in qs}
    out['mean'] = float(array.mean())
    out['max'] = float(array.max())
    return out


def machine() -> dict:
    """What the numbers were measured on, and how busy the machine was."""
    import platform

    cpu = platform.machine()
    for line in pathlib.Path('/proc/cpuinfo').read_text().splitlines():
        if line.startswith('model name'):
            cpu = line.split(':', 1)[1].strip()
            break
    return {'cpu': cpu, 'cpus': len(os.sched_getaffinity(0)),
            'python': platform.python_version(),
            'OPENBLAS_CORETYPE': os.environ.get('OPENBLAS_CORETYPE'),
            'loadavg': [round(v, 2) for v in os.getloadavg()]}


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (field 3 on), None if the process is gone."""
    try:
        stat = pathlib.Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return None
    return stat.rsplit(')', 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of all threads of process ``pid`` so far (NaN if gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return float('nan')
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK  # utime, stime


def minor_faults(pid: int) -> float:
    """Minor page faults of process ``pid`` so far (minflt; NaN if gone): each is a page
    of memory the process touched for the first time since it was mapped."""
    fields = _stat_fields(pid)
    return float('nan') if fields is None else float(fields[7])


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used (all CPUs, since boot).

    Minus what the benchmark's own processes used, this is the load of everything else on
    the machine: other users' work skews every number and is reported with them.
    """
    fields = pathlib.Path('/proc/stat').read_text().split('\n', 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICK


def own_cpu_seconds() -> dict[int, float]:
    """CPU seconds of this process and each of its children (the node, the camera) so far."""
    children = []
    for task in pathlib.Path('/proc/self/task').iterdir():
        with contextlib.suppress(OSError):
            children += (task / 'children').read_text().split()
    own = {int(pid): cpu_seconds(int(pid)) for pid in children}
    own[os.getpid()] = time.process_time()
    return {pid: v for pid, v in own.items() if v == v}


# ---- the node under test ------------------------------------------------------------------

def node_executable() -> pathlib.Path:
    for prefix in filter(None, os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)):
        path = pathlib.Path(prefix) / 'lib' / 'movenet_ros' / 'movenet_node'
        if path.is_file():
            return path
    sys.exit('movenet_node not found: `source tools/env.sh` first (after `make setup`)')


@dataclass(frozen=True)
class Variant:
    """A build of the node to run: the current environment's, or another colcon install.

    ``LABEL=INSTALL[+KEY=VALUE...]`` on the command line: INSTALL is a colcon install folder
    (``current`` for the environment's own), KEY=VALUE environment variables for the node,
    NAME:=VALUE parameters for it (``+thread_placement:=none``).
    Another install runs with its own parameter files, its setup.bash sourced over this
    environment, so an old checkout built with the same venv can be timed against this one.
    """

    label: str
    install: pathlib.Path | None = None
    env: tuple[tuple[str, str], ...] = ()
    params: tuple[str, ...] = ()  # 'name:=value', as after -p
    prefix: tuple[str, ...] = ()  # run under this (e.g. ip netns exec NAME), pid kept

    @classmethod
    def parse(cls, text: str) -> Variant:
        label, _, rest = text.partition('=')
        where, *pairs = rest.split('+')
        if not label or not where:
            raise ValueError(f'expected LABEL=INSTALL[+KEY=VALUE...], got {text!r}')
        install = None if where == 'current' else pathlib.Path(where).resolve()
        if install is not None and not (install / 'setup.bash').is_file():
            raise ValueError(f'{install} is not a colcon install folder (no setup.bash)')
        params = tuple(p for p in pairs if ':=' in p)
        env = tuple(tuple(p.split('=', 1)) for p in pairs if ':=' not in p)
        return cls(label, install, env, params)

    def config(self, mode: str) -> pathlib.Path:
        if self.install is None:
            return REPO / 'config' / f'{mode}.yaml'
        return self.install / 'movenet_ros' / 'share' / 'movenet_ros' / 'config' / f'{mode}.yaml'

    def command(self, args: list[str]) -> list[str]:
        """The node's command line; ``exec`` keeps the pid the node's."""
        if self.install is None:
            return [*self.prefix, str(node_executable()), *args]
        exe = self.install / 'movenet_ros' / 'lib' / 'movenet_ros' / 'movenet_node'
        return [*self.prefix, 'bash', '-c', f'source {self.install}/setup.bash && exec "$0" "$@"',
                str(exe), *args]


CURRENT = Variant('current')


class NodeUnderTest:
    """movenet_node as a process, watched through /proc; its output goes to a file.

    The installed entry point re-executes Python in place, so the pid stays the node's.
    """

    def __init__(self, model: str, threads: int = 2, transport: str = 'raw',
                 params: tuple[str, ...] = (), diagnostics_period: float = 0.25,
                 variant: Variant = CURRENT) -> None:
        self.model, self.threads, self.transport = model, threads, transport
        args = ['--ros-args', '--params-file', str(variant.config(MODES[model])),
                '-p', f'num_threads:={threads}',
                '-p', f'image_transport:={"compressed" if transport == "jpeg" else "raw"}',
                '-p', f'diagnostics_period:={diagnostics_period}']
        for p in (*params, *variant.params):
            args += ['-p', p]
        self._start(variant.command(args), dict(variant.env))

    def _start(self, command: list[str], env: dict[str, str]) -> None:
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (lives as long as the node)
            'w+', prefix='movenet_node_', suffix='.log')
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                     text=True, env=os.environ | env)
        self.pid = self.proc.pid
        self.started = time.time()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU time of all the node's threads so far."""
        return cpu_seconds(self.pid)

    def minor_faults(self) -> float:
        return minor_faults(self.pid)

    def memory_mb(self) -> dict[str, float]:
        """Resident memory now (VmRSS) and its peak so far (VmHWM), in MB."""
        out = {}
        try:
            for line in pathlib.Path(f'/proc/{self.pid}/status').read_text().splitlines():
                key, _, value = line.partition(':')
                if key in ('VmRSS', 'VmHWM'):
                    out[{'VmRSS': 'rss', 'VmHWM': 'hwm'}[key]] = int(value.split()[0]) / 1024
        except OSError:
            pass
        return out

    def output(self) -> str:
        self.log.flush()
        return pathlib.Path(self.log.name).read_text(errors='replace')

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> tuple[int, str, float]:
        """Send ``sig``; return (exit code, output, seconds to exit). Killed if it hangs."""
        start = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        took = time.monotonic() - start
        out = self.output()
        self.log.close()
        return self.proc.returncode, out, took


class EchoUnderTest(NodeUnderTest):
    """The floor: a minimal rclpy node that answers each image with its header, as its own
    process (``python bench/common.py echo TRANSPORT``; see :func:`echo_main`).

    Same subscription QoS as movenet_node, same message types, same reply topic and QoS, so
    what the observer measures of it is what any Python node pays for the frame's transport.
    It tunes the allocator as movenet_node does (``MOVENET_ROS_MALLOC=off`` in ``env``: not).
    """

    def __init__(self, transport: str = 'raw', env: tuple[tuple[str, str], ...] = (),
                 prefix: tuple[str, ...] = ()) -> None:
        self.model, self.threads, self.transport = 'echo', 0, transport
        self._start([*prefix, sys.executable, str(pathlib.Path(__file__).resolve()), 'echo',
                     transport], dict(env))


class Sampler:
    """Samples the node's memory and CPU time every ``period`` seconds in a thread, and the
    CPU time everything else on the machine used ('other_s': not this benchmark's processes).
    """

    def __init__(self, node: NodeUnderTest, period: float = 0.5) -> None:
        self.samples: list[dict] = []
        self._node, self._period = node, period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        busy, own, other = machine_busy_seconds(), own_cpu_seconds(), 0.0
        while not self._stop.is_set() and self._node.alive():
            now_busy, now_own = machine_busy_seconds(), own_cpu_seconds()
            # Per process, so a child starting or exiting does not count as someone else.
            ours = sum(v - own[pid] for pid, v in now_own.items() if pid in own)
            other += max(0.0, now_busy - busy - ours)
            busy, own = now_busy, now_own
            self.samples.append({'t': time.time(), 'cpu_s': self._node.cpu_seconds(),
                                 'other_s': other, **self._node.memory_mb()})
            self._stop.wait(self._period)

    def stop(self) -> list[dict]:
        self._stop.set()
        self._thread.join()
        return self.samples


# ---- the observer: everything the node publishes, seen from another process --------------

@dataclass
class Output:
    """One ``poses`` message as received: image stamp and receipt time (ns), people found."""

    stamp_ns: int
    recv_ns: int
    frame_id: str
    persons: int

    @property
    def age_ms(self) -> float:
        return (self.recv_ns - self.stamp_ns) / 1e6


@dataclass
class Observer:
    """An rclpy node in the benchmark process collecting poses and diagnostics."""

    name: str = 'bench_observer'
    markers: bool = False  # also subscribe to pose_markers (the node builds them only then)
    outputs: list[Output] = field(default_factory=list)
    diagnostics: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    marker_arrays: int = 0

    def __post_init__(self) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

        from movenet_ros.msg import PersonPoseArray

        if not rclpy.ok():
            rclpy.init()
        self.node = rclpy.create_node(self.name)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        reliable = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                              reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(PersonPoseArray, 'poses', self._on_poses, reliable)
        from diagnostic_msgs.msg import DiagnosticArray

        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                      reliable)
        if self.markers:
            from visualization_msgs.msg import MarkerArray

            self.node.create_subscription(MarkerArray, 'pose_markers', self._on_markers,
                                          reliable)

    def _on_markers(self, _msg) -> None:
        self.marker_arrays += 1

    def _on_poses(self, msg) -> None:
        recv = time.time_ns()
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.outputs.append(Output(stamp, recv, msg.header.frame_id, len(msg.persons)))

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name.endswith('pose estimation'):
                self.diagnostics.append((time.time(),
                                         {kv.key: kv.value for kv in status.values}))

    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=min(0.05, max(0.0, deadline - time.monotonic())))

    def spin_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            self.executor.spin_once(timeout_sec=0.05)
        return True

    def diagnostics_at(self, t: float, after: bool = False) -> dict[str, str] | None:
        """The last diagnostics received before wall time ``t`` (or the first after it)."""
        if after:
            return next((d for when, d in self.diagnostics if when > t), None)
        before = [d for when, d in self.diagnostics if when < t]
        return before[-1] if before else None

    def between(self, start: float, end: float, prefix: str = '') -> list[Output]:
        """Outputs for images stamped in [start, end) (wall seconds) with this frame_id prefix."""
        lo, hi = int(start * 1e9), int(end * 1e9)
        return [o for o in self.outputs
                if lo <= o.stamp_ns < hi and o.frame_id.startswith(prefix)]

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown()


def counter_delta(before: dict | None, after: dict | None) -> dict[str, int]:
    """Difference of the node's cumulative frame counters between two diagnostics."""
    keys = ('frames received', 'frames processed', 'frames dropped', 'frames lost upstream',
            'bad messages')
    if after is None:
        return {}
    return {k: int(after[k]) - (int(before[k]) if before else 0) for k in keys}


# ---- the camera: a publisher process driven by a JSON spec ---------------------------------

class PublisherProcess:
    """``python bench/common.py publish SPEC`` with its JSON-line events on a queue.

    Each event is stamped with the node's CPU time and memory at the moment it is read, so a
    phase's CPU use is the difference between its 'measure' and 'end' events.
    """

    def __init__(self, spec: dict, node: NodeUnderTest | None = None) -> None:
        self.events: queue.Queue[dict] = queue.Queue()
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (lives as long as the process)
            'w+', prefix='bench_publisher_', suffix='.log')
        # spec 'prefix': run under it (e.g. ``ip netns exec NAME``: another network namespace).
        self.proc = subprocess.Popen(
            [*spec.get('prefix', ()), sys.executable, str(pathlib.Path(__file__).resolve()),
             'publish', json.dumps(spec)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, text=True)
        self._node = node
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if self._node is not None:
                event['node_cpu_s'] = self._node.cpu_seconds()
                event['node_minflt'] = self._node.minor_faults()
                event['node_mem_mb'] = self._node.memory_mb()
            event['publisher_cpu_s'] = cpu_seconds(self.proc.pid)
            event['bench_cpu_s'] = time.process_time()
            event['machine_busy_s'] = machine_busy_seconds()
            self.events.put(event)
        self.events.put({'event': 'exit'})

    def next_event(self, observer: Observer, timeout: float) -> dict:
        """Spin ``observer`` until the publisher reports something."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return self.events.get_nowait()
            except queue.Empty:
                observer.executor.spin_once(timeout_sec=0.01)
        raise TimeoutError(f'publisher silent for {timeout} s:\n{self.stderr()}')

    def go(self) -> None:
        """Let a publisher started with 'wait_go' play its next phase."""
        self.proc.stdin.write('go\n')
        self.proc.stdin.flush()

    def stderr(self) -> str:
        self.log.flush()
        return pathlib.Path(self.log.name).read_text(errors='replace')[-4000:]

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode


def run_phases(observer: Observer, node: NodeUnderTest, spec: dict,
               between: Callable[[int], None] | None = None) -> list[dict]:
    """Play ``spec`` through a publisher process; return its events (phases with times).

    With ``between``, the publisher waits before each phase until ``between(i)`` (i: the
    index of the phase to come, or len(phases) after the last one) has run: the gaps are
    where the benchmark measures what needs a quiet machine.
    """
    spec = dict(spec, wait_go=between is not None)
    publisher = PublisherProcess(spec, node)
    events = []
    ended = 0
    try:
        while True:
            event = publisher.next_event(observer, timeout=spec.get('timeout', 60.0))
            if event['event'] == 'exit':
                break
            if event['event'] == 'error':
                raise RuntimeError(f"publisher: {event['message']}\n{publisher.stderr()}")
            events.append(event)
            if not node.alive():
                raise RuntimeError(f'the node died:\n{node.output()[-4000:]}')
            if event['event'] in ('ready', 'end'):
                ended += event['event'] == 'end'
                if between is not None:
                    between(ended)
                    if ended < len(spec['phases']):
                        publisher.go()
    finally:
        code = publisher.stop()
    if code not in (0, None):
        raise RuntimeError(f'publisher exited with {code}:\n{publisher.stderr()}')
    observer.spin_for(0.3)
    return events


def phase_windows(events: list[dict]) -> list[dict]:
    """Join each phase's 'start', 'measure' and 'end' events into one dict."""
    phases: dict[str, dict] = {}
    for e in events:
        if e['event'] in ('start', 'measure', 'end'):
            phase = phases.setdefault(e['phase'], {'phase': e['phase']})
            phase[e['event']] = e
    return list(phases.values())


def publish_main(spec: dict) -> int:
    """The camera process: prime the node, then play every phase of ``spec``.

    spec: {'transport': 'raw'|'jpeg', 'frames': int, 'jpeg_quality': int, 'gap': s,
           'prime': bool, 'wait_go': bool (read a line on stdin before each phase),
           'phases': [{'name', 'size': 'WxH', 'rate': Hz, 'warmup': s, 'duration': s}, ...]}
    Events: ready, then per phase start / measure (end of warm-up) / end, all with wall time
    't'; 'end' carries 'published' (whole phase) and 'measured' (after the warm-up) counts.
    The allocator is tuned as in video_publisher (``MOVENET_ROS_MALLOC=off``: not).
    """
    from movenet_ros.entry_points import tune_malloc

    tune_malloc()
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import CompressedImage, Image

    from movenet_ros.conversions.images import array_to_compressed_msg, array_to_image_msg
    from movenet_ros.msg import PersonPoseArray

    def emit(**event) -> None:
        print(json.dumps(event), flush=True)

    rclpy.init(signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = rclpy.create_node('bench_camera')
    jpeg = spec.get('transport', 'raw') == 'jpeg'
    # What camera drivers do: reliable by default (the node's best-effort reader matches).
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE) \
        if spec.get('reliable') else qos_profile_sensor_data
    publisher = node.create_publisher(CompressedImage if jpeg else Image,
                                      'image/compressed' if jpeg else 'image', qos)
    source = load_frames(spec.get('frames', 30))
    cache: dict[str, list] = {}

    def messages(size: str) -> list:
        if size not in cache:
            import cv2

            wh = parse_size(size)
            frames = [cv2.resize(f, wh, interpolation=cv2.INTER_AREA) for f in source]
            if jpeg:
                cache[size] = [array_to_compressed_msg(f, quality=spec.get('jpeg_quality', 90))
                               for f in frames]
            else:
                cache[size] = [array_to_image_msg(f, 'bgr8') for f in frames]
        return cache[size]

    def stamp(msg, frame_id: str) -> None:
        now = time.time_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 1_000_000_000)
        msg.header.frame_id = frame_id

    try:
        for phase in spec['phases']:
            messages(phase['size'])  # encode everything before the clock starts
        primed = 0
        if spec.get('prime', True):
            answered = []
            sub = node.create_subscription(
                PersonPoseArray, 'poses',
                lambda m: answered.append(m.header.frame_id == 'prime'),
                QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
            first = messages(spec['phases'][0]['size'])[0]
            deadline = time.monotonic() + spec.get('prime_timeout', 30.0)
            while not any(answered):
                if time.monotonic() > deadline:
                    emit(event='error', message='the node never answered a priming frame')
                    return 1
                stamp(first, 'prime')
                publisher.publish(first)
                primed += 1
                end = time.monotonic() + 0.25
                while time.monotonic() < end:
                    rclpy.spin_once(node, timeout_sec=0.05)
            node.destroy_subscription(sub)
            time.sleep(spec.get('gap', 1.0))
        emit(event='ready', t=time.time(), primed=primed)
        for phase in spec['phases']:
            if spec.get('wait_go') and not sys.stdin.readline():
                break  # the benchmark went away
            msgs = messages(phase['size'])
            period = 1.0 / phase['rate']
            warmup, duration = phase.get('warmup', 0.0), phase['duration']
            emit(event='start', phase=phase['name'], t=time.time())
            start = time.monotonic()
            next_at, index, published, measured, late = start, 0, 0, 0, 0
            measuring = warmup <= 0
            if measuring:
                emit(event='measure', phase=phase['name'], t=time.time())
            publish_s = 0.0
            while True:
                now = time.monotonic()
                if not measuring and now - start >= warmup:
                    measuring = True
                    emit(event='measure', phase=phase['name'], t=time.time())
                if now - start >= warmup + duration:
                    break
                if next_at > now:
                    time.sleep(next_at - now)
                msg = msgs[index % len(msgs)]
                index += 1
                stamp(msg, phase['name'])
                t0 = time.perf_counter()
                publisher.publish(msg)
                publish_s += time.perf_counter() - t0
                published += 1
                measured += measuring
                next_at += period
                if next_at < time.monotonic() - period:  # cannot keep up: do not burst
                    next_at = time.monotonic()
                    late += 1
            emit(event='end', phase=phase['name'], t=time.time(), published=published,
                 measured=measured, late=late,
                 publish_ms_mean=1000.0 * publish_s / max(published, 1))
            if not spec.get('wait_go'):
                time.sleep(phase.get('gap', spec.get('gap', 1.0)))
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def echo_main(transport: str) -> int:
    """The floor node: each image answered by an empty PersonPoseArray with its header.

    Subscription and reply as movenet_node's (best effort depth 1 in, reliable depth 10 out),
    single-threaded executor, nothing done with the pixels.
    """
    from movenet_ros.entry_points import tune_malloc

    tuned = tune_malloc()
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage, Image

    from movenet_ros.msg import PersonPoseArray

    rclpy.init()
    node = rclpy.create_node('bench_echo')
    node.get_logger().info(tuned)
    poses = node.create_publisher(PersonPoseArray, 'poses', QoSProfile(
        depth=10, reliability=ReliabilityPolicy.RELIABLE))
    jpeg = transport == 'jpeg'
    node.create_subscription(
        CompressedImage if jpeg else Image, 'image/compressed' if jpeg else 'image',
        lambda msg: poses.publish(PersonPoseArray(header=msg.header)),
        QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                   reliability=ReliabilityPolicy.BEST_EFFORT))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == 'publish':
        sys.exit(publish_main(json.loads(sys.argv[2])))
    if len(sys.argv) == 3 and sys.argv[1] == 'echo':
        sys.exit(echo_main(sys.argv[2]))
    sys.exit(f'usage: {sys.argv[0]} publish SPEC_JSON | echo raw|jpeg (started by the bench '
             'scripts)')
