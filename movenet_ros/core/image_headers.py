# SPDX-License-Identifier: Apache-2.0
"""What compressed image data declares about itself, read from its headers without decoding.

A few dozen bytes of WebP, or a few hundred kilobytes of PNG or TIFF, can declare a picture of
16000 x 16000 pixels: the decoder allocates and fills the whole image (768 MB and more) before
any check on its output could refuse it. :func:`read_header` reads the format and the size the
data declares, so a caller can refuse it against a pixel budget first, for the cost of parsing
a header.

It knows every 8-bit picture format OpenCV's ``imdecode`` reads: JPEG (every frame type:
baseline, extended, progressive, lossless, arithmetic), PNG (and APNG), WebP (lossy VP8,
lossless VP8L, extended VP8X with its frames), TIFF (little and big endian, classic and
BigTIFF, every page), GIF, BMP, PBM/PGM/PPM/PAM and Sun raster. Where data declares several
images (TIFF pages, WebP or GIF frames and canvas), the size is the largest of them, so a small
first page cannot hide a huge second one. Everything else is refused with
:class:`ImageHeaderError`, naming the format when it is one OpenCV would decode: AVIF (its real
size is in the AV1 bitstream, not read here), JPEG 2000 (its decoder keeps 4 bytes per sample
besides the image) and the floating-point formats (Radiance HDR, PFM, OpenEXR).

A JPEG is also walked to its end-of-image marker: bytes after it (padding of MJPEG streams,
camera firmware trailers) are not part of the image, and a JPEG without one is cut short.
ROS-free: plain bytes in, a dataclass out.
"""

from __future__ import annotations

from dataclasses import dataclass
import re

# The formats a caller can expect to decode, for messages.
ACCEPTED_FORMATS = ('JPEG', 'PNG', 'WebP', 'TIFF', 'GIF', 'BMP', 'PNM', 'Sun raster')
# 4K UHD, the largest stream of common robot cameras (RealSense colour is 1920 x 1080, ZED 2
# 2208 x 1242). Measured: MultiPose with every output subscribed peaks at 335 MB RSS on a
# 3840 x 2160 JPEG (about 12 MB per megapixel above its 226 MB at rest), inside the node's
# 350 MB target; raise it for larger sensors, at that cost.
DEFAULT_MAX_IMAGE_PIXELS = 3840 * 2160

# Most directories or frames walked in one file (a loop of offsets must not hang the caller).
_MAX_CHUNKS = 4096
# Most header bytes a text header (PNM) may take.
_MAX_TEXT_HEADER = 4096


class ImageHeaderError(ValueError):
    """Data whose size cannot be read without decoding it; the message says why."""


@dataclass(frozen=True)
class ImageHeader:
    """What the data declares: its format, the largest image in it, where the image ends."""

    format: str
    width: int
    height: int
    # Bytes that belong to the image: up to and including a JPEG's end-of-image marker, else
    # the whole data.
    length: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def read_header(data: bytes | bytearray | memoryview) -> ImageHeader:
    """The :class:`ImageHeader` of compressed image ``data``; :class:`ImageHeaderError` if the
    format is unknown or refused, or the header is cut short or inconsistent."""
    data = memoryview(data).cast('B') if not isinstance(data, bytes) else data
    head = bytes(data[:16])
    for matches, reader in _READERS:
        if matches(head):
            return reader(data)
    for matches, name, why in _REFUSED:
        if matches(head):
            raise ImageHeaderError(f'{name} images are not accepted ({why}); send one of '
                                   f'{", ".join(ACCEPTED_FORMATS)}')
    raise ImageHeaderError(f'not an image format the node reads (first bytes {head[:8].hex()}); '
                           f'send one of {", ".join(ACCEPTED_FORMATS)}')


def _u16(data, pos: int, order: str = 'big') -> int:
    return int.from_bytes(data[pos:pos + 2], order)


def _u32(data, pos: int, order: str = 'big') -> int:
    return int.from_bytes(data[pos:pos + 4], order)


def _u24(data, pos: int) -> int:
    return int.from_bytes(data[pos:pos + 3], 'little')


def _need(data, end: int, fmt: str) -> None:
    if len(data) < end:
        raise ImageHeaderError(f'{fmt} header is cut short ({len(data)} bytes)')


