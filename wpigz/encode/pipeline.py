"""The block pipeline: read, compress in parallel, write in order -- pigz's parallel path.

The input is cut into consecutive blocks of exactly ``blocksize`` bytes (only the last may be
shorter; empty input is one empty block; an input that is an exact multiple of the block size
has no empty extra block). Each block is read with ``readinto`` straight into a slot of the
engine's ring in WebAssembly shared memory, published to the workers, and later written out
straight from that memory in sequence order, while the per-block check values are combined in
order. The engine primes every block but the first with the 32 KiB of input before it (not
with ``independent``), so the bytes are exactly pigz's, whatever the number of threads.

The workers and the ring belong to a ``Ring``, which a command keeps for all its inputs: one
stream's jobs follow another's in the same ring, each stream's first job with no history.
``DeflateStream`` is the push side (bytes handed to ``write``, as the library's file objects
do); ``compress_body`` drives it from a readable source, reading straight into its buffers.
One Python thread drives all of it. It keeps reading and publishing while the ring has free
slots; when the ring is full it waits (inside wasm, in bounded slices) for the oldest block and
writes it, which frees a slot. Reading and writing therefore overlap the workers' compression,
and the ring of ``2 * threads + 2`` slots is the only buffering: memory does not grow with the
input. Each read asks for one byte more than a block: whether it comes tells if the block is
the last (finished with ``Z_FINISH``); the extra bytes start the next slot.

With ``rsyncable`` (-R), jobs are cut where pigz cuts them: after the last hit of its rolling
hash within a block-sized window (see ``_rsync_job``), and the engine ends a block after every
hit inside a job.
"""

from __future__ import annotations

import os
import stat
import threading
from .._record import dataclass, field        # dataclasses itself costs start-up time
TYPE_CHECKING = False                         # typing itself costs start-up time
if TYPE_CHECKING:
    from typing import IO, BinaryIO, Callable, NoReturn
    from .framing import JobFramer

from ..sandbox.engines import DEFAULT_ENGINE, DEFAULT_LAYOUT, compressor_for, whole_jobs
from ..sandbox.wasm_host import CHECK_ADLER32, CHECK_CRC32, DeflatePool, EngineError, Runtime

Z_DEFAULT_STRATEGY = 0
Z_HUFFMAN_ONLY = 2
Z_RLE = 3

# Test hook: the engine traps while compressing this job, counted over the command's ring
# (see tests of worker traps).
TRAP_ENV = "WPIGZ_TEST_TRAP_BLOCK"

# -R: pigz's rolling hash starts at, and marks a block end whenever it returns to, this value
RSYNC_START = RSYNC_HIT = 0x7FF


def default_threads() -> int:
    """pigz's default: the number of online processors."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ZopfliTuning:
    """pigz's zopfli settings for level 11 (its defaults, ZopfliInitOptions'): -I, -J, -F, -O."""

    iterations: int = 15                    # -I: optimization passes per block
    maxsplits: int = 15                     # -J: most deflate blocks per block (0: no limit)
    first: bool = False                     # -F: zopfli's blocksplittinglast (unused by this zopfli)
    oneblock: bool = False                  # -O: no block splitting

    def __post_init__(self) -> None:
        for name in ("iterations", "maxsplits"):
            value = getattr(self, name)
            if not isinstance(value, int) or not -2**31 <= value < 2**31:
                raise ValueError(f"{name} must be an int (a C int, as pigz keeps it), not {value!r}")
        if self.iterations < 1:     # zopfli then emits no data: pigz 2.6's -I 0 output fails its CRC
            raise ValueError(f"iterations must be at least 1, not {self.iterations}")

    def values(self) -> tuple[int, int, int, int]:
        """As the zopfli module takes them (wpigz_tune): iterations, splitting, last, maximum."""
        return self.iterations, int(not self.oneblock), int(self.first), self.maxsplits


@dataclass(frozen=True)
class DeflateOptions:
    """What the engine needs to produce a deflate body. These are wpigz's defaults."""

    level: int = 6                          # 0-9, or 11 (zopfli, or libdeflate's 12: engines.py)
    blocksize: int = 128 * 1024             # bytes; pigz's -b is in KiB, 32 KiB .. 512 MiB
    threads: int = field(default_factory=default_threads)
    strategy: int = Z_DEFAULT_STRATEGY      # Z_HUFFMAN_ONLY for -H, Z_RLE for -U
    independent: bool = False               # -i: no dictionary, full flush after each block
    rsyncable: bool = False                 # -R: also end blocks where pigz's rolling hash hits
    check: str = "crc32"                    # "crc32" (gzip, zip) or "adler32" (zlib)
    zopfli: ZopfliTuning = ZopfliTuning()   # level 11's settings
    layout: str = DEFAULT_LAYOUT            # engines.LAYOUTS: how the jobs become a file

    def __post_init__(self) -> None:
        if not (0 <= self.level <= 9 or self.level == 11):
            raise ValueError(f"level must be 0..9 or 11, not {self.level}")
        if not 32 * 1024 <= self.blocksize <= 512 * 1024 * 1024:
            raise ValueError(f"blocksize must be 32 KiB .. 512 MiB, not {self.blocksize}")
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, not {self.threads}")
        whole_jobs(self.layout)             # ValueError for an unknown layout
        if self.check not in ("crc32", "adler32"):
            raise ValueError(f"check must be 'crc32' or 'adler32', not {self.check!r}")


