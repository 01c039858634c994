#!/usr/bin/env python3
"""First benchmark of the engine: wpigz against GNU gzip and pigz, compressing and
decompressing real text.

    python bench/compress.py [--runs 5] [--size-mib 30] [--levels 1 6] [--threads 1 2]

Corpus: the running Python's standard-library sources (every Lib/**/*.py except
site-packages, in sorted path order), truncated to --size-mib; its sha256 is printed with the
results. Each tool compresses the file to /dev/null, as a whole command (interpreter start-up
included for wpigz). Every round runs wpigz and then pigz at the same level and thread count
back to back, so the wpigz/pigz ratio of each pair cancels machine drift; the report quotes
medians (and min-max) over the rounds. The engine's steady-state rate, without start-up, is
measured in-process too. Results go to stdout and bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def make_corpus(size: int) -> Path:
    root = Path(sysconfig.get_paths()["stdlib"])
    parts, total = [], 0
    for path in sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts):
        data = path.read_bytes()
        parts.append(data)
        total += len(data)
        if total >= size:
            break
    blob = b"".join(parts)[:size]
    if len(blob) < size:
        sys.exit(f"only {len(blob)} bytes of stdlib text available")
    OUT.mkdir(exist_ok=True)
    target = OUT / "stdlib-text.bin"
    target.write_bytes(blob)
    return target


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) for one run; output to /dev/null."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def in_process_seconds(data: bytes, level: int, threads: int, *, meter: bool = False) -> float:
    from wpigz.pipeline import DeflateOptions, compress_body, thread_runtime
    from wpigz.progress import FileProgress
    runtime = thread_runtime()
    sink = open(os.devnull, "w")
    bar = FileProgress("bench", 1, 1, len(data), stream=sink) if meter else None
    start = time.perf_counter()
    compress_body(io.BytesIO(data), io.BytesIO(), DeflateOptions(level=level, threads=threads), runtime=runtime,
                  on_block=bar.update if bar else None)
    seconds = time.perf_counter() - start
    if bar:
        bar.close()
    sink.close()
    return seconds


def in_process_decode_seconds(packed: Path) -> float:
    from wpigz.decoding import decompress
    from wpigz.pipeline import thread_runtime
    runtime = thread_runtime()
    with open(packed, "rb", buffering=0) as source:
        start = time.perf_counter()
        decompress(source, lambda view: None, runtime)
        return time.perf_counter() - start


def fmt_range(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size-mib", type=int, default=30)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 6])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    pigz, gzip = shutil.which("pigz"), shutil.which("gzip")
    if not pigz or not gzip:
        sys.exit("pigz and gzip are needed (apt-get install pigz gzip)")
    corpus = make_corpus(args.size_mib << 20)
    data = corpus.read_bytes()
    mb = len(data) / 1e6
    wpigz = [sys.executable, "-m", "wpigz"]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    lines = [f"Machine: {cpu}, {os.cpu_count()} CPUs; Python {platform.python_version()}; "
             f"{subprocess.run([pigz, '-V'], capture_output=True, text=True).stdout.strip() or 'pigz'}",
             f"Corpus: {len(data)} bytes of stdlib .py text, sha256 {hashlib.sha256(data).hexdigest()}",
             f"Command: python bench/compress.py --runs {args.runs} --size-mib {args.size_mib} "
             f"--levels {' '.join(map(str, args.levels))} --threads {' '.join(map(str, args.threads))}",
             ""]

    print("\n".join(lines), flush=True)
    rows = []
    seconds: dict[tuple[str, int, int], list[float]] = {}
    for level in args.levels:
        for threads in args.threads:
            walls, pigz_walls, ratios, cpus = [], [], [], []
            for run in range(args.runs):
                w, c = timed(wpigz + [f"-{level}", "-p", str(threads), "-c", str(corpus)])
                p, _ = timed([pigz, f"-{level}", "-p", str(threads), "-c", str(corpus)])
                walls.append(w)
                cpus.append(c)
                pigz_walls.append(p)
                ratios.append(p / w)        # throughput ratio wpigz / pigz
                print(f"  level {level} -p {threads} run {run + 1}: wpigz {w:.3f}s pigz {p:.3f}s", flush=True)
            engine = [in_process_seconds(data, level, threads) for _ in range(args.runs)]
            seconds[("wpigz", level, threads)] = walls
            seconds[("engine", level, threads)] = engine
            rows.append((f"wpigz -{level} -p {threads}", walls, cpus, statistics.median(ratios)))
            rows.append((f"pigz -{level} -p {threads}", pigz_walls, None, 1.0))
            rows.append((f"wpigz engine only -{level} -p {threads}", engine, None,
                         statistics.median(pigz_walls) / statistics.median(engine)))
        gz = [timed([gzip, f"-{level}", "-c", str(corpus)])[0] for _ in range(args.runs)]
        rows.append((f"gzip -{level}", gz, None, None))

    # the progress bar's cost, at the fastest level where it would show most: paired runs
    bar, no_bar = [], []
    for _ in range(args.runs):
        bar.append(timed(wpigz + ["-1", "--progress", "-c", str(corpus)])[0])
        no_bar.append(timed(wpigz + ["-1", "--no-progress", "-c", str(corpus)])[0])
    progress_cost = statistics.median(b / n for b, n in zip(bar, no_bar))
    # the same in-process, where tqdm is already imported: the cost of the updates alone
    meter_on, meter_off = [], []
    for _ in range(args.runs):
        meter_on.append(in_process_seconds(data, 1, max(args.threads), meter=True))
        meter_off.append(in_process_seconds(data, 1, max(args.threads)))
    update_cost = statistics.median(b / n for b, n in zip(meter_on, meter_off))

    # decompression of the same text, compressed by pigz -6: wpigz -d against gzip -d and pigz -d
    packed = OUT / "stdlib-text.bin.gz"
    with open(packed, "wb") as sink:
        subprocess.run([pigz, "-6", "-c", str(corpus)], stdout=sink, check=True)
    decode = {"wpigz -d": [], "gzip -d": [], "pigz -d": []}
    engine_decode = []
    for _ in range(args.runs):
        decode["wpigz -d"].append(timed(wpigz + ["-dc", str(packed)])[0])
        decode["gzip -d"].append(timed([gzip, "-dc", str(packed)])[0])
        decode["pigz -d"].append(timed([pigz, "-dc", str(packed)])[0])
        engine_decode.append(in_process_decode_seconds(packed))
    gzip_median = statistics.median(decode["gzip -d"])
    decode_rows = [f"| {name} | {fmt_range(values)} | {mb / statistics.median(values):.1f} | "
                   f"{gzip_median / statistics.median(values):.2f}x |" for name, values in decode.items()]
    decode_rows.append(f"| wpigz engine only | {fmt_range(engine_decode)} | "
                       f"{mb / statistics.median(engine_decode):.1f} | "
                       f"{gzip_median / statistics.median(engine_decode):.2f}x |")

    empty = OUT / "empty"
    empty.write_bytes(b"")
    startup = {name: statistics.median(timed(cmd + ["-c", str(empty)])[0] for _ in range(args.runs))
               for name, cmd in (("wpigz", wpigz), ("pigz", [pigz]), ("gzip", [gzip]))}

    table = ["| tool | seconds, median (min-max) | MB/s | throughput vs pigz, same level and threads |",
             "|---|---|---|---|"]
    for name, walls, _, ratio in rows:
        med = statistics.median(walls)
        table.append(f"| {name} | {fmt_range(walls)} | {mb / med:.1f} | "
                     f"{'' if ratio is None else f'{ratio:.2f}x'} |")
    scaling = []
    for level in args.levels:
        for kind in ("wpigz", "engine"):
            one = seconds.get((kind, level, min(args.threads)))
            for threads in args.threads:
                if threads != min(args.threads) and one:
                    scaling.append(f"- {kind} level {level}: -p {threads} is "
                                   f"{statistics.median(one) / statistics.median(seconds[(kind, level, threads)]):.2f}x "
                                   f"the throughput of -p {min(args.threads)}")
    report = lines + table + ["", "Parallel speedup:"] + scaling + [
        "", f"Progress bar (--progress vs --no-progress, level 1, {args.runs} paired runs): "
        f"{fmt_range(bar)} s vs {fmt_range(no_bar)} s, time ratio {progress_cost:.3f} (whole command, "
        f"so tqdm's one-time import is included); the updates alone, in-process: time ratio {update_cost:.3f}",
        "", "Decompression of the same text (compressed by pigz -6), MB/s of output:", "",
        "| tool | seconds, median (min-max) | MB/s | throughput vs gzip -d |", "|---|---|---|---|",
        *decode_rows,
        "", "Start-up (compressing empty input, median seconds): " +
        ", ".join(f"{k} {v:.3f}" for k, v in startup.items()),
        "", "'wpigz' rows time the whole command; 'engine only' rows time compress_body in one "
        "process (no interpreter start-up, no module compile)."]
    print("\n".join(report[len(lines):]))
    (HERE / "RESULTS.md").write_text("# wpigz benchmark: engine\n\n" + "\n".join(report) + "\n")


if __name__ == "__main__":
    main()
