"""--bgzf and the library's bgzf=True: htslib's BGZF, checked against the real tools. bgzip
(Debian's tabix package) indexes wpigz's output (it refuses anything but BGZF) and reads any
range of it; tabix indexes BED and VCF files compressed by wpigz and answers region queries
exactly as a filter of the plain file does; samtools (Debian's samtools package) builds a FASTA
index (.fai and .gzi) and a SAM index on wpigz's output and reads regions through them. wpigz
reads bgzip's output, decoding its members in parallel, with as many workers as -p (or the
reader's threads) asks for."""

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
from wpigz.decode import entry, sequential as decoding, members
from wpigz.encode import framing
from wpigz.sandbox.wasm_host import Runtime

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
    path.write_bytes(subprocess.run([sys.executable, "-m", "wpigz", "--engine", "libdeflate", "--members"], input=DATA,
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
    out = b"".join(bytes(p) for p in entry.decode(io.BytesIO(blob), Runtime(), found))
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
    (("--engine", "zlib"), "wpigz: --bgzf needs --engine libdeflate, not zlib\n"),     # asked for, not the default
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


# ---- samtools and tabix read wpigz's BGZF: small synthetic genomics files of a few hundred KiB,
# several BGZF members each

CHROMS = (("chr1", 120_000), ("chr2", 100_000), ("chr3", 80_000))       # FASTA and SAM
ANNOTATED = (("chr1", 240_000), ("chr2", 200_000), ("chr3", 160_000))    # BED and VCF: about 10,000 lines


def sorted_bed(rng: random.Random) -> str:
    """BED6 features, sorted by chromosome and start, overlapping each other (tabix's case)."""
    lines = []
    for name, length in ANNOTATED:
        start = 0
        while (start := start + rng.randint(0, 120)) + 2000 < length:
            lines.append(f"{name}\t{start}\t{start + rng.randint(1, 2000)}\tf{len(lines)}\t{rng.randint(0, 1000)}"
                         f"\t{rng.choice('+-')}\n")
    return "".join(lines)


def sorted_vcf(rng: random.Random) -> tuple[str, str]:
    """(header, records) of a VCF of SNPs, sorted by chromosome and position."""
    header = "##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID={name},length={length}>\n"
                                                  for name, length in ANNOTATED)
    header += '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
    header += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    records = []
    for name, length in ANNOTATED:
        pos = 0
        while (pos := pos + rng.randint(1, 120)) <= length:
            ref, alt = rng.sample("ACGT", 2)
            records.append(f"{name}\t{pos}\t.\t{ref}\t{alt}\t{rng.randint(10, 99)}\tPASS\tDP={rng.randint(1, 200)}\n")
    return header, "".join(records)


def fasta(rng: random.Random) -> tuple[dict[str, str], str]:
    """(sequences, the file's text with 60 bases a line, as samtools writes regions)."""
    sequences = {name: "".join(rng.choices("ACGT", k=length)) for name, length in CHROMS}
    text = "".join(f">{name}\n" + "".join(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60))
                   for name, seq in sequences.items())
    return sequences, text


def sorted_sam(rng: random.Random) -> tuple[str, list[tuple[str, int, str]]]:
    """(a coordinate-sorted SAM file of 100-base reads, the (chromosome, position, line) of each read)."""
    text = "@HD\tVN:1.6\tSO:coordinate\n" + "".join(f"@SQ\tSN:{name}\tLN:{length}\n" for name, length in CHROMS)
    reads = []
    for name, length in CHROMS:
        pos = 1
        while (pos := pos + rng.randint(0, 300)) + 100 <= length:
            bases = "".join(rng.choices("ACGT", k=100))
            quals = "".join(rng.choices("#+5:?FIJ", k=100))
            line = f"r{len(reads)}\t{rng.choice((0, 16))}\t{name}\t{pos}\t60\t100M\t*\t0\t0\t{bases}\t{quals}\n"
            reads.append((name, pos, line))
    return text + "".join(line for _, _, line in reads), reads


def bgzf_file(tmp_path: Path, name: str, text: str) -> Path:
    """text written to tmp_path/name and compressed by `wpigz --bgzf` into name.gz."""
    plain = tmp_path / name
    plain.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "wpigz", "--bgzf", "-k", str(plain)], capture_output=True,
                          timeout=120)
    assert (proc.returncode, proc.stderr) == (0, b"")
    packed = tmp_path / (name + ".gz")
    assert len(bgzf_members(packed.read_bytes())) >= 5         # several BGZF blocks
    return packed


def run(*args: str) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    return proc.stdout


def lines_of(text: str) -> list[str]:
    return text.splitlines(keepends=True)


# regions (1-based, inclusive) at a chromosome's ends, in the middle, and long enough to cross
# BGZF blocks
REGIONS = (("chr1", 1, 5_000), ("chr2", 100_000, 130_000), ("chr2", 1, 250_000), ("chr3", 150_000, 160_000))


