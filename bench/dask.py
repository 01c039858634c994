"""wpigz.dask against Dask's own gzip CSV reading and writing (issue 23), on a real cluster.

    python -m bench.dask [--runs N] [--mb SIZE] [--dir DIR]     # needs pip install '.[dask]'

Also the suite's "dask" section (python -m bench; at most 3 rounds, 16 MB with --quick), whose
tables go into bench/RESULTS.md; without Dask installed the section says so and measures nothing.

Data: a CSV made here (deterministic: an id, two numbers, a name, a date; about --mb MB,
default 210), compressed twice: by `wpigz --engine libdeflate --members -p 2` (indexed members) and by
`gzip -6` (one member, as most .csv.gz files are). The cluster is a distributed.LocalCluster
of worker processes with one thread each, as the tests use.

Reading: `wpigz.dask.read_csv(libdeflate file)` (default blocksize, 64 MiB: pieces of whole
members) against `dask.dataframe.read_csv(gzip file, blocksize=None)` (what Dask can do with a
.gz: one partition), twice: through fsspec's default "gzip" (python-isal's igzip when
python-isal is installed, as with the bench extra) and through the standard library's gzip
(zlib: what Dask users without python-isal get). Each is followed by the same group-by over
every column, so that every row is parsed and nothing is projected away. Rounds rotate the
order; ratios are taken within a round, medians over rounds. Besides wall time, each run
records the CPU seconds of the busiest worker: on a shared machine that critical path is what
an idle machine's wall time would follow. Goal: >= 1.6x with 2 workers. Scaling: wpigz.dask's
read with 1 worker against 2.

Writing: the frame read by wpigz.dask, persisted in the workers, written as ONE .csv.gz by
`wpigz.dask.to_csv` (libdeflate members, level 6, parts joined by sendfile) and by
`df.to_csv(single_file=True, compression=...)` (Dask's way to one gzip file: partitions
appended one after the other), through both gzip implementations (the standard library's
default level is 9).

Alone it writes bench/DASK.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .measure import HERE
from .sections import Context, demote, register

if TYPE_CHECKING:                   # Dask is imported when measured, so the suite loads without it
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

ROOT = HERE.parent
MB = 210
QUICK_MB = 16
DIRECTORY = Path("/tmp/wpigz-bench-dask")
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
            subprocess.run([sys.executable, "-m", "wpigz", "--engine", "libdeflate", "--members", "-p", "2", "-c", str(plain)],
                           stdout=out, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if not single.exists():
        with open(single, "wb") as out:
            subprocess.run(["gzip", "-6", "-c", str(plain)], stdout=out, check=True)
    return plain, indexed, single


def work_on(df: dd.DataFrame):
    """The same computation for both readers: every column used, so every row is parsed."""
    return df.groupby("name").agg({"id": "sum", "amount": "max", "score": "mean", "day": "max"})


def _cpu() -> float:
    """This process's CPU seconds, all its threads (run in each worker by client.run)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(client: Client, fn) -> tuple[float, float, float]:
    """Wall seconds of fn, the CPU seconds of its busiest worker and of all workers. On a
    shared machine wall time mostly measures waiting for a core; the busiest worker's CPU is
    the critical path an idle machine's wall time follows when the tasks run side by side, the
    total when they run one after another (Dask's single-file to_csv chains its partitions)."""
    before = client.run(_cpu)
    start = time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    after = client.run(_cpu)
    used = [after[w] - before[w] for w in after]
    return wall, max(used), sum(used)


def cluster(workers: int) -> tuple[LocalCluster, Client]:
    from distributed import Client, LocalCluster
    c = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    return c, Client(c)


