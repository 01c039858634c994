"""Level 11: pigz's zopfli in the sandbox, byte for byte pigz -11, with -I/-J/-F/-O.

Every output is compared with the real pigz 2.6 (built with zopfli) given the same options
and -p 2 (its parallel path, which wpigz reproduces at any thread count), and read back by
gzip (or pigz for zlib and zip) and Python. Zopfli is slow, so inputs stay small (tens to a
few hundred KB), most cases use -I 1 and 32 KiB blocks for several blocks per input.
"""

from __future__ import annotations

import gzip
import io
import random
import signal
import subprocess
import sys
import threading
import zipfile
import zlib
from importlib import resources

import pytest

import wpigz
from conftest import gzip_test_ok, pigz, python_decompress, random_bytes, text_bytes, tool, wpigz_bytes
from wpigz.sandbox.engines import ENGINES, MODULES, compressor_for
from wpigz.encode.pipeline import DeflateOptions, DeflateStream
from wpigz.sandbox.wasm_host import EngineError, Runtime

K = 1024
WPIGZ = [sys.executable, "-m", "wpigz"]


def binary_bytes(n: int) -> bytes:
    """Real machine code: wpigz's own WebAssembly modules (n at most about 150 KB)."""
    blob = b"".join(resources.files("wpigz").joinpath(name).read_bytes() for name in ("zlib.wasm", "zopfli.wasm"))
    assert len(blob) >= n
    return blob[:n]


def runs_bytes(n: int, seed: int = 3) -> bytes:
    """Runs of one byte value, 1 to 300 long."""
    r = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        out += bytes([r.randrange(256)]) * r.randrange(1, 300)
    return bytes(out[:n])


DATA = {"text": text_bytes, "binary": binary_bytes, "random": random_bytes, "runs": runs_bytes}


@pytest.fixture(scope="module")
def zruntime() -> Runtime:
    return Runtime(engine="zopfli")


def check(runtime: Runtime, data: bytes, *args: str, threads: int = 2) -> bytes:
    zlib_format = "-z" in args
    ours = wpigz_bytes(runtime, data, "-n", "-11", "-p", str(threads), *args)
    theirs = pigz(data, "-n", "-11", "-p", "2", *args)
    assert ours == theirs, f"differs from pigz -11 for {len(data)} bytes with {args} -p {threads}"
    assert python_decompress(ours, zlib_format=zlib_format) == data
    gzip_test_ok(ours, zlib_format=zlib_format)
    return ours


def test_level_11_is_zopfli_for_the_zlib_engines():
    for name in ("zlib", "zlib-ng"):
        assert compressor_for(name, 11) is MODULES["zopfli"]
        assert compressor_for(name, 9) is ENGINES[name]
    assert "zopfli" not in ENGINES       # a level's module, not an engine of its own


# -b 32: the edges of the dictionary and of the block, several blocks, at 1, 2 and 3 threads
@pytest.mark.parametrize("size", [0, 1, 2, 3, 32 * K - 1, 32 * K, 32 * K + 1, 64 * K, 3 * 32 * K + 5])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_edge_sizes_text(zruntime, size, threads):
    check(zruntime, text_bytes(size), "-b", "32", "-I", "1", threads=threads)


@pytest.mark.parametrize("kind", ["binary", "random", "runs"])
@pytest.mark.parametrize("threads", [1, 3])
def test_other_data(zruntime, kind, threads):
    check(zruntime, DATA[kind](40 * K + 7), "-b", "32", "-I", "1", threads=threads)


@pytest.mark.parametrize("size", [128 * K - 1, 128 * K, 128 * K + 1])
def test_default_block_size_edges(zruntime, size):
    check(zruntime, runs_bytes(size), "-I", "1")


def test_default_tuning_on_text(zruntime):
    # pigz's defaults: 15 iterations, block splitting up to 15 blocks
    blob = check(zruntime, text_bytes(100 * K), "-b", "64")
    nine = pigz(text_bytes(100 * K), "-n", "-9")
    assert len(blob) < len(nine)


@pytest.mark.parametrize("args", [("-I", "3"), ("-I3", "-J1"), ("-J", "0"), ("-J", "2"), ("-O",), ("-F",),
                                  ("-O", "-F", "-I", "2"), ("-I", "4294967297"), ("-J", "2147483648"),
                                  ("--iterations", "2", "--maxsplits", "3"),
                                  ("--first", "--oneblock", "-I", "1")])