def test_tabix_indexes_wpigz_bed_and_queries_exactly(tmp_path):
    text = sorted_bed(random.Random(16))
    packed = bgzf_file(tmp_path, "features.bed", text)
    run(tool("tabix"), "-p", "bed", str(packed))
    assert (tmp_path / "features.bed.gz.tbi").exists()
    for chrom, beg, end in REGIONS:
        # BED is 0-based and half-open: a feature [s, e) overlaps beg..end when s < end and e >= beg
        expected = [line for line in lines_of(text) if line.split("\t")[0] == chrom
                    and int(line.split("\t")[1]) < end and int(line.split("\t")[2]) >= beg]
        assert expected, "the region must hold features"
        assert lines_of(run(tool("tabix"), str(packed), f"{chrom}:{beg}-{end}")) == expected


def test_tabix_indexes_wpigz_vcf_and_queries_exactly(tmp_path):
    header, records = sorted_vcf(random.Random(16))
    packed = bgzf_file(tmp_path, "calls.vcf", header + records)
    # the library writes the same file (docs/library.md's example)
    library = tmp_path / "library.vcf.gz"
    with wpigz.open(library, "wt", bgzf=True, encoding="ascii") as f:
        f.write(header)
        f.writelines(lines_of(records))
    assert library.read_bytes() == packed.read_bytes()
    run(tool("tabix"), "-p", "vcf", str(packed))
    assert run(tool("tabix"), "-H", str(packed)) == header
    for chrom, beg, end in REGIONS:
        expected = [line for line in lines_of(records) if line.split("\t")[0] == chrom
                    and beg <= int(line.split("\t")[1]) <= end]
        assert expected
        assert lines_of(run(tool("tabix"), str(packed), f"{chrom}:{beg}-{end}")) == expected


def test_samtools_faidx_reads_regions_of_wpigz_fasta(tmp_path):
    sequences, text = fasta(random.Random(16))
    packed = bgzf_file(tmp_path, "genome.fa", text)
    run(tool("samtools"), "faidx", str(packed))         # builds the .fai and, for BGZF, the .gzi
    assert (tmp_path / "genome.fa.gz.fai").exists() and (tmp_path / "genome.fa.gz.gzi").exists()
    for chrom, beg, end in (("chr2", 100, 250), ("chr1", 1, 120_000), ("chr1", 65_000, 66_000),
                            ("chr3", 79_990, 80_000)):
        seq = sequences[chrom][beg - 1:end]
        expected = f">{chrom}:{beg}-{end}\n" + "".join(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60))
        assert run(tool("samtools"), "faidx", str(packed), f"{chrom}:{beg}-{end}") == expected
        assert run(tool("samtools"), "faidx", str(tmp_path / "genome.fa"), f"{chrom}:{beg}-{end}") == expected


def test_samtools_indexes_and_views_wpigz_sam(tmp_path):
    text, reads = sorted_sam(random.Random(16))
    packed = bgzf_file(tmp_path, "reads.sam", text)
    assert run(tool("samtools"), "view", str(packed)) == run(tool("samtools"), "view", str(tmp_path / "reads.sam"))
    assert run(tool("samtools"), "view", "-c", str(packed)) == f"{len(reads)}\n"
    assert run(tool("samtools"), "view", "-H", "--no-PG", str(packed)) == text[:text.index("r0\t")]
    run(tool("samtools"), "quickcheck", str(packed))
    run(tool("samtools"), "index", str(packed))         # only a BGZF-compressed SAM can be indexed
    for chrom, beg, end in (("chr1", 1, 300), ("chr2", 40_000, 70_000), ("chr3", 79_000, 80_000)):
        # a 100M read at pos covers pos..pos+99
        expected = [line for name, pos, line in reads if name == chrom and pos <= end and pos + 99 >= beg]
        assert expected
        assert lines_of(run(tool("samtools"), "view", str(packed), f"{chrom}:{beg}-{end}")) == expected


@pytest.mark.parametrize("command, make", [
    (("tabix", "-p", "bed"), lambda rng: sorted_bed(rng)),
    (("samtools", "faidx"), lambda rng: fasta(rng)[1]),
    (("samtools", "index"), lambda rng: sorted_sam(rng)[0]),
])
def test_the_tools_refuse_gzip_that_is_not_bgzf(tmp_path, command, make):
    # the tests above have teeth: these indexers accept BGZF only (samtools view reads any gzip)
    path = tmp_path / "plain.gz"
    path.write_bytes(pigz(make(random.Random(1)).encode()))
    proc = subprocess.run([tool(command[0]), *command[1:], str(path)], capture_output=True, timeout=60)
    assert proc.returncode != 0 and (b"BGZF" in proc.stderr or b"bgzip" in proc.stderr), proc.stderr


# ---- decoding threads follow -p (and the reader's threads)

COUNTING_POOLS = """\
import sys
from wpigz.command import cli
from wpigz.decode import members
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
        subprocess.run([sys.executable, "-m", "wpigz", "--engine", "libdeflate", "--members", "-b", "64", "-k", str(path)],
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
