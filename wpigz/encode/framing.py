"""Framing: the bytes around the deflate body, exactly as pigz 2.6 writes them.

The pipeline produces a raw deflate body and a check value; this stage wraps it. gzip
(RFC 1952) gets pigz's header -- FNAME and FCOMMENT when given, MTIME, XFL from the level,
OS = 3 -- and the CRC-32 / ISIZE trailer. zlib (RFC 1950, ``-z``) gets pigz's own FLEVEL
choice (which differs from zlib's) and the big-endian Adler-32 trailer. See
shared/reference/pigz-2.6-behavior.md section 2.

Engines whose layout is ``"members"`` (engines.py) write each block as a gzip member of its
own: ``gzip_framing`` gives the caller what to write around the body (nothing, for that layout)
and the pipeline a per-job framer (``MemberFramer``) that wraps every job's output in a header
carrying the member's size (the ``IG`` subfield) and the member's CRC-32 / ISIZE trailer.
"""

from __future__ import annotations

import struct
from .._record import dataclass         # dataclasses itself costs start-up time
TYPE_CHECKING = False                         # typing itself costs start-up time
if TYPE_CHECKING:
    from typing import Callable

GZIP_MAGIC = b"\x1f\x8b"
GZIP_FEXTRA = 0x04
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


# ---- gzip members with a size subfield (layout "members")

INDEX_ID = b"IG"            # FEXTRA subfield: SI1 'I', SI2 'G', LEN 4, the whole member's size (pgzip)
MEMBER_TRAILER = 8


def member_header(*, level: int, mtime: int, body: int, name: bytes | None = None,
                  comment: bytes | None = None) -> bytes:
    """A gzip header whose only extra subfield is IG, holding the size of the whole member
    (this header, a body of ``body`` bytes and the 8-byte trailer). The subfield comes first
    in the extra field and the extra field is 8 bytes, as pgzip's reader requires."""
    flags = GZIP_FEXTRA | (GZIP_FNAME if name is not None else 0) | (GZIP_FCOMMENT if comment is not None else 0)
    tail = (name + b"\0" if name is not None else b"") + (comment + b"\0" if comment is not None else b"")
    size = 10 + 2 + 8 + len(tail) + body + MEMBER_TRAILER
    if size >= 1 << 32:
        raise ValueError(f"a gzip member of {size} bytes is too large for its size subfield")
    return (GZIP_MAGIC + struct.pack("<BBIBB", 8, flags, mtime & 0xFFFFFFFF, gzip_xfl(level), OS_UNIX)
            + struct.pack("<H2sHI", 8, INDEX_ID, 4, size) + tail)


if TYPE_CHECKING:      # for the type checker only: a typing alias costs start-up time at run time
    JobFramer = Callable[[int, int, int], "tuple[bytes, bytes]"]


class MemberFramer:
    """Per job, for the pipeline's writer: ``framer(body_bytes, crc, input_bytes)`` gives the
    bytes before the job's deflate body (its member header) and after it (its trailer). The
    first member carries the name and comment; every member carries the time."""

    def __init__(self, *, level: int, mtime: int, name: bytes | None, comment: bytes | None) -> None:
        self.level, self.mtime, self.name, self.comment = level, mtime, name, comment
        self.members = 0

    def __call__(self, body: int, crc: int, length: int) -> tuple[bytes, bytes]:
        first = self.members == 0
        self.members += 1
        header = member_header(level=self.level, mtime=self.mtime, body=body,
                               name=self.name if first else None, comment=self.comment if first else None)
        return header, gzip_trailer(crc, length)


# ---- BGZF (htslib's blocked gzip, --bgzf): members of at most 64 KiB with a BC subfield

BGZF_BLOCK = 0xFF00         # input bytes per member, as bgzip: any member then fits in 64 KiB
BGZF_MAX = 1 << 16          # the largest member BSIZE can state
# the empty member htslib writes at the end of every BGZF file (and checks for)
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


class BgzfFramer:
    """Per job, as MemberFramer, for BGZF: bgzip's header (no name, no time, XFL 0, OS 255,
    only the BC subfield holding the member's size minus one), so htslib accepts the file."""

    def __call__(self, body: int, crc: int, length: int) -> tuple[bytes, bytes]:
        size = 18 + body + MEMBER_TRAILER
        if size > BGZF_MAX:
            raise ValueError(f"a BGZF member of {size} bytes is larger than 64 KiB")
        header = GZIP_MAGIC + bytes([8, GZIP_FEXTRA, 0, 0, 0, 0, 0, 0xFF]) + struct.pack("<H2sHH", 6, b"BC", 2, size - 1)
        return header, gzip_trailer(crc, length)


@dataclass
class GzipFraming:
    """What a gzip writer puts around the pipeline's output, for one engine layout: ``header``
    before it, ``trailer(check, length)`` after it, and ``job``, the per-job framer to hand to
    the pipeline (None when the body is one stream)."""

    header: bytes
    job: JobFramer | None
    end: bytes = b""            # after the last member (BGZF's end-of-file member)

    def trailer(self, check: int, length: int) -> bytes:
        return self.end if self.job is not None else gzip_trailer(check, length)


def gzip_framing(layout: str, *, level: int, mtime: int, name: bytes | None = None,
                 comment: bytes | None = None) -> GzipFraming:
    """The gzip framing for an engine's layout ("stream" or "members", see engines.py), or
    "bgzf" (--bgzf: members framed as htslib's BGZF; name, time and comment are not stored)."""
    if layout == "bgzf":
        return GzipFraming(b"", BgzfFramer(), BGZF_EOF)
    if layout == "members":
        return GzipFraming(b"", MemberFramer(level=level, mtime=mtime, name=name, comment=comment))
    return GzipFraming(gzip_header(level=level, mtime=mtime, name=name, comment=comment), None)


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
