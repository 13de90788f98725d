# SPDX-License-Identifier: Apache-2.0
"""Image message <-> array conversion on a real frame: exact round trips, views, every error."""

from __future__ import annotations

import array
import time
import tracemalloc
from types import SimpleNamespace

import cv2
from image_bombs import png_bomb, tiff_bomb, webp_bomb
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from movenet_ros.conversions.images import array_to_compressed_msg, array_to_image_msg
from movenet_ros.core.geometry import letterbox_region, warp_to_input
from movenet_ros.core.image_codec import (
    MAX_IMAGE_SIDE,
    SUPPORTED_ENCODINGS,
    ImageConversionError,
    compressed_to_array,
    image_to_array,
)

# encoding -> (cv2 conversion from BGR or None, channel order image_to_array reports)
RAW = {
    'bgr8': (None, 'bgr'),
    'rgb8': (cv2.COLOR_BGR2RGB, 'rgb'),
    'bgra8': (cv2.COLOR_BGR2BGRA, 'bgr'),
    'rgba8': (cv2.COLOR_BGR2RGBA, 'rgb'),
    'mono8': (cv2.COLOR_BGR2GRAY, 'rgb'),
}
BPP = {'bgr8': 3, 'rgb8': 3, 'bgra8': 4, 'rgba8': 4, 'mono8': 1}


@pytest.fixture(scope='module')
def frame(demo_frames) -> np.ndarray:
    return demo_frames[5]


def as_encoding(frame: np.ndarray, encoding: str) -> np.ndarray:
    code = RAW[encoding][0]
    return frame.copy() if code is None else cv2.cvtColor(frame, code)


def back_to_bgr(image: np.ndarray, order: str) -> np.ndarray:
    """What the estimator sees, normalised to BGR: drop alpha, swap RGB."""
    image = image[..., :3]
    return image[..., ::-1] if order == 'rgb' else image


def padded_msg(pixels: np.ndarray, encoding: str, pad: int, rng) -> Image:
    """An Image whose rows carry ``pad`` bytes of random garbage after the pixels."""
    h, w = pixels.shape[:2]
    row = w * BPP[encoding]
    buf = rng.integers(0, 256, (h, row + pad), dtype=np.uint8)
    buf[:, :row] = pixels.reshape(h, row)
    msg = Image(height=h, width=w, encoding=encoding, step=row + pad)
    msg.data = array.array('B', buf.tobytes())
    return msg


def data_view(msg) -> np.ndarray:
    return np.frombuffer(msg.data, np.uint8)


# --- raw encodings -----------------------------------------------------------------------

@pytest.mark.parametrize('encoding', RAW)
def test_raw_round_trip_is_exact_and_zero_copy(frame, encoding):
    pixels = as_encoding(frame, encoding)
    header = Header(frame_id='cam')
    header.stamp.sec, header.stamp.nanosec = 17, 42
    msg = array_to_image_msg(pixels, encoding, header)
    assert (msg.height, msg.width, msg.encoding) == (994, 1768, encoding)
    assert msg.step == 1768 * BPP[encoding] and msg.is_bigendian == 0
    assert msg.header.frame_id == 'cam' and msg.header.stamp.nanosec == 42
    image, order = image_to_array(msg)
    assert order == RAW[encoding][1]
    assert image.shape == pixels.shape and image.dtype == np.uint8
    assert np.array_equal(image, pixels)
    assert np.shares_memory(image, data_view(msg)), 'expected a view over msg.data'
    if encoding != 'mono8':
        assert np.array_equal(back_to_bgr(image, order), frame)