def test_zopfli_tuning(zruntime, args):
    check(zruntime, text_bytes(70 * K + 3), "-b", "32", *args)


@pytest.mark.parametrize("args", [("-i",), ("-z",), ("-z", "-i"), ("-R",), ("-R", "-i"), ("-H",), ("-U",),
                                  ("-C", "a comment")])
@pytest.mark.parametrize("threads", [1, 3])
def test_options_combine(zruntime, args, threads):
    # -R cuts text into blocks of a few KB, each a zopfli call of its own: keep it shorter
    size = 40 * K if "-R" in args else 70 * K
    check(zruntime, text_bytes(size + 5) + runs_bytes(10 * K), "-b", "32", "-I", "1", *args, threads=threads)


@pytest.mark.parametrize("args", [(), ("-K",), ("-z",), ("-C", "c", "-N")])
def test_named_file_and_stdin_through_the_command(tmp_path, args):
    path = tmp_path / "named.txt"
    path.write_bytes(text_bytes(80 * K) + random_bytes(20 * K))
    ours = subprocess.run([*WPIGZ, "-c", "-k11", "-p", "2", "-b", "32", "-I1", *args, str(path)],
                          capture_output=True, timeout=120)
    theirs = subprocess.run([tool("pigz"), "-c", "-11", "-b", "32", "-I1", *args, str(path)], capture_output=True)
    assert (ours.returncode, ours.stderr) == (0, b"")
    assert ours.stdout == theirs.stdout
    if "-K" in args:
        (tmp_path / "o.zip").write_bytes(ours.stdout)
        with zipfile.ZipFile(tmp_path / "o.zip") as z:
            assert z.read(z.namelist()[0]) == path.read_bytes()
    elif "-z" in args:
        assert zlib.decompress(ours.stdout) == path.read_bytes()
    else:
        assert gzip.decompress(ours.stdout) == path.read_bytes()
        done = subprocess.run([tool("pigz"), "-dc"], input=ours.stdout, capture_output=True, check=True)
        assert done.stdout == path.read_bytes()
    with path.open("rb") as stdin:
        piped = subprocess.run([*WPIGZ, "-11", "-p", "2", "-b", "32", "-I1", *args, "-n"], stdin=stdin,
                               capture_output=True, timeout=120)
    expected = subprocess.run([tool("pigz"), "-11", "-b", "32", "-I1", *args, "-n"], input=path.read_bytes(),
                              capture_output=True).stdout
    assert piped.returncode == 0
    if "-K" not in args:        # zip records the time of day for stdin
        assert piped.stdout == expected


