"""What every benchmark section measures with: one command run to completion as a process
(wall time, CPU time from os.wait4, peak RSS from GNU time), the commands of each tool, and the
places the results go (bench/out/ for scratch files, bench/plots/ for figures).

Commands compared in rotated rounds with their output thrown away (timed, rounds, ratio: what
speed.py and chunked.py measure with) live here too.

wpigz is timed as users get it: ``wpigz_cmd`` runs the wheel built from the working tree, fresh
for each benchmark process, installed in a new venv under bench/out with the same wasmtime, tqdm
and zstandard versions as this Python has (from PyPI, or pip's cache), and run as ``VENV/bin/python
-I -m wpigz`` (isolated: neither the current directory, which may hold the tree, nor PYTHONPATH,
which a section may point at the tree, nor any other PYTHON* variable or the user's site). The
venv does not see this Python's site-packages, so a developer environment's ``.pth`` files (an
editable install's finder, or anything else there) are not run at every start, as they are not for
a user. ``WPIGZ_BENCH_FROM=tree`` times the working tree in this Python instead (``python -m
wpigz``, as before); every report says which (``wpigz_origin``).

The suite (suite.py) and its sections (engines.py, zopfli.py, speed.py, libdeflate.py, ...)
import from here and from sections.py; nothing here imports them, so the package has no import
circle (tests/test_readme.py checks it).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "out"
PLOTS = HERE / "plots"
PY = sys.executable
DRIVERS = str(HERE / "drivers.py")


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_kib: int
    out_size: int


@dataclass
class Series:
    """Repeated runs of one configuration, and its per-round ratios to the reference."""

    tool: str
    level: int | None
    threads: int
    samples: list[Sample] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)       # throughput / reference's, per round

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(s, attribute) for s in self.samples)

    def span(self, attribute: str) -> tuple[float, float]:
        values = [getattr(s, attribute) for s in self.samples]
        return min(values), max(values)


GNU_TIME = "/usr/bin/time"
PEAK = WORK / "peak-rss"


def peak_rss_kib() -> int:
    """What GNU time wrote for the last command: its peak RSS in KiB."""
    return int(PEAK.read_text().split()[-1])


def run(cmd: list[str], *, stdin: Path | None = None, out: Path | None = None) -> Sample:
    """Run cmd to completion; stdout goes to out (or to a scratch file) to count its size."""
    target = out or WORK / "scratch.out"
    with open(target, "wb") as sink, tempfile.TemporaryFile() as errors, \
            open(stdin, "rb") if stdin else open(os.devnull, "rb") as source:
        start = time.perf_counter()
        # ENV (below): Python's bytecode cache on, as for an installed package; without it every
        # wpigz command compiled its modules again (about 40 ms of CPU, measured)
        process = subprocess.Popen([GNU_TIME, "-f", "%M", "-o", str(PEAK), *cmd], stdin=source, stdout=sink,
                                   stderr=errors, env=ENV)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(cmd)} failed ({process.returncode}): {errors.read().decode()[-500:]}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, peak_rss_kib(), target.stat().st_size)


FROM_ENV = "WPIGZ_BENCH_FROM"          # "wheel" (the default) or "tree": see the module's docstring
FROM = os.environ.get(FROM_ENV, "wheel")
if FROM not in ("wheel", "tree"):
    raise SystemExit(f"{FROM_ENV} is {FROM!r}: it must be 'wheel' or 'tree'")
VENV = WORK / "wheel-venv"
SOURCE = HERE.parent
_installed: list[Path] = []             # the venv's python, once this process has installed it
_built_from: list[str] = []             # the tree's `git describe` when its wheel was built


def wpigz_cmd(*args: str) -> list[str]:
    """The command line of wpigz with args, as timed: see the module's docstring."""
    return [*wpigz_python(), "-m", "wpigz", *args]


def wpigz_python() -> list[str]:
    """The Python (and its options) that timed wpigz commands run in."""
    if FROM == "tree":
        return [PY]
    if not _installed:
        _installed.append(install_wheel())
    return [str(_installed[0]), "-I"]


