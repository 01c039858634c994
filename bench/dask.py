"""wpigz.dask against Dask's own gzip CSV reading and writing (issue 23), on a real cluster.

    python -m bench.dask [--runs N] [--mb SIZE] [--dir DIR]     # needs pip install '.[dask]'

Data: a CSV made here (deterministic: an id, two numbers, a name, a date; about --mb MB,
default 210), compressed twice: by `wpigz --engine libdeflate -p 2` (indexed members) and by
`gzip -6` (one member, as most .csv.gz files are). The cluster is a distributed.LocalCluster
of worker processes with one thread each, as the tests use.

Reading: `wpigz.dask.read_csv(libdeflate file)` (default blocksize, 64 MiB: pieces of whole
members) against `dask.dataframe.read_csv(gzip file, blocksize=None)` (what Dask can do with a
.gz: one partition), each followed by the same group-by over every column so that every row
is parsed and nothing is projected away. Rounds alternate the two; the ratio is taken within
a round, medians over rounds. Goal: >= 1.6x with 2 workers. Scaling: wpigz.dask's read with
1 worker against 2.

Writing: the frame read by wpigz.dask, persisted in the workers, written as ONE .csv.gz by
`wpigz.dask.to_csv` (libdeflate members, level 6, parts joined by sendfile) and by
`df.to_csv(single_file=True, compression="gzip")` (Dask's way to one gzip file: partitions
appended one after the other through Python's gzip, whose default level is 9).

Writes bench/DASK.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import dask
import dask.dataframe as dd
from distributed import Client, LocalCluster

import wpigz
import wpigz.dask as wd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NAMES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
         "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"]


def make_csv(path: Path, megabytes: int) -> None:
    """A CSV of about megabytes MB, the same bytes every time."""
    target = megabytes * 1_000_000
    with open(path, "w") as f:
        f.write("id,amount,score,name,day\n")
        i = size = 0
        while size < target:
            rows = [f"{j},{(j * 7919) % 1000003},{((j * 37) % 100000) / 8},{NAMES[(j * 13) % 20]}-{j % 97},"
                    f"2026-{1 + j % 12:02d}-{1 + j % 28:02d}\n" for j in range(i, i + 100_000)]
            chunk = "".join(rows)
            f.write(chunk)
            size += len(chunk)
            i += 100_000


def prepare(work: Path, megabytes: int, log) -> tuple[Path, Path, Path]:
    work.mkdir(parents=True, exist_ok=True)
    plain = work / f"events-{megabytes}.csv"
    indexed = work / f"events-{megabytes}.libdeflate.csv.gz"
    single = work / f"events-{megabytes}.gzip.csv.gz"
    if not plain.exists():
        log(f"making {plain}")
        make_csv(plain, megabytes)
    if not indexed.exists():
        with open(indexed, "wb") as out:
            subprocess.run([sys.executable, "-m", "wpigz", "--engine", "libdeflate", "-p", "2", "-c", str(plain)],
                           stdout=out, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if not single.exists():
        with open(single, "wb") as out:
            subprocess.run(["gzip", "-6", "-c", str(plain)], stdout=out, check=True)
    return plain, indexed, single


def work_on(df: dd.DataFrame):
    """The same computation for both readers: every column used, so every row is parsed."""
    return df.groupby("name").agg({"id": "sum", "amount": "max", "score": "mean", "day": "max"})


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cluster(workers: int) -> tuple[LocalCluster, Client]:
    c = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    return c, Client(c)


def median_range(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mb", type=int, default=210)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/wpigz-bench-dask"))
    parser.add_argument("--out", type=Path, default=HERE / "DASK.md")
    args = parser.parse_args()

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    plain, indexed, single = prepare(args.dir, args.mb, log)
    sizes = {p: p.stat().st_size for p in (plain, indexed, single)}
    os.environ["PYTHONPATH"] = str(ROOT)            # the workers import this tree's wpigz

    ours = lambda: work_on(wd.read_csv(str(indexed))).compute()     # noqa: E731
    theirs = lambda: work_on(dd.read_csv(str(single), blocksize=None)).compute()  # noqa: E731

    # check once that both give the same answer
    cl, client = cluster(2)
    try:
        a, b = ours(), theirs()
        assert a.sort_index().equals(b.sort_index()), "the two readers disagree"
        partitions = wd.read_csv(str(indexed)).npartitions
        read = {"wpigz": [], "dask": [], "ratio": []}
        for r in range(args.runs):
            order = [("wpigz", ours), ("dask", theirs)]
            if r % 2:
                order.reverse()
            got = {name: timed(fn) for name, fn in order}
            for name in ("wpigz", "dask"):
                read[name].append(got[name])
            read["ratio"].append(got["dask"] / got["wpigz"])
            log(f"read round {r}: {got}")

        frame = wd.read_csv(str(indexed)).persist()
        dask.compute(frame.map_partitions(len))          # in the workers' memory before timing
        out_ours, out_dask = args.dir / "out.wpigz.csv.gz", args.dir / "out.dask.csv.gz"
        write = {"wpigz": [], "dask": [], "ratio": []}
        for r in range(args.runs):
            order = [("wpigz", lambda: wd.to_csv(frame, str(out_ours), index=False)),
                     ("dask", lambda: frame.to_csv(str(out_dask), single_file=True, compression="gzip",
                                                   index=False))]
            if r % 2:
                order.reverse()
            got = {name: timed(fn) for name, fn in order}
            for name in ("wpigz", "dask"):
                write[name].append(got[name])
            write["ratio"].append(got["dask"] / got["wpigz"])
            log(f"write round {r}: {got}")
        written = {"wpigz": out_ours.stat().st_size, "dask": out_dask.stat().st_size}
        assert subprocess.run(["cmp", "-s", "-", str(plain)], stdin=subprocess.Popen(
            ["gzip", "-dc", str(out_ours)], stdout=subprocess.PIPE).stdout).returncode == 0, \
            "to_csv's file does not decompress to the input"
    finally:
        client.close()
        cl.close()

    cl, client = cluster(1)
    try:
        ours()
        one = [timed(ours) for _ in range(args.runs)]
    finally:
        client.close()
        cl.close()

    goal = statistics.median(read["ratio"]) >= 1.6
    lines = [
        "# wpigz.dask against Dask's gzip CSV (issue 23)",
        "",
        f"`python -m bench.dask --runs {args.runs} --mb {args.mb}` on {platform.node() and 'this'} "
        f"{os.cpu_count()}-CPU machine (Python {platform.python_version()}, dask {dask.__version__}, "
        f"wpigz {wpigz.__version__}), shared with other jobs: medians of {args.runs} alternating rounds "
        "(min-max), the ratio taken within each round. distributed.LocalCluster, worker processes of one "
        "thread each.",
        "",
        f"Data: a {sizes[plain] / 1e6:.0f} MB CSV (5 columns); `wpigz --engine libdeflate -p 2` made a "
        f"{sizes[indexed] / 1e6:.1f} MB file of indexed members, `gzip -6` a {sizes[single] / 1e6:.1f} MB one.",
        "",
        "## Reading (read_csv, then a group-by over every column)",
        "",
        "| reader | workers | partitions | seconds | speed vs Dask |",
        "|---|---|---|---|---|",
        f"| `dask.dataframe.read_csv(gzip file, blocksize=None)` | 2 | 1 | {median_range(read['dask'])} | 1.00x |",
        f"| `wpigz.dask.read_csv(libdeflate file)` | 2 | {partitions} | {median_range(read['wpigz'])} | "
        f"{median_range(read['ratio'])}x |",
        f"| `wpigz.dask.read_csv(libdeflate file)` | 1 | {partitions} | {median_range(one)} | "
        f"{statistics.median(read['dask']) / statistics.median(one):.2f}x |",
        "",
        f"Goal: at least 1.6x with 2 workers: {'met' if goal else 'NOT met'}. "
        f"wpigz.dask with 2 workers is {statistics.median(one) / statistics.median(read['wpigz']):.2f}x "
        "its speed with 1.",
        "",
        "## Writing one .csv.gz (to_csv of the same frame, persisted in the workers)",
        "",
        "| writer | seconds | speed vs Dask | bytes |",
        "|---|---|---|---|",
        f"| `df.to_csv(single_file=True, compression=\"gzip\")` (Python's gzip, level 9) | "
        f"{median_range(write['dask'])} | 1.00x | {written['dask']} |",
        f"| `wpigz.dask.to_csv(df)` (libdeflate members, level 6) | {median_range(write['wpigz'])} | "
        f"{median_range(write['ratio'])}x | {written['wpigz']} |",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