# ---- JPEG ----------------------------------------------------------------------------------

# Start-of-frame markers (SOF0..SOF15 but DHT, JPG and DAC), which hold the frame size.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_EOI, _JPEG_SOS = 0xD9, 0xDA
# In entropy-coded data, 0xFF is followed by 0x00 (a stuffed byte), a restart marker
# (0xD0-0xD7) or fill bytes (0xFF); anything else is the next marker.
_JPEG_NEXT_MARKER = re.compile(rb'\xff(?=[^\x00\xd0-\xd7\xff])')


def _read_jpeg(data) -> ImageHeader:
    """Walk the marker segments and scans of a JPEG to its end-of-image marker."""
    size: tuple[int, int] | None = None
    pos, end = 2, len(data)
    while True:
        if pos + 2 > end:
            raise ImageHeaderError(f'JPEG is cut short: no end-of-image marker in its '
                                   f'{end} bytes')
        if data[pos] != 0xFF:
            raise ImageHeaderError(f'JPEG is corrupt: no marker at byte {pos}')
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == _JPEG_EOI:
            if size is None:
                raise ImageHeaderError('JPEG has no frame header (no image in it)')
            return ImageHeader('JPEG', size[0], size[1], pos + 2)
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        _need(data, pos + 4, 'JPEG')
        length = _u16(data, pos + 2)
        if length < 2:
            raise ImageHeaderError(f'JPEG is corrupt: segment length {length} at byte {pos}')
        if marker in _JPEG_SOF and size is None:
            _need(data, pos + 9, 'JPEG')  # length(2) precision(1) height(2) width(2)
            size = (_u16(data, pos + 7), _u16(data, pos + 5))
        pos += 2 + length
        if marker == _JPEG_SOS:
            if size is None:
                raise ImageHeaderError('JPEG is corrupt: image data before the frame header')
            found = _JPEG_NEXT_MARKER.search(data, min(pos, end))
            pos = found.start() if found else end


# ---- PNG -----------------------------------------------------------------------------------

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def _read_png(data) -> ImageHeader:
    """PNG's first chunk is IHDR: width and height (APNG frames must fit inside them)."""
    _need(data, 24, 'PNG')
    if bytes(data[12:16]) != b'IHDR':
        raise ImageHeaderError('PNG is corrupt: its first chunk is not IHDR')
    return ImageHeader('PNG', _u32(data, 16), _u32(data, 20), len(data))


# ---- WebP ----------------------------------------------------------------------------------

def _read_webp(data) -> ImageHeader:
    """Walk the RIFF chunks: the VP8X canvas, every VP8/VP8L bitstream and ANMF frame."""
    _need(data, 20, 'WebP')
    width = height = 0
    pos, count = 12, 0
    while pos + 8 <= len(data) and count < _MAX_CHUNKS:
        tag, size, body = bytes(data[pos:pos + 4]), _u32(data, pos + 4, 'little'), pos + 8
        count += 1
        if tag == b'VP8X':  # flags(4), canvas width - 1 (3), canvas height - 1 (3)
            _need(data, body + 10, 'WebP')
            w = 1 + _u24(data, body + 4)
            h = 1 + _u24(data, body + 7)
        elif tag == b'ANMF':  # x / 2 (3), y / 2 (3), width - 1 (3), height - 1 (3), ...
            _need(data, body + 12, 'WebP')
            w = 2 * _u24(data, body) + 1 + _u24(data, body + 6)
            h = 2 * _u24(data, body + 3) + 1 + _u24(data, body + 9)
            # The frame's own bitstream follows inside the ANMF chunk.
            inner = _read_webp_bitstream(data, body + 16)
            if inner:
                w, h = max(w, inner[0]), max(h, inner[1])
        else:
            w, h = _read_webp_bitstream(data, pos) or (0, 0)
        width, height = max(width, w), max(height, h)
        pos = body + size + (size & 1)  # chunks are padded to an even size
    if not (width and height):
        raise ImageHeaderError('WebP declares no image size (no VP8, VP8L or VP8X chunk)')
    return ImageHeader('WebP', width, height, len(data))


