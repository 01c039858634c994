"""The zlib-ng engine: valid streams that gzip, pigz and Python read, output that does not depend
on the thread count, and the same command-line and library surface as the default engine."""

from __future__ import annotations

import gzip
import subprocess
import sys
import zlib

import pytest

import wpigz
from conftest import random_bytes, text_bytes, tool
from wpigz.wasm_host import ENGINES, Runtime, compiled_module

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
