"""Parallel decoding of one deflate stream (a gzip member, a zlib stream) cut into chunks.

sequential.py hands a deflate stream here (``inflate``) when it is large enough to split and
``splittable`` sees the points where it can be cut. The method is pugz's and rapidgzip's; the
decoding itself runs in the WebAssembly sandbox (wasm/chunk_inflate.c), and this module only
schedules, checks and writes:

* the main thread reads the compressed bytes in blocks of ``CHUNK`` bytes; chunk i is block i
  plus the first ``LOOKAHEAD`` bytes of block i+1, and is queued for the workers (at most
  ``threads + 1`` chunks in flight, so memory is bounded by threads x chunk size, whatever
  the stream's size);
* a worker (a thread of this call's own, with its own wasm instance; calls into wasm
  release the GIL)
  finds in its chunk the first place where a block starts after an empty stored block -- the
  sync-flush marks pigz and zlib write -- and decodes from there without the 32 KiB window
  before it, to the first such place past the chunk's end, writing markers for the bytes it
  would copy from the unknown window;
* when the chunk before it passes while it still decodes, that chunk's worker hands its
  window over (``_hand_over``): if that chunk stopped exactly at the bit where this decode
  began, the decoder turns its symbols into bytes at the next block boundary and goes on in
  bytes, so that only the part decoded before the hand-over is wide;
* it then waits for the chunk before it: if that one stopped exactly at the bit where this
  one began, the markers are replaced from its last 32 KiB of output; if not (the block
  finder was fooled), this chunk is decoded again from that bit, now with the window known.
  It hands its own stop and window on, then has the module compute its CRC-32 (or Adler-32);
* the main thread writes the chunks in order and combines their check values.

A chunk that cannot be decoded this way -- invalid data, a block that runs past the
lookahead, output beyond ``MAX_SYMBOLS``, a distance before the stream's start -- is never
reported from here: its range, from the bit where the last written chunk stopped and with
that chunk's window, goes to the sequential decoder (stream._inflate_on, zlib-ng's inflate
resumed mid-stream), which decodes the rest of the stream or reports the damage with exactly
the messages it gives for any file. So a chunk counts only when its start is the previous
chunk's end, and every error message is the sequential decoder's.
"""

from __future__ import annotations

import threading
from queue import SimpleQueue
from .._record import dataclass, field               # dataclasses itself costs start-up time
TYPE_CHECKING = False                         # typing itself costs start-up time
if TYPE_CHECKING:
    from typing import Generator

from . import stream as dz
from ..encode.pipeline import default_threads as default_threads
from ..sandbox.wasm_host import CHECK_ADLER32, CHECK_NONE, DECODER_ENGINE, EngineError, Decoder, Runtime

CHUNK = 512 * 1024              # compressed bytes per chunk
LOOKAHEAD = 256 * 1024          # bytes past its end a chunk may read to reach its stop
MAX_SYMBOLS = 8 * 1024 * 1024   # output one chunk may give (16 MiB of symbols) before it falls back
WINDOW = 32768
# Fewest threads (-p) for which a stream is split. The chunk decoder costs more CPU than the
# sequential one (bench/chunked.py, 100 MiB of mixed data: 0.35-0.38 CPU-s of per-chunk work
# with the previous chunk's window handed over mid-decode, 0.49-0.53 before the decode loop's
# rework, plus 0.02 s serial, against 0.28-0.39 for zlib-ng's inflate), but with two free
# cores it finishes sooner: on a quiet 2-core machine (load 1.5-1.8, two runs of 5 and 7
# rounds, before that rework) whole commands with chunks at -p 2 measured 1.16x/1.09x
# (pigz -6) and 1.03x/1.23x (gzip -6) the sequential decoder's speed. On a loaded
# machine (load 4) they measured 0.68-0.70x: -p 1 keeps the sequential decoder
# (docs/decompression.md).
MIN_THREADS = 2

# wpigz_chunk_decode results (wasm/chunk_inflate.c)
STOPPED = 1
END = 2
NO_HANDOFF = 0xFFFFFFFF         # chunk_inflate.c's handoff_bit when no window was handed over

_fence = threading.Lock()       # its release and acquire order a hand-over's stores


def splittable(source: dz.Source, threads: int) -> bool:
    """Whether the deflate stream at the start of source is worth splitting on threads
    workers: at least MIN_THREADS of them, and at least two chunks of stream (a shorter one
    is decoded sequentially, as fast as before)."""
    return threads >= MIN_THREADS and len(source.peek(2 * CHUNK)) >= 2 * CHUNK


