"""The zlib-ng engine: valid streams that gzip, pigz and Python read, output that does not depend
on the thread count, and the same command-line and library surface as the default engine."""

from __future__ import annotations

import gzip
import io
import random
import struct
import subprocess
import sys
import zlib

import pytest

import wpigz
from conftest import random_bytes, text_bytes, tool
from wpigz.sandbox.engines import ENGINES as ENGINE_ROWS
from wpigz.sandbox.wasm_host import ENGINES, Runtime, compiled_module

K = 1024
DATA = text_bytes(700 * K + 13) + random_bytes(100 * K) + bytes(200 * K)


def test_both_engines_have_the_same_host_protocol():
    imports = {name: [(i.module, i.name) for i in compiled_module(module)[1].imports] for name, module in ENGINES.items()}
    exports = {name: sorted(e.name for e in compiled_module(module)[1].exports) for name, module in ENGINES.items()}
    assert imports["zlib"] == imports["zlib-ng"] == [("env", "memory"), ("wasi", "thread-spawn")]
    assert exports["zlib"] == exports["zlib-ng"]
    assert Runtime(engine="zlib-ng").zlib_version().endswith("zlib-ng")


@pytest.mark.parametrize("level", range(10))
def test_zlib_ng_output_is_valid_and_independent_of_threads(level):
    outputs = [wpigz.compress(DATA, level, mtime=0, threads=t, engine="zlib-ng") for t in (1, 2, 4)]
    assert outputs[0] == outputs[1] == outputs[2]
    assert gzip.decompress(outputs[0]) == DATA
    assert subprocess.run([tool("gzip"), "-dc"], input=outputs[0], capture_output=True).stdout == DATA
    assert subprocess.run([tool("pigz"), "-dc"], input=outputs[0], capture_output=True).stdout == DATA
    assert wpigz.decompress(outputs[0]) == DATA


def machine_records(n: int, seed: int = 3) -> bytes:
    """Binary-like input: packed little-endian records with small deltas and runs of zeros."""
    rnd = random.Random(seed)
    out, address = bytearray(), 0x401000
    while len(out) < n:
        address += rnd.choice((4, 8, 16, 0x40))
        out += struct.pack("<IHBB", address, rnd.randrange(16), rnd.choice((0x48, 0x89, 0xE8, 0x8B)), rnd.randrange(3))
        if rnd.random() < 0.1:
            out += bytes(rnd.randrange(1, 40))
    return bytes(out[:n])


def mixed(n: int, seed: int = 4) -> bytes:
    """Text and records cut into pieces of up to 40 KiB, interleaved."""
    rnd, text, records = random.Random(seed), text_bytes(2 << 20), machine_records(1 << 20)
    pieces = []
    for _ in range(60):
        source, start = rnd.choice((text, records)), rnd.randrange(1 << 20)
        pieces.append(source[start:start + rnd.randrange(1, 40 * K)])
    return b"".join(pieces)[:n]


# A worker reuses its stream from job to job, so its output must not depend on what it compressed
# before (deflate_zlib.c's fresh_stream). With 32 KiB blocks these inputs make ten jobs each,
# which land on different workers for every thread count. The records input is the one that
# caught the stale window tail: without fresh_stream's high-water reset, levels 1, 6, 7 and 8
# gave bytes that differ between thread counts.
@pytest.mark.parametrize("make", [text_bytes, machine_records, mixed])
def test_zlib_ng_bytes_are_the_same_for_1_2_3_4_threads(make):
    data = make(300 * K + 7)
    for level in range(1, 10):
        outputs = set()
        for threads in (1, 2, 3, 4):
            sink = io.BytesIO()
            with wpigz.GzipFile(None, "wb", level, sink, mtime=0, threads=threads, blocksize=32 * K,
                                engine="zlib-ng") as f:
                f.write(data)
            outputs.add(sink.getvalue())
        assert len(outputs) == 1, f"level {level}: {len(outputs)} different outputs"
        assert gzip.decompress(outputs.pop()) == data


@pytest.mark.parametrize("args", [["-R"], ["-i"], ["-z"], ["-K"], ["-H"], ["-U"], ["-b", "32", "-9"], ["-R", "-i", "-1"]])
def test_zlib_ng_with_every_option_through_the_command(args):
    proc = subprocess.run([sys.executable, "-m", "wpigz", "--engine", "zlib-ng", "-p", "2", *args], input=DATA,
                          capture_output=True, timeout=120)
    assert (proc.returncode, proc.stderr) == (0, b"")
    if "-z" in args:
        assert zlib.decompress(proc.stdout) == DATA
    else:
        assert subprocess.run([tool("pigz"), "-dc"], input=proc.stdout, capture_output=True).stdout == DATA
    again = subprocess.run([sys.executable, "-m", "wpigz", "--engine", "zlib-ng", "-p", "1", *args], input=DATA,
                           capture_output=True, timeout=120)
    assert again.stdout == proc.stdout or "-K" in args     # zip headers carry the time of day


def test_library_file_objects_take_the_engine(tmp_path):
    with wpigz.open(tmp_path / "n.gz", "wb", engine="zlib-ng", threads=2) as f:
        f.write(DATA)
    with wpigz.open(tmp_path / "n.gz", engine="zlib-ng") as f:
        assert f.read() == DATA
    assert gzip.decompress((tmp_path / "n.gz").read_bytes()) == DATA


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError):
        wpigz.compress(b"x", engine="zopfli")
    proc = subprocess.run([sys.executable, "-m", "wpigz", "--engine", "zopfli"], input=b"", capture_output=True)
    assert proc.returncode == 1
    assert proc.stderr.decode() == ("wpigz: unknown engine: zopfli (zlib or zlib-ng or libdeflate)\n"
                                    "wpigz: Try 'wpigz --help' for more information.\n")


def test_default_engine_stays_pigz_identical():
    expected = subprocess.run([tool("pigz"), "-n", "-c"], input=DATA, capture_output=True).stdout
    assert wpigz.compress(DATA, mtime=0) == expected
    assert wpigz.compress(DATA, mtime=0, engine="zlib-ng") != expected


def test_zlib_ng_levels_and_block_size_come_from_its_row():
    """wpigz -1 is zlib-ng's level 2, -6 its 5, and without -b the block size is the row's (engines.py)."""
    one, two, five, six = (wpigz.compress(DATA, level, mtime=0, threads=2, engine="zlib-ng") for level in (1, 2, 5, 6))
    assert one[10:] == two[10:] and one[8] == 4            # the same deflate body; XFL still says -1
    assert five[10:] == six[10:] != two[10:]
    command = [sys.executable, "-m", "wpigz", "--engine", "zlib-ng", "-p", "2", "-n"]
    default, own, small_blocks = (subprocess.run(command + args, input=DATA, capture_output=True, timeout=120).stdout
                               for args in ([], ["-b", str(ENGINE_ROWS["zlib-ng"].blocksize // K)], ["-b", "128"]))
    assert default == own != small_blocks
    assert gzip.decompress(default) == DATA
