"""Reads a PNG's size and proves it whole, with the standard library only.

The contract refuses a corrupt mask at submit: the service must not need an image library for
it, and the executor must never be the first to find out. Every chunk's CRC is checked and the
image data is inflated (bounded by what the header promises), which is what a decoder would
trip over.
"""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 16384
# samples per pixel by colour type: grey, -, RGB, palette, grey+alpha, -, RGBA
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a complete, uncorrupted PNG; ValueError saying what is wrong."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG")
    pos = len(SIGNATURE)
    header: tuple[int, int, int, int, int] | None = None
    inflater = zlib.decompressobj()
    inflated = 0
    expected = 0
    ended = False
    while pos < len(data) and not ended:
        if pos + 8 > len(data):
            raise ValueError("the PNG is truncated")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        crc_at = pos + 8 + length
        if crc_at + 4 > len(data):
            raise ValueError("the PNG is truncated")
        (crc,) = struct.unpack(">I", data[crc_at : crc_at + 4])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"the PNG is corrupt (bad checksum in chunk {kind!r})")
        pos = crc_at + 4
        if kind == b"IHDR":
            header = _header(body)
            width, height, depth, colour, interlace = header
            if interlace:
                # Adam7 rows differ in length: only bound the inflated size
                expected = height * (1 + (width * _CHANNELS[colour] * depth + 7) // 8) * 2
            else:
                expected = height * (1 + (width * _CHANNELS[colour] * depth + 7) // 8)
        elif kind == b"IDAT":
            if header is None:
                raise ValueError("the PNG is corrupt (image data before its header)")
            try:
                # bounded: a small file must not inflate into gigabytes
                inflated += len(inflater.decompress(body, max(1, expected + 1 - inflated)))
            except zlib.error as exc:
                raise ValueError(f"the PNG is corrupt ({exc})") from exc
            if inflated > expected:
                raise ValueError("the PNG is corrupt (more image data than its size)")
        elif kind == b"IEND":
            ended = True
    if header is None:
        raise ValueError("the PNG is corrupt (no header)")
    if not ended or not inflater.eof:
        raise ValueError("the PNG is truncated")
    if header[4] == 0 and inflated != expected:
        raise ValueError("the PNG is corrupt (image data does not match its size)")
    return header[0], header[1]


def _header(body: bytes) -> tuple[int, int, int, int, int]:
    if len(body) != 13:
        raise ValueError("the PNG is corrupt (bad header)")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"the PNG's size {width}x{height} is out of range")
    if colour not in _CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise ValueError("the PNG is corrupt (bad colour type or bit depth)")
    return width, height, depth, colour, interlace