@dataclass
class _Chunk:
    """One chunk in flight. The main thread fills the first fields; the worker sets the
    hand-off (passed, stop, ended, window) and then ``handed``, then the output, ok and
    ``done``."""

    index: int
    data: list[memoryview]      # compressed bytes from base on, in pieces (the blocks read)
    base: int                   # offset of data[0] in the stream
    prev: _Chunk | None         # the chunk before it; None for the stream's first
    next: _Chunk | None = None  # the chunk after it, once the main thread made it
    cancelled: bool = False     # set by the main thread: skip the work, hand on a failure
    passed: bool = False        # stop and window are valid: the next chunk may go on from them
    ok: bool = False            # and the output too: the main thread may write it
    stop: int = 0               # bit in the stream where this chunk's decoding stopped
    ended: bool = False         # the final block ended in this chunk
    window: bytes = b""         # the last 32 KiB of the output up to stop
    out: bytes | memoryview = b""   # a view of its worker's output buffer (see use_buffer)
    released: bool = False      # set by the main thread once out has been written: its
                                # buffer may take another chunk's output
    check: int = 0
    error: BaseException | None = None
    handed: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    # the hand-over of the previous chunk's window into a running decode (see _hand_over):
    # the decoder while wpigz_chunk_decode runs on this chunk, whether it has the window
    lock: threading.Lock = field(default_factory=threading.Lock)
    decoding: _ChunkDecoder | None = None
    given: bool = False


class _ChunkDecoder:
    """A worker's wasm/chunk_inflate.c decoder, in its own Runtime (this thread only)."""

    def __init__(self) -> None:
        self.runtime = Runtime(engine=DECODER_ENGINE)
        self._c = self.runtime.call("wpigz_chunk_new", CHUNK + LOOKAHEAD, MAX_SYMBOLS)
        if self._c == 0:
            raise EngineError("not enough wasm memory for a chunk decoder")
        self.input = self.runtime.view(self.runtime.call("wpigz_chunk_in", self._c), CHUNK + LOOKAHEAD)
        self.window = self.runtime.view(self.runtime.call("wpigz_chunk_window", self._c), WINDOW)
        self.handoff = self.runtime.view(self.runtime.call("wpigz_chunk_handoff", self._c), 8).cast("I")
        self.length = 0
        # the output buffers and the chunk whose output each last held (see use_buffer)
        self.buffers = [self.runtime.call("wpigz_chunk_out", self._c)]
        self.holders: list[_Chunk | None] = [None]

    def use_buffer(self, chunk: _Chunk) -> None:
        """Have chunk's decode write its bytes into a buffer whose last output the main thread
        has written (released), so that the main thread writes chunk's output straight from
        it, without a copy out of wasm. Never waits: if every buffer is still held (the
        consumer is behind, or left the stream unfinished), a new one is made; at most one per
        chunk in flight."""
        if chunk in self.holders:               # decoded again: the same buffer
            return
        for i, holder in enumerate(self.holders):
            if holder is None or holder.released:
                break
        else:
            address = self.runtime.call("wpigz_chunk_buffer", self._c)
            if address == 0:
                raise EngineError("not enough wasm memory for a chunk's output")
            self.buffers.append(address)
            self.holders.append(None)
            i = len(self.buffers) - 1
        self.holders[i] = chunk
        self.runtime.call("wpigz_chunk_use", self._c, self.buffers[i])

    def load(self, *pieces: bytes | memoryview) -> None:
        """Copy the chunk's input into wasm, the pieces one after the other."""
        length = 0
        for piece in pieces:
            self.input[length:length + len(piece)] = piece
            length += len(piece)
        self.length = length

    def find(self) -> int:
        return self.runtime.call("wpigz_chunk_find", self._c, self.length, 0)

    def decode(self, start: int, end: int) -> int:
        return self.runtime.call("wpigz_chunk_decode", self._c, self.length, start, end)

    def hand(self, bit: int, window: bytes) -> None:
        """Give a running (or the next) decode the previous chunk's window and the bit where
        that chunk stopped, from any thread: plain stores into the shared memory, the bit last,
        after a lock's release and acquire (a full barrier), so that the decode, which loads
        the bit atomically, sees the window whole once it sees the bit."""
        self.window[WINDOW - len(window):] = window
        self.handoff[1] = len(window)
        with _fence:
            pass
        self.handoff[0] = bit

    def unhand(self) -> None:
        """After a decode: no hand-over for the next one."""
        self.handoff[0] = NO_HANDOFF

    def stop(self) -> int:
        return self.runtime.call("wpigz_chunk_stop", self._c) & 0xFFFFFFFF

    def resolve(self, window: bytes, start: int, end: int) -> bool:
        """Turn the output's symbols in [start, end) into bytes, the markers from window;
        False if a marker points before it."""
        self.window[WINDOW - len(window):] = window
        return self.runtime.call("wpigz_chunk_resolve", self._c, len(window), start, end) >= 0

    def check(self, adler: bool) -> int:
        """The output's CRC-32 or Adler-32 (after resolve), computed in wasm."""
        return self.runtime.call("wpigz_chunk_check", self._c, int(adler)) & 0xFFFFFFFF

    def output(self) -> memoryview:
        """The output bytes, valid until a later decode writes into the same buffer (use_buffer)."""
        n = self.runtime.call("wpigz_chunk_out_len", self._c) & 0xFFFFFFFF
        return self.runtime.view(self.runtime.call("wpigz_chunk_out", self._c), n)

    def close(self) -> None:
        if self._c:
            self.runtime.call("wpigz_chunk_use", self._c, self.buffers[0])
            for address in self.buffers[1:]:
                self.runtime.call("wpigz_chunk_buffer_free", address)
            self.runtime.call("wpigz_chunk_free", self._c)
            self._c = 0


