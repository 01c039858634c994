"""The library API against Python's gzip module: same modes, attributes and exception types,
write-then-read in every mode, members, peek/readline across block boundaries, seeking, and
composition with tarfile, shutil, io, csv and pickle; plus pigz's bytes and worker errors."""

from __future__ import annotations

import array
import csv
import gzip
import io
import os
import pickle
import shutil
import subprocess
import sys
import tarfile

import pytest

import wpigz
from conftest import random_bytes, text_bytes, tool
from wpigz.encode.pipeline import TRAP_ENV

K = 1024
DATA = text_bytes(400 * K + 7)


@pytest.mark.parametrize("mode", ["wb", "w", "xb", "x", "ab", "a"])
@pytest.mark.parametrize("threads", [1, 3])
def test_write_then_read_back_binary_modes(tmp_path, mode, threads):
    path = tmp_path / "f.gz"
    with wpigz.open(path, mode, threads=threads) as f:
        assert f.write(DATA) == len(DATA)
    with wpigz.open(path, "rb") as f:
        assert f.read() == DATA
    assert gzip.decompress(path.read_bytes()) == DATA


@pytest.mark.parametrize("mode", ["wt", "xt", "at"])
def test_text_modes(tmp_path, mode):
    path = tmp_path / "t.gz"
    text = "línea uno\nline two\r\nthird\n" * 1000
    with wpigz.open(path, mode, encoding="utf-8", newline="") as f:
        f.write(text)
    with wpigz.open(path, "rt", encoding="utf-8", newline="") as f:
        assert f.read() == text
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        assert f.read() == text


def test_exclusive_mode_refuses_an_existing_file(tmp_path):
    path = tmp_path / "e.gz"
    path.write_bytes(b"")
    with pytest.raises(FileExistsError):
        wpigz.open(path, "xb")


def test_append_makes_members_and_reading_concatenates(tmp_path):
    path = tmp_path / "m.gz"
    with wpigz.open(path, "wb") as f:
        f.write(b"first ")
    with wpigz.open(path, "ab") as f:
        f.write(b"second")
    assert path.read_bytes().count(b"\x1f\x8b\x08") == 2
    with wpigz.open(path) as f:
        assert f.read() == b"first second"
    assert gzip.decompress(path.read_bytes()) == b"first second"


def test_reads_members_made_by_gzip_and_reports_the_last_mtime(tmp_path):
    blob = gzip.compress(b"one", mtime=111) + gzip.compress(b"two", mtime=222)
    with wpigz.GzipFile(fileobj=io.BytesIO(blob)) as f:
        assert f.mtime is None
        assert f.read() == b"onetwo"
        assert f.mtime == 222
    assert wpigz.decompress(blob) == gzip.decompress(blob)


def test_peek_and_readline_across_block_boundaries():
    lines = [(f"line {i} ".encode() * (i % 37 + 1)) + b"\n" for i in range(20000)]
    data = b"".join(lines)
    assert len(data) > 3 * 128 * K
    blob = wpigz.compress(data)
    with wpigz.GzipFile(fileobj=io.BytesIO(blob)) as f:
        assert f.peek(1)[:1] == data[:1]
        assert list(f) == lines
    with wpigz.GzipFile(fileobj=io.BytesIO(blob)) as f:
        got = bytearray()
        while True:
            peeked = f.peek(10)
            chunk = f.read1(1000)
            if not chunk:
                break
            assert peeked[:1] == chunk[:1]
            got += chunk
        assert bytes(got) == data


def test_readinto_and_read_sizes():
    blob = wpigz.compress(DATA)
    with wpigz.GzipFile(fileobj=io.BytesIO(blob)) as f:
        buffer = bytearray(1000)
        assert f.readinto(buffer) == 1000 and bytes(buffer) == DATA[:1000]
        assert f.read(5) == DATA[1000:1005]
        assert f.read() == DATA[1005:]
        assert f.read() == b""