def test_file_becomes_file_gz_at_level_11(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(text_bytes(40 * K))
    proc = subprocess.run([*WPIGZ, "-11", "-I", "1", "-k", str(path)], capture_output=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, b"")
    theirs = subprocess.run([tool("pigz"), "-c", "-11", "-I", "1", str(path)], capture_output=True).stdout
    assert (tmp_path / "f.txt.gz").read_bytes() == theirs


@pytest.mark.parametrize("args, message", [
    (["-10"], "only levels 0..9 and 11 are allowed"),
    (["-12"], "only levels 0..9 and 11 are allowed"),
    (["-111"], "only levels 0..9 and 11 are allowed"),
    (["-11", "-I", "x"], "invalid numeric parameter: x"),
    (["-11", "-I3x"], "invalid numeric parameter: 3x"),
    (["-11", "-J", "18446744073709551616"], "invalid numeric parameter: 18446744073709551616"),
    (["-11", "-I"], "missing parameter after -I"),
    (["-11", "-J", "-1"], "missing parameter after -J"),
])
def test_bad_level_and_tuning_values_as_pigz(args, message):
    proc = subprocess.run([*WPIGZ, *args], input=b"", capture_output=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.decode() == f"wpigz: {message}\nwpigz: Try 'wpigz --help' for more information.\n"
    theirs = subprocess.run([tool("pigz"), *args], input=b"", capture_output=True)
    assert theirs.stderr.decode() == f"pigz: abort: {message}\n"


@pytest.mark.parametrize("value", ["0", "2147483648", "2147483649", "4294967296"])
def test_zero_or_negative_iterations_are_refused(value):
    # pigz 2.6 takes them (as a C int) and writes a stream that fails its own CRC check
    theirs = subprocess.run([tool("pigz"), "-11", "-I", value], input=b"some data", capture_output=True).stdout
    assert subprocess.run([tool("gzip"), "-t"], input=theirs, capture_output=True).returncode == 1
    proc = subprocess.run([*WPIGZ, "-11", "-I", value], input=b"some data", capture_output=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (1, b"")
    assert proc.stderr.decode() == (f"wpigz: -I {value}: zopfli needs at least one iteration\n"
                                    "wpigz: Try 'wpigz --help' for more information.\n")
    with pytest.raises(ValueError):
        wpigz.ZopfliTuning(iterations=0)


def test_largest_accepted_value_is_pigz_s(zruntime):
    check(zruntime, text_bytes(5 * K), "-J", "18446744073709551615", "-I", "1")


def test_library_level_11_and_tuning():
    data = text_bytes(90 * K)
    expected = pigz(data, "-n", "-11", "-I", "2", "-J", "3")
    tuning = wpigz.ZopfliTuning(iterations=2, maxsplits=3)
    assert wpigz.compress(data, 11, mtime=0, threads=2, zopfli=tuning) == expected
    assert wpigz.compress(data, 11, mtime=0, threads=1, engine="zlib-ng",
                          zopfli=wpigz.ZopfliTuning(iterations=2, maxsplits=3)) == expected
    oneblock = pigz(data, "-n", "-11", "-I", "1", "-O")
    buffer = io.BytesIO()
    with wpigz.GzipFile(fileobj=buffer, mode="wb", compresslevel=11, mtime=0, threads=3,
                        zopfli=wpigz.ZopfliTuning(iterations=1, oneblock=True)) as f:
        f.write(data)
    assert buffer.getvalue() == oneblock
    with wpigz.open(io.BytesIO(buffer.getvalue())) as f:
        assert f.read() == data
    with pytest.raises(ValueError):
        wpigz.compress(data, 10)
    with pytest.raises(ValueError):
        wpigz.ZopfliTuning(iterations=2**31)


def test_a_block_too_large_for_wasm_memory_is_refused_clearly():
    # each worker needs about 128 times the block size for zopfli: 64 MiB blocks at 4 threads do not fit
    proc = subprocess.run([*WPIGZ, "-11", "-b", "65536", "-p", "4"], input=b"x", capture_output=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.decode() == ("wpigz: <stdin>: not enough wasm memory for 4 threads with 65536 KiB blocks "
                                    "(level 11 needs about 128 times the block size per thread)\n")


def test_heap_peak_stays_inside_the_arena(zruntime):
    # random data is zopfli's most memory-hungry input (build.py's WORKER_ARENA_BYTES comes from it)
    blocksize = 32 * K
    stream = DeflateStream(io.BytesIO(), DeflateOptions(level=11, blocksize=blocksize, threads=1),
                           runtime=zruntime)
    with stream:
        stream.write(random_bytes(3 * blocksize))
        stream.finish()
        peak = zruntime.call("wpigz_zopfli_peak", stream.pool._ctl)
    assert 100 * blocksize < peak < 128 * blocksize + (8 << 20)


@pytest.mark.timeout(120)
def test_ctrl_c_ends_the_run_while_a_block_takes_minutes():
    # 2000 iterations make each 128 KiB block take far longer than the test; SIGINT must still
    # end the run promptly, not after the blocks (the bound on the wait only catches a hang).
    # Sent once the command has read (nearly) all its input: its ring of 6 slots holds the
    # 600 KiB, so the feeder ends only when the blocks are with the workers.
    proc = subprocess.Popen([*WPIGZ, "-11", "-I", "2000", "-p", "2"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    feeder = threading.Thread(target=_feed, args=(proc.stdin, text_bytes(600 * K)))
    feeder.start()
    try:
        feeder.join(timeout=60)
        assert not feeder.is_alive(), "the command did not read its input"
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        feeder.join()
    assert status == 130
    assert proc.stderr.read() == b""


def _feed(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except (BrokenPipeError, ValueError, OSError):
        pass


def test_an_engine_error_is_reported_not_hung(zruntime):
    with pytest.raises(EngineError):
        stream = DeflateStream(io.BytesIO(),
                               DeflateOptions(level=11, blocksize=512 * 1024 * 1024, threads=64), runtime=zruntime)
        stream.close()
