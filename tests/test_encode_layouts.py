"""Layouts apart from engines (engines.py): every engine writes pigz's one deflate stream by
default and indexed members with --members / members=True.

libdeflate's one stream is made by build-time edits of its compressor (wasm/build.py,
wasm/libdeflate_block.c): each block primed with the 32 KiB before it, every block but the last
ended by an empty stored block. Tested here: every reader decodes the whole file (Python's
zlib.decompress(data, 31), gzip, pigz, Python's gzip, Chromium's DecompressionStream), the
priming is really used by every matchfinder, the jobs end on sync markers, -i, -z and -K work,
the bytes do not depend on the thread count, and the unpatched path (the members layout) still
gives the bytes of the system's own libdeflate 1.14 (Debian's libdeflate0, as pinned by build.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gzip
import hashlib
import io
import subprocess
import sys
import zipfile
import zlib

import pytest

import wpigz
from conftest import random_bytes, text_bytes, tool
from wpigz.decode import members
from wpigz.sandbox.engines import ENGINES, LAYOUTS, layout_of
from wpigz.encode.pipeline import DeflateOptions, compress_body
from wpigz.sandbox.wasm_host import Runtime

K = 1024
BLOCK = 32 * K
DATA = text_bytes(150 * K + 13) + random_bytes(40 * K) + bytes(50 * K)
LEVELS = [*range(10), 11]


def wpigz_cmd(*args: str, data: bytes = b"", timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wpigz", *args], input=data, capture_output=True, timeout=timeout)


def every_reader_gives(blob: bytes, data: bytes) -> None:
    """Python's zlib (one member only: wbits 31), Python's gzip, gzip, pigz and wpigz."""
    assert zlib.decompress(blob, 31) == data
    assert gzip.decompress(blob) == data
    assert subprocess.run([tool("gzip"), "-dc"], input=blob, capture_output=True, check=True).stdout == data
    assert subprocess.run([tool("pigz"), "-dc"], input=blob, capture_output=True, check=True).stdout == data
    assert wpigz.decompress(blob) == data


# ---- the engines table and the one rule

def test_every_engine_writes_the_stream_by_default_and_members_when_asked():
    assert layout_of() == "stream" and layout_of(members=True) == "members" and layout_of(bgzf=True) == "bgzf"
    with pytest.raises(ValueError):
        layout_of(members=True, bgzf=True)
    for info in ENGINES.values():
        assert {"stream", "members"} <= set(info.layouts) <= set(LAYOUTS)


# ---- libdeflate in one stream

@pytest.mark.parametrize("level", LEVELS)
def test_libdeflate_one_stream_is_read_whole_by_every_reader_for_any_thread_count(level):
    outputs = [wpigz.compress(DATA, level, mtime=0, threads=t, engine="libdeflate") for t in (1, 2, 3)]
    assert outputs[0] == outputs[1] == outputs[2]
    blob = outputs[0]
    assert members.parse_header(blob).kind is None        # pigz's header: no size subfield
    every_reader_gives(blob, DATA)


@pytest.mark.parametrize("size", [0, 1, 2, 3, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 3 * BLOCK + 5])
@pytest.mark.parametrize("threads", ["1", "3"])
def test_libdeflate_stream_sizes_around_the_block(size, threads):
    data = DATA[:size]
    proc = wpigz_cmd("--engine", "libdeflate", "-b", "32", "-p", threads, "-C", "note", data=data)
    assert (proc.returncode, proc.stderr) == (0, b"")
    every_reader_gives(proc.stdout, data)


@pytest.mark.parametrize("level", LEVELS)
def test_every_block_is_primed_with_the_one_before(level):
    """20 KiB of random bytes over and over, in 32 KiB blocks: primed, every block after the
    first is matches into the history before it; with -i (no priming) each block pays for 20
    KiB of literals again. Level 1 is libdeflate's hash table, 2-9 its hash chains, 11 (its
    12) its binary trees."""
    piece = random_bytes(20 * K, seed=7)
    data = piece * 7                                         # 140 KiB: five blocks
    proc = wpigz_cmd("--engine", "libdeflate", f"-{level}", "-b", "32", "-p", "2", "-n", data=data)
    alone = wpigz_cmd("--engine", "libdeflate", f"-{level}", "-b", "32", "-p", "2", "-n", "-i", data=data)
    for blob in (proc.stdout, alone.stdout):
        every_reader_gives(blob, data)
    if level == 0:
        assert len(proc.stdout) == len(alone.stdout) > len(data)     # stored: nothing to prime
        return
    assert len(proc.stdout) < 1.5 * len(piece) < 4.5 * len(piece) < len(alone.stdout)


@pytest.mark.parametrize("level", [0, 1, 6, 11])
def test_each_job_ends_on_an_empty_stored_block_and_only_the_last_is_final(level):
    """The jobs' outputs as the pipeline writes them (on_block gives their sizes): each but the
    last ends with an empty stored block (a sync flush), so any prefix of whole jobs inflates to
    exactly the input of those jobs without ending the stream."""
    data = DATA
    out, sizes = io.BytesIO(), []
    options = DeflateOptions(level=level, blocksize=BLOCK, threads=2)
    summary = compress_body(io.BytesIO(data), out, options, runtime=Runtime(engine="libdeflate"),
                            on_block=lambda n, m: sizes.append((n, m)))
    body = out.getvalue()
    assert summary.check == zlib.crc32(data) and len(sizes) == -(-len(data) // BLOCK)
    read = written = 0
    for i, (n, m) in enumerate(sizes):
        read, written = read + n, written + m
        inflater = zlib.decompressobj(-15)
        assert inflater.decompress(body[:written]) == data[:read]
        if i < len(sizes) - 1:
            assert body[written - 4:written] == b"\x00\x00\xff\xff" and not inflater.eof
        else:
            assert inflater.eof and written == len(body)


@pytest.mark.parametrize("level", ["-1", "-6", "-11"])
def test_libdeflate_writes_zlib_and_zip(level, tmp_path):
    proc = wpigz_cmd("--engine", "libdeflate", level, "-z", "-b", "32", "-p", "2", data=DATA)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert zlib.decompress(proc.stdout) == DATA
    assert subprocess.run([tool("pigz"), "-dz"], input=proc.stdout, capture_output=True).stdout == DATA
    proc = wpigz_cmd("--engine", "libdeflate", level, "-K", "-b", "32", "-p", "2", data=DATA)
    assert (proc.returncode, proc.stderr) == (0, b"")
    with zipfile.ZipFile(io.BytesIO(proc.stdout)) as archive:
        assert archive.read(archive.namelist()[0]) == DATA


# ---- the unpatched path: libdeflate's own bytes

def system_libdeflate() -> ctypes.CDLL:
    """The machine's libdeflate (Debian's libdeflate0, 1.14 on bookworm; .ci/run installs it)."""
    name = ctypes.util.find_library("deflate")
    assert name is not None, "libdeflate0 is not installed (apt-get install libdeflate0)"
    lib = ctypes.CDLL(name)
    lib.libdeflate_alloc_compressor.restype = ctypes.c_void_p
    lib.libdeflate_alloc_compressor.argtypes = [ctypes.c_int]
    lib.libdeflate_deflate_compress.restype = ctypes.c_size_t
    lib.libdeflate_deflate_compress.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                                ctypes.c_char_p, ctypes.c_size_t]
    lib.libdeflate_free_compressor.argtypes = [ctypes.c_void_p]
    return lib


def native_deflate(lib: ctypes.CDLL, data: bytes, level: int) -> bytes:
    compressor = lib.libdeflate_alloc_compressor(level)
    try:
        out = ctypes.create_string_buffer(len(data) + len(data) // 8 + 1024)
        n = lib.libdeflate_deflate_compress(compressor, data, len(data), out, len(out))
        assert n > 0
        return out.raw[:n]
    finally:
        lib.libdeflate_free_compressor(compressor)


@pytest.mark.parametrize("level", LEVELS)
def test_members_are_the_bytes_of_the_system_libdeflate(level):
    """Without priming and with a final block, the module compresses through the unchanged
    libdeflate_deflate_compress: each member's body is what libdeflate 1.14 itself writes."""
    lib = system_libdeflate()
    blob = wpigz.compress(DATA, level, mtime=0, threads=2, engine="libdeflate", members=True)
    pos, index = 0, 0
    while pos < len(blob):
        header = members.parse_header(blob[pos:])
        assert header is not None and header.kind == "IG" and header.size is not None
        body = blob[pos + header.length:pos + header.size - 8]
        piece = DATA[index * K * K:(index + 1) * K * K]      # libdeflate's default block: 1 MiB
        assert body == native_deflate(lib, piece, 12 if level == 11 else level)
        pos, index = pos + header.size, index + 1
    assert index == 1


