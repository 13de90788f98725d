# SPDX-License-Identifier: Apache-2.0
"""Declared sizes read without decoding, for every format OpenCV decodes, checked against what
OpenCV actually decodes from the same bytes; bombs sized from their headers alone."""

from __future__ import annotations

import struct
import tracemalloc

import cv2
from image_bombs import png_bomb, tiff, tiff_bomb, webp_bomb, webp_vp8x
import numpy as np
import pytest

from movenet_ros.core.image_headers import ImageHeader, ImageHeaderError, read_header


@pytest.fixture(scope='module')
def picture(demo_frames) -> np.ndarray:
    """A real 97 x 61 crop (odd sizes, wider than high) of the demo footage."""
    return np.ascontiguousarray(demo_frames[3][400:461, 800:897])


def encode(ext: str, image: np.ndarray, *params: int) -> bytes:
    ok, encoded = cv2.imencode(ext, image, list(params))
    assert ok, ext
    return encoded.tobytes()


def decoded_wh(data: bytes) -> tuple[int, int]:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image.shape[1], image.shape[0]


def animation(ext: str, frames: list[np.ndarray]) -> bytes:
    anim = cv2.Animation()
    anim.frames, anim.durations = frames, [100] * len(frames)
    ok, encoded = cv2.imencodeanimation(ext, anim)
    assert ok, ext
    return bytes(encoded)


ENCODINGS = {
    'jpeg baseline': lambda p: encode('.jpg', p),
    'jpeg progressive': lambda p: encode('.jpg', p, cv2.IMWRITE_JPEG_PROGRESSIVE, 1),
    'jpeg restart markers': lambda p: encode('.jpg', p, cv2.IMWRITE_JPEG_RST_INTERVAL, 2),
    'jpeg optimized, grey': lambda p: encode('.jpg', cv2.cvtColor(p, cv2.COLOR_BGR2GRAY),
                                             cv2.IMWRITE_JPEG_OPTIMIZE, 1),
    'png': lambda p: encode('.png', p),
    'png 16-bit': lambda p: encode('.png', p.astype(np.uint16) * 257),
    'apng': lambda p: animation('.png', [p, p[::-1].copy()]),
    'webp lossy (VP8)': lambda p: encode('.webp', p, cv2.IMWRITE_WEBP_QUALITY, 80),
    'webp lossless (VP8L)': lambda p: encode('.webp', p, cv2.IMWRITE_WEBP_QUALITY, 101),
    'webp extended (VP8X)': webp_vp8x,
    'tiff little endian': lambda p: encode('.tiff', p),
    'tiff big endian': lambda p: tiff(p.shape[1], p.shape[0],
                                      cv2.cvtColor(p, cv2.COLOR_BGR2GRAY).tobytes(), 1, '>'),
    'gif': lambda p: encode('.gif', p),
    'bmp': lambda p: encode('.bmp', p),
    'ppm': lambda p: encode('.ppm', p),
    'pgm': lambda p: encode('.pgm', cv2.cvtColor(p, cv2.COLOR_BGR2GRAY)),
    'pbm': lambda p: encode('.pbm', cv2.cvtColor(p, cv2.COLOR_BGR2GRAY)),
    'pam': lambda p: encode('.pam', p),
    'sun raster': lambda p: encode('.ras', p),
}


@pytest.mark.parametrize('kind', ENCODINGS)
def test_declared_size_is_what_opencv_decodes(picture, kind):
    data = ENCODINGS[kind](picture)
    header = read_header(data)
    assert (header.width, header.height) == decoded_wh(data) == (97, 61), kind
    assert header.length == len(data)
    assert read_header(memoryview(data)) == read_header(bytearray(data)) == header


def test_the_largest_tiff_page_counts(picture):
    data = bytes(cv2.imencodemulti('.tiff', [picture, cv2.resize(picture, (300, 20))])[1])
    assert decoded_wh(data) == (97, 61)  # OpenCV decodes the first page...
    header = read_header(data)
    assert (header.format, header.width, header.height) == ('TIFF', 300, 61)  # ...not only


def test_a_bmp_stored_top_down_has_a_positive_height(picture):
    data = bytearray(encode('.bmp', picture))
    height = int.from_bytes(data[22:26], 'little', signed=True)
    data[22:26] = (-height).to_bytes(4, 'little', signed=True)  # rows stored top-down
    assert decoded_wh(bytes(data)) == (97, 61)
    assert (read_header(data).width, read_header(data).height) == (97, 61)


def test_pnm_comments_are_skipped(picture):
    data = encode('.pgm', cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY))
    commented = data.replace(b'P5\n', b'P5\n# a comment 12 34\n', 1)
    assert decoded_wh(commented) == (97, 61)
    assert read_header(commented).width == 97


@pytest.mark.parametrize('sof', [0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD,
                                 0xCE, 0xCF])
def test_every_jpeg_frame_type_is_sized(picture, sof):
    """Extended, progressive, lossless, hierarchical and arithmetic-coded frames all keep
    their size at the same place as baseline (SOF0); the marker alone differs."""
    data = bytearray(encode('.jpg', picture))
    at = data.index(b'\xff\xc0')
    data[at + 1] = sof
    assert read_header(data) == ImageHeader('JPEG', 97, 61, len(data))


