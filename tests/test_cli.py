"""The wpigz command, run as a real program: named files and stdin against real pigz, exact
stderr and exit status, silence on success."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from conftest import random_bytes, text_bytes, tool

WPIGZ = [sys.executable, "-m", "wpigz"]
K = 1024


def run(*args: str, data: bytes = b"", **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*WPIGZ, *args], input=data, capture_output=True, timeout=120, **kwargs)


@pytest.fixture
def sample(tmp_path):
    path = tmp_path / "sample.txt"
    path.write_bytes(text_bytes(300 * K + 17))
    os.utime(path, (1_600_000_000, 1_600_000_123))
    return path


@pytest.mark.parametrize("threads", ["1", "2", "4"])
@pytest.mark.parametrize("args", [(), ("-9",), ("-1", "-b", "32"), ("-i",), ("-z",),
                                  ("-n",), ("-m",), ("-n", "-M"), ("-M", "-n"), ("-N",)])
def test_named_file_to_stdout_matches_pigz(sample, threads, args):
    ours = run("-c", "-p", threads, *args, str(sample))
    theirs = subprocess.run([tool("pigz"), "-c", "-p", "2", *args, str(sample)], capture_output=True)
    assert ours.returncode == 0 and ours.stderr == b""
    assert ours.stdout == theirs.stdout


@pytest.mark.parametrize("threads", ["1", "2"])
def test_stdin_redirected_from_a_file_matches_pigz(sample, threads):
    # a regular file on stdin: its mtime is stored, never a name
    with open(sample, "rb") as f:
        ours = subprocess.run([*WPIGZ, "-p", threads], stdin=f, capture_output=True, timeout=60)
    with open(sample, "rb") as f:
        theirs = subprocess.run([tool("pigz")], stdin=f, capture_output=True)
    assert ours.returncode == 0 and ours.stderr == b""
    assert ours.stdout == theirs.stdout
    assert ours.stdout[4:8] == (1_600_000_123).to_bytes(4, "little")


@pytest.mark.parametrize("size", [0, 1, 2, 3, 128 * K, 128 * K + 1, 1024 * K])
@pytest.mark.parametrize("threads", ["1", "3"])
def test_piped_stdin_has_mtime_zero_and_matches_pigz_n(size, threads):
    data = random_bytes(size) if size % 2 else text_bytes(size)
    ours = run("-p", threads, data=data)
    assert ours.returncode == 0 and ours.stderr == b""
    assert ours.stdout[4:8] == b"\0\0\0\0"
    assert ours.stdout == subprocess.run([tool("pigz"), "-n"], input=data, capture_output=True).stdout
    assert subprocess.run([tool("gzip"), "-dc"], input=ours.stdout, capture_output=True).stdout == data


def test_dash_means_stdin_and_several_files_concatenate(sample, tmp_path):
    other = tmp_path / "other.bin"
    other.write_bytes(random_bytes(50 * K))
    ours = run("-c", str(sample), "-", str(other), data=b"from stdin\n")
    assert ours.returncode == 0 and ours.stderr == b""
    decoded = subprocess.run([tool("gzip"), "-dc"], input=ours.stdout, capture_output=True).stdout
    assert decoded == sample.read_bytes() + b"from stdin\n" + other.read_bytes()


def test_options_after_files_still_apply(sample):
    assert run(str(sample), "-c", "-9").stdout == run("-c", "-9", str(sample)).stdout


def test_bundled_and_attached_options(sample):
    assert run("-cn9p2", "-b64", str(sample)).stdout == \
        subprocess.run([tool("pigz"), "-c", "-n", "-9", "-b", "64", str(sample)], capture_output=True).stdout


@pytest.mark.parametrize("args, message", [
    (("-b", "16"), "wpigz: block size too small (must be >= 32K)\n"),
    (("-b", "600000"), "wpigz: block size too large: 600000\n"),
    (("-b", "1x"), "wpigz: invalid numeric parameter: 1x\n"),
    (("-p", "0"), "wpigz: invalid number of processes: 0\n"),
    (("-p",), "wpigz: missing parameter after -p\n"),
    (("-x",), "wpigz: invalid option: -x\n"),
    (("--bogus",), "wpigz: invalid option: --bogus\n"),
    (("--blocksize=64",), "wpigz: invalid option: --blocksize=64\n"),
    (("-10",), "wpigz: only levels 0..9 and 11 are allowed\n"),
    (("-12",), "wpigz: only levels 0..9 and 11 are allowed\n"),
])
def test_usage_errors(args, message):
    proc = run(*args)
    assert proc.returncode == 1
    assert proc.stdout == b""
    assert proc.stderr.decode() == message + "wpigz: Try 'wpigz --help' for more information.\n"


def test_missing_file_is_reported_and_the_next_one_processed(sample, tmp_path):
    proc = run("-c", str(tmp_path / "nope"), str(sample))
    assert proc.returncode == 1
    assert proc.stderr.decode() == f"wpigz: skipping: {tmp_path / 'nope'} does not exist\n"
    assert subprocess.run([tool("gzip"), "-dc"], input=proc.stdout, capture_output=True).stdout == sample.read_bytes()


def test_version_names_the_engine():
    proc = run("-V")
    assert proc.returncode == 0 and proc.stderr == b""
    assert proc.stdout.decode().splitlines() == ["wpigz 0.1.0", "zlib 1.2.13 (WebAssembly engine)"]


def test_help_lists_every_option():
    from wpigz.options import help_rows
    proc = run("-h")
    assert proc.returncode == 0 and proc.stderr == b""
    for spelled, _ in help_rows():
        assert spelled in proc.stdout.decode()


def test_refuses_to_write_compressed_data_to_a_terminal():
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.run(WPIGZ, stdin=subprocess.DEVNULL, stdout=terminal, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)
    assert proc.returncode == 1
    assert proc.stderr == b"wpigz: trying to write compressed data to a terminal (use -f to force)\n"


@pytest.mark.timeout(60)
def test_broken_pipe_ends_quietly(tmp_path):
    # must end, quietly, as soon as the reader goes away (`wpigz -c big | head -c 10`)
    big = tmp_path / "big"
    big.write_bytes(random_bytes(8 << 20))
    proc = subprocess.Popen([*WPIGZ, "-c", "-1", str(big)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert len(proc.stdout.read(10)) == 10
    proc.stdout.close()
    assert proc.wait(timeout=30) == -13     # killed by SIGPIPE, like cat
    assert proc.stderr.read() == b""
