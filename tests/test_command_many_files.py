"""Many files in one command (issue 25): one ring of workers for the whole run, small files
side by side, and every file still as safe, as correct and as reported as if alone.

The trees are generated here (text from conftest.text_bytes, a few megabyte-sized files among
thousands of small ones); pigz, run on an identical copy, is the reference for the bytes.
"""

from __future__ import annotations

import io
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import zlib

import pytest

from conftest import random_bytes, text_bytes, tool

WPIGZ = [sys.executable, "-m", "wpigz"]
K = 1024
MTIME = 1_600_000_000


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GZIP", "PIGZ")}
    env.update(extra)
    return env


def make(path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (MTIME, MTIME))


def small(i: int) -> bytes:
    """The i-th small file: 0 to about 20 KB, a few exactly 0-3 bytes."""
    size = (0, 1, 2, 3)[i] if i < 4 else (i * 7919) % 20000
    return text_bytes(size + 64)[64 + i % 50:][:size] if size else b""


def build_tree(root, count: int = 2000, large: bool = True) -> list[str]:
    """count small files in two directories, and a few large ones between them; returns the
    relative paths in the order -r visits them (sorted, depth first)."""
    for i in range(count):
        make(root / ("a" if i < count * 3 // 4 else "d") / f"f{i:04}", small(i))
    if large:
        make(root / "b" / "big1", text_bytes(1024 * K + 1))
        make(root / "b" / "big2", random_bytes(3 * 128 * K))
        make(root / "b" / "big3", text_bytes(3 * 1024 * K))
    return walk(root)


def walk(root, top=None) -> list[str]:
    top = top or root
    found = []
    for name in sorted(os.listdir(root)):
        path = root / name
        if path.is_dir():
            found += walk(path, top)
        else:
            found.append(str(path.relative_to(top)))
    return found


@pytest.mark.timeout(300)
@pytest.mark.parametrize("threads", ["1", "2", "4"])
def test_a_tree_of_thousands_of_small_files_and_a_few_large_is_pigz_file_by_file(tmp_path, threads):
    ours, theirs = tmp_path / "ours" / "tree", tmp_path / "theirs" / "tree"
    names = build_tree(ours)
    shutil.copytree(ours, theirs)
    proc = subprocess.run([*WPIGZ, "-r", "-k", "-p", threads, "tree"], cwd=ours.parent, capture_output=True,
                          timeout=250, env=environment())
    subprocess.run([tool("pigz"), "-r", "-k", "-p", threads, "tree"], cwd=theirs.parent, check=True, timeout=250)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert walk(ours) == walk(theirs)
    for name in names:
        assert (ours / (name + ".gz")).read_bytes() == (theirs / (name + ".gz")).read_bytes(), name
        assert os.stat(ours / (name + ".gz")).st_mtime == MTIME, name


@pytest.mark.timeout(120)
@pytest.mark.parametrize("args", [["-11"], ["-z"], ["-K"], ["-i", "-1"], ["-R"], ["--engine", "libdeflate"]])
def test_other_formats_and_levels_file_by_file(tmp_path, args):
    # every file of the tree, compressed in one command, is what the same command gives it alone
    root = tmp_path / "tree"
    names = [n for n in build_tree(root, count=60, large=False)]
    make(root / "e" / "mid", text_bytes(300 * K))
    names.append("e/mid")
    together = subprocess.run([*WPIGZ, *args, "-r", "-c", "-p", "2", "tree"], cwd=tmp_path, capture_output=True,
                              timeout=100, env=environment())
    if "-K" in args:
        assert (together.returncode, together.stderr) == (2, b"wpigz: warning: output will be concatenated zip files\n")
    else:
        assert (together.returncode, together.stderr) == (0, b"")
    alone = b"".join(subprocess.run([*WPIGZ, *args, "-c", "-p", "2", f"tree/{name}"], cwd=tmp_path,
                                    capture_output=True, check=True, timeout=60, env=environment()).stdout
                     for name in names)
    assert together.stdout == alone


def test_stdout_with_several_files_is_pigz_in_order(tmp_path):
    root = tmp_path / "tree"
    names = build_tree(root, count=200, large=False)
    ours = subprocess.run([*WPIGZ, "-c", *names], cwd=root, capture_output=True, timeout=60, env=environment())
    theirs = subprocess.run([tool("pigz"), "-c", *names], cwd=root, capture_output=True, timeout=60)
    assert ours.returncode == 0 and ours.stdout == theirs.stdout


def _without_dac_override() -> list[str]:
    """A prefix that runs a command as a user who cannot read a mode-000 file: root keeps its
    uid (it owns the directories Python lives in) but loses the capabilities that let it read
    anything (util-linux's setpriv). Others need nothing."""
    if os.geteuid() != 0:
        return []
    return [tool("setpriv"), "--bounding-set", "-dac_override,-dac_read_search",
            "--inh-caps", "-dac_override,-dac_read_search"]


@pytest.mark.timeout(300)
def test_mixed_failures_leave_every_other_file_intact_and_messages_in_order(tmp_path):
    # an unreadable file, an existing output, a file that vanishes mid-run and a worker that
    # traps on one small file: each is reported where it comes, the rest is pigz's bytes
    ours, theirs = tmp_path / "ours" / "tree", tmp_path / "theirs" / "tree"
    build_tree(ours)
    make(ours / "c" / "old", b"old data\n")
    make(ours / "c" / "old.gz", b"not to be touched\n")
    make(ours / "c" / "secret", b"secret\n")
    make(ours / "z" / "vanish", text_bytes(5000))
    shutil.copytree(ours, theirs)
    os.chmod(ours / "c" / "secret", 0)
    names = walk(ours)
    victim = "a/f1234"        # the 1235th job of the command's ring: one job per small file before it
    assert names.index(victim) == 1234 and all(n.startswith("a/") for n in names[:1235])
    proc = subprocess.Popen([*_without_dac_override(), *WPIGZ, "-v", "-r", "-k", "-p", "2", "tree"],
                            cwd=ours.parent, stderr=subprocess.PIPE, env=environment(WPIGZ_TEST_TRAP_BLOCK="1234"))
    lines = []
    assert proc.stderr is not None
    for raw in proc.stderr:
        line = raw.decode().rstrip("\n")
        lines.append(line)
        if line == "tree/a/f0100 to tree/a/f0100.gz ":
            os.unlink(ours / "z" / "vanish")     # wpigz is far from it: at most a ring ahead
    assert proc.wait(timeout=200) == 1
    expected = []           # in the walk's order, the skip of c/old.gz too (as pigz says it)
    failed = {victim: "trap", "c/old": "wpigz: skipping: tree/c/old.gz exists",
              "c/old.gz": "wpigz: skipping: tree/c/old.gz ends with .gz",
              "c/secret": "wpigz: tree/c/secret: Permission denied",
              "z/vanish": "wpigz: tree/z/vanish: No such file or directory"}
    for name in names:
        expected.append(failed.get(name, f"tree/{name} to tree/{name}.gz "))
    at = expected.index("trap")
    assert lines[at].startswith(f"wpigz: tree/{victim}: worker thread ") and "trapped" in lines[at], lines[at]
    expected[at] = lines[at]
    assert lines == expected
    # every other file is pigz's; the failed ones have no output and their inputs are kept
    subprocess.run([tool("pigz"), "-r", "-k", "-p", "2", "tree"], cwd=theirs.parent, capture_output=True, timeout=200)
    for name in names:
        if name.endswith(".gz"):
            continue
        made = ours / (name + ".gz")
        if name in failed:
            if name == "c/old":
                assert made.read_bytes() == b"not to be touched\n"
            else:
                assert not made.exists(), name
            continue
        assert made.read_bytes() == (theirs / (name + ".gz")).read_bytes(), name
    assert (ours / "a" / "f1234").read_bytes() == small(1234)
    assert not [p for p in ours.rglob("*") if p.name.endswith(".wpigz-tmp")]


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (512 * K, 512 * K))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # get EFBIG instead of being killed


def tree_around_a_big_file(root, big_name: str, big: bytes) -> None:
    """300 small files in a/, one big file b/big_name (over _limit_file_size's 512 KiB once
    written), 300 more in c/: the full-disk tests' tree, in walk order a/, b/, c/."""
    for i in range(300):
        make(root / "a" / f"f{i:03}", small(i))
    make(root / "b" / big_name, big)
    for i in range(300):
        make(root / "c" / f"g{i:03}", small(i))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("threads", ["1", "2"])
def test_a_full_disk_half_way_ends_the_run_with_what_came_before_intact(tmp_path, threads):
    # must report and end, not hang. Outputs up to 512 KiB fit; big1's (1 MiB of random bytes)
    # does not: the files before it are finished and correct, nothing after it is touched
    root = tmp_path / "tree"
    tree_around_a_big_file(root, "big1", random_bytes(1024 * K))
    names = walk(root)
    proc = subprocess.run([*WPIGZ, "-r", "-p", threads, "tree"], cwd=tmp_path, capture_output=True, timeout=100,
                          preexec_fn=_limit_file_size, env=environment())
    assert proc.returncode == 1
    assert proc.stderr.decode() == "wpigz: tree/b/big1.gz: File too large\n"
    for name in names:
        if name.startswith("a/"):
            assert not (root / name).exists()
            assert zlib.decompress((root / (name + ".gz")).read_bytes(), 31) == small(int(name[-3:])), name
        else:
            assert (root / name).exists() and not (root / (name + ".gz")).exists(), name
    assert not [p for p in root.rglob("*") if p.name.endswith(".wpigz-tmp")]


@pytest.mark.timeout(120)
def test_sigint_mid_tree_leaves_no_temporary_files(tmp_path):
    # must end promptly on the signal: finished files stay whole, the rest untouched
    root = tmp_path / "tree"
    for i in range(3000):
        make(root / f"d{i % 10}" / f"f{i:04}", text_bytes(4000 + i))
    proc = subprocess.Popen([*WPIGZ, "-9", "-r", "-p", "2", "tree"], cwd=tmp_path, stderr=subprocess.PIPE,
                            env=environment())
    deadline = time.monotonic() + 60
    while not any(name.endswith(".gz") for name in os.listdir(root / "d0")):
        assert time.monotonic() < deadline, "no output appeared"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    assert proc.stderr is not None and proc.stderr.read() == b""
    done = left = 0
    for path in root.rglob("*"):
        assert not path.name.endswith(".wpigz-tmp"), path
        if path.name.endswith(".gz"):
            original = path.with_name(path.name[:-3])     # (its removal may be what was cut short)
            i = int(original.name[1:])
            assert zlib.decompress(path.read_bytes(), 31) == text_bytes(4000 + i)
            done += 1
        elif path.is_file() and not path.with_name(path.name + ".gz").exists():
            left += 1
    assert done + left == 3000 and left > 0


def test_one_ring_gives_each_stream_the_bytes_it_gives_alone():
    # the library side: streams one after another on one ring, as the command uses it
    from wpigz.encode.pipeline import DeflateOptions, DeflateStream, Ring
    options = DeflateOptions(threads=2)
    pieces = [small(i) for i in range(40)] + [text_bytes(300 * K), b"", text_bytes(128 * K)]
    alone = []
    for data in pieces:
        out = io.BytesIO()
        with DeflateStream(out, options) as stream:
            stream.write(data)
            stream.finish()
        alone.append(out.getvalue())
    outs = [io.BytesIO() for _ in pieces]
    ended = []
    with Ring(options) as ring:
        for data, out in zip(pieces, outs):
            stream = DeflateStream(out, options, ring=ring, on_end=ended.append)
            stream.write(data)
            stream.end()
        ring.drain()
    assert [out.getvalue() for out in outs] == alone
    assert [body.length for body in ended] == [len(data) for data in pieces]
    assert [body.check for body in ended] == [zlib.crc32(data) for data in pieces]


@pytest.mark.timeout(60)
def test_a_failed_job_names_its_stream_and_the_ring_restarts(monkeypatch):
    # must raise, not hang; the ring then serves the next stream
    from wpigz.encode.pipeline import TRAP_ENV, DeflateOptions, DeflateStream, JobFailed, Ring
    monkeypatch.setenv(TRAP_ENV, "3")
    options = DeflateOptions(threads=2)
    data = text_bytes(10 * K)
    with Ring(options) as ring:
        streams = []
        with pytest.raises(JobFailed, match="trapped") as failure:
            for _ in range(8):
                stream = DeflateStream(io.BytesIO(), options, ring=ring)
                streams.append(stream)
                stream.write(data)
                stream.end()
            ring.drain()
        assert failure.value.stream is streams[3]
        assert [s.done for s in streams[:3]] == [True, True, True]
        ring.restart()
        out = io.BytesIO()
        stream = DeflateStream(out, options, ring=ring)
        stream.write(data)
        stream.finish()
        assert zlib.decompress(out.getvalue(), -15) == data
