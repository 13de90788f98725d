# SPDX-License-Identifier: Apache-2.0
"""Frame sources without ROS: a video file, a folder of images, one image, or a camera.

The video publisher node and the command line both read frames through
:func:`open_frame_source`, so a source that works in one works in the other. Every frame is a
BGR ``uint8`` HxWx3 array, as OpenCV decodes it.
"""

from __future__ import annotations

from collections.abc import Iterator
import os
import pathlib
import re

import cv2
import numpy as np

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')
# Images carry no timing, and some cameras report 0 fps: use these rates then.
DEFAULT_IMAGE_FPS = 10.0
DEFAULT_CAMERA_FPS = 30.0
_DEVICE = re.compile(r'/dev/video(\d+)')


class FrameSource:
    """Frames from one source; iterate, or :meth:`read` until it returns None.

    Attributes: ``kind`` ('video', 'images' or 'camera'), ``name`` (for messages), ``fps``
    (the source's nominal rate), ``size`` ((width, height) of the first frame) and
    ``frame_count`` (None when unknown, as for cameras).
    """

    kind: str
    name: str
    fps: float
    size: tuple[int, int]
    frame_count: int | None

    def read(self) -> np.ndarray | None:
        """The next BGR frame, or None at the end of the source."""
        raise NotImplementedError

    @property
    def can_rewind(self) -> bool:
        """Whether :meth:`rewind` can start the source again (not for live cameras)."""
        return False

    def rewind(self) -> None:
        """Start again from the first frame."""
        raise ValueError(f'{self.kind} source {self.name} cannot be rewound')

    def close(self) -> None:
        """Release the file or device."""

    def __iter__(self) -> Iterator[np.ndarray]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _CaptureSource(FrameSource):
    """A video file or camera read with cv2.VideoCapture."""

    def __init__(self, capture: cv2.VideoCapture, kind: str, name: str,
                 default_fps: float) -> None:
        self._capture = capture
        self.kind = kind
        self.name = name
        # Decode the first frame now: a file that opens but yields nothing is caught here,
        # and its real size is known (containers sometimes report another).
        ok, frame = capture.read()
        if not ok or frame is None:
            capture.release()
            raise ValueError(f'{kind} {name} opened but gave no frame (empty or unreadable)')
        self._first: np.ndarray | None = frame
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0.0 < fps < 1000.0 else default_fps
        self.size = (frame.shape[1], frame.shape[0])
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if kind == 'video' else 0
        self.frame_count = count if count > 0 else None

    def read(self) -> np.ndarray | None:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        ok, frame = self._capture.read()
        return frame if ok else None

    @property
    def can_rewind(self) -> bool:
        return self.kind == 'video'

    def rewind(self) -> None:
        if self.kind != 'video':
            super().rewind()
        self._first = None
        self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)

    def close(self) -> None:
        self._capture.release()


class _ImageFilesSource(FrameSource):
    """Image files in name order (a folder's JPEG/PNG/BMP files, or one image).

    ``paths`` lists the files; frame ``i`` of an iteration comes from ``paths[i]``.
    """

    def __init__(self, paths: list[pathlib.Path], name: str) -> None:
        self.kind = 'images'
        self.name = name
        self.paths = paths
        self._next = 0
        self.fps = DEFAULT_IMAGE_FPS
        self.frame_count = len(paths)
        first = self._load(paths[0])
        self.size = (first.shape[1], first.shape[0])

    @staticmethod
    def _load(path: pathlib.Path) -> np.ndarray:
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise ValueError(f'cannot decode image {path} (corrupt or not an image)')
        return frame

    def read(self) -> np.ndarray | None:
        if self._next >= len(self.paths):
            return None
        self._next += 1
        return self._load(self.paths[self._next - 1])

    @property
    def can_rewind(self) -> bool:
        return True

    def rewind(self) -> None:
        self._next = 0


def _open_camera(index: int, device: str) -> FrameSource:
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        raise ValueError(f'cannot open camera {device} (busy, no permission, or not a '
                         f'video capture device)')
    return _CaptureSource(capture, 'camera', device, DEFAULT_CAMERA_FPS)


def open_frame_source(source: str | int | os.PathLike[str]) -> FrameSource:
    """Open a video file, an image folder, an image file, or a camera.

    A camera is an integer index (``0`` or ``'0'``) or a device path ``/dev/videoN``.
    Raises FileNotFoundError for a missing path and ValueError for anything that exists but
    cannot be read, with a message naming the source.
    """
    if isinstance(source, int) or (isinstance(source, str) and source.strip().isdigit()):
        index = int(source)
        return _open_camera(index, f'index {index}')
    text = os.fspath(source)
    if not text.strip():
        raise ValueError('no source given: pass a video file, an image folder, an image '
                         'file, a camera index or /dev/videoN')
    path = pathlib.Path(text).expanduser()
    match = _DEVICE.fullmatch(text)
    if match:
        if not path.exists():
            raise FileNotFoundError(f'camera device {text} does not exist')
        return _open_camera(int(match.group(1)), text)
    if not path.exists():
        raise FileNotFoundError(f'source {text} does not exist (expected a video file, an '
                                f'image folder, an image file or a camera)')
    if path.is_dir():
        paths = sorted(p for p in path.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise ValueError(f'folder {text} holds no images '
                             f'({", ".join(IMAGE_SUFFIXES)})')
        return _ImageFilesSource(paths, text)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _ImageFilesSource([path], text)
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f'cannot open {text} as a video (not a format OpenCV/FFmpeg reads?)')
    return _CaptureSource(capture, 'video', text, DEFAULT_IMAGE_FPS)


def output_size(native: tuple[int, int], width: int = 0, height: int = 0) -> tuple[int, int]:
    """The (width, height) to publish: native when both are 0, aspect kept when one is 0."""
    if width < 0 or height < 0:
        raise ValueError(f'width and height must be >= 0, got {width}x{height}')
    nw, nh = native
    if width and height:
        return width, height
    if width:
        return width, max(1, round(nh * width / nw))
    if height:
        return max(1, round(nw * height / nh)), height
    return native


def resize(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` at ``size`` (width, height); the same array when it already is."""
    if (frame.shape[1], frame.shape[0]) == size:
        return frame
    shrink = size[0] * size[1] < frame.shape[0] * frame.shape[1]
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
