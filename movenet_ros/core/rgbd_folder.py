# SPDX-License-Identifier: Apache-2.0
"""A folder of colour frames with depth frames aligned to them, as a frame source (ROS-free).

Layout (that of test/data/rgbd, and of the recordings RGB-D tools write)::

    FOLDER/camera.json     {"width": 640, "height": 480, "fx": ..., "fy": ..., "cx": ...,
                            "cy": ..., "depth_unit_m": 0.001}
    FOLDER/color/NAME.png  colour frames (any image format OpenCV reads), in name order
    FOLDER/depth/NAME.png  the depth of each, same name and size, registered to the colour
                           camera: 16-bit (units of depth_unit_m, default 1 mm) or 32-bit
                           float (metres), 0 = no reading

``camera.json`` gives the colour camera's intrinsics in pixels of that size (centre of the
top-left pixel at (0, 0)), which are also the depth's, since it is aligned. Everything is
checked when the folder is opened, so a bad folder fails at start-up with the file and the
reason, not halfway through a run.
"""

from __future__ import annotations

import json
import math
import os
import pathlib

import cv2
import numpy as np

from movenet_ros.core.camera import Pinhole
from movenet_ros.core.depth import METRE, MILLIMETRE
from movenet_ros.core.image_headers import ImageHeaderError, read_header
from movenet_ros.core.media import DEFAULT_IMAGE_FPS, FrameSource, is_image_path, load_image

CAMERA_FILE = 'camera.json'
COLOUR_FOLDER = 'color'
DEPTH_FOLDER = 'depth'
# Depth files are decoded without conversion (OpenCV's IMREAD_UNCHANGED): 16-bit PNG or TIFF,
# or 32-bit float TIFF.
DEPTH_SUFFIXES = ('.png', '.tif', '.tiff')


def is_rgbd_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` has the layout above (camera.json, color/ and depth/)."""
    path = pathlib.Path(path)
    return ((path / CAMERA_FILE).is_file() and (path / COLOUR_FOLDER).is_dir()
            and (path / DEPTH_FOLDER).is_dir())


def load_depth(path: pathlib.Path, unit_m: float, size: tuple[int, int]) -> np.ndarray:
    """A depth file as its raw HxW array (uint16 or float32), checked to be ``size``
    (width, height) before it is decoded. ValueError naming the file and the problem."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f'cannot read depth image {path}: {exc.strerror or exc}') from None
    try:
        header = read_header(data)
    except ImageHeaderError as exc:
        raise ValueError(f'depth image {path}: {exc}') from None
    if (header.width, header.height) != size:
        raise ValueError(f'depth image {path} is {header.width}x{header.height}, its colour '
                         f'frame {size[0]}x{size[1]}: the depth must be aligned to the colour')
    depth = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if depth is None:
        raise ValueError(f'cannot decode depth image {path}')
    if depth.ndim != 2 or depth.dtype not in (np.uint16, np.float32):
        channels = 1 if depth.ndim == 2 else depth.shape[2]
        raise ValueError(f'depth image {path} must be one channel of 16-bit integers '
                         f'({unit_m * 1000:g} mm units) or 32-bit floats (metres), got '
                         f'{channels} channel(s) of {depth.dtype}')
    return depth


class RgbdFolderSource(FrameSource):
    """The colour frames of an RGB-D folder, with :attr:`depth` of the last frame read.

    Attributes beyond FrameSource's: ``camera`` (the colour camera, whose intrinsics the depth
    shares), ``depth_scale`` (metres per unit of :attr:`depth`: ``depth_unit_m`` for 16-bit
    files, 1 for float files) and ``names`` (frame names, in order).
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        root = pathlib.Path(folder)
        self.kind = 'rgbd'
        self.name = str(root)
        self.fps = DEFAULT_IMAGE_FPS
        self.camera, self.size, self._unit = self._read_camera(root / CAMERA_FILE)
        colour = {p.stem: p for p in sorted((root / COLOUR_FOLDER).iterdir())
                  if p.is_file() and is_image_path(p)}
        depth = {p.stem: p for p in sorted((root / DEPTH_FOLDER).iterdir())
                 if p.is_file() and p.suffix.lower() in DEPTH_SUFFIXES}
        if not colour:
            raise ValueError(f'RGB-D folder {root}: no images in {root / COLOUR_FOLDER}')
        missing = sorted(set(colour) - set(depth))
        if missing:
            raise ValueError(f'RGB-D folder {root}: no depth image for colour frame(s) '
                             f'{", ".join(missing[:5])}{" ..." if len(missing) > 5 else ""} '
                             f'(expected {root / DEPTH_FOLDER}/<same name>.png)')
        self.names = sorted(colour)
        self._pairs = [(colour[n], depth[n]) for n in self.names]
        self.frame_count = len(self.names)
        self._next = 0
        self.depth: np.ndarray | None = None
        self.depth_scale = self._unit
        self._load_colour(self._pairs[0][0])  # a wrong camera.json fails now, not later

    @staticmethod
    def _read_camera(path: pathlib.Path) -> tuple[Pinhole, tuple[int, int], float]:
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f'cannot read {path}: {exc}') from None
        try:
            size = (int(info['width']), int(info['height']))
            camera = Pinhole(*(float(info[key]) for key in ('fx', 'fy', 'cx', 'cy')))
            unit = float(info.get('depth_unit_m', MILLIMETRE))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f'{path} needs numbers width, height, fx, fy, cx, cy (and '
                             f'optionally depth_unit_m): {exc!r}') from None
        if info.get('depth_registered_to_color', True) is not True:
            raise ValueError(f'{path}: the depth is not registered to the colour camera; '
                             f'align it first (the depth must share the colour pixels)')
        if not (math.isfinite(unit) and unit > 0.0):
            raise ValueError(f'{path}: depth_unit_m must be a positive number, got {unit}')
        try:
            Pinhole.from_k([camera.fx, 0, camera.cx, 0, camera.fy, camera.cy, 0, 0, 1],
                           size, size)
        except ValueError as exc:
            raise ValueError(f'{path}: {exc}') from None
        return camera, size, unit

    def read(self) -> np.ndarray | None:
        """The next colour frame (BGR); its depth is then in :attr:`depth`."""
        if self._next >= len(self._pairs):
            return None
        colour_path, depth_path = self._pairs[self._next]
        self._next += 1
        frame = self._load_colour(colour_path)
        self.depth = load_depth(depth_path, self._unit, self.size)
        self.depth_scale = self._unit if self.depth.dtype == np.uint16 else METRE
        return frame

    def _load_colour(self, path: pathlib.Path) -> np.ndarray:
        frame = load_image(path)
        if (frame.shape[1], frame.shape[0]) != self.size:
            raise ValueError(f'colour image {path} is {frame.shape[1]}x{frame.shape[0]}, '
                             f'{CAMERA_FILE} says {self.size[0]}x{self.size[1]}')
        return frame

    @property
    def can_rewind(self) -> bool:
        return True

    def rewind(self) -> None:
        self._next = 0
