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
import select
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


def browser_env(temp: str) -> dict[str, str]:
    """Chromium's environment: TMPDIR is temp, a short directory the caller makes and removes,
    because a killed browser leaves its singleton-socket directory behind in TMPDIR (and a
    socket path must stay short: a long one makes Chromium abort)."""
    return {**os.environ, "TMPDIR": temp}


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
    temp = tempfile.mkdtemp(prefix="wpigz-browser-")
    url = (f"http://127.0.0.1:{port}/?src=/files/{name}&level={level}&threads={threads}"
           f"&blocksize=128&post=/results/{out}")
    start = time.perf_counter()
    browser = subprocess.Popen([shutil.which("chromium") or "chromium", "--headless=new", "--no-sandbox",
                                "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}", url],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                               env=browser_env(temp))
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
        shutil.rmtree(temp, ignore_errors=True)
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


class DevTools:
    """A minimal Chrome DevTools Protocol client over --remote-debugging-pipe (JSON messages
    ended by NUL on fds 3 and 4): enough to wait for the page and take its screenshot."""

    def __init__(self, url: str, profile: Path, size: tuple[int, int]) -> None:
        self._temp = tempfile.mkdtemp(prefix="wpigz-browser-")
        to_browser_r, self._write = os.pipe()
        self._read, from_browser_w = os.pipe()
        # the browser reads commands on fd 3 and writes answers on fd 4
        self.browser = subprocess.Popen(
            [shutil.which("chromium") or "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--hide-scrollbars", f"--window-size={size[0]},{size[1]}",
             f"--user-data-dir={profile}", "--remote-debugging-pipe", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            env=browser_env(self._temp), pass_fds=(3, 4), preexec_fn=lambda: (os.dup2(to_browser_r, 3), os.dup2(from_browser_w, 4)))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._id = 0
        self.timeout = 60.0         # seconds one call may wait for its answer

    def call(self, method: str, session: str | None = None, **params: object) -> dict:
        import json
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                # never block for ever on a browser that stopped answering
                ready, _, _ = select.select([self._read], [], [], self.timeout)
                if not ready:
                    raise SystemExit(f"chromium did not answer {method} within {self.timeout} s")
                chunk = os.read(self._read, 1 << 20)
                if not chunk:
                    raise SystemExit("chromium closed its DevTools pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise SystemExit(f"DevTools {method}: {answer['error']}")
                return answer["result"]

    def page_session(self) -> str:
        """Attach to the browser's one page; the session id for calls to it."""
        (page,) = [t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page"]
        return self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]

    def evaluate(self, session: str, expression: str) -> object:
        """The value of a JavaScript expression in the page (promises awaited)."""
        answer = self.call("Runtime.evaluate", session, expression=expression, awaitPromise=True)
        if "exceptionDetails" in answer:
            raise SystemExit(f"in the page: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, session: str, expression: str, values: tuple, timeout: float) -> object:
        """Poll expression until it gives one of values. Until the page has loaded there may
        be no execution context yet (the target starts as about:blank): that is retried."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(session, expression)
                if value in values:
                    return value
            except SystemExit:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the page never gave {values} for {expression}")
            time.sleep(0.1)

    def close(self) -> None:
        try:
            os.killpg(self.browser.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.browser.wait()
        os.close(self._read)
        os.close(self._write)
        shutil.rmtree(self._temp, ignore_errors=True)


def screenshot(target: Path, size_mib: int = 8, timeout: float = 120) -> None:
    """The page after compressing size_mib MiB of text at 2 threads, as a PNG at target."""
    import base64
    work = Path(tempfile.mkdtemp(prefix="wpigz-shot-"))
    (work / "files").mkdir()
    (work / "files" / "gcide.txt").write_bytes(corpus.RECIPES["text"][1](size_mib << 20))
    server = subprocess.Popen([PY, "-m", "wpigz.web", "--port", "0", "--quiet", "--files", str(work / "files")],
                              stdout=subprocess.PIPE, env=_env())
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().decode().rsplit(":", 1)[1].strip().rstrip("/"))
        tools = DevTools(f"http://127.0.0.1:{port}/?src=/files/gcide.txt&level=6&threads=2",
                         work / "profile", (760, 700))
        try:
            session = tools.page_session()
            tools.wait_for(session, "document.title", ("wpigz: done",), timeout)
            png = tools.call("Page.captureScreenshot", session, format="png")["data"]
            target.write_bytes(base64.b64decode(png))
        finally:
            tools.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=32, help="MiB of text (default 32)")
    parser.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--level", type=int, default=6)
    parser.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    parser.add_argument("--screenshot", metavar="PNG", help="only take the README's screenshot of the page")
    args = parser.parse_args()
    if args.screenshot:
        screenshot(Path(args.screenshot))
        return
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
