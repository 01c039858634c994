"""What every benchmark section measures with: one command run to completion as a process
(wall time, CPU time from os.wait4, peak RSS from GNU time), the commands of each tool, and the
places the results go (bench/out/ for scratch files, bench/plots/ for figures).

Commands compared in rotated rounds with their output thrown away (timed, rounds, ratio: what
speed.py and chunked.py measure with) live here too.

The suite (suite.py) and its sections (engines.py, zopfli.py, speed.py, libdeflate.py, ...)
import from here and from sections.py; nothing here imports them, so the package has no import
circle (tests/test_readme.py checks it).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
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


def wpigz_cmd(*args: str) -> list[str]:
    return [PY, "-m", "wpigz", *args]


# Python's bytecode cache on for the commands run by timed(), as for an installed package, even
# when PYTHONDONTWRITEBYTECODE is set in the caller's environment.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
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
