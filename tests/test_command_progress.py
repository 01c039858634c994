"""The progress bar, seen the way a person at a terminal sees it: wpigz runs with its stderr on
a pseudo-terminal and the test reads what was drawn there."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest

from conftest import text_bytes, tool

WPIGZ = [sys.executable, "-m", "wpigz"]


def run_on_terminal(args: list[str], cwd, *, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    size: tuple[int, int] = (24, 120), output_on_terminal: bool = False) -> tuple[int, str]:
    """Run wpigz with stderr (and stdout too, with output_on_terminal) on a pty of size (rows,
    columns); return its status and everything drawn on that pty. (0, 0) leaves it as a fresh
    pty is: 0 x 0."""
    controller, terminal = pty.openpty()
    if size != (0, 0):
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    proc = subprocess.Popen([*WPIGZ, *args], cwd=cwd, stdin=stdin, stdout=terminal if output_on_terminal else stdout,
                            stderr=terminal)
    os.close(terminal)
    drawn = bytearray()
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:         # EIO: every writer to the pty has closed it
            break
        if not chunk:
            break
        drawn += chunk
    os.close(controller)
    return proc.wait(timeout=120), drawn.decode(errors="replace")


@pytest.fixture
def two_files(tmp_path):
    # level 9 on one thread over a few MB takes long enough for several refreshes
    (tmp_path / "first.txt").write_bytes(text_bytes(6 << 20))
    (tmp_path / "second.txt").write_bytes(text_bytes(2 << 20))
    return tmp_path


@pytest.mark.timeout(180)
def test_bar_shows_file_of_count_bytes_total_rate_and_ratio(two_files):
    status, drawn = run_on_terminal(["-9", "-p", "1", "-k", "first.txt", "second.txt"], two_files)
    assert status == 0
    assert "[1/2] first.txt" in drawn and "[2/2] second.txt" in drawn
    assert re.search(r"/8\.39M", drawn), "the total size of all the regular files, in MB (1000-based)"
    # how many inputs are finished: 1/2 when a refresh falls between the two files' ends (not
    # on a fast, quiet machine, where the second file takes less than one refresh), and always
    # 2/2 in the final drawing
    assert re.search(r"2/2 files done", drawn), "how many inputs are finished"
    assert re.search(r"[0-9.]+[kMG]?B/s", drawn), "the rate, in the same units"
    assert "iB" not in drawn
    saved = [float(x) for x in re.findall(r"ratio (\d+\.\d)%", drawn)]
    assert saved and all(60 < x < 90 for x in saved), "the space saved so far, as gzip -l's ratio"
    assert "%|" in drawn, "a bar with a percentage"
    for name in ("first.txt", "second.txt"):       # the bar never touches the outputs
        done = subprocess.run([tool("gzip"), "-dc", name + ".gz"], cwd=two_files, capture_output=True)
        assert done.stdout == (two_files / name).read_bytes()


@pytest.mark.timeout(180)
def test_pipe_input_shows_bytes_and_rate_without_total(tmp_path):
    data = tmp_path / "data"
    data.write_bytes(text_bytes(4 << 20))
    out = tmp_path / "out.gz"
    with open(data, "rb") as source, open(out, "wb") as sink:
        feeder = subprocess.Popen(["cat"], stdin=source, stdout=subprocess.PIPE)
        status, drawn = run_on_terminal(["-9", "-p", "1"], tmp_path, stdin=feeder.stdout, stdout=sink)
        feeder.stdout.close()
        feeder.wait()
    assert status == 0
    assert "[1/1] <stdin>" in drawn
    assert re.search(r"[0-9.]+[kMG]?B/s", drawn) and re.search(r"ratio \d+\.\d%", drawn)
    assert not re.search(r"\d+%\|", drawn), "no percentage without a known total"
    assert subprocess.run([tool("gzip"), "-dc", str(out)], capture_output=True).stdout == data.read_bytes()


@pytest.mark.parametrize("args", [["-q"], ["--no-progress"]])
def test_no_bar_with_quiet_or_no_progress(two_files, args):
    status, drawn = run_on_terminal([*args, "-k", "second.txt"], two_files)
    assert (status, drawn) == (0, "")


def test_progress_forces_the_bar_when_stderr_is_not_a_terminal(two_files):
    proc = subprocess.run([*WPIGZ, "--progress", "-k", "second.txt"], cwd=two_files, capture_output=True, timeout=60)
    assert proc.returncode == 0 and "[1/1] second.txt" in proc.stderr.decode()


def test_no_bar_when_stderr_is_not_a_terminal(two_files):
    proc = subprocess.run([*WPIGZ, "-k", "second.txt"], cwd=two_files, capture_output=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, b"")


@pytest.fixture
def zeros_gz(tmp_path):
    # 2 GiB of zeros in about 2 MB: decoding takes long enough for several refreshes even
    # with zlib-ng's inflater (96 MiB decoded in less than one 0.2 s refresh)
    with open("/dev/zero", "rb") as zeros, open(tmp_path / "zeros.gz", "wb") as out:
        head = subprocess.Popen(["head", "-c", str(2 << 30)], stdin=zeros, stdout=subprocess.PIPE)
        subprocess.run([tool("pigz"), "-9"], stdin=head.stdout, stdout=out, check=True)
        head.stdout.close()
        assert head.wait() == 0
    return tmp_path


@pytest.mark.timeout(180)
@pytest.mark.parametrize("args", [["-dc"], ["-t"]])
def test_bar_while_decompressing_and_testing(zeros_gz, args):
    status, drawn = run_on_terminal([*args, "zeros.gz"], zeros_gz)
    assert status == 0
    assert "[1/1] zeros.gz" in drawn
    assert re.search(r"[0-9.]+[kMG]?B/s", drawn)
    saved = [float(x) for x in re.findall(r"ratio (\d+\.\d)%", drawn)]
    assert saved and all(x > 99.0 for x in saved), saved          # -l says 99.9% saved (input is read ahead)
    assert "%|" in drawn, "a percentage of the compressed file read"


def test_no_bar_when_the_output_goes_to_the_same_terminal(two_files):
    # `wpigz -dc f.gz` read on the screen: the bar would be drawn into the text (gzip and
    # pigz draw nothing there); --progress still asks for it
    gz = two_files / "one.txt.gz"
    gz.write_bytes(subprocess.run([tool("pigz"), "-c"], input=b"id,name\n0,name0\n", capture_output=True,
                                  check=True).stdout)
    status, drawn = run_on_terminal(["-dc", "one.txt.gz"], two_files, output_on_terminal=True)
    assert status == 0
    assert drawn.replace("\r\n", "\n") == "id,name\n0,name0\n"


@pytest.mark.timeout(180)
def test_progress_draws_on_a_terminal_of_size_zero(two_files):
    status, drawn = run_on_terminal(["--progress", "-9", "-p", "1", "-k", "first.txt"], two_files, size=(0, 0))
    assert status == 0
    assert "[1/1] first.txt" in drawn and "%|" in drawn
    lines = [line for line in re.split(r"[\r\n]", drawn) if "first.txt" in line]
    assert lines and max(len(line) for line in lines) <= 80 + 16        # 80 columns (plus escape codes)


@pytest.mark.timeout(180)
def test_a_tree_gets_one_bar_with_files_done_of_total(tmp_path):
    # 300 small files: one bar for the command (not one per file) that reaches 300/300 files
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(300):
        (tree / f"f{i:03}").write_bytes(text_bytes(20000 + i))
    status, drawn = run_on_terminal(["--progress", "-r", "-k", "tree"], tmp_path)
    assert status == 0
    total = sum(20000 + i for i in range(300))
    assert f"/{total / 1e6:.2f}M" in drawn, "the bytes of the whole tree"
    assert "300/300 files done" in drawn
    assert drawn.count("%|") < 100, "redrawn at most every 0.2 s, not once per file"
    assert len(list(tree.glob("*.gz"))) == 300


@pytest.mark.timeout(180)
def test_messages_are_written_on_a_line_of_their_own_not_after_the_bar(two_files):
    """A message while the bar is drawn (here: a missing input after the bar's first drawing,
    and -v's lines) starts at the beginning of a line, as without a bar, and the bar is drawn
    again below it."""
    status, drawn = run_on_terminal(["-v", "-9", "-p", "1", "-k", "first.txt", "missing.txt", "second.txt"],
                                    two_files)
    assert status == 1
    for text in ("wpigz: skipping: missing.txt does not exist", "first.txt to first.txt.gz \r\n",
                 "second.txt to second.txt.gz \r\n"):
        at = drawn.index(text)
        assert at == 0 or drawn[at - 1] in "\r\n", (text, drawn[max(0, at - 80):at + len(text)])
    assert drawn.index("[1/2] first.txt") < drawn.index("wpigz: skipping: missing.txt"), "the bar was up"
