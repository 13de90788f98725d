# SPDX-License-Identifier: Apache-2.0
"""The command line's bags, without ROS: the input bags opened and their image topics chosen
before the first frame, and the output bag of ``--bag-out``.

An output bag holds what the node would have published for every frame processed, on the
node's topics (``/poses``, ``/pose_markers``, ``/image_markers/bones``,
``/image_markers/keypoints``), with each input image's header and log time, so replaying it
next to the input bag lines up frame by frame. With ``--bag-images`` it also holds the
images: a bag's image messages copied unchanged on their own topic, with their recorded QoS;
a video's frames as JPEG on ``/image/compressed``, stamped with the video time and in frame
``camera_optical_frame``, as ``video_publisher`` sends them (which the Foxglove layout shows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
import pathlib
import sys

import numpy as np

from movenet_ros.cli_plan import OutputError, Plan, UsageError, check_writable_folder
from movenet_ros.core.bag_writer import RELIABLE, BagWriteError, PoseBagWriter, offered_qos
from movenet_ros.core.bags import BagFrame, BagReadError, BagTopic, RosBag
from movenet_ros.core.results import PoseResult

VIDEO_IMAGE_TOPIC = '/image/compressed'
VIDEO_FRAME_ID = 'camera_optical_frame'  # video_publisher's default frame_id


class TopicChoiceError(ValueError):
    """No image topic could be chosen; the message lists the bag's image topics."""


def topic_lines(topics: list[BagTopic]) -> list[str]:
    """One line per image topic: number, name, type, message count."""
    width = max((len(t.name) for t in topics), default=0)
    return [f'  {n}. {t.name:<{width}}  {t.msgtype.replace("/msg/", "/")}  '
            f'{"?" if t.count is None else t.count} message(s)'
            for n, t in enumerate(topics, start=1)]


def choose_topic(bag: RosBag, wanted: str | None,
                 ask: Callable[[str], str] | None = None) -> str:
    """The image topic to read: ``wanted`` if the bag has it; without it, ``ask`` (e.g.
    ``input``, when a person is at the terminal) is shown the list and answers with a number
    or a name. Raises TopicChoiceError, listing the topics, when there is no answer to give.
    """
    topics = bag.image_topics
    names = [t.name for t in topics]
    listing = '\n'.join(topic_lines(topics))
    if not topics:
        others = ', '.join(f'{t.name} ({t.msgtype})' for t in bag.topics.values()) or 'none'
        raise TopicChoiceError(f'{bag.path}: no sensor_msgs/Image or CompressedImage topic '
                               f'(topics: {others})')
    if wanted is not None:
        if wanted in names:
            return wanted
        raise TopicChoiceError(f'{bag.path}: no image topic {wanted}; its image topics:\n'
                               f'{listing}')
    if ask is None:
        raise TopicChoiceError(f'{bag.path}: choose an image topic with --topic; its image '
                               f'topics:\n{listing}')
    answer = ask(f'{bag.path} has these image topics:\n{listing}\n'
                 f'topic to read (1-{len(topics)} or its name): ').strip()
    if answer.isdigit() and 1 <= int(answer) <= len(topics):
        return names[int(answer) - 1]
    if answer in names:
        return answer
    raise TopicChoiceError(f'{bag.path}: {answer!r} is none of its image topics:\n{listing}')


