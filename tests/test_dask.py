"""wpigz.dask on a real Dask cluster: splitting gzip files at member boundaries, and writing one.

The cluster is a distributed.LocalCluster of two worker PROCESSES (so every block is decoded
by the wasm engine in another process than the test's), made once per session. Every result
is compared with what pandas, Python's gzip or Dask itself make of the plain data. Files are
made here: with wpigz's --members layout (indexed members, IG), or by concatenating members
compressed separately (to put member boundaries exactly where a test wants them), by `bgzip`
(BGZF, BC), by pgzip (IG) and by gzip/pigz (no sizes: one partition and a warning).
memory:// files exist only in the process that made them, so those tests use Dask's
synchronous scheduler.
"""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

# the [dask] extra is required, as the real tools are (.ci/run installs it): missing is a failure
import dask
import dask.bag as db
import dask.dataframe as dd
import fsspec
import pandas as pd
import pgzip
from distributed import Client, LocalCluster

import wpigz
import wpigz.dask as wd
from conftest import tool

pytestmark = pytest.mark.timeout(240)       # a stuck cluster must fail the test, not hang the run


@pytest.fixture(scope="session")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as c:
        yield c


def members(*pieces: bytes) -> bytes:
    """Indexed members, one per piece: a file whose member boundaries are where the test says."""
    return b"".join(wpigz.compress(p, engine="libdeflate", members=True, mtime=0) for p in pieces)


def table(rows: int, crlf: bool = False) -> bytes:
    """A CSV with a header and lines of varied length (ints, floats, strings with commas quoted)."""
    end = "\r\n" if crlf else "\n"
    lines = ["id,value,name"] + [f'{i},{i * 0.25},"n{i % 17},{"x" * (i % 11)}"' for i in range(rows)]
    return (end.join(lines) + end).encode()


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame with a fresh index and strings as objects: Dask's partitions each start their
    index at 0 and Dask may store strings as pyarrow strings; the values are what count."""
    frame = frame.reset_index(drop=True)
    return frame.astype({c: object for c in frame.columns if pd.api.types.is_string_dtype(frame[c])})


def same_frame(got: dd.DataFrame, data: bytes, **kwargs) -> None:
    pd.testing.assert_frame_equal(plain(got.compute()), plain(pd.read_csv(io.BytesIO(data), **kwargs)))


def lines_of(data: bytes) -> list[str]:
    return list(io.StringIO(data.decode(), newline=None))      # dask.bag.read_text's lines


# ---- splitting at every position around members and lines

def around_lines(data: bytes) -> list[bytes]:
    """data cut into members whose boundaries fall at every position around line ends: two
    bytes before one line's end, one before the next's (between CR and LF with CRLF), at the
    next, one and two after, and then a one-byte member holding a line's end, an empty member,
    and a member of one byte just after a line's end."""
    ends = [i + 1 for i, c in enumerate(data) if c == ord("\n")]
    cuts = [ends[2 + 2 * j] + d for j, d in enumerate((-2, -1, 0, 1, 2))]
    cuts += [ends[14] - 1, ends[14], ends[16], ends[16], ends[18], ends[18] + 1]
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


@pytest.mark.parametrize("crlf", [False, True])
def test_blocks_at_every_position_around_lines(client, tmp_path, crlf):
    data = table(24, crlf)
    pieces = around_lines(data)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(members(*pieces))
    # blocksize=1: every member is a block of its own
    blocks = wd.read_bytes(str(path), blocksize=1, delimiter=b"\n", sample=False)[1][0]
    assert len(blocks) == len(pieces)
    got = dask.compute(*blocks)
    assert b"".join(got) == data
    for block in got:                   # no line is split: each block is whole lines
        assert not block or block.endswith(b"\n"), block
    # the one-byte member starts a line: that line ends in the next member, and belongs to the
    # block before, as a line that starts in a block's last byte does for plain files
    assert got[-2] == b"" and got[-3].endswith(b"1" + pieces[-1].split(b"\n")[0] + b"\n")
    bag = wd.read_text(str(path), blocksize=1)
    assert bag.npartitions == len(blocks)
    assert bag.compute() == lines_of(data)
    same_frame(wd.read_csv(str(path), blocksize=1), data)
    # and a delimiter that two members share, CR in one and LF in the next
    if crlf:
        got = dask.compute(*wd.read_bytes(str(path), blocksize=1, delimiter=b"\r\n", sample=False)[1][0])
        assert b"".join(got) == data and all(not b or b.endswith(b"\r\n") for b in got)


