"""The speed section: wpigz's own goals, each as a ratio to the native tool measured alongside.

    python -m bench.speed [--size MIB] [--runs N] [--only startup,decompress,compress]

* start-up: ``wpigz -c`` of a 1 KiB file, and ``wpigz -dc`` of it compressed, against ``python
  -c pass`` and ``python -c "import wasmtime"`` (in the Python wpigz runs in: the venv's, see
  measure.py) and against gzip and pigz doing the same; from the wheel, also ``wpigz -dc`` as the
  venv's console script (what a user types: no runpy);
* decompression: ``wpigz -dc`` against ``gzip -dc`` and ``pigz -dc`` on each corpus file
  (packed by pigz -6), and on a mixed file (half text, half binaries);
* compression: ``-p 2`` against ``-p 1`` at levels 1, 6 and 9, for wpigz and for pigz, and
  wpigz -p 2 against pigz -p 2.

Method: whole commands, output to /dev/null, timed from start to exit. The commands of one
comparison run in alternating rounds (the order rotated each round), ratios are taken within
a round, and the tables give the median ratio over the rounds with its min-max, so drift of a
shared machine mostly cancels. Python's bytecode cache is enabled for these runs (as it is for
an installed package) even when PYTHONDONTWRITEBYTECODE is set in the caller's environment.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
from pathlib import Path

from . import corpus
from .measure import CPU, FROM, VENV, WORK, ratio, rounds, wpigz_cmd, wpigz_origin, wpigz_python
from .sections import Context, register

STARTUP_CPU: dict[str, list[float]] = {}


def measure_startup(runs: int) -> dict[str, list[float]]:
    WORK.mkdir(exist_ok=True)
    tiny = WORK / "tiny-1KiB"
    tiny.write_bytes(corpus.RECIPES["text"][1](1024))
    packed = WORK / "tiny-1KiB.gz"
    packed.write_bytes(subprocess.run(["pigz", "-c", str(tiny)], capture_output=True, check=True).stdout)
    python = wpigz_python()
    walls = rounds({"python -c pass": [*python, "-c", "pass"],
                    "python -c 'import wasmtime'": [*python, "-c", "import wasmtime"],
                    "wpigz -c": wpigz_cmd("-c", str(tiny)),
                    "wpigz -dc": wpigz_cmd("-dc", str(packed)),
                    "pigz -c": ["pigz", "-c", str(tiny)],
                    "pigz -dc": ["pigz", "-dc", str(packed)],
                    "gzip -c": ["gzip", "-c", str(tiny)],
                    "gzip -dc": ["gzip", "-dc", str(packed)],
                    # what a user types: the console script pip wrote (no runpy), in wheel mode
                    **({"wpigz -dc, console script": [str(VENV / "bin" / "wpigz"), "-dc", str(packed)]}
                       if FROM == "wheel" else {})}, runs, warmup=3)
    STARTUP_CPU.update(CPU)
    return walls


def measure_decompress(paths: list[Path], runs: int) -> dict[str, dict[str, list[float]]]:
    results = {}
    for path in paths:
        packed = WORK / f"{path.name}.gz"
        if not packed.exists() or packed.stat().st_mtime < path.stat().st_mtime:
            with open(packed, "wb") as sink:
                subprocess.run(["pigz", "-6", "-c", str(path)], stdout=sink, check=True)
        results[path.name] = rounds({"wpigz -dc": wpigz_cmd("-dc", str(packed)),
                                     "gzip -dc": ["gzip", "-dc", str(packed)],
                                     "pigz -dc": ["pigz", "-dc", str(packed)]}, runs)
    return results


def measure_compress(path: Path, levels: list[int], runs: int) -> dict[int, dict[str, list[float]]]:
    return {level: rounds({"wpigz -p 2": wpigz_cmd(f"-{level}", "-p", "2", "-c", str(path)),
                           "wpigz -p 1": wpigz_cmd(f"-{level}", "-p", "1", "-c", str(path)),
                           "pigz -p 2": ["pigz", f"-{level}", "-p", "2", "-c", str(path)],
                           "pigz -p 1": ["pigz", f"-{level}", "-p", "1", "-c", str(path)]}, runs, warmup=0)
            for level in levels}


def _fmt(r: tuple[float, float, float]) -> str:
    return f"{r[0]:.2f}x ({r[1]:.2f}-{r[2]:.2f})"


def markdown(startup: dict | None, decompress: dict | None, compress: dict | None, *,
             runs: int, compress_file: str = "") -> list[str]:
    """The section's lines for RESULTS.md."""
    lines = ["## Speed goals", "",
             f"Whole commands, {runs} alternating rounds, median ratio within a round (min-max); "
             "a ratio above 1 means the first tool is faster. Goals from issue 11 in brackets. "
             f"{wpigz_origin()}.", ""]
    if startup:
        median = {name: statistics.median(walls) * 1000 for name, walls in startup.items()}
        cpu = {name: statistics.median(STARTUP_CPU.get(name) or [0]) * 1000 for name in startup}
        lines += ["| start-up, 1 KiB | median wall ms | median CPU ms |", "|---|---:|---:|"]
        lines += [f"| `{name}` | {ms:.1f} | {cpu[name]:.1f} |" for name, ms in median.items()]
        over = [b / a for a, b in zip(startup["python -c 'import wasmtime'"], startup["wpigz -c"])]
        lines += ["", f"`wpigz -c` takes {statistics.median(over):.2f}x (min-max {min(over):.2f}-{max(over):.2f}) "
                  "the wall time of `python -c 'import wasmtime'` [goal: at most 1.3x]"]
        if STARTUP_CPU:
            cpu_over = [b / a for a, b in zip(STARTUP_CPU["python -c 'import wasmtime'"], STARTUP_CPU["wpigz -c"])]
            lines[-1] += f"; {statistics.median(cpu_over):.2f}x its CPU time"
        lines += [""]
    if decompress:
        lines += ["| decompress (pigz -6 input) | wpigz -dc vs gzip -dc [>= 1.3x] | wpigz -dc vs pigz -dc [>= 0.8x] "
                  "| wpigz -dc median s |", "|---|---:|---:|---:|"]
        for name, walls in decompress.items():
            lines.append(f"| {name} | {_fmt(ratio(walls, 'wpigz -dc', 'gzip -dc'))} | "
                         f"{_fmt(ratio(walls, 'wpigz -dc', 'pigz -dc'))} | {statistics.median(walls['wpigz -dc']):.2f} |")
        lines.append("")
    if compress:
        lines += [f"| compress {compress_file} | wpigz -p 2 vs pigz -p 2 [-6: >= 0.80x] | wpigz -p 2 vs -p 1 "
                  "[-1: >= 1.7x] | pigz -p 2 vs -p 1 | wpigz -p 2 median s |", "|---|---:|---:|---:|---:|"]
        for level, walls in compress.items():
            lines.append(f"| -{level} | {_fmt(ratio(walls, 'wpigz -p 2', 'pigz -p 2'))} | "
                         f"{_fmt(ratio(walls, 'wpigz -p 2', 'wpigz -p 1'))} | "
                         f"{_fmt(ratio(walls, 'pigz -p 2', 'pigz -p 1'))} | {statistics.median(walls['wpigz -p 2']):.2f} |")
        lines.append("")
    return lines


