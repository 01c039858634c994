"""The libdeflate engine's goals (issue 16), measured: whole commands, 2 threads, real data.

    python -m bench.libdeflate [--runs N] [--quick]   # also run at the end of python -m bench

Data: the GCIDE dictionary text (dict-gcide's /usr/share/dictd/gcide.dict.dz, decompressed,
about 40 MB) and a tar of the shared libraries in /usr/lib (sorted names, cut at 64 MiB).
In each round, in an order rotated from round to round: `pigz -L -p 2` and `wpigz --engine
libdeflate -L -p 2` at levels 1 and 6, then `pigz -dc` of pigz -6's output and `wpigz -dc -p 2`
of the engine's -6 output. Ratios are taken within a round; medians over rounds. Goals: -6 at
least 2.0x pigz's throughput with output no larger; -dc at least 2.0x; -1 at least 1.5x with
output at least 5% smaller. Also a block-size sweep at -6 (the figure that chose the default).
"Engine alone" repeats each job in one process without the interpreter's and wasmtime's
start-up (bench/libdeflate.py: IN_PROCESS), against the same round's pigz command.
Writes bench/LIBDEFLATE.md and bench/plots/libdeflate.png.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from .measure import HERE, PLOTS, WORK, Sample, run, wpigz_cmd, wpigz_origin
from .sections import Context, register

GCIDE = Path("/usr/share/dictd/gcide.dict.dz")
LIBS = Path("/usr/lib")
BLOCK_SIZES_KIB = [128, 256, 512, 1024, 2048, 4096]


def build_corpus(work: Path, quick: bool) -> list[Path]:
    """text (GCIDE) and binaries (a tar of /usr/lib's shared objects), made once."""
    work.mkdir(parents=True, exist_ok=True)
    limit = (8 if quick else 64) << 20
    text = work / ("gcide-quick" if quick else "gcide")
    if not text.exists():
        with gzip.open(GCIDE) as f:        # .dict.dz is gzip with dictzip's random-access extra field
            text.write_bytes(f.read()[:limit if quick else None])
    binaries = work / ("libs-quick.tar" if quick else "libs.tar")
    if not binaries.exists():
        names = sorted(p for p in LIBS.rglob("*.so*") if p.is_file() and not p.is_symlink())
        with tarfile.open(binaries, "w", format=tarfile.GNU_FORMAT) as tar:
            for name in names:
                if binaries.stat().st_size > limit:
                    break
                tar.add(name, arcname=str(name.relative_to("/")))
        with open(binaries, "r+b") as f:
            f.truncate(limit)
    return [text, binaries]


def _ld(level: int, path: Path, *extra: str) -> list[str]:
    return wpigz_cmd() + ["--engine", "libdeflate", f"-{level}", "-p", "2", *extra, "-c", str(path)]


def measure(files: list[Path], runs: int, log) -> dict:
    """{(file name, what): {"pigz": [Sample], "wpigz": [Sample], "ratios": [float]}}"""
    results: dict = {}
    for path in files:
        pz6, ld6 = WORK / f"{path.name}.pigz6.gz", WORK / f"{path.name}.ld6.gz"
        subprocess.run(["pigz", "-6", "-p", "2", "-c", str(path)], stdout=open(pz6, "wb"), check=True)
        subprocess.run(_ld(6, path), stdout=open(ld6, "wb"), check=True)
        jobs = {
            "compress -1": (["pigz", "-1", "-p", "2", "-c", str(path)], _ld(1, path)),
            "compress -6": (["pigz", "-6", "-p", "2", "-c", str(path)], _ld(6, path)),
            "decompress": (["pigz", "-dc", str(pz6)], wpigz_cmd() + ["-dc", "-p", "2", str(ld6)]),
        }
        for r in range(runs):
            for what, (native, ours) in jobs.items():
                entry = results.setdefault((path.name, what), {"pigz": [], "wpigz": [], "ratios": [],
                                                               "engine": [], "engine_ratios": []})
                order = [("pigz", native), ("wpigz", ours)][:: 1 if r % 2 == 0 else -1]
                got = {}
                for name, cmd in order:
                    got[name] = run(cmd)
                    entry[name].append(got[name])
                entry["ratios"].append(got["pigz"].wall / got["wpigz"].wall)
                seconds = in_process(what.split()[0], ld6 if what == "decompress" else path,
                                     int(what.split()[-1][1:]) if what != "decompress" else 6)
                entry["engine"].append(seconds)
                entry["engine_ratios"].append(got["pigz"].wall / seconds)
            log(f"libdeflate goals: {path.name} round {r + 1}/{runs}")
    return results


# The engine alone, in one process: the module compiled and a runtime made before the clock
# starts, so the interpreter's and the engine's start-up (about 0.09 s on an idle machine) are left out.
IN_PROCESS = """
import io, sys, time
from wpigz.decode import entry as decoding
from wpigz.encode import framing
from wpigz.encode.pipeline import DeflateOptions, compress_body
from wpigz.sandbox.wasm_host import Runtime
what, path, level = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(path, "rb").read()
runtime = Runtime(engine="libdeflate")
sink = io.BytesIO()
start = time.perf_counter()
if what == "compress":
    frame = framing.gzip_framing("members", level=level, mtime=0)
    compress_body(io.BytesIO(data), sink, DeflateOptions(level=level, blocksize=1 << 20, threads=2),
                  runtime=runtime, framer=frame.job)
else:
    decoding.decompress(io.BytesIO(data), lambda piece: None, runtime)
print(time.perf_counter() - start)
"""


def in_process(what: str, path: Path, level: int) -> float:
    out = subprocess.run([sys.executable, "-c", IN_PROCESS, what, str(path), str(level)], check=True,
                         capture_output=True, text=True).stdout
    return float(out.split()[-1])


def sweep(text: Path, runs: int, log) -> dict[int, list[Sample]]:
    """wpigz --engine libdeflate -6 -p 2 -b N on the text, for the default block size."""
    out: dict[int, list[Sample]] = {}
    for r in range(runs):
        for kib in BLOCK_SIZES_KIB:
            out.setdefault(kib, []).append(run(_ld(6, text, "-b", str(kib))))
        log(f"libdeflate block sizes: round {r + 1}/{runs}")
    return out


def _med(samples: list[Sample], attribute: str) -> float:
    return statistics.median(getattr(s, attribute) for s in samples)


def write(path: Path, files: list[Path], results: dict, blocks: dict[int, list[Sample]], runs: int,
          command: str) -> None:
    sizes = {f.name: f.stat().st_size for f in files}
    lines = ["# The libdeflate engine against pigz (issue 16's goals)", "",
             f"`{command}`: whole commands, 2 threads, medians of {runs} rounds (pigz and wpigz alternating "
             "within each round; the ratio is taken within a round). Inputs: "
             + ", ".join(f"{name} ({size / 1e6:.1f} MB)" for name, size in sizes.items()) + f". {wpigz_origin()}.", "",
             "| data | what | pigz s | wpigz libdeflate s | speed vs pigz, median (min-max) | pigz bytes "
             "| wpigz bytes | size vs pigz | pigz CPU s | wpigz CPU s | wpigz peak RSS MiB | goal | met "
             "| engine alone s | engine alone vs pigz |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    goals = {"compress -6": (2.0, 0.0), "decompress": (2.0, None), "compress -1": (1.5, -5.0)}
    for (name, what), entry in results.items():
        ratio = statistics.median(entry["ratios"])
        pz, ld = entry["pigz"], entry["wpigz"]
        speed_goal, size_goal = goals[what]
        if what == "decompress":
            size_cell = "-"
            met = ratio >= speed_goal
            goal = f">= {speed_goal}x"
            pz_bytes = ld_bytes = "-"
        else:
            change = 100 * (_med(ld, "out_size") / _med(pz, "out_size") - 1)
            size_cell = f"{change:+.2f}%"
            met = ratio >= speed_goal and change <= size_goal
            goal = f">= {speed_goal}x, size {'<= +0%' if size_goal == 0 else '<= -5%'}"
            pz_bytes, ld_bytes = f"{int(_med(pz, 'out_size'))}", f"{int(_med(ld, 'out_size'))}"
        lines.append(f"| {name} | {what} | {_med(pz, 'wall'):.3f} | {_med(ld, 'wall'):.3f} | {ratio:.2f}x "
                     f"({min(entry['ratios']):.2f}-{max(entry['ratios']):.2f}) | {pz_bytes} | {ld_bytes} | "
                     f"{size_cell} | {_med(pz, 'cpu'):.2f} | {_med(ld, 'cpu'):.2f} | {_med(ld, 'rss_kib') / 1024:.0f} "
                     f"| {goal} | {'yes' if met else 'NO'} | {statistics.median(entry['engine']):.3f} "
                     f"| {statistics.median(entry['engine_ratios']):.2f}x |")
    text = files[0]
    lines += ["", f"Block size (`-b`, KiB) at -6 on {text.name}, wpigz --engine libdeflate -p 2:", "",
              "| -b KiB | seconds | MB/s | output % of input | peak RSS MiB |", "|---|---|---|---|---|"]
    for kib, samples in blocks.items():
        wall = _med(samples, "wall")
        lines.append(f"| {kib} | {wall:.3f} | {sizes[text.name] / wall / 1e6:.1f} | "
                     f"{100 * _med(samples, 'out_size') / sizes[text.name]:.2f} | {_med(samples, 'rss_kib') / 1024:.0f} |")
    lines += ["", "![libdeflate engine vs pigz](plots/libdeflate.png)", ""]
    path.write_text("\n".join(lines))
    _plot(PLOTS / "libdeflate.png", results, blocks, sizes[text.name])


def _plot(target: Path, results: dict, blocks: dict[int, list[Sample]], text_size: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    labels = [f"{name}\n{what}" for name, what in results]
    ratios = [statistics.median(e["ratios"]) for e in results.values()]
    left.bar(range(len(ratios)), ratios, color="tab:blue")
    left.axhline(1.0, color="gray", linewidth=0.8)
    left.set_xticks(range(len(labels)), labels, fontsize=7)
    left.set_ylabel("throughput vs pigz -p 2 (x)")
    left.set_title("wpigz --engine libdeflate -p 2, whole commands")
    kibs = list(blocks)
    right.plot(kibs, [text_size / _med(blocks[k], "wall") / 1e6 for k in kibs], "o-", color="tab:blue")
    right.set_xscale("log", base=2)
    right.set_xlabel("block size, KiB")
    right.set_ylabel("MB/s", color="tab:blue")
    twin = right.twinx()
    twin.plot(kibs, [100 * _med(blocks[k], "out_size") / text_size for k in kibs], "s--", color="tab:red")
    twin.set_ylabel("output, % of input", color="tab:red")
    right.set_title("-6, text: block size")
    fig.tight_layout()
    target.parent.mkdir(exist_ok=True)
    fig.savefig(target, dpi=100)
    plt.close(fig)


def main(runs: int = 3, quick: bool = False, log=print, command: str = "python -m bench.libdeflate") -> None:
    WORK.mkdir(exist_ok=True)
    files = build_corpus(WORK / "libdeflate-corpus", quick)
    results = measure(files, runs, log)
    blocks = sweep(files[0], max(1, runs - 1), log)
    write(HERE / "LIBDEFLATE.md", files, results, blocks, runs, command)
    log(f"wrote {HERE / 'LIBDEFLATE.md'} and {PLOTS / 'libdeflate.png'}")


@register("libdeflate", order=90,
          summary="the libdeflate engine's goals on 40 MB of text and 67 MB of binaries: bench/LIBDEFLATE.md")
def bench_section(ctx: Context) -> list[str]:
    main(min(ctx.runs, 3), ctx.quick, ctx.log, ctx.command)
    return []               # its own file, bench/LIBDEFLATE.md


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.libdeflate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    started = time.time()
    main(args.runs, args.quick, lambda text: print(f"[{time.time() - started:6.0f}s] {text}", flush=True),
         "python -m bench.libdeflate" + (" --quick" if args.quick else "") + (f" --runs {args.runs}" if args.runs != 3 else ""))
