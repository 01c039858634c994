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
decoder (sequential.py), which decodes it or reports it as corrupt exactly as for any gzip file.
So a lying index can cost speed, never correctness.
"""

from __future__ import annotations

import struct
import threading
from .._record import dataclass               # dataclasses itself costs start-up time
TYPE_CHECKING = False                         # typing itself costs start-up time
if TYPE_CHECKING:
    from typing import IO, Generator

from . import sequential as dz, stream
from ..encode.pipeline import default_threads
from ..sandbox.wasm_host import CHECK_CRC32, DICT, DeflatePool, Decoder, Runtime

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
class IndexedMember:
    """One member found by its size subfield, from its header and trailer alone."""

    offset: int                 # where it starts in the file
    size: int                   # the whole member's size (header, body, trailer)
    header: MemberHeader
    crc: int                    # its trailer's CRC-32 and ISIZE
    isize: int


def indexed_members(raw: IO[bytes], end: int, pos: int = 0) -> Generator[IndexedMember, None, None]:
    """Walk a seekable file's members from pos by their size subfields, reading only headers
    and trailers; stops before the first member that does not state a size that fits before
    end (the caller sees where from the last member's end). -l and wpigz.dask's partitions use it."""
    while pos < end:
        raw.seek(pos)
        # most headers are short: a small read first keeps the walk cheap on remote files
        header = parse_header(raw.read(1024))
        if header is None:
            raw.seek(pos)
            header = parse_header(raw.read(MAX_HEADER))
        if header is None or header.size is None or header.size < header.length + TRAILER \
                or pos + header.size > end:
            return
        raw.seek(pos + header.size - TRAILER)
        crc, isize = struct.unpack("<II", raw.read(TRAILER))
        yield IndexedMember(pos, header.size, header, crc, isize)
        pos += header.size


@dataclass(frozen=True)
class IndexTotals:
    """What -l shows for an indexed file, from the headers and trailers alone."""

    members: int
    compressed: int             # deflate bodies, all members
    original: int               # the sum of the members' ISIZEs
    first: MemberHeader
    last_crc: int


def index_totals(raw: IO[bytes], file_size: int) -> IndexTotals | None:
    """Total a seekable file's indexed members (indexed_members). None unless every member is
    indexed and the sizes tile the file exactly (then -l shows what it shows for any gzip file)."""
    found = list(indexed_members(raw, file_size))
    if not found or found[-1].offset + found[-1].size != file_size:
        return None
    return IndexTotals(len(found), sum(m.size - m.header.length - TRAILER for m in found),
                       sum(m.isize for m in found), found[0].header, found[-1].crc)


# ---- parallel decoding

SLOT_MIN = 1024 * 1024 + 64 * 1024     # room for the libdeflate engine's 1 MiB members and their bodies
SLOT_MAX = 8 * 1024 * 1024             # larger members are decoded sequentially: memory stays bounded


@dataclass
class _Job:
    """A member in flight: its body is in the slot; its header and trailer are kept here, so
    that the member can be given back to the sequential decoder."""

    header: bytes
    body: int                   # body bytes, in the slot
    trailer: bytes
    mtime: int

    @property
    def crc(self) -> int:
        return struct.unpack("<I", self.trailer[:4])[0]


_local = threading.local()


def _runtime(given: Runtime) -> Runtime:
    """A libdeflate Runtime for this thread: the one given when it is one, else one made once."""
    if given.info.decodes_members:
        return given
    runtime = getattr(_local, "runtime", None)
    if runtime is None:
        runtime = _local.runtime = Runtime(engine="libdeflate")
    return runtime


def first_is_indexed(source: stream.Source) -> bool:
    """Whether the gzip member at the start of source states its size (IG or BC)."""
    head = source.peek(4)
    if len(head) == 4 and not head[3] & FEXTRA:        # most gzip files: no extra field at all
        return False
    header = parse_header(source.peek(1024)) or parse_header(source.peek(MAX_HEADER))
    return header is not None and header.size is not None


def decode_members(source: stream.Source, runtime: Runtime, decoded: dz.Decoded, strict: bool = False,
                   passthrough: bool = False, threads: int | None = None) -> dz.Output:
    """Decode a gzip input whose members state their sizes, several members at once (see the
    module's docstring); yields the output in order, records the members in decoded, and
    applies decoding's rules to whatever follows the last member (passthrough: -cdf copies
    it). threads is the number of workers decoding at once (the command's -p; None: the CPU
    count)."""
    runtime = _runtime(runtime)
    threads = threads or default_threads()
    first = parse_header(source.peek(MAX_HEADER))
    slot = SLOT_MIN
    if first is not None and first.size is not None:
        whole = source.peek(min(first.size, SLOT_MAX + MAX_HEADER + TRAILER))
        isize = struct.unpack("<I", whole[-4:])[0] if len(whole) == first.size >= TRAILER else 0
        slot = min(SLOT_MAX, max(SLOT_MIN, first.size, isize))
    with DeflatePool(runtime, threads=threads, blocksize=slot, level=-1, strategy=0, independent=True,
                     check_kind=CHECK_CRC32) as pool, Decoder(runtime) as decoder:
        out_room = slot + (slot >> 4) + DICT
        jobs: dict[int, _Job] = {}
        next_read = next_write = 0
        started = False

        def sequential_member() -> dz.Output:
            """One member through decoding's sequential path (raises CorruptInput as it does)."""
            nonlocal started
            if source.peek(2) != dz.GZIP_MAGIC:
                raise stream.CorruptInput("corrupted -- unexpected end of file")
            name, mtime, comment = dz._gzip_header(source)
            if not started:
                decoded.name, decoded.mtime, decoded.comment = name, mtime, comment
                started = True
            decoded.member_mtime = mtime
            check, produced, compressed = yield from stream._inflate(source, decoder, CHECK_CRC32)
            trailer = source.read(8)
            if len(trailer) < 8:
                raise stream.CorruptInput("corrupted -- missing trailer")
            crc, size = struct.unpack("<II", trailer)
            if crc != check:
                raise stream.CorruptInput("corrupted -- crc32 mismatch")
            if size != produced & 0xFFFFFFFF:
                raise stream.CorruptInput("corrupted -- length mismatch")
            decoded.members.append(dz.Member("gzip", compressed, produced, check))

        def give_back(since: int) -> None:
            """Return the members from seq since on, unchecked, to the source, in order."""
            pieces = []
            for seq in range(since, next_read):
                pool.wait_status(seq)           # its slot must be idle before the bytes are read
                job = jobs.pop(seq)
                pieces += [job.header, bytes(pool.input_view(seq)[:job.body]), job.trailer]
            source.unread(b"".join(pieces))

        def write_oldest() -> Generator[memoryview, None, bool]:
            """Yield the oldest member's output if the worker verified it. Otherwise give it and
            everything read after it back to the source, decode it sequentially, and return
            False: the members after it are then read afresh."""
            nonlocal next_write, next_read, started
            seq = next_write
            status, out, check = pool.wait_status(seq)
            job = jobs[seq]
            if status != 0 or check != job.crc:
                give_back(seq)
                next_read = next_write = seq    # nothing in flight any more
                yield from sequential_member()
                return False
            header = parse_header(job.header)
            assert header is not None
            if not started:
                decoded.name, decoded.mtime, decoded.comment = header.name, header.mtime, header.comment
                started = True
            decoded.member_mtime = header.mtime
            decoded.members.append(dz.Member("gzip", job.body, len(out), check))
            del jobs[seq]
            next_write += 1
            if out:
                yield out
            return True

        def drain() -> Generator[memoryview, None, bool]:
            """Write every member in flight; False if one of them fell back (see write_oldest)."""
            while next_write < next_read:
                if not (yield from write_oldest()):
                    return False
            return True

        while True:
            if source.peek(2) != dz.GZIP_MAGIC:
                if not (yield from drain()):
                    continue
                if not dz._trailing(source, decoded, strict, passthrough):
                    if passthrough:
                        yield from dz._copy(source)
                    return
                if source.peek(2) != dz.GZIP_MAGIC:
                    # a pack or compress member follows: the rest goes as decoding reads it
                    yield from dz._gzip(source, decoder, decoded, strict, passthrough, first=not started)
                    return
                continue
            header = parse_header(source.peek(1024)) or parse_header(source.peek(MAX_HEADER))
            body = -1 if header is None or header.size is None else header.size - header.length - TRAILER
            if header is None or not 0 <= body <= slot:
                # not an indexed member, or too large for the slots: sequentially, in order
                if (yield from drain()):
                    yield from sequential_member()
                continue
            if next_read - next_write >= pool.nslots and not (yield from write_oldest()):
                continue
            seq = next_read
            head = source.read(header.length)
            view = pool.input_view(seq)[:body]
            got = 0
            while got < body:
                n = source.readinto(view[got:])
                if not n:
                    break
                got += n
            trailer = source.read(TRAILER) if got == body else b""
            isize = struct.unpack("<I", trailer[4:])[0] if len(trailer) == TRAILER else -1
            if not 0 <= isize <= out_room:
                # cut short, or more output than a slot holds: this member goes sequentially
                source.unread(head + bytes(view[:got]) + trailer)
                if (yield from drain()):
                    yield from sequential_member()
                continue
            jobs[seq] = _Job(head, body, trailer, header.mtime)
            pool.submit_decode(seq, body, isize)
            next_read += 1
