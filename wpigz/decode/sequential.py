"""Decompression: recognise the format, parse its small headers here, decode its body in wasm.

Untrusted bytes meet a parser here, so the division of labour is strict: this module (plain,
memory-safe Python) reads only the container structure -- gzip headers and trailers, the zlib
header, a zip local header and data descriptor, the compress (.Z) and pack (.z) magic -- and every byte of
compressed data is decoded by ``wasm_host.Decoder`` inside the WebAssembly sandbox (zlib-ng's
inflate, wpigz's LZW decoder, or pack's). The check value of the output is computed by the host's
zlib over the bytes the sandbox produced (see ``_inflate``). Data streams through fixed buffers, so memory is flat
whatever the output size. zstd (``.zst``) is the exception: it is decoded natively by the
``zstandard`` package, outside the sandbox (docs/formats.md says so).

Formats (first bytes): gzip ``1f 8b`` (every member of a multi-member file), zlib (a 2-byte
header divisible by 31), zip ``PK 03 04`` (the first entry), compress ``1f 9d``, pack ``1f 1e``,
zstd ``28 b5 2f fd``. After a gzip or pack member, what follows is handled as GNU gzip 1.13
does: nothing or only zero bytes, silently; something that starts like a gzip, pack or
compress member is decoded as one (so a truncated or corrupt further member is an error); a
single other byte is a cut-short member ("unexpected end of file"); anything else is "trailing
garbage", ignored with a warning -- except with -cdf (passthrough), where it is copied to the
output unchanged, as gzip and pigz do. Problems raise ``CorruptInput`` with pigz's wording
(gzip's for pack, which pigz does not read).
"""

from __future__ import annotations

import struct
import zlib                 # check values only (FHCRC, CRC-32, Adler-32): never to decode
TYPE_CHECKING = False                         # typing itself costs start-up time
if TYPE_CHECKING:
    from typing import Callable, Generator

from .._record import dataclass, field        # dataclasses itself costs start-up time
from ..sandbox.wasm_host import CHECK_ADLER32, CHECK_CRC32, STEP_END, STEP_ERROR, Decoder
from .stream import CorruptInput, Source, Unrecognized, _inflate
from . import chunks


GZIP_MAGIC = b"\x1f\x8b"
LZW_MAGIC = b"\x1f\x9d"
PACK_MAGIC = b"\x1f\x1e"
MEMBER_MAGICS = (GZIP_MAGIC, PACK_MAGIC, LZW_MAGIC)     # what may follow a gzip or pack member
ZIP_MAGIC = b"PK\x03\x04"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass
class Member:
    """One decoded unit, for -l and -lt: a gzip member, a zlib stream, a zip entry, an LZW file."""

    method: str                 # "gzip", "zlib", "zip", "lzw", "pack", "zstd"
    compressed: int             # bytes of compressed data (body only)
    original: int               # bytes decoded
    check: int | None           # CRC-32 or Adler-32 of the output, None when the format has none
    level_hint: int = 8         # the method number pigz shows with -lv


@dataclass
class Decoded:
    """What a whole input held."""

    form: str
    name: bytes | None = None           # stored name (first member / entry)
    mtime: int = 0                      # stored time (first member / entry), 0 if none
    comment: bytes | None = None
    members: list[Member] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    later_entries: bool = False         # zip: entries after the first were ignored
    member_mtime: int | None = None     # stored time of the last gzip member read


if TYPE_CHECKING:      # for the type checker only: typing aliases cost start-up time at run time
    Sink = Callable[[memoryview], object]          # what it returns is ignored
    Output = Generator[memoryview, None, None]     # decoded pieces, each valid until the next


def _deflate(source: Source, decoder: Decoder, check_kind: int,
             threads: int) -> Generator[memoryview, None, tuple[int, int, int]]:
    """One deflate stream, as _inflate: in chunks on threads workers (chunks.py) when it is
    large enough to split, else sequentially. Both end the same way, with the same checks."""
    if chunks.splittable(source, threads):
        return (yield from chunks.inflate(source, decoder, check_kind, threads))
    return (yield from _inflate(source, decoder, check_kind))