def _pip(*args: str) -> None:
    # without PYTHONPATH: pointed at a tree (as tests and some sections do) whose wpigz.egg-info
    # a build left there, it made pip take wpigz for installed already and skip the wheel
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([PY, "-m", "pip", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"pip {' '.join(args)} failed:\n{(proc.stdout + proc.stderr)[-2000:]}")


def _tree_files() -> list[str]:
    """The working tree's files, as git sees them: tracked and new, not ignored (so no build/,
    bench/out/ or __pycache__), with their uncommitted changes."""
    proc = subprocess.run(["git", "-C", str(SOURCE), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                          capture_output=True, check=True)
    return [name for name in proc.stdout.decode().split("\0") if name and (SOURCE / name).is_file()]


def install_wheel() -> Path:
    """Build the wheel from the working tree and install it, with its dependencies at this
    Python's versions, in a new venv (VENV); return the venv's python.

    The wheel is built from a copy of the tree's files: building in the tree itself leaves a
    build/ directory there whose build/lib keeps files since deleted from the tree, and they
    would go into the next wheel. The venv is made anew each time (a few seconds, mostly
    wasmtime's 30 MB library from pip's cache), so nothing of an earlier run is timed."""
    shutil.rmtree(VENV, ignore_errors=True)
    python = VENV / "bin" / "python"
    # read now: the reports this run writes later make the tree dirty
    _built_from[:] = [subprocess.run(["git", "-C", str(SOURCE), "describe", "--always", "--dirty"],
                                     capture_output=True, text=True).stdout.strip() or "unknown"]
    with tempfile.TemporaryDirectory(prefix="wpigz-wheel-") as build:
        copy = Path(build) / "src"
        for name in _tree_files():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(SOURCE / name, copy / name)
        _pip("wheel", "--no-deps", "--wheel-dir", str(Path(build) / "dist"), str(copy))
        (wheel,) = (Path(build) / "dist").glob("wpigz-*.whl")
        subprocess.run([PY, "-m", "venv", "--without-pip", str(VENV)], check=True)
        pins = [f"{name}=={metadata.version(name)}" for name in ("wasmtime", "tqdm", "zstandard")]
        _pip("--python", str(python), "install", str(wheel), *pins)
    # the venv's own packages, and nothing from this Python's environment
    where = subprocess.run([str(python), "-I", "-c", "import wpigz, wasmtime; print(wpigz.__file__); "
                            "print(wasmtime.__file__)"], capture_output=True, text=True, env=ENV, check=True)
    outside = [line for line in where.stdout.split() if not line.startswith(str(VENV))]
    if outside:
        raise SystemExit(f"the venv imports {outside} from outside {VENV}")
    # a first run of each engine compiles its module into the venv's own cache (below), untimed
    for engine in (["--engine", "zlib"], ["--engine", "zlib-ng"], ["--engine", "libdeflate"], ["-11"]):
        subprocess.run([str(python), "-I", "-m", "wpigz", *engine, "-c", str(python)],
                       stdout=subprocess.DEVNULL, env=ENV, check=True)
    return python


def wpigz_origin() -> str:
    """One sentence for the reports: which wpigz the timed commands ran."""
    if FROM == "tree":
        return (f"wpigz was timed from the working tree in this Python ({FROM_ENV}=tree: `python -m wpigz`, "
                "with this environment's site-packages and .pth files)")
    wpigz_python()                      # the wheel is built (once) before anything is timed
    commit = _built_from[0]
    return (f"wpigz was timed as users get it: the wheel built from the working tree ({commit}) in a new venv "
            f"with wasmtime {metadata.version('wasmtime')}, run as `VENV/bin/python -I -m wpigz` "
            f"({FROM_ENV}=tree times the tree in the developer's Python instead)")


# Python's bytecode cache on for the commands run by timed(), as for an installed package, even
# when PYTHONDONTWRITEBYTECODE is set in the caller's environment. The venv's wpigz keeps its
# compiled modules in a cache of its own: in the shared default one, wpigz run from a tree (by
# the developer, or by other benchmarks at the same time) would replace the venv's entry and
# make a timed run compile the module again.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
if FROM == "wheel":
    ENV["WPIGZ_CACHE_DIR"] = str(VENV / "cache")
CPU: dict[str, list[float]] = {}     # name -> CPU seconds (user + system) per round, of the last rounds()


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of cmd, its output thrown away (a failure stops the benchmark).
    CPU time (user + system, all threads) is shown beside wall time: on a shared machine it
    is far less disturbed by the other load than wall time is."""
    with open(os.devnull, "wb") as sink, open(os.devnull, "rb") as nothing:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=nothing, stdout=sink, stderr=subprocess.PIPE, env=env or ENV)
        errors = proc.stderr.read() if proc.stderr else b""
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({status}): {errors.decode()[-300:]}")
    return wall, usage.ru_utime + usage.ru_stime


def rounds(commands: dict[str, list[str]], runs: int, warmup: int = 1,
           envs: dict[str, dict[str, str]] | None = None) -> dict[str, list[float]]:
    """Each command once per round, order rotated per round: name -> wall seconds per round
    (CPU seconds go to CPU[name]). envs gives some commands their own environment."""
    names = list(commands)
    envs = envs or {}
    for _ in range(warmup):
        for name in names:
            timed(commands[name], envs.get(name))
    walls: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        CPU[name] = []
    for r in range(runs):
        for name in names[r % len(names):] + names[:r % len(names)]:
            wall, cpu = timed(commands[name], envs.get(name))
            walls[name].append(wall)
            CPU[name].append(cpu)
    return walls


def ratio(walls: dict[str, list[float]], a: str, b: str) -> tuple[float, float, float]:
    """Median, min, max over rounds of wall(b) / wall(a): how many times faster a is than b
    (below 1: how much slower)."""
    values = [tb / ta for ta, tb in zip(walls[a], walls[b])]
    return statistics.median(values), min(values), max(values)


def compress_cmd(tool: str, level: int, threads: int, path: Path) -> list[str] | None:
    """The command compressing path to stdout, or None when the tool has no such setting."""
    if tool == "wpigz":
        return wpigz_cmd() + [f"-{level}", "-p", str(threads), "-c", str(path)]
    if tool in ("wpigz zlib-ng", "wpigz libdeflate"):
        engine = tool.split()[1]
        return wpigz_cmd() + ["--engine", engine, f"-{level}", "-p", str(threads), "-c", str(path)]
    if tool == "pigz":
        return ["pigz", f"-{level}", "-p", str(threads), "-c", str(path)]
    if tool == "gzip":
        return ["gzip", f"-{level}", "-c", str(path)] if threads == 1 else None
    if tool == "python gzip":
        return [PY, DRIVERS, "compress", "gzip", str(level), "1", str(path), "/dev/stdout"] if threads == 1 else None
    if tool in ("isal", "zlib-ng", "pgzip"):
        return [PY, DRIVERS, "compress", tool, str(level), str(threads), str(path), "/dev/stdout"]
    if tool == "zstd (other format)":
        return ["zstd", f"-{level}", f"-T{threads}", "-q", "-c", str(path)]
    raise ValueError(tool)


def decompress_cmd(tool: str, path: Path) -> list[str]:
    return {
        "wpigz": wpigz_cmd() + ["-dc", str(path)],
        "pigz": ["pigz", "-dc", str(path)],
        "gzip": ["gzip", "-dc", str(path)],
        "python gzip": [PY, DRIVERS, "decompress", "gzip", "1", str(path), "/dev/stdout"],
        "isal": [PY, DRIVERS, "decompress", "isal", str(os.cpu_count()), str(path), "/dev/stdout"],
        "zlib-ng": [PY, DRIVERS, "decompress", "zlib-ng", str(os.cpu_count()), str(path), "/dev/stdout"],
        "pgzip": [PY, DRIVERS, "decompress", "pgzip", str(os.cpu_count()), str(path), "/dev/stdout"],
        "rapidgzip": ["rapidgzip", "-d", "-c", "-P", str(os.cpu_count()), str(path)],
        # python-isal's igzip command: ISA-L, one thread (issue 22's peer beside rapidgzip)
        "igzip": [PY, "-m", "isal.igzip", "-dc", str(path)],
        "zstd (other format)": ["zstd", "-dc", "-q", str(path)],
    }[tool]


COMPRESSORS = ["wpigz", "wpigz zlib-ng", "wpigz libdeflate", "pigz", "gzip", "python gzip", "pgzip", "isal", "zlib-ng",
               "zstd (other format)"]
DECOMPRESSORS = ["wpigz", "pigz", "gzip", "python gzip", "pgzip", "isal", "zlib-ng", "rapidgzip", "igzip",
                 "zstd (other format)"]
