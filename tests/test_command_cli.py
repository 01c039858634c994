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


def pigz_run(*args: str) -> subprocess.CompletedProcess:
    """pigz itself, which must succeed silently: it is the reference."""
    proc = subprocess.run([tool("pigz"), *args], capture_output=True, timeout=120)
    assert (proc.returncode, proc.stderr) == (0, b""), proc
    return proc


def test_options_after_files_still_apply(sample):
    # as in pigz, which reads every option before the first file
    ours = run(str(sample), "-c", "-9")
    assert (ours.returncode, ours.stderr) == (0, b"")
    assert ours.stdout == pigz_run(str(sample), "-c", "-9").stdout
    assert ours.stdout != pigz_run(str(sample), "-c").stdout       # -9 really applied


def test_bundled_and_attached_options(sample):
    ours = run("-cn9p2", "-b64", str(sample))
    assert (ours.returncode, ours.stderr) == (0, b"")
    assert ours.stdout == pigz_run("-c", "-n", "-9", "-b", "64", str(sample)).stdout


@pytest.mark.parametrize("args, message", [
    (("-b", "16"), "wpigz: block size too small (must be >= 32K)\n"),
    (("-b", "600000"), "wpigz: block size too large: 600000\n"),
    (("-b", "1x"), "wpigz: invalid numeric parameter: 1x\n"),
    (("-p", "0"), "wpigz: invalid number of processes: 0\n"),
    (("-p",), "wpigz: missing parameter after -p\n"),
    (("-x",), "wpigz: invalid option: -x\n"),
    (("--bogus",), "wpigz: invalid option: --bogus\n"),
    (("--blocksize=16",), "wpigz: block size too small (must be >= 32K)\n"),
    (("--bogus=1",), "wpigz: invalid option: --bogus=1\n"),
    (("-p", "257"), "wpigz: too many processes: 257\n"),
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


@pytest.mark.parametrize("mode", [[], ["-d"], ["-t"], ["-l"]])
@pytest.mark.parametrize("threads", ["1", "2"])
def test_skip_messages_come_in_argument_order_like_pigz(tmp_path, mode, threads):
    # select_inputs keeps each skip for the input after it: a message about the second
    # argument must not come before what the first one says (-v), as pigz and gzip do it
    def tree(top):
        top.mkdir()
        for name in ("f1.txt", "f2.txt"):
            data = text_bytes(2000 + len(name))
            if mode:
                (top / (name + ".gz")).write_bytes(subprocess.run([tool("pigz"), "-c"], input=data,
                                                                  capture_output=True, check=True).stdout)
            else:
                (top / name).write_bytes(data)
        (top / "d").mkdir()
        (top / "ln").symlink_to("f1.txt")
        return top
    names = (["f1.txt", "nope", "d", "ln", "f2.txt", "gone"] if not mode else
             ["f1.txt.gz", "nope.gz", "d", "ln", "f2.txt.gz", "gone.gz"])
    if mode in (["-t"], ["-l"]):
        names.remove("ln")      # -t/-l follow a link where pigz skips it: another difference, not this test's
    ours = run("-v", "-k", "-p", threads, *mode, *names, cwd=tree(tmp_path / "ours"))
    theirs = subprocess.run([tool("pigz"), "-v", "-k", "-p", threads, *mode, *names], cwd=tree(tmp_path / "theirs"),
                            capture_output=True, timeout=120)
    assert ours.returncode == theirs.returncode == 1

    def lines(proc, prog):
        text = (proc.stderr + proc.stdout).decode()
        return [line.rstrip().replace(f"{prog}:", "PROG:") for line in text.splitlines()
                if "skipping" in line or " to " in line or "OK" in line]
    assert lines(ours, "wpigz") == lines(theirs, "pigz")
    assert any("skipping" in line for line in lines(ours, "wpigz"))


def test_version_names_the_engine():
    proc = run("-V")
    assert proc.returncode == 0 and proc.stderr == b""
    assert proc.stdout.decode().splitlines() == ["wpigz 0.1.0", "zlib 1.2.13 (WebAssembly engine)"]


def _help_entries(text: str) -> dict[str, str]:
    """A -h screen's option entries: each spelling (-x, --name) -> the meaning on its line.
    An entry is a line indented by two spaces whose columns (apart by two spaces or more)
    begin with spellings, starting with '-' (pigz writes "-F  --first"), then the meaning;
    more indented lines continue the meaning."""
    import re
    entries: dict[str, str] = {}
    last: list[str] = []
    for line in text.split("Options:", 1)[1].splitlines():
        if line.startswith("  -"):
            columns = re.split(r" {2,}", line.strip())
            spellings = [c for c in columns if c.startswith("-")]
            last = re.findall(r"--?[\w-]+", " ".join(spellings))
            for name in last:
                entries[name] = "  ".join(columns[len(spellings):])
        elif line.startswith("   ") and last:
            for name in last:
                entries[name] += " " + line.strip()
        else:
            last = []
    return entries


def test_help_lists_every_pigz_option_with_a_meaning():
    # what a pigz user looks for: every option pigz's own -h lists is in wpigz's, explained
    pigz_help = subprocess.run([tool("pigz"), "--help"], capture_output=True, timeout=60)
    theirs = _help_entries((pigz_help.stdout + pigz_help.stderr).decode())
    theirs.pop("--", None)          # the end of options, not an option
    assert len(theirs) > 40, theirs         # the parse found pigz's options
    proc = run("-h")
    assert (proc.returncode, proc.stderr) == (0, b"")
    ours = _help_entries(proc.stdout.decode())
    for name in theirs:
        if name in ("-1", "-9", "-11"):         # pigz's "-0 to -9, -11", wpigz's "-0 .. -9" row
            name = "-0"
        assert name in ours, f"pigz's {name} is missing from wpigz -h"
        assert len(ours[name].split()) >= 2, f"{name} has no meaning in wpigz -h: {ours[name]!r}"
    assert "-11" in ours["-0"]


def test_help_shows_every_option_of_the_parser_with_its_whole_meaning():
    from wpigz.command.options import OPTIONS
    proc = run("-h")
    assert (proc.returncode, proc.stderr) == (0, b"")
    ours = _help_entries(proc.stdout.decode())
    listed = set()
    for option in OPTIONS:
        names = ([f"-{option.short}"] if option.short and option.short != "0..9" else []) + \
                [f"--{name}" for name in option.longs]
        if option.short == "0..9":
            names += ["-0", "-9"]           # its row: "-0 .. -9"
        for name in names:
            if option.shown:
                assert ours.get(name) == option.help, (name, ours.get(name))
                listed.add(name)
            else:
                # refused options (as pigz refuses them) are not offered
                assert name not in ours, name
                refused = run(name)
                assert refused.returncode == 1 and refused.stderr.startswith(b"wpigz: "), refused
    assert set(ours) == listed


def test_documented_option_table_is_what_the_parser_generates():
    # the table users read (README or docs/) is `python -m wpigz.command.options`'s output, verbatim
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    generated = subprocess.run([sys.executable, "-m", "wpigz.command.options"], capture_output=True, timeout=60,
                               check=True).stdout.decode()
    assert generated.startswith("| option | meaning |\n") and "`--engine NAME`" in generated
    start, end = "<!-- options-table:start -->\n", "<!-- options-table:end -->"
    tables = [text[text.index(start) + len(start):text.index(end)]
              for text in (p.read_text() for p in [root / "README.md", *sorted(root.glob("docs/*.md"))])
              if start in text]
    assert tables == [generated], "regenerate it with: python -m wpigz.command.options"


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


def _into_a_closed_pipe(command: list[str], cwd) -> subprocess.CompletedProcess:
    """Run command with its stdout a pipe whose reader is already gone: every write fails,
    the way `command | head -1` fails after head has read its line, but without the race."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(command, cwd=cwd, stdout=writer, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(writer)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["-l", "-lt", "-lv"])
@pytest.mark.parametrize("files", [1, 3])
def test_listing_into_a_broken_pipe_ends_quietly_like_pigz(tmp_path, mode, files):
    # `wpigz -l m1.gz m2.gz m3.gz | head -1` once said "wpigz: m2.gz: Broken pipe" per file left
    names = [f"m{i}.gz" for i in range(1, files + 1)]
    packed = subprocess.run([tool("pigz"), "-c"], input=text_bytes(5000), capture_output=True, check=True).stdout
    for name in names:
        (tmp_path / name).write_bytes(packed)
    ours = _into_a_closed_pipe([*WPIGZ, mode, *names], tmp_path)
    theirs = _into_a_closed_pipe([tool("pigz"), mode, *names], tmp_path)
    assert (theirs.returncode, theirs.stderr) == (-13, b"")
    assert (ours.returncode, ours.stderr) == (-13, b"")      # killed by SIGPIPE, silently


# ---- every -b/-p combination pigz takes (wasm32's 4 GiB holds fewer 512 MiB slots)

@pytest.mark.timeout(300)
@pytest.mark.parametrize("args", [("-p", "1", "-b", "524288"), ("-p", "2", "-b", "524288"), ("-p", "4", "-b", "65536"),
                                  ("-p", "2", "-b", "131072"), ("-p", "1", "-b", "262144")])
def test_large_blocks_with_any_threads_match_pigz(args):
    data = text_bytes(200 * K)
    ours = run(*args, data=data)
    theirs = subprocess.run([tool("pigz"), "-n", *args], input=data, capture_output=True)   # piped: mtime 0
    assert (ours.returncode, ours.stderr) == (0, b"")
    assert ours.stdout == theirs.stdout


def test_verbose_says_when_the_ring_is_smaller():
    proc = run("-v", "-p", "2", "-b", "524288", data=b"hi\n")
    assert proc.returncode == 0
    assert proc.stderr.decode() == ("wpigz: 524288 KiB blocks: 3 in flight and 2 threads (not 6 and 2): "
                                    "the WebAssembly memory holds 4 GiB\n<stdin> to <stdout> \n")


# ---- long options with =value, as gzip's; -V and -L name the engine; -vv's one traceback

def test_long_options_take_equals_values(sample):
    equals = run("-c", "--blocksize=64", "--processes=2", "--comment=note", "--engine=zlib-ng", str(sample))
    spaced = run("-c", "--blocksize", "64", "--processes", "2", "--comment", "note", "--engine", "zlib-ng", str(sample))
    assert (equals.returncode, equals.stderr) == (spaced.returncode, spaced.stderr) == (0, b"")
    assert equals.stdout == spaced.stdout
    # pigz spells the same options spaced (it has no --name=value, and wants -C's value apart)
    theirs = pigz_run("-c", "--blocksize", "64", "--processes", "2", "--comment", "note", str(sample))
    assert pigz_run("-c", "-b64", "-p2", "-C", "note", str(sample)).stdout == theirs.stdout
    for ours in (run("-c", "--blocksize", "64", "--processes", "2", "--comment", "note", str(sample)),
                 run("-c", "--blocksize=64", "--processes=2", "--comment=note", str(sample)),
                 run("-c", "-b64", "-p2", "-Cnote", str(sample))):
        assert (ours.returncode, ours.stderr) == (0, b"")
        assert ours.stdout == theirs.stdout


def test_long_option_suffix_with_equals(tmp_path):
    (tmp_path / "f").write_bytes(b"data\n")
    proc = run("-k", "--suffix=.x", "f", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert sorted(os.listdir(tmp_path)) == ["f", "f.x"]


def test_equals_value_on_an_option_without_one():
    proc = run("--best=3", data=b"x")
    assert proc.returncode == 1
    assert proc.stderr.decode() == ("wpigz: option '--best' doesn't allow an argument\n"
                                    "wpigz: Try 'wpigz --help' for more information.\n")


@pytest.mark.parametrize("engine, library, author", [("zlib", "zlib 1.2.13", "Jean-loup Gailly and Mark Adler"),
                                                     ("zlib-ng", "zlib-ng 2.3.3", "the zlib-ng contributors")])
def test_version_and_license_name_the_chosen_engine(engine, library, author):
    version = run("-V", f"--engine={engine}")
    assert version.stdout.decode().splitlines() == ["wpigz 0.1.0", f"{library} (WebAssembly engine)"]
    license_ = run("-L", "--engine", engine).stdout.decode()
    assert f"Its engine is {library}, by {author}" in license_


def test_verbose_errors_show_one_traceback(tmp_path):
    (tmp_path / "f").write_bytes(text_bytes(300 * K))
    env = {**os.environ, "WPIGZ_TEST_TRAP_BLOCK": "0"}
    proc = run("-vv", "-c", "f", cwd=tmp_path, env=env)
    assert proc.returncode == 1
    assert proc.stderr.decode().count("Traceback") == 1


@pytest.mark.timeout(60)
def test_broken_pipe_with_sigpipe_ignored_is_an_error_like_gzip(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(random_bytes(8 << 20))
    script = "trap '' PIPE; {} -c -1 big | head -c 10 >/dev/null; echo ${{PIPESTATUS[0]}}"
    ours = subprocess.run(["bash", "-c", script.format(" ".join(WPIGZ))], cwd=tmp_path, capture_output=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")})
    theirs = subprocess.run(["bash", "-c", script.format(tool("gzip"))], cwd=tmp_path, capture_output=True, timeout=60)
    assert ours.stdout == theirs.stdout == b"1\n"
    assert ours.stderr.decode() == "wpigz: <stdout>: Broken pipe\n"
    assert theirs.stderr.decode().strip() == "gzip: stdout: Broken pipe"