def test_seek_and_tell_like_gzip():
    blob = wpigz.compress(DATA)
    ours = wpigz.GzipFile(fileobj=io.BytesIO(blob))
    theirs = gzip.GzipFile(fileobj=io.BytesIO(blob))
    for offset, whence in [(1000, 0), (500, 1), (10, 0), (300 * K, 0), (-5, 1), (0, 0)]:
        assert ours.seek(offset, whence) == theirs.seek(offset, whence)
        assert ours.tell() == theirs.tell()
        assert ours.read(100) == theirs.read(100)
    ours.close()
    theirs.close()


def test_seek_in_write_mode_fills_forward_and_refuses_backwards():
    buffer = io.BytesIO()
    with wpigz.GzipFile(fileobj=buffer, mode="wb") as f:
        f.write(b"ab")
        assert f.seek(10) == 10 and f.tell() == 10
        f.write(b"cd")
        with pytest.raises(OSError):
            f.seek(3)
    assert gzip.decompress(buffer.getvalue()) == b"ab" + bytes(8) + b"cd"


@pytest.mark.parametrize("data", [bytearray(b"bytearray"), memoryview(b"memoryview"),
                                  array.array("I", range(1000)), memoryview(array.array("d", [1.5] * 99))])
def test_write_accepts_any_bytes_like(data):
    buffer = io.BytesIO()
    with wpigz.GzipFile(fileobj=buffer, mode="wb") as f:
        assert f.write(data) == memoryview(data).nbytes
    assert gzip.decompress(buffer.getvalue()) == bytes(memoryview(data).cast("B"))


def test_attributes_and_close(tmp_path):
    path = tmp_path / "a.gz"
    f = wpigz.open(path, "wb")
    assert (f.name, f.mode, f.readable(), f.writable(), f.seekable()) == (str(path), gzip.WRITE, False, True, True)
    assert f.fileno() == f.fileobj.fileno() and not f.closed
    f.close()
    f.close()                               # idempotent
    assert f.closed
    with pytest.raises(ValueError):
        f.write(b"x")
    with wpigz.open(path) as g:
        assert (g.mode, g.readable(), g.writable()) == (gzip.READ, True, False)
    assert g.closed


def test_a_passed_file_object_is_left_open():
    buffer = io.BytesIO()
    with wpigz.GzipFile(fileobj=buffer, mode="wb") as f:
        f.write(b"x")
    assert not buffer.closed


def test_header_name_and_mtime_like_gzip_and_bytes_like_pigz(tmp_path):
    source = tmp_path / "data.txt"
    source.write_bytes(DATA)
    os.utime(source, (1_600_000_000, 1_600_000_000))
    with wpigz.GzipFile(tmp_path / "data.txt.gz", "wb", 9, mtime=1_600_000_000, threads=2) as f:
        f.write(DATA)
    pigz = subprocess.run([tool("pigz"), "-9", "-c", str(source)], capture_output=True).stdout
    assert (tmp_path / "data.txt.gz").read_bytes() == pigz
    with gzip.GzipFile(tmp_path / "g.gz", "wb", 9, mtime=1_600_000_000) as g:
        g.write(b"")
    assert (tmp_path / "g.gz").read_bytes()[3:8] == (tmp_path / "data.txt.gz").read_bytes()[3:8]


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_compress_matches_pigz_whatever_the_threads(level):
    expected = subprocess.run([tool("pigz"), f"-{level}", "-n", "-c"], input=DATA, capture_output=True).stdout
    for threads in (1, 2, 4):
        assert wpigz.compress(DATA, level, mtime=0, threads=threads) == expected


