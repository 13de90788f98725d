# SPDX-License-Identifier: Apache-2.0
"""What a ``movenet-ros infer`` run will read and write, settled before the first frame.

:func:`plan_inputs` turns the command line's inputs into image and video jobs (a folder
stands for the images and videos in it; the rest is listed as skipped, with reasons).
:func:`plan_outputs` decides where each annotated output goes and :func:`check_json_target`
checks the ``--json`` file, so that a bad output path is one :class:`UsageError` before any
work, never a traceback after some of it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
import os
import pathlib
import tempfile

import cv2

from movenet_ros.core.media import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    is_bag_path,
    is_image_path,
    list_folder,
)

VIDEO_OUTPUT_SUFFIXES = ('.mp4', '.avi', '.mkv', '.mov')
IMAGE_OUTPUT_SUFFIX = '.png'
VIDEO_OUTPUT_SUFFIX = '.mp4'


class UsageError(ValueError):
    """A bad argument or output path: reported on one line, exit code 2, nothing written."""


class OutputError(RuntimeError):
    """An output (--json, --bag-out) cannot be written: the run stops (exit code 1)."""


@dataclass
class Job:
    """One input: an image file, a video (a file or a camera) or a ROS 2 bag.

    ``source`` is the path as given or as found in a folder (the JSON ``source``); ``index``
    is an image's place in its folder's listing (the JSON ``frame``); ``output`` is where its
    annotated version goes (None without ``--output``). A bag's ``topic`` is the image topic
    chosen for it before the run (:func:`movenet_ros.cli_bags.open_bags`).
    """

    source: str
    kind: str  # 'image', 'video' or 'bag'
    index: int = 0
    output: pathlib.Path | None = None
    topic: str | None = None


@dataclass
class Plan:
    """The jobs in processing order, grouped for progress bars, and what was passed over.

    ``groups`` holds (name, jobs): a folder's images, a run of image arguments, or one video.
    ``failed`` and ``skipped`` hold (path, message or reason) pairs found while listing.
    ``roots`` are the folders the inputs are named relative to (see :func:`plan_outputs`).
    """

    groups: list[tuple[str, list[Job]]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)
    arguments: int = 0
    folders: int = 0

    @property
    def jobs(self) -> list[Job]:
        return [job for _, jobs in self.groups for job in jobs]


def plan_inputs(inputs: list[str], recursive: bool = False) -> Plan:
    """Image, video and bag jobs for ``inputs``, in order; folders are listed now.

    An image file (by suffix) is one image job; a ROS 2 bag (a .mcap/.db3 file, or a folder
    holding one or a metadata.yaml) is one bag job; any other folder gives its images (one
    group) and then its videos; anything else, including a path that does not exist or a
    camera, is a video job, so that opening it reports the precise reason.
    """
    plan = Plan(arguments=len(inputs))
    loose: list[Job] | None = None  # a run of image arguments shares one progress bar
    for text in inputs:
        path = pathlib.Path(text).expanduser()
        if is_bag_path(path):
            plan.roots.append(os.path.dirname(os.path.abspath(path)))
            plan.groups.append((path.name, [Job(str(path), 'bag')]))
            loose = None
            continue
        if path.is_dir():
            plan.folders += 1
            _add_folder(plan, text, path, recursive)
            loose = None
            continue
        plan.roots.append(os.path.dirname(os.path.abspath(path)))
        if is_image_path(path):
            if loose is None:
                loose = []
                plan.groups.append(('images', loose))
            loose.append(Job(str(path), 'image'))
        else:
            loose = None
            plan.groups.append((path.name, [Job(str(pathlib.Path(text)), 'video')]))
    return plan


def _add_folder(plan: Plan, text: str, path: pathlib.Path, recursive: bool) -> None:
    listing = list_folder(path, recursive)
    plan.roots.append(os.path.abspath(path))
    plan.skipped += [(str(p), reason) for p, reason in listing.skipped]
    plan.failed += [(str(p), message) for p, message in listing.unreadable]
    if not listing.images and not listing.videos and not listing.unreadable:
        plan.failed.append((text, f'folder {text} holds no images or videos'))
    if listing.images:
        plan.groups.append((path.name or text, [Job(str(p), 'image', index)
                                                for index, p in enumerate(listing.images)]))
    plan.groups += [(p.name, [Job(str(p), 'video')]) for p in listing.videos]


def plan_outputs(output: pathlib.Path, plan: Plan) -> bool:
    """Set every job's annotated output under ``output``; True when ``output`` is one file.

    ``output`` is a file when it ends in an image or video suffix (it must fit the one input:
    an image, or a video written as .mp4/.avi/.mkv/.mov); otherwise it is a folder, created
    later if missing. In a
    folder, each input keeps its path below the deepest folder holding all inputs, with
    ``_pose.png`` (images) or ``_pose.mp4`` (videos) for its suffix; inputs that would still
    share a name keep their own suffix too (``x_jpg_pose.png``, ``x_png_pose.png``). Raises
    UsageError for a file output that cannot fit the inputs, an unwritable location, or two
    inputs that would write the same file.
    """
    jobs = plan.jobs
    suffix = output.suffix.lower()
    named_file = suffix in IMAGE_SUFFIXES + VIDEO_SUFFIXES + VIDEO_OUTPUT_SUFFIXES
    if output.is_dir() or not named_file:
        if output.exists() and not output.is_dir():
            raise UsageError(f'--output {output} exists and is not a folder; give a folder for '
                             'the annotated outputs, or one image or video file name')
        check_writable_folder(output, '--output')
        _assign_names(output, plan, jobs)
        return False
    if plan.arguments != 1 or plan.folders or len(jobs) != 1:
        given = 'a folder' if plan.folders and plan.arguments == 1 else \
            f'{plan.arguments} inputs'
        raise UsageError(f'--output {output} names one file, but {given} can give several '
                         f'annotated outputs: pass a folder (e.g. --output annotated/)')
    job = jobs[0]
    allowed = IMAGE_SUFFIXES if job.kind == 'image' else VIDEO_OUTPUT_SUFFIXES
    if suffix not in allowed:
        wanted = 'an image file' if job.kind == 'image' else \
            f'a video file ({" ".join(VIDEO_OUTPUT_SUFFIXES)})'
        raise UsageError(f'--output {output}: the annotated {job.kind} needs {wanted} '
                         'or a folder')
    if job.kind == 'image' and not cv2.haveImageWriter(str(output)):
        raise UsageError(f'--output {output}: this OpenCV build cannot write {suffix} images')
    check_file_target(output, '--output')
    job.output = output
    return True


def _assign_names(folder: pathlib.Path, plan: Plan, jobs: list[Job]) -> None:
    base = os.path.commonpath(plan.roots) if plan.roots else os.getcwd()
    relative = [pathlib.Path(os.path.relpath(os.path.abspath(job.source), base))
                for job in jobs]
    plain = [_pose_name(rel, job.kind, False) for rel, job in zip(relative, jobs, strict=True)]
    shared = Counter(plain)
    names = [_pose_name(rel, job.kind, True) if shared[name] > 1 else name
             for rel, job, name in zip(relative, jobs, plain, strict=True)]
    first: dict[pathlib.Path, Job] = {}
    for job, name in zip(jobs, names, strict=True):
        if name in first:
            raise UsageError(f'--output {folder}: {first[name].source} and {job.source} would '
                             f'both be written to {folder / name} (an input given twice?)')
        first[name] = job
        job.output = folder / name


def _pose_name(relative: pathlib.Path, kind: str, keep_suffix: bool) -> pathlib.Path:
    stem = relative.stem
    if keep_suffix and relative.suffix:
        stem += '_' + relative.suffix[1:]
    suffix = IMAGE_OUTPUT_SUFFIX if kind == 'image' else VIDEO_OUTPUT_SUFFIX
    return relative.with_name(f'{stem}_pose{suffix}')


def check_json_target(text: str | None) -> None:
    """Raise UsageError unless ``--json`` is '-' (stdout), unset, or a writable file path."""
    if text is None or text == '-':
        return
    path = pathlib.Path(text)
    if path.is_dir():
        raise UsageError(f'--json {text} is a folder; give a file name '
                         f'(e.g. {path / "poses.jsonl"})')
    check_file_target(path, '--json')


def check_file_target(path: pathlib.Path, option: str) -> None:
    """Raise UsageError unless ``path`` can be written as a file (its folder must exist)."""
    parent = path.parent
    if not parent.is_dir():
        state = f'{parent} is not a folder' if parent.exists() else \
            f'folder {parent} does not exist'
        raise UsageError(f'{option} {path}: {state}')
    if path.exists():
        try:
            with path.open('a'):  # opens for writing without changing the file
                pass
        except OSError as exc:
            raise UsageError(f'{option} {path}: cannot write it ({exc.strerror or exc})') \
                from None
    else:
        _probe(parent, f'{option} {path}')


def check_writable_folder(folder: pathlib.Path, option: str) -> None:
    """Raise UsageError unless ``folder`` exists or can be created, and can be written in."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f'{option} {folder}: {existing} is not a folder')
    _probe(existing, f'{option} {folder}')


def _probe(folder: pathlib.Path, what: str) -> None:
    """Create and remove a file in ``folder``: the one test that also holds for root."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix='.movenet-ros-'):
            pass
    except OSError as exc:
        raise UsageError(f'{what}: cannot write in {folder} ({exc.strerror or exc})') from None