def _gzip_header(source: Source) -> tuple[bytes | None, int, bytes | None]:
    """Parse one gzip header (the magic already checked): (name, mtime, comment)."""
    fixed = source.read(10)
    if len(fixed) < 10:
        raise CorruptInput("corrupted -- unexpected end of file in the gzip header")
    method, flags, mtime = fixed[2], fixed[3], struct.unpack("<I", fixed[4:8])[0]
    if method != 8:
        raise CorruptInput(f"unknown compression method {method}")
    if flags & 0xE0:
        raise CorruptInput("corrupted -- reserved gzip header flags set")
    header = bytearray(fixed)
    if flags & 0x04:                                    # FEXTRA
        size = source.read(2)
        if len(size) < 2:
            raise CorruptInput("corrupted -- unexpected end of file in the gzip header")
        extra = source.read(struct.unpack("<H", size)[0])
        if len(extra) < struct.unpack("<H", size)[0]:
            raise CorruptInput("corrupted -- unexpected end of file in the gzip header")
        header += size + extra
    name = comment = None
    if flags & 0x08:                                    # FNAME
        name = source.read_until_nul("gzip header")
        header += name + b"\0"
    if flags & 0x10:                                    # FCOMMENT
        comment = source.read_until_nul("gzip header")
        header += comment + b"\0"
    if flags & 0x02:                                    # FHCRC
        stored = source.read(2)
        if len(stored) < 2:
            raise CorruptInput("corrupted -- unexpected end of file in the gzip header")
        if struct.unpack("<H", stored)[0] != zlib.crc32(header) & 0xFFFF:
            raise CorruptInput("corrupt: header crc error")
    return name, mtime, comment


def _trailing(source: Source, decoded: Decoded, strict: bool, passthrough: bool = False) -> bool:
    """After a gzip or pack member: True if another member follows. Otherwise, with passthrough
    return False leaving the rest in source (the caller copies it); else consume the rest,
    warning about anything but zero bytes (GNU gzip's rules; one lone non-zero byte is a member
    cut short, as gzip sees it). strict follows Python's gzip module instead: zero padding is
    skipped, then anything but a gzip member is an error."""
    if strict:
        while True:
            chunk = source.peek(65536)
            zeros = len(chunk) - len(chunk.lstrip(b"\0"))
            source.read(zeros)
            if zeros < len(chunk) or not chunk:
                break
        head = source.peek(2)
        if head and head != GZIP_MAGIC:
            raise CorruptInput(f"Not a gzipped file ({head!r})")
        return bool(head)
    head = source.peek(2)
    if not head:
        return False
    if head in MEMBER_MAGICS:
        return True
    if passthrough:
        return False
    if len(head) == 1 and head != b"\0":
        raise CorruptInput("corrupted -- unexpected end of file")
    while True:
        chunk = source.read(65536)
        if not chunk:
            return False
        if chunk.count(0) != len(chunk):
            decoded.warnings.append("decompression OK, trailing garbage ignored")
            return False


