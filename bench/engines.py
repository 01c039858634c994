"""Which engine to pick: wpigz's two engines against pigz at every level 1-9, on every corpus file.

Whole commands, as a user runs them (start-up included), with the machine's thread count:
pigz, `wpigz` (the zlib engine: pigz's exact bytes) and `wpigz --engine zlib-ng`, in rounds
with the order rotated (suite.py's method), each ratio taken within a round. The table is what
the README's paragraph on choosing an engine is written from.
"""

from __future__ import annotations

import statistics

from .suite import Series, compress_cmd, run

MB = 1e6
TOOLS = ["pigz", "wpigz", "wpigz zlib-ng"]
LEVELS = range(1, 10)


def measure(files, threads: int, runs: int, log) -> dict:
    """{(file name, tool, level): Series} for every corpus file, tool and level 1-9."""
    results: dict = {}
    for item in files:
        for level in LEVELS:
            configs = [(tool, compress_cmd(tool, level, threads, item.path)) for tool in TOOLS]
            series = {tool: Series(tool, level, threads) for tool in TOOLS}
            for round_ in range(runs):
                order = configs[round_ % len(configs):] + configs[:round_ % len(configs)]
                samples = {tool: run(cmd) for tool, cmd in order}
                for tool, sample in samples.items():
                    series[tool].samples.append(sample)
                    series[tool].ratios.append(samples["pigz"].wall / sample.wall)
            log(f"  engines {item.name} -{level} -p {threads}: " +
                ", ".join(f"{tool} {s.median('wall'):.2f}s" for tool, s in series.items()))
            for tool, s in series.items():
                results[(item.name, tool, level)] = s
    return results


def table(results: dict, files, threads: int) -> list[str]:
    """RESULTS.md's section: per file, per level, each engine's speed and size next to pigz's."""
    out = ["## Choosing an engine: both engines against pigz, levels 1-9", "",
           f"Whole commands with {threads} threads; 'x pigz' is the median of per-round throughput ratios, "
           "'size vs pigz' compares the output sizes.", ""]
    for item in files:
        out += [f"#### {item.name}", "",
                "| level | pigz MB/s | pigz ratio % | zlib engine MB/s | x pigz | zlib-ng engine MB/s | x pigz | "
                "zlib-ng ratio % | zlib-ng size vs pigz |",
                "|---|---|---|---|---|---|---|---|---|"]
        for level in LEVELS:
            pigz, zlib, ng = (results[(item.name, tool, level)] for tool in TOOLS)
            size = {name: s.median("out_size") for name, s in (("pigz", pigz), ("ng", ng))}
            out.append(f"| {level} | {item.size / MB / pigz.median('wall'):.1f} | "
                       f"{100 * size['pigz'] / item.size:.2f} | {item.size / MB / zlib.median('wall'):.1f} | "
                       f"{statistics.median(zlib.ratios):.2f}x | {item.size / MB / ng.median('wall'):.1f} | "
                       f"{statistics.median(ng.ratios):.2f}x | {100 * size['ng'] / item.size:.2f} | "
                       f"{100 * (size['ng'] / size['pigz'] - 1):+.2f}% |")
        out.append("")
    return out


def main() -> None:
    """This section alone: `python -m bench.engines [--size MiB] [--runs N] [--files text,binaries]`."""
    import argparse
    import os
    import time

    from . import corpus
    from .suite import WORK
    parser = argparse.ArgumentParser(prog="python -m bench.engines", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=24, help="MiB per corpus file (default 24)")
    parser.add_argument("--runs", type=int, default=3, help="rounds per configuration (default 3)")
    parser.add_argument("--files", default=",".join(corpus.RECIPES), help="corpus files to use")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    started = time.time()
    files = [f for f in corpus.build(WORK / "corpus", args.size << 20) if f.name in args.files.split(",")]
    threads = os.cpu_count() or 1
    results = measure(files, threads, args.runs, lambda text: print(f"[{time.time() - started:6.0f}s] {text}",
                                                                    flush=True))
    print("\n".join(table(results, files, threads)))


if __name__ == "__main__":
    main()