@pytest.mark.parametrize('encoding', RAW)
def test_padded_rows_give_a_view_equal_to_the_unpadded_image(frame, encoding):
    pixels = as_encoding(frame, encoding)
    msg = padded_msg(pixels, encoding, pad=64, rng=np.random.default_rng(1))
    image, _ = image_to_array(msg)
    assert np.array_equal(image, pixels)
    assert np.shares_memory(image, data_view(msg))
    assert image.strides[0] == msg.step
    # The estimator samples the view with cv2.warpAffine: same result as a packed copy.
    region = letterbox_region(image.shape[:2], (256, 256))
    assert np.array_equal(warp_to_input(image, region, (256, 256)),
                          warp_to_input(np.ascontiguousarray(image), region, (256, 256)))


def test_bgr8_to_rgb8_messages_hold_the_same_picture(frame):
    bgr, bgr_order = image_to_array(array_to_image_msg(frame, 'bgr8'))
    rgb, rgb_order = image_to_array(array_to_image_msg(as_encoding(frame, 'rgb8'), 'rgb8'))
    assert np.array_equal(back_to_bgr(bgr, bgr_order), back_to_bgr(rgb, rgb_order))


def test_last_row_without_padding_and_trailing_bytes_are_accepted(frame):
    pixels = frame[:20, :30]
    msg = padded_msg(pixels, 'bgr8', pad=10, rng=np.random.default_rng(2))
    short = SimpleNamespace(height=20, width=30, encoding='bgr8', is_bigendian=0, step=100,
                            data=bytes(msg.data)[:-10])  # last row's padding left out
    assert np.array_equal(image_to_array(short)[0], pixels)
    long = SimpleNamespace(**{**vars(short), 'data': bytes(msg.data) + b'\x00' * 7})
    assert np.array_equal(image_to_array(long)[0], pixels)


def test_any_object_with_the_image_fields_works(frame):
    pixels = np.ascontiguousarray(frame[:4, :6])
    duck = SimpleNamespace(height=4, width=6, encoding='BGR8', is_bigendian=1, step=18,
                           data=pixels.tobytes())  # is_bigendian is moot for 8-bit channels
    image, order = image_to_array(duck)
    assert order == 'bgr' and np.array_equal(image, pixels)


def test_building_a_1080p_message_takes_milliseconds(frame):
    big = cv2.resize(frame, (1920, 1080))
    array_to_image_msg(big, 'bgr8')
    start = time.perf_counter()
    for _ in range(5):
        msg = array_to_image_msg(big, 'bgr8')
    build_ms = (time.perf_counter() - start) / 5 * 1e3
    start = time.perf_counter()
    for _ in range(100):
        image_to_array(msg)
    view_ms = (time.perf_counter() - start) / 100 * 1e3
    print(f'1080p bgr8: build Image {build_ms:.2f} ms, Image -> array {view_ms:.4f} ms')
    # A per-byte Python path would take hundreds of ms; a copy ~1 ms; a view microseconds.
    assert build_ms < 50
    assert view_ms < 1


# --- YUV 4:2:2 ---------------------------------------------------------------------------

def yuv_msg(packed: np.ndarray, encoding: str) -> Image:
    h, w = packed.shape[:2]
    msg = Image(height=h, width=w, encoding=encoding, step=w * 2)
    msg.data = array.array('B', packed.tobytes())
    return msg


@pytest.mark.parametrize(('encoding', 'to_yuv'), [
    ('yuv422', cv2.COLOR_BGR2YUV_UYVY), ('uyvy', cv2.COLOR_BGR2YUV_UYVY),
    ('yuv422_yuy2', cv2.COLOR_BGR2YUV_YUYV), ('yuyv', cv2.COLOR_BGR2YUV_YUYV)])
def test_yuv422_is_close_to_the_original(frame, encoding, to_yuv):
    image, order = image_to_array(yuv_msg(cv2.cvtColor(frame, to_yuv), encoding))
    assert order == 'rgb' and image.shape == frame.shape
    error = np.abs(back_to_bgr(image, order).astype(np.int16) - frame)
    # 4:2:2 keeps one chroma sample per two pixels: only sharp colour edges lose anything.
    # This footage is already 4:2:0 (H.264), so measured: mean 0.39, 99th percentile 1,
    # max 12 levels. The bounds leave room for other OpenCV builds' rounding.
    assert error.mean() < 1.0
    assert np.percentile(error, 99) <= 3