# ---- indexed members with every engine

@pytest.mark.parametrize("engine", list(ENGINES))
def test_members_with_every_engine(engine):
    blobs = [wpigz_cmd("--engine", engine, "--members", "-b", "32", "-p", p, "-C", "c", data=DATA).stdout
             for p in ("1", "3")]
    assert blobs[0] == blobs[1]
    blob, pos, count = blobs[0], 0, 0
    while pos < len(blob):
        header = members.parse_header(blob[pos:])
        assert header is not None and header.kind == "IG" and header.size is not None
        piece = DATA[count * BLOCK:(count + 1) * BLOCK]
        assert zlib.decompress(blob[pos:pos + header.size], 31) == piece        # each member alone
        assert header.comment == (b"c" if count == 0 else None)
        pos, count = pos + header.size, count + 1
    assert pos == len(blob) and count == -(-len(DATA) // BLOCK)
    assert gzip.decompress(blob) == DATA
    assert subprocess.run([tool("gzip"), "-dc"], input=blob, capture_output=True, check=True).stdout == DATA
    assert wpigz.compress(DATA, engine=engine, members=True, mtime=0, threads=2) != \
        wpigz.compress(DATA, engine=engine, mtime=0, threads=2)


@pytest.mark.parametrize("args, message", [
    (("--members", "-z"), "wpigz: --members writes gzip members: not with -z\n"),
    (("--members", "-K"), "wpigz: --members writes gzip members: not with -K\n"),
    (("--members", "--bgzf"), "wpigz: --bgzf and --members are two layouts: choose one\n"),
])
def test_layout_refusals(args, message):
    proc = wpigz_cmd(*args, data=b"x")
    assert (proc.returncode, proc.stdout) == (1, b"")
    assert proc.stderr.decode() == message + "wpigz: Try 'wpigz --help' for more information.\n"


def test_library_refuses_two_layouts():
    with pytest.raises(ValueError, match="two layouts"):
        wpigz.compress(b"x", members=True, bgzf=True, engine="libdeflate")


def test_help_names_the_layout_option():
    assert "--members" in wpigz_cmd("-h").stdout.decode()


# ---- a reader that stops after the first member: Chromium's DecompressionStream

DECOMPRESS_JS = """(async () => {
  try {
    const response = await fetch("/files/%s");
    const out = await new Response(response.body.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", out));
    return out.byteLength + " " + Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  } catch (error) { return "error " + error; }
})()"""


@pytest.mark.timeout(300)
def test_chromium_decompression_stream_reads_every_engines_stream_whole(tmp_path):
    from bench.web import DevTools
    from test_web import web_server
    data = text_bytes(3 * K * K + 5)      # several blocks for every engine's default block size
    files = tmp_path / "files"
    files.mkdir()
    names = {}
    for engine in ENGINES:
        names[engine] = f"{engine}.gz"
        (files / names[engine]).write_bytes(wpigz.compress(data, engine=engine, threads=2))
    (files / "members.gz").write_bytes(wpigz.compress(data, engine="libdeflate", threads=2, members=True))
    expected = f"{len(data)} {hashlib.sha256(data).hexdigest()}"
    with web_server("--files", str(files)) as (host, port):
        tools = DevTools(f"http://{host}:{port}/", tmp_path / "profile", (800, 600))
        try:
            session = tools.page_session()
            # the target starts as about:blank: wait for the served page itself
            tools.wait_for(session, "location.protocol + document.readyState", ("http:complete",), 90)
            for engine, name in names.items():
                assert tools.evaluate(session, DECOMPRESS_JS % name) == expected, engine
            # the teeth: members stop Chromium after the first one (an error or a short output)
            assert tools.evaluate(session, DECOMPRESS_JS % "members.gz") != expected
        finally:
            tools.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("level", [1, 6])
def test_page_writes_libdeflate_s_stream_as_the_command(tmp_path, level):
    """The page asks engines.json for the layout (the command's default) and writes the same
    bytes as `wpigz --engine libdeflate`."""
    from test_web import run_page, web_server
    files, results = tmp_path / "files", tmp_path / "results"
    files.mkdir()
    results.mkdir()
    data = text_bytes(900_000) + random_bytes(150_000, seed=3) + text_bytes(300_000)
    (files / "input.txt").write_bytes(data)
    with web_server("--files", str(files), "--results", str(results)) as (_, port):
        got, error = run_page(port, {"src": "/files/input.txt", "level": str(level), "threads": "2",
                                     "blocksize": "64", "engine": "libdeflate", "post": "/results/out.gz"},
                              results, tmp_path / "profile")
    assert error is None, error
    expected = wpigz_cmd("-n", "-c", f"-{level}", "-p", "2", "-b", "64", "--engine", "libdeflate", data=data)
    assert expected.returncode == 0, expected.stderr
    assert got == expected.stdout
    assert zlib.decompress(got, 31) == data