def _gzip(source: Source, decoder: Decoder, decoded: Decoded, strict: bool = False,
          passthrough: bool = False, first: bool = True, threads: int = 1) -> Output:
    """gzip members, and pack or compress members among them, as gzip reads them (first:
    the next member is the input's first, whose header names the output; threads: see
    _deflate)."""
    while True:
        head = source.peek(2)
        if head == PACK_MAGIC:
            yield from _pack(source, decoder, decoded)
            first = False
            if not _trailing(source, decoded, strict, passthrough):
                break
            continue
        if head == LZW_MAGIC:                           # it reads to the end of the input
            yield from _lzw(source, decoder, decoded)
            return
        if head != GZIP_MAGIC:                          # a further member cut short
            raise CorruptInput("corrupted -- unexpected end of file")
        name, mtime, comment = _gzip_header(source)
        decoded.member_mtime = mtime
        if first:
            decoded.name, decoded.mtime, decoded.comment = name, mtime, comment
            first = False
        check, produced, compressed = yield from _deflate(source, decoder, CHECK_CRC32, threads)
        trailer = source.read(8)
        if len(trailer) < 8:
            raise CorruptInput("corrupted -- missing trailer")
        crc, size = struct.unpack("<II", trailer)
        if crc != check:
            raise CorruptInput("corrupted -- crc32 mismatch")
        if size != produced & 0xFFFFFFFF:
            raise CorruptInput("corrupted -- length mismatch")
        decoded.members.append(Member("gzip", compressed, produced, check))
        if not _trailing(source, decoded, strict, passthrough):
            break
    if passthrough:                                     # -cdf: what follows is copied as it is
        yield from _copy(source)


def _copy(source: Source) -> Output:
    buffer = memoryview(bytearray(256 * 1024))
    while n := source.readinto(buffer):
        yield buffer[:n]


def _pack(source: Source, decoder: Decoder, decoded: Decoded) -> Output:
    """One pack member: its header (after the magic) and Huffman codes are decoded in wasm."""
    source.read(2)
    decoder.start_pack()
    start = source.consumed
    fed = 0
    produced = 0
    while True:
        state, out = decoder.step()
        if out:
            produced += len(out)
            yield out
        if state == STEP_ERROR:
            raise CorruptInput(decoder.message())
        if state == STEP_END:
            left = decoder.unused()
            if left:
                source.unread(bytes(decoder.input[fed - left:fed]))
            break
        if not out and decoder.unused() == 0:
            fed = source.readinto(decoder.input)
            if fed == 0:
                raise CorruptInput("corrupted -- unexpected end of file")
            decoder.feed(fed)
    decoded.members.append(Member("pack", source.consumed - start + 2, produced, None))


def _zlib(source: Source, decoder: Decoder, decoded: Decoded, threads: int = 1) -> Output:
    header = source.read(2)
    check, produced, compressed = yield from _deflate(source, decoder, CHECK_ADLER32, threads)
    trailer = source.read(4)
    if len(trailer) < 4:
        raise CorruptInput("corrupted -- missing trailer")
    if struct.unpack(">I", trailer)[0] != check:
        raise CorruptInput("corrupted -- adler32 mismatch")
    decoded.members.append(Member("zlib", compressed, produced, check, level_hint=header[1] >> 6))
    while True:                                         # a zlib stream is alone in its file
        chunk = source.read(65536)
        if not chunk:
            return
        if chunk.count(0) != len(chunk):
            decoded.warnings.append("decompression OK, trailing garbage ignored")
            return


def _dos_to_unix(time_: int, date: int) -> int:
    import time as _time
    if date == 0:
        return 0
    fields = ((date >> 9) + 1980, (date >> 5) & 15, date & 31, time_ >> 11, (time_ >> 5) & 63,
              (time_ & 31) * 2, 0, 0, -1)
    try:
        return int(_time.mktime(fields))
    except (OverflowError, ValueError):
        return 0


def extra_fields(extra: bytes):
    """(tag, body) for each whole field of a zip extra block; a cut-off field ends it."""
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack("<HH", extra[i:i + 4])
        if i + 4 + size > len(extra):
            return
        yield tag, extra[i + 4:i + 4 + size]
        i += 4 + size


