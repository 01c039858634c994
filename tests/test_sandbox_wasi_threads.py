"""The wasi-threads contract between the module and the host, and how failures surface.

Every test that could hang carries a timeout: a worker failure must raise, never hang.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from conftest import text_bytes
from wpigz.sandbox import wasmtime_c
from wpigz.encode.pipeline import TRAP_ENV
from wpigz.sandbox.wasm_host import CHECK_CRC32, DeflatePool, EngineError, Runtime, compiled_module


def wasm_threads_alive() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("wpigz-wasm-")]


def make_pool(runtime: Runtime, threads: int = 2, blocksize: int = 128 * 1024) -> DeflatePool:
    return DeflatePool(runtime, threads=threads, blocksize=blocksize, level=6, strategy=0,
                       independent=False, check_kind=CHECK_CRC32)


def test_module_imports_exactly_memory_and_thread_spawn():
    _, module = compiled_module()
    imports = [(i.module, i.name) for i in module.imports]
    assert imports == [("env", "memory"), ("wasi", "thread-spawn")]
    memory_type = module.imports[0].type
    assert isinstance(memory_type, wasmtime_c.MemoryType) and memory_type.is_shared
    spawn_type = module.imports[1].type
    assert [str(t) for t in spawn_type.params] == ["i32"] and [str(t) for t in spawn_type.results] == ["i32"]


def test_module_exports_thread_entry_and_engine_api():
    _, module = compiled_module()
    exports = {e.name for e in module.exports}
    assert {"memory", "_initialize", "wasi_thread_start", "wpigz_new", "wpigz_start", "wpigz_submit",
            "wpigz_wait", "wpigz_stop", "wpigz_free"} <= exports
    start = [e for e in module.exports if e.name == "wasi_thread_start"][0].type
    assert [str(t) for t in start.params] == ["i32", "i32"] and list(start.results) == []


def test_workers_are_spawned_by_the_module_and_joined_on_close():
    runtime = Runtime()
    with make_pool(runtime, threads=3) as pool:
        assert len(wasm_threads_alive()) == 3
        view = pool.input_view(0)
        view[:5] = b"hello"
        pool.submit(0, 5, last=True)
        out, crc = pool.wait(0)
        import zlib
        assert zlib.decompress(bytes(out), -15) == b"hello" and crc == zlib.crc32(b"hello")
    assert wasm_threads_alive() == []


@pytest.mark.timeout(60)
def test_worker_trap_raises_instead_of_hanging():
    # must raise, not hang (the timeout only catches a hang)
    runtime = Runtime()
    with pytest.raises(EngineError, match="trapped"):
        with make_pool(runtime) as pool:
            data = text_bytes(1000)
            pool.input_view(0)[:len(data)] = data
            pool.submit(0, len(data), last=True, trap=True)
            pool.wait(0)
    assert wasm_threads_alive() == []


@pytest.mark.timeout(30)
def test_refused_thread_spawn_is_reported():
    # the host refuses the second spawn; the module must report it, never carry on with fewer
    runtime = Runtime(max_threads=1)
    with pytest.raises(EngineError, match=r"cannot start worker thread 2 of 3: thread limit of 1 reached"):
        make_pool(runtime, threads=3)
    assert wasm_threads_alive() == []


@pytest.mark.timeout(30)
def test_failed_instantiation_is_reported():
    # a worker instance that wasmtime refuses to create -> negative tid
    runtime = Runtime()
    original = runtime.spawner.instantiate

    def instantiate_refused():
        store = wasmtime_c.Store(runtime.engine)
        # a function where the module imports its memory: wasmtime refuses the instance
        raise_if_created = wasmtime_c.Instance(store, runtime.module, [wasmtime_c.HostFunc(1, 1, lambda a: -1)] * 2)
        return store, raise_if_created

    runtime.spawner.instantiate = instantiate_refused
    try:
        with pytest.raises(EngineError, match="cannot start worker thread 1 of 2: cannot instantiate"):
            make_pool(runtime)
    finally:
        runtime.spawner.instantiate = original
    assert wasm_threads_alive() == []


def test_memory_too_small_for_the_ring_is_reported():
    runtime = Runtime(max_memory_pages=64)     # 4 MiB cannot hold 6 slots of 1 MiB blocks
    with pytest.raises(EngineError, match="not enough wasm memory for 2 threads with 1024 KiB blocks"):
        make_pool(runtime, blocksize=1024 * 1024)


@pytest.mark.timeout(60)
def test_trap_mid_stream_in_the_command():
    # must end promptly with a message, not hang and not succeed silently
    proc = subprocess.run([sys.executable, "-m", "wpigz", "-p", "2"], input=text_bytes(2 << 20),
                          capture_output=True, env={**os.environ, TRAP_ENV: "5"}, timeout=50)
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith("wpigz: <stdin>: worker thread ")
    assert "trapped" in proc.stderr.decode()


@pytest.mark.timeout(120)
def test_ctrl_c_while_waiting_for_workers_ends_the_command():
    # level 9 on an endless stream keeps the main thread waiting inside wasm; SIGINT must still
    # end it: the stream never ends, so only a prompt Ctrl-C ends the command (the bound on the
    # wait only catches a hang). Sent once compressed output shows the run is under way.
    proc = subprocess.Popen([sys.executable, "-m", "wpigz", "-9", "-p", "2"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    feeder = threading.Thread(target=_feed_forever, args=(proc.stdin,))
    output_seen = threading.Event()
    drainer = threading.Thread(target=_drain, args=(proc.stdout, output_seen))
    feeder.start()
    drainer.start()
    try:
        assert output_seen.wait(timeout=60), "no output: the command did not start compressing"
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        feeder.join()
        drainer.join()
    assert status == 130
    assert proc.stderr.read() == b""


def _drain(pipe, seen: threading.Event) -> None:
    """Read pipe to its end, setting seen at the first bytes."""
    while pipe.read1(65536):
        seen.set()


def _feed_forever(pipe) -> None:
    block = text_bytes(1 << 20)
    try:
        while True:
            pipe.write(block)
    except (BrokenPipeError, ValueError, OSError):
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass


# -- the engine's error and lifetime paths: every failure gives back what it took

class _StartRefused(threading.Thread):
    """A Thread whose start() fails as it does when the system has no more threads to give."""

    def start(self) -> None:
        raise RuntimeError("can't start new thread")


@pytest.mark.timeout(60)
def test_a_thread_that_cannot_start_gives_its_slot_back(monkeypatch):
    # each failed start must give back its slot: after more failures than max_threads, a pool
    # can still start all its workers
    from wpigz.sandbox import wasi_threads
    runtime = Runtime(max_threads=2)
    monkeypatch.setattr(wasi_threads.threading, "Thread", _StartRefused)
    for _ in range(3):
        with pytest.raises(EngineError, match=r"cannot start worker thread 1 of 2: "
                                              r"cannot start a thread: can't start new thread"):
            make_pool(runtime)
    monkeypatch.undo()
    with make_pool(runtime) as pool:
        assert len(wasm_threads_alive()) == 2
        pool.input_view(0)[:2] = b"ok"
        pool.submit(0, 2, last=True)
        pool.wait(0)
    assert wasm_threads_alive() == []


def _calls_recorded(runtime: Runtime, monkeypatch) -> list[str]:
    """The names of the main instance's exports called from now on."""
    names: list[str] = []
    call = runtime.call

    def recording(name: str, *args: int) -> int:
        names.append(name)
        return call(name, *args)

    monkeypatch.setattr(runtime, "call", recording)
    return names


