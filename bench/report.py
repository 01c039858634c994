"""The report: bench/RESULTS.md (tables) and bench/plots/*.png (matplotlib, bench-only)."""

from __future__ import annotations

import statistics
from pathlib import Path

from .measure import wpigz_origin

MB = 1e6


def _fmt(series, attribute: str = "wall") -> str:
    low, high = series.span(attribute)
    return f"{series.median(attribute):.3f} ({low:.3f}-{high:.3f})"


def _compression_table(compression, item, level, thread_counts) -> list[str]:
    lines = [f"#### {item.name}, level {level}", "",
             "| tool | threads | seconds, median (min-max) | MB/s | CPU s | peak RSS MiB | ratio % | "
             "throughput vs pigz (same level, threads) |",
             "|---|---|---|---|---|---|---|---|"]
    for threads in thread_counts:
        for (name, tool, lvl, th), series in compression.items():
            if name != item.name or lvl != level or th != threads:
                continue
            wall = series.median("wall")
            ratio = 100 * series.median("out_size") / item.size
            label = tool + (" (isal level %d)" % {1: 1, 6: 2, 9: 3}[level] if tool == "isal" else "")
            lines.append(f"| {label} | {threads} | {_fmt(series)} | {item.size / MB / wall:.1f} | "
                         f"{series.median('cpu'):.2f} | {series.median('rss_kib') / 1024:.0f} | {ratio:.2f} | "
                         f"{statistics.median(series.ratios):.2f}x |")
    return lines + [""]


def write(path: Path, plots: Path, *, command, machine, files, levels, thread_counts, compression,
          decompression, startup, scaling, runs, engine, progress_cost, sections=()) -> None:
    """RESULTS.md: the core tables, with the registered sections' lines (sections.py) after the
    compression tables, and the plots."""
    plots.mkdir(exist_ok=True)
    text = files[0]
    out = ["# wpigz benchmark results", "",
           f"Command: `{command}` (dependencies: `pip install '.[bench]'` and "
           "`apt-get install pigz gzip zstd time dict-gcide`).", "",
           f"Machine: {machine}.", "", f"{wpigz_origin()}.", "",
           f"Peak RSS is measured by GNU time. Medians of {runs} rounds with min-max. In each round every tool runs once, in rotated order, "
           "next to pigz at the same level and threads (1 thread for single-threaded tools); the ratio "
           "column is the median of the per-round throughput ratios. zstd writes a different format and is "
           "shown for reference. isal has levels 0-3: the table's levels 1/6/9 run isal 1/2/3.", "",
           "## Corpus", "", "| file | bytes | recipe | sha256 |", "|---|---|---|---|"]
    out += [f"| {f.name} | {f.size} | {f.recipe} | `{f.sha256}` |" for f in files]
    out += ["", "## Headline: text, level 6", "", "![throughput vs threads](plots/throughput-vs-threads.png)", ""]
    speedups = []
    for level in levels:
        one = compression.get((text.name, "wpigz", level, 1))
        for threads in thread_counts:
            many = compression.get((text.name, "wpigz", level, threads))
            if one and many and threads > 1:
                speedups.append(f"- level {level}: wpigz -p {threads} is "
                                f"{one.median('wall') / many.median('wall'):.2f}x its -p 1 throughput")
    out += ["Parallel speedup of wpigz (text):", ""] + speedups + [""]
    out += ["## Compression", ""]
    for item in files:
        for level in levels:
            out += _compression_table(compression, item, level, thread_counts)
    out += list(sections)
    out += ["## Decompression (files made by pigz -6; zstd's by zstd -6)", "",
            "| corpus | tool | seconds, median (min-max) | MB/s of output | peak RSS MiB | vs gzip -d |",
            "|---|---|---|---|---|---|"]
    for (name, tool), series in decompression.items():
        size = next(f.size for f in files if f.name == name)
        out.append(f"| {name} | {tool} | {_fmt(series)} | {size / MB / series.median('wall'):.1f} | "
                   f"{series.median('rss_kib') / 1024:.0f} | {statistics.median(series.ratios):.2f}x |")
    out += ["", "## Start-up: compressing a 1 KiB file (median seconds)", "",
            "| tool | seconds |", "|---|---|"]
    out += [f"| {tool} | {seconds:.3f} |" for tool, seconds in startup.items()]
    out += ["", "## wpigz's engines alone (text, in one process: no start-up, no module compile)", "",
            "zlib is zlib 1.2.13 in wasm (pigz's exact bytes); zlib-ng is zlib-ng 2.x's generic C in wasm "
            "(`--engine zlib-ng`). 'vs pigz' compares with the native pigz command at the same level and "
            "threads (pigz -d for decompression).", "",
            "| engine | what | level | threads | seconds, median (min-max) | MB/s | vs pigz |",
            "|---|---|---|---|---|---|---|"]
    for name, results in engine.items():
        for (what, level, threads), times in results.items():
            median = statistics.median(times)
            if what == "compress":
                reference = compression[(text.name, "pigz", level, threads)].median("wall")
            else:
                reference = decompression[(text.name, "pigz")].median("wall")
            out.append(f"| {name} | {what} | {level if what == 'compress' else '-'} | {threads} | {median:.3f} "
                       f"({min(times):.3f}-{max(times):.3f}) | {text.size / MB / median:.1f} | "
                       f"{reference / median:.2f}x |")
    with_bar, without = progress_cost
    cost = statistics.median(b / n for b, n in zip(with_bar, without))
    out += ["", f"Progress bar: wpigz -1 on text with --progress {statistics.median(with_bar):.3f} s, with "
                f"--no-progress {statistics.median(without):.3f} s (median of paired runs: time ratio {cost:.3f}; "
                "the bar's fixed cost is importing tqdm)."]
    out += ["", f"## Scaling with input size (wpigz -1 -p {max(thread_counts)}, streamed from a generator)", "",
            "![memory and time vs input size](plots/scaling.png)", "",
            "| input | seconds | MB/s | peak RSS MiB |", "|---|---|---|---|"]
    out += [f"| {size >> 20} MiB | {wall:.2f} | {size / MB / wall:.1f} | {rss / 1024:.0f} |"
            for size, wall, rss in scaling]
    out += ["", "## Ratio against speed, and decompression speed", "",
            "![ratio vs speed, one panel per corpus file](plots/ratio-vs-speed.png)", "",
            "![decompression speed per tool](plots/decompression.png)", ""]
    path.write_text("\n".join(out) + "\n")
    _plots(plots, files, levels, thread_counts, compression, decompression, scaling)


