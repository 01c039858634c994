"""The WebAssembly host: the only module of wpigz that drives wasmtime (through wasmtime_c).

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
is translated into ``EngineError`` here, in one place. wasmtime itself is reached through
``wasmtime_c``, wpigz's own small binding of its C API (importing wasmtime-py cost more than
all the rest of a short command's start-up).

Calls into wasm go through ctypes with the GIL released, so workers really run in parallel
while the main thread waits inside ``wpigz_wait``. That wait is bounded (``WAIT_SLICE_MS``)
so the main thread comes back to the interpreter often enough to run signal handlers:
Ctrl-C stays prompt even while it waits for a slow block.
"""

from __future__ import annotations

import ctypes
import functools
import os
import struct
import zlib

from . import wasmtime_c
from .engines import DEFAULT_ENGINE
from .engines import ENGINES as ENGINE_TABLE
from .engines import module_info
from .errors import EngineError as EngineError          # re-exported: it lives in errors.py
from .errors import WasmtimeError
from .errors import trap_message as _trap_message
from .wasi_threads import ThreadSpawner
from .wasmtime_version import CACHE_ENV as CACHE_ENV, cache_dir   # shared with the self-check's verdicts

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the .wasm files: wpigz/, beside licenses/

# engine name -> module file (the facts about each engine are in engines.py)
ENGINES = {name: info.module for name, info in ENGINE_TABLE.items()}
MODULE_FILE = ENGINES[DEFAULT_ENGINE]
# Decoding has no bytes to match, so it always uses the fastest inflater in the sandbox:
# zlib-ng's (measured about 2x zlib 1.2.13's in wasm). Both modules carry wasm/inflater.c.
DECODER_ENGINE = "zlib-ng"
WAIT_SLICE_MS = 100          # longest a main-thread wait stays in wasm before Python runs again

# job flags and check kinds, as in wasm/engine.c
JOB_LAST = 1
JOB_TRAP = 2
JOB_RSYNC = 4
JOB_DECODE = 8               # the libdeflate module only: decode a gzip member's body (members.py)
JOB_FIRST = 16               # a stream's first job: no history from the job before it in the ring
LOOKAHEAD = 1                # bytes of room past a block in each input slot
CHECK_CRC32 = 0
CHECK_ADLER32 = 1
STATUS_NO_ROOM = -100
STATUS_DECODE_BAD = -101     # JOB_DECODE: invalid deflate data, or more output than expected
STATUS_DECODE_LENGTH = -102  # JOB_DECODE: the body ended elsewhere, or gave another size
DICT = 32768
# a slot's record from this offset (engine.c, wpigz_slot): out_len, check, rsync_h, status
SLOT_RESULT_OFFSET = 20
SLOT_RESULT = struct.Struct("<iIIi")
# What wpigz_new takes from the memory (wasm/engine.c): per slot, its two buffers in whole
# 64 KiB pages; per worker, a stack and an arena from malloc, which rounds each up to a power
# of two (at most 512 KiB + 2 MiB, for zlib-ng's arena); and room kept for everything else
# (module data, the decoder, malloc's own pages).
PAGE = 65536
WORKER_BYTES = (512 + 2048) * 1024
RESERVED_BYTES = 64 << 20


# The compiled-module cache (see compiled_module): where, and the switch to move or disable it.
CACHE_FORMAT = b"wpigz-cwasm-1"     # bumped if the file layout below changes
CACHE_KEEP = 4                      # entries kept per engine (of any wasmtime build or module version)
# The engine's configuration, as wasmtime_c.Engine sets it; part of every cache key.
ENGINE_CONFIG = "threads,shared_memory"


