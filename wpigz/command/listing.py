"""Listing (-l): pigz 2.6's table of compressed and original sizes, without decoding.

Plain ``-l`` reads only what the container says: a gzip file's header, and its CRC and ISIZE
from the last 8 bytes (so a multi-member file shows its last member's figures); a zlib stream's
size and trailing Adler-32 (original unknown); a zip's local header; a .Z file's size; a pack
file's stated size. When every gzip member states its size (members.py: IG or BC
subfields), the totals over all members, with no single check value. ISIZE holds the size modulo 4 GiB: when a gzip file is large enough to
have wrapped it (deflate expands at most about 1032:1), it is decoded to count the bytes, as
gzip 1.12+ does (pigz shows the wrapped figure); smaller files stay instant. ``-lt``
decodes the input (in the sandbox, through decode/sequential.py) and shows one row per gzip member
with the real figures. ``-v`` adds the method, check and time columns and the comment. The
header line is printed once per run, before the first row; ``-q`` prints nothing.
"""

from __future__ import annotations

import os
import struct
import sys
import time
from .._record import dataclass               # dataclasses itself costs start-up time
TYPE_CHECKING = False                         # typing itself costs start-up time
if TYPE_CHECKING:
    from typing import IO, BinaryIO

from ..decode import entry, sequential as dz, stream
from ..decode import members
from ..sandbox.wasm_host import Runtime

HEADER_SHORT = "compressed   original reduced  name"
HEADER_LONG = "method    check    timestamp    compressed   original reduced  name"


@dataclass
class Row:
    method: str                 # "gzip", "zlib", "zip", "lzw", "zstd"
    check: int | None           # None shows dashes
    mtime: int
    compressed: int
    original: int
    name: str
    unreliable: bool = False
    comment: bytes | None = None


def _stamp(mtime: int) -> str:
    """12 characters, like pigz: 'Mmm dd hh:mm' this year, 'Mmm dd  yyyy' otherwise."""
    if not mtime:
        return "------ -----"
    text = time.ctime(mtime)                    # 'Www Mmm dd hh:mm:ss yyyy'
    if text[-4:] == time.ctime()[-4:]:
        return text[4:16]
    return text[4:11] + " " + text[-4:]


def format_row(row: Row, verbosity: int) -> str:
    limit = 16 if verbosity > 1 else 48
    name = row.name if len(row.name) <= limit else row.name[:limit - 3] + "..."
    prefix = ""
    if verbosity > 1:
        check = "--------" if row.check is None else f"{row.check:08x}"
        if row.method == "gzip":
            prefix = f"gzip 8  {check}  {_stamp(row.mtime)}  "
        elif row.method == "zlib":
            prefix = f"zlib 8  {check}  {_stamp(row.mtime)}  "
        elif row.method == "zip":
            prefix = f"zip  8  {check}  {_stamp(row.mtime)}  "
        elif row.method == "pack":
            prefix = f"pack    --------  {_stamp(row.mtime)}  "
        elif row.method == "zstd":
            prefix = f"zstd    --------  {_stamp(row.mtime)}  "
        else:
            prefix = f"lzw     --------  {_stamp(row.mtime)}  "
    if row.unreliable:
        line = f"{prefix}{row.compressed:10d} {row.original:10d}?  unk    {name}"
    else:
        reduced = 100 * (row.original - row.compressed) / row.original if row.original else float("-inf")
        line = f"{prefix}{row.compressed:10d} {row.original:10d} {reduced:6.1f}%  {name}"
    if verbosity > 1 and row.comment:
        line += "\n" + row.comment.decode(errors="replace")
    return line


def _unreliable(method: str, compressed: int, original: int) -> bool:
    if method == "lzw":
        return compressed > 1.5 * original + 3
    return compressed > original + original // 1024 + 12


def display_name(path: str | None, stored: bytes | None) -> str:
    if stored:
        return stored.decode(errors="replace")
    if path is None:
        return "<stdin>"
    from .files import decompressed_name
    return decompressed_name(path, None) or path


# deflate's largest expansion is a little under 1032:1 (258 bytes from a 2-bit code, ...)
MAX_DEFLATE_RATIO = 1032


