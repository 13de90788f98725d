# SPDX-License-Identifier: Apache-2.0
"""Small compressed images that declare huge pictures ("decompression bombs"), and small
real images in the rarer layouts (big-endian TIFF, WebP VP8X), written byte by byte.

Each is a valid file that OpenCV decodes in full: a 38-byte lossless WebP of 16000 x 16000
(768 MB decoded), a 389 KB deflate TIFF of 20000 x 20000 (1.2 GB) and a 164 KB grey PNG of
13000 x 13000 (507 MB), as reported in issue 10.
"""

from __future__ import annotations

import functools
import struct
import zlib

import cv2
import numpy as np


def _zeros_deflated(total: int, chunk: int = 1 << 22) -> bytes:
    """zlib stream of ``total`` zero bytes, compressed without holding them in memory."""
    compressor = zlib.compressobj(9)
    zero = bytes(chunk)
    parts = []
    while total > 0:
        n = min(chunk, total)
        parts.append(compressor.compress(zero if n == chunk else bytes(n)))
        total -= n
    parts.append(compressor.flush())
    return b''.join(parts)


def _png_chunk(tag: bytes, body: bytes) -> bytes:
    return (struct.pack('>I', len(body)) + tag + body
            + struct.pack('>I', zlib.crc32(tag + body)))


@functools.lru_cache(maxsize=4)
def png_bomb(width: int = 13000, height: int = 13000) -> bytes:
    """A black 8-bit grey PNG: every row is filter byte 0 and zeros, which deflate ~1000:1."""
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + _png_chunk(b'IHDR', ihdr)
            + _png_chunk(b'IDAT', _zeros_deflated((width + 1) * height))
            + _png_chunk(b'IEND', b''))


def tiff(width: int, height: int, strip: bytes, compression: int, order: str = '<') -> bytes:
    """A one-strip 8-bit grey TIFF (``order`` '<' little endian, '>' big endian)."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, compression),
               (262, 3, 1), (273, 4, 0), (277, 3, 1), (278, 4, height), (279, 4, len(strip))]
    data_at = 8 + 2 + 12 * len(entries) + 4
    ifd = struct.pack(order + 'H', len(entries))
    for tag, kind, value in entries:
        value = data_at if tag == 273 else value
        field = struct.pack(order + 'HH', value, 0) if kind == 3 else struct.pack(
            order + 'I', value)
        ifd += struct.pack(order + 'HHI', tag, kind, 1) + field
    magic = b'II*\0' if order == '<' else b'MM\0*'
    return magic + struct.pack(order + 'I', 8) + ifd + struct.pack(order + 'I', 0) + strip


@functools.lru_cache(maxsize=4)
def tiff_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A black grey TIFF, one deflate-compressed strip."""
    return tiff(width, height, _zeros_deflated(width * height), compression=8)


def webp_bomb(width: int = 16000, height: int = 16000) -> bytes:
    """A uniform lossless WebP with its declared size patched.

    A uniform image codes every pixel with a one-symbol Huffman code of zero bits, so the
    bitstream of a 16 x 16 image decodes to any size the header declares.
    """
    ok, encoded = cv2.imencode('.webp', np.full((16, 16, 3), 128, np.uint8),
                               [cv2.IMWRITE_WEBP_QUALITY, 101])  # > 100: lossless
    assert ok
    data = bytearray(encoded.tobytes())
    assert data[12:16] == b'VP8L' and data[20] == 0x2F
    bits = int.from_bytes(data[21:25], 'little') & ~((1 << 28) - 1)
    data[21:25] = (bits | (width - 1) | ((height - 1) << 14)).to_bytes(4, 'little')
    return bytes(data)


def webp_vp8x(image: np.ndarray) -> bytes:
    """A lossless WebP of ``image`` in the extended layout: a VP8X chunk, then VP8L."""
    ok, encoded = cv2.imencode('.webp', image, [cv2.IMWRITE_WEBP_QUALITY, 101])
    assert ok
    simple = encoded.tobytes()
    assert simple[12:16] == b'VP8L'
    h, w = image.shape[:2]
    vp8x = b'VP8X' + struct.pack('<I', 10) + bytes(4) + (w - 1).to_bytes(3, 'little') + (
        h - 1).to_bytes(3, 'little')
    body = b'WEBP' + vp8x + simple[12:]
    return b'RIFF' + struct.pack('<I', len(body)) + body
