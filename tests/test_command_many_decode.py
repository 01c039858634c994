"""Many files in one decompressing or testing command (issue 25): small files decoded side by
side on the command's workers (wpigz/command/decompressing.py), and every file still as safe,
as correct and as reported as if it were decoded alone.

The trees are generated here (test_command_many_files' small and large files), compressed by
pigz; GNU gzip, run on an identical copy, is the reference for what decompressing leaves.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import zlib

import pytest

from conftest import random_bytes, text_bytes, tool, without_privileges
from test_command_many_files import (K, MTIME, _limit_file_size, build_tree, environment, make, small,
                                     tree_around_a_big_file, walk)

WPIGZ = [sys.executable, "-m", "wpigz"]


def packed_tree(root, count: int = 1500) -> list[str]:
    """build_tree's files, plus one whose compressed size is over 1 MiB (decoded alone) and
    one whose output is far larger than its .gz, compressed by pigz (the originals removed);
    returns the .gz files' relative paths in the order -r visits them."""
    build_tree(root, count=count)
    make(root / "b" / "big4", random_bytes(1536 * K, seed=4))
    make(root / "b" / "zeros", bytes(3 << 20))
    subprocess.run([tool("pigz"), "-r", "-p", "2", str(root)], check=True, timeout=200)
    return walk(root)


def originals(names: list[str]) -> dict[str, bytes]:
    """name (without .gz) -> the bytes it was made from."""
    made = {"b/big1": text_bytes(1024 * K + 1), "b/big2": random_bytes(3 * 128 * K), "b/big3": text_bytes(3 * 1024 * K),
            "b/big4": random_bytes(1536 * K, seed=4), "b/zeros": bytes(3 << 20)}
    return {name[:-3]: made.get(name[:-3]) or small(int(name[:-3].rsplit("/f", 1)[1])) for name in names}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("threads", ["1", "2", "4"])
def test_a_tree_of_thousands_of_small_gz_files_and_a_few_large_decompresses_as_gzip_does(tmp_path, threads):
    ours, theirs = tmp_path / "ours" / "tree", tmp_path / "theirs" / "tree"
    names = packed_tree(ours)
    shutil.copytree(ours, theirs)
    proc = subprocess.run([*WPIGZ, "-d", "-r", "-p", threads, "tree"], cwd=ours.parent, capture_output=True,
                          timeout=250, env=environment())
    subprocess.run([tool("gzip"), "-d", "-r", "tree"], cwd=theirs.parent, check=True, timeout=250)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert walk(ours) == walk(theirs) == sorted(originals(names))
    for name, data in originals(names).items():
        assert (ours / name).read_bytes() == data, name
        mine, gzips = os.stat(ours / name), os.stat(theirs / name)
        assert (mine.st_mtime, mine.st_mode) == (gzips.st_mtime, gzips.st_mode), name


