"""The "many files" section (issue 25): whole commands over a tree of real files, 2 threads.

    python -m bench.many_files [--runs N] [--only compress,zlib-ng,level11,decompress,overhead]
    # also the suite's "many_files" section (python -m bench), whose table goes into RESULTS.md

The tree is the running Python's standard library (sysconfig's "stdlib" path, without
site-packages and __pycache__): about 2,450 files and 104 MB for CPython 3.11, more than half of
them under 8 KiB. Each tool works on its own copy (same bytes, same times), so the outputs can be
compared file by file: after every round wpigz's files must be pigz's bytes (zlib engine).

* ``-r -k``: wpigz (zlib, then zlib-ng) against pigz;
* ``-11 -r -k`` on small files: two small packages of the library (json and email);
* ``-d -r -k`` on a tree of pigz's .gz files (``-k`` so that a round needs no new copy; both
  tools are given it);
* per-file overhead: ``-r -k`` over 1,000 one-byte files against one such file, for wpigz,
  pigz and gzip: (wall(1000) - wall(1)) / 999, in ms per file.

Method: rounds; in each round every command of a comparison runs once, in an order rotated
from round to round; what a run leaves (outputs) is set aside before the next, outside the
timing: renamed into a holding folder (``WORK/aside``), which is deleted when the section ends.
Not deleted between rounds, because on this machine's ext4 (no journal) a new file's inode is
searched from the start of its group past every free inode released in the last minutes (one
buffer-cache lookup each: ``recently_deleted`` in fs/ext4/ialloc.c), so a loop that deletes
thousands of outputs and creates them again makes each create cost what the deletions before it
left behind: perf of ``wpigz -d -r`` in that loop put 45% of all samples there, and 2,443 creates
took 0.16 to 0.75 s of system time depending on the minutes before. That is a cost of the
benchmark's loop, paid by both tools, that an ordinary run does not pay. ``--delete`` measures the old way.
Ratios are taken within a round (pigz's wall / wpigz's) and their median over rounds
is reported with min-max; beside them, each command's CPU seconds (user + system of the finished
child, from getrusage(RUSAGE_CHILDREN)) and their ratio, which the other jobs of a shared machine
disturb much less than wall times. The figures go to stdout as a markdown table (bench/MANY_FILES.md
quotes them, with the analysis).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import resource
import subprocess
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

from .measure import HERE, ratio, wpigz_cmd, wpigz_origin
from .sections import Context, register

WORK = HERE / "out" / "many"
# the commands run in the trees' folder: this checkout's wpigz on the path, no GZIP/PIGZ options
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "GZIP", "PIGZ")}
ENV["PYTHONPATH"] = str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")
# a cache of compiled modules for this checkout alone: the shared one keeps one module per engine
# name, so another checkout's run (other bytes, same name) evicted this one's between rounds, and
# the next wpigz run compiled its modules again (seen in perf: cranelift in a -d -r run)
ENV["WPIGZ_CACHE_DIR"] = str(WORK / "cache")
ALL = "compress,zlib-ng,level11,decompress,overhead"


def stdlib_tree(target: Path) -> Path:
    """A copy of the standard library's files (times kept), made once."""
    if target.exists():
        return target
    source = Path(sysconfig.get_paths()["stdlib"])
    shutil.copytree(source, target, symlinks=True,
                    ignore=lambda d, names: [n for n in names if n in ("__pycache__", "site-packages")
                                             or n.endswith((".gz", ".zz", ".zip", ".Z"))])
    return target


def copy(tree: Path, target: Path) -> Path:
    if not target.exists():
        shutil.copytree(tree, target, symlinks=True)
    return target


ASIDE = WORK / "aside" / str(os.getpid())     # one folder per call: names never collide
DELETE = False          # --delete: remove outputs between rounds instead of setting them aside
_aside_count = 0


def remove(tree: Path, suffix: str | None = None, keep_suffix: str | None = None) -> None:
    """Take away files ending in suffix (or, with keep_suffix, every file not ending in it):
    set aside into ASIDE (see the module's docstring), or deleted with --delete."""
    global _aside_count
    ASIDE.mkdir(parents=True, exist_ok=True)
    for path in tree.rglob("*"):
        if path.is_file() and ((suffix and path.name.endswith(suffix))
                               or (keep_suffix and not path.name.endswith(keep_suffix))):
            if DELETE:
                path.unlink()
            else:
                _aside_count += 1
                path.rename(ASIDE / str(_aside_count))


def files(tree: Path) -> list[Path]:
    return sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink())


