"""The libdeflate engine in the members layout (--members): one gzip member per block, each
with the IG size subfield, read exactly by gzip, pigz, Python's gzip and zlib and pgzip; the
same bytes for any thread count; the command's and the library's surface for it; and the
parallel decoding of indexed members. Its one-stream layout (the default) is tested in
tests/test_encode_layouts.py."""

from __future__ import annotations

import gzip
import io
import struct
import subprocess
import sys
import zlib

import pytest

import wpigz
from conftest import peak_rss_kib, peak_rss_measured, pigz, random_bytes, text_bytes, tool
from wpigz.encode import framing
from wpigz.decode import members
from wpigz.sandbox.wasm_host import ENGINES, compiled_module

K = 1024
BLOCK = 32 * K                  # -b 32: many members from little data
DATA = text_bytes(150 * K + 13) + random_bytes(40 * K) + bytes(50 * K)


def wpigz_cmd(*args: str, data: bytes = b"", timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wpigz", "--engine", "libdeflate", "--members", *args], input=data,
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
    outputs = [wpigz.compress(DATA, level, mtime=0, threads=t, engine="libdeflate", members=True) for t in (1, 2, 3)]
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
    proc = subprocess.run([sys.executable, "-m", "wpigz", "--engine", "libdeflate", "--members", "-k", "-C", "c",
                           str(path)],
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
    (("-z",), "wpigz: --members writes gzip members: not with -z\n"),
    (("-K",), "wpigz: --members writes gzip members: not with -K\n"),
    (("-H",), "wpigz: --engine libdeflate has no -H or -U (zlib strategies)\n"),
    (("-U",), "wpigz: --engine libdeflate has no -H or -U (zlib strategies)\n"),
])
def test_what_members_or_libdeflate_cannot_write_is_refused(args, message):
    proc = wpigz_cmd(*args, data=b"x")
    assert (proc.returncode, proc.stdout) == (1, b"")
    assert proc.stderr.decode() == message + "wpigz: Try 'wpigz --help' for more information.\n"


def test_level_11_is_zopfli_with_the_other_engines_and_level_12_with_this_one():
    zopfli = subprocess.run([sys.executable, "-m", "wpigz", "-11", "-n"], input=DATA[:20000], capture_output=True,
                            timeout=120)
    assert (zopfli.returncode, zopfli.stderr) == (0, b"")
    assert zopfli.stdout == pigz(DATA[:20000], "-11", "-n")      # pigz's zopfli bytes
    strongest = wpigz_cmd("-11", "-n", data=DATA[:20000])        # libdeflate's level 12
    assert strongest.returncode == 0 and strongest.stdout != zopfli.stdout
    assert gzip.decompress(strongest.stdout) == DATA[:20000]


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
    subprocess.run([sys.executable, "-m", "wpigz", "--engine", "libdeflate", "--members", "-b", "32", str(path)],
                   check=True,
                   timeout=120)
    blob = (tmp_path / "t.txt.gz").read_bytes()
    bodies = sum(h.size - h.length - 8 for h, _ in split_members(blob))
    proc = subprocess.run([sys.executable, "-m", "wpigz", "-l", str(tmp_path / "t.txt.gz")], capture_output=True,
                          timeout=60)
    assert proc.returncode == 0
    reduced = 100 * (len(DATA) - bodies) / len(DATA)
    assert proc.stdout.decode().splitlines()[1] == f"{bodies:10d} {len(DATA):10d} {reduced:6.1f}%  t.txt"


