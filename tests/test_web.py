"""wpigz in the browser (wpigz/web): the server's rules, and the page in real headless Chromium.

The page is driven through its URL parameters (``?src=/files/NAME&...&post=/results/OUT``): it
runs without a click and posts its result, or the error text to OUT.error, to the server's
--results directory. Its gzip output must be byte-identical to ``python -m wpigz -n -c`` with the
same level, block size and thread count; its decompression must reproduce pigz-written files and
report damaged input with the command's message. Chromium is required (.ci/run installs it),
never mocked; every browser and server started here is killed at the end of its test.
"""

from __future__ import annotations

import http.client
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:       # bench/ (the DevTools client) also under a bare `pytest`
    sys.path.insert(0, str(ROOT))

from bench.web import browser_env  # noqa: E402
from conftest import pigz, random_bytes, text_bytes, tool  # noqa: E402
PAGE_TIMEOUT = 90           # seconds a page may take (Chromium start-up on a loaded machine)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _stop(proc: subprocess.Popen, group: bool = False) -> None:
    """Stop a process this test started (and, for a browser, the process group it leads)."""
    if proc.poll() is None:
        try:
            if group:
                os.killpg(proc.pid, signal.SIGTERM)
            else:
                proc.terminate()
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait(timeout=10)
    if group:
        # the browser's helper processes share its group; none may outlive the test
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextmanager
def web_server(*args: str) -> Iterator[tuple[str, int]]:
    """`python -m wpigz.web --port 0 ARGS`; yields (host, port) once it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "wpigz.web", "--port", "0", "--quiet", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    try:
        assert proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=30), "the server did not start"
        line = proc.stdout.readline().decode()
        assert line.startswith("wpigz.web: serving on http://127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1].strip().rstrip("/"))
        yield "127.0.0.1", port
    finally:
        _stop(proc)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, Path, Path]]:
    """A server with --files and --results: (port, files dir, results dir)."""
    files, results = tmp_path / "files", tmp_path / "results"
    files.mkdir()
    results.mkdir()
    with web_server("--files", str(files), "--results", str(results)) as (_, port):
        yield port, files, results


def run_page(port: int, query: dict[str, str], results: Path, profile: Path) -> tuple[bytes | None, str | None]:
    """Open the page with query in headless Chromium until it posts; (result, error text)."""
    out = query["post"].rsplit("/", 1)[1]
    url = f"http://127.0.0.1:{port}/?{urllib.parse.urlencode(query, safe='/')}"
    temp = tempfile.mkdtemp(prefix="wpigz-browser-")
    browser = subprocess.Popen([tool("chromium"), "--headless=new", "--no-sandbox", "--disable-gpu",
                                "--no-first-run", "--no-default-browser-check",
                                f"--user-data-dir={profile}", url],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                               env=browser_env(temp))
    try:
        deadline = time.monotonic() + PAGE_TIMEOUT
        while time.monotonic() < deadline:
            # the page posts OUT (then OUT.json) or OUT.error; each is renamed into place whole
            if (results / f"{out}.json").exists():
                return (results / out).read_bytes(), None
            if (results / f"{out}.error").exists():
                return None, (results / f"{out}.error").read_text()
            assert browser.poll() is None, f"chromium exited with status {browser.returncode}"
            time.sleep(0.1)
        raise AssertionError(f"the page posted nothing within {PAGE_TIMEOUT} s: {url}")
    finally:
        _stop(browser, group=True)
        shutil.rmtree(temp, ignore_errors=True)


def wpigz(*args: str, data: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wpigz", *args], input=data, capture_output=True,
                          cwd=cwd, env=_env(), timeout=120)


# ---- the page, in Chromium

@pytest.mark.timeout(600)
@pytest.mark.parametrize("threads, level, blocksize, engine", [
    (2, 6, 128, "zlib"), (3, 1, 64, "zlib"), (3, 9, 32, "zlib"), (2, 6, 128, "zlib-ng"), (2, 1, 256, "libdeflate"),
    # no block size given: each engine's own default (wpigz/sandbox/engines.py), on the page as in the command
    (2, 6, None, "zlib"), (2, 6, None, "zlib-ng"), (3, 6, None, "libdeflate"), (2, 6, None, None)])
def test_page_compresses_as_the_command(served, tmp_path, threads, level, blocksize, engine):
    port, files, results = served
    # text with a run of random bytes in the middle: several blocks of every kind (2.6 MB: more
    # than two of libdeflate's 1 MiB blocks)
    data = text_bytes(1_900_000) + random_bytes(150_000, seed=threads) + text_bytes(600_000)
    (files / "input.txt").write_bytes(data)
    query = {"src": "/files/input.txt", "level": str(level), "threads": str(threads), "post": "/results/out.gz"}
    args = ["-n", "-c", f"-{level}", "-p", str(threads)]
    if blocksize is not None:
        query["blocksize"] = str(blocksize)
        args += ["-b", str(blocksize)]
    if engine is not None:
        query["engine"] = engine
        args += ["--engine", engine]
    got, error = run_page(port, query, results, tmp_path / "profile")
    assert error is None, error
    expected = wpigz(*args, data=data)
    assert expected.returncode == 0, expected.stderr
    assert got == expected.stdout


@pytest.mark.timeout(600)
@pytest.mark.parametrize("size", [0, 200_000])
def test_page_writes_bgzf_as_the_command(served, tmp_path, size):
    # --bgzf: libdeflate's members of at most 64 KiB with htslib's BC subfield and its EOF member
    port, files, results = served
    data = text_bytes(size)
    (files / "input.txt").write_bytes(data)
    got, error = run_page(port, {"src": "/files/input.txt", "threads": "2", "bgzf": "1", "post": "/results/out.gz"},
                          results, tmp_path / "profile")
    assert error is None, error
    expected = wpigz("-n", "-c", "-p", "2", "--bgzf", data=data)
    assert expected.returncode == 0, expected.stderr
    assert got == expected.stdout
    (tmp_path / "out.gz").write_bytes(got)
    check = subprocess.run([tool("bgzip"), "-t", str(tmp_path / "out.gz")], capture_output=True)
    assert (check.returncode, check.stderr) == (0, b"")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("query, message", [
    ({"bgzf": "1", "engine": "zlib"}, "wpigz: BGZF needs the libdeflate engine, not zlib"),
    ({"bgzf": "1", "blocksize": "128"}, "wpigz: BGZF has its own block size (64 KiB members): no block size with it")])
def test_page_refuses_bgzf_where_the_command_does(served, tmp_path, query, message):
    port, files, results = served
    (files / "x").write_bytes(b"data")
    got, error = run_page(port, {"src": "/files/x", **query, "post": "/results/out.gz"}, results, tmp_path / "profile")
    assert (got, error) == (None, message)


@pytest.mark.timeout(300)
def test_page_compresses_an_empty_file_as_the_command(served, tmp_path):
    port, files, results = served
    (files / "empty").write_bytes(b"")
    got, error = run_page(port, {"src": "/files/empty", "threads": "2", "post": "/results/out.gz"},
                          results, tmp_path / "profile")
    assert error is None, error
    assert got == wpigz("-n", "-c", "-p", "2", data=b"").stdout


@pytest.mark.timeout(300)
def test_page_refuses_a_bad_setting_instead_of_guessing(served, tmp_path):
    port, files, results = served
    (files / "x").write_bytes(b"data")
    got, error = run_page(port, {"src": "/files/x", "level": "12", "post": "/results/out.gz"},
                          results, tmp_path / "profile")
    assert (got, error) == (None, "wpigz: level must be 0..9, not 12")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("form", ["gz", "zz", "zip", "Z"])
def test_page_decompresses_what_pigz_and_compress_write(served, tmp_path, form):
    port, files, results = served
    first, second = text_bytes(700_000), random_bytes(200_000) + text_bytes(50_000)
    if form == "gz":            # two members, the first in several blocks
        blob, expected = pigz(first, "-p", "2", "-b", "32") + pigz(second, "-9"), first + second
    elif form == "zz":
        blob, expected = pigz(first, "-z"), first
    elif form == "zip":
        blob, expected = pigz(first, "-K"), first
    else:                       # Unix compress (LZW), decoded by the same module
        blob = subprocess.run([tool("compress"), "-c"], input=first, capture_output=True, check=True).stdout
        expected = first
    (files / f"in.{form}").write_bytes(blob)
    got, error = run_page(port, {"src": f"/files/in.{form}", "op": "decompress", "post": "/results/out"},
                          results, tmp_path / "profile")
    assert error is None, error
    assert got == expected


@pytest.mark.timeout(300)
@pytest.mark.parametrize("damage", ["crc", "deflate"])
def test_page_reports_a_corrupt_gz_as_the_command_does(served, tmp_path, damage):
    port, files, results = served
    blob = bytearray(pigz(text_bytes(200_000)))
    if damage == "crc":
        blob[-6] ^= 0x01                # the stored CRC-32
    else:
        blob[10:30] = b"\xff" * 20      # the deflate body: an invalid block type
    (files / "bad.gz").write_bytes(blob)
    got, error = run_page(port, {"src": "/files/bad.gz", "op": "decompress", "post": "/results/bad"},
                          results, tmp_path / "profile")
    command = wpigz("-d", "-c", "bad.gz", cwd=files)
    assert command.returncode == 1
    assert got is None
    assert error is not None and error + "\n" == command.stderr.decode()
    assert ("crc32 mismatch" if damage == "crc" else "invalid deflate data") in error


# ---- the server

def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in {**({"Content-Length": str(len(body))} if body is not None else {}),
                            **(headers or {})}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", ["/", "/index.html", "/page.js", "/orchestrator.js", "/thread.js",
                                  "/decoding.js", "/zlib.wasm", "/zlib-ng.wasm", "/engines.json",
                                  "/files/a.txt"])
def test_every_response_carries_the_isolation_headers(served, path):
    port, files, _ = served
    (files / "a.txt").write_bytes(b"abc")
    status, headers, body = request(port, "GET", path)
    assert status == 200
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
    if path == "/zlib.wasm":
        assert headers["Content-Type"] == "application/wasm"
        assert body == (ROOT / "wpigz" / "zlib.wasm").read_bytes()
    if path == "/files/a.txt":
        assert body == b"abc"
    if path == "/engines.json":         # the page's engine list is wpigz/sandbox/engines.py's table
        from wpigz.sandbox.engines import DEFAULT_ENGINE, ENGINES
        table = json.loads(body)
        assert table["default"] == DEFAULT_ENGINE
        assert {name: row["module"] for name, row in table["engines"].items()} == \
            {name: info.module for name, info in ENGINES.items()}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", ["/files/../secret", "/files/..%2Fsecret", "/files/%2E%2E/secret",
                                  "/files/sub/inner", "/files/sub", "/files/", "/files/..",
                                  "/files/link", "/files/fifo", "/secret", "/static/page.js", "/../secret",
                                  "/wpigz/web/__init__.py", "/__init__.py", "/results/x", "/nothing"])
def test_server_refuses_dotdot_and_unknown_paths(tmp_path, path):
    files, results = tmp_path / "files", tmp_path / "results"
    (files / "sub").mkdir(parents=True)
    results.mkdir()
    (tmp_path / "secret").write_text("not to be served")
    (files / "sub" / "inner").write_text("not served either: no subdirectories")
    (files / "link").symlink_to(tmp_path / "secret")
    os.mkfifo(files / "fifo")               # opening it for reading must not hang the server
    with web_server("--files", str(files), "--results", str(results)) as (_, port):
        status, headers, body = request(port, "GET", path)
    assert status in (400, 404), (status, body)
    assert b"not to be served" not in body and b"served either" not in body
    assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"


@pytest.mark.timeout(60)
def test_files_and_results_are_off_unless_asked(tmp_path):
    with web_server() as (_, port):
        assert request(port, "GET", "/files/x")[0] == 404
        assert request(port, "POST", "/results/x", b"data")[0] == 404


@pytest.mark.timeout(60)
def test_results_are_plain_names_size_limited_and_written_whole(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    with web_server("--results", str(results), "--result-limit", "1000") as (_, port):
        assert request(port, "POST", "/results/out", b"x" * 1000)[0] == 201
        assert request(port, "POST", "/results/big", b"x" * 1001)[0] == 413
        for bad in ("/results/../out2", "/results/..%2Fout2", "/results/a/b", "/results/.hidden", "/results/"):
            assert request(port, "POST", bad, b"data")[0] == 404, bad
        # a body cut short leaves nothing behind, not even the temporary file: the client ends
        # its side after 9 of 500 bytes, then waits for the server to close the connection,
        # which it does once its handler has given up on the body (the timeout catches a hang)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            connection.sendall(b"POST /results/cut HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               b"Content-Length: 500\r\n\r\nonly this")
            connection.shutdown(socket.SHUT_WR)
            while connection.recv(4096):
                pass
        assert request(port, "POST", "/results/after", b"ok")[0] == 201
    assert sorted(os.listdir(results)) == ["after", "out"]
    assert (results / "out").read_bytes() == b"x" * 1000
    assert not (tmp_path / "out2").exists()


@pytest.mark.timeout(60)
def test_server_binds_localhost_and_reports_a_busy_port(tmp_path):
    with web_server() as (host, port):
        assert host == "127.0.0.1"
        proc = subprocess.run([sys.executable, "-m", "wpigz.web", "--port", str(port)],
                              capture_output=True, env=_env(), timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith(f"wpigz.web: cannot listen on 127.0.0.1:{port}: ")


@pytest.mark.timeout(120)
def test_page_says_plainly_when_it_is_not_isolated(tmp_path):
    """Served without COOP/COEP (here by http.server itself), the page has no shared memory
    and must say why instead of failing obscurely."""
    from bench.web import DevTools
    static = ROOT / "wpigz" / "web" / "static"
    server = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "0"], cwd=static,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env())
    try:
        assert server.stdout is not None
        line = server.stdout.readline().decode()        # "Serving HTTP on 127.0.0.1 port N ..."
        port = int(line.split(" port ")[1].split()[0])
        tools = DevTools(f"http://127.0.0.1:{port}/index.html", tmp_path / "profile", (800, 600))
        try:
            session = tools.page_session()
            tools.wait_for(session, "document.title", ("wpigz: not isolated",), PAGE_TIMEOUT)
            text = tools.evaluate(session, "document.getElementById('isolation').textContent")
        finally:
            tools.close()
    finally:
        _stop(server)
    assert "not cross-origin isolated" in str(text)
    assert "Cross-Origin-Embedder-Policy: require-corp" in str(text)


# ---- a picked file, through the form (driven over the DevTools protocol)

@pytest.mark.timeout(300)
def test_picked_file_gets_its_name_and_time_as_wpigz_c_file(tmp_path):
    from bench.web import DevTools
    data = text_bytes(400_000)
    picked = tmp_path / "notes é.txt"
    picked.write_bytes(data)
    os.utime(picked, (1_700_000_000.75, 1_700_000_000.75))
    with web_server() as (_, port):
        url = f"http://127.0.0.1:{port}/"
        tools = DevTools(url, tmp_path / "profile", (800, 600))
        try:
            session = tools.page_session()

            def evaluate(expression: str) -> object:
                return tools.evaluate(session, expression)

            tools.wait_for(session, "location.href + ' ' + document.readyState", (f"{url} complete",), PAGE_TIMEOUT)
            # the page is loaded before its script has finished setting up (it fetches the
            # engine list): picking a file earlier was once lost under load
            tools.wait_for(session, "document.documentElement.dataset.ready", ("yes",), PAGE_TIMEOUT)
            node = tools.call("Runtime.evaluate", session, expression="document.getElementById('file')")
            tools.call("DOM.setFileInputFiles", session, files=[str(picked)], objectId=node["result"]["objectId"])
            evaluate("document.getElementById('threads').value = '2';"
                     "document.getElementById('level').value = '9';"
                     "document.getElementById('start').click()")
            title = tools.wait_for(session, "document.title", ("wpigz: done", "wpigz: error"), PAGE_TIMEOUT)
            assert title == "wpigz: done", evaluate("document.getElementById('problem').textContent")
            assert evaluate("document.querySelector('#result a').download") == "notes é.txt.gz"
            got = evaluate("fetch(document.querySelector('#result a').href).then(r => r.arrayBuffer())"
                           ".then(b => Array.from(new Uint8Array(b), x => x.toString(16).padStart(2, '0')).join(''))")
        finally:
            tools.close()
    expected = wpigz("-c", "-9", "-p", "2", picked.name, cwd=tmp_path)
    assert expected.returncode == 0, expected.stderr
    assert bytes.fromhex(str(got)) == expected.stdout