def test_read_csv_many_partitions_and_pandas_keywords(client, tmp_path):
    data = table(20000)
    path = tmp_path / "t.csv.gz"
    with wpigz.open(path, "wb", engine="libdeflate", members=True, blocksize=32 * 1024) as f:
        f.write(data)
    df = wd.read_csv(str(path), blocksize=100_000)
    assert df.npartitions >= 4
    same_frame(df, data)
    same_frame(wd.read_csv(str(path), blocksize="200 kB", usecols=["id", "name"], dtype={"id": "float64"}),
               data, usecols=["id", "name"], dtype={"id": "float64"})
    names = ["a", "b", "c"]
    same_frame(wd.read_csv(str(path), blocksize=100_000, names=names, header=None, skiprows=1),
               data, names=names, header=None, skiprows=1)
    text = wd.read_text(f"file://{path}", blocksize=100_000)
    assert text.npartitions == df.npartitions
    assert text.compute() == lines_of(data)


def test_read_bytes_sample_and_paths(client, tmp_path):
    data = table(3000)
    path = tmp_path / "t.gz"
    path.write_bytes(members(data[:5000], data[5000:20000], data[20000:]))
    sample, blocks, paths = wd.read_bytes(str(path), blocksize=1, delimiter=b"\n", sample=100,
                                          include_path=True)
    assert data.startswith(sample) and sample.endswith(b"\n") and len(sample) >= 100
    assert paths == [str(path)] and len(blocks[0]) == 3
    assert b"".join(dask.compute(*blocks[0])) == data
    sample, blocks = wd.read_bytes(str(path), blocksize=None)        # no delimiter, one block
    assert len(blocks[0]) == 1 and dask.compute(*blocks[0]) == (data,)


def test_globs_several_files_empty_and_one_line(client, tmp_path):
    a, b = table(500), table(700)
    (tmp_path / "a.csv.gz").write_bytes(members(a[:3000], a[3000:]))
    (tmp_path / "b.csv.gz").write_bytes(members(b[:100], b[100:9000], b[9000:]))
    (tmp_path / "c.csv.gz").write_bytes(b"")                          # an empty file: no partition
    df = wd.read_csv(str(tmp_path / "*.csv.gz"), blocksize=1000)
    assert df.npartitions == 5
    expected = pd.concat([pd.read_csv(io.BytesIO(a)), pd.read_csv(io.BytesIO(b))])
    pd.testing.assert_frame_equal(plain(df.compute()), plain(expected))
    # one line, no final newline; one member
    one = tmp_path / "one.csv.gz"
    one.write_bytes(members(b"id,value\n1,2"))
    same_frame(wd.read_csv(str(one), blocksize=1), b"id,value\n1,2")
    assert wd.read_text(str(one), blocksize=1).compute() == ["id,value\n", "1,2"]
    # empty: pandas' error for an empty file, and no lines or blocks
    for name, blob in (("empty.gz", b""), ("member.gz", members(b""))):
        path = tmp_path / name
        path.write_bytes(blob)
        with pytest.raises(pd.errors.EmptyDataError):
            pd.read_csv(path)
        with pytest.raises(pd.errors.EmptyDataError):
            wd.read_csv(str(path))
        assert wd.read_text(str(path)).compute() == []
        assert b"".join(dask.compute(*wd.read_bytes(str(path), delimiter=b"\n")[1][0])) == b""


def test_bgzf_from_bgzip_and_pgzip_split(client, tmp_path):
    data = table(40000)
    bgzf = tmp_path / "t.csv.bgz"
    bgzf.write_bytes(subprocess.run([tool("bgzip"), "-c"], input=data, capture_output=True, check=True).stdout)
    buffer = io.BytesIO()
    with pgzip.open(buffer, "wb", thread=2, blocksize=100_000) as f:
        f.write(data)
    pg = tmp_path / "t.csv.pgz"
    pg.write_bytes(buffer.getvalue())
    for path in (bgzf, pg):
        with warnings.catch_warnings():
            warnings.simplefilter("error")          # splittable: no warning
            df = wd.read_csv(str(path), blocksize=300_000)
        assert df.npartitions >= 4, path
        same_frame(df, data)


@pytest.mark.parametrize("writer", ["gzip", "pigz"])
def test_file_without_sizes_is_one_partition_with_a_warning(client, tmp_path, writer):
    data = table(20000)
    blob = gzip.compress(data) if writer == "gzip" else \
        subprocess.run([tool("pigz"), "-c"], input=data, capture_output=True, check=True).stdout
    path = tmp_path / "t.csv.gz"
    path.write_bytes(blob)
    with pytest.warns(wd.UnsplittableWarning) as caught:
        df = wd.read_csv(str(path), blocksize=10_000)
    assert len(caught) == 1
    assert str(caught[0].message) == (
        f"wpigz: {path}: its members do not state their sizes, so they are read as one partition; "
        "write it with `wpigz --members` (indexed members) or `wpigz --bgzf` to make it splittable")
    assert df.npartitions == 1
    same_frame(df, data)


def test_unindexed_tail_goes_with_the_last_partition(client, tmp_path):
    data = table(3000)
    path = tmp_path / "t.csv.gz"
    path.write_bytes(members(data[:10000], data[10000:30000]) + gzip.compress(data[30000:]))
    with pytest.warns(wd.UnsplittableWarning, match="from byte"):
        df = wd.read_csv(str(path), blocksize=1)
    assert df.npartitions == 2
    same_frame(df, data)