def test_library_file_objects(tmp_path):
    with wpigz.open(tmp_path / "l.gz", "wb", engine="libdeflate", threads=2, blocksize=BLOCK, members=True) as f:
        for i in range(0, len(DATA), 10_000):
            f.write(DATA[i:i + 10_000])
    blob = (tmp_path / "l.gz").read_bytes()
    assert len(split_members(blob)) == -(-len(DATA) // BLOCK)
    assert split_members(blob)[0][0].name == b"l"
    with wpigz.open(tmp_path / "l.gz") as f:
        assert f.read() == DATA
    with pytest.raises(ValueError):
        wpigz.compress(b"x", 10)                    # no engine has a level 10
    with pytest.raises(ValueError):
        wpigz.compress(b"x", 10, engine="libdeflate")
    assert gzip.decompress(wpigz.compress(b"x", 11, engine="libdeflate")) == b"x"


def test_default_block_size_is_the_engines():
    blob = wpigz.compress(text_bytes(2 * 1024 * K + 1), engine="libdeflate", threads=2, members=True)
    assert [len(m) for _, m in split_members(blob)][2] < 100        # 1 MiB, 1 MiB, then 1 byte


# ---- parallel decompression of indexed members (members.decode_members)

import random  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from wpigz.decode import entry, sequential as decoding, stream  # noqa: E402
from wpigz.sandbox.wasm_host import Decoder, Runtime  # noqa: E402

_RUNTIME = Runtime()
_INDEXED: bytes | None = None


def indexed_blob() -> bytes:
    global _INDEXED
    if _INDEXED is None:
        _INDEXED = subprocess.run([sys.executable, "-m", "wpigz", "--engine", "libdeflate", "--members", "-b", "32",
                                   "-C", "c"],
                                  input=DATA, capture_output=True, check=True, timeout=120).stdout
    return _INDEXED


def outcome(blob: bytes, *, parallel: bool, strict: bool = False) -> tuple[bytes, str | None, list[str]]:
    """(output, error or None, warnings): the parallel path, or decode/sequential.py's sequential one."""
    out = bytearray()
    found = decoding.Decoded("unknown")
    try:
        if parallel:
            for piece in entry.decode(io.BytesIO(blob), _RUNTIME, found, strict=strict):
                out += piece
        else:
            with Decoder(_RUNTIME) as decoder:
                for piece in decoding._gzip(stream.Source(io.BytesIO(blob)), decoder, found, strict):
                    out += piece
    except (stream.CorruptInput, stream.Unrecognized) as error:
        return bytes(out), f"{type(error).__name__}: {error}", found.warnings
    return bytes(out), None, found.warnings


def assert_like_gzip(blob: bytes, result: tuple[bytes, str | None, list[str]]) -> None:
    """gzip -dc on blob agrees with result (an outcome, not strict): it fails where it failed;
    where it succeeded, gzip gives the same bytes, and warns (status 2) where it warned."""
    out, error, warnings = result
    proc = subprocess.run([tool("gzip"), "-dc"], input=blob, capture_output=True, timeout=60)
    assert proc.returncode == (1 if error else 2 if warnings else 0), (error, warnings, proc.stderr)
    if error is None:
        assert proc.stdout == out
        for warning in warnings:
            assert warning in proc.stderr.decode()


def test_valid_indexed_members_never_touch_the_sequential_inflater(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a valid indexed member was decoded sequentially")
        yield b""
    monkeypatch.setattr(decoding, "_inflate", refuse)
    blob = indexed_blob()
    found = decoding.Decoded("unknown")
    assert b"".join(bytes(p) for p in entry.decode(io.BytesIO(blob), _RUNTIME, found)) == DATA
    assert len(found.members) == len(split_members(blob)) and found.comment == b"c"


def set_size(blob: bytes, member: int, size: int) -> bytes:
    """indexed_blob() (or a copy with other sizes already changed) with the IG subfield of its
    member-th member set to size."""
    pos = sum(h.size for h, _ in split_members(indexed_blob())[:member])
    return blob[:pos + 16] + struct.pack("<I", size & 0xFFFFFFFF) + blob[pos + 20:]


@pytest.mark.parametrize("lie", ["zero", "header", "short", "minus1", "plus1", "double", "past_end", "huge",
                                 "into_garbage"])
@pytest.mark.parametrize("member", [0, 3, -1])
def test_a_lying_size_is_never_trusted(lie, member):
    blob = indexed_blob()
    found = split_members(blob)
    member %= len(found)
    real = found[member][0].size
    size = {"zero": 0, "header": 20, "short": real // 2, "minus1": real - 1, "plus1": real + 1,
            "double": 2 * real, "past_end": len(blob) + 100, "huge": 0xFFFFFFFF,
            "into_garbage": real + 7}[lie]
    bad = set_size(blob, member, size)
    if lie == "into_garbage":
        bad += b"garbage!" * 3
    # the member is decoded sequentially: the same result as any gzip reader, and the right data
    result = outcome(bad, parallel=True)
    assert result == outcome(bad, parallel=False)
    assert result[0] == DATA
    assert_like_gzip(bad, result)


# a compress (.Z) or pack member may follow a gzip member, as gzip reads them; b"\x1f\x9d" alone
# is a compress member cut short (found by the Hypothesis test below)
LZW_HELLO = subprocess.run(["compress", "-c"], input=b"hello\n" * 100, capture_output=True, check=True).stdout


@pytest.mark.parametrize("tail", [b"", b"\0" * 100, b"junk", b"\x1f", b"\x1f\x8b", gzip.compress(b"more", mtime=0),
                                  b"\x1f\x9d", pytest.param(LZW_HELLO, id="compress-member"), b"\x1f\x1e"])
@pytest.mark.parametrize("strict", [False, True])
def test_what_follows_is_handled_as_by_the_sequential_decoder(tail, strict):
    blob = indexed_blob() + tail
    result = outcome(blob, parallel=True, strict=strict)
    assert result == outcome(blob, parallel=False, strict=strict)
    if not strict:          # the library's strict reading refuses what gzip only warns about
        assert_like_gzip(blob, result)


def test_a_compress_member_after_indexed_members_is_decoded_like_gzip_does(tmp_path):
    path = tmp_path / "mixed.gz"
    path.write_bytes(wpigz_cmd("-c", data=DATA).stdout + LZW_HELLO)
    for tool_cmd in (["gzip"], [sys.executable, "-m", "wpigz"]):
        done = subprocess.run([*tool_cmd, "-dc", str(path)], capture_output=True, timeout=60)
        assert (done.returncode, done.stdout) == (0, DATA + b"hello\n" * 100), tool_cmd


def test_passthrough_copies_what_follows_indexed_members(tmp_path):
    """-cdf copies trailing data that is not a member, as gzip and pigz do."""
    path = tmp_path / "trailing.gz"
    path.write_bytes(wpigz_cmd("-c", data=DATA).stdout + b"TRAILING TEXT\n")
    for tool_cmd in (["gzip"], ["pigz"], [sys.executable, "-m", "wpigz"]):
        done = subprocess.run([*tool_cmd, "-cdf", str(path)], capture_output=True, timeout=60)
        assert (done.returncode, done.stdout, done.stderr) == (0, DATA + b"TRAILING TEXT\n", b""), tool_cmd


def test_indexed_and_plain_members_mixed():
    plain = gzip.compress(b"plain member " * 1000, mtime=0)
    blob = plain + indexed_blob() + plain + indexed_blob()
    result = outcome(blob, parallel=True)
    assert result == ((b"plain member " * 1000 + DATA) * 2, None, [])
    assert_like_gzip(blob, result)


@pytest.mark.timeout(600)
def test_mutated_indexed_files_decode_as_sequentially():
    # every mutant gives the same output, error and warnings as the sequential decoder: a damaged
    # index or body may cost speed, never correctness; never a crash, never a hang
    blob = indexed_blob()
    starts = [sum(h.size for h, _ in split_members(blob)[:i]) for i in range(len(split_members(blob)))]
    rng = random.Random(16)
    errors = 0
    for _ in range(300):
        mutant = bytearray(blob)
        for _ in range(rng.randint(1, 3)):
            choice = rng.random()
            if choice < 0.5:
                mutant[rng.randrange(len(mutant))] ^= 1 << rng.randrange(8)
            elif choice < 0.7:                          # an index byte: the subfields are at 16..19
                where = rng.choice(starts) + 16 + rng.randrange(4)
                if where < len(mutant):
                    mutant[where] = rng.randrange(256)
            elif choice < 0.85:
                del mutant[rng.randrange(len(mutant)):]
            else:
                mutant[rng.randrange(len(mutant) + 1):0] = bytes([rng.randrange(256)])
        parallel = outcome(bytes(mutant), parallel=True)
        assert parallel == outcome(bytes(mutant), parallel=False)
        assert_like_gzip(bytes(mutant), parallel)
        errors += parallel[1] is not None
    assert errors > 100


@pytest.mark.timeout(900)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(sizes=st.lists(st.integers(0, 1 << 20), min_size=1, max_size=4), members_=st.lists(st.integers(0, 30), max_size=4),
       tail=st.binary(max_size=40))
def test_hypothesis_lying_sizes_match_the_sequential_decoder(sizes, members_, tail):
    blob = indexed_blob()
    count = len(split_members(blob))
    for size, member in zip(sizes, members_):
        blob = set_size(blob, member % count, size)
    blob += tail
    result = outcome(blob, parallel=True)
    assert result == outcome(blob, parallel=False)
    assert_like_gzip(blob, result)


def test_pgzip_files_decode_in_parallel_or_fall_back(tmp_path):
    import pgzip
    data = DATA * 3
    small = pgzip.compress(data, compresslevel=6, thread=2, blocksize=64 * K)     # many small members
    big = pgzip.compress(data, compresslevel=6, thread=2, blocksize=10 * 1024 * K)  # one member
    for blob in (small, big):
        assert outcome(blob, parallel=True) == (data, None, [])
    proc = subprocess.run([sys.executable, "-m", "wpigz", "-dc"], input=small, capture_output=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, data, b"")


def test_test_and_decompress_through_the_command(tmp_path):
    blob = indexed_blob()
    (tmp_path / "a.gz").write_bytes(blob)
    (tmp_path / "b.gz").write_bytes(set_size(blob, 2, 9)[:-3])      # a lie and a cut: corrupt
    proc = subprocess.run([sys.executable, "-m", "wpigz", "-t", "a.gz", "b.gz"], cwd=tmp_path,
                          capture_output=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.decode() == "wpigz: skipping: b.gz: corrupted -- missing trailer\n"
    proc = subprocess.run([sys.executable, "-m", "wpigz", "-d", "-p", "3", "a.gz"], cwd=tmp_path,
                          capture_output=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, b"") and (tmp_path / "a").read_bytes() == DATA


@pytest.mark.timeout(600)
def test_memory_stays_flat_compressing_and_decoding_in_parallel(tmp_path):
    """512 MiB from a generator (1 MiB of text, 3 MiB of zeros, repeated) through
    `wpigz --engine libdeflate -1 | wpigz -t`: both peaks stay small whatever the size."""
    size = 512 << 20
    (tmp_path / "seed").write_bytes(text_bytes(1 << 20))
    generator = (
        "import sys\n"
        f"size = {size}\n"
        f"block = open({str(tmp_path / 'seed')!r}, 'rb').read() + bytes(3 << 20)\n"
        "while size:\n"
        "    piece = block[:size]; sys.stdout.buffer.write(piece); size -= len(piece)\n")
    source = subprocess.Popen([sys.executable, "-c", generator], stdout=subprocess.PIPE)
    compressor = subprocess.Popen(peak_rss_measured([sys.executable, "-m", "wpigz", "--engine", "libdeflate", "--members", "-1",
                                                     "-p", "2"], tmp_path / "rss-compress"),
                                  stdin=source.stdout, stdout=subprocess.PIPE)
    tester = subprocess.Popen(peak_rss_measured([sys.executable, "-m", "wpigz", "-t", "-p", "2"], tmp_path / "rss-test"),
                              stdin=compressor.stdout, stderr=subprocess.PIPE)
    source.stdout.close()
    compressor.stdout.close()
    assert compressor.wait() == 0
    assert tester.wait() == 0 and tester.stderr.read() == b""
    source.wait()
    compress_peak, test_peak = peak_rss_kib(tmp_path / "rss-compress"), peak_rss_kib(tmp_path / "rss-test")
    assert compress_peak < 150 * 1024, f"compressing peaked at {compress_peak} KiB"
    assert test_peak < 150 * 1024, f"testing peaked at {test_peak} KiB"
