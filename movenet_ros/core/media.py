# SPDX-License-Identifier: Apache-2.0
"""Frame sources without ROS: a video file, a folder of images, one image, or a camera.

The video publisher node and the command line both read frames through
:func:`open_frame_source`, so a source that works in one works in the other. Every frame is a
BGR ``uint8`` HxWx3 array, as OpenCV decodes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
import os
import pathlib
import re

import cv2
import numpy as np

from movenet_ros.core.image_headers import ImageHeaderError, read_header

# File name suffixes (compared in lower case) of the still-image formats OpenCV's imread
# decodes; a file with one of them is read as one image, anything else given by name is opened
# as a video. GIF is read as a video (VideoCapture gives every frame of an animation; imread only
# the first). A format missing from a particular OpenCV build (EXR is often left out) fails
# with "cannot decode" rather than being passed over.
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.jpe', '.png', '.bmp', '.dib', '.webp', '.avif', '.tif',
                  '.tiff', '.pbm', '.pgm', '.ppm', '.pnm', '.pfm', '.sr', '.ras', '.exr', '.hdr',
                  '.pic', '.jp2')
# The video containers a folder listing takes (a video file given by name may have any suffix
# FFmpeg reads).
VIDEO_SUFFIXES = ('.mp4', '.m4v', '.mov', '.avi', '.mkv', '.webm', '.mpg', '.mpeg', '.ts',
                  '.mts', '.m2ts', '.wmv', '.flv', '.3gp', '.ogv', '.mjpeg', '.y4m', '.gif')
# rosbag2 storage files (MCAP, sqlite3). A bag is one of them, or a folder holding them (with
# the metadata.yaml of a finished recording, or without: a recording that was killed).
BAG_SUFFIXES = ('.mcap', '.db3')
# Pixel budget for image files (a 48 MP phone photo fits): a corrupt or hostile header
# declaring more is refused before decoding.
DEFAULT_MAX_FILE_PIXELS = 8192 * 8192
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
    """Image files in name order (a folder's images, or one image).

    ``paths`` lists the files; frame ``i`` of an iteration comes from ``paths[i]``.
    """

    def __init__(self, paths: list[pathlib.Path], name: str) -> None:
        self.kind = 'images'
        self.name = name
        self.paths = paths
        self._next = 0
        self.fps = DEFAULT_IMAGE_FPS
        self.frame_count = len(paths)
        first = load_image(paths[0])
        self.size = (first.shape[1], first.shape[0])

    def read(self) -> np.ndarray | None:
        if self._next >= len(self.paths):
            return None
        self._next += 1
        return load_image(self.paths[self._next - 1])

    @property
    def can_rewind(self) -> bool:
        return True

    def rewind(self) -> None:
        self._next = 0


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is read as a still image (by its suffix, in any case)."""
    return pathlib.Path(path).suffix.lower() in IMAGE_SUFFIXES


def is_bag_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is read as a ROS 2 bag: a .mcap/.db3 file (existing or not, so that
    opening it says what is wrong), or a folder with a metadata.yaml or a storage file."""
    path = pathlib.Path(path)
    if not path.is_dir():
        return path.suffix in BAG_SUFFIXES
    try:
        return (path / 'metadata.yaml').is_file() or any(
            p.suffix in BAG_SUFFIXES and p.is_file() for p in path.iterdir())
    except OSError:
        return False  # an unreadable folder: listing it says why


def load_image(path: str | os.PathLike[str],
               max_pixels: int = DEFAULT_MAX_FILE_PIXELS) -> np.ndarray:
    """Decode one image file to BGR ``uint8``, refusing more than ``max_pixels`` pixels.

    The size is read from the file's header first (:mod:`movenet_ros.core.image_headers`), so a
    few bytes declaring gigabytes of pixels are refused before the decoder allocates them.
    Formats that header cannot size (JPEG 2000, OpenEXR, HDR, AVIF, ...) are decoded as they
    are: a file given to the CLI is the user's own, not input from the network.

    Raises FileNotFoundError or ValueError with a message that names the file and says why
    (missing, unreadable, empty, over the budget, not decodable), so a caller can report it
    and go on.
    """
    path = pathlib.Path(path)
    try:
        data = path.read_bytes()  # the reason OpenCV would not give: permission, folder
    except FileNotFoundError:
        raise FileNotFoundError(f'image {path} does not exist') from None
    except OSError as exc:
        raise ValueError(f'cannot read image {path}: {exc.strerror or exc}') from None
    if not data:
        raise ValueError(f'image {path} is an empty file (0 bytes)')
    try:
        header = read_header(data)
    except ImageHeaderError:
        header = None
    if header is not None and header.pixels > max_pixels:
        raise ValueError(f'image {path}: {header.format} {header.width}x{header.height} has '
                         f'{header.pixels} pixels, over the budget of {max_pixels} '
                         f'(--max-image-pixels)')
    end = header.length if header is not None else len(data)
    frame = cv2.imdecode(np.frombuffer(data, np.uint8, count=end), cv2.IMREAD_COLOR)
    if frame is None:
        raise ValueError(f'cannot decode image {path} (corrupt, or a format this OpenCV '
                         f'build does not read)')
    return frame


@dataclass
class FolderListing:
    """What :func:`list_folder` found: the files to read and, with reasons, the rest."""

    images: list[pathlib.Path] = field(default_factory=list)
    videos: list[pathlib.Path] = field(default_factory=list)
    skipped: list[tuple[pathlib.Path, str]] = field(default_factory=list)
    unreadable: list[tuple[pathlib.Path, str]] = field(default_factory=list)


def list_folder(folder: str | os.PathLike[str], recursive: bool = False) -> FolderListing:
    """The images and videos in ``folder`` in path order, by suffix (any case).

    Everything else is listed in ``skipped`` with the reason, never dropped silently: other
    files, hidden entries (names starting with '.'), sub-folders unless ``recursive``, and
    links back to a folder already walked. Folders that cannot be listed go to ``unreadable``.
    """
    listing = FolderListing()
    _walk(pathlib.Path(folder), recursive, listing, set())
    return listing


def _walk(folder: pathlib.Path, recursive: bool, listing: FolderListing,
          walked: set[pathlib.Path]) -> None:
    walked.add(folder.resolve())
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        listing.unreadable.append((folder, f'cannot list folder {folder}: '
                                           f'{exc.strerror or exc}'))
        return
    for entry in entries:
        if entry.name.startswith('.'):
            listing.skipped.append((entry, "hidden (the name starts with '.')"))
        elif is_bag_path(entry):
            listing.skipped.append((entry, 'a ROS 2 bag (give it as an input of its own)'))
        elif entry.is_dir():
            if not recursive:
                listing.skipped.append((entry, 'a sub-folder (--recursive walks sub-folders)'))
            elif entry.resolve() in walked:
                listing.skipped.append((entry, 'a link to a folder already walked'))
            else:
                _walk(entry, recursive, listing, walked)
        elif not entry.is_file():
            listing.skipped.append((entry, 'not a regular file'))
        elif is_image_path(entry):
            listing.images.append(entry)
        elif entry.suffix.lower() in VIDEO_SUFFIXES:
            listing.videos.append(entry)
        else:
            listing.skipped.append((entry, 'not an image or video (by its suffix)'))


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
        paths = list_folder(path).images
        if not paths:
            raise ValueError(f'folder {text} holds no images '
                             f'({", ".join(IMAGE_SUFFIXES)})')
        return _ImageFilesSource(paths, text)
    if is_image_path(path):
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


def resize(frame: np.ndarray, size: tuple[int, int],
           interpolation: int | None = None) -> np.ndarray:
    """``frame`` at ``size`` (width, height); the same array when it already is.
    ``interpolation``: an OpenCV flag (default: area when shrinking, else linear)."""
    if (frame.shape[1], frame.shape[0]) == size:
        return frame
    if interpolation is None:
        shrink = size[0] * size[1] < frame.shape[0] * frame.shape[1]
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(frame, size, interpolation=interpolation)
