"""Which engine to pick: wpigz's three engines against pigz at every level 1-9, on every corpus file.

Whole commands, as a user runs them (start-up included), with the machine's thread count:
pigz, `wpigz` (the zlib engine: pigz's exact bytes), `wpigz --engine zlib-ng` and `wpigz
--engine libdeflate`, in rounds with the order rotated (suite.py's method), each ratio taken
within a round. The table and bench/plots/engines.png are what the README's "choose an
engine" shows: bench/figures.py generates its table from this section of RESULTS.md.
"""

from __future__ import annotations

import statistics

from .measure import PLOTS, WORK, Series, compress_cmd, run, wpigz_origin
from .sections import Context, register

MB = 1e6
TOOLS = ["pigz", "wpigz", "wpigz zlib-ng", "wpigz libdeflate"]
ENGINE_TOOLS = {"zlib": "wpigz", "zlib-ng": "wpigz zlib-ng", "libdeflate": "wpigz libdeflate"}
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
    out = ["## Choosing an engine: the three engines against pigz, levels 1-9", "",
           f"Whole commands with {threads} threads; 'x pigz' is the median of per-round throughput ratios, "
           f"'size' compares the output's size with pigz's at the same level. {wpigz_origin()}. "
           "![engines against pigz](plots/engines.png)", ""]
    for item in files:
        head = "| level | pigz MB/s | pigz ratio % |"
        rule = "|---|---|---|"
        for engine in ENGINE_TOOLS:
            head += f" {engine} MB/s | x pigz | size |"
            rule += "---|---|---|"
        out += [f"#### {item.name}", "", head, rule]
        for level in LEVELS:
            pigz = results[(item.name, "pigz", level)]
            pigz_size = pigz.median("out_size")
            row = f"| {level} | {item.size / MB / pigz.median('wall'):.1f} | {100 * pigz_size / item.size:.2f} |"
            for tool in ENGINE_TOOLS.values():
                s = results[(item.name, tool, level)]
                row += (f" {item.size / MB / s.median('wall'):.1f} | {statistics.median(s.ratios):.2f}x | "
                        f"{100 * (s.median('out_size') / pigz_size - 1):+.2f}% |")
            out.append(row)
        out.append("")
    return out


def plot(results: dict, files, threads: int, target) -> None:
    """Throughput against pigz's (median per-round ratio) at each level, one panel per file."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(1, len(files), figsize=(5 * len(files), 4), squeeze=False)
    for ax, item in zip(axes[0], files):
        for engine, tool in ENGINE_TOOLS.items():
            ax.plot(list(LEVELS), [statistics.median(results[(item.name, tool, level)].ratios) for level in LEVELS],
                    marker="o", label=engine)
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set_title(f"{item.name}, {threads} threads")
        ax.set_xlabel("level")
        ax.set_ylabel("throughput / pigz's")
        ax.legend()
    figure.tight_layout()
    figure.savefig(target, dpi=100)
    plt.close(figure)


@register("engines", order=20, summary="the three engines against pigz at levels 1-9, every corpus file")
def bench_section(ctx: Context) -> list[str]:
    """The suite's section: measure, plot bench/plots/engines.png, return the table."""
    ctx.log("engines against pigz, levels 1-9")
    results = measure(ctx.files, ctx.threads, ctx.runs, ctx.log)
    PLOTS.mkdir(exist_ok=True)
    plot(results, ctx.files, ctx.threads, PLOTS / "engines.png")
    return table(results, ctx.files, ctx.threads)


def main() -> None:
    """This section alone: `python -m bench.engines [--size MiB] [--runs N] [--files text,binaries]`."""
    import argparse
    import os
    import time

    from . import corpus
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
    PLOTS.mkdir(exist_ok=True)
    plot(results, files, threads, PLOTS / "engines.png")
    print("\n".join(table(results, files, threads)))


if __name__ == "__main__":
    main()
