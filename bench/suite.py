"""Run the benchmark and write bench/RESULTS.md and bench/plots/*.png.

    python -m bench            # the full run (over an hour on 2 cores, docs/benchmark.md's estimate)
    python -m bench --quick    # 4 MiB slices and small size steps: about ten minutes
    python -m bench --list     # the sections registered in sections.py; --skip NAME,... leaves some out

Method. Every measurement is one process, timed from start to exit; os.wait4 gives its CPU time.
Its peak RSS comes from GNU time (/usr/bin/time -f %M), which forks the tool from its own small
process: a child forked straight from this (large) process would report this process's size
as its peak. Compression runs in rounds: in each round every tool runs once at the given level
and thread count, in an order rotated from round to round, and pigz with the same level and
threads (one thread for single-threaded tools) runs in the same round, so each tool's ratio to
pigz is taken within a round and machine drift cancels. Tables give medians over the rounds,
with min-max. Decompression is measured the same way against gzip -d and pigz -d.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from . import corpus, report
# each registers its section (sections.py)
from . import chunked, dask, engines, layouts, libdeflate, many_files, speed, zopfli  # noqa: F401
from .measure import (COMPRESSORS, DECOMPRESSORS, DRIVERS, GNU_TIME, HERE, PEAK, PLOTS, PY, WORK, Series,
                      compress_cmd, decompress_cmd, peak_rss_kib, run, wpigz_cmd)
from .sections import Context, ordered


def measure_compression(files, levels, thread_counts, runs, log) -> dict:
    results: dict = {}
    for item in files:
        for level in levels:
            for threads in thread_counts:
                configs = [(tool, compress_cmd(tool, level, threads, item.path)) for tool in COMPRESSORS]
                configs = [(tool, cmd) for tool, cmd in configs if cmd is not None]
                series = {tool: Series(tool, level, threads) for tool, _ in configs}
                for round_ in range(runs):
                    order = configs[round_ % len(configs):] + configs[:round_ % len(configs)]
                    samples = {tool: run(cmd) for tool, cmd in order}
                    reference = samples["pigz"].wall
                    for tool, sample in samples.items():
                        series[tool].samples.append(sample)
                        series[tool].ratios.append(reference / sample.wall)
                    log(f"  compress {item.name} -{level} -p {threads} round {round_ + 1}/{runs}: " +
                        ", ".join(f"{tool} {s.wall:.2f}s" for tool, s in samples.items()))
                # single-threaded tools also belong to the thread-count-1 comparison only
                for tool, s in series.items():
                    results[(item.name, tool, level, threads)] = s
    return results


def measure_decompression(files, runs, log) -> dict:
    results: dict = {}
    for item in files:
        packed = WORK / f"{item.path.name}.gz"
        run(["pigz", "-6", "-c", str(item.path)], out=packed)
        packed_zst = WORK / f"{item.path.name}.zst"
        run(["zstd", "-6", "-q", "-c", str(item.path)], out=packed_zst)
        tools = DECOMPRESSORS
        series = {tool: Series(tool, None, 1) for tool in tools}
        for round_ in range(runs):
            order = tools[round_ % len(tools):] + tools[:round_ % len(tools)]
            samples = {tool: run(decompress_cmd(tool, packed_zst if tool.startswith("zstd") else packed))
                       for tool in order}
            for tool, sample in samples.items():
                series[tool].samples.append(sample)
                series[tool].ratios.append(samples["gzip"].wall / sample.wall)
            log(f"  decompress {item.name} round {round_ + 1}/{runs}: " +
                ", ".join(f"{tool} {s.wall:.2f}s" for tool, s in samples.items()))
        for tool, s in series.items():
            results[(item.name, tool)] = s
    return results


def measure_startup(runs: int) -> dict:
    tiny = WORK / "tiny-1KiB"
    tiny.write_bytes(corpus.RECIPES["text"][1](1024))
    commands = {tool: compress_cmd(tool, 6, 1, tiny) for tool in COMPRESSORS}
    return {tool: statistics.median(run(cmd).wall for _ in range(runs)) for tool, cmd in commands.items()}


def measure_scaling(text: Path, sizes: list[int], threads: int, log) -> list[tuple[int, float, int]]:
    """wpigz -1 on a generated stream of each size (never stored): (size, seconds, peak KiB)."""
    points = []
    for size in sizes:
        generator = subprocess.Popen([PY, DRIVERS, "generate", str(size), str(text)], stdout=subprocess.PIPE)
        with open(os.devnull, "wb") as sink:
            start = time.perf_counter()
            process = subprocess.Popen([GNU_TIME, "-f", "%M", "-o", str(PEAK), *wpigz_cmd(), "-1", "-p",
                                        str(threads)], stdin=generator.stdout, stdout=sink)
            generator.stdout.close()
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - start
            process.returncode = os.waitstatus_to_exitcode(status)
        generator.wait()
        if process.returncode != 0 or generator.returncode != 0:
            raise SystemExit(f"scaling run of {size} bytes failed")
        points.append((size, wall, peak_rss_kib()))
        log(f"  scaling {size >> 20} MiB: {wall:.2f}s, peak {points[-1][2] / 1024:.0f} MiB")
    return points


def measure_engine(text: Path, levels, thread_counts, runs: int, engine: str = "zlib") -> dict:
    """wpigz's engine in this process (no interpreter start-up, no module compile): the
    compression body and the sandboxed decoder, as seconds per configuration."""
    import io
    from wpigz.decode.entry import decompress
    from wpigz.encode.pipeline import DeflateOptions, compress_body
    from wpigz.sandbox.wasm_host import Runtime
    runtime = Runtime(engine=engine)
    data = text.read_bytes()
    results = {}
    for level in levels:
        for threads in thread_counts:
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                compress_body(io.BytesIO(data), io.BytesIO(), DeflateOptions(level=level, threads=threads),
                              runtime=runtime)
                times.append(time.perf_counter() - start)
            results[("compress", level, threads)] = times
    packed = WORK / f"{text.name}.gz"
    times = []
    for _ in range(runs):
        with open(packed, "rb", buffering=0) as source:
            start = time.perf_counter()
            decompress(source, lambda view: None, runtime)
            times.append(time.perf_counter() - start)
    results[("decompress", 6, 1)] = times
    return results


def measure_progress_cost(text: Path, runs: int) -> tuple[list[float], list[float]]:
    """wpigz -1 with --progress and with --no-progress, paired: the progress bar's cost."""
    with_bar, without = [], []
    for _ in range(runs):
        with_bar.append(run(wpigz_cmd() + ["-1", "--progress", "-c", str(text)]).wall)
        without.append(run(wpigz_cmd() + ["-1", "--no-progress", "-c", str(text)]).wall)
    return with_bar, without


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for cmd in (["pigz", "--version"], ["gzip", "--version"], ["zstd", "--version"]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        versions.append((proc.stdout or proc.stderr).splitlines()[0].strip())
    from importlib.metadata import version

    import isal
    import zlib_ng

    import wpigz
    return (f"{cpu}, {os.cpu_count()} CPUs; Linux {platform.release()}; Python {platform.python_version()}; "
            f"wpigz {wpigz.__version__}; {'; '.join(versions)}; python-isal {isal.__version__}; "
            f"python-zlib-ng {zlib_ng.__version__}; pgzip {version('pgzip')}; rapidgzip {version('rapidgzip')}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small slices: about ten minutes on 2 cores (an estimate)")
    parser.add_argument("--runs", type=int, default=5, help="rounds per configuration (default 5)")
    parser.add_argument("--list", action="store_true", help="list the registered sections and exit")
    parser.add_argument("--skip", default="", metavar="NAME,...",
                        help="registered sections to leave out (see --list); the core tables always run")
    args = parser.parse_args()
    if args.list:
        print("core: compression, decompression, start-up, engines in-process, progress bar, scaling")
        for section in ordered():
            print(f"{section.name}: {section.summary}")
        return
    skip = {name for name in args.skip.split(",") if name}
    unknown = skip - {section.name for section in ordered()}
    if unknown:
        parser.error(f"no such section: {', '.join(sorted(unknown))} (see --list)")
    for tool in ("pigz", "gzip", "zstd", GNU_TIME):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed: apt-get install pigz gzip zstd time dict-gcide")
    if shutil.which("rapidgzip") is None:
        raise SystemExit("rapidgzip is needed: pip install '.[bench]'")
    WORK.mkdir(exist_ok=True)
    size = (4 if args.quick else 24) << 20
    levels = [1, 6, 9]
    thread_counts = sorted({1, *range(2, (os.cpu_count() or 1) + 1)})
    scaling_sizes = ([1, 16, 64] if args.quick else [1, 16, 256, 1024, 2048])
    started = time.time()
    load_before = os.getloadavg()[0]

    def log(text: str) -> None:
        print(f"[{time.time() - started:6.0f}s] {text}", flush=True)

    command = "python -m bench" + (" --quick" if args.quick else "") + \
              (f" --runs {args.runs}" if args.runs != 5 else "") + (f" --skip {args.skip}" if skip else "")
    log(f"building the corpus ({size >> 20} MiB per file)")
    files = corpus.build(WORK / "corpus", size)
    log("compression")
    compression = measure_compression(files, levels, thread_counts, args.runs, log)
    log("decompression")
    decompression = measure_decompression(files, args.runs, log)
    log("start-up")
    startup = measure_startup(args.runs)
    log("engine in-process, and the progress bar's cost")
    engine = {name: measure_engine(files[0].path, levels, thread_counts, args.runs, name)
              for name in ("zlib", "zlib-ng")}
    progress_cost = measure_progress_cost(files[0].path, args.runs)
    log("scaling with input size")
    scaling = measure_scaling(files[0].path, [s << 20 for s in scaling_sizes], max(thread_counts), log)
    context = Context(files=files, size=size, threads=max(thread_counts), runs=args.runs, quick=args.quick,
                      command=command, log=log)
    sections: list[str] = []
    for section in ordered():
        if section.name not in skip:
            sections += section.run(context)
    # when and how busy: ratios within a round hold up under load, absolute times do not
    when = (f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(started))} to "
            f"{time.strftime('%H:%M UTC', time.gmtime())}; load average {load_before:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end")
    report.write(HERE / "RESULTS.md", PLOTS, command=command, machine=f"{machine()}; run {when}", files=files,
                 levels=levels, thread_counts=thread_counts, compression=compression,
                 decompression=decompression, startup=startup, scaling=scaling, runs=args.runs,
                 engine=engine, progress_cost=progress_cost, sections=sections)
    log(f"wrote {HERE / 'RESULTS.md'} and {PLOTS}/")