def test_decompress_errors_have_gzips_types():
    good = gzip.compress(DATA, mtime=0)
    cases = [good + b"garbage", good[:len(good) // 2], b"not gzip at all", good[:-8] + b"\0" * 8,
             good + b"\0" * 10, good + b"\0" * 3 + good]
    for blob in cases:
        expected = ours = None
        try:
            expected = gzip.decompress(blob)
        except Exception as error:
            expected = type(error)
        try:
            ours = wpigz.decompress(blob)
        except Exception as error:
            ours = type(error)
        if isinstance(expected, type) and issubclass(expected, gzip.BadGzipFile):
            assert ours is wpigz.BadGzipFile, blob[-12:]
        else:
            assert ours == expected, blob[-12:]
    # code written for the gzip module (`except gzip.BadGzipFile`) catches wpigz's
    assert issubclass(wpigz.BadGzipFile, gzip.BadGzipFile)
    with pytest.raises(gzip.BadGzipFile):
        wpigz.decompress(b"not gzip at all")


@pytest.mark.parametrize("call", [
    lambda m: m.open(io.BytesIO(), "rbt"),
    lambda m: m.open(io.BytesIO(), "wb", encoding="utf-8"),
    lambda m: m.open(io.BytesIO(), "wb", errors="strict"),
    lambda m: m.open(io.BytesIO(), "wb", newline="\n"),
    lambda m: m.open(123, "rb"),
    lambda m: m.open(io.BytesIO(), "z"),
    lambda m: m.GzipFile(fileobj=io.BytesIO(), mode="wt"),
    lambda m: m.GzipFile(fileobj=io.BytesIO(), mode="wb", compresslevel=10),
    lambda m: m.GzipFile(fileobj=io.BytesIO(m.compress(b"x")), mode="rb").write(b"x"),
    lambda m: m.GzipFile(fileobj=io.BytesIO(), mode="wb").read(),
])
def test_bad_arguments_raise_what_gzip_raises(call):
    with pytest.raises(Exception) as theirs:
        call(gzip)
    with pytest.raises(Exception) as ours:
        call(wpigz)
    # gzip's own type, or a documented subclass of it (never a base class), with gzip's message
    ours_type, theirs_type = type(ours.value), type(theirs.value)
    assert ours_type is theirs_type or (ours_type in _DOCUMENTED_SUBCLASSES and issubclass(ours_type, theirs_type)), \
        (ours.value, theirs.value)
    assert str(ours.value) == str(theirs.value)


# wpigz's exception types that stand for several of gzip's, each a subclass of all of them
_DOCUMENTED_SUBCLASSES = {wpigz.api.LevelError}      # zlib.error and ValueError, as gzip raises either


# ---- composition

def test_tarfile_stream_through_it(tmp_path):
    members = {"a.txt": text_bytes(300 * K), "b.bin": random_bytes(100 * K)}
    with wpigz.open(tmp_path / "t.tar.gz", "wb") as f:
        with tarfile.open(fileobj=f, mode="w|") as tar:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    with tarfile.open(tmp_path / "t.tar.gz", "r:gz") as tar:       # read back by the stdlib
        assert {m.name: tar.extractfile(m).read() for m in tar.getmembers()} == members
    with wpigz.open(tmp_path / "t.tar.gz") as f, tarfile.open(fileobj=f, mode="r|") as tar:
        assert [m.name for m in tar] == list(members)


def test_shutil_copyfileobj_both_ways(tmp_path):
    (tmp_path / "plain").write_bytes(DATA)
    with open(tmp_path / "plain", "rb") as src, wpigz.open(tmp_path / "p.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    with wpigz.open(tmp_path / "p.gz") as src, open(tmp_path / "back", "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert (tmp_path / "back").read_bytes() == DATA


def test_text_wrapper_and_csv(tmp_path):
    rows = [["id", "name", "note"]] + [[str(i), f"name {i}", "comma, quote \" and ñ"] for i in range(5000)]
    with io.TextIOWrapper(wpigz.open(tmp_path / "c.csv.gz", "wb"), encoding="utf-8", newline="") as text:
        csv.writer(text).writerows(rows)
    with wpigz.open(tmp_path / "c.csv.gz", "rt", encoding="utf-8", newline="") as text:
        assert list(csv.reader(text)) == rows


def test_pickle_round_trip(tmp_path):
    value = {"numbers": list(range(100000)), "text": "x" * 100000, "nested": [{"a": (1, 2.5, None)}] * 100}
    with wpigz.open(tmp_path / "p.pkl.gz", "wb") as f:
        pickle.dump(value, f)
    with wpigz.open(tmp_path / "p.pkl.gz") as f:
        assert pickle.load(f) == value


# ---- errors and exit

@pytest.mark.timeout(60)
def test_a_worker_error_is_raised_in_the_callers_next_call_and_after(monkeypatch):
    # must raise, not hang
    monkeypatch.setenv(TRAP_ENV, "1")
    f = wpigz.GzipFile(fileobj=io.BytesIO(), mode="wb", threads=2)
    with pytest.raises(wpigz.EngineError, match="trapped"):
        for _ in range(40):
            f.write(DATA[:128 * K])
    with pytest.raises(wpigz.EngineError):
        f.write(b"more")
    with pytest.raises(wpigz.EngineError):
        f.flush()
    f.close()
    assert f.closed


@pytest.mark.timeout(120)
def test_a_writer_never_closed_does_not_hang_exit_and_is_finished(tmp_path):
    code = ("import wpigz; f = wpigz.open('left.gz', 'wb', threads=2); "
            "f.write(b'unclosed data ' * 100000)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, timeout=100)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert gzip.decompress((tmp_path / "left.gz").read_bytes()) == b"unclosed data " * 100000


def test_package_is_typed():
    assert os.path.exists(os.path.join(os.path.dirname(wpigz.__file__), "py.typed"))


@pytest.mark.timeout(300)
def test_large_blocks_with_two_threads(tmp_path):
    data = text_bytes(300 * 1024)
    with wpigz.open(tmp_path / "big.gz", "wb", threads=2, blocksize=128 << 20) as f:
        f.write(data)
    assert gzip.decompress((tmp_path / "big.gz").read_bytes()) == data


@pytest.mark.timeout(300)
def test_slots_past_2_gib_are_addressed_unsigned():
    # three 512 MiB slots: the last lies past 2 GiB, where a signed 32-bit address goes negative
    import zlib
    from wpigz.sandbox.wasm_host import CHECK_CRC32, DeflatePool, Runtime
    runtime = Runtime()
    with DeflatePool(runtime, threads=1, blocksize=512 << 20, level=6, strategy=0, independent=False,
                     check_kind=CHECK_CRC32) as pool:
        assert (pool.threads, pool.nslots) == (1, 3)
        assert runtime.call("wpigz_slot_in", pool._ctl, 2) < 0          # what wasm hands back
        pieces = [b"first piece ", b"second piece ", b"third, in the slot past 2 GiB"]
        out = b""
        for seq, piece in enumerate(pieces):
            pool.input_view(seq)[:len(piece)] = piece
            pool.submit(seq, len(piece), last=seq == 2)
        for seq in range(3):
            out += bytes(pool.wait(seq)[0])
    assert zlib.decompress(out, -15) == b"".join(pieces)


BAD_WRITE_ARGUMENTS = [dict(compresslevel=12), dict(compresslevel=-2), dict(compresslevel=10), dict(compresslevel="x"),
                       dict(compresslevel=1.5), dict(mtime="x"), dict(mtime=-1), dict(mtime=1 << 33)]


@pytest.mark.parametrize("kwargs", BAD_WRITE_ARGUMENTS)
def test_compress_bad_arguments_raise_gzip_compress_s_exceptions(kwargs):
    import zlib
    with pytest.raises(Exception) as theirs:
        gzip.compress(b"x", **kwargs)
    with pytest.raises(Exception) as ours:
        wpigz.compress(b"x", **kwargs)
    assert isinstance(ours.value, type(theirs.value)), (ours.value, theirs.value)
    assert str(ours.value) == str(theirs.value)
    if "compresslevel" in kwargs and isinstance(kwargs["compresslevel"], int):
        assert isinstance(ours.value, zlib.error)


@pytest.mark.parametrize("kwargs", BAD_WRITE_ARGUMENTS)
def test_gzipfile_bad_arguments_raise_gzipfile_s_exceptions(tmp_path, kwargs):
    with pytest.raises(Exception) as theirs:
        gzip.GzipFile(tmp_path / "theirs.gz", "wb", **kwargs).close()
    with pytest.raises(Exception) as ours:
        wpigz.GzipFile(tmp_path / "ours.gz", "wb", **kwargs).close()
    assert isinstance(ours.value, type(theirs.value)), (ours.value, theirs.value)
    assert str(ours.value) == str(theirs.value)
    assert not (tmp_path / "ours.gz").exists()          # checked before the file is made


@pytest.mark.parametrize("data", ["text", None, 5])
def test_compress_refuses_what_is_not_bytes_like(data):
    with pytest.raises(TypeError):
        gzip.compress(data)
    with pytest.raises(TypeError):
        wpigz.compress(data)
