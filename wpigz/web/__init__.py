"""wpigz in the browser: the HTTP server for the page that runs wpigz's own engine module.

The page (``static/``) compresses and decompresses files inside the browser with the same
``zlib.wasm`` the command uses: one Web Worker orchestrates (what ``pipeline.DeflateStream`` and
``decode`` do in Python) and every wasi thread the module spawns is one more Worker on the
same shared memory. Nothing is uploaded. This module only serves files, with the headers that
make the page cross-origin isolated -- ``Cross-Origin-Opener-Policy: same-origin`` and
``Cross-Origin-Embedder-Policy: require-corp`` -- because browsers give a page
SharedArrayBuffer (the module's shared memory) only when it is isolated.

What it serves is a fixed list: the page's files, the package's own ``.wasm`` modules and
their table (``/engines.json``, from ``wpigz/sandbox/engines.py``), and
only when asked, for automation (tests, ``bench/web.py``): ``--files DIR`` serves the regular
files directly inside DIR at ``/files/NAME``, read-only, and ``--results DIR`` accepts
``POST /results/NAME`` and writes the body to DIR/NAME atomically. No directory listings,
no ``..``, no subdirectories; anything else is 404. Standard library only; bound to
127.0.0.1 by default.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import shutil
import socket
import stat
import sys
import tempfile
import threading
import urllib.parse
import webbrowser
from importlib import resources
from typing import Sequence

from ..sandbox.engines import DEFAULT_ENGINE, ENGINES, layout_of

# the page's own files (in wpigz/web/static) and their content types
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
    "orchestrator.js": "text/javascript; charset=utf-8",
    "decoding.js": "text/javascript; charset=utf-8",
    "thread.js": "text/javascript; charset=utf-8",
}
ISOLATION_HEADERS = {
    # together these make the page cross-origin isolated, which is what allows SharedArrayBuffer
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    # and this lets an isolated page (only this origin) load each of our responses
    "Cross-Origin-Resource-Policy": "same-origin",
}
DEFAULT_RESULT_LIMIT = 1 << 30          # bytes one POST /results/NAME may carry
CHUNK = 1 << 20
# a plain file name: no separators, not "." or "..", no control characters
_PLAIN_NAME = re.compile(r"[^/\\\x00-\x1f\x7f]+")


def plain_name(name: str) -> bool:
    """Whether name may name a file directly inside a served directory."""
    return bool(_PLAIN_NAME.fullmatch(name)) and name not in (".", "..") and len(name) <= 255


def engines_json() -> bytes:
    """The engine table (wpigz/sandbox/engines.py) for the page: it offers the engines whose layout it
    can run and loads their modules by these names, so engine facts stay in one place."""
    # "layout": what the page asks for, the command's default (engines.layout_of), when the
    # engine can write it; "layouts": all it can write
    table = {name: {"module": info.module, "layouts": list(info.layouts),
                    "layout": layout_of() if layout_of() in info.layouts else None, "levels": list(info.levels),
                    "blocksize": info.blocksize, "summary": info.summary,
                    "library_levels": list(info.library_levels)}
             for name, info in ENGINES.items()}
    return json.dumps({"default": DEFAULT_ENGINE, "engines": table}).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    """GET/HEAD of the fixed list of files, GET /files/NAME and POST /results/NAME."""

    server_version = "wpigz-web"
    files_dir: str | None = None
    results_dir: str | None = None
    result_limit = DEFAULT_RESULT_LIMIT
    quiet = False

    def log_message(self, format: str, *args: object) -> None:
        if not self.quiet:
            super().log_message(format, *args)

    def end_headers(self) -> None:
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def _fail(self, code: int, text: str) -> None:
        body = (text + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _path(self) -> str | None:
        """The request's path, decoded; None if it is not a plain absolute path."""
        raw = urllib.parse.urlsplit(self.path).path
        path = urllib.parse.unquote(raw, errors="strict") if "%" in raw else raw
        return path if path.startswith("/") else None

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        try:
            path = self._path()
        except UnicodeDecodeError:
            path = None
        if path is None:
            return self._fail(400, "bad path")
        if path == "/":
            path = "/index.html"
        name = path[1:]
        if name in STATIC:
            data = resources.files(__package__).joinpath("static").joinpath(name).read_bytes()
            return self._send_bytes(data, STATIC[name])
        if name == "engines.json":
            return self._send_bytes(engines_json(), "application/json")
        if name in {info.module for info in ENGINES.values()}:
            data = resources.files("wpigz").joinpath(name).read_bytes()
            return self._send_bytes(data, "application/wasm")
        if name.startswith("files/") and self.files_dir is not None:
            return self._send_file(name[len("files/"):])
        return self._fail(404, "not found")

    def _send_bytes(self, data: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_file(self, name: str) -> None:
        assert self.files_dir is not None
        if not plain_name(name):
            return self._fail(404, "not found")
        path = os.path.join(self.files_dir, name)
        try:
            # O_NOFOLLOW: a symbolic link inside DIR could point anywhere; O_NONBLOCK: opening
            # a fifo must not hang (it is refused below; regular files ignore the flag)
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            return self._fail(404, "not found")
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):     # a directory, a device, a fifo: not served
            os.close(fd)
            return self._fail(404, "not found")
        with os.fdopen(fd, "rb") as file:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(info.st_size))
            self.end_headers()
            if self.command != "HEAD":
                try:
                    shutil.copyfileobj(file, self.wfile, CHUNK)
                except (BrokenPipeError, ConnectionResetError):
                    pass        # the page stopped reading (e.g. it was closed)

    def do_POST(self) -> None:
        try:
            path = self._path()
        except UnicodeDecodeError:
            path = None
        if path is None or not path.startswith("/results/") or self.results_dir is None:
            return self._fail(404, "not found")
        name = path[len("/results/"):]
        if not plain_name(name) or name.startswith("."):
            return self._fail(404, "not found")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self._fail(411, "Content-Length required")
        if length < 0 or length > self.result_limit:
            return self._fail(413, f"a result may have at most {self.result_limit} bytes")
        # write beside the target and rename: a reader never sees a partial result
        fd, temp = tempfile.mkstemp(prefix=f".{name}.", dir=self.results_dir)
        try:
            os.fchmod(fd, 0o644)        # mkstemp's 0600 is for the temporary name only
            with os.fdopen(fd, "wb") as out:
                left = length
                while left:
                    chunk = self.rfile.read(min(left, CHUNK))
                    if not chunk:
                        raise ConnectionError("request body cut short")
                    out.write(chunk)
                    left -= len(chunk)
            os.replace(temp, os.path.join(self.results_dir, name))
        except BaseException:
            os.unlink(temp)
            raise
        self._fail(201, "stored")


