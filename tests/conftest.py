"""Shared test data and helpers, and the path that makes every test use this working tree.

The real tools are required, never mocked: a missing `pigz` or `gzip` is a failure, not a
skip (.ci/run installs them). Test data is made here, deterministically:
* text: the standard library's own .py sources (Lib/**/*.py but site-packages), concatenated in
  sorted path order: real prose and code, present wherever Python is;
* random: random.Random(seed).randbytes, incompressible;
* zeros.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

# Test this working tree, never an installed copy: the tests' own imports and every `python -m
# wpigz` they start (often from a temporary directory) find wpigz here first.
TREE = str(Path(__file__).resolve().parent.parent)
if sys.path[:1] != [TREE]:
    sys.path.insert(0, TREE)
os.environ["PYTHONPATH"] = os.pathsep.join([TREE, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])

from wpigz.command.cli import compress_stream  # noqa: E402  (after the path is set)
from wpigz.command.options import parse  # noqa: E402
from wpigz.sandbox.wasm_host import Runtime  # noqa: E402

_TEXT_CACHE: list[bytes] = []


def text_bytes(n: int) -> bytes:
    """The first n bytes of the stdlib's .py sources, concatenated in sorted path order."""
    if not _TEXT_CACHE or len(_TEXT_CACHE[0]) < n:
        root = Path(sysconfig.get_paths()["stdlib"])
        parts, size = [], 0
        for path in sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts):
            data = path.read_bytes()
            parts.append(data)
            size += len(data)
            if size >= max(n, 8 << 20):
                break
        _TEXT_CACHE[:] = [b"".join(parts)]
    assert len(_TEXT_CACHE[0]) >= n, "not enough stdlib text for the requested size"
    return _TEXT_CACHE[0][:n]


def random_bytes(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is required for the interop tests (.ci/run installs it)"
    return path


def without_privileges() -> list[str]:
    """A prefix that runs a command so that file permissions bind it: as root (CI runs as
    root), with every capability dropped (setpriv, from util-linux, Essential in Debian), so
    the permission bits apply to it as to any owner; nothing for another user."""
    if os.geteuid() != 0:
        return []
    return [tool("setpriv"), "--bounding-set=-all", "--inh-caps=-all", "--"]


def pigz(data: bytes, *args: str) -> bytes:
    return subprocess.run([tool("pigz"), "-c", *args], input=data, capture_output=True, check=True).stdout


def gzip_test_ok(blob: bytes, *, zlib_format: bool = False) -> None:
    """The stream passes `gzip -t` (gzip format) or `pigz -t`, and Python's decompressor."""
    if zlib_format:
        # gzip cannot read the zlib format; pigz can
        subprocess.run([tool("pigz"), "-t", "-z"], input=blob, check=True, capture_output=True)
    else:
        subprocess.run([tool("gzip"), "-t"], input=blob, check=True, capture_output=True)


@pytest.fixture(scope="session")
def runtime() -> Runtime:
    return Runtime()


def wpigz_bytes(runtime: Runtime, data: bytes, *args: str) -> bytes:
    """wpigz's output for data given as a stream without a name, in this process."""
    settings = parse(list(args))
    sink = io.BytesIO()
    compress_stream(settings, runtime, io.BytesIO(data), sink, None)
    return sink.getvalue()


_IN_ONE_INTERPRETER = """\
import json, os, runpy, sys
sys.argv = ['wpigz'] + sys.argv[1:]
try:
    runpy.run_module('wpigz', run_name='__main__')
    status = 0
except SystemExit as exit:
    status = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
sys.stdout.flush()
with open(os.environ['WPIGZ_TEST_REPORT'], 'w') as report:
    json.dump({'status': status, 'modules': sorted(sys.modules)}, report)
"""


def run_in_one_interpreter(args: list[str], cwd: Path, **kwargs) -> tuple[subprocess.CompletedProcess, int, set[str]]:
    """The wpigz command run by runpy in one fresh interpreter: (the process, with the
    command's own stdout and stderr; its exit status; every module it imported)."""
    import json
    report = Path(cwd) / ".imports.json"
    proc = subprocess.run([sys.executable, "-c", _IN_ONE_INTERPRETER, *args], cwd=cwd, capture_output=True,
                          timeout=120, env={**os.environ, "WPIGZ_TEST_REPORT": str(report)}, **kwargs)
    assert proc.returncode == 0, proc         # the interpreter itself ended normally
    found = json.loads(report.read_text())
    report.unlink()
    return proc, found["status"], set(found["modules"])


def python_decompress(blob: bytes, *, zlib_format: bool = False) -> bytes:
    import zlib
    return zlib.decompress(blob) if zlib_format else gzip.decompress(blob)


LARGE_FILE = 16 << 20


@pytest.fixture(autouse=True)
def _no_large_files_left_behind(request):
    """pytest keeps the temporary directories of the last three runs: after each test, remove
    the large files it made there (a 5 GiB stream test's output alone is 500 MB)."""
    top = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if top is None:
        return
    for path in top.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_size >= LARGE_FILE:
                path.unlink()
        except OSError:
            pass


def peak_rss_measured(cmd: list[str], report: Path) -> list[str]:
    """cmd run under GNU time, which writes its peak RSS (KiB) to report (read it with
    peak_rss_kib). A child's own ru_maxrss from os.wait4 is no good here: a process forked from
    the (large, long-running) pytest process inherits pytest's high-water mark at exec, while
    time's is small."""
    return [tool("time"), "-f", "%M", "-o", str(report), *cmd]


def peak_rss_kib(report: Path) -> int:
    return int(report.read_text().split()[-1])
