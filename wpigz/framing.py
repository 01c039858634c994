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


# ---- zip (-K): one streamed entry with a data descriptor, always Zip64-capable, as pigz writes it

ZIP_VERSION = 45                        # 4.5: Zip64
ZIP_FLAGS = 0x0008                      # sizes and CRC follow the data, in a data descriptor
ZIP_DEFLATED = 8
ZIP64_LIMIT = 0xFFFFFFFF


def dos_time(mtime: int) -> tuple[int, int]:
    """(DOS time, DOS date) of mtime in local time, as pigz computes them: 0 means now, seconds
    are rounded up to even, years outside 1980..2107 give (0, 0)."""
    import time
    t = time.localtime(mtime if mtime else time.time())
    if not 1980 <= t.tm_year <= 2107:
        return 0, 0
    return ((t.tm_hour << 11) | (t.tm_min << 5) | ((t.tm_sec + 1) >> 1),
            ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday)


def _unix_time_extra(mtime: int) -> bytes:
    return struct.pack("<HHBI", 0x5455, 5, 1, mtime & 0xFFFFFFFF)


def zip_local_header(*, name: bytes, mtime: int) -> bytes:
    """Local file header: sizes unknown (0xFFFFFFFF) with a zeroed Zip64 extra, CRC 0."""
    time_, date = dos_time(mtime)
    extra = struct.pack("<HHQQ", 0x0001, 16, 0, 0) + _unix_time_extra(mtime)
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, ZIP_VERSION, ZIP_FLAGS, ZIP_DEFLATED, time_, date,
                       0, ZIP64_LIMIT, ZIP64_LIMIT, len(name), len(extra)) + name + extra


def zip_trailer(*, name: bytes, mtime: int, crc: int, length: int, compressed: int,
                header_length: int, comment: bytes | None = None) -> bytes:
    """Data descriptor, central directory and end records after a deflate body of
    ``compressed`` bytes that followed a local header of ``header_length`` bytes."""
    time_, date = dos_time(mtime)
    descriptor = struct.pack("<IIQQ", 0x08074B50, crc, compressed, length)
    big = length >= ZIP64_LIMIT or compressed >= ZIP64_LIMIT
    extra = (struct.pack("<HHQQ", 0x0001, 16, length, compressed) if big else b"") + _unix_time_extra(mtime)
    comment = comment or b""
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0xFF00 | ZIP_VERSION, ZIP_VERSION, ZIP_FLAGS,
                          ZIP_DEFLATED, time_, date, crc,
                          ZIP64_LIMIT if big else compressed, ZIP64_LIMIT if big else length,
                          len(name), len(extra), len(comment), 0, 0, 0, 0) + name + extra + comment
    central_offset = header_length + compressed + len(descriptor)
    end = b""
    if central_offset >= ZIP64_LIMIT:
        zip64_end_offset = central_offset + len(central)
        end += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, ZIP_VERSION, ZIP_VERSION, 0, 0, 1, 1,
                           len(central), central_offset)
        end += struct.pack("<IIQI", 0x07064B50, 0, zip64_end_offset, 1)
        end += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, ZIP64_LIMIT, ZIP64_LIMIT, 0)
    else:
        end += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), central_offset, 0)
    return descriptor + central + end