def quick_rows(raw: BinaryIO, path: str | None, runtime: Runtime | None = None) -> list[Row]:
    """Plain -l: the figures the container states, without decoding -- except a gzip file
    whose ISIZE may have wrapped, decoded (with runtime, when given and the input can seek)
    to count its bytes. Raises decompress.Unrecognized or CorruptInput."""
    source = stream.Source(raw)
    head = source.peek(4)
    if not head:
        raise stream.Unrecognized("empty")
    form = dz.detect(head)
    if form is None:
        raise stream.Unrecognized("unrecognized format")
    if form == "gzip":
        indexed = _indexed(source.raw)
        if indexed is not None:         # members with size subfields: totals over all of them
            return [Row("gzip", None, indexed.first.mtime, indexed.compressed, indexed.original,
                        display_name(path, indexed.first.name),
                        _unreliable("gzip", indexed.compressed, indexed.original), indexed.first.comment)]
        name, mtime, comment = dz._gzip_header(source)
        header_length = source.consumed
        size, tail = _size_and_tail(source, 8)
        if size < header_length + 8:
            raise stream.CorruptInput("not a valid gzip file")
        crc, original = struct.unpack("<II", tail)
        compressed = size - header_length - 8
        if compressed * MAX_DEFLATE_RATIO >= 1 << 32 and runtime is not None and raw.seekable():
            raw.seek(0)
            decoded = entry.decompress(raw, lambda piece: None, runtime)
            original = sum(member.original for member in decoded.members)
            return [Row("gzip", crc, mtime, compressed, original, display_name(path, name), False, comment)]
        return [Row("gzip", crc, mtime, compressed, original, display_name(path, name),
                    _unreliable("gzip", compressed, original), comment)]
    if form == "zlib":
        size, tail = _size_and_tail(source, 4)
        check = struct.unpack(">I", tail)[0] if len(tail) == 4 else 0
        compressed = max(size - 6, 0)
        return [Row("zlib", check, 0, compressed, 0, display_name(path, None),
                    _unreliable("zlib", compressed, 0))]
    if form == "zip":
        fixed = source.read(30)
        if len(fixed) < 30:
            raise stream.Unrecognized("unrecognized format")
        (_, _, flags, _, time_, date, crc, csize, usize, name_len, extra_len) = \
            struct.unpack("<IHHHHHIIIHH", fixed)
        name = source.read(name_len)
        extra = source.read(extra_len)
        mtime = dz._dos_to_unix(time_, date)
        for tag, body in dz.extra_fields(extra):
            if tag == 0x0001 and len(body) >= 16 and (usize == 0xFFFFFFFF or csize == 0xFFFFFFFF):
                usize, csize = struct.unpack("<QQ", body[:16])
        descriptor = bool(flags & 8)
        return [Row("zip", None if descriptor else crc, mtime, csize, usize, display_name(path, name),
                    descriptor or _unreliable("zip", csize, usize))]
    if form == "pack":
        stated = source.peek(6)
        original = struct.unpack(">I", stated[2:6])[0] if len(stated) == 6 else 0
        size, _ = _size_and_tail(source, 0)
        return [Row("pack", None, 0, size, original, display_name(path, None))]
    if form == "lzw":
        size, _ = _size_and_tail(source, 0)
        return [Row("lzw", None, 0, max(size - 3, 0), 0, display_name(path, None), True)]
    import zstandard
    try:
        original = zstandard.get_frame_parameters(source.peek(18)).content_size
    except zstandard.ZstdError as error:
        raise stream.CorruptInput(f"corrupted -- {error}") from error
    size, _ = _size_and_tail(source, 0)
    if original == zstandard.CONTENTSIZE_UNKNOWN:
        return [Row("zstd", None, 0, size, 0, display_name(path, None), True)]
    return [Row("zstd", None, 0, size, original, display_name(path, None))]


def _indexed(raw: IO[bytes]) -> members.IndexTotals | None:
    """A regular file's totals from its members' size subfields (members.py), or None; the
    file position is left as it was."""
    try:
        size = os.fstat(raw.fileno()).st_size
        if not raw.seekable():
            return None
        where = raw.tell()
    except (AttributeError, OSError, ValueError):
        return None
    try:
        return members.index_totals(raw, size)
    finally:
        raw.seek(where)


def _size_and_tail(source: stream.Source, n: int) -> tuple[int, bytes]:
    """The input's total size and its last n bytes (seeking when possible, else reading on)."""
    raw = source.raw
    try:
        size = os.fstat(raw.fileno()).st_size
        if raw.seekable() and size:
            raw.seek(max(size - n, 0))
            return size, raw.read(n)
    except (AttributeError, OSError, ValueError):
        pass
    total = source.consumed + len(source.pending)
    tail = bytes(source.pending[-n:]) if n else b""
    while True:
        chunk = raw.read(1 << 16)
        if not chunk:
            return total, tail
        total += len(chunk)
        tail = (tail + chunk)[-n:] if n else b""


def tested_rows(decoded: dz.Decoded, path: str | None) -> list[Row]:
    """-lt: one row per member, with the real figures; members after the first are '<...>'."""
    rows = []
    for i, member in enumerate(decoded.members):
        name = display_name(path, decoded.name) if i == 0 else "<...>"
        rows.append(Row(member.method, member.check, decoded.mtime, member.compressed, member.original, name,
                        member.check is None and _unreliable(member.method, member.compressed, member.original),
                        decoded.comment if i == 0 else None))
    return rows


class Lister:
    """Prints the header line once, before the first row."""

    def __init__(self, verbosity: int) -> None:
        self.verbosity = verbosity
        self.started = False

    def show(self, rows: list[Row]) -> None:
        if self.verbosity == 0:
            return
        if not self.started:
            sys.stdout.write((HEADER_LONG if self.verbosity > 1 else HEADER_SHORT) + "\n")
            self.started = True
        for row in rows:
            sys.stdout.write(format_row(row, self.verbosity) + "\n")
