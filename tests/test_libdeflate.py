"""The libdeflate engine: one gzip member per block, each with the IG size subfield, read
exactly by gzip, pigz, Python's gzip and zlib and pgzip; the same bytes for any thread count;
the command's and the library's surface for it."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
import zlib

import pytest

import wpigz
from conftest import random_bytes, text_bytes, tool
from wpigz import framing, members
from wpigz.wasm_host import ENGINES, compiled_module

K = 1024
BLOCK = 32 * K                  # -b 32: many members from little data
DATA = text_bytes(150 * K + 13) + random_bytes(40 * K) + bytes(50 * K)


def wpigz_cmd(*args: str, data: bytes = b"", timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wpigz", "--engine", "libdeflate", *args], input=data,
                          capture_output=True, timeout=timeout)


def split_members(blob: bytes) -> list[tuple[members.MemberHeader, bytes]]:
    """Every member, found by its IG subfield alone; asserts the sizes tile the file."""
    out, pos = [], 0
    while pos < len(blob):
        header = members.parse_header(blob[pos:])
        assert header is not None and header.kind == "IG", f"member at {pos} has no IG subfield"
        out.append((header, blob[pos:pos + header.size]))
        pos += header.size
    assert pos == len(blob)
    return out


def test_same_host_protocol_as_the_other_engines():
    imports = {name: [(i.module, i.name) for i in compiled_module(module)[1].imports] for name, module in ENGINES.items()}
    exports = {name: sorted(e.name for e in compiled_module(module)[1].exports) for name, module in ENGINES.items()}
    assert imports["libdeflate"] == imports["zlib"]
    assert exports["libdeflate"] == exports["zlib"]


@pytest.mark.parametrize("size", [0, 1, 2, 3, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 3 * BLOCK + 5])
def test_one_member_per_block_each_with_its_size(size):
    data = DATA[:size]
    blob = wpigz_cmd("-b", "32", "-p", "2", "-C", "note", data=data).stdout
    found = split_members(blob)
    assert len(found) == max(1, -(-size // BLOCK))
    for i, (header, member) in enumerate(found):
        # the first member carries the comment (and no name: stdin), later ones only the time
        assert header.comment == (b"note" if i == 0 else None) and header.name is None
        crc, isize = struct.unpack("<II", member[-8:])
        piece = data[i * BLOCK:(i + 1) * BLOCK]
        assert (crc, isize) == (zlib.crc32(piece), len(piece))
        assert zlib.decompressobj(31).decompress(member) == piece      # each member alone, wbits=31
    assert gzip.decompress(blob) == data


@pytest.mark.parametrize("level", [*range(10), 11])
def test_every_reader_reads_it_and_threads_do_not_change_it(level):
    outputs = [wpigz.compress(DATA, level, mtime=0, threads=t, engine="libdeflate") for t in (1, 2, 3)]
    assert outputs[0] == outputs[1] == outputs[2]
    blob = outputs[0]
    assert gzip.decompress(blob) == DATA
    assert subprocess.run([tool("gzip"), "-dc"], input=blob, capture_output=True, check=True).stdout == DATA
    assert subprocess.run([tool("pigz"), "-dc"], input=blob, capture_output=True, check=True).stdout == DATA
    assert wpigz.decompress(blob) == DATA


def test_pgzip_reads_it_in_parallel_and_gzip_reads_pgzip_like_files(tmp_path):
    import pgzip
    path = tmp_path / "x.txt"
    path.write_bytes(text_bytes(3 * 1024 * K))     # three 1 MiB members at the default block size
    proc = subprocess.run([sys.executable, "-m", "wpigz", "--engine", "libdeflate", "-k", "-C", "c", str(path)],
                          capture_output=True, timeout=120)
    assert (proc.returncode, proc.stderr) == (0, b"")
    blob = (tmp_path / "x.txt.gz").read_bytes()
    assert len(split_members(blob)) == 3
    assert split_members(blob)[0][0].name == b"x.txt"
    with pgzip.open(tmp_path / "x.txt.gz", "rb", thread=2) as f:
        assert f.read() == path.read_bytes()


def test_level_11_is_libdeflate_12_and_smallest():
    data = text_bytes(400 * K)
    sizes = {level: len(wpigz.compress(data, level, mtime=0, engine="libdeflate")) for level in (6, 9, 11)}
    assert sizes[11] < sizes[9] <= sizes[6]
    assert sizes[11] < len(subprocess.run([tool("gzip"), "-9c"], input=data, capture_output=True).stdout)


def test_header_fields_and_xfl():
    blob = wpigz_cmd("-9", "-M", data=b"abc").stdout
    header = members.parse_header(blob)
    assert header is not None and header.flags == framing.GZIP_FEXTRA and blob[8:10] == b"\x02\x03"
    assert blob[10:20] == b"\x08\x00IG\x04\x00" + struct.pack("<I", len(blob))


@pytest.mark.parametrize("args, message", [
    (("-z",), "wpigz: --engine libdeflate writes gzip members, not one stream: -z needs --engine zlib or zlib-ng\n"),
    (("-K",), "wpigz: --engine libdeflate writes gzip members, not one stream: -K needs --engine zlib or zlib-ng\n"),
    (("-H",), "wpigz: --engine libdeflate has no -H or -U (zlib strategies)\n"),
    (("-U",), "wpigz: --engine libdeflate has no -H or -U (zlib strategies)\n"),
])
def test_one_stream_options_are_refused(args, message):
    proc = wpigz_cmd(*args, data=b"x")
    assert (proc.returncode, proc.stdout) == (1, b"")
    assert proc.stderr.decode() == message + "wpigz: Try 'wpigz --help' for more information.\n"


def test_level_11_stays_refused_with_the_other_engines():
    proc = subprocess.run([sys.executable, "-m", "wpigz", "-11"], input=b"x", capture_output=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith("wpigz: level 11 (zopfli) is not supported by wpigz\n")


@pytest.mark.parametrize("args", [["-i"], ["-R"], ["-0"], ["-1", "-b", "64"], ["-11"], ["-n"]])
def test_other_options_work_through_the_command(args):
    proc = wpigz_cmd("-p", "2", *args, data=DATA)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert subprocess.run([tool("pigz"), "-dc"], input=proc.stdout, capture_output=True).stdout == DATA
    again = wpigz_cmd("-p", "1", *args, data=DATA)
    assert again.stdout == proc.stdout


def test_version_names_libdeflate():
    proc = wpigz_cmd("-V")
    assert proc.stdout.decode().splitlines()[1] == "libdeflate 1.14 (WebAssembly engine)"


def test_list_totals_every_member(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(DATA)
    subprocess.run([sys.executable, "-m", "wpigz", "--engine", "libdeflate", "-b", "32", str(path)], check=True,
                   timeout=120)
    blob = (tmp_path / "t.txt.gz").read_bytes()
    bodies = sum(h.size - h.length - 8 for h, _ in split_members(blob))
    proc = subprocess.run([sys.executable, "-m", "wpigz", "-l", str(tmp_path / "t.txt.gz")], capture_output=True,
                          timeout=60)
    assert proc.returncode == 0
    reduced = 100 * (len(DATA) - bodies) / len(DATA)
    assert proc.stdout.decode().splitlines()[1] == f"{bodies:10d} {len(DATA):10d} {reduced:6.1f}%  t.txt"


def test_library_file_objects(tmp_path):
    with wpigz.open(tmp_path / "l.gz", "wb", engine="libdeflate", threads=2, blocksize=BLOCK) as f:
        for i in range(0, len(DATA), 10_000):
            f.write(DATA[i:i + 10_000])
    blob = (tmp_path / "l.gz").read_bytes()
    assert len(split_members(blob)) == -(-len(DATA) // BLOCK)
    assert split_members(blob)[0][0].name == b"l"
    with wpigz.open(tmp_path / "l.gz") as f:
        assert f.read() == DATA
    with pytest.raises(ValueError):
        wpigz.compress(b"x", 11)                    # 11 exists only for libdeflate
    with pytest.raises(ValueError):
        wpigz.compress(b"x", 10, engine="libdeflate")
    assert gzip.decompress(wpigz.compress(b"x", 11, engine="libdeflate")) == b"x"


def test_default_block_size_is_the_engines():
    blob = wpigz.compress(text_bytes(2 * 1024 * K + 1), engine="libdeflate", threads=2)
    assert [len(m) for _, m in split_members(blob)][2] < 100        # 1 MiB, 1 MiB, then 1 byte
