# SPDX-License-Identifier: Apache-2.0
"""Where the interpreter's threads run: the calling thread and its workers on separate CPUs.

With more than one interpreter thread, ``invoke()`` splits its work between the thread that
calls it and the interpreter's worker threads (XNNPACK's thread pool, started by
``allocate_tensors()``). Between two frames of a camera the workers go to sleep, and the
scheduler often wakes them on the CPU the caller is running on: then the two halves of the
work take turns on one CPU while the other idles, and a paced ``invoke()`` takes up to twice
as long as back to back (measured: in 57-100 % of the paced calls the worker had last run on
the caller's CPU). Pinning the caller and each worker to CPUs of their own removes that.

Linux only (``os.sched_setaffinity`` on thread ids, ``/proc/self/task``); elsewhere, or when
the process has fewer CPUs than interpreter threads, nothing is pinned and :attr:`state`
says why.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import threading

PLACEMENTS = ('spread', 'none')
TASKS = pathlib.Path('/proc/self/task')


def cpu_groups(cpus: list[int], groups: int) -> list[set[int]]:
    """``cpus`` cut into ``groups`` disjoint, contiguous, near-equal sets (empty: too few)."""
    if groups < 1 or len(cpus) < groups:
        return []
    cpus = sorted(cpus)
    size, extra = divmod(len(cpus), groups)
    out, start = [], 0
    for i in range(groups):
        end = start + size + (i < extra)
        out.append(set(cpus[start:end]))
        start = end
    return out


def thread_ids() -> set[int]:
    """The ids of this process's threads now (empty where /proc is missing)."""
    try:
        return {int(name) for name in os.listdir(TASKS)}
    except OSError:
        return set()


def _thread_name(tid: int) -> str:
    try:
        return (TASKS / str(tid) / 'comm').read_text().strip()
    except OSError:
        return ''


class ThreadPlacement:
    """Pins one interpreter's calling thread and worker threads to disjoint CPU sets.

    ``spread``: the CPUs the process may use are cut into ``num_threads`` groups; the caller
    gets the first, the workers the others. ``none``: nothing is pinned. Workers are the
    threads that appear while the interpreter allocates its tensors or first runs
    (:meth:`watch`); the caller is pinned on every call from a new thread (:meth:`pin_caller`).
    """

    def __init__(self, mode: str, num_threads: int) -> None:
        if mode not in PLACEMENTS:
            raise ValueError(f'thread_placement must be one of {", ".join(PLACEMENTS)}, '
                             f'got {mode!r}')
        self.mode = mode
        self.num_threads = num_threads
        self.workers: list[int] = []
        self._groups: list[set[int]] | None = None
        self._caller: int | None = None
        self.state = 'not pinned (thread_placement none)' if mode == 'none' else \
            'not pinned yet (no invoke)'
        if mode != 'none' and num_threads < 2:
            self.state = 'not pinned (1 interpreter thread: no workers)'

    @property
    def active(self) -> bool:
        """Anything to place: 'spread', workers to keep apart, and an OS that can pin."""
        return self.mode != 'none' and self.num_threads > 1 and \
            hasattr(os, 'sched_setaffinity')

    def watch(self, action):
        """Run ``action()``; threads started meanwhile are the interpreter's workers."""
        if not self.active:
            return action()
        before = thread_ids()
        try:
            return action()
        finally:
            caller = threading.get_native_id()
            new = sorted(t for t in thread_ids() - before - {caller}
                         if not _thread_name(t).startswith('dds.'))  # Fast DDS's own
            if new:
                self.workers = [t for t in self.workers if t in thread_ids()] + new
                self._pin_workers()

    def pin_caller(self) -> None:
        """Pin the thread calling now (cheap when it is the one pinned last)."""
        if not self.active:
            return
        caller = threading.get_native_id()
        if caller == self._caller:
            return
        groups = self._plan()
        if groups:
            os.sched_setaffinity(caller, groups[0])
        self._caller = caller
        self._describe()

    def _plan(self) -> list[set[int]]:
        if self._groups is None:
            # The process's CPUs (its main thread's), not the calling thread's: that one may
            # be pinned already by an earlier model.
            self._groups = cpu_groups(sorted(os.sched_getaffinity(os.getpid())),
                                      self.num_threads)
        return self._groups

    def _pin_workers(self) -> None:
        groups = self._plan()
        if not groups:
            self._describe()
            return
        for i, tid in enumerate(self.workers):
            with contextlib.suppress(OSError):  # the thread has ended
                os.sched_setaffinity(tid, groups[1 + i % (len(groups) - 1)]
                                     if len(groups) > 1 else groups[0])
        self._describe()

    def _describe(self) -> None:
        groups = self._plan()
        if not groups:
            self.state = (f'not pinned ({len(os.sched_getaffinity(os.getpid()))} CPUs for '
                          f'{self.num_threads} interpreter threads)')
        else:
            worker_cpus = sorted(set().union(*groups[1:]))
            self.state = (f'caller on CPUs {_cpus(groups[0])}, {len(self.workers)} worker(s) '
                          f'on CPUs {_cpus(worker_cpus)}')


def _cpus(cpus) -> str:
    return ','.join(str(c) for c in sorted(cpus))