def _hand_over(chunk: _Chunk) -> None:
    """If chunk is being decoded and does not have it yet, give its decode the window of the
    chunk before it (passed), so that it goes on in bytes (wasm/chunk_inflate.c, take_handoff).
    Called by the previous chunk's worker when it passes, and by the chunk's own worker as
    its decode starts; the decoder uses the window only if the previous chunk stopped at the
    bit where this decode began."""
    prev = chunk.prev
    if prev is None or not prev.passed:
        return
    bit = prev.stop - chunk.base * 8
    with chunk.lock:
        if chunk.decoding is not None and not chunk.given and 0 <= bit < NO_HANDOFF:
            chunk.decoding.hand(bit, prev.window)
            chunk.given = True


def _decode(decoder: _ChunkDecoder, chunk: _Chunk, start: int) -> int:
    """decoder.decode(start, ...) for chunk, open to a hand-over while it runs."""
    decoder.use_buffer(chunk)
    with chunk.lock:
        chunk.decoding, chunk.given = decoder, False
    _hand_over(chunk)
    try:
        return decoder.decode(start, CHUNK * 8)
    finally:
        with chunk.lock:
            chunk.decoding = None
            decoder.unhand()


def _work(decoder: _ChunkDecoder, chunk: _Chunk, check_kind: int) -> None:
    """Decode one chunk (see the module's docstring); sets chunk.handed, never raises."""
    prev = chunk.prev
    status = 0
    start = -1
    if not chunk.cancelled:
        decoder.load(*chunk.data)
        start = 0 if prev is None else decoder.find()
        if start >= 0:
            status = _decode(decoder, chunk, start)
    chunk.data = []                     # the decoder holds a copy: memory stays bounded
    window = b""
    if prev is not None:
        prev.handed.wait()              # set on every path of the worker that has it
        if prev.ended:                  # the stream ended before this chunk: nothing to do
            chunk.cancelled = True
        if not prev.passed or chunk.cancelled:
            return
        want = prev.stop - chunk.base * 8
        window = prev.window
        if want >= CHUNK * 8:
            # the chunk before decoded past this one's whole range (its blocks are long):
            # nothing is left to do here but pass its state on
            chunk.stop, chunk.window, chunk.passed, chunk.ok = prev.stop, window, True, True
            return
        if want != start or status not in (STOPPED, END):
            # a false start (or none): decode again from where the previous chunk stopped
            if not 0 <= want <= decoder.length * 8:
                return
            start = want
            status = _decode(decoder, chunk, start)
    if status not in (STOPPED, END):
        return
    out = decoder.output()
    tail = max(0, len(out) - WINDOW)
    if not decoder.resolve(window, tail, len(out)):      # the next chunk's window first
        return
    chunk.stop = chunk.base * 8 + decoder.stop()
    chunk.ended = status == END
    chunk.window = (window + bytes(out[tail:]))[-WINDOW:]
    # the rest after the hand-off, so that the next chunk does not wait for it; a marker
    # before the window there fails this chunk after its successor started: the main thread
    # sees ok False, so nothing of either is written
    chunk.passed = True
    later = chunk.next
    if later is not None:
        _hand_over(later)
    chunk.handed.set()
    if not decoder.resolve(window, 0, tail):
        return
    chunk.ok = True
    chunk.check = decoder.check(check_kind == CHECK_ADLER32)
    chunk.out = out                     # written from wasm memory (see use_buffer)


_local = threading.local()          # a worker thread's _ChunkDecoder


def _run(chunk: _Chunk, check_kind: int) -> None:
    """A worker's job: one chunk, with this thread's decoder (made on its first chunk). The
    chunk's events are set whatever happens, so that nobody waits forever; an error is kept
    for the main thread."""
    try:
        decoder = getattr(_local, "decoder", None)
        if decoder is None:
            decoder = _local.decoder = _ChunkDecoder()
        _work(decoder, chunk, check_kind)
    except BaseException as error:          # re-raised by the main thread, or a fallback
        chunk.error = error
        chunk.ok = False
    finally:
        chunk.handed.set()
        chunk.done.set()


