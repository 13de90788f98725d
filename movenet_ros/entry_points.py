# SPDX-License-Identifier: Apache-2.0
"""The installed programs' entry points: SIGINT and SIGTERM end them cleanly at any moment.

Left to Python, Ctrl-C raises KeyboardInterrupt wherever the main thread happens to be: in
the imports of rclpy, cv2, NumPy and LiteRT (the first few hundred milliseconds), or in the
teardown that a first Ctrl-C started, so the user sees a traceback. And once the interpreter
finalises it hands SIGINT back to the system default, so a second Ctrl-C that arrives then
kills the process (exit -2). :func:`run` owns both signals for the program's whole life:

* while the program's module is imported, a signal ends the process at once and quietly:
  nothing is open yet (no DDS participant, no output file);
* while its main function runs, the first signal raises :class:`ShutdownSignal` in the main
  thread (a KeyboardInterrupt, so the ``except KeyboardInterrupt`` of rclpy programs handles
  SIGTERM like Ctrl-C); later ones are ignored, so the teardown runs to its end, unless one
  comes :data:`FORCE_AFTER_S` after the first (a teardown that hangs): that one exits at once;
* an error that escapes the main function after a shutdown signal is the signal's doing
  (rclpy shuts its context down under the running code): one line, the signal's exit code;
* from the last exit handler on, both are ignored until the process is gone.

The scripts in ``scripts/`` start Python under ``env --block-signal=INT,TERM``: a signal sent
while the interpreter itself starts is held back until :meth:`SignalGuard.install` has run.
This module imports only the standard library, so it is in place before anything heavy.

The ROS nodes also tune glibc's allocator before anything else is imported
(:func:`tune_malloc`): every large image message costs rclpy a few megabytes of fresh
memory, which glibc would otherwise map and unmap (or grow and trim) per frame, paying a page
fault per 4 KiB page each time (measured: 2,000 faults and ~4 ms per 1280x720 frame).
"""

from __future__ import annotations

import _thread
import atexit
import contextlib
from dataclasses import dataclass
import enum
from importlib import import_module
import os
import signal
import sys
import threading
import time
from typing import NoReturn

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
FORCE_AFTER_S = 3.0
REDELIVER_AFTER_S = 0.01  # a signal lost in a callback is sent again after this
# glibc malloc: blocks below this come from the heap, not from a mapping of their own ...
MMAP_THRESHOLD = 64 << 20
# ... and free memory at the top of a heap is given back only beyond this.
TRIM_THRESHOLD = 256 << 20
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt() parameters (<malloc.h>)
MALLOC_ENV = 'MOVENET_ROS_MALLOC'  # 'off': leave the allocator alone


def tune_malloc(environ=os.environ) -> str:
    """Keep the memory of large messages in the process: no page faults per frame.

    glibc serves a block of more than 128 KiB (its dynamic threshold grows to at most 32 MiB)
    with a mapping of its own and returns it to the system when it is freed, and trims the
    heap once 128 KiB are free at its top: a 2.7 MB image message, allocated and freed once
    per frame by rclpy's conversion, then faults in 675 fresh pages every frame. With the two
    thresholds raised, freed blocks are reused. Applied with ``mallopt()`` from the process
    itself, which is what the glibc tunables
    ``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=67108864:glibc.malloc.trim_threshold=268435456``
    do too (measured the same). Left alone when ``MOVENET_ROS_MALLOC=off``, when the user set
    either tunable, or where there is no glibc. Returns what was done, in words.
    """
    if environ.get(MALLOC_ENV, '').lower() in ('off', '0', 'false', 'no'):
        return f'allocator left alone ({MALLOC_ENV}={environ[MALLOC_ENV]})'
    tunables = environ.get('GLIBC_TUNABLES', '')
    if 'glibc.malloc.mmap_threshold' in tunables or 'glibc.malloc.trim_threshold' in tunables:
        return 'allocator left alone (GLIBC_TUNABLES sets it)'
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return 'allocator left alone (no mallopt)'
    if mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1 or \
            mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) != 1:
        return 'allocator left alone (mallopt refused)'
    return (f'malloc tuned: mmap_threshold {MMAP_THRESHOLD >> 20} MiB, trim_threshold '
            f'{TRIM_THRESHOLD >> 20} MiB')