@pytest.mark.parametrize(('name', 'yuv', 'rgb'), [
    ('red', (81, 90, 240), (255, 0, 0)), ('green', (145, 54, 34), (0, 255, 0)),
    ('blue', (41, 240, 110), (0, 0, 255)), ('white', (235, 128, 128), (255, 255, 255))])
def test_yuv422_byte_orders_follow_ros(name, yuv, rgb):
    """Hand-packed BT.601 colours: 'yuv422' is U Y V Y, 'yuv422_yuy2' is Y U Y V."""
    y, u, v = yuv
    uyvy = np.tile(np.array([u, y, v, y], np.uint8), (2, 2)).reshape(2, 4, 2)
    yuyv = np.tile(np.array([y, u, y, v], np.uint8), (2, 2)).reshape(2, 4, 2)
    for encoding, packed in (('yuv422', uyvy), ('yuv422_yuy2', yuyv)):
        image, _ = image_to_array(yuv_msg(packed, encoding))
        assert np.abs(image.astype(int) - rgb).max() <= 2, (name, encoding, image[0, 0])
    swapped, _ = image_to_array(yuv_msg(uyvy, 'yuv422_yuy2'))
    assert np.abs(swapped.astype(int) - rgb).max() > 20, 'byte orders must differ'


def test_yuv422_with_an_odd_width_is_refused():
    msg = SimpleNamespace(height=2, width=3, encoding='yuv422', is_bigendian=0, step=6,
                          data=bytes(12))
    with pytest.raises(ImageConversionError, match='even width'):
        image_to_array(msg)


# --- bad raw messages --------------------------------------------------------------------

def raw(**fields) -> SimpleNamespace:
    base = {'height': 4, 'width': 5, 'encoding': 'bgr8', 'is_bigendian': 0, 'step': 15,
            'data': bytes(60)}
    return SimpleNamespace(**{**base, **fields})


@pytest.mark.parametrize(('msg', 'pattern'), [
    (raw(encoding='16UC1'), r"unsupported image encoding '16UC1'; supported: rgb8, bgr8"),
    (raw(encoding=''), r"unsupported image encoding ''"),
    (raw(width=0, height=0, step=0, data=b''), r'image is empty: 0x0 pixels'),
    (raw(height=0), r'image is empty: 5x0'),
    (raw(step=14), r'step 14 is smaller than a row of 5 bgr8 pixels \(15 bytes\)'),
    (raw(step=20), r'truncated: 60 bytes, .* needs at least 75'),
    (raw(data=bytes(59)), r'truncated: 59 bytes, a 5x4 bgr8 image with step 15 needs at least 60'),
    (raw(data=b''), r'truncated: 0 bytes'),
    (raw(encoding='mono8', width=20, step=20, data=bytes(60)), r'truncated'),
    (raw(width=MAX_IMAGE_SIDE + 1, step=3 * (MAX_IMAGE_SIDE + 1)), r'16384-pixel side limit'),
    (raw(data=object()), r'bytes-like'),
])
def test_bad_raw_messages_raise_with_the_reason(msg, pattern):
    with pytest.raises(ImageConversionError, match=pattern):
        image_to_array(msg)


def test_every_supported_encoding_is_listed_in_the_error():
    with pytest.raises(ImageConversionError) as info:
        image_to_array(raw(encoding='bayer_rggb8'))
    for encoding in SUPPORTED_ENCODINGS:
        assert encoding in str(info.value)