@pytest.mark.timeout(60)
def test_ctrl_c_during_thread_spawn_stops_the_started_workers(monkeypatch):
    # Ctrl-C arriving in the spawn callback (the second worker's) leaves as KeyboardInterrupt,
    # not as an EngineError with an empty reason; the worker already started is stopped and
    # joined, the control block freed, and the Runtime's thread slots are all given back
    runtime = Runtime(max_threads=3)
    instantiate = runtime.spawner.instantiate
    spawns = []

    def interrupted():
        spawns.append(1)
        if len(spawns) == 2:
            raise KeyboardInterrupt
        return instantiate()

    monkeypatch.setattr(runtime.spawner, "instantiate", interrupted)
    calls = _calls_recorded(runtime, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        make_pool(runtime, threads=3)
    assert wasm_threads_alive() == []
    assert calls[-2:] == ["wpigz_stop", "wpigz_free"], calls
    monkeypatch.undo()
    with make_pool(runtime, threads=3):
        assert len(wasm_threads_alive()) == 3
    assert wasm_threads_alive() == []


@pytest.mark.timeout(60)
def test_an_error_between_the_control_block_and_the_workers_frees_both(monkeypatch):
    # any exception after wpigz_new (here: in the last slot's view) must still stop, join and
    # free, never leave the control block behind
    runtime = Runtime()
    calls = _calls_recorded(runtime, monkeypatch)
    view = runtime.view
    monkeypatch.setattr(runtime, "view", lambda address, length: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(MemoryError):
        make_pool(runtime)
    assert calls[0] == "wpigz_new" and calls[-1] == "wpigz_free", calls
    monkeypatch.setattr(runtime, "view", view)
    assert wasm_threads_alive() == []


@pytest.mark.timeout(60)
def test_a_worker_dying_of_any_error_is_reported_not_waited_for(monkeypatch):
    # must raise, not hang: the main thread's bounded wait learns of the dead worker
    runtime = Runtime()
    call = wasmtime_c.Call

    def dies_at_start(instance, name):
        # a worker's entry point fails before entering wasm, with an error not wasmtime's
        if name == "wasi_thread_start":
            raise RuntimeError("worker lost")
        return call(instance, name)

    monkeypatch.setattr(wasmtime_c, "Call", dies_at_start)
    with pytest.raises(EngineError, match=r"worker thread \d+ failed: RuntimeError: worker lost"):
        with make_pool(runtime) as pool:
            pool.input_view(0)[:2] = b"ok"
            pool.submit(0, 2, last=True)
            pool.wait(0)
    assert wasm_threads_alive() == []


@pytest.fixture
def no_gc():
    """The cyclic garbage collector off: what is released must be released by reference
    counting alone, as it is in a program that opens thousands of files between collections."""
    import gc
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("mode", ["wb", "rb"])
def test_a_closed_gzip_file_releases_its_shared_memory(mode, tmp_path, no_gc):
    import gzip
    import weakref

    import wpigz
    path = tmp_path / "a.gz"
    path.write_bytes(gzip.compress(b"hello"))
    f = wpigz.open(path, mode)
    if mode == "rb":
        assert f.read() == b"hello"
    else:
        f.write(b"hello")
    memory = weakref.ref(f._runtime.memory)
    spawner = weakref.ref(f._runtime.spawner)
    f.close()
    assert memory() is None and spawner() is None
    if mode == "wb":
        assert gzip.decompress(path.read_bytes()) == b"hello"


def test_a_dropped_runtime_releases_its_shared_memory(no_gc):
    import weakref
    runtime = Runtime()
    with make_pool(runtime):
        pass
    memory = weakref.ref(runtime.memory)
    del runtime
    assert memory() is None


def test_a_view_keeps_the_memory_it_shows(no_gc):
    # a view used after its Runtime is gone must still read the memory, not freed pages
    import weakref
    runtime = Runtime()
    address = runtime.call("wpigz_inflater_new", 4096, 4096)
    view = runtime.view(runtime.call("wpigz_inflater_in", address), 4096)[100:105]
    view[:] = b"still"
    memory = weakref.ref(runtime.memory)
    runtime.close()
    del runtime
    assert memory() is not None
    assert bytes(view) == b"still"
    del view
    assert memory() is None


def test_a_closed_runtime_refuses_calls_and_views():
    runtime = Runtime()
    runtime.close()
    runtime.close()         # idempotent
    with pytest.raises(EngineError, match="after the engine was closed"):
        runtime.call("wpigz_inflater_new", 4096, 4096)
    with pytest.raises(EngineError, match="after the engine was closed"):
        runtime.view(0, 1)


def test_a_wasmtime_error_at_the_main_instantiation_is_an_engine_error(monkeypatch):
    from wpigz.sandbox import wasm_host
    from wpigz.sandbox.errors import WasmtimeError

    class Refused(wasm_host.ThreadSpawner):
        def instantiate(self):
            # a function where the module imports its memory: wasmtime refuses the instance
            store = wasmtime_c.Store(self._engine)
            return store, wasmtime_c.Instance(store, self._module, [wasmtime_c.HostFunc(1, 1, lambda a: -1)] * 2)

    monkeypatch.setattr(wasm_host, "ThreadSpawner", Refused)
    with pytest.raises(EngineError, match="cannot instantiate the module: ") as raised:
        Runtime()
    assert isinstance(raised.value.__cause__, WasmtimeError)
