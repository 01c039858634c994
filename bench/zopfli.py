"""Level 11 (zopfli): wpigz -11 against pigz -11 at the same thread counts.

    python -m bench.zopfli [--quick] [--runs N]    # this section alone, printed as markdown

Zopfli is tens of times slower than level 9, so it gets a slice of the corpus of its own
rather than the main tables' files: the first 1 MiB of the text and 256 KiB of the binaries
(256 and 64 KiB with --quick; zopfli is slowest on binaries' long runs). Each round runs
wpigz and pigz once each, in alternating order, as whole processes timed from start to exit
(measure.run: wall and CPU time, peak RSS from GNU time); the throughput ratio is taken within
each round, and the two outputs are compared byte for byte in every round.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass, field

from . import corpus
from .measure import WORK, Sample, run, wpigz_cmd, wpigz_origin
from .sections import Context, register

SLICE = 1 << 20
QUICK_SLICE = 256 << 10


@dataclass
class Pair:
    """The rounds of one configuration: wpigz's and pigz's samples and whether bytes matched."""

    name: str
    size: int
    threads: int
    ours: list[Sample] = field(default_factory=list)
    theirs: list[Sample] = field(default_factory=list)
    identical: list[bool] = field(default_factory=list)

    def ratio(self) -> float:
        """Median over rounds of wpigz's throughput divided by pigz's."""
        return statistics.median(t.wall / o.wall for o, t in zip(self.ours, self.theirs))


def measure(files, runs: int, log, *, quick: bool = False) -> list[Pair]:
    """Run wpigz -11 and pigz -11 on the first slice of each corpus file (text, binaries)."""
    size = QUICK_SLICE if quick else SLICE
    thread_counts = sorted({1, *range(2, (os.cpu_count() or 1) + 1)})
    pairs = []
    for item in files:
        if item.name not in ("text", "binaries"):
            continue
        piece = WORK / f"{item.name}-zopfli-slice"
        with open(item.path, "rb") as f:
            piece.write_bytes(f.read(size if item.name == "text" else size // 4))
        for threads in thread_counts:
            pair = Pair(item.name, piece.stat().st_size, threads)
            ours_cmd = wpigz_cmd() + ["-11", "-p", str(threads), "-c", str(piece)]
            theirs_cmd = ["pigz", "-11", "-p", str(threads), "-c", str(piece)]
            for round_ in range(runs):
                outs = WORK / "zopfli-ours.gz", WORK / "zopfli-theirs.gz"
                if round_ % 2:
                    theirs = run(theirs_cmd, out=outs[1])
                    ours = run(ours_cmd, out=outs[0])
                else:
                    ours = run(ours_cmd, out=outs[0])
                    theirs = run(theirs_cmd, out=outs[1])
                pair.ours.append(ours)
                pair.theirs.append(theirs)
                pair.identical.append(outs[0].read_bytes() == outs[1].read_bytes())
                log(f"  zopfli {item.name} -11 -p {threads} round {round_ + 1}/{runs}: "
                    f"wpigz {ours.wall:.2f}s, pigz {theirs.wall:.2f}s, identical {pair.identical[-1]}")
            pairs.append(pair)
    return pairs


def section(pairs: list[Pair]) -> list[str]:
    """The report's markdown section."""
    if not pairs:
        return []
    out = ["## Level 11: zopfli (wpigz -11 against pigz -11)", "",
           "The first part of each corpus file (size in the first column), default -11 settings "
           "(15 iterations, up to 15 splits, 128 KiB blocks). Medians over the rounds (min-max); "
           "'vs pigz' is the median of the per-round throughput ratios; 'identical' counts the rounds "
           f"whose outputs were the same bytes. {wpigz_origin()}.", "",
           "| corpus | threads | wpigz s | pigz s | wpigz KB/s | vs pigz | CPU s wpigz / pigz | "
           "wpigz peak RSS MiB | pigz peak RSS MiB | bytes (pigz -11) | identical |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in pairs:
        ours = [s.wall for s in p.ours]
        name = f"{p.name} ({p.size >> 10} KiB)"
        theirs = [s.wall for s in p.theirs]
        out.append(f"| {name} | {p.threads} | {statistics.median(ours):.2f} ({min(ours):.2f}-{max(ours):.2f}) | "
                   f"{statistics.median(theirs):.2f} ({min(theirs):.2f}-{max(theirs):.2f}) | "
                   f"{p.size / 1e3 / statistics.median(ours):.1f} | {p.ratio():.2f}x | "
                   f"{statistics.median(s.cpu for s in p.ours):.2f} / "
                   f"{statistics.median(s.cpu for s in p.theirs):.2f} | "
                   f"{statistics.median(s.rss_kib for s in p.ours) / 1024:.0f} | "
                   f"{statistics.median(s.rss_kib for s in p.theirs) / 1024:.0f} | "
                   f"{p.theirs[0].out_size} | {sum(p.identical)}/{len(p.identical)} |")
    return out + [""]


@register("zopfli", order=30, summary="level 11: wpigz -11 against pigz -11 on 1 MiB of text, 256 KiB of binaries")
def bench_section(ctx: Context) -> list[str]:
    ctx.log("level 11 (zopfli)")
    return section(measure(ctx.files, ctx.runs, ctx.log, quick=ctx.quick))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.zopfli", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="256 KiB slices")
    parser.add_argument("--runs", type=int, default=3, help="rounds per configuration (default 3)")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    started = time.time()

    def log(text: str) -> None:
        print(f"[{time.time() - started:6.0f}s] {text}", flush=True)

    files = corpus.build(WORK / "corpus", QUICK_SLICE if args.quick else SLICE)
    print("\n".join(section(measure(files, args.runs, log, quick=args.quick))))


if __name__ == "__main__":
    main()
