"""The wasi-threads contract between the module and the host, and how failures surface.

Every test that could hang carries a timeout: a worker failure must raise, never hang.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import text_bytes
from wpigz import wasmtime_c
from wpigz.pipeline import TRAP_ENV
from wpigz.wasm_host import CHECK_CRC32, DeflatePool, EngineError, Runtime, compiled_module


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


@pytest.mark.timeout(30)
def test_worker_trap_raises_within_seconds():
    # must raise, not hang
    runtime = Runtime()
    started = time.monotonic()
    with pytest.raises(EngineError, match="trapped"):
        with make_pool(runtime) as pool:
            data = text_bytes(1000)
            pool.input_view(0)[:len(data)] = data
            pool.submit(0, len(data), last=True, trap=True)
            pool.wait(0)
    assert time.monotonic() - started < 5
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


@pytest.mark.timeout(60)
def test_ctrl_c_while_waiting_for_workers_is_prompt():
    # level 9 on an endless stream keeps the main thread waiting inside wasm; SIGINT must still
    # end it within a couple of seconds
    proc = subprocess.Popen([sys.executable, "-m", "wpigz", "-9", "-p", "2"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    feeder = threading.Thread(target=_feed_forever, args=(proc.stdin,))
    feeder.start()
    time.sleep(1.5)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    status = proc.wait(timeout=20)
    elapsed = time.monotonic() - sent
    feeder.join()
    assert status == 130 and elapsed < 3, (status, elapsed)
    assert proc.stderr.read() == b""


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