# CPU seconds (user + system, the OS's accounting of each finished command) per command name,
# filled by rounds(): on the shared machine wall times follow the load, CPU times much less
CPU: dict[str, list[float]] = {}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of one run of cmd."""
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=ENV)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 2):       # 2: warnings (a link skipped, say)
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-300:]}")
    return wall, _children_cpu() - cpu


def rounds(commands: dict[str, tuple[list[str], Path]], prepare, runs: int,
           check=None) -> dict[str, list[float]]:
    """name -> wall seconds per round (and CPU[name] -> CPU seconds); prepare(name) runs
    before each command, untimed; check() after each round."""
    names = list(commands)
    walls: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        CPU[name] = []
    for r in range(runs + 1):             # round 0 warms the caches and is not counted
        for name in names[r % len(names):] + names[:r % len(names)]:
            prepare(name)
            wall, cpu = timed(*commands[name])
            if r:
                walls[name].append(wall)
                CPU[name].append(cpu)
        if check is not None:
            check()
    return walls


def cpu_cell(name: str) -> str:
    return f"{statistics.median(CPU[name]):.2f} s"


def cpu_speedup(ours: str, theirs: str) -> str:
    """theirs' CPU / ours, per round: median (min-max)."""
    return "{:.2f}x ({:.2f}-{:.2f})".format(*ratio(CPU, ours, theirs))


def speedup(walls: dict[str, list[float]], ours: str, theirs: str) -> str:
    """theirs' wall / ours, per round: median (min-max)."""
    return "{:.2f}x ({:.2f}-{:.2f})".format(*ratio(walls, ours, theirs))


def same_bytes(ours: Path, theirs: Path, suffix: str) -> None:
    for path in files(ours):
        if path.name.endswith(suffix):
            other = theirs / path.relative_to(ours)
            if path.read_bytes() != other.read_bytes():
                raise SystemExit(f"{path}: not pigz's bytes")


def compare_compress(src: Path, label: str, args: list[str], runs: int, *, identical: bool,
                     goal: str, engine: list[str] = []) -> list[str]:
    a, b = copy(src, WORK / f"{label}-wpigz"), copy(src, WORK / f"{label}-pigz")
    commands = {"wpigz": (wpigz_cmd(*engine, *args, "-r", "-k", "-p", "2", a.name), a.parent),
                "pigz": (["pigz", *args, "-r", "-k", "-p", "2", b.name], b.parent)}
    walls = rounds(commands, lambda name: remove(a if name == "wpigz" else b, ".gz"), runs,
                   check=(lambda: same_bytes(a, b, ".gz")) if identical else None)
    count = len([p for p in files(a) if not p.name.endswith(".gz")])
    return [f"| `wpigz {' '.join(engine + args + ['-r', '-k'])}` vs `pigz {' '.join(args + ['-r', '-k'])}` | {count} files | "
            f"{statistics.median(walls['wpigz']):.2f} s | {statistics.median(walls['pigz']):.2f} s | "
            f"{speedup(walls, 'wpigz', 'pigz')} | {goal} | {cpu_cell('wpigz')} | {cpu_cell('pigz')} | "
            f"{cpu_speedup('wpigz', 'pigz')} |"]


def compare_decompress(src: Path, runs: int) -> list[str]:
    packed = WORK / "packed"
    if not packed.exists():
        shutil.copytree(src, packed, symlinks=True)
        subprocess.run(["pigz", "-r", "-p", "2", str(packed)], check=True, stderr=subprocess.DEVNULL)
        remove(packed, keep_suffix=".gz")
    a, b = copy(packed, WORK / "d-wpigz"), copy(packed, WORK / "d-pigz")
    commands = {"wpigz": (wpigz_cmd("-d", "-r", "-k", "-p", "2", a.name), a.parent),
                "pigz": (["pigz", "-d", "-r", "-k", "-p", "2", b.name], b.parent)}
    walls = rounds(commands, lambda name: remove(a if name == "wpigz" else b, keep_suffix=".gz"), runs)
    count = len([p for p in files(a) if p.name.endswith(".gz")])
    return [f"| `wpigz -d -r -k` vs `pigz -d -r -k` | {count} .gz files | "
            f"{statistics.median(walls['wpigz']):.2f} s | {statistics.median(walls['pigz']):.2f} s | "
            f"{speedup(walls, 'wpigz', 'pigz')} | 1.5x | {cpu_cell('wpigz')} | {cpu_cell('pigz')} | "
            f"{cpu_speedup('wpigz', 'pigz')} |"]


