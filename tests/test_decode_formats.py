"""wpigz -d, -t and -l: every format made by the real tools, GNU gzip's rules for what follows
a member, corrupt and mutated input, suffixes and -N, listings against pigz, and a bomb.

Fixtures are made here by the real programs (gzip, pigz, compress from ncompress, zstd) or
crafted byte by byte where no tool writes the case (header fields, corruption).
"""

from __future__ import annotations

import io
import os
import random
import re
import struct
import subprocess
import sys
import zlib

import pytest

from conftest import random_bytes, text_bytes, tool
from wpigz.decode.stream import CorruptInput, Unrecognized
from wpigz.decode.entry import decompress
from wpigz.sandbox.wasm_host import DECODER_ENGINE, Runtime

WPIGZ = [sys.executable, "-m", "wpigz"]
K = 1024
DATASETS = {"empty": b"", "one": b"x", "text": text_bytes(700 * K + 5), "random": random_bytes(300 * K)}


def run(*args, cwd=None, data: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([*WPIGZ, *map(str, args)], input=data, capture_output=True, timeout=120, cwd=cwd)


def made_by(command: list[str], data: bytes) -> bytes:
    proc = subprocess.run(command, input=data, capture_output=True)
    # compress exits 2 when its output is not smaller than the input, but still writes it
    assert proc.returncode == 0 or (proc.returncode == 2 and command[0].endswith("compress")), proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return Runtime()


def decoded(runtime, blob: bytes) -> bytes:
    out = bytearray()
    decompress(io.BytesIO(blob), lambda view: out.extend(view), runtime)
    return bytes(out)


# ---- formats, made by the real tools

@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("maker", [["gzip", "-c"], ["gzip", "-9", "-c"], ["pigz", "-c"], ["pigz", "-z", "-c"],
                                   ["pigz", "-K", "-c"], ["pigz", "-R", "-1", "-c"], ["pigz", "-i", "-c"],
                                   ["zstd", "-c", "-q"],
                                   ["compress", "-c"], ["compress", "-b", "10", "-c"], ["compress", "-b", "12", "-c"]])
def test_decompresses_what_the_tools_make(name, maker):
    data = DATASETS[name]
    blob = subprocess.run([tool(maker[0]), *maker[1:]], input=data, capture_output=True).stdout
    proc = run("-dc", data=blob)
    assert (proc.returncode, proc.stderr) == (0, b""), proc.stderr
    assert proc.stdout == data
    assert run("-t", data=blob).returncode == 0


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("module", ["gzip", "zlib"])
def test_decompresses_what_python_makes(runtime, name, module):
    import gzip
    data = DATASETS[name]
    blob = gzip.compress(data, mtime=0) if module == "gzip" else zlib.compress(data, 9)
    assert decoded(runtime, blob) == data
    proc = run("-dc", data=blob)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, data, b"")


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("form", ["gzip", "zlib", "zip", "zstd"])
def test_tools_decompress_what_wpigz_makes(tmp_path, name, form):
    import gzip
    import zipfile
    data = DATASETS[name]
    option = {"gzip": [], "zlib": ["-z"], "zip": ["-K"], "zstd": ["--zstd"]}[form]
    blob = run("-c", *option, data=data).stdout
    if form == "gzip":
        assert gzip.decompress(blob) == data
        assert made_by([tool("gzip"), "-dc"], blob) == data
        assert made_by([tool("pigz"), "-dc"], blob) == data
    elif form == "zlib":
        assert zlib.decompress(blob) == data
        assert made_by([tool("pigz"), "-dcz"], blob) == data
    elif form == "zip":
        (tmp_path / "w.zip").write_bytes(blob)
        with zipfile.ZipFile(tmp_path / "w.zip") as archive:
            assert archive.read("-") == data
        assert made_by([tool("pigz"), "-dc"], blob) == data
    else:
        assert made_by([tool("zstd"), "-dc"], blob) == data


