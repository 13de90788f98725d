# SPDX-License-Identifier: Apache-2.0
"""Thread placement (core/placement.py): the CPU affinity the real interpreter's threads get.

Each case runs the model in a thread of its own, so pytest's thread is never pinned.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import os
import threading

import numpy as np
import pytest

from movenet_ros.core.model import MoveNetModel
from movenet_ros.core.placement import ThreadPlacement, cpu_groups, thread_ids

CPUS = sorted(os.sched_getaffinity(os.getpid()))
needs_two_cpus = pytest.mark.skipif(len(CPUS) < 2, reason='needs 2 CPUs')


def run_in_thread(mode: str, num_threads: int):
    """Load and run Lightning in a fresh thread; (model, that thread's CPUs, its id)."""
    def work():
        model = MoveNetModel('lightning', num_threads=num_threads, thread_placement=mode)
        model.run(np.zeros((192, 192, 3), dtype=np.uint8))
        model.run(np.zeros((192, 192, 3), dtype=np.uint8))
        return model, os.sched_getaffinity(0), threading.get_native_id()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


def test_cpu_groups_cut_contiguous_near_equal_sets():
    assert cpu_groups([0, 1], 2) == [{0}, {1}]
    assert cpu_groups([3, 0, 2, 1], 2) == [{0, 1}, {2, 3}]
    assert cpu_groups([0, 1, 2, 3, 4], 3) == [{0, 1}, {2, 3}, {4}]
    assert cpu_groups([0, 1], 3) == []  # fewer CPUs than threads: no plan
    assert cpu_groups([0, 1], 0) == []


@needs_two_cpus
def test_spread_pins_caller_and_workers_to_disjoint_cpus():
    model, caller_cpus, caller = run_in_thread('spread', 2)
    groups = cpu_groups(CPUS, 2)
    assert caller_cpus == groups[0]
    workers = model.placement.workers
    assert workers and caller not in workers
    for tid in workers:
        assert tid in thread_ids()
        assert os.sched_getaffinity(tid) == groups[1]
    assert model.placement.state == (
        f'caller on CPUs {",".join(map(str, sorted(groups[0])))}, {len(workers)} worker(s) '
        f'on CPUs {",".join(map(str, sorted(groups[1])))}')


def test_none_pins_nothing():
    model, caller_cpus, _ = run_in_thread('none', 2)
    assert caller_cpus == set(CPUS)
    assert model.placement.workers == []
    assert model.placement.state == 'not pinned (thread_placement none)'


@needs_two_cpus
def test_fewer_cpus_than_threads_falls_back_to_no_pinning():
    threads = len(CPUS) + 1
    model, caller_cpus, _ = run_in_thread('spread', threads)
    assert caller_cpus == set(CPUS)
    assert all(os.sched_getaffinity(tid) == set(CPUS) for tid in model.placement.workers)
    assert model.placement.state == (
        f'not pinned ({len(CPUS)} CPUs for {threads} interpreter threads)')


def test_one_thread_has_no_workers_to_place():
    model, caller_cpus, _ = run_in_thread('spread', 1)
    assert caller_cpus == set(CPUS)
    assert model.placement.state == 'not pinned (1 interpreter thread: no workers)'


def test_unknown_placement_is_refused():
    with pytest.raises(ValueError, match="thread_placement must be one of spread, none, got 'x'"):
        ThreadPlacement('x', 2)
    with pytest.raises(ValueError, match='thread_placement must be one of'):
        MoveNetModel('lightning', thread_placement='pinned')