def _read_webp_bitstream(data, pos: int) -> tuple[int, int] | None:
    """The size a VP8 or VP8L chunk at ``pos`` declares; None for other chunks."""
    tag, body = bytes(data[pos:pos + 4]), pos + 8
    if tag == b'VP8 ':  # frame tag(3), start code 9d 01 2a, width(14 bits), height(14 bits)
        _need(data, body + 10, 'WebP')
        if bytes(data[body + 3:body + 6]) != b'\x9d\x01\x2a':
            raise ImageHeaderError('WebP is corrupt: VP8 chunk without a start code')
        return (_u16(data, body + 6, 'little') & 0x3FFF, _u16(data, body + 8, 'little') & 0x3FFF)
    if tag == b'VP8L':  # signature 0x2f, then width - 1 and height - 1 in 14 bits each
        _need(data, body + 5, 'WebP')
        if data[body] != 0x2F:
            raise ImageHeaderError('WebP is corrupt: VP8L chunk without its signature')
        bits = _u32(data, body + 1, 'little')
        return (1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF))
    return None


# ---- TIFF ----------------------------------------------------------------------------------

_TIFF_WIDTH, _TIFF_LENGTH = 256, 257
# Field type -> byte size, for the integer types a width or length may use.
_TIFF_INT_SIZES = {1: 1, 3: 2, 4: 4, 16: 8}


def _read_tiff(data) -> ImageHeader:
    """Walk every image file directory (page) of a TIFF or BigTIFF; the largest page counts."""
    order = 'little' if bytes(data[:2]) == b'II' else 'big'
    big = _u16(data, 2, order) == 43
    _need(data, 16 if big else 8, 'TIFF')
    offset = int.from_bytes(data[8:16] if big else data[4:8], order)
    count_size, entry_size, offset_size = (8, 20, 8) if big else (2, 12, 4)
    width = height = pages = 0
    seen: set[int] = set()
    while offset:
        if offset in seen:
            raise ImageHeaderError('TIFF is corrupt: its directories form a loop')
        if pages >= _MAX_CHUNKS:
            raise ImageHeaderError(f'TIFF has more than {_MAX_CHUNKS} pages')
        seen.add(offset)
        _need(data, offset + count_size, 'TIFF')
        entries = int.from_bytes(data[offset:offset + count_size], order)
        first = offset + count_size
        _need(data, first + entries * entry_size + offset_size, 'TIFF')
        size = {}
        for i in range(entries):
            entry = first + i * entry_size
            tag, kind = _u16(data, entry, order), _u16(data, entry + 2, order)
            if tag in (_TIFF_WIDTH, _TIFF_LENGTH) and kind in _TIFF_INT_SIZES:
                value = entry + (4 + 8 if big else 4 + 4)  # after tag, type and count
                size[tag] = int.from_bytes(data[value:value + _TIFF_INT_SIZES[kind]], order)
        pages += 1
        if len(size) != 2:
            raise ImageHeaderError(f'TIFF page {pages} declares no image width and length')
        width, height = max(width, size[_TIFF_WIDTH]), max(height, size[_TIFF_LENGTH])
        next_at = first + entries * entry_size
        offset = int.from_bytes(data[next_at:next_at + offset_size], order)
    if not pages:
        raise ImageHeaderError('TIFF has no image directory')
    return ImageHeader('TIFF', width, height, len(data))


# ---- GIF, BMP, Sun raster, PNM -------------------------------------------------------------

def _read_gif(data) -> ImageHeader:
    """The logical screen, and the first frame's extent (which OpenCV decodes onto it)."""
    _need(data, 13, 'GIF')
    width, height = _u16(data, 6, 'little'), _u16(data, 8, 'little')
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # global colour table
    while pos < len(data):
        block = data[pos]
        if block == 0x2C:  # image descriptor: left, top, width, height (2 bytes each)
            _need(data, pos + 9, 'GIF')
            left, top = _u16(data, pos + 1, 'little'), _u16(data, pos + 3, 'little')
            width = max(width, left + _u16(data, pos + 5, 'little'))
            height = max(height, top + _u16(data, pos + 7, 'little'))
            break
        if block != 0x21:  # anything but an extension before the first frame
            break
        pos += 2  # extension introducer and label, then sub-blocks up to an empty one
        while pos < len(data) and data[pos]:
            pos += 1 + data[pos]
        pos += 1
    return ImageHeader('GIF', width, height, len(data))