def test_absurd_sizes_are_refused_before_allocating_anything():
    # 16384 x 16384 bgr8 is within the side limit but 768 MB: refused from the header alone,
    # by the pixel budget or, with a budget raised past it, by the byte limit.
    huge = raw(width=16384, height=16384, step=16384 * 3, data=b'')
    tracemalloc.start()
    with pytest.raises(ImageConversionError, match='over the pixel budget of 8294400'):
        image_to_array(huge)
    with pytest.raises(ImageConversionError, match='exceeds the 512 MB limit'):
        image_to_array(huge, max_pixels=16384 * 16384)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1 << 20
    assert issubclass(ImageConversionError, ValueError)


def test_the_pixel_budget_counts_width_times_height(frame):
    msg = array_to_image_msg(frame[:100, :120], 'bgr8')
    image, _ = image_to_array(msg, max_pixels=120 * 100)  # exactly the budget: accepted
    assert image.shape == (100, 120, 3)
    with pytest.raises(ImageConversionError,
                       match=r'^image 120x100 has 12000 pixels, over the pixel budget of 11999$'):
        image_to_array(msg, max_pixels=120 * 100 - 1)


# --- compressed images -------------------------------------------------------------------

def compressed(data: bytes, fmt: str = 'jpeg') -> CompressedImage:
    msg = CompressedImage(format=fmt)
    msg.data = array.array('B', data)
    return msg


@pytest.fixture(scope='module')
def jpeg_bytes(frame) -> bytes:
    ok, encoded = cv2.imencode('.jpg', frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return encoded.tobytes()


@pytest.mark.parametrize('fmt', ['jpeg', 'rgb8; jpeg compressed bgr8', 'bgr8', '', 'whatever'])
def test_jpeg_decodes_to_bgr_whatever_the_format_says(frame, jpeg_bytes, fmt):
    image, order = compressed_to_array(compressed(jpeg_bytes, fmt))
    assert order == 'bgr' and image.shape == frame.shape
    psnr = cv2.PSNR(image, frame)
    assert psnr > 35, f'JPEG q95 should be close to the frame, PSNR {psnr:.1f} dB'


@pytest.mark.parametrize('trailer', [
    bytes(5000),                                   # MJPEG buffers padded with zeros
    b'\xff' * 3000,                                # or with fill bytes
    np.random.default_rng(4).bytes(70_000),        # a camera firmware's trailer
    b'\xff\xd8\xff\xe1' + bytes(100),              # the start of a second image
])
def test_bytes_after_the_jpeg_end_marker_are_ignored(frame, jpeg_bytes, trailer):
    expected = cv2.imdecode(np.frombuffer(jpeg_bytes, np.uint8), cv2.IMREAD_COLOR)
    image, _ = compressed_to_array(compressed(jpeg_bytes + trailer))
    assert np.array_equal(image, expected)  # the same pixels as the JPEG alone


@pytest.mark.parametrize(('make', 'message'), [
    (webp_bomb, 'WebP image 16000x16000 has 256000000 pixels, over the pixel budget of 8294400'),
    (tiff_bomb,
     r'TIFF image 20000x20000 exceeds the 16384-pixel side limit \(a corrupt header\?\)'),
    (png_bomb, 'PNG image 13000x13000 has 169000000 pixels, over the pixel budget of 8294400'),
])
def test_bombs_are_refused_before_decoding(monkeypatch, make, message):
    monkeypatch.delenv('OPENCV_IO_MAX_IMAGE_PIXELS', raising=False)  # OpenCV's limit: 2^30
    with pytest.raises(ImageConversionError, match=f'^{message}$'):
        compressed_to_array(compressed(make()))


def test_the_pixel_budget_applies_to_compressed_images(frame):
    msg = array_to_compressed_msg(frame[:100, :120], image_format='png')
    image, _ = compressed_to_array(msg, max_pixels=12000)
    assert image.shape == (100, 120, 3)
    with pytest.raises(ImageConversionError, match='PNG image 120x100 has 12000 pixels'):
        compressed_to_array(msg, max_pixels=11999)


def test_png_round_trip_is_exact(frame):
    msg = array_to_compressed_msg(frame, Header(frame_id='cam'), image_format='png')
    assert msg.format == 'bgr8; png compressed bgr8' and msg.header.frame_id == 'cam'
    image, order = compressed_to_array(msg)
    assert order == 'bgr' and np.array_equal(image, frame)


def test_jpeg_message_follows_image_transport(frame):
    msg = array_to_compressed_msg(frame, quality=80, encoding='rgb8')
    assert msg.format == 'rgb8; jpeg compressed bgr8'
    assert bytes(msg.data[:2]) == b'\xff\xd8'
    image, _ = compressed_to_array(msg)
    assert cv2.PSNR(image, frame) > 30
    mono = array_to_compressed_msg(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), encoding='mono8')
    assert mono.format == 'mono8; jpeg compressed mono8'