@dataclass(frozen=True)
class BodySummary:
    """What the framing needs after the body: the check of the whole input and the sizes."""

    check: int
    length: int             # input bytes
    compressed: int         # deflate body bytes


_local = threading.local()


def thread_runtime(level: int = 6) -> Runtime:
    """This Python thread's Runtime for the default engine at level (level 11 has a module of
    its own), made on first use and kept (a Runtime is single-threaded)."""
    name = compressor_for(DEFAULT_ENGINE, level).name
    runtimes = _local.__dict__.setdefault("runtimes", {})
    if name not in runtimes:
        runtimes[name] = Runtime(engine=name)
    return runtimes[name]


def write_all(sink: IO[bytes], data: memoryview) -> None:
    while data:
        n = sink.write(data)
        if n is None:
            raise BlockingIOError("non-blocking output is not supported")
        data = data[n:]


class JobFailed(EngineError):
    """A job of ``stream`` failed (a worker trapped, or its status was an error): the ring's
    workers are gone until ``Ring.restart``. Every job before it was written out."""

    def __init__(self, stream: DeflateStream, error: EngineError) -> None:
        super().__init__(str(error))
        self.stream = stream


class Ring:
    """The workers and the ring of job slots, made once and used by one stream after another
    (a command's files, each a ``DeflateStream``), pigz's pool kept for the whole run.

    Jobs are published and written out in one sequence whatever stream they belong to, so
    several small files are in the ring at once (side by side on the workers) while each
    stream's bytes stay exactly what it would be alone: a stream's first job is published
    with no history (JOB_FIRST). Each slot remembers the stream its job belongs to; writing a
    job out hands it to that stream. Main thread only, like the Runtime.

    When a job fails, the jobs before it are written out, ``JobFailed`` names its stream, and
    ``restart`` makes new workers for what comes next (the streams after it start again).
    """

    def __init__(self, options: DeflateOptions, *, runtime: Runtime | None = None,
                 threads: int | None = None, slots: int | None = None) -> None:
        self.runtime = runtime or thread_runtime(options.level)
        self.options = options
        self.threads = threads or options.threads
        self.slots = slots          # None: pigz's 2 x threads + 2
        # every layout but the single stream asks for whole jobs: each one independent and
        # last (engines.whole_jobs)
        self._whole = whole_jobs(options.layout)
        self._trap_job = int(os.environ.get(TRAP_ENV, "-1"))
        self._jobs_before = 0       # jobs published through the pools of earlier restarts
        self._writing = False
        self._broken = False
        self._open()

    def _open(self) -> None:
        options = self.options
        self.pool = DeflatePool(self.runtime, threads=self.threads, blocksize=options.blocksize,
                                level=options.level, strategy=options.strategy,
                                independent=options.independent or self._whole,
                                check_kind=CHECK_ADLER32 if options.check == "adler32" else CHECK_CRC32,
                                asked_threads=options.threads,
                                tuning=options.zopfli.values() if options.level == 11 else (),
                                slots=self.slots)
        self._owners: list[DeflateStream | None] = [None] * self.pool.nslots
        self._lengths = [0] * self.pool.nslots      # input bytes of the job in each slot
        self._last = [False] * self.pool.nslots     # whether it ends its stream
        self.next_read = 0          # seq of the job being filled
        self.next_write = 0         # seq of the next job to write out

    def __enter__(self) -> Ring:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.pool.close()

    def restart(self) -> None:
        """New workers and an empty ring after a JobFailed (what was in flight is dropped)."""
        self._jobs_before += self.next_read
        self.pool.close()
        self._broken = False
        self._open()

    @property
    def in_flight(self) -> int:
        return self.next_read - self.next_write

    def input_view(self) -> memoryview:
        """The data area of the slot being filled (seq next_read)."""
        return self.pool.input_view(self.next_read)

    def free_slot(self) -> None:
        """Write out the oldest jobs until the slot being filled is free."""
        while self.next_read - self.next_write >= self.pool.nslots:
            self.write_oldest()

    def submit(self, owner: DeflateStream, length: int, *, last: bool, first: bool,
               rsync_h: int | None) -> int:
        """Publish the slot being filled as owner's next job; returns its seq."""
        if self._broken:
            raise EngineError("the workers stopped after an earlier failure")
        seq = self.next_read
        # last: the job ends its stream; the module also ends a whole job (members, BGZF) as last
        self.pool.submit(seq, length, last=last or self._whole, first=first, rsync_h=rsync_h,
                         trap=self._jobs_before + seq == self._trap_job)
        self._owners[seq % self.pool.nslots] = owner
        self._lengths[seq % self.pool.nslots] = length
        self._last[seq % self.pool.nslots] = last
        self.next_read += 1
        return seq

    def write_oldest(self) -> None:
        """Wait for the oldest job and hand it to its stream (which writes it out)."""
        seq = self.next_write
        try:
            out, check = self.pool.wait(seq)
        except EngineError as error:
            self._fail(error)
        self._hand_over(seq, out, check)

    def _hand_over(self, seq: int, out: memoryview, check: int) -> None:
        slot = seq % self.pool.nslots
        owner = self._owners[slot]
        self._owners[slot] = None
        self.next_write += 1
        assert owner is not None, "every published job has an owner"
        self._writing = True
        try:
            owner._take(out, check, self._lengths[slot], self._last[slot])
        finally:
            self._writing = False

    def _fail(self, error: EngineError) -> NoReturn:
        """A wait failed: stop the workers, write out the jobs that did finish before the one
        that failed (their streams may complete), and raise JobFailed for its stream."""
        self._broken = True
        self.pool.halt()
        while self.next_write < self.next_read:
            seq = self.next_write
            if not self.pool.done(seq):
                break
            status, out, check = self.pool.wait_status(seq)
            if status != 0:
                break
            self._hand_over(seq, out, check)
        owner = self._owners[self.next_write % self.pool.nslots] if self.next_write < self.next_read else None
        if owner is None:
            raise error
        # one exception, with the failure's own traceback (-vv shows it once)
        raise JobFailed(owner, error).with_traceback(error.__traceback__) from None

    def drain(self) -> None:
        """Write out every published job (not from inside a stream's own write-out)."""
        if self._writing:
            return
        while self.next_write < self.next_read:
            self.write_oldest()