def overhead(runs: int) -> list[str]:
    many, one = WORK / "tiny-1000", WORK / "tiny-1"
    for tree, n in ((many, 1000), (one, 1)):
        if not tree.exists():
            tree.mkdir(parents=True)
            for i in range(n):
                (tree / f"f{i:04}").write_bytes(b"x")
    tools = {"wpigz": wpigz_cmd("-r", "-k", "-p", "2"), "pigz": ["pigz", "-r", "-k", "-p", "2"],
             "gzip": ["gzip", "-r", "-k"]}
    commands = {}
    for name, cmd in tools.items():
        for tree in (many, one):
            commands[f"{name} {tree.name}"] = (cmd + [tree.name], tree.parent)
    walls = rounds(commands, lambda name: remove(many if name.endswith("1000") else one, ".gz"), runs)
    rows = []
    for name in tools:
        per_file = [(m - o) / 999 * 1000 for m, o in zip(walls[f"{name} tiny-1000"], walls[f"{name} tiny-1"])]
        cpu_per_file = [(m - o) / 999 * 1000 for m, o in zip(CPU[f"{name} tiny-1000"], CPU[f"{name} tiny-1"])]
        rows.append(f"| {name} | {statistics.median(walls[f'{name} tiny-1']) * 1000:.0f} ms | "
                    f"{statistics.median(walls[f'{name} tiny-1000']) * 1000:.0f} ms | "
                    f"{statistics.median(per_file):.3f} ms ({min(per_file):.3f}-{max(per_file):.3f}) | "
                    f"{statistics.median(cpu_per_file):.3f} ms |")
    return rows


def report(runs: int, only: set[str]) -> Iterator[str]:
    """The markdown lines of the comparisons named in only, each as soon as it is measured."""
    yield f"{wpigz_origin()}."
    yield ""
    WORK.mkdir(parents=True, exist_ok=True)
    src = stdlib_tree(WORK / "stdlib")
    count = len(files(src))
    size = sum(p.stat().st_size for p in files(src))
    small = sum(1 for p in files(src) if p.stat().st_size < 8192)
    yield (f"Tree: {src.name}, a copy of {sysconfig.get_paths()['stdlib']}: {count} files, {size / 1e6:.1f} MB, "
           f"{small} under 8 KiB. Medians of {runs} rounds (min-max); ratio = pigz's wall / wpigz's; "
           f"outputs {'deleted' if DELETE else 'set aside'} between rounds.")
    yield ""
    yield "| comparison | input | wpigz | pigz | wpigz speed vs pigz | goal | wpigz CPU | pigz CPU | pigz CPU / wpigz CPU |"
    yield "|---|---|---|---|---|---|---|---|---|"
    if "compress" in only:
        yield from compare_compress(src, "z", [], runs, identical=True, goal="1.2x")
    if "zlib-ng" in only:
        yield from compare_compress(src, "ng", [], runs, identical=False, goal="2.0x", engine=["--engine", "zlib-ng"])
    if "level11" in only:
        packages = WORK / "small-packages"
        if not packages.exists():
            for name in ("json", "email"):
                shutil.copytree(src / name, packages / name, symlinks=True)
        yield from compare_compress(packages, "z11", ["-11"], runs, identical=True, goal="1.6x")
    if "decompress" in only:
        yield from compare_decompress(src, runs)
    if "overhead" in only:
        yield ""
        yield "| tool | 1 file | 1,000 one-byte files | overhead per file | CPU per file |"
        yield "|---|---|---|---|---|"
        yield from overhead(runs)
    shutil.rmtree(ASIDE.parent, ignore_errors=True)     # this call's and any left by an interrupted one


@register("many_files", order=50,
          summary="trees of real files (issue 25): -r -k, -11 -r, -d -r against pigz on the standard library, "
                  "per-file overhead")
def bench_section(ctx: Context) -> list[str]:
    """Every comparison; with --quick one round (after the warm-up round) instead of --runs."""
    ctx.log("many files (the standard library's tree)")
    lines = ["## Many files (issue 25): whole commands over a tree of real files, 2 threads", ""]
    for line in report(1 if ctx.quick else ctx.runs, set(ALL.split(","))):
        lines.append(line)
        if line.startswith("| ") and not line.startswith(("| comparison", "| tool", "|---")):
            ctx.log(f"  many files {line}")          # each measured row, as it comes
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.many_files", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default=ALL)
    parser.add_argument("--delete", action="store_true",
                        help="delete outputs between rounds (the old way) instead of setting them aside")
    args = parser.parse_args()
    global DELETE
    DELETE = args.delete
    for line in report(args.runs, set(args.only.split(","))):
        print(line, flush=True)


if __name__ == "__main__":
    main()