@pytest.mark.parametrize("size", [100 * K, 3 * 1024 * K])
@pytest.mark.parametrize("kind", ["text", "random", "mixed"])
def test_lzw_with_width_growth_and_clear_codes(runtime, size, kind):
    # long inputs make compress grow its codes to 16 bits and, on random data, emit clear codes
    if kind == "text":
        data = text_bytes(size)
    elif kind == "random":
        data = random_bytes(size)
    else:
        data = b"".join(text_bytes(50 * K) if i % 2 else random_bytes(50 * K, seed=i) for i in range(size // (50 * K)))
    # not -b 9: ncompress 4.2.4.6 cannot read its own -b 9 output back (nor can gzip or pigz)
    for bits in ("16", "13", "10"):
        blob = made_by([tool("compress"), "-b", bits, "-c"], data)
        assert decoded(runtime, blob) == data, f"compress -b {bits}"


def test_multi_member_and_concatenated_tools(runtime):
    a, b = text_bytes(200 * K), random_bytes(70 * K)
    blob = made_by([tool("gzip"), "-c"], a) + made_by([tool("pigz"), "-c"], b) + made_by([tool("gzip"), "-c"], b"")
    assert decoded(runtime, blob) == a + b


def _gzip_member(data: bytes, *, flags: int = 0, extra: bytes = b"", name: bytes = b"", comment: bytes = b"",
                 hcrc: int | None = None) -> bytes:
    header = b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", 1_600_000_000) + b"\x00\x03"
    if flags & 4:
        header += struct.pack("<H", len(extra)) + extra
    if flags & 8:
        header += name + b"\0"
    if flags & 16:
        header += comment + b"\0"
    if flags & 2:
        header += struct.pack("<H", (zlib.crc32(header) & 0xFFFF) if hcrc is None else hcrc)
    body = zlib.compressobj(6, zlib.DEFLATED, -15)
    return header + body.compress(data) + body.flush() + struct.pack("<II", zlib.crc32(data), len(data))


def test_every_gzip_header_field(runtime):
    member = _gzip_member(b"fields\n", flags=4 | 8 | 16 | 2, extra=b"AB\x02\x00hi", name=b"n.txt", comment=b"c")
    assert decoded(runtime, member) == b"fields\n"
    with pytest.raises(CorruptInput, match="header crc error"):
        decoded(runtime, _gzip_member(b"x", flags=2 | 8, name=b"n", hcrc=0x1234))


def _zip_variants() -> dict[str, bytes]:
    """pigz -K's zip with its extra field and data descriptor rewritten: which descriptor form
    (8- or 16-byte sizes) a reader expects depends on whether the header has a Zip64 field."""
    made = made_by([tool("pigz"), "-K", "-c"], b"zip descriptor\n" * 500)
    name_len, extra_len = struct.unpack("<HH", made[26:30])
    start = 30 + name_len + extra_len
    zip64, stamp = made[30 + name_len:30 + name_len + 20], made[30 + name_len + 20:start]
    assert zip64[:2] == b"\x01\x00" and stamp[:2] == b"UT"
    end = made.index(b"PK\x07\x08", start)
    crc, csize, usize = struct.unpack("<IQQ", made[end + 4:end + 24])

    def variant(extra: bytes, descriptor: bytes) -> bytes:
        return made[:28] + struct.pack("<H", len(extra)) + made[30:30 + name_len] + extra + \
            made[start:end] + descriptor + made[end + 24:]
    wide, narrow = struct.pack("<IQQ", crc, csize, usize), struct.pack("<III", crc, csize, usize)
    return {"zip64 + 16-byte sizes": variant(zip64 + stamp, b"PK\x07\x08" + wide),
            "zip64 + 8-byte sizes": variant(zip64 + stamp, b"PK\x07\x08" + narrow),
            "no zip64 + 8-byte sizes": variant(stamp, b"PK\x07\x08" + narrow),
            "no zip64 + 16-byte sizes": variant(stamp, b"PK\x07\x08" + wide),
            "zip64 id cleared + 16-byte sizes": variant(b"\x00" + zip64[1:] + stamp, b"PK\x07\x08" + wide),
            "empty zip64 field + 16-byte sizes": variant(b"\x01\x00\x00\x00" + stamp, wide),
            "zip64 after the time + unsigned 16-byte sizes": variant(stamp + zip64, wide),
            "zip64 behind a cut-off field + 16-byte sizes": variant(b"UT\x40\x00" + zip64, b"PK\x07\x08" + wide),
            "zip64 + descriptor cut": variant(zip64 + stamp, b"PK\x07\x08" + wide[:12])}


@pytest.mark.parametrize("case", list(_zip_variants()))
def test_zip_data_descriptor_form_follows_the_zip64_field_like_pigz(tmp_path, case):
    blob = _zip_variants()[case]
    theirs = subprocess.run([tool("pigz"), "-dc"], input=blob, capture_output=True)
    ours = run("-dc", data=blob)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)
    assert ours.stderr.decode().replace("wpigz", "pigz") == theirs.stderr.decode()


# ---- after a member: GNU gzip's rules, compared with gzip itself

@pytest.mark.parametrize("tail, status, message", [
    (b"", 0, ""),
    (bytes(1000), 0, ""),
    (b"garbage!", 2, "wpigz: f.gz: decompression OK, trailing garbage ignored\n"),
    (b"\x00\x00junk", 2, "wpigz: f.gz: decompression OK, trailing garbage ignored\n"),
    (b"\x1f", 1, "wpigz: skipping: f.gz: corrupted -- unexpected end of file\n"),
    (b"\x1f\x8b\x08\x00", 1, "wpigz: skipping: f.gz: corrupted -- unexpected end of file in the gzip header\n"),
])
def test_what_follows_a_member_like_gzip(tmp_path, tail, status, message):
    data = text_bytes(50 * K)
    (tmp_path / "f.gz").write_bytes(made_by([tool("gzip"), "-c"], data) + tail)
    for args in (["-t"], ["-dc"]):
        ours = run(*args, "f.gz", cwd=tmp_path)
        theirs = subprocess.run([tool("gzip"), *args, "f.gz"], cwd=tmp_path, capture_output=True)
        assert ours.returncode == theirs.returncode == status, (args, ours.stderr, theirs.stderr)
        assert ours.stderr.decode() == message
    if status != 1:
        assert run("-dc", "f.gz", cwd=tmp_path).stdout == data


# ---- corrupt input: a clear message naming the file, status 1, input kept, no partial output

def _corruptions() -> dict[str, tuple[bytes, str]]:
    data = text_bytes(300 * K)
    good = made_by([tool("pigz"), "-c", "-n"], data)
    crc_bad = good[:-8] + struct.pack("<I", zlib.crc32(data) ^ 1) + good[-4:]
    length_bad = good[:-4] + struct.pack("<I", len(data) + 1)
    codes_bad = good[:10] + b"\xff\xff\xff\xff" + good[14:]
    zz = made_by([tool("pigz"), "-z", "-c"], data)
    return {
        "truncated body": (good[:len(good) // 2], "corrupted -- incomplete deflate data"),
        "missing trailer": (good[:-5], "corrupted -- missing trailer"),
        "bad crc": (crc_bad, "corrupted -- crc32 mismatch"),
        "bad length": (length_bad, "corrupted -- length mismatch"),
        "invalid codes": (codes_bad, "corrupted -- invalid deflate data (invalid block type)"),
        "bad method": (good[:2] + b"\x07" + good[3:], "unknown compression method 7"),
        "reserved flags": (good[:3] + b"\xe0" + good[4:], "corrupted -- reserved gzip header flags set"),
        "header only": (good[:10], "corrupted -- incomplete deflate data"),
        "bad adler": (zz[:-1] + bytes([zz[-1] ^ 1]), "corrupted -- adler32 mismatch"),
        "bad lzw flags": (b"\x1f\x9d\x70", "unknown lzw flags set"),
        "lzw bits": (b"\x1f\x9d\x88", "lzw bits out of range"),
        "lzw code": (b"\x1f\x9d\x90" + b"\xff\xff\xff", "invalid lzw code"),
    }


@pytest.mark.parametrize("case", list(_corruptions()))
def test_corrupt_file_is_reported_kept_and_leaves_nothing(tmp_path, case):
    blob, reason = _corruptions()[case]
    suffix = ".zz" if "adler" in case else ".Z" if "lzw" in case else ".gz"
    (tmp_path / f"bad{suffix}").write_bytes(blob)
    (tmp_path / "good.gz").write_bytes(made_by([tool("gzip"), "-c"], b"fine\n"))
    proc = run("-d", f"bad{suffix}", "good.gz", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.decode() == f"wpigz: skipping: bad{suffix}: {reason}\n"
    assert sorted(os.listdir(tmp_path)) == sorted([f"bad{suffix}", "good"])     # next file done, no leftovers
    assert (tmp_path / f"bad{suffix}").read_bytes() == blob
    assert run("-t", f"bad{suffix}", cwd=tmp_path).returncode == 1


@pytest.mark.parametrize("blob, message", [(b"", "wpigz: skipping: x.gz empty\n"),
                                           (b"plain text, not compressed\n", "wpigz: skipping: x.gz unrecognized format\n")])
def test_not_compressed(tmp_path, blob, message):
    (tmp_path / "x.gz").write_bytes(blob)
    proc = run("-d", "x.gz", cwd=tmp_path)
    assert (proc.returncode, proc.stderr.decode()) == (1, message)
    assert os.listdir(tmp_path) == ["x.gz"]


def test_force_to_stdout_copies_what_is_not_compressed(tmp_path):
    for blob in (b"", b"plain text\n"):
        (tmp_path / "p").write_bytes(blob)
        proc = run("-cdf", "p", cwd=tmp_path)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, blob, b"")


def _mutants(blob: bytes, rng: random.Random, count: int):
    for _ in range(count):
        b = bytearray(blob)
        for _ in range(rng.randint(1, 4)):
            choice = rng.random()
            if choice < 0.6 and b:
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            elif choice < 0.8 and b:
                del b[rng.randrange(len(b)):]
            else:
                b[rng.randrange(len(b) + 1):0] = bytes([rng.randrange(256)])
        yield bytes(b)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("maker", [["pigz", "-c"], ["pigz", "-z", "-c"], ["pigz", "-K", "-c"], ["compress", "-c"],
                                   ["gzip", "-c"]])
def test_mutated_valid_files_fail_only_cleanly(runtime, maker):
    # must raise one of the documented errors (or decode), never anything else, never hang
    data = text_bytes(40 * K) + random_bytes(2 * K)
    blob = made_by([tool(maker[0]), *maker[1:]], data)
    rng = random.Random(zlib.crc32(" ".join(maker).encode()))      # the same mutants every run
    outcomes = {"ok": 0, "corrupt": 0, "unrecognized": 0}
    for mutant in _mutants(blob, rng, 300):
        try:
            decoded(runtime, mutant)
            outcomes["ok"] += 1
        except CorruptInput:
            outcomes["corrupt"] += 1
        except Unrecognized:
            outcomes["unrecognized"] += 1
    assert outcomes["corrupt"] > 100, outcomes


def test_mutated_files_through_the_command(tmp_path):
    blob = made_by([tool("pigz"), "-c"], text_bytes(20 * K))
    for i, mutant in enumerate(_mutants(blob, random.Random(7), 25)):
        (tmp_path / f"m{i}.gz").write_bytes(mutant)
    names = [f"m{i}.gz" for i in range(25)]
    proc = run("-t", *names, cwd=tmp_path)
    # pigz's verdicts and messages, file by file, and its exit status
    theirs = subprocess.run([tool("pigz"), "-t", *names], cwd=tmp_path, capture_output=True, timeout=120)
    assert proc.returncode == theirs.returncode
    assert proc.stderr.decode() == theirs.stderr.decode().replace("pigz: ", "wpigz: ")
    # and gzip rejects the same files (one at a time: gzip stops a whole run at an unexpected
    # end of file; its messages differ, one or more lines per file)
    rejected = set(re.findall(r"^wpigz: skipping: (m\d+\.gz):", proc.stderr.decode(), re.M))
    assert rejected == {name for name in names
                        if subprocess.run([tool("gzip"), "-t", name], cwd=tmp_path, capture_output=True,
                                          timeout=60).returncode == 1}
    assert len(rejected) > 10, proc.stderr


# ---- file handling when decompressing

def test_decompress_to_file_restores_nothing_by_default_and_removes_input(tmp_path):
    data = text_bytes(100 * K)
    (tmp_path / "orig.txt").write_bytes(data)
    os.utime(tmp_path / "orig.txt", (1_500_000_000, 1_500_000_000))
    subprocess.run([tool("pigz"), "orig.txt"], cwd=tmp_path, check=True)
    os.rename(tmp_path / "orig.txt.gz", tmp_path / "renamed.gz")
    os.utime(tmp_path / "renamed.gz", (1_700_000_000, 1_700_000_000))
    proc = run("-d", "renamed.gz", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert os.listdir(tmp_path) == ["renamed"]
    assert (tmp_path / "renamed").read_bytes() == data
    assert int((tmp_path / "renamed").stat().st_mtime) == 1_700_000_000    # the .gz file's time


def test_name_option_restores_stored_name_and_time(tmp_path):
    data = b"named\n"
    (tmp_path / "orig.txt").write_bytes(data)
    os.utime(tmp_path / "orig.txt", (1_500_000_000, 1_500_000_000))
    subprocess.run([tool("pigz"), "orig.txt"], cwd=tmp_path, check=True)
    os.rename(tmp_path / "orig.txt.gz", tmp_path / "renamed.gz")
    proc = run("-dN", "renamed.gz", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert os.listdir(tmp_path) == ["orig.txt"]
    assert int((tmp_path / "orig.txt").stat().st_mtime) == 1_500_000_000


@pytest.mark.parametrize("name, expected", [("a.gz", "a"), ("a.tgz", "a.tar"), ("a.zz", "a"), ("a.Z", "a"),
                                            ("a-gz", "a"), ("a.zip", "a"), ("a.zst", "a")])
def test_suffixes_removed(tmp_path, name, expected):
    maker = {"a.zz": ["pigz", "-z", "-c"], "a.Z": ["compress", "-c"], "a.zip": ["pigz", "-K", "-c"],
             "a.zst": ["zstd", "-q", "-c"]}.get(name, ["gzip", "-c"])
    (tmp_path / name).write_bytes(made_by([tool(maker[0]), *maker[1:]], b"payload\n"))
    proc = run("-d", name, cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert os.listdir(tmp_path) == [expected] and (tmp_path / expected).read_bytes() == b"payload\n"


def test_without_compressed_suffix_is_skipped_and_s_is_honoured(tmp_path):
    blob = made_by([tool("gzip"), "-c"], b"s\n")
    (tmp_path / "data.foo").write_bytes(blob)
    proc = run("-d", "data.foo", cwd=tmp_path)
    assert (proc.returncode, proc.stderr.decode()) == (2, "wpigz: skipping: data.foo does not have compressed suffix\n")
    proc = run("-d", "-S", ".foo", "data.foo", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert os.listdir(tmp_path) == ["data"]


def test_missing_name_is_tried_with_suffixes(tmp_path):
    (tmp_path / "thing.gz").write_bytes(made_by([tool("gzip"), "-c"], b"found\n"))
    proc = run("-d", "thing", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert (tmp_path / "thing").read_bytes() == b"found\n"


def test_zip_with_later_entries_warns_and_keeps_the_zip(tmp_path):
    import zipfile
    with zipfile.ZipFile(tmp_path / "two.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("first.txt", b"first\n")
        archive.writestr("second.txt", b"second\n")
    proc = run("-d", "two.zip", cwd=tmp_path)
    assert (proc.returncode, proc.stderr.decode()) == (2, "wpigz: two.zip: entries after the first were ignored\n")
    assert sorted(os.listdir(tmp_path)) == ["two", "two.zip"] and (tmp_path / "two").read_bytes() == b"first\n"


# ---- listing, against pigz

def _listing_fixtures(tmp_path):
    data = text_bytes(120 * K)
    (tmp_path / "h.txt").write_bytes(data)
    os.utime(tmp_path / "h.txt", (1_600_000_000, 1_600_000_000))
    subprocess.run([tool("pigz"), "-k", "h.txt"], cwd=tmp_path, check=True)
    subprocess.run([tool("pigz"), "-k", "-z", "h.txt"], cwd=tmp_path, check=True)
    subprocess.run([tool("pigz"), "-k", "-K", "h.txt"], cwd=tmp_path, check=True)
    subprocess.run([tool("pigz"), "-k", "-C", "a comment", "-S", ".c.gz", "h.txt"], cwd=tmp_path, check=True)
    (tmp_path / "h.Z").write_bytes(made_by([tool("compress"), "-c"], data))
    (tmp_path / "multi.gz").write_bytes((tmp_path / "h.txt.gz").read_bytes() * 3)
    return ["h.txt.gz", "h.txt.zz", "h.txt.zip", "h.Z", "multi.gz", "h.txt.c.gz"]


@pytest.mark.parametrize("args", [["-l"], ["-lv"], ["-lt"], ["-ltv"], ["-lq"]])
def test_listing_matches_pigz(tmp_path, args):
    names = _listing_fixtures(tmp_path)
    if "t" in args[0]:
        names = [n for n in names if n.endswith(".gz")]      # pigz 2.6 -lt lists gzip members
    ours = run(*args, *names, cwd=tmp_path)
    theirs = subprocess.run([tool("pigz"), *args, *names], cwd=tmp_path, capture_output=True)
    assert ours.returncode == 0 and ours.stderr == b""
    assert ours.stdout.decode() == theirs.stdout.decode()


def test_listing_zstd_shows_the_frame_size(tmp_path):
    data = text_bytes(64 * K)
    (tmp_path / "z").write_bytes(data)          # from a file, zstd records the content size
    subprocess.run([tool("zstd"), "-q", "--rm", "z"], cwd=tmp_path, check=True)
    proc = run("-l", "z.zst", cwd=tmp_path)
    size = (tmp_path / "z.zst").stat().st_size
    reduced = 100 * (len(data) - size) / len(data)
    assert proc.stdout.decode() == f"compressed   original reduced  name\n{size:10d} {len(data):10d} {reduced:6.1f}%  z\n"


# ---- zstd writing

@pytest.mark.parametrize("level", ["-1", "-6", "-9"])
@pytest.mark.parametrize("threads", ["1", "2"])
def test_zstd_output_is_read_by_zstd(tmp_path, level, threads):
    data = text_bytes(2 * 1024 * K)
    (tmp_path / "f").write_bytes(data)
    proc = run("--zstd", level, "-p", threads, "f", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert os.listdir(tmp_path) == ["f.zst"]
    assert subprocess.run([tool("zstd"), "-dc", "f.zst"], cwd=tmp_path, capture_output=True).stdout == data
    assert run("-t", "f.zst", cwd=tmp_path).returncode == 0


# ---- a decompression bomb streams through with flat memory

@pytest.mark.timeout(300)
def test_bomb_streams_with_flat_memory(tmp_path):
    # 1 GB of zeros in about 1 MB of gzip: -t must decode all of it without holding it
    with open(tmp_path / "bomb.gz", "wb") as out:
        zeros = subprocess.Popen(["head", "-c", str(1 << 30), "/dev/zero"], stdout=subprocess.PIPE)
        subprocess.run([tool("pigz"), "-9"], stdin=zeros.stdout, stdout=out, check=True)
        zeros.wait()
    assert (tmp_path / "bomb.gz").stat().st_size < 2 << 20
    code = ("import resource, subprocess, sys; "
            f"p = subprocess.run({WPIGZ!r} + ['-t', 'bomb.gz']); "
            "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=280)
    status, peak_kib = map(int, out.stdout.split())
    assert status == 0
    assert peak_kib < 150 * 1024, f"peak RSS {peak_kib} KiB while decoding 1 GiB"


@pytest.mark.timeout(600)
def test_listing_past_4_gib_shows_the_real_size_when_decoded(tmp_path):
    # ISIZE keeps only the low 32 bits: plain -l shows them (as pigz does), -lt counts the bytes
    size = (4 << 30) + 12345
    with open(tmp_path / "huge.gz", "wb") as out:
        zeros = subprocess.Popen(["head", "-c", str(size), "/dev/zero"], stdout=subprocess.PIPE)
        subprocess.run([tool("pigz"), "-9", "-n"], stdin=zeros.stdout, stdout=out, check=True)
        zeros.wait()
    quick = run("-l", "huge.gz", cwd=tmp_path).stdout.decode().splitlines()[1].split()
    tested = run("-lt", "huge.gz", cwd=tmp_path).stdout.decode().splitlines()[1].split()
    pigz_row = subprocess.run([tool("pigz"), "-l", "huge.gz"], cwd=tmp_path, capture_output=True).stdout
    assert pigz_row.decode().splitlines()[1].split()[1] == f"{size % (1 << 32)}?"   # pigz: the wrapped ISIZE
    gzip_row = subprocess.run([tool("gzip"), "-l", "huge.gz"], cwd=tmp_path, capture_output=True).stdout
    assert int(gzip_row.decode().splitlines()[1].split()[1]) == size                # gzip 1.12+ counts
    assert int(quick[1]) == int(tested[1]) == size                                  # and so does wpigz


# ---- -cdf after a member, and one lone byte: as gzip 1.13 and pigz

@pytest.mark.parametrize("tail", [b"x", b"yyy\n", b"\0\0", b"\x1f", b"x\0", b"\x1f\x1fabc", b"\0"])
def test_force_to_stdout_copies_what_follows_a_member(tail):
    blob = made_by([tool("gzip"), "-c"], b"w") + tail
    ours = run("-cdf", data=blob)
    for other in ("gzip", "pigz"):
        theirs = subprocess.run([tool(other), "-cdf"], input=blob, capture_output=True)
        assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, b""), other
    assert ours.stdout == b"w" + tail


@pytest.mark.parametrize("tail", [b"x", b"\x1f"])
def test_one_byte_after_a_member_is_a_cut_short_member(tmp_path, tail):
    blob = made_by([tool("gzip"), "-c"], b"w") + tail
    (tmp_path / "f.gz").write_bytes(blob)
    (tmp_path / "g.gz").write_bytes(blob)
    ours = run("-d", "f.gz", cwd=tmp_path)
    theirs = subprocess.run([tool("gzip"), "-d", "g.gz"], cwd=tmp_path, capture_output=True)
    assert ours.returncode == theirs.returncode == 1
    assert ours.stderr.decode() == "wpigz: skipping: f.gz: corrupted -- unexpected end of file\n"
    assert sorted(os.listdir(tmp_path)) == ["f.gz", "g.gz"]          # both inputs kept, no output


# ---- pack (.z): made by a reference packer here, checked against gzip's own unpack

def pack(data: bytes) -> bytes:
    """The pack format (as gzip's unpack.c reads it): Huffman code lengths over the bytes plus
    an end code of weight 0 (so it is among the longest), codes assigned as unpack expects."""
    import heapq
    import itertools
    counts = {b: data.count(bytes([b])) for b in set(data)}
    order = itertools.count()
    heap = [(w, next(order), [s]) for s, w in counts.items()] + [(0, next(order), ["eob"])]
    heapq.heapify(heap)
    depth = {s: 0 for _, _, (s,) in heap}
    while len(heap) > 1:
        w1, _, a = heapq.heappop(heap)
        w2, _, b = heapq.heappop(heap)
        for s in a + b:
            depth[s] += 1
        heapq.heappush(heap, (w1 + w2, next(order), a + b))
    max_len = max(depth.values())
    assert depth["eob"] == max_len <= 24
    by_len = {n: sorted(s for s in depth if depth[s] == n and s != "eob") for n in range(1, max_len + 1)}
    by_len[max_len].append("eob")                                 # the last leaf of the longest codes
    parents, nodes = {}, 0
    for n in range(max_len, 0, -1):
        nodes >>= 1
        parents[n] = nodes
        nodes += len(by_len[n])
    code = {s: (parents[n] + i, n) for n in by_len for i, s in enumerate(by_len[n])}
    header = b"\x1f\x1e" + struct.pack(">I", len(data) & 0xFFFFFFFF) + bytes([max_len])
    header += bytes(len(by_len[n]) - (2 if n == max_len else 0) for n in range(1, max_len + 1))
    header += bytes(s for n in range(1, max_len + 1) for s in by_len[n] if s != "eob")
    bits = "".join(format(c, f"0{n}b") for c, n in (code[b] for b in data)) + format(*code["eob"][:1], f"0{max_len}b")
    bits += "0" * (-len(bits) % 8)
    return header + int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else header


def fibonacci_text(symbols: int) -> bytes:
    a, b, out = 1, 1, bytearray()
    for s in range(symbols):
        out += bytes([65 + s]) * a
        a, b = b, a + b
    return bytes(random.Random(5).sample(list(out), len(out)))


PACK_DATA = {"banana": b"banana", "text": text_bytes(200 * K), "random": random_bytes(100 * K),
             "long codes": fibonacci_text(23), "two bytes": b"ab" * 1000}


def test_pack_example_from_the_issue():
    proc = run("-dc", data=b"\37\36\0\0\0\6\3\1\1\0\141\156\142\26\310")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"banana", b"")


@pytest.mark.parametrize("name", PACK_DATA)
def test_pack_decodes_as_gzip_does(tmp_path, runtime, name):
    data = PACK_DATA[name]
    blob = pack(data)
    assert subprocess.run([tool("gzip"), "-dc"], input=blob, capture_output=True).stdout == data    # the packer is right
    assert decoded(runtime, blob) == data
    mixed = made_by([tool("gzip"), "-c"], b"first\n") + blob + made_by([tool("gzip"), "-c"], b"last\n")
    assert subprocess.run([tool("gzip"), "-dc"], input=mixed, capture_output=True).stdout == b"first\n" + data + b"last\n"
    assert decoded(runtime, mixed) == b"first\n" + data + b"last\n"
    (tmp_path / "f.z").write_bytes(blob)
    proc = run("-d", "f.z", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert (tmp_path / "f").read_bytes() == data


def _pack_corruptions() -> dict[str, bytes]:
    good = pack(b"banana")
    return {
        "truncated codes": good[:-1],
        "truncated header": good[:8],
        "bit length 0": good[:6] + b"\0" + good[7:],
        "bit length 26": good[:6] + b"\x1a" + good[7:],
        "too many leaves": good[:7] + b"\x02" + good[8:],
        "too few leaves": b"\x1f\x1e\0\0\0\1\x02\0\0a",
        "length error": good[:5] + b"\x07" + good[6:],
        "255 leaves": b"\x1f\x1e\0\0\0\1\x08" + bytes([1, 1, 1, 1, 1, 1, 1, 255]),
    }


@pytest.mark.parametrize("case", list(_pack_corruptions()))
def test_corrupt_pack_fails_cleanly_like_gzip(tmp_path, case):
    blob = _pack_corruptions()[case]
    theirs = subprocess.run([tool("gzip"), "-dc"], input=blob, capture_output=True)
    ours = run("-dc", data=blob)
    assert ours.returncode == theirs.returncode == 1, (ours.stderr, theirs.stderr)
    reason = theirs.stderr.decode().strip().split("stdin: ", 1)[1]
    if reason == "unexpected end of file":
        reason = "corrupted -- unexpected end of file"
    assert ours.stderr.decode() == f"wpigz: skipping: <stdin>: {reason}\n"


def test_mutated_pack_fails_only_cleanly_and_agrees_with_gzip(runtime):
    blob = pack(fibonacci_text(12) + text_bytes(4 * K))
    rng = random.Random(11)
    outcomes = {"ok": 0, "corrupt": 0, "unrecognized": 0}
    for i, mutant in enumerate(_mutants(blob, rng, 300)):
        out, unrecognized = None, False
        try:
            out = decoded(runtime, mutant)
            outcomes["ok"] += 1
        except CorruptInput:
            outcomes["corrupt"] += 1
        except Unrecognized:
            outcomes["unrecognized"] += 1
            unrecognized = True
        # every mutant against gzip itself: same verdict, same output; what wpigz does not
        # recognise as pack data, gzip calls "not in gzip format", and nothing else does
        theirs = subprocess.run([tool("gzip"), "-dc"], input=mutant, capture_output=True, timeout=60)
        assert (theirs.returncode == 0) == (out is not None), (i, theirs.stderr)
        if out is not None:
            assert out == theirs.stdout
        assert unrecognized == (b"not in gzip format" in theirs.stderr), (i, theirs.stderr)
    assert outcomes["corrupt"] > 100, outcomes


def test_listing_decodes_only_when_isize_may_have_wrapped(tmp_path):
    # 5 MiB of random data: over 2**32 / 1032 compressed bytes, so -l counts the bytes; the
    # count is right whether or not it decodes, so tell by the time it takes to read the input
    data = random_bytes(5 << 20)
    (tmp_path / "r.gz").write_bytes(made_by([tool("gzip"), "-1", "-c"], data))
    row = run("-l", "r.gz", cwd=tmp_path).stdout.decode().splitlines()[1].split()
    assert int(row[1]) == len(data)
    from wpigz.command import listing
    calls = []
    with open(tmp_path / "r.gz", "rb") as f:
        listing.quick_rows(f, "r.gz", _CountingRuntime(calls))
    assert calls, "a file large enough to wrap ISIZE is decoded"
    small = tmp_path / "s.gz"
    small.write_bytes(made_by([tool("gzip"), "-c"], b"small\n"))
    calls.clear()
    with open(small, "rb") as f:
        assert listing.quick_rows(f, "s.gz", _CountingRuntime(calls))[0].original == 6
    assert calls == []


class _CountingRuntime(Runtime):
    def __init__(self, calls: list) -> None:
        self._calls: list = []              # Runtime's own start-up calls are not counted
        super().__init__(engine=DECODER_ENGINE)     # the engine decoders run in (else they run elsewhere)
        self._calls = calls

    def call(self, name: str, *args: int) -> int:
        self._calls.append(name)
        return super().call(name, *args)


def test_listing_a_pack_file(tmp_path):
    (tmp_path / "b.z").write_bytes(pack(b"banana" * 100))
    proc = run("-l", "b.z", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.decode().splitlines()[1].split()[:2] == [str(len(pack(b"banana" * 100))), "600"]
