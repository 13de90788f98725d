# SPDX-License-Identifier: Apache-2.0
"""movenet_node's parameters over real DDS, through the parameter services every ROS tool
uses (``ros2 param``, rqt_reconfigure): run-time changes take effect between frames and keep
every person's id; configure-time ones are refused while configured, saying what to do;
parameters the node does not own are left alone; the shipped files list every parameter."""

from __future__ import annotations

import os
import pathlib

from builtin_interfaces.msg import Time
from footage import read_frames
import pytest
from rcl_interfaces.srv import DescribeParameters, ListParameters
import rclpy
from ros_helpers import call, set_parameters, spin_until, start_node, stop_cleanly
import yaml

from movenet_ros.conversions.images import array_to_image_msg

CONFIGS = ('singlepose_lightning', 'singlepose_thunder', 'multipose')


@pytest.fixture(scope='module')
def frames(demo_video):
    return read_frames(demo_video, range(90, 102))


def test_tuning_keeps_every_id_and_takes_effect_at_once(repo, camera, frames):
    node = start_node(repo, 'multipose', 'multipose_max_side:=512')
    try:
        camera.wait_for_node(node)
        answers = []

        def send(index: int) -> None:
            header = camera.header()
            header.stamp = Time(sec=1_800_000_000, nanosec=(index - 90) * 33_333_333)
            answers.append(camera.send_and_wait(array_to_image_msg(frames[index], 'bgr8',
                                                                   header)))
        for index in range(90, 96):
            send(index)
        before = {p.id for p in answers[-1].persons}
        assert before and all(a.keypoint_threshold == pytest.approx(0.3) for a in answers)
        # A threshold and the smoothing and tracking constants, at once (each of them gave
        # everyone new ids before issue 11).
        results = set_parameters(camera, keypoint_threshold=0.4, smoothing__beta=3.0,
                                 tracking__max_age_s=2.0, smoothing__min_cutoff=0.8)
        assert all(r.successful for r in results), results
        for index in range(96, 102):
            send(index)
        assert all(a.keypoint_threshold == pytest.approx(0.4) for a in answers[6:])
        ids = [{p.id for p in a.persons} for a in answers]
        assert all(frame_ids == before for frame_ids in ids), ids
    finally:
        stop_cleanly(node)


def test_what_is_refused_and_what_is_not(repo, camera):
    node = start_node(repo, 'singlepose_lightning')
    try:
        [model] = set_parameters(camera, model='thunder')
        assert not model.successful
        assert model.reason == ('model is applied on configure: deactivate and clean up the '
                                'node, set it, then configure again (or restart the node)')
        [autostart] = set_parameters(camera, autostart=False)
        assert not autostart.successful and 'read-only' in autostart.reason
        [similarity] = set_parameters(camera, tracking__similarity='nearest')
        assert similarity.reason == \
            "parameter tracking.similarity: 'nearest' is not one of oks, iou"
        [threshold] = set_parameters(camera, keypoint_threshold=1.5)
        assert not threshold.successful  # the descriptor's range, checked by rclpy
        # Not the node's: accepted. use_sim_time then goes back, so the node's clock does.
        assert [r.successful for r in set_parameters(camera, use_sim_time=True)] == [True]
        assert [r.successful for r in set_parameters(camera, use_sim_time=False)] == [True]
        camera.wait_for_node(node)  # still answering
    finally:
        stop_cleanly(node)


def flatten(tree: dict, prefix: str = '') -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= flatten(value, f'{prefix}{key}.')
        else:
            out[f'{prefix}{key}'] = value
    return out


def test_every_config_file_lists_every_declared_parameter(repo, camera):
    # What rclpy declares on every node (use_sim_time, ...): not the node's own.
    plain = rclpy.create_node('plain_node')
    rclpy_own = set(plain.get_parameters_by_prefix(''))
    plain.destroy_node()
    node = start_node(repo, 'multipose')
    try:
        names = call(camera, ListParameters, 'list_parameters',
                     ListParameters.Request()).result.names
        declared = set(names) - rclpy_own
        described = call(camera, DescribeParameters, 'describe_parameters',
                         DescribeParameters.Request(names=sorted(declared))).descriptors
        assert all(d.description and d.additional_constraints for d in described)
    finally:
        stop_cleanly(node)
    assert 'autostart' in declared and 'marker_line_width' in declared
    for config in CONFIGS:
        listed = flatten(yaml.safe_load((repo / 'config' / f'{config}.yaml').read_text())
                         ['/**']['ros__parameters'])
        assert set(listed) == declared, (config, sorted(set(listed) ^ declared))


def thread_cpus(pid: int) -> list[set[int]]:
    """The CPU set each thread of process ``pid`` may run on (/proc)."""
    return [os.sched_getaffinity(int(task.name))
            for task in pathlib.Path(f'/proc/{pid}/task').iterdir()]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason='needs 2 CPUs')
def test_thread_placement_pins_the_frame_thread_apart_from_the_workers(repo, camera, frames):
    """spread with 2 threads: the frame thread on the first half of the CPUs, the
    interpreter's worker on the other; diagnostics say so."""
    cpus = sorted(os.sched_getaffinity(0))
    first, second = set(cpus[:(len(cpus) + 1) // 2]), set(cpus[(len(cpus) + 1) // 2:])
    node = start_node(repo, 'singlepose_lightning', 'thread_placement:=spread')
    try:
        camera.wait_for_node(node)
        camera.send_and_wait(array_to_image_msg(frames[90], 'bgr8', camera.header()))
        placed = thread_cpus(node.proc.pid)
        # One thread (the frame thread) on the first group, the interpreter's worker on the
        # second, every other thread (main, executor, Fast DDS) left on all CPUs.
        assert placed.count(first) == 1, placed
        assert placed.count(second) == 1, placed
        assert placed.count(set(cpus)) == len(placed) - 2, placed
        assert os.sched_getaffinity(node.proc.pid) == set(cpus)  # the main thread
        assert spin_until(camera.node, camera.executor,
                          lambda: camera.diagnostics and 'worker' in
                          camera.diagnostics[-1].get('thread placement', ''), 5.0)
        state = camera.diagnostics[-1]['thread placement']
        assert state.startswith(f'caller on CPUs {",".join(map(str, sorted(first)))}, ')
        assert state.endswith(f' on CPUs {",".join(map(str, sorted(second)))}'), state
    finally:
        stop_cleanly(node)
