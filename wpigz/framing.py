"""Framing: the bytes around the deflate body, exactly as pigz 2.6 writes them.

The pipeline produces a raw deflate body and a check value; this stage wraps it. gzip
(RFC 1952) gets pigz's header -- FNAME and FCOMMENT when given, MTIME, XFL from the level,
OS = 3 -- and the CRC-32 / ISIZE trailer. zlib (RFC 1950, ``-z``) gets pigz's own FLEVEL
choice (which differs from zlib's) and the big-endian Adler-32 trailer. See
shared/reference/pigz-2.6-behavior.md section 2.
"""

from __future__ import annotations

import struct

GZIP_MAGIC = b"\x1f\x8b"
GZIP_FNAME = 0x08
GZIP_FCOMMENT = 0x10
OS_UNIX = 3


def gzip_xfl(level: int) -> int:
    """XFL: 2 for the slowest levels, 4 for the fastest, 0 otherwise (level 0 included)."""
    if level >= 9:
        return 2
    if level == 1:
        return 4
    return 0


def gzip_header(*, level: int, mtime: int, name: bytes | None = None, comment: bytes | None = None) -> bytes:
    """pigz's gzip header. ``mtime`` is stored modulo 2**32 (0 means none); ``name`` and
    ``comment`` are stored as given, NUL-terminated."""
    flags = (GZIP_FNAME if name is not None else 0) | (GZIP_FCOMMENT if comment is not None else 0)
    header = GZIP_MAGIC + struct.pack("<BBIBB", 8, flags, mtime & 0xFFFFFFFF, gzip_xfl(level), OS_UNIX)
    if name is not None:
        header += name + b"\0"
    if comment is not None:
        header += comment + b"\0"
    return header


def gzip_trailer(crc: int, length: int) -> bytes:
    """CRC-32 and ISIZE (the input length modulo 2**32), little-endian."""
    return struct.pack("<II", crc & 0xFFFFFFFF, length & 0xFFFFFFFF)


def zlib_header(level: int) -> bytes:
    """pigz's zlib header: CM 8, 32K window, FLEVEL 3 for 9+, 0 for 1, 1 for 6-8, 2 for 0 and
    2-5, and the check bits that make the 16-bit value a multiple of 31."""
    if level >= 9:
        flevel = 3
    elif level == 1:
        flevel = 0
    elif level >= 6:
        flevel = 1
    else:
        flevel = 2
    head = 0x7800 | (flevel << 6)
    head += (31 - head % 31) % 31
    return struct.pack(">H", head)


def zlib_trailer(adler: int) -> bytes:
    return struct.pack(">I", adler & 0xFFFFFFFF)