def _read_bmp(data) -> ImageHeader:
    """BMP: the DIB header after the 14-byte file header (OS/2 core or Windows info)."""
    _need(data, 26, 'BMP')
    if _u32(data, 14, 'little') == 12:  # BITMAPCOREHEADER: 16-bit sizes
        return ImageHeader('BMP', _u16(data, 18, 'little'), _u16(data, 20, 'little'),
                           len(data))
    width = int.from_bytes(data[18:22], 'little', signed=True)
    height = int.from_bytes(data[22:26], 'little', signed=True)  # negative: top-down rows
    if width < 0:
        raise ImageHeaderError(f'BMP is corrupt: negative width {width}')
    return ImageHeader('BMP', width, abs(height), len(data))


def _read_sun_raster(data) -> ImageHeader:
    _need(data, 12, 'Sun raster')
    return ImageHeader('Sun raster', _u32(data, 4), _u32(data, 8), len(data))


_PNM_TOKEN = re.compile(rb'(?:\s|#[^\n]*\n?)*(\d+)')
_PAM_FIELD = re.compile(rb'^\s*(WIDTH|HEIGHT)\s+(\d+)', re.MULTILINE)


def _read_pnm(data) -> ImageHeader:
    """PBM/PGM/PPM (P1-P6): width and height are the first two numbers after the magic
    (comments from '#' to the end of a line); PAM (P7): WIDTH and HEIGHT lines."""
    head = bytes(data[:_MAX_TEXT_HEADER])
    if head[1:2] == b'7':
        end = head.find(b'ENDHDR')
        fields = dict(_PAM_FIELD.findall(head[:end])) if end > 0 else {}
        if len(fields) != 2:
            raise ImageHeaderError('PAM header declares no WIDTH and HEIGHT')
        return ImageHeader('PNM', int(fields[b'WIDTH']), int(fields[b'HEIGHT']), len(data))
    pos, size = 2, []
    for _ in range(2):
        found = _PNM_TOKEN.match(head, pos)
        if not found:
            raise ImageHeaderError('PNM header declares no width and height')
        size.append(int(found.group(1)))
        pos = found.end()
    return ImageHeader('PNM', size[0], size[1], len(data))


# ---- which reader ---------------------------------------------------------------------------

def _is_pnm(head: bytes) -> bool:
    return head[:1] == b'P' and head[1:2] in b'1234567' and head[2:3].isspace()


def _is_isobmff(head: bytes, brands: tuple[bytes, ...]) -> bool:
    return head[4:8] == b'ftyp' and head[8:12] in brands


_READERS = (
    (lambda h: h[:2] == b'\xff\xd8', _read_jpeg),
    (lambda h: h[:8] == _PNG_SIGNATURE, _read_png),
    (lambda h: h[:4] == b'RIFF' and h[8:12] == b'WEBP', _read_webp),
    (lambda h: h[:4] in (b'II*\0', b'MM\0*', b'II+\0', b'MM\0+'), _read_tiff),
    (lambda h: h[:6] in (b'GIF87a', b'GIF89a'), _read_gif),
    (lambda h: h[:2] == b'BM', _read_bmp),
    (lambda h: h[:4] == b'\x59\xa6\x6a\x95', _read_sun_raster),
    (_is_pnm, _read_pnm),
)
# (matches, format name, why it is refused): formats OpenCV may decode whose memory a header
# does not bound.
_REFUSED = (
    (lambda h: _is_isobmff(h, (b'avif', b'avis', b'heic', b'heix', b'mif1', b'msf1')),
     'AVIF/HEIF', 'its real size is in the AV1 bitstream, not in a header'),
    (lambda h: h[:12] == b'\0\0\0\x0cjP  \r\n\x87\n' or h[:4] == b'\xff\x4f\xff\x51',
     'JPEG 2000', 'its decoder keeps 4 bytes per sample besides the image'),
    (lambda h: h[:10] == b'#?RADIANCE' or h[:6] == b'#?RGBE', 'Radiance HDR',
     'floating-point pixels, not a camera picture'),
    (lambda h: h[:2] in (b'PF', b'Pf') and h[2:3].isspace(), 'PFM',
     'floating-point pixels, not a camera picture'),
    (lambda h: h[:4] == b'\x76\x2f\x31\x01', 'OpenEXR',
     'floating-point pixels, not a camera picture'),
)