def run(size: int, runs: int, only: set[str], log=print) -> list[str]:
    """Measure what only names (startup, decompress, compress) on size-byte corpus files."""
    WORK.mkdir(exist_ok=True)
    startup = decompress = compress = None
    text = None
    if only & {"decompress", "compress"}:
        # GCIDE holds about 38 MiB of text: the mixed file alone goes up to size
        files = [f for f in corpus.build(WORK / "corpus", min(size, 38 << 20)) if f.name in ("text", "binaries")]
        text = files[0].path
    if "startup" in only:
        log("speed: start-up")
        startup = measure_startup(max(runs, 10) * 2)
    if "decompress" in only:
        log("speed: decompression")
        decompress = measure_decompress([f.path for f in files] + [corpus.mixed(files, size)], runs)
    if "compress" in only:
        log("speed: compression")
        compress = measure_compress(text, [1, 6, 9], runs)
    return markdown(startup, decompress, compress, runs=runs, compress_file=text.name if text else "")


@register("speed", order=10, summary="start-up, -dc and -p 2 scaling against gzip/pigz, as ratios (issue 11's goals)")
def bench_section(ctx: Context) -> list[str]:
    return run(ctx.size, ctx.runs, {"startup", "decompress", "compress"}, ctx.log)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=40, help="MiB per corpus file (default 40)")
    parser.add_argument("--runs", type=int, default=5, help="rounds per comparison (default 5)")
    parser.add_argument("--only", default="startup,decompress,compress")
    args = parser.parse_args()
    print("\n".join(run(args.size << 20, args.runs, set(args.only.split(",")))))


if __name__ == "__main__":
    main()
