"""The page's speed: wpigz in headless Chromium against the command, on the same file.

    python -m bench.web                  # 32 MiB of GCIDE text, level 6, 1 and 2 threads, 5 rounds
    python -m bench.web --size 16 --runs 3

Method. One server (``python -m wpigz.web --files --results``, in this process's child) serves
the text corpus file. Each round runs, for each thread count, in an order rotated from round
to round: the page in a fresh headless Chromium (``?src=/files/...&level=6&threads=T&post=...``),
``python -m wpigz -n -c -6 -p T FILE`` and ``pigz -n -c -6 -p T FILE``, each to completion. For
the page three times are kept: *in-Worker* (from the first input read to the finished Blob,
as the page measures it with performance.now), *set-up* (module compile, shared memory, thread
Workers, inside the page) and *browser* (the whole Chromium process, from launch until the
result is posted, including browser start-up and the POST of the result). The command's time is
its whole process (interpreter start-up included), as in ``python -m bench``. Every page
output is checked byte for byte against the command's. Medians over the rounds, with min-max.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import corpus

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _timed(cmd: list[str], path: Path) -> tuple[float, str]:
    """Run cmd writing to a scratch file next to path: (seconds, sha256 of its output)."""
    out = path.with_suffix(".cmd.gz")
    with open(out, "wb") as sink:
        start = time.perf_counter()
        subprocess.run(cmd, stdout=sink, check=True, env=_env(), timeout=600)
        wall = time.perf_counter() - start
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    out.unlink()
    return wall, digest


def _page(port: int, name: str, threads: int, level: int, results: Path, profile: Path) -> dict:
    """One run of the page in a fresh headless Chromium; its figures and output digest."""
    import json
    out = f"r{time.monotonic_ns()}"
    url = (f"http://127.0.0.1:{port}/?src=/files/{name}&level={level}&threads={threads}"
           f"&blocksize=128&post=/results/{out}")
    start = time.perf_counter()
    browser = subprocess.Popen([shutil.which("chromium") or "chromium", "--headless=new", "--no-sandbox",
                                "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}", url],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while not (results / f"{out}.json").exists():
            if (results / f"{out}.error").exists():
                raise SystemExit(f"the page failed: {(results / f'{out}.error').read_text()}")
            if browser.poll() is not None or time.perf_counter() - start > 600:
                raise SystemExit("chromium exited or timed out before the page posted its result")
            time.sleep(0.02)
        wall = time.perf_counter() - start
    finally:
        try:
            os.killpg(browser.pid, signal.SIGTERM)
            browser.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(browser.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        browser.wait()
    figures = json.loads((results / f"{out}.json").read_text())
    figures["browser"] = wall
    figures["sha256"] = hashlib.sha256((results / out).read_bytes()).hexdigest()
    (results / out).unlink()
    (results / f"{out}.json").unlink()
    return figures


def measure(size_mib: int, runs: int, level: int, thread_counts: list[int], log) -> dict:
    work = Path(tempfile.mkdtemp(prefix="wpigz-bench-web-"))
    try:
        files, results = work / "files", work / "results"
        files.mkdir()
        results.mkdir()
        text = files / "text"
        text.write_bytes(corpus.RECIPES["text"][1](size_mib << 20))
        server = subprocess.Popen([PY, "-m", "wpigz.web", "--port", "0", "--quiet", "--files", str(files),
                                   "--results", str(results)], stdout=subprocess.PIPE, env=_env())
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline().decode().rsplit(":", 1)[1].strip().rstrip("/"))
            table: dict = {t: {"page": [], "setup": [], "browser": [], "wpigz": [], "pigz": []}
                           for t in thread_counts}
            for round_ in range(runs):
                order = thread_counts[round_ % len(thread_counts):] + thread_counts[:round_ % len(thread_counts)]
                for threads in order:
                    page = _page(port, text.name, threads, level, results, work / "profile")
                    wall, digest = _timed([PY, "-m", "wpigz", "-n", "-c", f"-{level}", "-p", str(threads),
                                           str(text)], text)
                    if page["sha256"] != digest:
                        raise SystemExit(f"the page's output differs from wpigz's at {threads} threads")
                    pigz_wall, _ = _timed(["pigz", "-n", "-c", f"-{level}", "-p", str(threads), str(text)], text)
                    row = table[threads]
                    row["page"].append(page["ms"] / 1000)
                    row["setup"].append(page["setupMs"] / 1000)
                    row["browser"].append(page["browser"])
                    row["wpigz"].append(wall)
                    row["pigz"].append(pigz_wall)
                    log(f"round {round_ + 1}/{runs}, {threads} thread(s): page {page['ms'] / 1000:.2f}s "
                        f"(set-up {page['setupMs'] / 1000:.2f}s, browser {page['browser']:.2f}s), "
                        f"wpigz {wall:.2f}s, pigz {pigz_wall:.2f}s")
            return table
        finally:
            server.terminate()
            server.wait(timeout=20)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def markdown(table: dict, size_mib: int, level: int, runs: int) -> str:
    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"

    lines = [f"{size_mib} MiB of GCIDE text, level {level}, 128 KiB blocks; median (min-max) of {runs} rounds.",
             "",
             "| threads | page, in-Worker | page MiB/s | page set-up | whole browser run | wpigz command | pigz | "
             "page / wpigz |",
             "|---|---|---|---|---|---|---|---|"]
    for threads, row in table.items():
        rate = size_mib / statistics.median(row["page"])
        ratio = statistics.median(w / p for w, p in zip(row["wpigz"], row["page"]))
        lines.append(f"| {threads} | {cell(row['page'])} | {rate:.1f} | {cell(row['setup'])} | "
                     f"{cell(row['browser'])} | {cell(row['wpigz'])} | {cell(row['pigz'])} | "
                     f"{ratio:.2f}x as fast |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=32, help="MiB of text (default 32)")
    parser.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--level", type=int, default=6)
    parser.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    args = parser.parse_args()
    for tool in ("chromium", "pigz"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed: apt-get install chromium pigz dict-gcide")
    started = time.time()

    def log(text: str) -> None:
        print(f"[{time.time() - started:6.0f}s] {text}", flush=True)

    thread_counts = [int(t) for t in args.threads.split(",")]
    table = measure(args.size, args.runs, args.level, thread_counts, log)
    print(markdown(table, args.size, args.level, args.runs))


if __name__ == "__main__":
    main()
