"""Indexed gzip members: find them without decoding, and decode several at once.

A gzip file may hold any number of members, one after another. When each member's header
states the member's size, a reader can find every member without decoding the ones before
it. Two conventions exist, both an FEXTRA subfield: ``IG`` (pgzip; what the libdeflate engine
writes, see framing.MemberFramer), LEN 4, the whole member's size; and ``BC`` (htslib's BGZF),
LEN 2, the whole member's size minus one.

This module parses those headers (``parse_header``, in plain Python: a header is untrusted
input), totals a file's members for ``-l`` (``index_totals``), and drives the parallel decoder
(``decode_members``): while the members it meets are indexed, it reads each one's body into a
slot of a ring in the libdeflate module's shared memory and has the module's workers decode
several at once (wasm/deflate_libdeflate.c, JOB_DECODE), then writes the outputs in order. A
member is trusted only when the worker consumed exactly its body and produced exactly its
ISIZE bytes with its CRC-32; anything else -- a size that is too small or too large, that
points past the end or into garbage, a member too large for the ring's slots, a header that
is not an indexed one -- hands the rest of the input, from that member on, to the sequential
decoder (decoding.py), which decodes it or reports it as corrupt exactly as for any gzip file.
So a lying index can cost speed, never correctness.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
FEXTRA, FNAME, FCOMMENT, FHCRC = 0x04, 0x08, 0x10, 0x02
TRAILER = 8
MAX_HEADER = 64 * 1024          # an indexed header longer than this is left to the sequential decoder


@dataclass(frozen=True)
class MemberHeader:
    """One gzip member's header, as far as an index reader needs it."""

    length: int                 # header bytes
    size: int | None            # the whole member's size from its IG or BC subfield, else None
    kind: str | None            # "IG", "BC" or None
    flags: int
    mtime: int
    name: bytes | None
    comment: bytes | None


def _subfield_size(extra: bytes) -> tuple[str | None, int | None]:
    """The member size an extra field states (IG or BC), from its well-formed subfields."""
    i = 0
    while i + 4 <= len(extra):
        si, length = extra[i:i + 2], struct.unpack("<H", extra[i + 2:i + 4])[0]
        body = extra[i + 4:i + 4 + length]
        if len(body) < length:
            return None, None
        if si == b"IG" and length == 4:
            return "IG", struct.unpack("<I", body)[0]
        if si == b"BC" and length == 2:
            return "BC", struct.unpack("<H", body)[0] + 1
        i += 4 + length
    return None, None


def parse_header(data: bytes | memoryview) -> MemberHeader | None:
    """The gzip header at the start of data, or None if data does not hold a whole, valid one
    (then the sequential decoder takes over and says what is wrong). The header CRC, when
    present, is checked."""
    data = bytes(data[:MAX_HEADER])
    if len(data) < 10 or data[:2] != GZIP_MAGIC or data[2] != 8 or data[3] & 0xE0:
        return None
    flags, mtime = data[3], struct.unpack("<I", data[4:8])[0]
    pos = 10
    kind = size = None
    if flags & FEXTRA:
        if pos + 2 > len(data):
            return None
        xlen = struct.unpack("<H", data[pos:pos + 2])[0]
        if pos + 2 + xlen > len(data):
            return None
        kind, size = _subfield_size(data[pos + 2:pos + 2 + xlen])
        pos += 2 + xlen
    strings: list[bytes | None] = []
    for flag in (FNAME, FCOMMENT):
        if flags & flag:
            end = data.find(b"\0", pos)
            if end < 0:
                return None
            strings.append(data[pos:end])
            pos = end + 1
        else:
            strings.append(None)
    if flags & FHCRC:
        import zlib
        if pos + 2 > len(data) or struct.unpack("<H", data[pos:pos + 2])[0] != zlib.crc32(data[:pos]) & 0xFFFF:
            return None
        pos += 2
    return MemberHeader(pos, size, kind, flags, mtime, strings[0], strings[1])


@dataclass(frozen=True)
class IndexTotals:
    """What -l shows for an indexed file, from the headers and trailers alone."""

    members: int
    compressed: int             # deflate bodies, all members
    original: int               # the sum of the members' ISIZEs
    first: MemberHeader
    last_crc: int


def index_totals(raw: BinaryIO, file_size: int) -> IndexTotals | None:
    """Walk a seekable file's members by their size subfields, reading only headers and
    trailers. None unless every member is indexed and the sizes tile the file exactly (then
    -l shows what it shows for any gzip file)."""
    pos = members = compressed = original = 0
    first: MemberHeader | None = None
    crc = 0
    while pos < file_size:
        raw.seek(pos)
        header = parse_header(raw.read(MAX_HEADER))
        if header is None or header.size is None or header.size < header.length + TRAILER \
                or pos + header.size > file_size:
            return None
        raw.seek(pos + header.size - TRAILER)
        crc, isize = struct.unpack("<II", raw.read(TRAILER))
        first = first or header
        members += 1
        compressed += header.size - header.length - TRAILER
        original += isize
        pos += header.size
    if first is None:
        return None
    return IndexTotals(members, compressed, original, first, crc)
