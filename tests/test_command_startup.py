"""Start-up: the compiled-module cache, lazy imports, and no more workers than blocks.

The cache is exercised the way users meet it, through whole ``wpigz`` runs pointed at a
temporary cache directory: filled on first use, reused after, rebuilt when stale or damaged,
silently skipped when it cannot be written, filled by several processes at once without a torn
file. Whatever the cache's state, the output bytes are pigz's.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_in_one_interpreter, text_bytes, tool
from wpigz.encode import pipeline
from wpigz.sandbox import wasm_host

WPIGZ = [sys.executable, "-m", "wpigz"]


def run(*args: str, cache: str | os.PathLike | None, cwd: Path, xdg: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop(wasm_host.CACHE_ENV, None)
    if cache is not None:
        env[wasm_host.CACHE_ENV] = str(cache)
    env["XDG_CACHE_HOME"] = str(xdg if xdg is not None else cwd / "xdg-unused")
    return subprocess.run(WPIGZ + list(args), cwd=cwd, capture_output=True, env=env, timeout=120)


def cached(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.cwasm")) if directory.is_dir() else []


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.txt"
    path.write_bytes(text_bytes(1024))
    return path


def pigz_bytes(path: Path) -> bytes:
    return subprocess.run([tool("pigz"), "-c", path.name], cwd=path.parent, capture_output=True, check=True).stdout


@pytest.mark.timeout(300)
def test_cache_is_filled_once_then_reused_and_output_is_unchanged(tmp_path, small):
    cache = tmp_path / "cache"
    cold = run("-c", small.name, cache=cache, cwd=tmp_path)
    assert cold.returncode == 0 and cold.stderr == b""
    (entry,) = cached(cache)
    assert entry.name.startswith("zlib.")
    stamp = entry.stat().st_mtime_ns
    warm = run("-c", small.name, cache=cache, cwd=tmp_path)
    assert warm.returncode == 0 and warm.stderr == b""
    assert cached(cache) == [entry] and entry.stat().st_mtime_ns == stamp      # read, not rewritten
    off = run("-c", small.name, cache="", cwd=tmp_path)
    assert cold.stdout == warm.stdout == off.stdout == pigz_bytes(small)
    assert not list(tmp_path.glob(".tmp-*")) and not list(cache.glob(".tmp-*"))


@pytest.mark.timeout(120)
def test_default_location_is_the_xdg_cache_directory(tmp_path, small):
    xdg = tmp_path / "xdg"
    proc = run("-c", small.name, cache=None, cwd=tmp_path, xdg=xdg)
    assert proc.returncode == 0
    assert len(cached(xdg / "wpigz")) == 1


@pytest.mark.timeout(120)
@pytest.mark.parametrize("off", ["", "off"])
def test_cache_can_be_disabled(tmp_path, small, off):
    xdg = tmp_path / "xdg"
    proc = run("-c", small.name, cache=off, cwd=tmp_path, xdg=xdg)
    assert proc.returncode == 0 and proc.stdout == pigz_bytes(small)
    assert not xdg.exists() and not (tmp_path / "off").exists()


def _damage(entry: Path, how: str) -> None:
    data = bytearray(entry.read_bytes())
    if how == "flipped":            # one bit in the machine code: only the checksum sees it
        data[len(data) // 2] ^= 0x10
    elif how == "truncated":
        del data[len(data) // 3:]
    elif how == "garbage":
        data = bytearray(b"not a module" * 100)
    elif how == "empty":
        data = bytearray()
    elif how == "writable by others":
        os.chmod(entry, 0o666)
        return
    entry.write_bytes(bytes(data))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("how", ["flipped", "truncated", "garbage", "empty", "writable by others"])
def test_corrupt_cache_is_rebuilt(tmp_path, small, how):
    cache = tmp_path / "cache"
    good = run("-c", small.name, cache=cache, cwd=tmp_path)
    (entry,) = cached(cache)
    original = entry.read_bytes()
    _damage(entry, how)
    again = run("-c", small.name, cache=cache, cwd=tmp_path)
    assert again.returncode == 0 and again.stderr == b""
    assert again.stdout == good.stdout == pigz_bytes(small)
    assert cached(cache) == [entry] and entry.read_bytes() == original      # rewritten whole
    assert entry.stat().st_mode & 0o077 == 0


@pytest.mark.timeout(300)
def test_stale_cache_is_rebuilt_and_old_entries_dropped(tmp_path, small):
    cache = tmp_path / "cache"
    run("-c", small.name, cache=cache, cwd=tmp_path)
    (entry,) = cached(cache)
    original = entry.read_bytes()
    # the same name holding what another module version left (a different key in its trailer)
    data = original.replace(entry.stem.encode(), entry.stem[:-1].encode() + b"x")
    assert data != original
    entry.write_bytes(data)
    # and leftovers of older wasmtimes or modules, under other keys: the newest few are kept
    # (other environments may still use them), the oldest beyond CACHE_KEEP dropped
    olds = [cache / f"zlib.{i:016x}.cwasm" for i in range(wasm_host.CACHE_KEEP)]
    for age, old in enumerate(olds):
        old.write_bytes(original)
        os.utime(old, ns=(10**18 - age * 10**9, 10**18 - age * 10**9))     # olds[0] the newest
    other_engine = cache / "zlib-ng.0000000000000000.cwasm"       # another engine's: kept
    other_engine.write_bytes(b"x")
    os.utime(other_engine, ns=(0, 0))
    again = run("-c", small.name, cache=cache, cwd=tmp_path)
    assert again.returncode == 0 and again.stderr == b"" and again.stdout == pigz_bytes(small)
    assert entry.read_bytes() == original
    assert [old.exists() for old in olds] == [True] * (wasm_host.CACHE_KEEP - 1) + [False]
    assert other_engine.exists()


@pytest.mark.timeout(300)
def test_another_environments_entry_does_not_evict_this_one(tmp_path, small, monkeypatch):
    # wpigz in two environments (two wasmtime builds, so two keys for one engine) sharing the
    # cache: each storing its entry used to delete the other's, and every switch compiled again
    cache = tmp_path / "cache"
    run("-c", small.name, cache=cache, cwd=tmp_path)
    (entry,) = cached(cache)
    stamp = entry.stat().st_mtime_ns
    monkeypatch.setenv(wasm_host.CACHE_ENV, "")             # compile in memory, here
    _, module = wasm_host.compiled_module.__wrapped__("zlib.wasm")
    other = "zlib.00000000ffffffff"                          # what the other environment stores
    wasm_host._store_cached(module, str(cache), str(cache / f"{other}.cwasm"), other)
    assert cached(cache) == sorted([entry, cache / f"{other}.cwasm"])
    again = run("-c", small.name, cache=cache, cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == pigz_bytes(small)
    assert entry.stat().st_mtime_ns == stamp                 # loaded, not compiled and written again


@pytest.mark.timeout(120)
def test_unwritable_cache_is_skipped_silently(tmp_path, small):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    proc = run("-c", small.name, cache=blocker / "cache", cwd=tmp_path)     # cannot be created
    assert proc.returncode == 0 and proc.stderr == b"" and proc.stdout == pigz_bytes(small)


@pytest.mark.timeout(300)
def test_processes_filling_an_empty_cache_at_once(tmp_path, small):
    cache = tmp_path / "cache"
    env = dict(os.environ, **{wasm_host.CACHE_ENV: str(cache)})
    procs = [subprocess.Popen(WPIGZ + ["-c", small.name], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    results = [p.communicate(timeout=240) for p in procs]
    expected = pigz_bytes(small)
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0 and err == b"" and out == expected
    (entry,) = cached(cache)
    assert not list(cache.glob(".tmp-*"))
    stamp = entry.stat().st_mtime_ns
    later = run("-c", small.name, cache=cache, cwd=tmp_path)
    assert later.stdout == expected and entry.stat().st_mtime_ns == stamp   # whole and usable


# ---- workers: no more than the input has blocks

@pytest.fixture
def pools(monkeypatch):
    """The thread counts of the pools compress_body starts."""
    started: list[int] = []
    real = pipeline.DeflatePool

    class Recording(real):
        def __init__(self, runtime, *, threads, **kwargs):
            started.append(threads)
            super().__init__(runtime, threads=threads, **kwargs)

    monkeypatch.setattr(pipeline, "DeflatePool", Recording)
    return started


@pytest.mark.parametrize("size, threads, expected", [(1024, 4, 1), (0, 4, 1), (128 * 1024, 4, 1),
                                                     (128 * 1024 + 1, 4, 2), (3 * 128 * 1024, 8, 3),
                                                     (10 * 128 * 1024, 2, 2)])
def test_workers_started_match_the_blocks_of_a_file(tmp_path, pools, size, threads, expected):
    data = text_bytes(size)
    (tmp_path / "f").write_bytes(data)
    sink = tmp_path / "out"
    with open(tmp_path / "f", "rb") as source, open(sink, "wb") as out:
        summary = pipeline.compress_body(source, out, pipeline.DeflateOptions(threads=threads))
    assert pools == [expected]
    assert summary.length == size
    import zlib
    assert zlib.decompress(sink.read_bytes(), -15) == data


def test_a_pipe_of_unknown_size_starts_every_worker(pools):
    import io
    out = io.BytesIO()
    pipeline.compress_body(io.BytesIO(b"x" * 1000), out, pipeline.DeflateOptions(threads=3))
    assert pools == [3]


def test_one_block_file_starts_one_worker_thread(tmp_path):
    # counted at the source: the thread-spawn calls the module made
    (tmp_path / "f").write_bytes(text_bytes(1024))
    runtime = wasm_host.Runtime()
    with open(tmp_path / "f", "rb") as source, open(tmp_path / "out", "wb") as out:
        pipeline.compress_body(source, out, pipeline.DeflateOptions(threads=4), runtime=runtime)
    assert next(runtime.spawner._tids) == 2         # tid 1 was the only one handed out


# ---- lazy imports: the compression path does not load what it does not use

def test_compressing_imports_neither_decoding_nor_the_library_api(tmp_path, small):
    proc, status, modules = run_in_one_interpreter(["-c", "small.txt"], tmp_path)
    assert (status, proc.stderr) == (0, b"")
    assert gzip.decompress(proc.stdout) == small.read_bytes()
    assert modules.isdisjoint({"wpigz.api", "wpigz.decode.entry", "wpigz.command.listing", "zstandard", "tqdm"})
    assert "wpigz.encode.pipeline" in modules        # the check above saw a real compression run


def test_decompressing_imports_decoding(tmp_path, small):
    packed = subprocess.run([tool("pigz"), "-c", small.name], cwd=tmp_path, capture_output=True, check=True).stdout
    proc, status, modules = run_in_one_interpreter(["-dc"], tmp_path, input=packed)
    assert (status, proc.stderr, proc.stdout) == (0, b"", small.read_bytes())
    assert "wpigz.decode.entry" in modules and "wpigz.api" not in modules


# What no command loads on its way to the first byte: each costs start-up time (measured in
# wpigz/_record.py, wpigz/command/files.py and wpigz/sandbox/wasmtime_c.py). Run without site
# (-S), as the .pth files of a developer's environment import some of these (certifi: typing,
# tempfile, importlib.resources), with site-packages put back by hand so that wasmtime's library
# is found; started as `python -m wpigz` (runpy) or as the console script does it.
_BARE = """\
import os, site, sys
sys.path.extend(site.getsitepackages())
sys.argv = ['wpigz'] + sys.argv[1:]
try:
    if os.environ['WPIGZ_TEST_LAUNCH'] == 'runpy':
        import runpy
        runpy.run_module('wpigz', run_name='__main__')
    else:
        from wpigz.command._launch import main
        sys.exit(main())