def _cache_key(name: str, wasm: bytes) -> str:
    """What the compiled code depends on: the module's bytes, the wasmtime build (its native
    library's size and time: each wasmtime release ships its own), the engine configuration
    and the machine. zlib's crc32 is enough to tell versions apart (the directory is the
    user's own; this is not a defence against someone who can write to it) and costs far less
    at start-up than importing hashlib."""
    try:
        info = os.stat(wasmtime_c.LIBRARY)
        build = f"{info.st_size:x}.{info.st_mtime_ns:x}"
    except OSError:
        build = "unknown"
    ident = f"{name}|{len(wasm)}|{zlib.crc32(wasm):08x}|{build}|{ENGINE_CONFIG}|{os.uname().machine}"
    return f"{name.rsplit('.', 1)[0]}.{zlib.crc32(ident.encode()):08x}{zlib.adler32(ident.encode()):08x}"


def _load_cached(engine: wasmtime_c.Engine, path: str, key: str) -> wasmtime_c.Module | None:
    """The module stored at path, or None when it is missing, stale or damaged.

    A cache file is wasmtime's serialized module followed by a trailer: CACHE_FORMAT, the key,
    the payload's length and its crc32. Deserializing trusts the machine code it is given, so
    the file is checked whole before wasmtime sees it: a torn or flipped file is recompiled,
    never run, and so is one that is not the user's own or that others may write to."""
    try:
        with open(path, "rb") as f:
            info = os.fstat(f.fileno())
            # machine code is only taken from a file no one else could have written
            if info.st_uid != os.geteuid() or info.st_mode & 0o022:
                return None
            data = f.read()
    except OSError:
        return None
    tail = CACHE_FORMAT + key.encode()
    if len(data) < len(tail) + 8 or data[-len(tail) - 8:-8] != tail:
        return None
    size, crc = struct.unpack("<II", data[-8:])
    payload = memoryview(data)[:-len(tail) - 8]
    if size != len(payload) or zlib.crc32(payload) != crc:
        return None
    try:
        return wasmtime_c.Module.deserialize(engine, bytes(payload))
    except WasmtimeError:
        return None         # made by another wasmtime or for another CPU: compile again


def _store_cached(module: wasmtime_c.Module, directory: str, path: str, key: str) -> None:
    """Write the module to path atomically (a temporary file renamed into place), so that
    processes filling the cache at once each see either nothing or a whole file. Any failure
    -- no such directory and none can be made, read-only, disk full -- is silent: the cache
    only saves time."""
    import tempfile
    try:
        payload = module.serialize()
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.write(CACHE_FORMAT + key.encode() + struct.pack("<II", len(payload), zlib.crc32(payload)))
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
        # Drop what older versions left behind, but keep the most recently written few: wpigz
        # installed in several environments (another wasmtime build, or another module, each)
        # shares this directory, and dropping every other entry made each one's run delete the
        # other's and compile again (about 600M instructions, some 160 ms) at every switch.
        prefix = key.rsplit(".", 1)[0] + "."
        others = []
        for entry in os.listdir(directory):
            if entry.startswith(prefix) and entry.endswith(".cwasm") and entry != os.path.basename(path):
                try:
                    others.append((os.stat(os.path.join(directory, entry)).st_mtime_ns, entry))
                except OSError:
                    pass
        for _, entry in sorted(others, reverse=True)[CACHE_KEEP - 1:]:
            try:
                os.unlink(os.path.join(directory, entry))
            except OSError:
                pass
    except (OSError, WasmtimeError):
        pass


@functools.lru_cache(maxsize=None)
def compiled_module(name: str = MODULE_FILE) -> tuple[wasmtime_c.Engine, wasmtime_c.Module]:
    """The process-wide Engine and the compiled module, once per process.

    Compiling the module takes tens of milliseconds, so the machine code is kept in wpigz's
    own cache (``cache_dir()``) and loaded from there on later runs (measured: about 0.5 ms,
    against about 2 ms through wasmtime's own cache, which hashes the module and reads its
    configuration file first, and 30-50 ms to compile)."""
    engine = wasmtime_c.Engine()
    with open(os.path.join(_HERE, name), "rb") as f:
        wasm = f.read()
    directory = cache_dir()
    if directory is None:
        return engine, wasmtime_c.Module(engine, wasm)
    key = _cache_key(name, wasm)
    path = os.path.join(directory, key + ".cwasm")
    module = _load_cached(engine, path, key)
    if module is None:
        module = wasmtime_c.Module(engine, wasm)
        _store_cached(module, directory, path, key)
    return engine, module


