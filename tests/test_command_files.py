"""wpigz FILE: pigz's file handling with gzip's exit statuses, and nothing lost on failure.

Every test runs the real program in a subprocess, checks exact stderr, exit status and the
files left behind, and compares with real pigz (and gzip) where the behaviour is shared.
"""

from __future__ import annotations

import gzip
import os
import resource
import signal
import stat
import subprocess
import sys
import time

import pytest

from conftest import random_bytes, text_bytes, tool, without_privileges

WPIGZ = [sys.executable, "-m", "wpigz"]
K = 1024
THREADS = ["1", "3"]


def run(*args, cwd=None, data: bytes | None = b"", env=None, prefix: tuple[str, ...] | list[str] = (),
        **kwargs) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("GZIP", "PIGZ")}
    environment.update(env or {})
    return subprocess.run([*prefix, *WPIGZ, *map(str, args)], input=data, capture_output=True, timeout=120,
                          cwd=cwd, env=environment, **kwargs)


def make(path, data: bytes, mtime: int = 1_600_000_000):
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def without_zip_clock(blob: bytes) -> bytes:
    """A zip whose entry has no time (-n, -m) gets the current time as its DOS time, in pigz as
    in wpigz; blank those 4 bytes in the local and central headers to compare the rest."""
    if not blob.startswith(b"PK\x03\x04"):
        return blob
    central = blob.rindex(b"PK\x01\x02")
    blob = blob[:10] + b"\0" * 4 + blob[14:]
    return blob[:central + 12] + b"\0" * 4 + blob[central + 16:]


def listing(directory) -> list[str]:
    return sorted(os.listdir(directory))


