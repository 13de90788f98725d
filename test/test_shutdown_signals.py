# SPDX-License-Identifier: Apache-2.0
"""Ctrl-C and SIGTERM at any moment: the installed executables end cleanly, never a traceback.

Each program runs as its own process from its installed file, shebang included, as
`ros2 run` and launch start it. Time zero is the moment the process has taken charge of
SIGINT (the scripts' `env --block-signal` line holds it back, or the interpreter catches it);
before that the kernel is still loading `env`, and a signal has its default effect, as on any
program. The sweep's delays fall into the interpreter's start-up, the imports of rclpy, cv2,
NumPy and LiteRT, rclpy.init and the model's loading (where each lands depends on the load);
the busy cases send a second signal while the first one's teardown, or the interpreter's
finalisation, runs in a node that is processing real frames.

Exit codes (README, "Start-up and shutdown"): 0 for the nodes, 128 + the signal for the CLI.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_helpers import installed_program, spin_until

from movenet_ros.msg import PersonPoseArray

INT, TERM = signal.SIGINT, signal.SIGTERM
SWEEP_S = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.7)
# A first signal, then a second SIGINT while the first one's teardown runs.
DOUBLES = ((INT, 0.2, 0.05), (INT, 0.4, 0.02), (TERM, 0.4, 0.1))
SCHEDULES = ([((delay, sig),) for delay in SWEEP_S for sig in (INT, TERM)]
             + [((delay, sig), (delay + gap, INT)) for sig, delay, gap in DOUBLES])
NODE_PROGRAMS = ('movenet_node', 'video_publisher')
BAD_WORDS = ('Traceback', 'KeyboardInterrupt', 'Fatal Python error')
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)

Schedule = tuple[tuple[float, int], ...]


def installed(program: str) -> pathlib.Path:
    return installed_program(program)


def in_charge_of_sigint(pid: int) -> bool:
    """SIGINT is blocked or caught: the program's own start-up has begun."""
    status = pathlib.Path(f'/proc/{pid}/status').read_text()
    fields = dict(line.split(':', 1) for line in status.splitlines() if ':' in line)
    bit = 1 << (signal.SIGINT - 1)
    return bool((int(fields['SigBlk'], 16) | int(fields['SigCgt'], 16)) & bit)


