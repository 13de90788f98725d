# SPDX-License-Identifier: Apache-2.0
"""The command line's bags, without ROS: which image topic of an input bag to read, and the
output bag of ``--bag-out``.

An output bag holds what the node would have published for every frame processed, on the
node's topics (``/poses``, ``/pose_markers``, ``/image_markers/bones``,
``/image_markers/keypoints``), with each input image's header and log time, so replaying it
next to the input bag lines up frame by frame. With ``--bag-images`` it also holds the
images: a bag's image messages copied unchanged on their own topic, with their recorded QoS;
a video's frames as JPEG on ``/image/compressed``, stamped with the video time and in frame
``camera_optical_frame``, as ``video_publisher`` sends them (which the Foxglove layout shows).
"""

from __future__ import annotations

from collections.abc import Callable
import pathlib

import numpy as np

from movenet_ros.core.bag_writer import RELIABLE, PoseBagWriter, offered_qos
from movenet_ros.core.bags import BagFrame, BagTopic, RosBag
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


class BagOutput:
    """``--bag-out``: one bag for the whole run (see the module docstring)."""

    def __init__(self, path: pathlib.Path, storage: str, images: bool) -> None:
        self.writer = PoseBagWriter(path, storage=storage)
        self.images = images
        self.frames = 0

    def add_video_frame(self, result: PoseResult, frame: np.ndarray, time_s: float) -> None:
        """A video frame (BGR) at ``time_s`` of video time, and its result."""
        stamp = round(time_s * 1e9)
        if self.images:
            self.writer.write_compressed(VIDEO_IMAGE_TOPIC, frame, stamp, VIDEO_FRAME_ID, stamp,
                                         qos=RELIABLE)
        self.writer.write_result(result, stamp, VIDEO_FRAME_ID, stamp)
        self.frames += 1

    def add_bag_frame(self, result: PoseResult, frame: BagFrame, topic: BagTopic) -> None:
        """A frame read from a bag, and its result, at the frame's own stamp and log time."""
        if self.images:
            qos = topic.qos[0] if topic.qos else offered_qos(reliable=False)
            self.writer.write_serialized(frame.topic, frame.message.msgtype, frame.message.data,
                                         frame.log_time_ns, qos)
        self.writer.write_result(result, frame.stamp_ns, frame.frame_id, frame.log_time_ns)
        self.frames += 1

    def close(self) -> None:
        self.writer.close()