class _ThreadingHTTPServer6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


def make_server(host: str = "127.0.0.1", port: int = 8000, *, files: str | None = None,
                results: str | None = None, result_limit: int = DEFAULT_RESULT_LIMIT,
                quiet: bool = False) -> http.server.ThreadingHTTPServer:
    """A server (not yet serving) for the page; port 0 picks a free port."""
    attributes = {
        "files_dir": os.path.realpath(files) if files else None,
        "results_dir": os.path.realpath(results) if results else None,
        "result_limit": result_limit,
        "quiet": quiet,
    }
    handler = type("WebHandler", (Handler,), attributes)
    server_class: type[http.server.ThreadingHTTPServer] = http.server.ThreadingHTTPServer
    if ":" in host:             # an IPv6 address
        server_class = _ThreadingHTTPServer6
    server = server_class((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wpigz.web",
                                     description="Serve wpigz's in-browser page (compression in Web Workers).")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    parser.add_argument("--files", metavar="DIR", help="serve the files directly inside DIR at /files/NAME")
    parser.add_argument("--results", metavar="DIR", help="accept POST /results/NAME into DIR/NAME")
    parser.add_argument("--result-limit", type=int, default=DEFAULT_RESULT_LIMIT, metavar="BYTES",
                        help=f"largest accepted result (default {DEFAULT_RESULT_LIMIT})")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    for option, directory in (("--files", args.files), ("--results", args.results)):
        if directory is not None and not os.path.isdir(directory):
            print(f"wpigz.web: {directory}: {option} needs a directory", file=sys.stderr)
            return 1
    try:
        server = make_server(args.host, args.port, files=args.files, results=args.results,
                             result_limit=args.result_limit, quiet=args.quiet)
    except OSError as error:
        print(f"wpigz.web: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    host, port = str(server.server_address[0]), int(server.server_address[1])
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
    print(f"wpigz.web: serving on {url}", flush=True)
    if args.open:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