class ShutdownSignal(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived while the program's main function ran."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass(frozen=True)
class Program:
    """One executable: its name, its main function and how a shutdown signal ends it.

    A ROS node asked to stop has done its job: it exits 0, as ROS 2 launch and
    launch_testing expect of a node they stop, and says nothing. A command line tool exits
    128 + the signal number (130 after Ctrl-C), as shells report an interrupted command,
    with one line on stderr, because its outputs may be incomplete.
    """

    name: str
    target: str  # 'package.module:function'; the function returns the exit code
    ros_node: bool
    tune_malloc: bool = False  # handles large messages: see tune_malloc()

    def exit_code(self, signum: int) -> int:
        return 0 if self.ros_node else 128 + signum


class Phase(enum.Enum):
    IMPORTING = 'importing'  # nothing open yet: a signal ends the process at once
    RUNNING = 'running'  # the first signal raises ShutdownSignal
    STOPPING = 'stopping'  # after that first signal: the main function tears down
    FINISHED = 'finished'  # the main function has returned or raised


class SignalGuard:
    """Runs one :class:`Program` with SIGINT and SIGTERM handled in every phase."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self._phase = Phase.IMPORTING
        self._interrupted_by: int | None = None  # the signal that stopped the main function
        self._first_signal_at: float | None = None

    def install(self) -> None:
        """Take over both signals and release any held back while Python started."""
        for signum in SHUTDOWN_SIGNALS:
            # A signal the parent set to be ignored (nohup, background jobs) stays ignored.
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, self._on_signal)
        # Exit handlers run last-registered first: this one runs after all others, once no
        # Python code is left to interrupt, and covers the rest of the finalisation.
        atexit.register(self._ignore_signals)
        self._previous_unraisablehook = sys.unraisablehook
        sys.unraisablehook = self._on_unraisable
        if hasattr(signal, 'pthread_sigmask'):  # POSIX; Windows has no signal masks
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SHUTDOWN_SIGNALS)

    def run(self) -> NoReturn:
        """Import the program, run it and exit with its code, or the signal's if one came.

        Once a signal has stopped the main function, the exit code is the signal's whatever
        the function did next: ShutdownSignal, raised in Python code that C code called, can
        come back as that C code's own error (pybind11 turns it into the ImportError of a
        half-loaded extension, rcl into an invalid-context error).
        """
        self.install()
        if self.program.tune_malloc:
            tune_malloc()
        module, _, function = self.program.target.partition(':')
        main = getattr(import_module(module), function)
        code: int | str | None = 0
        try:
            try:
                self._phase = Phase.RUNNING
                code = main()
            finally:
                self._settle()
                self._phase = Phase.FINISHED
        except KeyboardInterrupt:
            if self._interrupted_by is None:  # raised by the program itself, as for Ctrl-C
                self._interrupted_by = signal.SIGINT
        except Exception as exc:
            if self._interrupted_by is None:
                raise
            self._report(f'{type(exc).__name__} on the way out: {exc}', always=True)
        if self._interrupted_by is not None:
            self._report(f'interrupted ({signal.Signals(self._interrupted_by).name})')
            code = self.program.exit_code(self._interrupted_by)
        sys.exit(code)

    def _settle(self) -> None:
        """Nothing; calling it runs the handler of a signal that is still pending.

        A signal that ended the main function from C code (rclpy's handler shuts its context
        down, the rcl call fails) may not have reached its Python handler yet: it must count
        as stopping the function, not as arriving after it.
        """

    def _on_signal(self, signum: int, _frame) -> None:
        now = time.monotonic()
        if self._first_signal_at is None:
            self._first_signal_at = now
            if self._phase is Phase.IMPORTING:
                self._report(f'interrupted ({signal.Signals(signum).name})')
                self._exit_now(self.program.exit_code(signum))
            if self._phase is Phase.RUNNING:
                self._phase, self._interrupted_by = Phase.STOPPING, signum
                raise ShutdownSignal(signum)
        elif now - self._first_signal_at >= FORCE_AFTER_S:
            self._report(f'still shutting down {FORCE_AFTER_S:.0f} s after the first signal; '
                         f'forced exit on {signal.Signals(signum).name}', always=True)
            self._exit_now(128 + signum)

    def _on_unraisable(self, unraisable) -> None:
        """A ShutdownSignal raised where Python discards exceptions: deliver it again.

        The handler runs between any two bytecodes, also in a weakref callback or a
        ``__del__`` (import's module-lock callback, under load), where the exception is
        printed as "Exception ignored" and lost, so the program would go on running. The
        signal is sent again, shortly, from another thread, so that its handler runs once
        the main thread has left the callback (and this hook: nothing here may wait, or the
        handler would run inside the hook). Should it land in such a place again, the same
        happens again.
        """
        exc = unraisable.exc_value
        if isinstance(exc, ShutdownSignal) and self._phase is Phase.STOPPING:
            self._phase, self._interrupted_by, self._first_signal_at = Phase.RUNNING, None, None
            _thread.start_new_thread(self._send_again, (threading.main_thread().ident,
                                                        exc.signum))
            return
        self._previous_unraisablehook(unraisable)

    @staticmethod
    def _send_again(main_thread: int, signum: int) -> None:
        time.sleep(REDELIVER_AFTER_S)
        signal.pthread_kill(main_thread, signum)

    def _report(self, message: str, always: bool = False) -> None:
        if always or not self.program.ros_node:
            # os.write: safe even if the signal interrupted a write to sys.stderr.
            with contextlib.suppress(OSError):  # no stderr left to tell
                os.write(2, f'{self.program.name}: {message}\n'.encode())

    @staticmethod
    def _exit_now(code: int) -> NoReturn:
        for stream in (sys.stdout, sys.stderr):
            # A closed stream, or a flush the signal interrupted: nothing more to save.
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                stream.flush()
        os._exit(code)

    @staticmethod
    def _ignore_signals() -> None:
        for signum in SHUTDOWN_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)


def run(program: Program) -> NoReturn:
    SignalGuard(program).run()


def movenet_node() -> NoReturn:
    """``lib/movenet_ros/movenet_node``: the pose estimation node."""
    run(Program('movenet_node', 'movenet_ros.nodes.movenet_node:main', ros_node=True,
                tune_malloc=True))


def video_publisher() -> NoReturn:
    """``lib/movenet_ros/video_publisher``: video, image folder or camera to ROS images."""
    run(Program('video_publisher', 'movenet_ros.nodes.video_publisher:main', ros_node=True,
                tune_malloc=True))


def movenet_ros_cli() -> NoReturn:
    """``movenet-ros``: the ROS-free command line (pip's console script and colcon's bin/)."""
    run(Program('movenet-ros', 'movenet_ros.cli:main', ros_node=False))