def export_call(instance: wasmtime_c.Instance, name: str) -> wasmtime_c.Call:
    """The fast caller of an instance's export (``wasmtime_c.Call``: i32 values only). A missing
    export, or one of another signature, is an EngineError naming it."""
    try:
        return wasmtime_c.Call(instance, name)
    except WasmtimeError as error:
        raise EngineError(str(error)) from error


class Runtime:
    """A shared memory, the main instance in it, and the thread spawner its workers come from.

    Owned by one Python thread (the one that made it): the main instance's Store is not
    thread-safe. ``engine`` picks the module (see ENGINES). ``max_memory_pages`` caps the shared memory below the module's own maximum;
    ``max_threads`` caps how many worker threads thread-spawn grants at once (more are
    refused, as wasi-threads allows a host to do).
    """

    def __init__(self, *, engine: str = DEFAULT_ENGINE, max_memory_pages: int | None = None,
                 max_threads: int = 256) -> None:
        self.info = module_info(engine)
        self.engine_name = engine
        self.engine, self.module = compiled_module(self.info.module)
        self._decoder_runtime: Runtime | None = None
        self._closed = False
        (memory_import,) = [i for i in self.module.imports if (i.module, i.name) == ("env", "memory")]
        limits = memory_import.type
        assert isinstance(limits, wasmtime_c.MemoryType), "the module imports a memory"
        assert limits.maximum is not None, "the module's memory is shared, so it has a maximum"
        maximum = limits.maximum if max_memory_pages is None else min(limits.maximum, max_memory_pages)
        self.max_bytes = maximum * 65536
        try:
            self.memory = wasmtime_c.SharedMemory(self.engine, limits.minimum, maximum)
        except WasmtimeError as error:
            raise EngineError(f"cannot create the shared memory: {_trap_message(error)}") from error
        self.spawner = ThreadSpawner(self.engine, self.module, self.memory, max_threads=max_threads,
                                     on_trap=self._worker_trapped)
        try:
            self.store, self.instance = self.spawner.instantiate()
        except WasmtimeError as error:
            raise EngineError(f"cannot instantiate the module: {_trap_message(error)}") from error
        self._fast_calls: dict[str, wasmtime_c.Call] = {}
        self.call("_initialize")

    def call(self, name: str, *args: int) -> int:
        """Call an export of the main instance (main thread only)."""
        fast = self._fast_calls.get(name)
        if fast is None:
            if self._closed:
                raise EngineError(f"{name} called after the engine was closed")
            fast = self._fast_calls[name] = export_call(self.instance, name)
        try:
            return fast(*args)
        except WasmtimeError as error:         # a Trap, or an error wasmtime reported
            raise EngineError(f"{name} trapped: {_trap_message(error)}") from error

    def close(self) -> None:
        """Release the main instance, its store and this Runtime's hold on the shared memory
        now, rather than when the last reference to the Runtime goes (a closed GzipFile may be
        kept long after). Only once no pool or decoder of it is running; views already handed
        out keep the memory itself (see view). Idempotent; calls after it raise EngineError."""
        if self._closed:
            return
        self._closed = True
        if self._decoder_runtime is not None:
            self._decoder_runtime.close()
            self._decoder_runtime = None
        self._fast_calls = {}
        del self.instance, self.store, self.spawner, self.memory

    @staticmethod
    def _worker_trapped(instance: wasmtime_c.Instance, start_arg: int) -> None:
        # The worker never reached its own exit bookkeeping: do it through its own instance,
        # which also wakes a main thread waiting in wpigz_wait.
        export_call(instance, "wpigz_worker_trapped")(start_arg)

    def ring_for(self, threads: int, blocksize: int, slots: int | None = None) -> tuple[int, int]:
        """(workers, slots) for a compression run: 2 x threads + 2 slots when they fit in the
        memory's maximum (4 GiB for wasm32), else as many slots as fit (at least 2, so that
        -b 512M works even with -p 1) and no more workers than can have a job at once."""
        def pages(n: int) -> int:
            return -(-n // PAGE) * PAGE
        slot = pages(DICT + blocksize + LOOKAHEAD) + pages(blocksize + (blocksize >> 4) + DICT)
        budget = self.max_bytes - RESERVED_BYTES
        nslots = slots or 2 * threads + 2
        while nslots > 2 and nslots * slot + threads * WORKER_BYTES > budget:
            nslots -= 1
            threads = min(threads, nslots - 1)
        return threads, nslots

    def decoder_runtime(self) -> Runtime:
        """The Runtime decoders run in: this one if it holds DECODER_ENGINE, else one made
        for it on first use and kept with this one (same owner thread)."""
        if self.engine_name == DECODER_ENGINE:
            return self
        if self._decoder_runtime is None:
            self._decoder_runtime = Runtime(engine=DECODER_ENGINE)
        return self._decoder_runtime

    def view(self, address: int, length: int) -> memoryview:
        """A writable memoryview of [address, address + length) in the shared memory: no copy.
        Shared memories never move, and the view (and every slice of it) holds the memory, so
        it stays valid even after the Runtime is gone. Addresses come from wasm as signed
        32-bit results: those past 2 GiB are made unsigned here."""
        address &= 0xFFFFFFFF
        if self._closed:
            raise EngineError("wasm memory viewed after the engine was closed")
        if address < 0 or length < 0 or address + length > self.memory.data_len():
            raise EngineError(f"wasm memory range {address}+{length} out of bounds")
        array = (ctypes.c_ubyte * length).from_address(self.memory.data_address() + address)
        array._memory = self.memory     # type: ignore[attr-defined]  # the view's owner holds the memory
        return memoryview(array).cast("B")

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
                 strategy: int, independent: bool, check_kind: int, asked_threads: int | None = None,
                 tuning: tuple[int, ...] = (), slots: int | None = None) -> None:
        self.runtime = runtime
        self.blocksize = blocksize
        # 2 x threads jobs in flight, plus the block being read and the one held back until
        # we know whether it is the last: the ring is also what bounds memory. Very large
        # blocks get fewer slots (and workers) so that the ring fits in wasm32's 4 GiB.
        requested = threads
        self.threads, self.nslots = threads, nslots = runtime.ring_for(threads, blocksize, slots)
        self._ctl = runtime.call("wpigz_new", threads, nslots, blocksize,
                                 # the engine's level mapping; a decoding pool's negative level as is
                                 runtime.info.library_levels[level] if level >= 0 else level,
                                 strategy, int(independent), check_kind)
        if self._ctl == 0:
            # the message names the thread count the user asked for, even when a small input
            # made the pool start fewer workers
            info = runtime.info
            need = (f" (level {'/'.join(map(str, info.levels))} needs about {info.arena_per_block} times "
                    f"the block size per thread)") if info.arena_per_block else ""
            raise EngineError(f"not enough wasm memory for {asked_threads or requested} threads with "
                              f"{blocksize // 1024} KiB blocks{need}")
        self._workers: list = []
        self._inputs: list[memoryview] = []
        self._outputs: list[memoryview] = []
        self._results: list[memoryview] = []
        # From here on the control block exists: whatever leaves this constructor (a trap in
        # wpigz_start, a refused spawn, Ctrl-C) first stops and joins the workers already
        # started and frees the block.
        try:
            for i, value in enumerate(tuning):     # engine-specific settings (zopfli's), before start
                runtime.call("wpigz_tune", self._ctl, i, value)
            self._inputs = [runtime.view(runtime.call("wpigz_slot_in", self._ctl, i), blocksize + LOOKAHEAD)
                            for i in range(self.nslots)]
            out_size = blocksize + (blocksize >> 4) + DICT
            self._outputs = [runtime.view(runtime.call("wpigz_slot_out", self._ctl, i), out_size)
                             for i in range(self.nslots)]
            # each slot's out_len, check, (rsync_h), status, read once its job is done (engine.c)
            self._results = [runtime.view(runtime.call("wpigz_slot", self._ctl, i) + SLOT_RESULT_OFFSET,
                                          SLOT_RESULT.size) for i in range(self.nslots)]
            try:
                started = runtime.call("wpigz_start", self._ctl)
            finally:
                self._workers = runtime.spawner.take_started()
            if started < 0:
                raise EngineError(f"cannot start worker thread {len(self._workers) + 1} of {threads}: "
                                  f"{runtime.spawner.last_refusal or 'thread-spawn failed'}")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> DeflatePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def input_view(self, seq: int) -> memoryview:
        """Slot seq's data area: blocksize bytes plus LOOKAHEAD bytes of room."""
        return self._inputs[seq % self.nslots]

    def submit(self, seq: int, length: int, *, last: bool, first: bool = False, rsync_h: int | None = None,
               trap: bool = False) -> None:
        """Publish job seq: its first length bytes of input_view(seq). With rsync_h (the -R
        hash before its first byte), the job is cut into blocks at the hash's hits. A first
        job starts a new stream: no history from the job before it."""
        flags = ((JOB_LAST if last else 0) | (JOB_TRAP if trap else 0) | (JOB_RSYNC if rsync_h is not None else 0)
                 | (JOB_FIRST if first else 0))
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
        # read from the slot's record: one call into wasm per job, the wait (engine.c, wpigz_slot)
        length, check, _, status = SLOT_RESULT.unpack(self._results[seq % self.nslots])
        return status, self._outputs[seq % self.nslots][:length], check

    def done(self, seq: int) -> bool:
        """Whether job seq is finished (without waiting)."""
        return self.runtime.call("wpigz_wait", self._ctl, seq, 0) == 1

    def halt(self) -> None:
        """Stop the workers and join their threads, keeping the slots (after a failure, the
        jobs that did finish can still be read). Idempotent."""
        if self._ctl == 0:
            return
        self.runtime.call("wpigz_stop", self._ctl)
        for thread in self._workers:
            thread.join()
        self._workers = []

    def close(self) -> None:
        if self._ctl == 0:
            return
        self.halt()
        self._inputs = self._outputs = self._results = []
        self.runtime.call("wpigz_free", self._ctl)
        self._ctl = 0


# decoder step results and check kinds, as in wasm/inflater.c
STEP_MORE = 0
STEP_END = 1
STEP_ERROR = -1
CHECK_NONE = 2


class Decoder:
    """The sandboxed decompressor (wasm/inflater.c): raw inflate, Unix-compress LZW or pack, fed and
    drained through two fixed buffers in wasm memory. It runs in ``runtime.decoder_runtime()``
    (zlib-ng's inflate, whatever engine compresses). Main thread only; ``close`` is
    idempotent and also happens on leaving a ``with`` block."""

    def __init__(self, runtime: Runtime, *, in_size: int = 256 * 1024, out_size: int = 1024 * 1024) -> None:
        runtime = runtime.decoder_runtime()
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

    def resume(self, window: bytes, nbits: int, value: int) -> None:
        """After start_inflate: continue a deflate stream in its middle (wpigz/decode/chunks.py's
        fallback), with window the output before that point (at most 32 KiB) and the first
        nbits (< 8) bits, value, of the partly used byte there."""
        self.input[:len(window)] = window
        if self.runtime.call("wpigz_inflate_resume", self._f, len(window), nbits, value) < 0:
            raise EngineError("cannot resume the inflater")

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
