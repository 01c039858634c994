"""Parallel decompression of ordinary gzip files (wpigz/decode/chunks.py): the goals of issue 22.

    python -m bench.chunked [--size MIB] [--runs N]    # also a section of python -m bench

* speed: ``wpigz -dc`` of pigz -6 and gzip -6 output of the mixed real-data file (a third
  GCIDE text, then ELF binaries; corpus.mixed), against ``pigz -dc`` of the same file, with
  rapidgzip (-P 2) and python-isal's igzip beside them; whole commands, alternating rounds,
  ratios within a round (bench/speed.py's method). ``-p 2`` splits into chunks when
  chunks.MIN_THREADS allows it; the same command with the other choice forced in its process
  (``-p 2 chunks`` or ``-p 2 sequential``) runs beside it: that comparison chooses MIN_THREADS;
* peak RSS of ``wpigz -dc -p 2`` and ``-p 1`` (GNU time);
* a scaling model, measured in one process: the per-chunk work (CPU of the workers: finding,
  decoding, narrowing, CRC-32) and the serial part (CPU of the main thread: reading,
  combining, handing out the output; plus each chunk's marker replacement in its last 32 KiB,
  which waits for the chunk before it and is waited for by the next), and the share of the
  output decoded as 16-bit symbols (until no marker can be reached any more). With n threads
  and n cores the decode takes about
  serial + work / n, when more chunks are in flight than threads and memory bandwidth does
  not bind; the table gives that for 1, 2, 8 and 32 threads next to the measured 1 and 2.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import threading
import time
from pathlib import Path

from . import corpus
from .measure import CPU, ENV, PY, WORK, ratio, rounds, wpigz_cmd, wpigz_origin, wpigz_python
from .sections import Context, register


def packed(path: Path, tool: str) -> Path:
    out = WORK / f"{path.name}.{tool}6.gz"
    if not out.exists() or out.stat().st_mtime < path.stat().st_mtime:
        with open(out, "wb") as sink:
            subprocess.run([tool, "-6", "-c", str(path)], stdout=sink, check=True)
    return out


def peak_rss_mib(cmd: list[str], runs: int) -> float:
    values = []
    for _ in range(runs):
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, check=True, env=ENV)
        values.append(int(proc.stderr.decode().strip().splitlines()[-1]) / 1024)
    return statistics.median(values)


def split_cmd(min_threads: int, *args: str) -> list[str]:
    """wpigz's command with chunks.MIN_THREADS set to min_threads in its process: chunks or the
    sequential decoder at -p 2 whatever wpigz ships with (a switch of this bench, not an option)."""
    return [*wpigz_python(), "-c", f"import gc, sys; gc.disable(); import wpigz.decode.chunks as c; c.MIN_THREADS = {min_threads}; "
            "gc.enable(); from wpigz.command._launch import main; sys.exit(main())", *args]


def model(path: Path, threads: int) -> dict[str, float]:
    """One in-process decode of path on threads workers, timed by thread CPU clocks."""
    from wpigz.decode import chunks
    from wpigz.decode.entry import decode
    from wpigz.sandbox.wasm_host import Runtime
    lock = threading.Lock()
    spent = {"work": 0.0, "serial": 0.0, "chunks": 0, "redecoded": 0, "wide": 0, "out": 0}
    work, resolve, decode_chunk = chunks._work, chunks._ChunkDecoder.resolve, chunks._ChunkDecoder.decode

    def timed_work(decoder, chunk, kind):
        start = time.thread_time()
        work(decoder, chunk, kind)
        with lock:
            spent["work"] += time.thread_time() - start
            spent["chunks"] += 1

    def timed_resolve(self, window, start, end):
        """The replacement in the last 32 KiB is serial (the next chunk waits for it)."""
        n = len(self.output())
        if (start, end) != (max(0, n - chunks.WINDOW), n):
            return resolve(self, window, start, end)
        begin = time.thread_time()
        done = resolve(self, window, start, end)
        with lock:
            spent["serial"] += time.thread_time() - begin
            spent["work"] -= time.thread_time() - begin
        return done

    def counted_decode(self, start, end):
        status = decode_chunk(self, start, end)
        out = self.runtime.call("wpigz_chunk_out_len", self._c) & 0xFFFFFFFF
        wide = self.runtime.call("wpigz_chunk_wide_end", self._c) & 0xFFFFFFFF
        with lock:
            spent["redecoded"] += 1
            spent["out"] += out
            spent["wide"] += min(wide, out)
        return status

    chunks._work, chunks._ChunkDecoder.resolve, chunks._ChunkDecoder.decode = \
        timed_work, timed_resolve, counted_decode      # type: ignore[method-assign]
    minimum, chunks.MIN_THREADS = chunks.MIN_THREADS, 2    # the model's 2 workers split too
    try:
        runtime = Runtime(engine="zlib-ng")
        size = 0
        wall = time.perf_counter()
        main = time.thread_time()
        with open(path, "rb") as raw:
            for piece in decode(raw, runtime, threads=threads):
                size += len(piece)
        spent["serial"] += time.thread_time() - main
        spent["wall"] = time.perf_counter() - wall
    finally:
        chunks._work, chunks._ChunkDecoder.resolve, chunks._ChunkDecoder.decode = \
            work, resolve, decode_chunk                 # type: ignore[method-assign]
        chunks.MIN_THREADS = minimum
    spent["redecoded"] -= spent["chunks"]               # decodes beyond one per chunk
    spent["size"] = size
    return spent


def run(size: int, runs: int, log=print) -> list[str]:
    from wpigz.decode import chunks
    split = "chunks" if chunks.MIN_THREADS <= 2 else "sequential"
    # the -p 2 command as shipped, and the same with the other choice forced
    names = {"chunks": "wpigz -dc -p 2", "sequential": "wpigz -dc -p 2"}
    other = "sequential" if split == "chunks" else "chunks"
    names[other] = f"wpigz -dc -p 2 {other}"
    WORK.mkdir(exist_ok=True)
    files = [f for f in corpus.build(WORK / "corpus", min(size, 38 << 20)) if f.name in ("text", "binaries")]
    mixed = corpus.mixed(files, size)
    out = [f"Mixed real data, {size >> 20} MiB ({mixed.name}: GCIDE text then ELF binaries), "
           f"{runs} alternating rounds; whole commands, output to /dev/null. `-p 2` decodes in {split} "
           f"(chunks.MIN_THREADS = {chunks.MIN_THREADS}); `-p 2 {other}` is the same command with {other} forced. "
           f"{wpigz_origin()}.", ""]
    out += ["| file | command | seconds (median) | CPU s | vs pigz -dc (median, min-max) |", "|---|---|---|---|---|"]
    for tool in ("pigz", "gzip"):
        gz = packed(mixed, tool)
        log(f"chunked: {gz.name}")
        commands = {"pigz -dc": ["pigz", "-dc", str(gz)],
                    "wpigz -dc -p 2": wpigz_cmd("-dc", "-p", "2", str(gz)),
                    names[other]: split_cmd(2 if other == "chunks" else 1 << 30, "-dc", "-p", "2", str(gz)),
                    "wpigz -dc -p 1": wpigz_cmd("-dc", "-p", "1", str(gz)),
                    "rapidgzip -P 2 -dc": ["rapidgzip", "-P", "2", "-dc", str(gz)],
                    "igzip -dc": [PY, "-m", "isal.igzip", "-dc", str(gz)]}
        walls = rounds(commands, runs)
        for name in commands:
            r = ratio(walls, name, "pigz -dc")
            out.append(f"| {tool} -6 | `{name}` | {statistics.median(walls[name]):.3f} | "
                       f"{statistics.median(CPU[name]):.3f} | {r[0]:.2f}x ({r[1]:.2f}-{r[2]:.2f}) |")
        for a, b in (("wpigz -dc -p 2", "wpigz -dc -p 1"), (names["chunks"], names["sequential"])):
            r = ratio(walls, a, b)
            pair = " vs ".join(f"-p 2 ({split})" if n == "wpigz -dc -p 2" else n.removeprefix("wpigz -dc ")
                               for n in (a, b))
            out.append(f"| {tool} -6 | {pair} | | | {r[0]:.2f}x ({r[1]:.2f}-{r[2]:.2f}) |")
    gz = packed(mixed, "pigz")
    rss2 = peak_rss_mib(split_cmd(2, "-dc", "-p", "2", str(gz)), 3)
    rss1 = peak_rss_mib(wpigz_cmd("-dc", "-p", "1", str(gz)), 3)
    out += ["", f"Peak RSS, `wpigz -dc` of the pigz -6 file: -p 2 in chunks {rss2:.0f} MiB, -p 1 {rss1:.0f} MiB "
                "(median of 3, GNU time).", ""]
    out += ["Scaling model (one process, 2 workers, thread CPU clocks; median of the rounds): serial = main "
            "thread + marker replacement in each chunk's last 32 KiB, work = the workers' CPU per chunk, "
            "summed; wide = the share of the output decoded as 16-bit symbols.", "",
            "| file | chunks | decodes beyond one per chunk | wide | serial s | work s | measured wall s "
            "(sequential, 2 workers) | model s at 1 / 2 / 8 / 32 threads | model MB/s at 8 / 32 |",
            "|---|---|---|---|---|---|---|---|---|"]
    for tool in ("pigz", "gzip"):
        gz = packed(mixed, tool)
        two = [model(gz, 2) for _ in range(runs)]
        one = [model(gz, 1) for _ in range(max(1, runs // 2))]
        serial = statistics.median(m["serial"] for m in two)
        work = statistics.median(m["work"] for m in two)
        nbytes = two[0]["size"]
        predicted = [serial + work / n for n in (1, 2, 8, 32)]
        out.append(f"| {tool} -6 | {two[0]['chunks']} | {statistics.median(m['redecoded'] for m in two):.0f} | "
                   f"{100 * two[0]['wide'] / max(1, two[0]['out']):.0f}% | "
                   f"{serial:.3f} | {work:.3f} | {statistics.median(m['wall'] for m in one):.3f}, "
                   f"{statistics.median(m['wall'] for m in two):.3f} | "
                   + " / ".join(f"{p:.3f}" for p in predicted) + " | "
                   + " / ".join(f"{nbytes / 1e6 / p:.0f}" for p in predicted[2:]) + " |")
    return out


SIZE = 100 << 20        # docs/decompression.md's figures: --size 100 --runs 3


@register("chunked", order=60,
          summary="parallel decompression of gzip -6 and pigz -6 files (issue 22): 100 MiB of mixed data, "
                  "against pigz, rapidgzip, igzip; a scaling model")
def bench_section(ctx: Context) -> list[str]:
    ctx.log("chunked parallel decompression")
    return ["## Parallel decompression of ordinary gzip files (issue 22; bench/chunked.py)", "",
            *run(ctx.size if ctx.quick else SIZE, min(ctx.runs, 3), ctx.log), ""]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chunked", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=SIZE >> 20, help="MiB of mixed data (default 100)")
    parser.add_argument("--runs", type=int, default=5, help="rounds per comparison (default 5)")
    args = parser.parse_args()
    print("\n".join(run(args.size << 20, args.runs)))


if __name__ == "__main__":
    main()
