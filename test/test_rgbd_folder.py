# SPDX-License-Identifier: Apache-2.0
"""The RGB-D folder source on the real frames of test/data/rgbd, and every bad folder refused
at opening with the file and the reason."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from rgbd import FRAMES, RGBD, colour, colour_camera, depth_mm

from movenet_ros.core.rgbd_folder import RgbdFolderSource, is_rgbd_folder


def test_the_real_folder_plays_colour_with_its_depth():
    assert is_rgbd_folder(RGBD) and not is_rgbd_folder(RGBD / 'color')
    with RgbdFolderSource(RGBD) as source:
        assert (source.kind, source.size, source.frame_count) == ('rgbd', (640, 480), 3)
        assert source.names == list(FRAMES) and source.camera == colour_camera()
        for name in FRAMES:
            frame = source.read()
            np.testing.assert_array_equal(frame, colour(name))
            np.testing.assert_array_equal(source.depth, depth_mm(name))
            assert source.depth_scale == 0.001
        assert source.read() is None
        source.rewind()
        np.testing.assert_array_equal(source.read(), colour(FRAMES[0]))


@pytest.fixture
def folder(tmp_path):
    copy = tmp_path / 'rgbd'
    shutil.copytree(RGBD, copy)
    return copy


def test_float_depth_in_metres_is_read_as_metres(folder):
    metres = (depth_mm('00035') / 1000.0).astype(np.float32)
    (folder / 'depth' / '00035.png').unlink()
    assert cv2.imwrite(str(folder / 'depth' / '00035.tiff'), metres)
    source = RgbdFolderSource(folder)
    source.read()
    assert source.depth.dtype == np.float32 and source.depth_scale == 1.0
    np.testing.assert_array_equal(source.depth, metres)
    source.read()
    assert source.depth_scale == 0.001  # per file


def rewrite_camera(folder, **changes):
    info = json.loads((folder / 'camera.json').read_text())
    info.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del info[key]
    (folder / 'camera.json').write_text(json.dumps(info))


@pytest.mark.parametrize(('damage', 'message'), [
    (lambda f: (f / 'depth' / '00044.png').unlink(),
     r'no depth image for colour frame\(s\) 00044 \(expected .*depth/<same name>\.png\)'),
    (lambda f: [p.unlink() for p in (f / 'color').iterdir()], r'no images in .*color'),
    (lambda f: rewrite_camera(f, fx=None), r'camera.json needs numbers width, height, fx'),
    (lambda f: rewrite_camera(f, width='wide'), r'needs numbers'),
    (lambda f: rewrite_camera(f, width=320), r'colour image .*00035.png is 640x480, '
                                             r'camera.json says 320x480'),
    (lambda f: rewrite_camera(f, depth_registered_to_color=False),
     r'not registered to the colour camera'),
    (lambda f: rewrite_camera(f, depth_unit_m=0), r'depth_unit_m must be a positive number'),
    (lambda f: rewrite_camera(f, fx=1e9), r'focal length fx = 1e\+09 px is not within'),
    (lambda f: (f / 'camera.json').write_text('{'), r'cannot read .*camera.json'),
])
def test_a_bad_folder_is_refused_when_opened(folder, damage, message):
    damage(folder)
    with pytest.raises(ValueError, match=message):
        RgbdFolderSource(folder)


@pytest.mark.parametrize(('depth', 'message'), [
    (np.zeros((240, 320), np.uint16), r'depth image .*00035.png is 320x240, its colour frame '
                                      r'640x480: the depth must be aligned to the colour'),
    (np.zeros((480, 640), np.uint8), r'must be one channel of 16-bit integers \(1 mm units\) '
                                     r'or 32-bit floats \(metres\), got 1 channel\(s\) of uint8'),
    (np.zeros((480, 640, 3), np.uint16), r'got 3 channel\(s\) of uint16'),
])
def test_a_bad_depth_file_is_refused_naming_it(folder, depth, message):
    assert cv2.imwrite(str(folder / 'depth' / '00035.png'), depth)
    source = RgbdFolderSource(folder)
    with pytest.raises(ValueError, match=message):
        source.read()
    (folder / 'depth' / '00044.png').write_bytes(b'not a png')
    with pytest.raises(ValueError, match=r'depth image .*00044.png: '):
        source.read()