@pytest.mark.timeout(300)
def test_testing_a_tree_reports_each_bad_file_in_its_place(tmp_path):
    root = tmp_path / "tree"
    names = packed_tree(root, count=600)
    good = subprocess.run([*WPIGZ, "-t", "-r", "-p", "2", "tree"], cwd=tmp_path, capture_output=True, timeout=100,
                          env=environment())
    assert (good.returncode, good.stdout, good.stderr) == (0, b"", b"")
    bad = {names[10]: "crc", names[300]: "cut", names[500]: "garbage"}
    for name, kind in bad.items():
        path = root / name
        data = path.read_bytes()
        if kind == "crc":
            path.write_bytes(data[:-8] + bytes([data[-8] ^ 1]) + data[-7:])
        elif kind == "cut":
            path.write_bytes(data[:len(data) // 2])
        else:
            path.write_bytes(data + b"trailing junk")
    proc = subprocess.run([*WPIGZ, "-t", "-r", "-p", "2", "tree"], cwd=tmp_path, capture_output=True, timeout=100,
                          env=environment())
    alone = [subprocess.run([*WPIGZ, "-t", f"tree/{name}"], cwd=tmp_path, capture_output=True, timeout=60,
                            env=environment()).stderr for name in bad]
    assert all(alone) and proc.returncode == 1
    assert proc.stderr == b"".join(alone)


@pytest.mark.timeout(300)
def test_mixed_failures_leave_every_other_file_intact_and_messages_in_order(tmp_path):
    # a corrupt .gz, one that is not gzip at all, an unreadable file, an existing output, a
    # file that vanishes mid-run and a decoder whose wasm instance traps: each is reported in
    # its place (with the words wpigz says for that file alone), every other file is right
    root = tmp_path / "tree"
    names = packed_tree(root)
    make(root / "c" / "corrupt.gz", zlib.compress(b"x" * 5000, wbits=31)[:-5] + b"\0\0\0\0\0")
    make(root / "c" / "notgzip.gz", b"plain text, not compressed\n")
    make(root / "c" / "old", b"not to be touched\n")
    make(root / "c" / "old.gz", zlib.compress(b"new\n", wbits=31))
    make(root / "c" / "secret.gz", zlib.compress(b"secret\n", wbits=31))
    make(root / "z" / "vanish.gz", zlib.compress(text_bytes(5000), wbits=31))
    names = walk(root)
    failing = ["c/corrupt.gz", "c/notgzip.gz"]
    said = {name: subprocess.run([*WPIGZ, "-d", "-k", f"tree/{name}"], cwd=tmp_path, capture_output=True,
                                 timeout=60, env=environment()).stderr.decode().rstrip("\n") for name in failing}
    assert all(said.values())
    os.chmod(root / "c" / "secret.gz", 0)
    victim = "a/f0700.gz"
    inputs = [name for name in names if name.endswith(".gz")]     # c/old is passed over, silently
    proc = subprocess.Popen([*without_privileges(), *WPIGZ, "-v", "-d", "-r", "-p", "2", "tree"], cwd=tmp_path,
                            stderr=subprocess.PIPE,
                            env=environment(WPIGZ_TEST_TRAP_DECODE=str(inputs.index(victim) + 1)))
    lines = []
    assert proc.stderr is not None
    for raw in proc.stderr:
        line = raw.decode().rstrip("\n")
        lines.append(line)
        if line == "tree/a/f0100.gz to tree/a/f0100 ":
            os.unlink(root / "z" / "vanish.gz")     # wpigz is far from it: at most 16 files ahead
    assert proc.wait(timeout=200) == 1
    expected = []
    failed = {**said, victim: "trap", "c/old.gz": "wpigz: skipping: tree/c/old exists",
              "c/old": None, "c/secret.gz": "wpigz: tree/c/secret.gz: Permission denied",
              "z/vanish.gz": "wpigz: tree/z/vanish.gz: No such file or directory"}
    for name in names:
        if name.endswith(".gz"):
            expected.append(failed.get(name, f"tree/{name} to tree/{name[:-3]} "))
    at = expected.index("trap")
    assert lines[at].startswith(f"wpigz: tree/{victim}: wpigz_inflater_step trapped"), lines[at]
    expected[at] = lines[at]
    assert lines == expected
    data = originals([n for n in names if n.endswith(".gz") and n not in failed])
    for name, original in data.items():
        assert (root / name).read_bytes() == original, name
        assert not (root / (name + ".gz")).exists(), name
    for name in failed:
        if name not in ("c/old", "c/old.gz"):
            assert not (root / name[:-3]).exists() and (name == "z/vanish.gz" or (root / name).exists()), name
    assert (root / "c" / "old").read_bytes() == b"not to be touched\n" and (root / "c" / "old.gz").exists()
    assert not [p for p in root.rglob("*") if p.name.endswith(".wpigz-tmp")]


@pytest.mark.timeout(200)
def test_stdout_with_several_files_writes_each_in_order(tmp_path):
    # the zeros' 3 MiB are more than a worker holds for one file: that file is decoded again,
    # alone; a corrupt file in the middle gives its partial output and its message in place
    root = tmp_path / "tree"
    names = packed_tree(root, count=100)
    make(root / "c" / "corrupt.gz", zlib.compress(text_bytes(200 * K), wbits=31)[:-5] + b"\0\0\0\0\0")
    names = walk(root)
    proc = subprocess.run([*WPIGZ, "-dc", "-p", "2", *names], cwd=root, capture_output=True, timeout=150,
                          env=environment())
    alone = [subprocess.run([*WPIGZ, "-dc", name], cwd=root, capture_output=True, timeout=60, env=environment())
             for name in names]
    assert proc.returncode == 1
    assert proc.stdout == b"".join(p.stdout for p in alone)
    assert proc.stderr == b"".join(p.stderr for p in alone) and proc.stderr.count(b"\n") == 1


@pytest.mark.timeout(120)
@pytest.mark.parametrize("threads", ["1", "2"])
def test_a_full_disk_half_way_ends_the_run_with_what_came_before_intact(tmp_path, threads):
    # must report and end, not hang. Outputs up to 512 KiB fit; big's (1 MiB) does not: the
    # files before it are finished and correct, nothing after it is placed or removed
    root = tmp_path / "tree"
    tree_around_a_big_file(root, "big", text_bytes(1024 * K))
    subprocess.run([tool("pigz"), "-r", "tree"], cwd=tmp_path, check=True, timeout=60)
    names = walk(root)
    proc = subprocess.run([*WPIGZ, "-d", "-r", "-p", threads, "tree"], cwd=tmp_path, capture_output=True,
                          timeout=100, preexec_fn=_limit_file_size, env=environment())
    assert proc.returncode == 1
    assert proc.stderr.decode() == "wpigz: tree/b/big: File too large\n"
    for name in names:
        if name.startswith("a/"):
            assert not (root / name).exists()
            assert (root / name[:-3]).read_bytes() == small(int(name[3:6])), name
        else:
            assert (root / name).exists() and not (root / name[:-3]).exists(), name
    assert not [p for p in root.rglob("*") if p.name.endswith(".wpigz-tmp")]


@pytest.mark.timeout(120)
def test_sigint_mid_tree_leaves_no_temporary_files(tmp_path):
    # must end promptly on the signal: finished files stay whole, the rest untouched
    root = tmp_path / "tree"
    for i in range(3000):
        make(root / f"d{i % 10}" / f"f{i:04}", text_bytes(4000 + i))
    subprocess.run([tool("pigz"), "-r", "-p", "2", "tree"], cwd=tmp_path, check=True, timeout=100)
    proc = subprocess.Popen([*WPIGZ, "-d", "-r", "-v", "-p", "2", "tree"], cwd=tmp_path, stderr=subprocess.PIPE,
                            env=environment())
    assert proc.stderr is not None
    assert proc.stderr.readline().endswith(b"\n")     # a first file is done
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    done = left = 0
    for path in root.rglob("*"):
        assert not path.name.endswith(".wpigz-tmp"), path
        if path.is_file() and not path.name.endswith(".gz"):
            assert path.read_bytes() == text_bytes(4000 + int(path.name[1:])), path
            done += 1
        elif path.name.endswith(".gz"):         # (its removal may be what was cut short)
            left += 1
            assert zlib.decompress(path.read_bytes(), 31) == text_bytes(4000 + int(path.name[1:5]))
    assert done >= 1 and left > 0 and done + left >= 3000


@pytest.mark.timeout(200)
def test_every_format_side_by_side_is_what_each_file_gives_alone(tmp_path):
    # one decoder per worker goes from format to format, and on after a corrupt file: each
    # file's output and message are those of the file decoded alone (gzip, zlib, zip, compress,
    # pack, zstd, libdeflate's indexed members, and damaged gzip)
    from test_decode_formats import pack
    makers = {
        ".gz": lambda d: subprocess.run([tool("pigz"), "-c"], input=d, capture_output=True, check=True).stdout,
        ".zz": lambda d: subprocess.run([tool("pigz"), "-zc"], input=d, capture_output=True, check=True).stdout,
        ".Z": lambda d: subprocess.run([tool("compress"), "-c"], input=d, capture_output=True, check=True).stdout,
        ".z": pack,
        ".zst": lambda d: subprocess.run([tool("zstd"), "-qc"], input=d, capture_output=True, check=True).stdout,
        "-ig.gz": lambda d: subprocess.run([*WPIGZ, "--engine", "libdeflate", "-c"], input=d, capture_output=True,
                                           check=True, env=environment()).stdout,
        "-bad.gz": lambda d: zlib.compress(d, wbits=31)[:-8] + b"\0" * 8,
    }
    names = []
    for i in range(70):
        suffix = list(makers)[i % len(makers)]
        data = small(i + 4) * (1 + i % 3)
        if suffix == ".Z" and not data:
            data = b"x"
        name = f"f{i:02}{suffix}"
        make(tmp_path / name, makers[suffix](data))
        names.append(name)
    zipped = tmp_path / "f70.zip"
    subprocess.run([tool("pigz"), "-K", "-k", str(tmp_path / "f00.gz")], check=True)
    (tmp_path / "f00.gz.zip").rename(zipped)
    names.insert(35, zipped.name)
    together = subprocess.run([*WPIGZ, "-dc", "-p", "2", *names], cwd=tmp_path, capture_output=True, timeout=100,
                              env=environment())
    alone = [subprocess.run([*WPIGZ, "-dc", name], cwd=tmp_path, capture_output=True, timeout=60, env=environment())
             for name in names]
    assert together.returncode == 1 and together.stderr.count(b"\n") == 10
    assert together.stdout == b"".join(p.stdout for p in alone)
    assert together.stderr == b"".join(p.stderr for p in alone)