def terminal_question() -> Callable[[str], str] | None:
    """How to ask for a topic: on stderr, answered on stdin, when both are a terminal; None
    when nobody is there to answer (a pipe, a script, CI)."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None

    def ask(question: str) -> str:
        print(question, end='', file=sys.stderr, flush=True)
        return sys.stdin.readline()
    return ask


def open_bags(plan: Plan, topic: str | None, ask: Callable[[str], str] | None,
              max_pixels: int) -> tuple[dict[str, RosBag], dict[str, str]]:
    """Open every bag job of ``plan`` and set its ``topic``: (the open bags, and why the others
    cannot be opened at all), by source. The run reports those at their turn and goes on.

    A bag whose topic cannot be chosen raises UsageError (nothing has run yet), after closing
    every bag opened.
    """
    bags: dict[str, RosBag] = {}
    unreadable: dict[str, str] = {}
    try:
        for job in plan.jobs:
            if job.kind != 'bag':
                continue
            try:
                bag = RosBag(job.source, max_pixels=max_pixels)
            except BagReadError as exc:
                unreadable[job.source] = str(exc)
                continue
            bags[job.source] = bag
            try:
                job.topic = choose_topic(bag, topic, ask)
            except TopicChoiceError as exc:
                raise UsageError(str(exc)) from None
    except BaseException:
        for bag in bags.values():
            bag.close()
        raise
    return bags, unreadable


def check_bag_target(path: pathlib.Path, plan: Plan) -> None:
    """Raise UsageError unless ``--bag-out`` can be written: a new folder in a writable place,
    for inputs with a timeline (videos and bags; still images have none)."""
    stills = [job.source for job in plan.jobs if job.kind == 'image']
    if stills:
        raise UsageError(f'--bag-out records videos and bags, whose frames have times; '
                         f'{stills[0]} is a still image')
    if path.exists():
        raise UsageError(f'--bag-out {path} exists already; a bag is written into a new folder '
                         '(remove it or choose another name)')
    check_writable_folder(path.parent, '--bag-out')


class BagOutput:
    """``--bag-out``: one bag for the whole run (see the module docstring).

    Videos follow one another on the bag's timeline: each starts one frame after the end of
    the one before (a video's own time starts at 0).
    """

    def __init__(self, path: pathlib.Path, storage: str, images: bool) -> None:
        try:
            self.writer = PoseBagWriter(path, storage=storage)
        except BagWriteError as exc:
            raise UsageError(f'--bag-out {path}: {exc}') from None
        self.images = images
        self.frames = 0
        self.closed = False
        self._video_start_ns = 0  # where the current video's time 0 is on the bag's timeline
        self._video_end_ns = -1  # the latest video frame written

    def start_video(self, fps: float) -> None:
        """The next video frames belong to a new video (at ``fps``)."""
        if self._video_end_ns >= 0:
            self._video_start_ns = self._video_end_ns + round(1e9 / fps)

    def add_video_frame(self, result: PoseResult, frame: np.ndarray, time_s: float) -> None:
        """A video frame (BGR) at ``time_s`` of video time, and its result."""
        stamp = self._video_start_ns + round(time_s * 1e9)
        self._video_end_ns = max(self._video_end_ns, stamp)
        with self._writing():
            if self.images:
                self.writer.write_compressed(VIDEO_IMAGE_TOPIC, frame, stamp, VIDEO_FRAME_ID,
                                             stamp, qos=RELIABLE)
            self.writer.write_result(result, stamp, VIDEO_FRAME_ID, stamp)
        self.frames += 1

    def add_bag_frame(self, result: PoseResult, frame: BagFrame, topic: BagTopic) -> None:
        """A frame read from a bag, and its result, at the frame's own stamp and log time."""
        with self._writing():
            if self.images:
                qos = topic.qos[0] if topic.qos else offered_qos(reliable=False)
                self.writer.write_serialized(frame.topic, frame.message.msgtype,
                                             frame.message.data, frame.log_time_ns, qos)
            self.writer.write_result(result, frame.stamp_ns, frame.frame_id,
                                     frame.log_time_ns)
        self.frames += 1

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A failed write (a full disk) stops the run, as a failed --json does."""
        try:
            yield
        except BagWriteError as exc:
            raise OutputError(f'--bag-out: {exc}') from exc

    def summary(self) -> dict:
        """What the bag holds, for the run's summary."""
        return {'path': str(self.writer.path), 'storage': self.writer.storage,
                'frames': self.frames, 'messages': dict(self.writer.counts),
                'closed': self.closed}

    def close(self) -> None:
        """Finish the bag (index, metadata.yaml); OutputError if it cannot be."""
        with self._writing():
            self.writer.close()
        self.closed = True