@pytest.mark.parametrize("threads", THREADS)
def test_file_becomes_file_gz_identical_to_pigz_and_input_removed(tmp_path, threads):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir(), theirs.mkdir()
    for d in (ours, theirs):
        make(d / "data.txt", text_bytes(700 * K + 3))
        os.chmod(d / "data.txt", 0o640)
    proc = run("-p", threads, "data.txt", cwd=ours)
    subprocess.run([tool("pigz"), "data.txt"], cwd=theirs, check=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    assert listing(ours) == ["data.txt.gz"]
    assert (ours / "data.txt.gz").read_bytes() == (theirs / "data.txt.gz").read_bytes()
    info = (ours / "data.txt.gz").stat()
    assert stat.S_IMODE(info.st_mode) == 0o640 and int(info.st_mtime) == 1_600_000_000


@pytest.mark.parametrize("args, suffix", [(("-z",), ".zz"), (("-K",), ".zip"), (("-S", ".wz"), ".wz"),
                                          (("-Sz",), "z"), (("-K", "-S", ".x"), ".x")])
def test_suffixes_and_formats_match_pigz(tmp_path, args, suffix):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir(), theirs.mkdir()
    for d in (ours, theirs):
        make(d / "f", text_bytes(200 * K))
    assert run(*args, "f", cwd=ours).returncode == 0
    pigz_args = ["-S", suffix] if args[-1].startswith("-S") and len(args[-1]) > 2 else list(args)
    subprocess.run([tool("pigz"), *pigz_args, "f"], cwd=theirs, check=True)
    assert listing(ours) == ["f" + suffix]
    assert (ours / ("f" + suffix)).read_bytes() == (theirs / ("f" + suffix)).read_bytes()


def test_keep_and_stdout_keep_the_input(tmp_path):
    make(tmp_path / "a", b"alpha\n")
    make(tmp_path / "b", b"beta\n")
    assert run("-k", "a", cwd=tmp_path).returncode == 0
    proc = run("-c", "b", cwd=tmp_path)
    assert proc.returncode == 0
    assert listing(tmp_path) == ["a", "a.gz", "b"]
    assert subprocess.run([tool("gzip"), "-dc"], input=proc.stdout, capture_output=True).stdout == b"beta\n"


def test_skips_with_pigz_messages_and_gzip_statuses(tmp_path):
    make(tmp_path / "plain", b"p\n")
    make(tmp_path / "done.gz", b"already\n")
    (tmp_path / "dir").mkdir()
    os.symlink("plain", tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    # each alone, to see each exit status
    cases = [("missing", 1, "wpigz: skipping: missing does not exist\n"),
             ("link", 1, "wpigz: skipping: link is a symbolic link\n"),
             ("dir", 2, "wpigz: skipping: dir is a directory\n"),
             ("fifo", 2, "wpigz: skipping: fifo is a special file or device\n"),
             ("done.gz", 0, "wpigz: skipping: done.gz ends with .gz\n")]
    for name, status, message in cases:
        proc = run(name, cwd=tmp_path)
        assert (name, proc.returncode, proc.stderr.decode()) == (name, status, message)
        gz = subprocess.run([tool("gzip"), name], cwd=tmp_path, capture_output=True, stdin=subprocess.DEVNULL)
        assert (name, gz.returncode) == (name, status), "gzip's exit status for the same case"
    assert sorted(os.listdir(tmp_path)) == ["dir", "done.gz", "fifo", "link", "plain"]


@pytest.mark.parametrize("mode", ["-t", "-l"])
def test_test_and_list_pass_over_files_without_a_compressed_suffix_inside_r_as_gzip(tmp_path, mode):
    # gzip -t -r / -l -r say nothing of them and exit 0 (pigz reports them as unrecognized);
    # named on the command line, such a file is still tried and reported, as by both
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    make(tmp_path / "tree" / "plain", b"plain\n")
    make(tmp_path / "tree" / "sub" / "notes.txt", b"x")
    (tmp_path / "tree" / "b.gz").write_bytes(gzip.compress(b"hi\n"))
    ours = run(mode, "-r", "tree", cwd=tmp_path)
    theirs = subprocess.run([tool("gzip"), mode, "-r", "tree"], cwd=tmp_path, capture_output=True)
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr) == (0, b"")
    assert (b"tree/b" in ours.stdout) == (mode == "-l")
    named = run(mode, "tree/plain", cwd=tmp_path)
    assert named.returncode == 1 and b"tree/plain" in named.stderr


def test_an_error_does_not_stop_the_next_file_and_status_is_1(tmp_path):
    make(tmp_path / "one", b"1\n")
    make(tmp_path / "two", b"2\n")
    proc = run("one", "missing", "dir-less", "two", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.decode() == ("wpigz: skipping: missing does not exist\n"
                                    "wpigz: skipping: dir-less does not exist\n")
    assert listing(tmp_path) == ["one.gz", "two.gz"]


def test_quiet_silences_messages_but_not_the_status(tmp_path):
    proc = run("-q", "missing", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (1, b"")


def test_unreadable_input_is_reported_and_kept(tmp_path):
    # run without privileges: root (as on CI) would read the file anyway
    make(tmp_path / "secret", b"s\n")
    os.chmod(tmp_path / "secret", 0)
    proc = run("secret", cwd=tmp_path, prefix=without_privileges())
    assert proc.returncode == 1 and proc.stderr.decode() == "wpigz: secret: Permission denied\n"
    assert listing(tmp_path) == ["secret"]


def test_a_directory_forced_as_input_is_skipped(tmp_path):
    (tmp_path / "sub").mkdir()
    proc = run("-f", "sub", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.decode() == "wpigz: skipping: sub is a directory\n"


def test_existing_output_is_kept_without_force_and_replaced_with_it(tmp_path):
    make(tmp_path / "a", b"new\n")
    make(tmp_path / "a.gz", b"old")
    proc = run("a", cwd=tmp_path, stdin=subprocess.DEVNULL, data=None)
    assert (proc.returncode, proc.stderr.decode()) == (2, "wpigz: skipping: a.gz exists\n")
    assert (tmp_path / "a.gz").read_bytes() == b"old" and (tmp_path / "a").exists()
    assert run("-f", "a", cwd=tmp_path).returncode == 0
    assert listing(tmp_path) == ["a.gz"]
    assert subprocess.run([tool("gzip"), "-dc", "a.gz"], cwd=tmp_path, capture_output=True).stdout == b"new\n"


def test_force_compresses_links_and_any_suffix(tmp_path):
    make(tmp_path / "target", b"t\n")
    os.symlink("target", tmp_path / "link")
    make(tmp_path / "x.gz", b"raw\n")
    proc = run("-f", "link", "x.gz", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert listing(tmp_path) == ["link.gz", "target", "x.gz.gz"]


@pytest.mark.parametrize("threads", THREADS)
def test_recursive_tree_matches_pigz_file_by_file(tmp_path, threads):
    trees = {}
    for side in ("ours", "theirs"):
        root = tmp_path / side / "tree"
        (root / "sub" / "deeper").mkdir(parents=True)
        make(root / "top.txt", text_bytes(50 * K))
        make(root / "sub" / "mid.bin", random_bytes(130 * K))
        make(root / "sub" / "deeper" / "zero", bytes(300 * K))
        make(root / "sub" / "deeper" / "empty", b"")
        trees[side] = root
    proc = run("-r", "-p", threads, "tree", cwd=tmp_path / "ours")
    subprocess.run([tool("pigz"), "-r", "tree"], cwd=tmp_path / "theirs", check=True)
    assert (proc.returncode, proc.stderr) == (0, b"")
    for rel in ("top.txt.gz", "sub/mid.bin.gz", "sub/deeper/zero.gz", "sub/deeper/empty.gz"):
        assert (trees["ours"] / rel).read_bytes() == (trees["theirs"] / rel).read_bytes(), rel
    assert sorted(os.listdir(trees["ours"] / "sub")) == ["deeper", "mid.bin.gz"]


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("args", [("-R",), ("-R", "-1"), ("-R", "-b", "32", "-9"), ("-R", "-i"),
                                  ("-H",), ("-U",), ("-H", "-9"), ("-U", "-1"),
                                  ("-C", "a comment"), ("-K",), ("-K", "-C", "zip comment"),
                                  ("-K", "-n"), ("-K", "-m"), ("-n", "-M"), ("-M", "-n"), ("-N",), ("-m",),
                                  ("-R", "-K"), ("-z", "-R")])
def test_named_file_options_byte_identical(tmp_path, threads, args):
    path = make(tmp_path / "named.txt", text_bytes(900 * K + 11))
    ours = run("-c", "-p", threads, *args, path)
    theirs = subprocess.run([tool("pigz"), "-c", *args, str(path)], capture_output=True)
    assert (ours.returncode, ours.stderr) == (0, b"")
    if {"-n", "-m"} & set(args) and "-K" in args:
        assert without_zip_clock(ours.stdout) == without_zip_clock(theirs.stdout)
    else:
        assert ours.stdout == theirs.stdout


@pytest.mark.parametrize("args", [("-R",), ("-H",), ("-U",), ("-C", "c"), ("-n", "-M"), ("-K", "-m")])
def test_stdin_from_a_file_options_byte_identical(tmp_path, args):
    path = make(tmp_path / "in", text_bytes(300 * K))
    with open(path, "rb") as f:
        ours = subprocess.run([*WPIGZ, *args], stdin=f, capture_output=True, timeout=60)
    with open(path, "rb") as f:
        theirs = subprocess.run([tool("pigz"), *args], stdin=f, capture_output=True)
    assert (ours.returncode, ours.stderr) == (0, b"")
    assert without_zip_clock(ours.stdout) == without_zip_clock(theirs.stdout)


def test_comment_with_zlib_is_ignored_with_a_warning(tmp_path):
    path = make(tmp_path / "c", b"data\n")
    proc = run("-z", "-C", "note", "-c", path)
    assert proc.returncode == 2
    assert proc.stderr.decode() == "wpigz: can't store comment in zlib format -- ignoring\n"
    assert proc.stdout == subprocess.run([tool("pigz"), "-z", "-c", str(path)], capture_output=True).stdout


def test_timestamp_outside_32_bits_warns_and_stores_zero(tmp_path):
    path = make(tmp_path / "future", b"f\n", mtime=5_000_000_000)
    proc = run("-c", path)
    assert proc.returncode == 2
    assert proc.stderr.decode() == f"wpigz: {path}: warning: file timestamp out of range for gzip format\n"
    assert proc.stdout[4:8] == b"\0\0\0\0"


# ---- the GZIP and PIGZ variables

@pytest.mark.parametrize("variable", ["GZIP", "PIGZ"])
def test_harmless_defaults_from_environment(tmp_path, variable):
    path = make(tmp_path / "e", text_bytes(100 * K))
    proc = run("-c", path, env={variable: "-9 -n --rsyncable"})
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert proc.stdout == subprocess.run([tool("pigz"), "-c", "-9", "-n", "-R", str(path)],
                                         capture_output=True).stdout


def test_command_line_wins_over_environment_and_pigz_over_gzip(tmp_path):
    path = make(tmp_path / "e", text_bytes(100 * K))
    proc = run("-c", "-1", path, env={"GZIP": "-9", "PIGZ": "-6"})
    assert proc.stdout == subprocess.run([tool("pigz"), "-c", "-1", str(path)], capture_output=True).stdout
    proc = run("-c", path, env={"GZIP": "-9", "PIGZ": "-3"})
    assert proc.stdout == subprocess.run([tool("pigz"), "-c", "-3", str(path)], capture_output=True).stdout


@pytest.mark.parametrize("value, message", [
    ("-c", "wpigz: -c: option not valid in GZIP environment variable\n"),
    ("-k", "wpigz: -k: option not valid in GZIP environment variable\n"),
    ("-b 64", "wpigz: -b: option not valid in GZIP environment variable\n"),
    ("--stdout", "wpigz: --stdout: option not valid in GZIP environment variable\n"),
    ("somefile", "wpigz: somefile: non-option in GZIP environment variable\n"),
    ("--", "wpigz: --: option not valid in GZIP environment variable\n"),
    ("--suffix=.x", "wpigz: --suffix: option not valid in GZIP environment variable\n"),
])
def test_harmful_environment_options_are_rejected_like_gzip(tmp_path, value, message):
    make(tmp_path / "f", b"x\n")
    proc = run("f", cwd=tmp_path, env={"GZIP": value})
    assert proc.returncode == 1
    assert proc.stderr.decode() == message + "wpigz: Try 'wpigz --help' for more information.\n"
    assert listing(tmp_path) == ["f"]
    gz = subprocess.run([tool("gzip"), "-c", "f"], cwd=tmp_path, capture_output=True, env={**os.environ, "GZIP": value})
    assert gz.returncode == 1, "gzip refuses the same value"


# ---- options that are refused or not yet there

@pytest.mark.parametrize("args, message", [
    (("-S", ""), "wpigz: suffix cannot be empty\n"),
])
def test_refused_options(args, message):
    proc = run(*args)
    assert proc.returncode == 1
    assert proc.stderr.decode() == message + "wpigz: Try 'wpigz --help' for more information.\n"


@pytest.mark.parametrize("args, message", [
    (("-Z",), "wpigz: -Z (LZW output) is not supported\n"),
    (("--lzw", "f"), "wpigz: -Z (LZW output) is not supported\n"),
    (("-a",), "wpigz: -a (ascii conversion) is not supported\n"),
])
def test_pigz_options_wpigz_does_not_offer_are_refused_plainly(args, message):
    # one line, no pointer to --help: the option is valid pigz, --help would not help
    proc = run(*args)
    assert (proc.returncode, proc.stderr.decode(), proc.stdout) == (1, message, b"")


def test_verbose_names_each_file(tmp_path):
    make(tmp_path / "v", b"v\n")
    proc = run("-v", "v", cwd=tmp_path)
    assert (proc.returncode, proc.stderr.decode()) == (0, "v to v.gz \n")
    make(tmp_path / "p", b"v\n")
    theirs = subprocess.run([tool("pigz"), "-v", "p"], cwd=tmp_path, capture_output=True)
    assert theirs.stderr.decode() == "p to p.gz \n"     # pigz's own line, trailing space and all


def test_license_and_help_exit_zero():
    proc = run("-L")
    assert proc.returncode == 0 and proc.stdout.decode().startswith("wpigz 0.1.0\n") and proc.stderr == b""


def test_write_error_on_help_is_an_error():
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([*WPIGZ, "--help"], stdout=full, stderr=subprocess.PIPE, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.decode() == "wpigz: <stdout>: No space left on device\n"


# ---- nothing lost

@pytest.mark.timeout(60)
def test_disk_full_on_stdout(tmp_path):
    # must report and end, not hang
    path = make(tmp_path / "big", text_bytes(2 * 1024 * K))
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([*WPIGZ, "-c", str(path)], stdout=full, stderr=subprocess.PIPE, timeout=50)
    assert proc.returncode == 1
    assert proc.stderr.decode() == "wpigz: <stdout>: No space left on device\n"
    assert path.exists()


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * K, 64 * K))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # get EFBIG instead of being killed


@pytest.mark.timeout(60)
@pytest.mark.parametrize("threads", THREADS)
def test_file_size_limit_removes_partial_output_and_keeps_input(tmp_path, threads):
    # must report and end, not hang
    big = make(tmp_path / "big", random_bytes(1024 * K))
    make(tmp_path / "small", b"fits\n")
    before = big.read_bytes()
    proc = subprocess.run([*WPIGZ, "-p", threads, "small", "big"], cwd=tmp_path, capture_output=True,
                          timeout=50, preexec_fn=_limit_file_size)
    assert proc.returncode == 1
    assert proc.stderr.decode() == "wpigz: big.gz: File too large\n"
    assert listing(tmp_path) == ["big", "small.gz"]
    assert big.read_bytes() == before


@pytest.mark.timeout(60)
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_signal_mid_file_removes_partial_output_and_keeps_input(tmp_path, signum, status):
    # a FIFO input that never ends keeps wpigz mid-file until the signal; it must end promptly
    fifo = tmp_path / "stream"
    os.mkfifo(fifo)
    proc = subprocess.Popen([*WPIGZ, "-f", "-9", "stream"], cwd=tmp_path, stderr=subprocess.PIPE)
    with open(fifo, "wb") as writer:
        writer.write(text_bytes(1024 * K))
        writer.flush()
        deadline = time.monotonic() + 20
        while not any(name.endswith(".wpigz-tmp") for name in os.listdir(tmp_path)):
            assert time.monotonic() < deadline, "no temporary output appeared"
            time.sleep(0.05)
        proc.send_signal(signum)
        assert proc.wait(timeout=20) == status
    assert proc.stderr.read() == b""
    assert listing(tmp_path) == ["stream"]


def test_synchronous_output_is_complete(tmp_path):
    make(tmp_path / "s", text_bytes(100 * K))
    proc = run("-Y", "s", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert subprocess.run([tool("gzip"), "-t", "s.gz"], cwd=tmp_path).returncode == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("answer, replaced", [(b"y\n", True), (b" Yes\n", True), (b"n\n", False), (b"\n", False)])
def test_asks_before_overwriting_when_stdin_is_a_terminal(tmp_path, answer, replaced):
    import pty
    make(tmp_path / "a", b"new\n")
    make(tmp_path / "a.gz", b"old")
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([*WPIGZ, "a"], cwd=tmp_path, stdin=terminal, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    os.close(terminal)
    os.write(controller, answer)
    out, err = proc.communicate(timeout=50)
    os.close(controller)
    if replaced:
        assert (proc.returncode, err.decode()) == (0, "a.gz exists -- overwrite (y/n)? ")
        assert listing(tmp_path) == ["a.gz"]
        assert subprocess.run([tool("gzip"), "-dc", "a.gz"], cwd=tmp_path, capture_output=True).stdout == b"new\n"
    else:
        assert proc.returncode == 2
        assert err.decode() == "a.gz exists -- overwrite (y/n)? wpigz: skipping: a.gz exists -- not overwritten\n"
        assert (tmp_path / "a.gz").read_bytes() == b"old" and (tmp_path / "a").exists()


def test_double_dash_ends_options_and_dash_stays_stdin(tmp_path):
    make(tmp_path / "-odd", b"odd name\n")
    proc = run("-c", "--", "-odd", "-", cwd=tmp_path, data=b"from stdin\n")
    assert (proc.returncode, proc.stderr) == (0, b"")
    decoded = subprocess.run([tool("gzip"), "-dc"], input=proc.stdout, capture_output=True).stdout
    assert decoded == b"odd name\nfrom stdin\n"


def test_alias_names_the_zip_entry_for_stdin(tmp_path):
    import zipfile
    proc = run("-K", "-A", "entry.txt", data=b"zipped\n")
    assert (proc.returncode, proc.stderr) == (0, b"")
    (tmp_path / "out.zip").write_bytes(proc.stdout)
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        assert archive.namelist() == ["entry.txt"] and archive.read("entry.txt") == b"zipped\n"
    # a pipe's time is not stored (wpigz's documented difference), so compare with pigz -m
    theirs = subprocess.run([tool("pigz"), "-K", "-m", "-A", "entry.txt"], input=b"zipped\n",
                            capture_output=True).stdout
    assert without_zip_clock(proc.stdout) == without_zip_clock(theirs)


# ---- gzip 1.13's rules that pigz 2.6 does not have (listed in docs/command.md's differences)

@pytest.mark.parametrize("mtime_ns", [0, -500_000_000])
def test_timestamp_zero_or_just_before_1970_warns_like_gzip(tmp_path, mtime_ns):
    path = make(tmp_path / "old", b"o\n")
    os.utime(path, ns=(mtime_ns, mtime_ns))
    proc = run("-c", path)
    theirs = subprocess.run([tool("gzip"), "-c", str(path)], capture_output=True)
    assert proc.returncode == theirs.returncode == 2
    assert proc.stderr.decode() == f"wpigz: {path}: warning: file timestamp out of range for gzip format\n"
    assert proc.stdout[4:8] == b"\0\0\0\0"


def test_hard_linked_file_is_skipped_like_gzip_unless_forced(tmp_path):
    make(tmp_path / "f", b"linked\n")
    os.link(tmp_path / "f", tmp_path / "g")
    proc = run("f", cwd=tmp_path)
    assert (proc.returncode, proc.stderr.decode()) == (2, "wpigz: f has 1 other link -- file ignored\n")
    assert listing(tmp_path) == ["f", "g"]
    assert subprocess.run([tool("gzip"), "f"], cwd=tmp_path, capture_output=True).returncode == 2
    assert listing(tmp_path) == ["f", "g"]
    assert run("-c", "f", cwd=tmp_path).returncode == 0            # to stdout: no link is touched
    proc = run("-f", "f", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert listing(tmp_path) == ["f.gz", "g"]
    os.link(tmp_path / "f.gz", tmp_path / "h.gz")
    os.link(tmp_path / "f.gz", tmp_path / "i.gz")
    proc = run("-d", "f.gz", cwd=tmp_path)
    assert (proc.returncode, proc.stderr.decode()) == (2, "wpigz: f.gz has 2 other links -- file ignored\n")


@pytest.mark.parametrize("suffix", ["z", ".foo"])
def test_missing_name_is_tried_with_the_given_suffix_first(tmp_path, suffix):
    make(tmp_path / "F", b"suffixed\n")
    assert subprocess.run([tool("gzip"), "-S", suffix, "F"], cwd=tmp_path).returncode == 0
    proc = run("-d", "-S", suffix, "F", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert (tmp_path / "F").read_bytes() == b"suffixed\n"


@pytest.mark.parametrize("decompress", [False, True])
def test_an_output_that_cannot_be_created_is_named_as_gzip_names_it(tmp_path, decompress):
    """The directory refuses new files (read-only, and both tools run without the privileges
    that would let root write anyway): the message names the output, as gzip's does, and the
    next input is still tried."""
    (tmp_path / "a").write_bytes(b"first\n")
    (tmp_path / "b").write_bytes(b"second\n")
    if decompress:
        for name in ("a", "b"):
            subprocess.run(["gzip", name], cwd=tmp_path, check=True)
    names = ["a.gz", "b.gz"] if decompress else ["a", "b"]
    flags = ["-dk"] if decompress else ["-k"]
    os.chmod(tmp_path, 0o555)
    try:
        ours = run(*flags, *names, cwd=tmp_path, prefix=without_privileges())
        theirs = subprocess.run([*without_privileges(), tool("gzip"), *flags, *names], cwd=tmp_path,
                                capture_output=True, timeout=60)
    finally:
        os.chmod(tmp_path, 0o755)
    assert ours.returncode == theirs.returncode == 1
    assert ours.stderr.decode().replace("wpigz:", "gzip:") == theirs.stderr.decode()
    assert sorted(os.listdir(tmp_path)) == (["a.gz", "b.gz"] if decompress else ["a", "b"])


def test_temporary_names_already_taken_are_skipped_never_followed(tmp_path):
    # the safe output path makes its temporary file with O_EXCL under a pid-counter name: a
    # name someone else holds (a file, or a link pointing elsewhere) is passed over, and what
    # it points to is left alone
    from wpigz.command import files
    final = tmp_path / "a.gz"
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    n = next(files._temporary_tags)         # the next AtomicOutput takes n + 1, then n + 2, ...
    taken = [tmp_path / f".a.gz.{os.getpid()}-{k:x}.wpigz-tmp" for k in (n + 1, n + 2)]
    taken[0].write_bytes(b"someone's")
    taken[1].symlink_to(victim)
    output = files.AtomicOutput(str(final), synchronous=False)
    assert output.temporary is not None and output.temporary not in map(str, taken)
    output.file.write(b"x" * 10)
    output.file.write(memoryview(b"y" * (files.FdWriter.GATHER + 1)))   # past the gathering: written at once
    output.file.write(b"z")
    os.utime(victim, (1_500_000_000, 1_500_000_000))
    output.commit(os.stat(victim))
    assert final.read_bytes() == b"x" * 10 + b"y" * (files.FdWriter.GATHER + 1) + b"z"
    assert os.stat(final).st_mtime == 1_500_000_000
    assert victim.read_bytes() == b"keep" and taken[0].read_bytes() == b"someone's"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a.gz", "victim", taken[0].name, taken[1].name])


def test_discarded_output_leaves_nothing(tmp_path):
    from wpigz.command import files
    output = files.AtomicOutput(str(tmp_path / "b.gz"), synchronous=False)
    output.file.write(b"partial")
    output.discard()
    output.discard()            # idempotent
    assert list(tmp_path.iterdir()) == []


def test_a_forked_child_names_its_temporary_files_with_its_own_pid(tmp_path):
    # a process forked from one that already imported wpigz (a worker pool, say) must not
    # name its temporary files after its parent
    from wpigz.command import files
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            output = files.AtomicOutput(str(tmp_path / "a.gz"), synchronous=False)
            os.write(write_end, f"{os.getpid()} {output.temporary}".encode())
            output.discard()
        finally:
            os._exit(0)
    os.close(write_end)
    pid, name = os.read(read_end, 4096).decode().split(" ", 1)
    os.close(read_end)
    os.waitpid(child, 0)
    assert int(pid) == child and os.getpid() != child
    assert os.path.basename(name).startswith(f".a.gz.{child}-"), name
    assert os.listdir(tmp_path) == [], "the child removed its temporary file"
