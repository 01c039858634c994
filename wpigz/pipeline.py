"""The block pipeline: read, compress in parallel, write in order -- pigz's parallel path.

The input is cut into consecutive blocks of exactly ``blocksize`` bytes (only the last may be
shorter; empty input is one empty block; an input that is an exact multiple of the block size
has no empty extra block). Each block is read with ``readinto`` straight into a slot of the
engine's ring in WebAssembly shared memory, published to the workers, and later written out
straight from that memory in sequence order, while the per-block check values are combined in
order. The engine primes every block but the first with the 32 KiB of input before it (not
with ``independent``), so the bytes are exactly pigz's, whatever the number of threads.

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
import threading
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from .wasm_host import CHECK_ADLER32, CHECK_CRC32, DeflatePool, Runtime

Z_DEFAULT_STRATEGY = 0
Z_HUFFMAN_ONLY = 2
Z_RLE = 3

# Test hook: the engine traps while compressing this job (see tests of worker traps).
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
class DeflateOptions:
    """What the engine needs to produce a deflate body. These are wpigz's defaults."""

    level: int = 6                          # 0-9
    blocksize: int = 128 * 1024             # bytes; pigz's -b is in KiB, 32 KiB .. 512 MiB
    threads: int = field(default_factory=default_threads)
    strategy: int = Z_DEFAULT_STRATEGY      # Z_HUFFMAN_ONLY for -H, Z_RLE for -U
    independent: bool = False               # -i: no dictionary, full flush after each block
    rsyncable: bool = False                 # -R: also end blocks where pigz's rolling hash hits
    check: str = "crc32"                    # "crc32" (gzip, zip) or "adler32" (zlib)

    def __post_init__(self) -> None:
        if not 0 <= self.level <= 9:
            raise ValueError(f"level must be 0..9, not {self.level}")
        if not 32 * 1024 <= self.blocksize <= 512 * 1024 * 1024:
            raise ValueError(f"blocksize must be 32 KiB .. 512 MiB, not {self.blocksize}")
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, not {self.threads}")
        if self.check not in ("crc32", "adler32"):
            raise ValueError(f"check must be 'crc32' or 'adler32', not {self.check!r}")


@dataclass(frozen=True)
class BodySummary:
    """What the framing needs after the body: the check of the whole input and the sizes."""

    check: int
    length: int             # input bytes
    compressed: int         # deflate body bytes


_local = threading.local()


def thread_runtime() -> Runtime:
    """This Python thread's Runtime, made on first use and kept (a Runtime is single-threaded)."""
    runtime = getattr(_local, "runtime", None)
    if runtime is None:
        runtime = _local.runtime = Runtime()
    return runtime


def read_full(source: BinaryIO, view: memoryview) -> int:
    """Fill view from source; fewer bytes only at end of input."""
    total = 0
    readinto = getattr(source, "readinto", None)
    while total < len(view):
        if readinto is not None:
            n = readinto(view[total:])
        else:
            data = source.read(len(view) - total)
            n = len(data)
            view[total:total + n] = data
        if not n:
            break
        total += n
    return total


def write_all(sink: BinaryIO, data: memoryview) -> None:
    while data:
        n = sink.write(data)
        if n is None:
            raise BlockingIOError("non-blocking output is not supported")
        data = data[n:]


def compress_body(source: BinaryIO, sink: BinaryIO, options: DeflateOptions, *,
                  runtime: Runtime | None = None,
                  on_block: Callable[[int, int], None] | None = None) -> BodySummary:
    """Compress all of source into sink as one raw deflate body, pigz's way.

    ``on_block(input_bytes, output_bytes)`` is called after each job is written (for
    progress). Errors from the engine are raised as ``EngineError``; I/O errors as OSError.
    """
    runtime = runtime or thread_runtime()
    combine = runtime.adler32_combine if options.check == "adler32" else runtime.crc32_combine
    check = 1 if options.check == "adler32" else 0
    trap_job = int(os.environ.get(TRAP_ENV, "-1"))
    size = options.blocksize
    total_in = total_out = 0
    with DeflatePool(runtime, threads=options.threads, blocksize=size, level=options.level,
                     strategy=options.strategy, independent=options.independent,
                     check_kind=CHECK_ADLER32 if options.check == "adler32" else CHECK_CRC32) as pool:
        lengths = [0] * pool.nslots     # input bytes of the job in each slot
        next_read = next_write = 0      # seq of the next job to read, and to write
        pos = 0                         # input offset where job next_read starts
        carry = 0                       # bytes read past the previous job, which start this one
        rsync_h = RSYNC_START
        eof = False
        while not (eof and next_write == next_read):
            while not eof and next_read - next_write < pool.nslots:
                seq = next_read
                view = pool.input_view(seq)
                if carry:
                    previous_end = lengths[(seq - 1) % pool.nslots]
                    view[:carry] = pool.input_view(seq - 1)[previous_end:previous_end + carry]
                # one byte more than a block: reading it tells whether the input goes on
                n = carry + read_full(source, view[carry:size + 1])
                start_h = rsync_h
                if options.rsyncable:
                    length, last, rsync_h = _rsync_job(pool, seq, pos, n, size, rsync_h)
                else:
                    length, last = min(n, size), n <= size
                pool.submit(seq, length, last=last, rsync_h=start_h if options.rsyncable else None,
                            trap=seq == trap_job)
                lengths[seq % pool.nslots] = length
                carry = n - length
                pos += length
                next_read += 1
                eof = last
            if next_write < next_read:
                out, job_check = pool.wait(next_write)
                write_all(sink, out)
                job_len = lengths[next_write % pool.nslots]
                check = combine(check, job_check, job_len)
                total_in += job_len
                total_out += len(out)
                next_write += 1
                if on_block is not None:
                    on_block(job_len, len(out))
    return BodySummary(check=check, length=total_in, compressed=total_out)


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
