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
input. A block is held back, unpublished, until the next read shows whether it was the last,
because the last block is finished differently (``Z_FINISH``).
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

# Test hook: the engine traps while compressing this block (see tests of worker traps).
TRAP_ENV = "WPIGZ_TEST_TRAP_BLOCK"


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

    ``on_block(input_bytes, output_bytes)`` is called after each block is written (for
    progress). Errors from the engine are raised as ``EngineError``; I/O errors as OSError.
    """
    runtime = runtime or thread_runtime()
    combine = runtime.adler32_combine if options.check == "adler32" else runtime.crc32_combine
    check = 1 if options.check == "adler32" else 0
    trap_block = int(os.environ.get(TRAP_ENV, "-1"))
    size = options.blocksize
    total_in = total_out = 0
    with DeflatePool(runtime, threads=options.threads, blocksize=size, level=options.level,
                     strategy=options.strategy, independent=options.independent,
                     check_kind=CHECK_ADLER32 if options.check == "adler32" else CHECK_CRC32) as pool:
        lengths = [0] * pool.nslots
        next_read = next_write = 0
        held = False            # block next_read - 1 is read but not yet published
        eof = False

        def publish(seq: int, last: bool) -> None:
            pool.submit(seq, lengths[seq % pool.nslots], last=last, trap=seq == trap_block)

        while not (eof and next_write == next_read):
            while not eof and next_read - next_write < pool.nslots:
                n = read_full(source, pool.input_view(next_read))
                if held:
                    held = False
                    publish(next_read - 1, last=n == 0)
                    if n == 0:
                        eof = True
                        break
                lengths[next_read % pool.nslots] = n
                if n == size:
                    held = True
                else:
                    publish(next_read, last=True)
                    eof = True
                next_read += 1
            if next_write < next_read - held:
                out, block_check = pool.wait(next_write)
                write_all(sink, out)
                block_len = lengths[next_write % pool.nslots]
                check = combine(check, block_check, block_len)
                total_in += block_len
                total_out += len(out)
                next_write += 1
                if on_block is not None:
                    on_block(block_len, len(out))
    return BodySummary(check=check, length=total_in, compressed=total_out)
