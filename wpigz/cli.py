"""The wpigz command: options in, one gzip (or zlib) stream per input out.

This stage turns a command line into calls to the pipeline: it picks the inputs (standard
input, or files with ``-c``), builds each stream's header from the options and the input's
name and modification time, has the pipeline write the deflate body, adds the trailer, and
reports problems the way pigz and gzip do: ``wpigz: <file>: <reason>`` on stderr, the next
file, and an exit status of 0 (success) or 1 (an error). Success is silent.

Standard input that is not a regular file gets MTIME 0 in the header (as GNU gzip and pigz
2.8 do, unlike pigz 2.6), so ``cmd | wpigz`` is reproducible.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
from typing import BinaryIO

from . import __version__, framing
from .options import HEAD_NAME, HEAD_TIME, Settings, UsageError, help_text, parse
from .pipeline import compress_body
from .wasm_host import EngineError, Runtime

PROG = "wpigz"


def complain(message: str) -> None:
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()


def header_fields(settings: Settings, path: str | None, source: BinaryIO) -> tuple[bytes | None, int]:
    """(name, mtime) for the header: a named file's last path component and lstat time; for
    standard input never a name, and its time only when it is a regular file."""
    if path is None:
        name = None
        mtime = 0
        if settings.head & HEAD_TIME:
            info = os.fstat(source.fileno())
            mtime = int(info.st_mtime) if stat.S_ISREG(info.st_mode) else 0
    else:
        name = os.fsencode(os.path.basename(path)) if settings.head & HEAD_NAME else None
        mtime = int(os.lstat(path).st_mtime) if settings.head & HEAD_TIME else 0
    return name, mtime


def compress_stream(settings: Settings, runtime: Runtime, source: BinaryIO, sink: BinaryIO,
                    path: str | None) -> None:
    """Write one complete gzip or zlib stream of source to sink."""
    options = settings.deflate_options()
    if settings.form == "zlib":
        sink.write(framing.zlib_header(settings.level))
        body = compress_body(source, sink, options, runtime=runtime)
        sink.write(framing.zlib_trailer(body.check))
    else:
        name, mtime = header_fields(settings, path, source)
        sink.write(framing.gzip_header(level=settings.level, mtime=mtime, name=name))
        body = compress_body(source, sink, options, runtime=runtime)
        sink.write(framing.gzip_trailer(body.check, body.length))


def end_quietly_on_broken_pipe() -> None:
    """The reader of our stdout went away: end the way cat does, killed by SIGPIPE, silently."""
    sys.stderr.flush()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)


def run(settings: Settings) -> int:
    files = settings.files or ["-"]
    stdout = sys.stdout.buffer
    status = 0
    if not settings.stdout and any(f != "-" for f in files):
        # compressing FILE into FILE.gz (and removing FILE) is the file-handling stage, not yet here
        for name in files:
            if name != "-":
                complain(f"{name}: writing {name}.gz is not supported yet; use -c to write to standard output")
        return 1
    if stdout.isatty() and not settings.force:
        complain("trying to write compressed data to a terminal (use -f to force)")
        return 1
    runtime = Runtime()
    for name in files:
        try:
            if name == "-":
                compress_stream(settings, runtime, sys.stdin.buffer, stdout, None)
            else:
                with open(name, "rb", buffering=0) as source:
                    compress_stream(settings, runtime, source, stdout, name)
            stdout.flush()
        except BrokenPipeError:
            end_quietly_on_broken_pipe()
        except OSError as error:
            where = "<stdin>" if name == "-" else name
            if error.filename is None or error.filename == name:
                complain(f"{where}: {error.strerror or error}")
            else:
                complain(f"{error.filename}: {error.strerror or error}")
            status = 1
        except EngineError as error:
            complain(f"{'<stdin>' if name == '-' else name}: {error}")
            status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    try:
        settings = parse(sys.argv[1:] if argv is None else argv)
    except UsageError as error:
        complain(str(error))
        complain(f"Try '{PROG} --help' for more information.")
        return 1
    try:
        if settings.help:
            sys.stdout.write(help_text(PROG))
            sys.stdout.flush()
            return 0
        if settings.version:
            sys.stdout.write(f"{PROG} {__version__}\nzlib {Runtime().zlib_version()} (WebAssembly engine)\n")
            sys.stdout.flush()
            return 0
        return run(settings)
    except BrokenPipeError:
        end_quietly_on_broken_pipe()
        return 1
    except KeyboardInterrupt:
        return 130