def test_corrupt_member_names_file_and_offset(client, tmp_path):
    data = table(3000)
    pieces = [data[:20000], data[20000:40000], data[40000:]]
    blob = bytearray(members(*pieces))
    offset = len(members(*pieces[:2]))           # the third member
    blob[offset + 40] ^= 0xFF                   # inside its deflate body
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(wpigz.BadGzipFile, match=rf"^wpigz: {path}: member at byte {offset}: "):
        wd.read_csv(str(path), blocksize=1).compute()
    with pytest.raises(wpigz.BadGzipFile, match=rf"^wpigz: {path}: member at byte {offset}: "):
        wd.read_text(str(path), blocksize=None).compute()


# ---- writing one file

def frames_with_an_empty_partition() -> tuple[dd.DataFrame, pd.DataFrame]:
    whole = pd.read_csv(io.BytesIO(table(30000)))
    parts = [whole.iloc[:10000], whole.iloc[:0], whole.iloc[10000:25000], whole.iloc[25000:]]
    return dd.from_delayed([dask.delayed(p) for p in parts], meta=whole.iloc[:0]), whole


def test_to_csv_writes_one_file_that_every_reader_reads_and_read_csv_splits(client, tmp_path):
    df, whole = frames_with_an_empty_partition()
    out = tmp_path / "out.csv.gz"
    assert wd.to_csv(df, str(out), index=False) == [str(out)]
    expected = whole.to_csv(index=False).encode()
    blob = out.read_bytes()
    assert gzip.decompress(blob) == expected
    assert subprocess.run([tool("pigz"), "-dc"], input=blob, capture_output=True, check=True).stdout == expected
    assert subprocess.run([tool("gzip"), "-dc"], input=blob, capture_output=True, check=True).stdout == expected
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv.gz"]       # the part files are gone
    again = wd.read_csv(str(out), blocksize=100_000)
    assert again.npartitions > 1
    same_frame(again, expected)


def test_to_textfiles_joins_lines_as_dask_does(client, tmp_path):
    parts = [["a", "b"], [], ["c"], [], ["d", "é"]]
    bag = db.from_delayed([dask.delayed(p) for p in parts])
    for last_endline in (False, True):
        out = tmp_path / f"out{last_endline}.txt.gz"
        wd.to_textfiles(bag, str(out), last_endline=last_endline)
        assert gzip.decompress(out.read_bytes()) == ("a\nb\nc\nd\né" + "\n" * last_endline).encode()
    # the same, as one plain file written by Dask itself
    dask_out = tmp_path / "dask"
    db.from_sequence([x for p in parts for x in p], npartitions=1).to_textfiles(str(dask_out / "*.txt"))
    assert (dask_out / "0.txt").read_bytes() == gzip.decompress((tmp_path / "outFalse.txt.gz").read_bytes())


def test_memory_urls_and_fsspec_codec(tmp_path):
    data = table(2000)
    with fsspec.open("memory://wpigz-test/t.csv.gz", "wb", compression="wpigz") as f:
        f.write(data)
    with fsspec.open("memory://wpigz-test/t.csv.gz", "rb") as f:
        blob = f.read()
    assert gzip.decompress(blob) == data
    assert len(list(wpigz.decode.members.indexed_members(io.BytesIO(blob), len(blob)))) >= 1
    with fsspec.open("memory://wpigz-test/t.csv.gz", "rt", compression="wpigz", newline="") as f:
        assert f.read() == data.decode()
    # a file written by pigz, read through the codec
    (tmp_path / "p.gz").write_bytes(subprocess.run([tool("pigz"), "-c"], input=data, capture_output=True,
                                                   check=True).stdout)
    with fsspec.open(f"file://{tmp_path}/p.gz", "rb", compression="wpigz") as f:
        assert f.read() == data
    with dask.config.set(scheduler="sync"):
        df = wd.read_csv("memory://wpigz-test/t.csv.gz", blocksize=1000)
        same_frame(df, data)
        wd.to_csv(df, "memory://wpigz-test/out.csv.gz", index=False)
    with fsspec.open("memory://wpigz-test/out.csv.gz", "rb", compression="gzip") as f:
        assert f.read() == data
    assert fsspec.filesystem("memory").ls("/wpigz-test", detail=False) == ["/wpigz-test/out.csv.gz",
                                                                           "/wpigz-test/t.csv.gz"]


def test_the_core_does_not_import_dask_pandas_or_fsspec():
    """Only wpigz.dask and wpigz.fsspec import them: the command's start-up does not change."""
    code = ("import sys, wpigz, wpigz.command.cli, wpigz.api, wpigz.decode.members, wpigz.command.listing, wpigz.command.files\n"
            "print(sorted(m for m in ('dask', 'pandas', 'fsspec', 'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent).stdout
    assert out.strip() == "[]"
