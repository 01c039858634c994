"""File handling: which inputs to compress, where each output goes, and that nothing is lost.

For every command-line input this stage applies pigz's rules (shared/reference §5.2-5.4) with
gzip's exit statuses: missing files, symbolic links and special files without -f, directories
without -r and names that already end in the suffix are skipped with a message; ``-r`` walks
directories (in sorted order); an existing output is overwritten only with -f, or when the user
answers yes at a terminal.

Nothing is lost. A file's output is written to a temporary file in the target directory and
renamed to ``name + suffix`` only once it is complete (after an fsync with -Y), with the input's
mode, owner and times copied onto it; only then is the input removed (never with -k or -c).
On any error, on SIGINT/SIGTERM/SIGHUP, or when a write fails (a full disk), the temporary file
is removed and the input is untouched. A write error ends the run (the next file would fail the
same way); a problem with an input is reported and the next input is processed.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
import sys
from .._record import dataclass               # dataclasses itself costs start-up time
TYPE_CHECKING = False                         # typing itself costs start-up time
if TYPE_CHECKING:
    import signal
    from typing import Any, BinaryIO, Callable, Iterator
else:
    # The C module under signal.py: the same functions and constants, without the enums that
    # signal.py builds at import (9M instructions, about 2 ms, of every command's start-up;
    # callgrind). wpigz compares handlers with `is` only, which either module satisfies.
    try:
        import _signal as signal
    except ImportError:         # a Python without it
        import signal

STDIN_LABEL = "<stdin>"
STDOUT_LABEL = "<stdout>"

# compressed suffixes, as pigz knows them (plus zstd's), longest first within each length
COMPRESSED_SUFFIXES = (".zip", ".ZIP", ".tgz", ".zst", ".gz", "-gz", ".zz", "-zz", ".z", "-z", "_z", ".Z")
# names tried, in pigz's order, for a missing input when decompressing, testing or listing
TRIED_SUFFIXES = (".z", "-z", "_z", ".Z", ".gz", "-gz", ".zz", "-zz", ".zip", ".ZIP", ".tgz", ".zst")


def decompressed_name(path: str, suffix: str | None) -> str | None:
    """path without its compressed suffix (-S's first), .tgz becoming .tar; None if it has none
    (or nothing would be left of the file name)."""
    for candidate in ((suffix,) if suffix else ()) + COMPRESSED_SUFFIXES:
        if path.endswith(candidate) and len(os.path.basename(path)) > len(candidate):
            return path[:-len(candidate)] + (".tar" if candidate == ".tgz" else "")
    return None


class Reporter:
    """Messages on stderr as ``wpigz: ...`` (none with -q), and the exit status they imply:
    1 once any error was reported, else 2 once any warning was, else 0 (gzip's rule)."""

    def __init__(self, program: str, verbosity: int) -> None:
        self.program = program
        self.verbosity = verbosity
        self.status = 0
        # called before each message: a command with several inputs in flight finishes the
        # earlier ones first, so that messages come in argument order
        self.before_message: Callable[[], None] | None = None
        # the command's progress bar while one is drawn (progress.Progress): taken off the
        # screen before a line is written and drawn again after it, so that no message lands
        # on the bar's line
        self.bar: Any = None

    def say(self, text: str) -> None:
        if self.before_message is not None:
            self.before_message()
        if self.verbosity > 0:
            self.line(f"{self.program}: {text}")

    def line(self, text: str) -> None:
        """One line on stderr (a message, -v's 'IN to OUT '), below any progress bar."""
        if self.bar is not None:
            self.bar.clear()
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
        if self.bar is not None:
            self.bar.redraw()

    def error(self, text: str) -> None:
        self.say(text)
        self.status = 1

    def warning(self, text: str) -> None:
        self.say(text)
        if self.status == 0:
            self.status = 2


class Interrupted(BaseException):
    """SIGTERM or SIGHUP arrived; raised in the main thread so cleanup runs (like Ctrl-C)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_held = 0                   # depth of HeldSignals blocks
_pending: list[int] = []    # signals that arrived inside them


def _on_signal(signum: int, frame: object) -> None:
    if _held:
        _pending.append(signum)
        return
    _raise_for(signum)


def _raise_for(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted(signum)


def install_signal_handlers() -> None:
    """SIGINT raises KeyboardInterrupt and SIGTERM, SIGHUP raise Interrupted in the main
    thread, so that cleanup runs -- except inside a HeldSignals block."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signum != signal.SIGINT or signal.getsignal(signum) is signal.default_int_handler:
            signal.signal(signum, _on_signal)


class HeldSignals:
    """``with HeldSignals(): ...``: SIGINT, SIGTERM and SIGHUP arriving inside the block take
    effect when it ends (with install_signal_handlers' handlers; main thread only). Creating a
    temporary output and recording it where the cleanup will find it is one such block: an
    interruption between the two would leave the file behind (seen once in a few thousand
    files of a tree interrupted mid-run). No system call: the handlers look at a counter."""

    def __enter__(self) -> HeldSignals:
        global _held
        _held += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        global _held
        _held -= 1
        if not _held and _pending:
            signum = _pending[0]
            _pending.clear()
            _raise_for(signum)


class Abort(Exception):
    """The run cannot go on (e.g. an input failed midway through a stream on stdout, which is
    now cut short); str() is the message."""


class OutputError(Exception):
    """Writing the output failed (disk full, I/O error): the run stops after cleaning up."""

    def __init__(self, label: str, error: OSError) -> None:
        super().__init__(f"{label}: {error.strerror or error}")
        self.error = error


class Output:
    """The sink the pipeline writes to; turns a failed write into OutputError naming it."""

    def __init__(self, raw: BinaryIO | FdWriter, label: str) -> None:
        self.raw = raw
        self.label = label

    def write(self, data: bytes | memoryview) -> int | None:
        try:
            return self.raw.write(data)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise OutputError(self.label, error) from error

    def flush(self) -> None:
        try:
            self.raw.flush()
        except BrokenPipeError:
            raise
        except OSError as error:
            raise OutputError(self.label, error) from error


@dataclass(frozen=True)
class Input:
    """One thing to compress: a path, or standard input (path None). ``notes`` are the skip
    messages of the arguments before it (select_inputs), said just before it is handled, so
    that messages come in argument order as gzip's and pigz's do."""

    path: str | None
    notes: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return STDIN_LABEL if self.path is None else self.path


def select_inputs(names: list[str], *, suffix: str, force: bool, to_stdout: bool, recursive: bool,
                  reporter: Reporter, mode: str = "compress", decompress_suffix: str | None = None
                  ) -> tuple[list[Input], tuple[tuple[str, str], ...]]:
    """The inputs named on the command line, after pigz's skip rules; directories expanded
    with -r; and the skip messages after the last input. Every skip is kept as a note on the
    input after it (``Input.notes``), to be said in argument order. When decompressing to files, an input needs a compressed
    suffix; when decompressing, testing or listing, a missing name is tried with the -S suffix
    and then the usual suffixes appended (gzip's order)."""
    notes = _NoteTaker(reporter.verbosity)
    chosen: list[Input] = []

    def take(item: Input) -> None:
        chosen.append(Input(item.path, notes.taken()) if notes.pending else item)

    for name in names or ["-"]:
        if name == "-":
            take(Input(None))
            continue
        if mode != "compress" and not os.path.lexists(name):
            tried = ((decompress_suffix,) if decompress_suffix else ()) + TRIED_SUFFIXES
            name = next((name + s for s in tried if os.path.lexists(name + s)), name)
        for item in _visit(name, top=True, suffix=suffix, force=force, to_stdout=to_stdout,
                           recursive=recursive, reporter=notes, mode=mode,  # type: ignore[arg-type]
                           decompress_suffix=decompress_suffix):
            take(item)
    return chosen, notes.taken()


class _NoteTaker:
    """Stands in for the Reporter while select_inputs walks the arguments: it keeps each skip
    message (the Reporter method and its text) for the next input, or for the end."""

    def __init__(self, verbosity: int) -> None:
        self.verbosity = verbosity
        self.pending: list[tuple[str, str]] = []

    def say(self, text: str) -> None:
        self.pending.append(("say", text))

    def error(self, text: str) -> None:
        self.pending.append(("error", text))

    def warning(self, text: str) -> None:
        self.pending.append(("warning", text))

    def taken(self) -> tuple[tuple[str, str], ...]:
        notes, self.pending = tuple(self.pending), []
        return notes


def say_notes(reporter: Reporter, notes: tuple[tuple[str, str], ...]) -> None:
    """Say skip messages that select_inputs kept, now that their place in the order has come."""
    for kind, text in notes:
        getattr(reporter, kind)(text)


def _visit(path: str, *, top: bool, suffix: str, force: bool, to_stdout: bool, recursive: bool,
           reporter: Reporter, mode: str, decompress_suffix: str | None) -> Iterator[Input]:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        reporter.error(f"skipping: {path} does not exist")
        return
    except OSError as error:
        reporter.error(f"{path}: {error.strerror}")
        return
    if stat.S_ISLNK(info.st_mode):
        if not (force or to_stdout):
            reporter.error(f"skipping: {path} is a symbolic link")
            return
        try:
            info = os.stat(path)
        except OSError as error:
            reporter.error(f"{path}: {error.strerror}")
            return
        if stat.S_ISDIR(info.st_mode):
            reporter.warning(f"skipping: {path} is a directory")     # never walk through links
            return
    if stat.S_ISDIR(info.st_mode):
        if not recursive:
            reporter.warning(f"skipping: {path} is a directory")
            return
        try:
            entries = sorted(os.listdir(path))
        except OSError as error:
            reporter.error(f"{path}: {error.strerror}")
            return
        for entry in entries:
            yield from _visit(os.path.join(path, entry), top=False, suffix=suffix, force=force,
                              to_stdout=to_stdout, recursive=recursive, reporter=reporter, mode=mode,
                              decompress_suffix=decompress_suffix)
        return
    if not stat.S_ISREG(info.st_mode) and not force:
        reporter.warning(f"skipping: {path} is a special file or device")
        return
    if stat.S_ISREG(info.st_mode) and info.st_nlink > 1 and not (force or to_stdout):
        # gzip 1.13 leaves a file with other hard links alone (pigz compresses it)
        others = info.st_nlink - 1
        reporter.warning(f"{path} has {others} other link{'s' if others > 1 else ''} -- file ignored")
        return
    if mode == "compress" and path.endswith(suffix) and not force:
        # gzip reports this and carries on with exit status 0
        reporter.say(f"skipping: {path} ends with {suffix}")
        return
    if mode == "decompress" and not to_stdout and decompressed_name(path, decompress_suffix) is None:
        if top:                 # inside -r such files are passed over silently, as gzip does
            reporter.warning(f"skipping: {path} does not have compressed suffix")
        return
    if mode in ("test", "list") and not top and decompressed_name(path, decompress_suffix) is None:
        return                  # gzip passes over them inside -r when testing or listing too
    yield Input(path)


def may_overwrite(path: str, *, force: bool, reporter: Reporter) -> bool:
    """Whether the output path may be written: it does not exist, -f was given, or the user
    said yes at a terminal (asked only when stdin is one)."""
    if force or not os.path.lexists(path):
        return True
    if sys.stdin.isatty() and reporter.verbosity > 0:
        sys.stderr.write(f"{path} exists -- overwrite (y/n)? ")
        sys.stderr.flush()
        answer = sys.stdin.readline().strip()
        if answer[:1] in ("y", "Y"):
            return True
        reporter.warning(f"skipping: {path} exists -- not overwritten")
        return False
    reporter.warning(f"skipping: {path} exists")
    return False


class CreateError(OSError):
    """The output file could not be created (a directory not writable, say): gzip names the
    output in that message, and goes on with the next input."""


class FdWriter:
    """An output file by its descriptor, for the safe path: small writes (a header, a small
    file's whole body, a trailer) are gathered and go out in one ``os.write`` at ``flush``;
    large ones go straight out. Unlike ``os.fdopen``'s BufferedWriter it costs no system call
    to set up (no fstat, isatty, lseek), which counts for a tree of thousands of small files."""

    GATHER = 256 * 1024         # at most this many bytes wait for flush

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.closed = False
        self._pending = bytearray()

    def fileno(self) -> int:
        return self.fd

    def write(self, data: bytes | bytearray | memoryview) -> int:
        n = data.nbytes if isinstance(data, memoryview) else len(data)
        if len(self._pending) + n <= self.GATHER:
            self._pending += data
            return n
        self.flush()
        if n <= self.GATHER:
            self._pending += data
        else:
            self._write_all(memoryview(data).cast("B"))
        return n

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, bytearray()
            self._write_all(memoryview(pending))

    def _write_all(self, view: memoryview) -> None:
        while view:
            view = view[os.write(self.fd, view):]

    def close(self) -> None:
        """Flush and close (closed even when the flush fails, which raises)."""
        if self.closed:
            return
        self.closed = True
        try:
            self.flush()
        finally:
            os.close(self.fd)


# in temporary names, after the process id (read at each name: a forked child has its own),
# so that names are unique among running wpigz commands
_temporary_tags = itertools.count()


class AtomicOutput:
    """A temporary file beside ``final`` that becomes ``final`` only by ``commit``; closing it
    without a commit (any error, any signal) removes it.

    The temporary name is ``.NAME.TAG.wpigz-tmp``, created with O_EXCL (never through a
    symbolic link, never over an existing file: a name taken is skipped for the next tag);
    metadata is copied through the descriptor, before the rename, so that the path is looked
    up only to create, rename and (after a failure) remove it."""

    def __init__(self, final: str, *, synchronous: bool) -> None:
        self.final = final
        self.synchronous = synchronous
        directory, base = os.path.split(final)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        for _ in range(100):
            temporary = os.path.join(directory, f".{base}.{os.getpid()}-{next(_temporary_tags):x}.wpigz-tmp")
            try:
                fd = os.open(temporary, flags, 0o600)
                break
            except FileExistsError:
                continue
            except OSError as error:
                raise CreateError(error.errno, error.strerror, final) from error
        else:
            raise CreateError(errno.EEXIST, "cannot find a free temporary name", final)
        self.temporary: str | None = temporary
        self.file = FdWriter(fd)

    def commit(self, source_info: os.stat_result, *, mtime: int | None = None) -> None:
        """Finish the file, give it the input's metadata (and the stored time mtime, when
        restoring one) and move it into place."""
        self.finish(source_info, mtime=mtime)
        self.place()

    def finish(self, source_info: os.stat_result, *, mtime: int | None = None) -> None:
        """commit's first half: close the complete file and give it the metadata; it stays
        under its temporary name (any thread may do this; the caller places it later)."""
        self.file.flush()
        fd = self.file.fd
        if self.synchronous:
            os.fsync(fd)
        temporary = self.temporary
        assert temporary is not None, "committed twice"
        copy_metadata(source_info, fd)
        if mtime:
            try:
                os.utime(fd, (mtime, mtime))
            except OSError:
                pass
        self.file.close()

    def place(self) -> None:
        """commit's second half: move the finished file to its final name."""
        temporary = self.temporary
        assert temporary is not None and self.file.closed, "placed before it was finished"
        os.replace(temporary, self.final)
        self.temporary = None
        if self.synchronous:
            directory = os.open(os.path.dirname(self.final) or ".", os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def discard(self) -> None:
        if not self.file.closed:
            try:
                self.file.close()
            except OSError:
                pass        # a failed flush of a file we are removing anyway
        if self.temporary is not None:
            try:
                os.unlink(self.temporary)
            except FileNotFoundError:
                pass
            self.temporary = None


def copy_metadata(info: os.stat_result, path: str | int) -> None:
    """Mode (with setuid, setgid and sticky bits), owner and group, and access and modification
    times from the input onto the output (a path, or an open descriptor: no lookup), each as far
    as permitted (like gzip). The owner goes first: chown may clear setuid and setgid bits."""
    try:
        os.chown(path, info.st_uid, info.st_gid)
    except OSError:
        pass
    try:
        os.chmod(path, stat.S_IMODE(info.st_mode))
    except OSError:
        pass
    try:
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    except OSError:
        pass
