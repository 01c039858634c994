"""wpigz's compressed bytes are exactly pigz 2.6's, and decompress with gzip, pigz and Python.

pigz runs with -p 2 or more (its parallel path), which wpigz reproduces for every thread count,
-p 1 included. Streams without a name are compared with pigz -n, so MTIME is 0 on both sides.
"""

from __future__ import annotations

import pytest

from conftest import gzip_test_ok, pigz, python_decompress, random_bytes, text_bytes, wpigz_bytes

K = 1024
# empty, tiny, around the dictionary size, around the block size, exact multiples of it
EDGE_SIZES = [0, 1, 2, 3, 32 * K - 1, 32 * K, 32 * K + 1,
              128 * K - 1, 128 * K, 128 * K + 1, 256 * K, 3 * 128 * K + 5]


def check(runtime, data: bytes, *args: str, threads: int = 2) -> None:
    zlib_format = "-z" in args
    ours = wpigz_bytes(runtime, data, "-n", "-p", str(threads), *args)
    theirs = pigz(data, "-n", "-p", "2", *args)
    assert ours == theirs, f"differs from pigz for {len(data)} bytes with {args} -p {threads}"
    assert python_decompress(ours, zlib_format=zlib_format) == data
    gzip_test_ok(ours, zlib_format=zlib_format)


@pytest.mark.parametrize("size", EDGE_SIZES)
@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_edge_sizes_text(runtime, size, level):
    check(runtime, text_bytes(size), f"-{level}")


@pytest.mark.parametrize("level", range(10))
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_every_level_several_mb_of_text(runtime, level, threads):
    check(runtime, text_bytes(3 * 1024 * K + 12345), f"-{level}", threads=threads)


@pytest.mark.parametrize("kind", ["random", "zeros"])
@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_random_and_zeros(runtime, kind, level):
    data = random_bytes(1024 * K + 7) if kind == "random" else bytes(2 * 1024 * K)
    check(runtime, data, f"-{level}")


@pytest.mark.parametrize("blocksize", ["32", "128", "1024"])
@pytest.mark.parametrize("level", [0, 1, 6])
@pytest.mark.parametrize("size", [0, 32 * K, 100 * K, 1024 * K, 2 * 1024 * K + 1])
def test_block_sizes(runtime, blocksize, level, size):
    check(runtime, text_bytes(size), f"-{level}", "-b", blocksize)


@pytest.mark.parametrize("level", [0, 1, 3, 6, 9])
@pytest.mark.parametrize("size", [0, 1, 128 * K, 128 * K + 1, 1024 * K + 3])
@pytest.mark.parametrize("threads", [1, 4])
def test_independent(runtime, level, size, threads):
    check(runtime, text_bytes(size), f"-{level}", "-i", threads=threads)


@pytest.mark.parametrize("level", [0, 1, 2, 5, 6, 8, 9])
@pytest.mark.parametrize("size", [0, 1, 3, 128 * K, 1024 * K + 3])
def test_zlib_format(runtime, level, size):
    check(runtime, text_bytes(size), f"-{level}", "-z")


@pytest.mark.parametrize("args", [("-z", "-i"), ("-z", "-b", "32"), ("-i", "-b", "32"), ("--fast",), ("--best",)])
def test_option_combinations(runtime, args):
    check(runtime, text_bytes(700 * K + 11), *args)
