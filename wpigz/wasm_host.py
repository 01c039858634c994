"""The WebAssembly host: the only module of wpigz that imports wasmtime.

wpigz's deflate engine is one WebAssembly module (``zlib.wasm``: zlib 1.2.13 plus the glue in
``wasm/engine.c``). This module loads it the way the wasi-threads proposal expects:

* one wasmtime Engine with threads and shared memory enabled, the module compiled once per
  process;
* one ``Runtime``: a SharedMemory and the *main instance*, which the Python main thread
  calls into (module exports such as ``wpigz_submit`` and ``wpigz_wait``);
* worker instances, created by ``wasi_threads.ThreadSpawner`` when the module itself calls
  its ``wasi.thread-spawn`` import, each with its own Store on its own OS thread.

``DeflatePool`` wraps one compression run's control block in that memory: the ring of job
slots, the workers the module spawned for it, and their orderly stop. Every wasmtime error
is translated into ``EngineError`` here, in one place.

Calls into wasm go through ctypes with the GIL released, so workers really run in parallel
while the main thread waits inside ``wpigz_wait``. That wait is bounded (``WAIT_SLICE_MS``)
so the main thread comes back to the interpreter often enough to run signal handlers:
Ctrl-C stays prompt even while it waits for a slow block.
"""

from __future__ import annotations

import ctypes
import functools
import typing
from importlib import resources

import wasmtime
from wasmtime import _ffi as wasmtime_ffi

from .engines import DEFAULT_ENGINE
from .engines import ENGINES as ENGINE_TABLE
from .engines import engine_info
from .errors import EngineError as EngineError          # re-exported: it lives in errors.py
from .errors import trap_message as _trap_message
from .wasi_threads import ThreadSpawner

# engine name -> module file (the facts about each engine are in engines.py)
ENGINES = {name: info.module for name, info in ENGINE_TABLE.items()}
MODULE_FILE = ENGINES[DEFAULT_ENGINE]
WAIT_SLICE_MS = 100          # longest a main-thread wait stays in wasm before Python runs again

# job flags and check kinds, as in wasm/engine.c
JOB_LAST = 1
JOB_TRAP = 2
JOB_RSYNC = 4
JOB_DECODE = 8               # the libdeflate module only: decode a gzip member's body (members.py)
LOOKAHEAD = 1                # bytes of room past a block in each input slot
CHECK_CRC32 = 0
CHECK_ADLER32 = 1
STATUS_NO_ROOM = -100
STATUS_DECODE_BAD = -101     # JOB_DECODE: invalid deflate data, or more output than expected
STATUS_DECODE_LENGTH = -102  # JOB_DECODE: the body ended elsewhere, or gave another size
DICT = 32768
# What wpigz_new takes from the memory (wasm/engine.c): per slot, its two buffers in whole
# 64 KiB pages; per worker, a stack and an arena from malloc, which rounds each up to a power
# of two (at most 512 KiB + 2 MiB, for zlib-ng's arena); and room kept for everything else
# (module data, the decoder, malloc's own pages).
PAGE = 65536
WORKER_BYTES = (512 + 2048) * 1024
RESERVED_BYTES = 64 << 20


class _SharedMemory(wasmtime.SharedMemory):
    """Workaround for wasmtime-py issue #318 (open in wasmtime-py 50.x, which wpigz pins).

    ``SharedMemory._as_extern`` wraps its pointer twice (``ctypes.pointer(self.ptr())``), so
    passing a SharedMemory as an import -- ``Linker.define`` or ``Instance(..., imports)`` --
    raises ``TypeError: incompatible types, LP_LP_wasmtime_sharedmemory``; ``size()`` has the
    same double wrap. This subclass builds the extern with the pointer itself. It is used only
    for wpigz's own memory; the library is not patched. tests/test_wasi_threads.py checks
    that the upstream class still fails, so the day it is fixed the test says to drop this.
    """

    def _as_extern(self) -> wasmtime_ffi.wasmtime_extern_t:
        union = wasmtime_ffi.wasmtime_extern_union(sharedmemory=self.ptr())
        return wasmtime_ffi.wasmtime_extern_t(wasmtime_ffi.WASMTIME_EXTERN_SHAREDMEMORY, union)

    def size(self) -> int:
        return wasmtime_ffi.wasmtime_sharedmemory_size(self.ptr())