def _plots(plots: Path, files, levels, thread_counts, compression, decompression, scaling) -> None:
    text = files[0]
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tools = ["wpigz", "wpigz zlib-ng", "wpigz libdeflate", "pigz", "isal", "zlib-ng", "pgzip", "zstd (other format)",
             "gzip", "python gzip"]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for tool in tools:
        points = [(th, text.size / MB / compression[(text.name, tool, 6, th)].median("wall"))
                  for th in thread_counts if (text.name, tool, 6, th) in compression]
        if points:
            xs, ys = zip(*points)
            axes.plot(xs, ys, marker="o", label=tool)
    axes.set_xlabel("threads")
    axes.set_xticks(thread_counts)
    axes.set_ylabel("MB/s of input")
    axes.set_title("Compression throughput vs threads (text, level 6)")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(plots / "throughput-vs-threads.png", dpi=100)
    plt.close(figure)

    _ratio_vs_speed(plt, plots / "ratio-vs-speed.png", files, tools, levels, thread_counts, compression)
    _decompression(plt, plots / "decompression.png", files, decompression)

    figure, left = plt.subplots(figsize=(7, 4.5))
    sizes = [size / MB for size, _, _ in scaling]
    left.plot(sizes, [rss / 1024 for _, _, rss in scaling], marker="o", color="tab:blue", label="peak RSS")
    left.set_xscale("log")
    left.set_xlabel("input size, MB (log)")
    left.set_ylabel("peak RSS, MiB", color="tab:blue")
    left.set_ylim(bottom=0)
    right = left.twinx()
    right.plot(sizes, [wall for _, wall, _ in scaling], marker="s", color="tab:red", label="seconds")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_ylabel("seconds (log)", color="tab:red")
    left.set_title("wpigz -1: memory stays flat, time grows linearly")
    figure.tight_layout()
    figure.savefig(plots / "scaling.png", dpi=100)
    plt.close(figure)


def _ratio_vs_speed(plt, target: Path, files, tools, levels, thread_counts, compression) -> None:
    """Output size against throughput, every tool at levels 1, 6 and 9 (with the most threads it
    has), one panel per corpus file: the picture of which tool gives what."""
    top = max(thread_counts)
    columns = min(2, len(files))
    rows = (len(files) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(7 * columns, 4.5 * rows), squeeze=False)
    for ax, item in zip(axes.flat, files):
        for tool in tools:
            points = []
            for level in levels:
                threads = top if (item.name, tool, level, top) in compression else 1
                series = compression.get((item.name, tool, level, threads))
                if series:
                    points.append((item.size / MB / series.median("wall"),
                                   100 * series.median("out_size") / item.size))
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, marker="o", label=tool)
                for (x, y), level in zip(points, levels):
                    ax.annotate(str(level), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel(f"MB/s of input (log; {top} threads where the tool has them)")
        ax.set_ylabel("compressed size, % of input")
        ax.set_title(f"{item.name}: size vs speed (points are levels {', '.join(map(str, levels))})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(files):]:
        ax.set_visible(False)
    figure.tight_layout()
    figure.savefig(target, dpi=100)
    plt.close(figure)


def _decompression(plt, target: Path, files, decompression) -> None:
    """MB/s of output per tool, one group of bars per corpus file."""
    tools = list(dict.fromkeys(tool for _, tool in decompression))
    figure, axes = plt.subplots(figsize=(max(7, 1.6 * len(files) * len(tools) / 4), 4.5))
    width = 0.8 / len(tools)
    for i, tool in enumerate(tools):
        rates = [item.size / MB / decompression[(item.name, tool)].median("wall")
                 if (item.name, tool) in decompression else 0 for item in files]
        axes.bar([x + i * width for x in range(len(files))], rates, width, label=tool)
    axes.set_xticks([x + 0.4 - width / 2 for x in range(len(files))], [item.name for item in files])
    axes.set_ylabel("MB/s of output")
    axes.set_title("Decompression speed (files made by pigz -6; zstd's by zstd -6)")
    axes.legend(fontsize=7, ncol=2)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(target, dpi=100)
    plt.close(figure)
