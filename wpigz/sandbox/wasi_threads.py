"""wasi-threads for wasmtime: the host side of the module's ``wasi.thread-spawn`` import.

The WebAssembly module starts its own workers: its ``wpigz_start`` export calls
``thread-spawn(start_arg)`` once per worker. As the wasi-threads proposal specifies, the host
answers each call by creating a new Store and a new instance of the same module, importing the
same shared memory, and calling that instance's ``wasi_thread_start(tid, start_arg)`` on a new
OS thread; it returns the new thread's id, unique and positive, or a negative value when it
cannot. The instance is created before returning, on the calling thread, so a failure to
instantiate is reported to the module at once rather than lost on the new thread.

Their owner -- the ``DeflatePool`` that spawned them -- collects the threads made here with
``take_started`` and joins every one when it stops (they are daemon threads only for the
interpreter-exit case explained in ``_thread_spawn``). A worker that ends by an exception -- a
trap, or any other -- is recorded (``first_error``) and handed to the ``on_trap`` callback, so the
main thread learns of it promptly instead of waiting forever. The host function reaches the
spawner through a weak reference, so a Runtime's shared memory goes with its last reference.
"""

from __future__ import annotations

import itertools
import threading
import weakref
TYPE_CHECKING = False                         # typing itself costs start-up time
if TYPE_CHECKING:
    from typing import Callable

from . import wasmtime_c
from .errors import EngineError, WasmtimeError, trap_message

SPAWN_FAILED = -1


def _spawn_through(spawner: weakref.ref[ThreadSpawner]) -> Callable[[int], int]:
    """thread-spawn for the spawner the weak reference names, while it lives (the stores that
    can call thread-spawn belong to the spawner's Runtime, so in practice it always does)."""
    def thread_spawn(start_arg: int) -> int:
        live = spawner()
        return SPAWN_FAILED if live is None else live._thread_spawn(start_arg)
    return thread_spawn


class ThreadSpawner:
    """Implements thread-spawn for one shared memory. ``instantiate`` also makes the main
    instance, so every instance is built by the same code with the same imports."""

    def __init__(self, engine: wasmtime_c.Engine, module: wasmtime_c.Module, memory: wasmtime_c.SharedMemory,
                 *, max_threads: int, on_trap: Callable[[wasmtime_c.Instance, int], None]) -> None:
        self._engine = engine
        self._module = module
        self._memory = memory
        self._max_threads = max_threads
        self._on_trap = on_trap
        self._tids = itertools.count(1)
        self._lock = threading.Lock()       # guards the lists below: workers finish on their own threads
        self._started: list[threading.Thread] = []
        self._live = 0
        self._errors: list[Exception] = []
        self.last_refusal: str | None = None
        # thread-spawn: (i32 start_arg) -> i32 tid; one host function, made a function of each
        # instance's store when that instance is created. It reaches this spawner through a
        # weak reference: the spawner holds it, and a strong one back would make a cycle that
        # keeps the shared memory (and its address space) alive until a full garbage collection.
        self._spawn = wasmtime_c.HostFunc(1, 1, _spawn_through(weakref.ref(self)))

    def instantiate(self) -> tuple[wasmtime_c.Store, wasmtime_c.Instance]:
        """A new Store and instance of the module on the shared memory."""
        store = wasmtime_c.Store(self._engine)
        provided: dict[tuple[str, str], wasmtime_c.HostFunc | wasmtime_c.SharedMemory] = {
            ("env", "memory"): self._memory,
            ("wasi", "thread-spawn"): self._spawn,
        }
        imports: list[wasmtime_c.HostFunc | wasmtime_c.SharedMemory] = []
        for item in self._module.imports:
            key = (item.module, item.name)
            if key not in provided:
                raise WasmtimeError(f"unexpected import {item.module}.{item.name}")
            imports.append(provided[key])
        return store, wasmtime_c.Instance(store, self._module, imports)

    def _thread_spawn(self, start_arg: int) -> int:
        # Runs on the thread that called thread-spawn, inside its wasm call. An Exception
        # becomes the negative result the module checks for; anything else (Ctrl-C's
        # KeyboardInterrupt) is re-raised, so that it traps the caller and leaves the call that
        # entered wasm as itself. Either way the slot taken below is given back.
        with self._lock:
            if self._live >= self._max_threads:
                self.last_refusal = f"thread limit of {self._max_threads} reached"
                return SPAWN_FAILED
            self._live += 1
        thread: threading.Thread | None = None
        try:
            try:
                store, instance = self.instantiate()
            except Exception as error:
                self.last_refusal = f"cannot instantiate a worker: {error}"
                return SPAWN_FAILED
            tid = next(self._tids)
            # Always joined by the pool that spawned it. Daemon only so that a library writer
            # the program forgot to close cannot block interpreter exit before the atexit hook
            # in api.py finishes it (Python joins non-daemon threads before running atexit).
            thread = threading.Thread(target=self._run, args=(store, instance, tid, start_arg),
                                      name=f"wpigz-wasm-{tid}", daemon=True)
            with self._lock:
                self._started.append(thread)        # recorded first: once it runs, it is joined
            try:
                thread.start()
            except Exception as error:      # e.g. RuntimeError: can't start new thread
                self.last_refusal = f"cannot start a thread: {error}"
                return SPAWN_FAILED
            return tid
        finally:
            if thread is None or thread.ident is None:      # it never ran: _run cannot give the slot back
                with self._lock:
                    self._live -= 1
                    if thread is not None:
                        self._started.remove(thread)

    def _run(self, store: wasmtime_c.Store, instance: wasmtime_c.Instance, tid: int, start_arg: int) -> None:
        # A worker that ends by any exception is recorded and reported through on_trap, so the
        # main thread's bounded wait sees it instead of waiting for a worker that is gone.
        try:
            wasmtime_c.Call(instance, "wasi_thread_start")(tid, start_arg)
        except BaseException as error:      # noqa: B036 -- recorded, and re-raised by the main thread
            reason = (f"trapped: {trap_message(error)}" if isinstance(error, WasmtimeError)
                      else f"failed: {type(error).__name__}: {error}")
            with self._lock:
                self._errors.append(EngineError(f"worker thread {tid} {reason}"))
            try:
                self._on_trap(instance, start_arg)
            except Exception:
                pass    # the error is recorded; the main thread's bounded wait still finds it
        finally:
            with self._lock:
                self._live -= 1

    def take_started(self) -> list[threading.Thread]:
        """The threads started since the last call; the caller now owns (and joins) them."""
        with self._lock:
            started, self._started = self._started, []
        return started

    def first_error(self) -> Exception | None:
        with self._lock:
            return self._errors[0] if self._errors else None