class DeflateStream:
    """The push side of the pipeline: bytes go in (``buffer``/``commit``, or ``write``), one
    raw deflate body comes out to ``sink``, block by block, in order; ``finish`` ends it.

    Each slot is filled to one byte more than a block before its job is cut: the extra bytes
    show that the input goes on, and they start the next slot. When the ring is full, the
    oldest job is waited for and written, on the caller's thread.

    Given a shared ``ring`` (a command's), the stream is one of several: ``end`` publishes its
    last job without waiting, and ``on_end(summary)`` is called when that job has been written
    out -- possibly while a later stream is being fed. ``prefix`` is written just before the
    first job's output (a header, kept in order with the other streams' output). Without a
    ring, the stream makes its own and closing it (also on leaving a ``with`` block) stops
    the workers whether or not the body was finished.
    """

    def __init__(self, sink: IO[bytes], options: DeflateOptions, *, runtime: Runtime | None = None,
                 on_block: Callable[[int, int], None] | None = None, size_hint: int | None = None,
                 framer: JobFramer | None = None, ring: Ring | None = None, prefix: bytes = b"",
                 on_end: Callable[[BodySummary], None] | None = None) -> None:
        self._own_ring = ring is None
        if ring is None:
            threads = options.threads
            if size_hint is not None:       # no more workers than the input has blocks
                threads = min(threads, max(1, -(-size_hint // options.blocksize)))
            ring = Ring(options, runtime=runtime, threads=threads)
        self.ring = ring
        self.runtime = ring.runtime
        self.sink = sink
        self.framer = framer        # layouts "members" and "bgzf": wraps each job's output (framing.py)
        self.options = options
        self.on_block = on_block
        self.on_end = on_end
        self._prefix = prefix
        self._combine = self.runtime.adler32_combine if options.check == "adler32" else self.runtime.crc32_combine
        self.check = 1 if options.check == "adler32" else 0
        self.length = 0             # input bytes written out so far
        self.compressed = 0         # body bytes written out so far
        self._first = True          # the next job published is this stream's first
        self._fill = 0              # bytes in the slot being filled
        self._pos = 0               # input offset where the job being filled starts
        self._rsync_h = RSYNC_START
        self._ended = False         # the last job is published
        self.done = False           # the last job is written out

    @property
    def pool(self) -> DeflatePool:
        return self.ring.pool

    def __enter__(self) -> DeflateStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def buffer(self) -> memoryview:
        """Where the next input bytes go (straight into wasm memory); report them with commit."""
        self.ring.free_slot()
        return self.ring.input_view()[self._fill:self.options.blocksize + 1]

    def commit(self, n: int) -> None:
        self._fill += n
        if self._fill > self.options.blocksize:
            self._cut(at_end=False)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        data = memoryview(data).cast("B")
        while data:
            room = self.buffer()
            n = min(len(room), len(data))
            room[:n] = data[:n]
            data = data[n:]
            self.commit(n)

    def end(self) -> None:
        """Publish the last job(s) without waiting for them."""
        while not self._ended:
            self.ring.free_slot()       # a stream given no bytes has not asked for a slot yet
            self._cut(at_end=True)

    def finish(self) -> BodySummary:
        """Cut the last job(s), write everything out, and return the body's summary."""
        self.end()
        while not self.done:
            self.ring.write_oldest()
        return self.summary()

    def summary(self) -> BodySummary:
        return BodySummary(check=self.check, length=self.length, compressed=self.compressed)

    def close(self) -> None:
        if self._own_ring:
            self.ring.close()

    def _cut(self, at_end: bool) -> None:
        """Publish the job in the slot being filled (fill bytes, more than a block unless at
        the end) and move the bytes past it to the next slot."""
        ring, n, size = self.ring, self._fill, self.options.blocksize
        start_h = self._rsync_h
        if self.options.rsyncable:
            length, last, self._rsync_h = _rsync_job(ring.pool, ring.next_read, self._pos, n, size, self._rsync_h)
        else:
            length, last = min(n, size), n <= size
        seq = ring.submit(self, length, last=last, first=self._first,
                          rsync_h=start_h if self.options.rsyncable else None)
        self._first = False
        self._pos += length
        self._ended = last
        self._fill = 0
        carry = n - length
        if carry:
            ring.free_slot()
            ring.input_view()[:carry] = ring.pool.input_view(seq)[length:n]
            self._fill = carry

    def _take(self, out: memoryview, job_check: int, job_len: int, last: bool) -> None:
        """The ring hands over one of this stream's jobs, in order: write it out."""
        if self._prefix:
            write_all(self.sink, memoryview(self._prefix))
            self._prefix = b""
        if self.framer is not None:
            before, after = self.framer(len(out), job_check, job_len)
            write_all(self.sink, memoryview(before))
            write_all(self.sink, out)
            write_all(self.sink, memoryview(after))
        else:
            write_all(self.sink, out)
        # combining with nothing before gives the job's own check: one call into wasm less
        # per file of a tree of small files
        self.check = self._combine(self.check, job_check, job_len) if self.length else job_check
        self.length += job_len
        self.compressed += len(out)
        if self.on_block is not None:
            self.on_block(job_len, len(out))
        if last:
            self.done = True
            if self.on_end is not None:
                self.on_end(self.summary())


def compress_body(source: BinaryIO, sink: BinaryIO, options: DeflateOptions, *,
                  runtime: Runtime | None = None,
                  on_block: Callable[[int, int], None] | None = None,
                  framer: JobFramer | None = None) -> BodySummary:
    """Compress all of source into sink as one raw deflate body, pigz's way: reads go
    straight into the engine's memory. ``on_block(input_bytes, output_bytes)`` is called after
    each job is written (for progress). Engine errors raise EngineError; I/O errors OSError."""
    readinto = getattr(source, "readinto", None)
    with DeflateStream(sink, options, runtime=runtime, on_block=on_block,
                       size_hint=_remaining(source), framer=framer) as stream:
        while True:
            room = stream.buffer()
            if readinto is not None:
                n = readinto(room) or 0
            else:
                data = source.read(len(room))
                n = len(data)
                room[:n] = data
            if not n:
                break
            stream.commit(n)
        return stream.finish()


def _remaining(source: BinaryIO) -> int | None:
    """Bytes left in source when it is a regular file (a hint: the file may still grow), else None."""
    try:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None
        return max(0, info.st_size - source.tell())
    except (AttributeError, OSError, ValueError):     # no fileno, unseekable, closed
        return None


def _rsync_job(pool: DeflatePool, seq: int, pos: int, n: int, size: int, h: int) -> tuple[int, bool, int]:
    """Where pigz 2.6 ends the -R job starting at input offset pos, with n bytes of it read
    (n > size means the input goes on past the window). Returns (length, last, hash after it).

    The input is seen as size-byte pieces. A job starting in the piece holding the last input
    byte is the final one and runs to the end of the input. Otherwise it ends at the last hit
    in its window of size bytes, or at the window's end when there is none."""
    at_end = n <= size
    if at_end and (n == 0 or pos // size == (pos + n - 1) // size):
        return n, True, h       # the worker finds its hits; no job follows
    window = min(n, size)
    last_hit, window_h = pool.rsync_scan(seq, window, h)
    if last_hit > 0:
        return last_hit, at_end and last_hit == n, RSYNC_HIT
    return window, at_end and window == n, window_h