except SystemExit:
    pass
sys.stdout.flush()
with open(os.environ['WPIGZ_TEST_REPORT'], 'w') as report:
    report.write('\\n'.join(sorted(sys.modules)))          # not json: it imports re
"""
NEVER_AT_START = {"typing", "re", "enum", "signal", "dataclasses", "inspect", "tempfile", "pathlib", "shutil",
                  "importlib.resources", "subprocess", "hashlib", "logging", "concurrent.futures", "tqdm",
                  "zstandard", "wasmtime", "wpigz.api"}
# what runpy itself imports, and the console script does not
NOR_FROM_THE_SCRIPT = {"importlib.util", "contextlib"}


@pytest.mark.parametrize("launch", ["runpy", "script"])
@pytest.mark.parametrize("args, also_not", [(["-c", "small.txt"], {"wpigz.decode.entry"}), (["-dc", "small.txt.gz"], set())])
def test_a_command_imports_nothing_it_does_not_need(tmp_path, small, args, also_not, launch):
    subprocess.run([tool("pigz"), "-k", small.name], cwd=tmp_path, check=True)
    report = tmp_path / "modules.txt"
    # the compiled module is cached first: filling the cache does import tempfile
    env = {**os.environ, "WPIGZ_TEST_REPORT": str(report), "WPIGZ_TEST_LAUNCH": launch,
           wasm_host.CACHE_ENV: str(tmp_path / "cache")}
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-S", "-c", _BARE, *args], cwd=tmp_path, capture_output=True,
                              timeout=120, env=env)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    assert proc.stdout == (pigz_bytes(small) if args[0] == "-c" else small.read_bytes())
    modules = set(report.read_text().split())
    assert "wpigz.sandbox.wasm_host" in modules        # the command did run
    never = NEVER_AT_START | also_not | (NOR_FROM_THE_SCRIPT if launch == "script" else set())
    assert modules.isdisjoint(never), sorted(modules & never)


def test_library_names_are_still_there():
    import wpigz
    assert wpigz.open is wpigz.api.open and wpigz.EngineError is wasm_host.EngineError
    assert set(wpigz.__all__) <= set(dir(wpigz))
    with pytest.raises(AttributeError):
        wpigz.no_such_name


def test_the_public_namespace_is_the_public_api():
    # dir() lists __all__ and nothing else, before and after the API is used; a fresh import
    # leaves no public helper (Any, TYPE_CHECKING, annotations...) in the namespace either
    code = ("import wpigz; before = dir(wpigz); left = [n for n in vars(wpigz) if not n.startswith('_')]; "
            "wpigz.decompress(wpigz.compress(b'x')); print(before == dir(wpigz) == sorted(wpigz.__all__), left)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert proc.stdout.decode() == "True []\n", proc.stderr.decode()