@pytest.mark.parametrize('trailer', [bytes(5000), b'\xff' * 64, b'camera firmware v1.2' * 40,
                                     b'\xff\xd8\xff\xe0 not another image'])
def test_a_jpeg_ends_at_its_end_of_image_marker(picture, trailer):
    data = encode('.jpg', picture)
    assert read_header(data + trailer) == ImageHeader('JPEG', 97, 61, len(data))


def test_a_jpeg_cut_anywhere_is_refused(picture):
    data = encode('.jpg', picture, cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    for cut in range(2, len(data) - 1, 37):
        with pytest.raises(ImageHeaderError, match='JPEG'):
            read_header(data[:cut])
    with pytest.raises(ImageHeaderError, match='cut short: no end-of-image marker'):
        read_header(data[:-2] + bytes(500))  # zero padding does not make up for the end


@pytest.mark.parametrize(('make', 'declared'), [
    (webp_bomb, ('WebP', 16000, 16000)),
    (tiff_bomb, ('TIFF', 20000, 20000)),
    (png_bomb, ('PNG', 13000, 13000)),
])
def test_bombs_are_sized_from_a_few_bytes(make, declared):
    data = make()
    assert len(data) < 400_000  # 38 B, 389 KB and 164 KB
    tracemalloc.start()
    header = read_header(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (header.format, header.width, header.height) == declared
    assert peak < 64 * 1024


def test_small_versions_of_the_bombs_decode_as_they_declare():
    """The bombs are real images: the same bytes at a small size decode to that size."""
    for data in (webp_bomb(300, 200), tiff_bomb(300, 200), png_bomb(300, 200)):
        assert decoded_wh(data) == (300, 200)
        assert (read_header(data).width, read_header(data).height) == (300, 200)


@pytest.mark.parametrize(('data', 'pattern'), [
    (None, r'AVIF/HEIF images are not accepted \(its real size is in the AV1 bitstream'),
    (b'\0\0\0\x0cjP  \r\n\x87\n' + bytes(40), r'JPEG 2000 images are not accepted'),
    (b'\xff\x4f\xff\x51' + bytes(40), r'JPEG 2000 images are not accepted'),
    (b'#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 2\n', r'Radiance HDR .*floating-point'),
    (b'PF\n2 2\n-1\n' + bytes(48), r'PFM images are not accepted'),
    (b'\x76\x2f\x31\x01' + bytes(40), r'OpenEXR images are not accepted'),
    (b'GIF8', r'not an image format the node reads \(first bytes 47494638\); send one of '
              r'JPEG, PNG, WebP, TIFF, GIF, BMP, PNM, Sun raster'),
    (b'\x00' * 64, r'not an image format'),
])
def test_formats_that_cannot_be_sized_are_refused_by_name(picture, data, pattern):
    if data is None:
        data = encode('.avif', picture)
        assert decoded_wh(data) == (97, 61)  # OpenCV would decode it
    with pytest.raises(ImageHeaderError, match=pattern):
        read_header(data)


def tiff_ifd_loop() -> bytes:
    data = bytearray(tiff(4, 4, bytes(16), 1))
    next_at = 8 + 2 + 12 * 9
    data[next_at:next_at + 4] = struct.pack('<I', 8)  # the next page is the first one again
    return bytes(data)


@pytest.mark.parametrize(('data', 'pattern'), [
    (b'\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0', r'PNG header is cut short \(18 bytes\)'),
    (b'\x89PNG\r\n\x1a\n\0\0\0\x0dIDAT' + bytes(16), r'first chunk is not IHDR'),
    (b'RIFF\x04\0\0\0WEBPJUNK\0\0\0\0', r'WebP declares no image size'),
    (b'II*\0\x08\0\0\0\x01\0', r'TIFF header is cut short'),
    (tiff_ifd_loop(), r'directories form a loop'),
    (b'\xff\xd8\xff\xd9', r'JPEG has no frame header'),
    (b'\xff\xd8\xff\xda\0\x08' + bytes(6) + b'\xff\xd9', r'image data before the frame header'),
    (b'\xff\xd8\x00\x00', r'JPEG is corrupt: no marker at byte 2'),
    (b'\xff\xd8\xff\xe0\x00\x01', r'segment length 1'),
    (b'P6\n# only a comment\n', r'PNM header declares no width and height'),
    (b'P7\nWIDTH 4\nENDHDR\n', r'PAM header declares no WIDTH and HEIGHT'),
    (b'BM' + bytes(10), r'BMP header is cut short \(12 bytes\)'),
    (b'BM' + bytes(12) + struct.pack('<Iii', 40, -5, 5), r'BMP is corrupt: negative width -5'),
])
def test_corrupt_headers_are_refused_with_the_reason(data, pattern):
    with pytest.raises(ImageHeaderError, match=pattern):
        read_header(data)
    assert issubclass(ImageHeaderError, ValueError)
