"""The ground every decoder stands on: the input buffer, the inflate loop, and the two errors.

``Source`` reads the input through one fixed buffer (peek, read, and the count of bytes
consumed, which the formats' size checks need); ``_inflate`` streams one deflate stream through
the sandbox's decoder (``wasm_host.Decoder``), computing the output's check value with the host's
zlib over the bytes the sandbox produced. ``CorruptInput`` and ``Unrecognized`` are the only
errors any decoder raises, with pigz's and gzip's wording. This module imports no other
decoder: the sequential one, indexed members and the chunked decoder all build on it, which is
what keeps the decoders one family without an import running back up.
"""

from __future__ import annotations

import zlib                 # check values only (FHCRC, CRC-32, Adler-32): never to decode
TYPE_CHECKING = False                         # typing itself costs start-up time
if TYPE_CHECKING:
    from typing import IO, Generator

from ..sandbox.wasm_host import CHECK_ADLER32, CHECK_NONE, STEP_END, STEP_ERROR, Decoder


class CorruptInput(Exception):
    """The input is damaged or not what it claims; str() is pigz's reason text."""


class Unrecognized(Exception):
    """The input is not in any format wpigz reads (or is empty)."""


class Source:
    """A binary input with a pushback buffer: headers are read from it in Python, bodies go
    straight into the decoder's wasm input buffer."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.pending = bytearray()
        self.consumed = 0               # bytes handed out so far

    def _fill(self, n: int) -> None:
        while len(self.pending) < n:
            chunk = self.raw.read(max(n - len(self.pending), 65536))
            if not chunk:
                return
            self.pending += chunk

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return bytes(self.pending[:n])

    def read(self, n: int) -> bytes:
        if not self.pending and n >= 65536:
            # a large read (a parallel decoder's chunk) straight from raw: one copy, not three
            parts = []
            got = 0
            while got < n:
                part = self.raw.read(n - got)
                if not part:
                    break
                parts.append(part)
                got += len(part)
            data = parts[0] if len(parts) == 1 and type(parts[0]) is bytes else b"".join(parts)
            self.consumed += len(data)
            return data
        self._fill(n)
        data = bytes(self.pending[:n])
        del self.pending[:n]
        self.consumed += len(data)
        return data

    def read_until_nul(self, what: str) -> bytes:
        """The bytes up to the next NUL, which is consumed too (a header's name or comment)."""
        data = bytearray()
        while True:
            self._fill(1)
            if not self.pending:
                raise CorruptInput(f"corrupted -- unexpected end of file in the {what}")
            end = self.pending.find(0)          # looked for in what is buffered, not byte by byte
            if end >= 0:
                data += self.pending[:end]
                del self.pending[:end + 1]
                self.consumed += end + 1
                return bytes(data)
            data += self.pending
            self.consumed += len(self.pending)
            self.pending.clear()

    def unread(self, data: bytes) -> None:
        self.pending[:0] = data
        self.consumed -= len(data)

    def readinto(self, view: memoryview) -> int:
        if self.pending:
            n = min(len(view), len(self.pending))
            view[:n] = self.pending[:n]
            del self.pending[:n]
        else:
            n = self.raw.readinto(view) if hasattr(self.raw, "readinto") else _read_into(self.raw, view)
        self.consumed += n or 0
        return n or 0


def _read_into(raw: IO[bytes], view: memoryview) -> int:
    data = raw.read(len(view))
    view[:len(data)] = data
    return len(data)


def _inflate(source: Source, decoder: Decoder, check_kind: int) -> Generator[memoryview, None, tuple[int, int, int]]:
    """Decode one raw deflate stream, yielding its output; returns (check of the output, output
    bytes, compressed bytes). The bytes after the stream are given back to source.

    The check is computed here, by the host's zlib, over each piece of output before it is
    yielded: it reads only bytes the sandbox produced (nothing untrusted is parsed). It costs
    about 0.031 CPU-s per 100 MiB (Python's zlib 1.2.13 here), where the whole inflate takes
    about 0.28 s; zlib-ng's crc32_z inside wasm, which chunks.py uses, measured 0.018-0.022 s,
    so computing it in the module would save about 0.01 s per 100 MiB (not done)."""
    decoder.start_inflate(CHECK_NONE)
    return (yield from _inflate_on(source, decoder, check_kind, 1 if check_kind == CHECK_ADLER32 else 0, 0,
                                   source.consumed))


def _inflate_on(source: Source, decoder: Decoder, check_kind: int, check: int, produced: int,
                start: int) -> Generator[memoryview, None, tuple[int, int, int]]:
    """The loop of _inflate, for a decoder already started (or resumed mid-stream by
    chunks.py, with the check and size of the output so far, and start the source position
    where the stream's compressed bytes began)."""
    update = zlib.adler32 if check_kind == CHECK_ADLER32 else zlib.crc32
    fed = 0
    while True:
        state, out = decoder.step()
        if out:
            produced += len(out)
            check = update(out, check)
            yield out
        if state == STEP_END:
            left = decoder.unused()
            if left:
                source.unread(bytes(decoder.input[fed - left:fed]))
            return check, produced, source.consumed - start
        if state == STEP_ERROR:
            raise CorruptInput(f"corrupted -- invalid deflate data ({decoder.message()})")
        if not out and decoder.unused() == 0:
            fed = source.readinto(decoder.input)
            if fed == 0:
                raise CorruptInput("corrupted -- incomplete deflate data")
            decoder.feed(fed)