def _serve(jobs: SimpleQueue, check_kind: int) -> None:
    """A worker thread: the chunks put in jobs, in order, until None."""
    while (chunk := jobs.get()) is not None:
        _run(chunk, check_kind)


def inflate(source: dz.Source, decoder: Decoder, check_kind: int,
            threads: int) -> Generator[memoryview, None, tuple[int, int, int]]:
    """Decode the deflate stream at the start of source on threads workers, yielding its
    output in order; returns (check, output bytes, compressed bytes) and leaves source just
    after the stream, as stream._inflate does (decoder is its sequential fallback)."""
    start = source.consumed
    adler = check_kind == CHECK_ADLER32
    runtime = decoder.runtime
    # The workers: plain threads on one queue, started as chunks are queued and always joined
    # below. Not concurrent.futures' pool, whose import (with logging) cost every command that
    # splits a stream about 10 ms of start-up. Daemon only so that a reader the program left
    # open mid-stream cannot block the interpreter's exit, as concurrent.futures' own exit
    # hook ensured: an idle worker waits in jobs.get(), and a queued chunk ends at once when
    # cancelled (see _work).
    jobs: SimpleQueue = SimpleQueue()
    workers: list[threading.Thread] = []
    blocks: dict[int, bytes] = {}       # block i: stream bytes [i * CHUNK, (i + 1) * CHUNK)
    flight: list[_Chunk] = []
    check = 1 if adler else 0
    produced = 0
    last: _Chunk | None = None          # the last chunk written
    try:
        queued = nread = 0

        def block(i: int) -> bytes:
            """Block i, read from source when it is the next one (b"" past the end)."""
            nonlocal nread
            while nread <= i and (nread == 0 or len(blocks.get(nread - 1, b"")) == CHUNK):
                blocks[nread] = source.read(CHUNK)
                nread += 1
            return blocks.get(i, b"")

        def rest(bit: int) -> bytes:
            """The bytes read so far from the stream's byte holding bit on."""
            first = bit // 8 // CHUNK
            return b"".join(blocks[i] for i in sorted(blocks) if i >= first)[bit // 8 - first * CHUNK:]

        while True:
            while len(flight) < threads + 1:
                data = block(queued)
                if not data:
                    break
                # the block and the lookahead's blocks, as views (no copy: the worker copies
                # them into wasm)
                pieces, left = [memoryview(data)], LOOKAHEAD
                for i in range(queued + 1, queued + 1 + -(-LOOKAHEAD // CHUNK)):
                    pieces.append(memoryview(block(i))[:left])
                    left -= len(pieces[-1])
                chunk = _Chunk(queued, pieces, queued * CHUNK, flight[-1] if flight else last)
                if chunk.prev is not None:
                    chunk.prev.next = chunk
                flight.append(chunk)
                jobs.put(chunk)
                if len(workers) < threads:
                    worker = threading.Thread(target=_serve, args=(jobs, check_kind),
                                              name=f"wpigz-chunk-{len(workers)}", daemon=True)
                    worker.start()
                    workers.append(worker)      # only a started thread can be joined
                queued += 1
            if not flight:                  # the stream's bytes ran out before its end
                break
            chunk = flight.pop(0)
            chunk.done.wait()
            if chunk.error is not None and not isinstance(chunk.error, EngineError):
                raise chunk.error
            if not chunk.ok:
                break
            if chunk.out:
                produced += len(chunk.out)
                check = (runtime.adler32_combine if adler else runtime.crc32_combine)(
                    check, chunk.check, len(chunk.out) & 0xFFFFFFFF)
                yield memoryview(chunk.out)
            chunk.released = True           # the consumer is done with it: its buffer is free
            last = chunk
            blocks.pop(chunk.index - 1, None)   # the next fallback starts in block index or later
            # nothing refers to what came before this chunk any more: let it go
            chunk.out, chunk.prev, chunk.next = b"", None, None
            if chunk.ended:
                for later in flight:
                    later.cancelled = True
                source.unread(rest(-(-chunk.stop // 8) * 8))
                return check, produced, source.consumed - start
        # the sequential decoder takes the stream from the last written chunk's stop
        for later in flight:
            later.cancelled = True
        bit = last.stop if last is not None else 0
        source.unread(rest(bit))
        decoder.start_inflate(CHECK_NONE)
        nbits = value = 0
        if bit % 8:
            nbits, value = 8 - bit % 8, source.read(1)[0] >> (bit % 8)
        decoder.resume(last.window if last is not None else b"", nbits, value)
        return (yield from dz._inflate_on(source, decoder, check_kind, check, produced, start))
    finally:
        for later in flight:
            later.cancelled = True
        for _ in workers:                   # the chunks still queued end at once (cancelled)
            jobs.put(None)
        for worker in workers:
            worker.join()
