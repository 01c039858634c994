"""Issue 21's goals, measured: every engine in pigz's one-stream layout against pigz, whole
commands, 2 threads, on more than 100 MB of real text and of real binaries.

    python -m bench.layouts [--runs N] [--size MB]    # also a section of python -m bench

Data (made once under bench/out/, sha256 in the report):
* text: a tar (sorted names, no times or owners) of the GCIDE dictionary decompressed (Debian
  dict-gcide, 40 MB of English prose) then the text files (.py .c .h .html .js .json .txt .md
  .rst .xml .css .svg .toml .cfg) of /usr/lib/python3*, /usr/share and /usr/include in sorted
  path order, cut at --size MB;
* binaries: ELF files from /usr/bin then /usr/lib (bench/corpus.py's recipe), cut the same.
In each round, in an order rotated from round to round: `pigz -L -p 2 -c` and `wpigz --engine E
-L -p 2 -c` for E in zlib, zlib-ng, libdeflate at L in 1, 6, 9, then `pigz -dc` of pigz -6's
output and `wpigz -dc -p 2` of each engine's -6 output. Speed ratios (pigz's wall time over the
command's) are taken within a round; medians over rounds. Alone it writes bench/LAYOUTS.md; as
the suite's "layouts" section (110 MB, at most 3 rounds; 8 MB with --quick) its table goes into
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import statistics
import tarfile
import time
from pathlib import Path

from .corpus import GCIDE, _binaries
from .measure import HERE, WORK, run, wpigz_cmd, wpigz_origin
from .sections import Context, demote, register

ENGINES = ["zlib", "zlib-ng", "libdeflate"]
LEVELS = [1, 6, 9]
THREADS = "2"
TEXT_ROOTS = ["/usr/lib/python3", "/usr/lib/python3.11", "/usr/share", "/usr/include"]
TEXT_SUFFIXES = (".py", ".c", ".h", ".html", ".js", ".json", ".txt", ".md", ".rst", ".xml", ".css", ".svg",
                 ".toml", ".cfg")


def _text(size: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
        with gzip.open(GCIDE, "rb") as f:
            add("gcide.dict", f.read())
        for root in TEXT_ROOTS:
            for directory, subdirs, files in sorted(os.walk(root)):
                subdirs.sort()
                for name in sorted(files):
                    path = os.path.join(directory, name)
                    if not name.endswith(TEXT_SUFFIXES) or os.path.islink(path) or not os.path.isfile(path):
                        continue
                    with open(path, "rb") as f:
                        add(path, f.read())
                    if buffer.tell() >= size:
                        return buffer.getvalue()[:size]
    raise SystemExit(f"only {buffer.tell()} bytes of text")


def corpus(size: int) -> dict[str, tuple[Path, str]]:
    WORK.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, make in (("text", _text), ("binaries", _binaries)):
        path = WORK / f"layouts-{name}-{size // 10**6}MB"
        if not path.exists() or path.stat().st_size != size:
            path.write_bytes(make(size))
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        out[name] = (path, digest)
    return out


def compress(tool: str, level: int, path: Path) -> list[str]:
    if tool == "pigz":
        return ["pigz", f"-{level}", "-p", THREADS, "-c", str(path)]
    return wpigz_cmd() + ["--engine", tool, f"-{level}", "-p", THREADS, "-c", str(path)]


def measure(files: dict[str, tuple[Path, str]], runs: int, log) -> dict:
    """{(corpus, tool, level or 'dc'): {'ratio': [...], 'size': n, 'wall': [...]}}."""
    results: dict = {}
    # once, untimed: each engine's compiled module and Python's bytecode into their caches, as
    # an installed wpigz that has run before has them
    for tool in ENGINES:
        run(wpigz_cmd("--engine", tool, "-c", str(HERE / "layouts.py")))
    for name, (path, _) in files.items():
        outputs = {tool: WORK / f"layouts-{name}-{tool}.gz" for tool in ["pigz", *ENGINES]}
        for round_ in range(runs):
            jobs = []
            for level in LEVELS:
                for tool in ["pigz", *ENGINES]:
                    jobs.append((tool, level, compress(tool, level, path),
                                 outputs[tool] if level == 6 else None, None))
            shift = round_ % len(jobs)
            jobs = jobs[shift:] + jobs[:shift]
            walls: dict = {}
            cpus: dict = {}
            for tool, level, cmd, out, stdin in jobs:
                sample = run(cmd, out=out)
                walls[(tool, level)], cpus[(tool, level)] = sample.wall, sample.cpu
                entry = results.setdefault((name, tool, level), {"wall": [], "ratio": [], "cpu_ratio": [],
                                                                 "size": sample.out_size})
                entry["wall"].append(sample.wall)
            # decoding each -6 output (made above, in this round)
            decoders = [("pigz", ["pigz", "-dc", str(outputs["pigz"])])] + \
                       [(tool, wpigz_cmd() + ["-dc", "-p", THREADS, str(outputs[tool])]) for tool in ENGINES]
            shift = round_ % len(decoders)
            for tool, cmd in decoders[shift:] + decoders[:shift]:
                sample = run(cmd)
                assert sample.out_size == path.stat().st_size
                walls[(tool, "dc")], cpus[(tool, "dc")] = sample.wall, sample.cpu
                results.setdefault((name, tool, "dc"), {"wall": [], "ratio": [], "cpu_ratio": [],
                                                        "size": 0})["wall"].append(sample.wall)
            for (tool, level), wall in walls.items():
                results[(name, tool, level)]["ratio"].append(walls[("pigz", level)] / wall)
                results[(name, tool, level)]["cpu_ratio"].append(cpus[("pigz", level)] / cpus[(tool, level)])
            results.setdefault("load", []).append(os.getloadavg()[0])
            log(f"{name} round {round_ + 1}/{runs} done")
    return results


def markdown(results: dict, files: dict, runs: int, size: int, command: str = "") -> str:
    command = command or f"python -m bench.layouts --runs {runs} --size {size // 10**6}"
    lines = [f"# Engines in pigz's one-stream layout against pigz (issue 21)", "",
             f"Made by `{command}` on {time.strftime('%Y-%m-%d')} "
             f"({os.cpu_count()} CPUs, shared with other work: ratios are taken within a round, then the median "
             f"of {runs} rounds). Whole commands, `-p 2`, output to a file. The 1-minute load average at "
             f"the end of each round (this benchmark's own commands count about 2): "
             f"{', '.join(f'{load:.1f}' for load in results.get('load', []))}. {wpigz_origin()}.", ""]
    for name, (path, digest) in files.items():
        lines.append(f"* {name}: {path.stat().st_size / 1e6:.0f} MB, sha256 {digest[:16]}...")
    lines += ["", "Speed: pigz's wall time / the command's (higher is faster); CPU: pigz's CPU seconds (user +",
              "system, all threads) / the command's, the steadier figure when the machine is shared. Size:",
              "output / pigz's output.", "",
              "| data | level | engine | speed vs pigz | CPU vs pigz | size vs pigz | output % of input | median s |",
              "|---|---|---|---|---|---|---|---|"]
    for name, (path, _) in files.items():
        total = path.stat().st_size
        for level in LEVELS:
            pigz_size = results[(name, "pigz", level)]["size"]
            for tool in ["pigz", *ENGINES]:
                entry = results[(name, tool, level)]
                lines.append(f"| {name} | -{level} | {tool} | {statistics.median(entry['ratio']):.2f}x "
                             f"(min {min(entry['ratio']):.2f}) | {statistics.median(entry['cpu_ratio']):.2f}x | "
                             f"{entry['size'] / pigz_size:.4f} | "
                             f"{100 * entry['size'] / total:.2f}% | {statistics.median(entry['wall']):.2f} |")
    lines += ["", "Decoding each -6 output (`pigz -dc`; `wpigz -dc -p 2`): speed vs `pigz -dc` of pigz's own output.",
              "", "| data | output of | speed vs pigz -dc | CPU vs pigz -dc | median s |", "|---|---|---|---|---|"]
    for name in files:
        for tool in ["pigz", *ENGINES]:
            entry = results[(name, tool, "dc")]
            lines.append(f"| {name} | {tool} -6 | {statistics.median(entry['ratio']):.2f}x | "
                         f"{statistics.median(entry['cpu_ratio']):.2f}x | "
                         f"{statistics.median(entry['wall']):.2f} |")
    return "\n".join(lines) + "\n"


SIZE_MB = 110
QUICK_SIZE_MB = 8


@register("layouts", order=40,
          summary="every engine in pigz's one-stream layout against pigz at -1/-6/-9 and -dc, 110 MB of text "
                  "and of binaries, -p 2 (issue 21)")
def bench_section(ctx: Context) -> list[str]:
    ctx.log("engines in one stream against pigz (layouts)")
    size = (QUICK_SIZE_MB if ctx.quick else SIZE_MB) * 10**6
    runs = min(ctx.runs, 3)
    files = corpus(size)
    results = measure(files, runs, lambda text: ctx.log(f"  layouts: {text}"))
    return demote(markdown(results, files, runs, size, ctx.command).splitlines()) + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=SIZE_MB, help="MB of each corpus file (default 110)")
    args = parser.parse_args()
    size = args.size * 10**6
    files = corpus(size)
    start = time.time()
    results = measure(files, args.runs, lambda text: print(f"[{time.time() - start:6.0f} s] {text}", flush=True))
    report = markdown(results, files, args.runs, size)
    (HERE / "LAYOUTS.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