def _zip(source: Source, decoder: Decoder, decoded: Decoded) -> Output:
    fixed = source.read(30)
    if len(fixed) < 30:
        raise Unrecognized("unrecognized format")
    (_, _, flags, method, time_, date, crc, csize, usize, name_len, extra_len) = \
        struct.unpack("<IHHHHHIIIHH", fixed)
    if flags & 0xF7F0:
        raise Unrecognized("unrecognized format")
    name = source.read(name_len)
    extra = source.read(extra_len)
    if len(name) < name_len or len(extra) < extra_len:
        raise CorruptInput("corrupted entry -- unexpected end of file in the zip header")
    if flags & 1 or method != 8:
        raise CorruptInput(f"unknown compression method {method}")
    mtime = _dos_to_unix(time_, date)
    zip64 = False                                       # pigz reads 8-byte descriptor sizes iff
    for tag, body in extra_fields(extra):              # the header has a Zip64 field (any size)
        if tag == 0x5455 and len(body) >= 5 and body[0] & 1:   # prefer the Unix time of 0x5455
            mtime = struct.unpack("<I", body[1:5])[0]
        zip64 = zip64 or tag == 0x0001
    decoded.name, decoded.mtime = name, mtime
    check, produced, compressed = yield from _inflate(source, decoder, CHECK_CRC32)
    if flags & 8:                                       # data descriptor, signature optional
        head = source.read(4)
        if head == b"PK\x07\x08":
            head = source.read(4)
        sizes = source.read(16 if zip64 else 8)
        if len(head) < 4 or len(sizes) < (16 if zip64 else 8):
            raise CorruptInput("corrupted entry -- missing trailer")
        crc = struct.unpack("<I", head)[0]
        csize, usize = struct.unpack("<QQ" if zip64 else "<II", sizes)
    if crc != check:
        raise CorruptInput("corrupted entry -- crc32 mismatch")
    if usize & 0xFFFFFFFF != produced & 0xFFFFFFFF or (flags & 8 and csize & 0xFFFFFFFF != compressed & 0xFFFFFFFF):
        raise CorruptInput("corrupted entry -- length mismatch")
    decoded.members.append(Member("zip", compressed, produced, check))
    if source.peek(4) == ZIP_MAGIC:
        decoded.later_entries = True
        decoded.warnings.append("entries after the first were ignored")


def _lzw(source: Source, decoder: Decoder, decoded: Decoded) -> Output:
    header = source.read(3)
    if len(header) < 3:
        raise CorruptInput("lzw premature end")
    problem = decoder.start_lzw(header[2])
    if problem:
        raise CorruptInput(problem)
    start = source.consumed
    produced = 0
    at_eof = False
    while True:
        state, out = decoder.step(at_eof)
        if out:
            produced += len(out)
            yield out
        if state == STEP_ERROR:
            raise CorruptInput(decoder.message())
        if state == STEP_END:
            break
        if not out and decoder.unused() == 0:
            if at_eof:
                break
            fed = source.readinto(decoder.input)
            at_eof = fed == 0
            decoder.feed(fed)
    decoded.members.append(Member("lzw", source.consumed - start, produced, None))


def _zstd(source: Source, decoded: Decoded) -> Output:
    import zstandard
    decompressor = zstandard.ZstdDecompressor()
    start = source.consumed
    produced = 0
    try:
        # Source has the read() the reader uses; it is not a whole IO[bytes]
        with decompressor.stream_reader(source, read_across_frames=True, closefd=False) as reader:  # type: ignore[arg-type]
            while True:
                chunk = reader.read(256 * 1024)
                if not chunk:
                    break
                produced += len(chunk)
                yield memoryview(chunk)
    except zstandard.ZstdError as error:
        raise CorruptInput(f"corrupted -- {error}") from error
    decoded.members.append(Member("zstd", source.consumed - start, produced, None))


def detect(head: bytes) -> str | None:
    """The format of an input from its first (up to 4) bytes, or None."""
    if head[:2] == GZIP_MAGIC:
        return "gzip"
    if head[:2] == LZW_MAGIC:
        return "lzw"
    if head[:2] == PACK_MAGIC:
        return "pack"
    if head[:4] == ZIP_MAGIC:
        return "zip"
    if head[:4] == ZSTD_MAGIC:
        return "zstd"
    if len(head) >= 2:
        value = struct.unpack(">H", head[:2])[0]
        if value % 31 == 0 and value & 0x8F20 == 0x0800:
            return "zlib"
    return None
