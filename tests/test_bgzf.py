"""--bgzf: htslib's BGZF, checked against the real bgzip (Debian's tabix package): bgzip indexes
wpigz's output (it refuses anything but BGZF) and reads any range of it; wpigz reads bgzip's
output, decoding its members in parallel, with as many workers as -p (or the
reader's threads) asks for; the library writes the same BGZF with bgzf=True."""

from __future__ import annotations

import gzip
import io
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import wpigz
from conftest import pigz, random_bytes, text_bytes, tool
from wpigz import decoding, framing, members
from wpigz.wasm_host import Runtime

K = 1024
DATA = text_bytes(300 * K + 7) + random_bytes(200 * K) + bytes(100 * K)


def wpigz_bgzf(data: bytes, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wpigz", "--bgzf", *args], input=data, capture_output=True,
                          timeout=120)


def bgzf_members(blob: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(blob):
        header = members.parse_header(blob[pos:])
        assert header is not None and header.kind == "BC" and header.size <= 65536
        out.append(blob[pos:pos + header.size])
        pos += header.size
    assert pos == len(blob)
    return out


@pytest.mark.parametrize("size", [0, 1, framing.BGZF_BLOCK - 1, framing.BGZF_BLOCK, framing.BGZF_BLOCK + 1,
                                  len(DATA)])
@pytest.mark.parametrize("level", ["-1", "-6", "-11"])
def test_bgzip_indexes_and_reads_what_wpigz_writes(tmp_path, size, level):
    data = DATA[:size]
    proc = wpigz_bgzf(data, level, "-p", "2")
    assert (proc.returncode, proc.stderr) == (0, b"")
    blob = proc.stdout
    found = bgzf_members(blob)
    assert found[-1] == framing.BGZF_EOF
    assert len(found) == max(1, -(-size // framing.BGZF_BLOCK)) + 1
    path = tmp_path / "w.gz"
    path.write_bytes(blob)
    assert subprocess.run([tool("bgzip"), "-t", str(path)], capture_output=True).returncode == 0
    assert subprocess.run([tool("bgzip"), "-dc", str(path)], capture_output=True, check=True).stdout == data
    # -r builds a .gzi index only for BGZF; then -b/-s read any range through it
    reindex = subprocess.run([tool("bgzip"), "-r", str(path)], capture_output=True)
    assert (reindex.returncode, reindex.stderr) == (0, b"")
    if size > 1000:
        start = size // 2 - 300
        part = subprocess.run([tool("bgzip"), "-dc", "-b", str(start), "-s", "600", str(path)], capture_output=True,
                              check=True).stdout
        assert part == data[start:start + 600]
    assert wpigz_bgzf(data, level, "-p", "1").stdout == blob        # the same bytes for any thread count


def test_bgzip_refuses_to_index_what_is_not_bgzf(tmp_path):
    # the check above has teeth: the libdeflate engine's IG members are not BGZF
    path = tmp_path / "ig.gz"
    path.write_bytes(subprocess.run([sys.executable, "-m", "wpigz", "--engine", "libdeflate"], input=DATA,
                                    capture_output=True, check=True).stdout)
    assert subprocess.run([tool("bgzip"), "-r", str(path)], capture_output=True).returncode != 0


def test_wpigz_reads_bgzip_output_in_parallel(tmp_path, monkeypatch):
    path = tmp_path / "b"
    path.write_bytes(DATA)
    subprocess.run([tool("bgzip"), "-k", str(path)], check=True)
    blob = (tmp_path / "b.gz").read_bytes()
    proc = subprocess.run([sys.executable, "-m", "wpigz", "-dc", str(tmp_path / "b.gz")], capture_output=True,
                          timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, DATA, b"")

    def refuse(*args, **kwargs):
        raise AssertionError("a BGZF member was decoded sequentially")
        yield b""
    monkeypatch.setattr(decoding, "_inflate", refuse)
    found = decoding.Decoded("unknown")
    out = b"".join(bytes(p) for p in decoding.decode(io.BytesIO(blob), Runtime(), found))
    assert out == DATA and len(found.members) == len(bgzf_members(blob))


def test_header_is_bgzips():
    blob = wpigz_bgzf(b"abc", "-9").stdout
    assert blob[:16] == bytes.fromhex("1f8b08040000000000ff060042430200")
    assert struct.unpack("<H", blob[16:18])[0] == len(blob) - 28 - 1


@pytest.mark.parametrize("args, message", [
    (("-z",), "wpigz: --bgzf writes BGZF only: not with -z, -K, --zstd, -b or -C\n"),
    (("-b", "64"), "wpigz: --bgzf writes BGZF only: not with -z, -K, --zstd, -b or -C\n"),
    (("-C", "x"), "wpigz: --bgzf writes BGZF only: not with -z, -K, --zstd, -b or -C\n"),
    (("--engine", "zlib-ng"), "wpigz: --bgzf needs --engine libdeflate, not zlib-ng\n"),
])
def test_refused_combinations(args, message):
    proc = wpigz_bgzf(b"x", *args)
    assert (proc.returncode, proc.stdout) == (1, b"")
    assert proc.stderr.decode() == message + "wpigz: Try 'wpigz --help' for more information.\n"


# ---- the library: bgzf=True writes the command's bytes

@pytest.mark.parametrize("size", [0, 1, framing.BGZF_BLOCK, framing.BGZF_BLOCK + 1, len(DATA)])
@pytest.mark.parametrize("level", [0, 1, 6, 11])
def test_library_bgzf_is_the_commands_bytes(tmp_path, size, level):
    data = DATA[:size]
    command = wpigz_bgzf(data, f"-{level}", "-n")
    assert (command.returncode, command.stderr) == (0, b"")
    blob = wpigz.compress(data, level, bgzf=True, threads=2)
    assert blob == command.stdout
    # through a file object too, written in uneven pieces, with another thread count and a
    # name and time that BGZF does not store
    path = tmp_path / "lib.gz"
    with wpigz.open(path, "wb", compresslevel=level, threads=3, bgzf=True) as f:
        for start in range(0, size, 40_000):
            f.write(data[start:start + 40_000])
    assert path.read_bytes() == blob
    assert bgzf_members(blob)[-1] == framing.BGZF_EOF
    assert subprocess.run([tool("bgzip"), "-t", str(path)], capture_output=True).returncode == 0
    assert subprocess.run([tool("bgzip"), "-dc", str(path)], capture_output=True, check=True).stdout == data


def test_library_bgzf_text_mode_and_engine_spelled_out(tmp_path):
    text = DATA[:200_000].decode("latin-1")
    path = tmp_path / "t.gz"
    with wpigz.open(path, "wt", encoding="latin-1", engine="libdeflate", bgzf=True) as f:
        f.write(text)
    assert path.read_bytes() == wpigz_bgzf(text.encode("latin-1")).stdout
    with wpigz.open(path, "rt", encoding="latin-1") as f:
        assert f.read() == text


@pytest.mark.parametrize("call, message", [
    (lambda: wpigz.compress(b"x", bgzf=True, engine="zlib-ng"), "bgzf=True needs engine='libdeflate', not 'zlib-ng'"),
    (lambda: wpigz.open(io.BytesIO(), "wb", bgzf=True, engine="zlib-ng"),
     "bgzf=True needs engine='libdeflate', not 'zlib-ng'"),
    (lambda: wpigz.GzipFile(fileobj=io.BytesIO(), mode="wb", bgzf=True, blocksize=64 * K),
     "bgzf=True writes BGZF's own 64 KiB members: no blocksize"),
    (lambda: wpigz.compress(b"x", bgzf=True, engine="lzma"), "engine must be one of"),
])
def test_library_refuses_what_cannot_be_bgzf(call, message):
    # the command refuses the same (--engine zlib-ng, -b: test_refused_combinations)
    with pytest.raises(ValueError, match=message):
        call()


def test_library_refuses_before_creating_the_file(tmp_path):
    with pytest.raises(ValueError):
        wpigz.open(tmp_path / "never.gz", "wb", bgzf=True, blocksize=64 * K)
    assert not (tmp_path / "never.gz").exists()


# ---- decoding threads follow -p (and the reader's threads)

COUNTING_POOLS = """\
import sys
from wpigz import cli, members
class CountingPool(members.DeflatePool):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        sys.stderr.write(f"decoding pool: {self.threads} threads, {len(self._workers)} started\\n")
members.DeflatePool = CountingPool
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("writer", ["bgzip", "libdeflate"])
def test_decoding_workers_follow_p(tmp_path, threads, writer):
    path = tmp_path / "in"
    path.write_bytes(DATA)
    if writer == "bgzip":
        subprocess.run([tool("bgzip"), "-k", str(path)], check=True)
    else:
        subprocess.run([sys.executable, "-m", "wpigz", "--engine", "libdeflate", "-b", "64", "-k", str(path)],
                       check=True)
    packed = str(tmp_path / "in.gz")
    for args in (("-dc",), ("-t",)):
        # the real command, with DeflatePool replaced by a subclass that says how many workers it got
        proc = subprocess.run([sys.executable, "-c", COUNTING_POOLS, *args, "-p", str(threads), packed],
                              capture_output=True, timeout=60)
        assert proc.returncode == 0
        assert proc.stdout == (DATA if args == ("-dc",) else b"")
        assert proc.stderr.decode() == f"decoding pool: {threads} threads, {threads} started\n"
    plain = subprocess.run([sys.executable, "-m", "wpigz", "-dc", "-p", str(threads), packed], capture_output=True,
                           timeout=60)
    assert (plain.returncode, plain.stdout, plain.stderr) == (0, DATA, b"")


@pytest.mark.parametrize("threads", [1, 3])
def test_reader_threads_bound_the_decoding_workers(monkeypatch, threads):
    seen = []

    class CountingPool(members.DeflatePool):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen.append((self.threads, len(self._workers)))
    monkeypatch.setattr(members, "DeflatePool", CountingPool)
    blob = wpigz.compress(DATA, bgzf=True)
    with wpigz.open(io.BytesIO(blob), "rb", threads=threads) as f:
        assert f.read() == DATA
    assert seen == [(threads, threads)]
    assert gzip.decompress(blob) == DATA


@pytest.mark.parametrize("threads, error", [(0, ValueError), (-1, ValueError), ("2", TypeError), (True, TypeError)])
def test_reader_refuses_bad_threads(threads, error):
    with pytest.raises(error):
        wpigz.open(io.BytesIO(wpigz.compress(b"x")), "rb", threads=threads)