@functools.lru_cache(maxsize=None)
def compiled_module(name: str = MODULE_FILE) -> tuple[wasmtime.Engine, wasmtime.Module]:
    """The process-wide Engine and the compiled module (compiling takes a while; do it once)."""
    config = wasmtime.Config()
    config.wasm_threads = True
    config.shared_memory = True
    try:
        # wasmtime's own on-disk cache of compiled code: start-up 50 ms faster after first use
        config.cache = True
    except wasmtime.WasmtimeError:
        pass            # no usable cache directory: compile every time
    engine = wasmtime.Engine(config)
    wasm = resources.files(__package__).joinpath(name).read_bytes()
    return engine, wasmtime.Module(engine, wasm)


class Runtime:
    """A shared memory, the main instance in it, and the thread spawner its workers come from.

    Owned by one Python thread (the one that made it): the main instance's Store is not
    thread-safe. ``engine`` picks the module (see ENGINES). ``max_memory_pages`` caps the shared memory below the module's own maximum;
    ``max_threads`` caps how many worker threads thread-spawn grants at once (more are
    refused, as wasi-threads allows a host to do).
    """

    def __init__(self, *, engine: str = DEFAULT_ENGINE, max_memory_pages: int | None = None,
                 max_threads: int = 256) -> None:
        self.info = engine_info(engine)
        self.engine, self.module = compiled_module(self.info.module)
        (memory_import,) = [i for i in self.module.imports if (i.module, i.name) == ("env", "memory")]
        limits = typing.cast(wasmtime.MemoryType, memory_import.type).limits
        assert limits.max is not None, "the module's memory is shared, so it has a maximum"
        maximum = limits.max if max_memory_pages is None else min(limits.max, max_memory_pages)
        self.max_bytes = maximum * 65536
        memory_type = wasmtime.MemoryType(wasmtime.Limits(limits.min, maximum), shared=True)
        try:
            self.memory = _SharedMemory(self.engine, memory_type)
        except wasmtime.WasmtimeError as error:
            raise EngineError(f"cannot create the shared memory: {_trap_message(error)}") from error
        self.spawner = ThreadSpawner(self.engine, self.module, self.memory, max_threads=max_threads,
                                     on_trap=self._worker_trapped)
        self.store, instance = self.spawner.instantiate()
        self._exports = instance.exports(self.store)
        self.call("_initialize")

    def call(self, name: str, *args: int) -> int:
        """Call an export of the main instance (main thread only)."""
        try:
            return typing.cast(wasmtime.Func, self._exports[name])(self.store, *args)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as error:
            raise EngineError(f"{name} trapped: {_trap_message(error)}") from error

    @staticmethod
    def _worker_trapped(store: wasmtime.Store, instance: wasmtime.Instance, start_arg: int) -> None:
        # The worker never reached its own exit bookkeeping: do it through its own instance,
        # which also wakes a main thread waiting in wpigz_wait.
        typing.cast(wasmtime.Func, instance.exports(store)["wpigz_worker_trapped"])(store, start_arg)

    def ring_for(self, threads: int, blocksize: int) -> tuple[int, int]:
        """(workers, slots) for a compression run: 2 x threads + 2 slots when they fit in the
        memory's maximum (4 GiB for wasm32), else as many slots as fit (at least 2, so that
        -b 512M works even with -p 1) and no more workers than can have a job at once."""
        def pages(n: int) -> int:
            return -(-n // PAGE) * PAGE
        slot = pages(DICT + blocksize + LOOKAHEAD) + pages(blocksize + (blocksize >> 4) + DICT)
        budget = self.max_bytes - RESERVED_BYTES
        nslots = 2 * threads + 2
        while nslots > 2 and nslots * slot + threads * WORKER_BYTES > budget:
            nslots -= 1
            threads = min(threads, nslots - 1)
        return threads, nslots

    def view(self, address: int, length: int) -> memoryview:
        """A writable memoryview of [address, address + length) in the shared memory: no copy.
        Shared memories never move, so the view stays valid while the Runtime lives. Addresses
        come from wasm as signed 32-bit results: those past 2 GiB are made unsigned here."""
        address &= 0xFFFFFFFF
        if address < 0 or length < 0 or address + length > self.memory.data_len():
            raise EngineError(f"wasm memory range {address}+{length} out of bounds")
        base = ctypes.cast(self.memory.data_ptr(), ctypes.c_void_p).value or 0
        return memoryview((ctypes.c_ubyte * length).from_address(base + address)).cast("B")

    def zlib_version(self) -> str:
        address = self.call("wpigz_zlib_version")
        raw = bytes(self.view(address, 64))
        return raw.split(b"\0", 1)[0].decode("ascii")

    def library_version(self) -> str:
        """The version of the engine's own library ("1.2.13" for zlib, "2.3.3" for zlib-ng,
        whose zlib_version() is the zlib version it is compatible with)."""
        raw = bytes(self.view(self.call("wpigz_library_version"), 64))
        return raw.split(b"\0", 1)[0].decode("ascii")

    def crc32_combine(self, crc_a: int, crc_b: int, length_b: int) -> int:
        return self.call("wpigz_crc32_combine", crc_a, crc_b, length_b) & 0xFFFFFFFF

    def adler32_combine(self, adler_a: int, adler_b: int, length_b: int) -> int:
        return self.call("wpigz_adler32_combine", adler_a, adler_b, length_b) & 0xFFFFFFFF


class DeflatePool:
    """One compression run: a ring of ``nslots`` job slots and ``threads`` workers in wasm.

    The main thread reads a block into ``input_view(seq)``, publishes it with ``submit``,
    later waits for it with ``wait`` and writes ``output_view(seq)``. ``close`` (also on
    leaving a ``with`` block, even after an error) stops the workers, joins their threads
    and frees the slots; it is idempotent.
    """

    def __init__(self, runtime: Runtime, *, threads: int, blocksize: int, level: int,
                 strategy: int, independent: bool, check_kind: int) -> None:
        self.runtime = runtime
        self.blocksize = blocksize
        # 2 x threads jobs in flight, plus the block being read and the one held back until
        # we know whether it is the last: the ring is also what bounds memory. Very large
        # blocks get fewer slots (and workers) so that the ring fits in wasm32's 4 GiB.
        requested = threads
        self.threads, self.nslots = threads, nslots = runtime.ring_for(threads, blocksize)
        self._ctl = runtime.call("wpigz_new", threads, nslots, blocksize, level, strategy,
                                 int(independent), check_kind)
        if self._ctl == 0:
            raise EngineError(f"not enough wasm memory for {requested} threads with "
                              f"{blocksize // 1024} KiB blocks")
        self._workers: list = []
        self._inputs = [runtime.view(runtime.call("wpigz_slot_in", self._ctl, i), blocksize + LOOKAHEAD)
                        for i in range(self.nslots)]
        out_size = blocksize + (blocksize >> 4) + DICT
        self._outputs = [runtime.view(runtime.call("wpigz_slot_out", self._ctl, i), out_size)
                         for i in range(self.nslots)]
        try:
            started = runtime.call("wpigz_start", self._ctl)
        finally:
            self._workers = runtime.spawner.take_started()
        if started < 0:
            message = (f"cannot start worker thread {len(self._workers) + 1} of {threads}: "
                       f"{runtime.spawner.last_refusal or 'thread-spawn failed'}")
            self.close()
            raise EngineError(message)

    def __enter__(self) -> DeflatePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def input_view(self, seq: int) -> memoryview:
        """Slot seq's data area: blocksize bytes plus LOOKAHEAD bytes of room."""
        return self._inputs[seq % self.nslots]

    def submit(self, seq: int, length: int, *, last: bool, rsync_h: int | None = None,
               trap: bool = False) -> None:
        """Publish job seq: its first length bytes of input_view(seq). With rsync_h (the -R
        hash before its first byte), the job is cut into blocks at the hash's hits."""
        flags = (JOB_LAST if last else 0) | (JOB_TRAP if trap else 0) | (JOB_RSYNC if rsync_h is not None else 0)
        self.runtime.call("wpigz_submit", self._ctl, seq, length, flags, rsync_h or 0)

    def submit_decode(self, seq: int, length: int, expected: int) -> None:
        """Publish decode job seq (libdeflate module, a pool made with level -1): the first
        length bytes of input_view(seq) are one gzip member's deflate body, which must decode
        to exactly expected bytes (see wasm/deflate_libdeflate.c)."""
        self.runtime.call("wpigz_submit", self._ctl, seq, length, JOB_DECODE, expected)

    def rsync_scan(self, seq: int, length: int, h: int) -> tuple[int, int]:
        """Roll the -R hash h over the first length bytes of slot seq's data: (offset just past
        the last hit or -1, the hash after all length bytes)."""
        address = self.runtime.call("wpigz_slot_in", self._ctl, seq % self.nslots)
        last_hit = self.runtime.call("wpigz_rsync_scan", self._ctl, address, length, h)
        return last_hit, self.runtime.call("wpigz_scan_h", self._ctl) & 0xFFFFFFFF

    def wait(self, seq: int) -> tuple[memoryview, int]:
        """Block until job seq is compressed; return its output and its check value."""
        status, out, check = self.wait_status(seq)
        if status != 0:
            what = "output larger than its buffer" if status == STATUS_NO_ROOM else f"zlib error {status}"
            raise EngineError(f"deflate failed on block {seq}: {what}")
        return out, check

    def wait_status(self, seq: int) -> tuple[int, memoryview, int]:
        """Block until job seq is done; return its status (0 or STATUS_*), output and check."""
        while True:
            state = self.runtime.call("wpigz_wait", self._ctl, seq, WAIT_SLICE_MS)
            if state == 1:
                break
            if state < 0:
                raise self.runtime.spawner.first_error() or EngineError("every worker thread has exited")
        status = self.runtime.call("wpigz_status", self._ctl, seq)
        length = self.runtime.call("wpigz_out_len", self._ctl, seq)
        check = self.runtime.call("wpigz_check", self._ctl, seq) & 0xFFFFFFFF
        return status, self._outputs[seq % self.nslots][:length], check

    def close(self) -> None:
        if self._ctl == 0:
            return
        self.runtime.call("wpigz_stop", self._ctl)
        for thread in self._workers:
            thread.join()
        self._workers = []
        self._inputs = self._outputs = []
        self.runtime.call("wpigz_free", self._ctl)
        self._ctl = 0


# decoder step results and check kinds, as in wasm/inflater.c
STEP_MORE = 0
STEP_END = 1
STEP_ERROR = -1
CHECK_NONE = 2


class Decoder:
    """The sandboxed decompressor (wasm/inflater.c): raw inflate, Unix-compress LZW or pack, fed and
    drained through two fixed buffers in wasm memory. Main thread only; ``close`` is
    idempotent and also happens on leaving a ``with`` block."""

    def __init__(self, runtime: Runtime, *, in_size: int = 256 * 1024, out_size: int = 1024 * 1024) -> None:
        self.runtime = runtime
        self._f = runtime.call("wpigz_inflater_new", in_size, out_size)
        if self._f == 0:
            raise EngineError("not enough wasm memory for a decompressor")
        self.input = runtime.view(runtime.call("wpigz_inflater_in", self._f), in_size)
        self._output = runtime.view(runtime.call("wpigz_inflater_out", self._f), out_size)

    def __enter__(self) -> Decoder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._f:
            self.runtime.call("wpigz_inflater_free", self._f)
            self._f = 0

    def start_inflate(self, check_kind: int) -> None:
        if self.runtime.call("wpigz_inflate_reset", self._f, check_kind) < 0:
            raise EngineError("cannot reset the inflater")

    def start_lzw(self, flags_byte: int) -> str | None:
        """Start LZW decoding; returns an error message for a bad flags byte."""
        if self.runtime.call("wpigz_lzw_reset", self._f, flags_byte) < 0:
            return self.message()
        return None

    def start_pack(self) -> None:
        """Start decoding a pack (.z) member; the host has consumed its magic."""
        self.runtime.call("wpigz_pack_reset", self._f)

    def feed(self, length: int) -> None:
        """The first length bytes of ``input`` are new data (all earlier input was used)."""
        self.runtime.call("wpigz_inflater_feed", self._f, length)

    def step(self, at_eof: bool = False) -> tuple[int, memoryview]:
        """Decode as far as the input and the output buffer allow: (STEP_*, new output)."""
        state = self.runtime.call("wpigz_inflater_step", self._f, int(at_eof))
        produced = self.runtime.call("wpigz_inflater_out_len", self._f)
        return state, self._output[:produced]

    def unused(self) -> int:
        """Bytes of the last feed not consumed (after STEP_END: what follows the data)."""
        return self.runtime.call("wpigz_inflater_avail_in", self._f)

    def check(self) -> int:
        return self.runtime.call("wpigz_inflater_check", self._f) & 0xFFFFFFFF

    def message(self) -> str:
        address = self.runtime.call("wpigz_inflater_msg", self._f)
        return bytes(self.runtime.view(address, 128)).split(b"\0", 1)[0].decode("ascii", "replace")