@pytest.mark.parametrize(('make', 'pattern'), [
    (lambda jpg: b'', r"compressed image is empty \(format 'jpeg'\)"),
    (lambda jpg: np.random.default_rng(3).bytes(5000),
     r"not an image format the node reads \(first bytes [0-9a-f]{16}\); send one of JPEG, "
     r"PNG, .* \(format 'jpeg', 5000 bytes\)"),
    (lambda jpg: jpg[: len(jpg) // 2], r'JPEG is cut short: no end-of-image marker'),
    (lambda jpg: jpg[:-2], r'JPEG is cut short: no end-of-image marker'),
    (lambda jpg: jpg[:2], r'JPEG is cut short'),
    (lambda jpg: jpg[:2000] + bytes(len(jpg) - 2000), r'JPEG is cut short'),  # zero-filled
])
def test_bad_compressed_data_raises_with_the_reason(jpeg_bytes, make, pattern):
    with pytest.raises(ImageConversionError, match=pattern):
        compressed_to_array(compressed(make(jpeg_bytes)))


def test_truncated_png_and_depth_formats_are_refused(frame):
    ok, png = cv2.imencode('.png', frame[:100, :100])
    assert ok
    with pytest.raises(ImageConversionError, match=r"cannot decode .*format 'png'"):
        compressed_to_array(compressed(png.tobytes()[:-100], 'png'))
    with pytest.raises(ImageConversionError, match='compressed depth'):
        compressed_to_array(compressed(png.tobytes(), '16UC1; compressedDepth png'))


# --- bad arrays for messages -------------------------------------------------------------

@pytest.mark.parametrize(('image', 'encoding', 'pattern'), [
    (np.zeros((4, 5, 3), np.uint8), 'yuv422', r"cannot write encoding 'yuv422'"),
    (np.zeros((4, 5, 3), np.float32), 'bgr8', r'uint8 NumPy array, got float32'),
    ([[1, 2]], 'mono8', r'uint8 NumPy array, got list'),
    (np.zeros((4, 5), np.uint8), 'bgr8', r'bgr8 needs HxWx3 pixels, got shape \(4, 5\)'),
    (np.zeros((4, 5, 3), np.uint8), 'bgra8', r'bgra8 needs HxWx4'),
    (np.zeros((4, 5, 3), np.uint8), 'mono8', r'mono8 needs HxW or HxWx1'),
    (np.zeros((0, 5, 3), np.uint8), 'bgr8', r'image is empty: 5x0'),
])
def test_bad_arrays_are_refused(image, encoding, pattern):
    with pytest.raises(ImageConversionError, match=pattern):
        array_to_image_msg(image, encoding)


def test_non_contiguous_arrays_are_packed(frame):
    crop = frame[100:200, 300:500]  # a strided view
    image, _ = image_to_array(array_to_image_msg(crop, 'bgr8'))
    assert np.array_equal(image, crop)
    mono = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)[..., None]  # HxWx1 is fine for mono8
    image, _ = image_to_array(array_to_image_msg(mono, 'mono8'))
    assert image.shape == mono.shape[:2] and np.array_equal(image, mono[..., 0])