def median_range(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


ZLIB_GZIP = "zlib-gzip"


def _register_zlib_gzip() -> None:
    """fsspec's "gzip" is python-isal's igzip whenever python-isal is installed (as with the
    bench extra); "zlib-gzip" is the standard library's GzipFile, what Dask users without it
    get. A new name, so nothing is patched. Run in the client and in every worker."""
    import gzip

    import fsspec.compression
    if ZLIB_GZIP not in fsspec.compression.compr:
        fsspec.compression.register_compression(ZLIB_GZIP, lambda f, **kw: gzip.GzipFile(fileobj=f, **kw), [])


def rounds(client: Client, contenders: dict, runs: int, what: str, log) -> dict[str, dict[str, list[float]]]:
    """runs rounds of every contender, in an order rotated from round to round: per contender,
    wall and busiest-worker CPU seconds, and both as ratios to the first contender's in the
    same round (above 1: faster than it)."""
    names = list(contenders)
    out = {n: {k: [] for k in ("wall", "cpu", "total", "wall ratio", "cpu ratio")} for n in names}
    for r in range(runs):
        order = names[r % len(names):] + names[:r % len(names)]
        got = {n: timed(client, contenders[n]) for n in order}
        for n in names:
            out[n]["wall"].append(got[n][0])
            out[n]["cpu"].append(got[n][1])
            out[n]["total"].append(got[n][2])
            out[n]["wall ratio"].append(got[names[0]][0] / got[n][0])
            out[n]["cpu ratio"].append(got[names[0]][1] / got[n][1])
        log(f"{what} round {r}: {got} load {os.getloadavg()[0]:.1f}")
    return out


def table(results: dict, extra: dict | None = None) -> list[str]:
    lines = ["| what | wall s | busiest worker CPU s | all workers CPU s | wall ratio | busiest CPU ratio |"
             + (" bytes |" if extra else ""),
             "|---|---|---|---|---|---|" + ("---|" if extra else "")]
    for name, r in results.items():
        lines.append(f"| {name} | {median_range(r['wall'])} | {median_range(r['cpu'])} | {median_range(r['total'])} | "
                     f"{median_range(r['wall ratio'])}x | {median_range(r['cpu ratio'])}x |"
                     + (f" {extra[name]} |" if extra else ""))
    return lines


def measure(runs: int, mb: int, directory: Path, log, command: str = "") -> list[str]:
    """Make the data in directory, measure on LocalClusters, return DASK.md's lines."""
    pythonpath = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(ROOT)            # the workers import this tree's wpigz
    try:
        return _measure(runs, mb, directory, log, command or f"python -m bench.dask --runs {runs} --mb {mb}")
    finally:                                        # the suite's later sections run as before
        if pythonpath is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = pythonpath


def _measure(runs: int, mb: int, directory: Path, log, command: str) -> list[str]:
    import dask
    import dask.dataframe as dd

    import wpigz
    import wpigz.dask as wd

    plain, indexed, single = prepare(directory, mb, log)
    sizes = {p: p.stat().st_size for p in (plain, indexed, single)}
    _register_zlib_gzip()
    import fsspec.compression
    default_gzip = getattr(fsspec.compression.compr["gzip"], "__name__", "?")
    isal = "python-isal's igzip" if default_gzip == "isal" else "the standard library's gzip"

    D_ZLIB = "`dd.read_csv(gzip file, blocksize=None)`, stdlib gzip (zlib)"
    D_ISAL = f"`dd.read_csv(gzip file, blocksize=None)`, fsspec's default gzip ({isal})"
    W = "`wpigz.dask.read_csv(libdeflate file)`"
    readers = {
        D_ZLIB: lambda: work_on(dd.read_csv(str(single), blocksize=None, compression=ZLIB_GZIP)).compute(),
        D_ISAL: lambda: work_on(dd.read_csv(str(single), blocksize=None)).compute(),
        W: lambda: work_on(wd.read_csv(str(indexed))).compute(),
    }
    out_ours, out_zlib, out_isal = (directory / f"out.{n}.csv.gz" for n in ("wpigz", "zlib", "isal"))
    cl, client = cluster(2)
    try:
        client.run(_register_zlib_gzip)
        answers = [fn() for fn in readers.values()]         # also warms every worker up
        for other in answers[1:]:
            assert answers[0].sort_index().equals(other.sort_index()), "the readers disagree"
        partitions = wd.read_csv(str(indexed)).npartitions
        read = rounds(client, readers, runs, "read", log)

        frame = wd.read_csv(str(indexed)).persist()
        dask.compute(frame.map_partitions(len))          # in the workers' memory before timing
        writers = {
            "`df.to_csv(single_file=True, compression=...)`, stdlib gzip (zlib level 9)":
                lambda: frame.to_csv(str(out_zlib), single_file=True, compression=ZLIB_GZIP, index=False),
            f"`df.to_csv(single_file=True, compression=\"gzip\")`, {isal}":
                lambda: frame.to_csv(str(out_isal), single_file=True, compression="gzip", index=False),
            "`wpigz.dask.to_csv(df)`, libdeflate members, level 6":
                lambda: wd.to_csv(frame, str(out_ours), index=False),
        }
        write = rounds(client, writers, runs, "write", log)
        written = dict(zip(writers, (p.stat().st_size for p in (out_zlib, out_isal, out_ours))))
        with subprocess.Popen(["gzip", "-dc", str(out_ours)], stdout=subprocess.PIPE) as unzip:
            same = subprocess.run(["cmp", "-s", "-", str(plain)], stdin=unzip.stdout).returncode == 0
        assert same, "to_csv's file does not decompress to the input"
    finally:
        client.close()
        cl.close()

    cl, client = cluster(1)
    try:
        readers[W]()
        one = [timed(client, readers[W]) for _ in range(runs)]
    finally:
        client.close()
        cl.close()

    med = statistics.median
    one_wall, one_cpu = [w for w, _, _ in one], [c for _, c, _ in one]
    load = os.getloadavg()
    r_w = read[W]
    lines = [
        "# wpigz.dask against Dask's gzip CSV (issue 23)",
        "",
        f"`{command}` on a {os.cpu_count()}-CPU machine "
        f"(Python {platform.python_version()}, dask {dask.__version__}, wpigz {wpigz.__version__}), "
        "distributed.LocalCluster of 2 worker processes of one thread each. Medians of "
        f"{runs} rounds (min-max), the order rotated from round to round; ratios are taken "
        "within each round, against the first row (above 1: faster than it).",
        "",
        f"The machine was shared with other jobs (load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "at the end, on 2 CPUs): wall time then mostly measures waiting for a core. So each run also "
        "records the CPU seconds of its busiest worker (getrusage in each worker, before and after): the "
        "critical path, which an idle machine's wall time follows.",
        "",
        "Dask reads and writes .gz through fsspec, whose \"gzip\" is python-isal's igzip (ISA-L) when "
        "python-isal is installed, else the standard library's (zlib); both are shown.",
        "",
        f"Data: a {sizes[plain] / 1e6:.0f} MB CSV (5 columns); `wpigz --engine libdeflate --members -p 2` made a "
        f"{sizes[indexed] / 1e6:.1f} MB file of indexed members, `gzip -6` a {sizes[single] / 1e6:.1f} MB one.",
        "",
        f"## Reading (read_csv, then a group-by over every column; wpigz.dask: {partitions} partitions)",
        "",
        *table(read),
        "",
        f"Goal (issue 23): at least 1.6x Dask's reading of the gzip file. Against stdlib gzip: "
        f"CPU ratio {med(r_w['cpu ratio']):.2f}x, wall ratio {med(r_w['wall ratio']):.2f}x.",
        "",
        f"Workers: wpigz.dask with 1 worker took {med(one_wall):.2f} s wall ({min(one_wall):.2f}-{max(one_wall):.2f}), "
        f"{med(one_cpu):.2f} s CPU; with 2, {med(r_w['wall']):.2f} s wall and {med(r_w['cpu']):.2f} s on the "
        f"busiest worker: {med(one_wall) / med(r_w['wall']):.2f}x the wall speed, "
        f"{med(one_cpu) / med(r_w['cpu']):.2f}x shorter critical path.",
        "",
        "## Writing one .csv.gz (to_csv of the same frame, persisted in the workers)",
        "",
        *table(write, written),
        "",
    ]
    return lines


@register("dask", order=70,
          summary="wpigz.dask reading and writing .csv.gz against Dask's gzip on a LocalCluster, 210 MB CSV "
                  "(issue 23; needs pip install '.[dask]')")
def bench_section(ctx: Context) -> list[str]:
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        ctx.log("dask: Dask is not installed (pip install '.[dask]'): section left out")
        return ["## wpigz.dask against Dask's gzip CSV (issue 23)", "",
                "Not measured: Dask was not installed (`pip install '.[dask]'`).", ""]
    ctx.log("dask: wpigz.dask against Dask's gzip CSV")
    lines = measure(min(ctx.runs, 3), QUICK_MB if ctx.quick else MB, DIRECTORY,
                    lambda text: ctx.log(f"  dask: {text}"), ctx.command)
    return demote(lines) + [""]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dask", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mb", type=int, default=MB)
    parser.add_argument("--dir", type=Path, default=DIRECTORY)
    parser.add_argument("--out", type=Path, default=HERE / "DASK.md")
    args = parser.parse_args()

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    lines = measure(args.runs, args.mb, args.dir, log)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