class Run:
    """One installed program as its own process, its output in a file."""

    def __init__(self, log: pathlib.Path, program: str, *args: str) -> None:
        self.program, self.log = program, log
        with log.open('w') as out:
            self.proc = subprocess.Popen([str(installed(program)), *args], stdout=out,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10.0
        while not in_charge_of_sigint(self.proc.pid):
            assert time.monotonic() < deadline, f'{program} never took charge of SIGINT'
        self.started = time.monotonic()

    def send(self, schedule: Schedule, since: float | None = None) -> None:
        """Send each (delay, signal) of ``schedule``, delays counted from ``since``."""
        since = self.started if since is None else since
        for delay, signum in schedule:
            time.sleep(max(0.0, since + delay - time.monotonic()))
            self.proc.send_signal(signum)  # a no-op once the process has been reaped

    def finish(self, timeout: float = 30.0) -> tuple[int, str]:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9, self.log.read_text() + f'\n[still running after {timeout} s: killed]'
        return self.proc.returncode, self.log.read_text()

    def stop(self, schedule: Schedule, since: float | None = None) -> str | None:
        """Apply ``schedule``; None if the program ended as documented, else what went wrong."""
        self.send(schedule, since)
        code, out = self.finish()
        first = schedule[0][1]
        expected = 0 if self.program in NODE_PROGRAMS else 128 + first
        bad = [word for word in BAD_WORDS if word in out]
        # The CLI says it itself once running ('run stopped: ...'), else the entry point does.
        said = self.program in NODE_PROGRAMS or re.search(
            f'{self.program}: (run stopped: )?interrupted \\({signal.Signals(first).name}', out)
        if code == expected and not bad and said:
            return None
        steps = ', '.join(f'{signal.Signals(s).name} at {d * 1000:.0f} ms' for d, s in schedule)
        return (f'{self.program} ({steps}): exit {code}, expected {expected}'
                f'{"; output has " + ", ".join(bad) if bad else ""}'
                f'{"" if said else "; no interrupted line"}\n{out[-3000:]}')


@pytest.fixture
def program_args(repo, demo_video, tmp_path):
    """Arguments that make each program do real work: load the model, play the demo."""
    def args(program: str, tag: str) -> list[str]:
        if program == 'movenet_node':
            return ['--ros-args', '--params-file',
                    str(repo / 'config' / 'singlepose_lightning.yaml')]
        if program == 'video_publisher':
            return ['--ros-args', '-p', f'source:={demo_video}', '-p', 'loop:=true',
                    '-p', 'width:=320']
        return ['infer', str(demo_video), '--json', str(tmp_path / f'{tag}.jsonl')]
    return args


@pytest.mark.parametrize('program', ['movenet_node', 'video_publisher', 'movenet-ros'])
def test_a_signal_at_any_moment_of_the_start_up_ends_the_program_cleanly(
        program, program_args, tmp_path):
    def case(numbered: tuple[int, Schedule]) -> str | None:
        index, schedule = numbered
        run = Run(tmp_path / f'{index}.log', program, *program_args(program, str(index)))
        return run.stop(schedule)

    with ThreadPoolExecutor(4) as pool:
        failures = [f for f in pool.map(case, enumerate(SCHEDULES)) if f]
    assert not failures, f'{len(failures)} of {len(SCHEDULES)} cases:\n\n' + '\n\n'.join(failures)


def test_a_second_signal_while_busy_nodes_shut_down_is_ignored(ros_node, repo, demo_video,
                                                               tmp_path):
    """Three nodes estimate poses on the demo footage that video_publisher plays; each is
    stopped with a second signal 20-100 ms after the first, then the publisher likewise."""
    peer, executor = ros_node
    schedules: dict[str, Schedule] = {
        'a': ((0.0, INT), (0.02, INT)),
        'b': ((0.0, INT), (0.06, INT)),
        'c': ((0.0, TERM), (0.1, INT)),
    }
    answers: dict[str, list[PersonPoseArray]] = {name: [] for name in schedules}
    for name, received in answers.items():
        peer.create_subscription(PersonPoseArray, f'poses_{name}', received.append, RELIABLE)
    nodes = {name: Run(tmp_path / f'node_{name}.log', 'movenet_node', '--ros-args',
                       '--params-file', str(repo / 'config' / 'singlepose_lightning.yaml'),
                       '-r', f'__node:=movenet_{name}', '-r', f'poses:=poses_{name}')
             for name in schedules}
    publisher = Run(tmp_path / 'publisher.log', 'video_publisher', '--ros-args',
                    '-p', f'source:={demo_video}', '-p', 'loop:=true', '-p', 'width:=640',
                    '-p', 'rate:=10.0')
    failures = []
    try:
        busy = spin_until(peer, executor, lambda: all(
            sum(a.header.frame_id == 'camera_optical_frame' for a in received) >= 3
            for received in answers.values()), 90.0)
        assert busy, "the nodes did not all answer the publisher's frames:\n" + '\n'.join(
            f'{name}: {len(answers[name])} answers\n{run.log.read_text()[-1500:]}'
            for name, run in nodes.items())
        now = time.monotonic()
        with ThreadPoolExecutor(len(nodes)) as pool:
            failures += [f for f in pool.map(lambda n: nodes[n].stop(schedules[n], now), nodes)
                         if f]
        failures.append(publisher.stop(((0.0, INT), (0.05, INT)), time.monotonic()))
    finally:
        for run in (*nodes.values(), publisher):
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait()
    assert not any(failures), '\n\n'.join(f for f in failures if f)
    assert 'interrupted: published' in publisher.log.read_text()


def test_a_second_signal_while_the_cli_is_busy_is_ignored(demo_video, tmp_path):
    jsonl = tmp_path / 'poses.jsonl'
    run = Run(tmp_path / 'cli.log', 'movenet-ros', 'infer', str(demo_video),
              '--json', str(jsonl))
    deadline = time.monotonic() + 60.0
    while not (jsonl.is_file() and jsonl.stat().st_size):  # frames are being written
        assert run.proc.poll() is None and time.monotonic() < deadline, run.finish()[1]
        time.sleep(0.02)
    failure = run.stop(((0.0, INT), (0.05, INT)), time.monotonic())
    assert failure is None, failure
    assert re.search(r'movenet-ros: (run stopped: )?interrupted \(SIGINT', run.log.read_text())


SLOW_TEARDOWN = """
import time


def main():
    try:
        print('running', flush=True)
        time.sleep(60)
    except KeyboardInterrupt:
        print('tearing down', flush=True)
        time.sleep(60)
    return 0
"""


def test_a_signal_long_after_the_first_forces_a_hung_teardown_to_end(tmp_path):
    """The way out of a teardown that hangs: ignored at first, forced FORCE_AFTER_S later."""
    from movenet_ros.entry_points import FORCE_AFTER_S

    (tmp_path / 'slow_teardown.py').write_text(SLOW_TEARDOWN)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path), *os.environ.get('PYTHONPATH', '').split(os.pathsep)]))
    proc = subprocess.Popen(
        [sys.executable, '-c', 'from movenet_ros.entry_points import Program, run; '
         "run(Program('slow', 'slow_teardown:main', ros_node=True))"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout.readline() == 'running\n'
        first = time.monotonic()
        proc.send_signal(INT)
        assert proc.stdout.readline() == 'tearing down\n'
        proc.send_signal(INT)
        time.sleep(0.5)
        assert proc.poll() is None, 'a second signal right after the first cut the teardown'
        time.sleep(max(0.0, first + FORCE_AFTER_S + 0.5 - time.monotonic()))
        proc.send_signal(TERM)
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + TERM, out
    assert f'slow: still shutting down {FORCE_AFTER_S:.0f} s after the first signal; ' \
           'forced exit on SIGTERM' in out, out
    assert not any(word in out for word in BAD_WORDS), out


LOST_IN_A_CALLBACK = """
import os, signal, time, weakref


class Thing:
    pass


def main():
    def callback(_ref):  # Python prints and discards what a weakref callback raises
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(100_000):  # the handler runs here, inside the callback
            pass
    thing = Thing()
    ref = weakref.ref(thing, callback)
    del thing
    time.sleep(3)
    print('went on running', ref, flush=True)
    return 0
"""


def test_a_signal_that_lands_in_a_callback_still_stops_the_program(tmp_path):
    """Seen under load: SIGINT landed in import's module-lock callback, whose exceptions
    Python discards; the program printed a traceback and ran on."""
    (tmp_path / 'lost_signal.py').write_text(LOST_IN_A_CALLBACK)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path), *os.environ.get('PYTHONPATH', '').split(os.pathsep)]))
    run = subprocess.run(
        [sys.executable, '-c', 'from movenet_ros.entry_points import Program, run; '
         "run(Program('probe', 'lost_signal:main', ros_node=False))"],
        capture_output=True, text=True, env=env, timeout=30)
    out = run.stdout + run.stderr
    assert run.returncode == 128 + INT, out
    assert 'went on running' not in out, out
    assert 'probe: interrupted (SIGINT)' in out, out
    assert not any(word in out for word in (*BAD_WORDS, 'Exception ignored')), out


def test_a_signal_the_parent_ignores_stays_ignored(demo_video, tmp_path):
    """Started with SIGINT ignored (nohup, a shell's background job), Ctrl-C does nothing;
    SIGTERM still ends the program."""
    log = tmp_path / 'cli.log'
    with log.open('w') as out:
        proc = subprocess.Popen(
            ['env', '--ignore-signal=INT', str(installed('movenet-ros')), 'infer',
             str(demo_video), '--json', str(tmp_path / 'poses.jsonl')],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)
        proc.send_signal(INT)
        time.sleep(0.5)
        proc.send_signal(TERM)
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = log.read_text()
    assert code == 128 + TERM, out
    assert re.search(r'movenet-ros: (run stopped: )?interrupted \(SIGTERM', out), out
    assert not any(word in out for word in BAD_WORDS), out
