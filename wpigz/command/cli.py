"""The wpigz command: options in, one gzip, zlib or zip stream per input out.

This stage ties the others together. It parses the options (``GZIP``, then ``PIGZ``, then the
command line), lets the file-handling stage pick the inputs, and for each one builds the
container's header from the options and the input's name and time, has the pipeline write the
deflate body, adds the trailer, and shows progress. Compressing, the command's inputs share one
ring of workers (``Batch``): small files are compressed side by side, each finished in order. Problems are reported as pigz and gzip do:
``wpigz: <file>: <reason>`` or ``wpigz: skipping: ...`` on stderr, then the next input; the exit
status is 0 (success), 1 (an error) or 2 (only warnings). Success is silent. A traceback is
shown only with -vv.

Standard input that is not a regular file gets MTIME 0 (as GNU gzip and pigz 2.8 do, unlike
pigz 2.6), so ``cmd | wpigz`` is reproducible. A broken pipe on stdout ends the program
quietly, as it ends cat.
"""

from __future__ import annotations

import os
import stat
import sys
from collections import deque

from .. import __version__
from ..encode import framing
from . import progress
from .files import signal                     # signal's C module (files.py says why)
from .files import (STDOUT_LABEL, Abort, AtomicOutput, CreateError, HeldSignals, Input, Interrupted, Output,
                    OutputError, Reporter, install_signal_handlers, may_overwrite, say_notes,
                    select_inputs)
from .options import HEAD_NAME, HEAD_TIME, Settings, Unsupported, UsageError, help_text, parse
from .._record import cast, dataclass
from ..encode.pipeline import BodySummary, DeflateStream, JobFailed, Ring, compress_body
from ..sandbox.engines import compressor_for
from ..sandbox.wasm_host import EngineError, Runtime

TYPE_CHECKING = False                         # typing itself costs start-up time
if TYPE_CHECKING:       # decoding and listing are imported only by the modes that use them
    from typing import Any, BinaryIO, Callable
    from . import listing
    from ..encode.framing import JobFramer

PROG = "wpigz"


def _blamed(error: BaseException, item: Input) -> str:
    """The file an error is about: the output when it could not be created, else the input."""
    return str(error.filename) if isinstance(error, CreateError) else item.label


def header_fields(settings: Settings, path: str | None, source: BinaryIO,
                  reporter: Reporter | None = None) -> tuple[bytes | None, int]:
    """(name, mtime) for the header: a named file's last path component and lstat time; for
    standard input never a name, and its time only when it is a regular file. A time that the
    field cannot hold -- 0 (it means "no time"), before 1970 even by a fraction of a second,
    or past 2106 -- is stored as 0, with gzip's warning."""
    mtime: int | None = None            # whole seconds, rounded down, when there is a time to store
    if path is None:
        name = None
        if settings.head & HEAD_TIME:
            info = os.fstat(source.fileno())
            mtime = info.st_mtime_ns // 10**9 if stat.S_ISREG(info.st_mode) else None
    else:
        name = os.fsencode(os.path.basename(path)) if settings.head & HEAD_NAME else None
        mtime = os.lstat(path).st_mtime_ns // 10**9 if settings.head & HEAD_TIME else None
    if mtime is None:
        return name, 0
    if not 0 < mtime < 1 << 32:
        if reporter is not None:
            reporter.warning(f"{path or '<stdin>'}: warning: file timestamp out of range for gzip format")
        mtime = 0
    return name, mtime


@dataclass(frozen=True)
class Container:
    """What goes around one input's deflate body: the header (written before the first
    block), the framer of each job (layout "members"), and the trailer from the body's summary."""

    header: bytes
    trailer: Callable[[BodySummary], bytes]
    framer: JobFramer | None = None


def container(settings: Settings, runtime: Runtime, source: BinaryIO, path: str | None,
              reporter: Reporter | None = None) -> Container:
    """The gzip, zlib or zip framing of one input (its name and time come from path or source)."""
    if settings.form == "zlib":
        if settings.comment is not None and reporter is not None:
            reporter.warning("can't store comment in zlib format -- ignoring")
        return Container(framing.zlib_header(settings.level), lambda body: framing.zlib_trailer(body.check))
    name, mtime = header_fields(settings, path, source, reporter)
    if settings.form == "zip":
        entry = name if name is not None else os.fsencode(settings.alias)
        header = framing.zip_local_header(name=entry, mtime=mtime)
        return Container(header, lambda body: framing.zip_trailer(
            name=entry, mtime=mtime, crc=body.check, length=body.length, compressed=body.compressed,
            header_length=len(header), comment=settings.comment))
    frame = framing.gzip_framing(settings.layout, level=settings.level,
                                 mtime=mtime, name=name, comment=settings.comment)
    return Container(frame.header, lambda body: frame.trailer(body.check, body.length), frame.job)


def compress_stream(settings: Settings, runtime: Runtime, source: BinaryIO, sink: BinaryIO,
                    path: str | None, *, reporter: Reporter | None = None,
                    meter: progress.Progress | None = None) -> None:
    """Write one complete gzip, zlib or zip stream of source to sink (on a ring of its own)."""
    on_block = meter.update if meter is not None else None
    if settings.form == "zstd":
        _zstd_stream(settings, source, sink, on_block)
        return
    options = settings.deflate_options()
    if reporter is not None and reporter.verbosity >= 2:
        _note_smaller_ring(runtime, options.threads, options.blocksize)
    frame = container(settings, runtime, source, path, reporter)
    sink.write(frame.header)
    body = compress_body(source, sink, options, runtime=runtime, on_block=on_block, framer=frame.framer)
    sink.write(frame.trailer(body))


def _note_smaller_ring(runtime: Runtime, threads: int, blocksize: int) -> None:
    """-v: say when blocks this large leave room for fewer slots (and threads) than usual."""
    workers, slots = runtime.ring_for(threads, blocksize)
    if slots < 2 * threads + 2:
        sys.stderr.write(f"{PROG}: {blocksize >> 10} KiB blocks: {slots} in flight and {workers} "
                         f"thread{'s' if workers > 1 else ''} (not {2 * threads + 2} and {threads}): "
                         f"the WebAssembly memory holds 4 GiB\n")


# wpigz level (0-9) -> zstd level: the default 6 gives zstd's default 3, 9 its strongest common level
ZSTD_LEVELS = (1, 1, 1, 2, 2, 3, 3, 6, 12, 19)


def _zstd_stream(settings: Settings, source: BinaryIO, sink: BinaryIO, on_block) -> None:
    """--zstd: one zstd frame (with a checksum) from zstandard's multithreaded compressor."""
    import zstandard
    try:
        info = os.fstat(source.fileno())
        size = info.st_size if stat.S_ISREG(info.st_mode) else -1
    except (AttributeError, OSError, ValueError):
        size = -1
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVELS[min(settings.level, 9)], write_checksum=True,
                                          threads=settings.threads if settings.threads > 1 else 0)
    counted = _Counting(sink)
    with compressor.stream_writer(cast("BinaryIO", counted), size=size, closefd=False) as writer:
        while chunk := source.read(1 << 20):
            before = counted.written
            writer.write(chunk)
            if on_block is not None:
                on_block(len(chunk), counted.written - before)


class _Counting:
    """A sink that counts what passes through it (for the progress ratio)."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.written = 0

    def write(self, data) -> int:
        self.sink.write(data)
        self.written += len(data)
        return len(data)


def _command_meter(settings: Settings, inputs: list[Input]) -> progress.Progress | None:
    """The command's progress bar (see progress.py), when it is wanted."""
    to_stdout = settings.stdout or any(item.path is None for item in inputs)
    output_on_terminal = to_stdout and settings.mode in ("compress", "decompress") and sys.stdout.isatty()
    if not progress.wanted(settings.progress, settings.verbosity, output_on_terminal):
        return None
    sizes = [_regular_size(item) for item in inputs]
    return progress.Progress(len(inputs), None if None in sizes else sum(s or 0 for s in sizes),
                             decompressing=settings.mode != "compress")


def _open_input(item: Input, reporter: Reporter) -> BinaryIO | None:
    """The input's stream (unbuffered for files), or None after reporting why it cannot be opened."""
    try:
        return sys.stdin.buffer if item.path is None else open(item.path, "rb", buffering=0)
    except OSError as error:
        reporter.error(f"{item.label}: {error.strerror}")
        return None


def compress_one(settings: Settings, runtime: Runtime, reporter: Reporter, item: Input,
                 index: int, meter: progress.Progress | None) -> None:
    """Compress one input to stdout or to its own file. Input problems are reported here;
    OutputError, BrokenPipeError and interruptions go up to end the run."""
    final = None if item.path is None or settings.stdout else item.path + settings.output_suffix
    to_stdout = final is None
    if final is not None and not may_overwrite(final, force=settings.force, reporter=reporter):
        return
    source = _open_input(item, reporter)
    if source is None:
        return
    output = None
    if meter is not None:
        meter.begin(os.path.basename(item.label), index)
    try:
        if final is None:
            sink = Output(sys.stdout.buffer, STDOUT_LABEL)
        else:
            with HeldSignals():         # the cleanup must know of it as soon as it exists
                output = AtomicOutput(final, synchronous=settings.synchronous)
            sink = Output(output.file, final)
        compress_stream(settings, runtime, source, cast("BinaryIO", sink), item.path, reporter=reporter,
                        meter=meter)
        sink.flush()
        if output is not None:
            try:
                output.commit(os.fstat(source.fileno()))
            except OSError as error:
                raise OutputError(output.final, error) from error
    except (OSError, EngineError) as error:
        if isinstance(error, BrokenPipeError):
            raise
        message = f"{_blamed(error, item)}: {getattr(error, 'strerror', None) or error}"
        if to_stdout:
            # part of this stream may be out already: carrying on would hide a cut-short member
            # in the middle of the output, so stop, as gzip and pigz do (main shows -vv's traceback)
            raise Abort(message) from error
        if reporter.verbosity >= 3:
            import traceback      # only with -vv: it costs start-up time
            traceback.print_exc()
        reporter.error(message)
        return
    finally:
        if meter is not None:
            meter.file_done()
        if output is not None:
            output.discard()
        if item.path is not None:
            source.close()
    if reporter.verbosity >= 2:
        reporter.line(f"{item.label} to {final or STDOUT_LABEL} ")   # pigz ends it with a space
    if final is not None and item.path is not None and not settings.keep:
        try:
            os.unlink(item.path)
        except OSError as error:
            reporter.error(f"{item.path}: {error.strerror}")


# Files in flight at once are bounded by the ring (each holds at least one of its slots) plus
# the one being read; bytes buffered by the ring's slots alone. With several inputs the ring is
# deeper than pigz's 2 x threads + 2 slots -- up to MANY_SLOTS, within MANY_SLOTS_BYTES of
# blocks -- so that the workers still have jobs queued while the main thread opens, finishes and
# renames small files: measured on a Python standard library (2,450 files, --engine zlib-ng,
# -p 2, a loaded 2-core machine) 6 slots took 15.1 s, 32 slots 10.4-12.1 s.
MANY_SLOTS = 32
MANY_SLOTS_BYTES = 32 << 20


class _Task:
    """One input on the command's ring, from its first read until its last job is written out
    (or it is dropped): its source, its output (a temporary file, or stdout) and its stream."""

    def __init__(self, item: Input, index: int, source: BinaryIO, final: str | None) -> None:
        self.item = item
        self.index = index
        self.source = source
        self.final = final
        self.output: AtomicOutput | None = None
        self.sink: Output | None = None
        self.trailer: Callable[[BodySummary], bytes] | None = None
        self.stream: DeflateStream | None = None

    def drop(self) -> None:
        """Remove the temporary output and close the input (the input itself is untouched)."""
        if self.output is not None:
            self.output.discard()
        if self.item.path is not None:
            self.source.close()


class Batch:
    """The compress loop of a command: one ring (workers, instances, slots) for every input.

    Inputs are read in order into the one ring; a small input's single job goes on the ring
    behind the previous input's and the workers compress several files side by side. An input
    is finished -- trailer, commit (rename, metadata), ``-v`` line, input removed -- when its
    last job is written out, which is in input order, so every output is what that file alone
    gives, and messages come in argument order: before a message about the input at hand,
    everything before it is finished first (``Reporter.before_message``). A job that fails
    (a worker trapped) fails its own input; the inputs after it start again on new workers.
    """

    def __init__(self, settings: Settings, runtime: Runtime, reporter: Reporter, inputs: list[Input]) -> None:
        self.settings = settings
        self.runtime = runtime
        self.reporter = reporter
        self.inputs = inputs
        self.options = settings.deflate_options()
        self.flight: deque[_Task] = deque()
        # the paths the inputs in flight read or write, with how many of them do: an input
        # touching one waits until they are finished (see _start)
        self.busy: dict[str, int] = {}
        sizes = [_regular_size(item) for item in inputs]
        # no more workers than all the inputs have blocks (one small file: one worker thread)
        blocks = None if None in sizes else sum(max(1, -(-(s or 0) // self.options.blocksize)) for s in sizes)
        threads = self.options.threads if blocks is None else min(self.options.threads, blocks)
        slots = None
        if len(inputs) > 1:
            slots = max(2 * threads + 2, min(MANY_SLOTS, MANY_SLOTS_BYTES // self.options.blocksize))
        self.ring = Ring(self.options, runtime=runtime, threads=threads, slots=slots)
        self.meter = reporter.bar = _command_meter(settings, inputs)

    def run(self, trailing: tuple[tuple[str, str], ...] = ()) -> None:
        """Every input, then the skip messages after the last one (``trailing``)."""
        queue = deque(enumerate(self.inputs, 1))
        self.reporter.before_message = self.ring.drain
        try:
            while True:
                try:
                    while queue:
                        index, item = queue.popleft()
                        self._start(item, index)
                    say_notes(self.reporter, trailing)     # drains the ring first (before_message)
                    self.ring.drain()
                    return
                except JobFailed as failure:
                    queue.extendleft(reversed(self._recover(failure)))
        finally:
            self.reporter.before_message = None
            while self.flight:
                self._forget(self.flight.popleft()).drop()
            self.ring.close()
            if self.meter is not None:
                self.meter.close()

    def _recover(self, failure: JobFailed) -> list[tuple[int, Input]]:
        """A job of one input failed: that input is reported, the ones after it are dropped
        and queued again, the ring restarted. Returns the inputs to do again, in order."""
        culprit = None
        again: list[tuple[int, Input]] = []
        while self.flight:
            task = self._forget(self.flight.popleft())
            task.drop()
            if culprit is None and task.stream is not None and failure.stream is task.stream:
                culprit = task
            elif culprit is not None:
                again.append((task.index, Input(task.item.path)))     # its notes were said
        self.ring.restart()
        if culprit is None:         # not any input's: the whole run cannot go on
            raise Abort(str(failure)) from failure
        message = f"{culprit.item.label}: {failure}"
        if culprit.final is None:
            raise Abort(message) from failure
        if self.reporter.verbosity >= 3:
            import traceback      # only with -vv: it costs start-up time
            traceback.print_exception(failure)
        self.reporter.error(message)
        return again

    def _start(self, item: Input, index: int) -> None:
        """Read item into the ring and publish its last job; it is finished later, in order."""
        settings, reporter = self.settings, self.reporter
        say_notes(reporter, item.notes)     # the skips before it, after the inputs before them
        final = None if item.path is None or settings.stdout else item.path + settings.output_suffix
        if item.path in self.busy or final in self.busy:
            self.ring.drain()       # it reads or writes what an earlier input writes or reads
        if final is not None and os.path.lexists(final):
            self.ring.drain()       # a question at the terminal, or a warning, comes after the earlier files
            if not may_overwrite(final, force=settings.force, reporter=reporter):
                return
        source = _open_input(item, reporter)
        if source is None:
            return
        task = _Task(item, index, source, final)
        self.flight.append(task)
        for name in (item.path, final):
            if name is not None:
                self.busy[name] = self.busy.get(name, 0) + 1
        if self.meter is not None:
            self.meter.begin(os.path.basename(item.label), index)
        try:
            if final is None:
                task.sink = Output(sys.stdout.buffer, STDOUT_LABEL)
            else:
                with HeldSignals():         # the cleanup must know of it as soon as it exists
                    task.output = AtomicOutput(final, synchronous=settings.synchronous)
                task.sink = Output(task.output.file, final)
            if reporter.verbosity >= 2:
                self.ring.drain()
                _note_smaller_ring(self.runtime, self.options.threads, self.options.blocksize)
            frame = container(settings, self.runtime, source, item.path, reporter)
            task.trailer = frame.trailer
            stream = task.stream = DeflateStream(
                cast("BinaryIO", task.sink), self.options, ring=self.ring, framer=frame.framer,
                prefix=frame.header, on_end=lambda body: self._finish(task, body),
                on_block=self.meter.update if self.meter is not None else None)
            readinto = cast("Any", source).readinto
            while True:
                room = stream.buffer()
                n = readinto(room) or 0
                if not n:
                    break
                stream.commit(n)
            stream.end()
        except JobFailed:
            raise
        except (OSError, EngineError) as error:
            if isinstance(error, BrokenPipeError):
                raise
            message = f"{_blamed(error, item)}: {getattr(error, 'strerror', None) or error}"
            if final is None:
                # part of this stream may be out already: carrying on would hide a cut-short member
                # in the middle of the output, so stop, as gzip and pigz do (main shows -vv's traceback)
                raise Abort(message) from error
            self.ring.drain()       # what came before is finished first; this input's jobs are dropped
            self.flight.remove(task)
            self._forget(task)
            task.drop()
            if reporter.verbosity >= 3:
                import traceback      # only with -vv: it costs start-up time
                traceback.print_exception(error)
            reporter.error(message)

    def _forget(self, task: _Task) -> _Task:
        """task has left the flight: its paths are free again."""
        for name in (task.item.path, task.final):
            if name is not None:
                left = self.busy.pop(name) - 1
                if left:
                    self.busy[name] = left
        return task

    def _finish(self, task: _Task, body: BodySummary) -> None:
        """task's last job is written out: its trailer, then commit, then the input goes."""
        assert self.flight and self.flight[0] is task, "inputs finish in order"
        assert task.sink is not None and task.trailer is not None
        task.sink.write(task.trailer(body))
        task.sink.flush()
        if task.output is not None:
            try:
                task.output.commit(os.fstat(task.source.fileno()))
            except OSError as error:
                raise OutputError(task.output.final, error) from error
        self._forget(self.flight.popleft())
        task.output = None
        task.drop()
        if self.meter is not None:
            self.meter.file_done()
        if self.reporter.verbosity >= 2:
            self.reporter.line(f"{task.item.label} to {task.final or STDOUT_LABEL} ")   # pigz ends it with a space
        if task.final is not None and task.item.path is not None and not self.settings.keep:
            try:
                os.unlink(task.item.path)
            except OSError as error:
                self.reporter.error(f"{task.item.path}: {error.strerror}")


def _regular_size(item: Input) -> int | None:
    """The size of a regular input file, None for anything else (or when it cannot be seen)."""
    try:
        info = os.stat(item.path) if item.path is not None else os.fstat(sys.stdin.fileno())
    except (OSError, ValueError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _discard(data: memoryview) -> None:
    pass


def list_one(settings: Settings, runtime: Runtime, reporter: Reporter, item: Input,
             lister: listing.Lister) -> None:
    """One input's rows of -l (or, with -lt, after decoding it)."""
    from . import listing
    from ..decode.stream import CorruptInput, Unrecognized
    from ..decode.entry import decompress
    source = _open_input(item, reporter)
    if source is None:
        return
    try:
        if settings.test_too:
            decoded = decompress(source, _discard, runtime, threads=settings.threads)
            rows = listing.tested_rows(decoded, item.path)
        else:
            rows = listing.quick_rows(source, item.path, runtime)
        lister.show(rows)
    except Unrecognized as problem:
        reporter.error(f"skipping: {item.label} {problem}")
    except CorruptInput as problem:
        reporter.error(f"skipping: {item.label}: {problem}")
    except (OSError, EngineError) as error:
        if isinstance(error, BrokenPipeError):      # our reader went away: main ends quietly
            raise
        reporter.error(f"{item.label}: {getattr(error, 'strerror', None) or error}")
    finally:
        if item.path is not None:
            source.close()


def run(settings: Settings, reporter: Reporter) -> int:
    inputs, trailing = select_inputs(settings.files, suffix=settings.output_suffix, force=settings.force,
                           to_stdout=settings.stdout or settings.mode in ("test", "list"),
                           recursive=settings.recursive, reporter=reporter, mode=settings.mode,
                           decompress_suffix=settings.suffix)
    if settings.mode != "compress":
        from . import listing
        from ..sandbox.wasm_host import DECODER_ENGINE
        runtime = Runtime(engine=DECODER_ENGINE)      # decoding always uses zlib-ng's inflate
        lister = listing.Lister(settings.verbosity)
        meter = reporter.bar = _command_meter(settings, inputs) if settings.mode != "list" else None
        try:
            if settings.mode == "list":
                for item in inputs:
                    say_notes(reporter, item.notes)
                    list_one(settings, runtime, reporter, item, lister)
                say_notes(reporter, trailing)
            else:
                from .decompressing import Decompressing
                Decompressing(settings, runtime, reporter, inputs, meter).run(trailing)
        finally:
            if meter is not None:
                meter.close()
        return reporter.status
    uses_stdout = any(item.path is None or settings.stdout for item in inputs)
    if uses_stdout and sys.stdout.isatty() and not settings.force:
        for item in inputs:
            say_notes(reporter, item.notes)
        say_notes(reporter, trailing)
        reporter.error("trying to write compressed data to a terminal (use -f to force)")
        return 1
    if settings.form == "zip" and settings.stdout and len(inputs) > 1:
        reporter.warning("warning: output will be concatenated zip files")
    if not inputs:
        say_notes(reporter, trailing)
        return reporter.status
    runtime = Runtime(engine=compressor_for(settings.engine, settings.level).name)   # -11: zopfli's
    batch = None
    if settings.form != "zstd":
        try:
            batch = Batch(settings, runtime, reporter, inputs)
        except EngineError:
            pass        # no ring fits (memory, threads): each input reports why, as it comes
    if batch is not None:
        batch.run(trailing)
    else:
        meter = reporter.bar = _command_meter(settings, inputs)
        try:
            for index, item in enumerate(inputs, 1):
                say_notes(reporter, item.notes)
                compress_one(settings, runtime, reporter, item, index, meter)
            say_notes(reporter, trailing)
        finally:
            if meter is not None:
                meter.close()
    return reporter.status


SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "ksh93", "mksh", "busybox", "ash", "yash", "fish"}


def sigpipe_ignored_by_parent(ppid: int | None = None) -> bool:
    """Whether SIGPIPE reached us ignored (``trap '' PIPE`` in the shell), when gzip reports a
    broken pipe as an error instead of dying of the signal.

    CPython sets SIGPIPE to ignored at start-up and keeps no record of what it inherited, so
    this looks at the parent instead, and trusts only a shell: a shell that ignores SIGPIPE
    passes that on to the commands it runs, while Python's subprocess and libuv (Node) reset
    it for their children although they ignore it themselves. Linux only (/proc)."""
    ppid = os.getppid() if ppid is None else ppid
    try:
        with open(f"/proc/{ppid}/comm", encoding="utf-8", errors="replace") as f:
            if f.read().strip() not in SHELLS:
                return False
        with open(f"/proc/{ppid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("SigIgn:"):
                    return bool(int(line.split()[1], 16) >> (signal.SIGPIPE - 1) & 1)
    except (OSError, ValueError):
        pass
    return False


def end_quietly_on_broken_pipe() -> None:
    """The reader of our stdout went away: end the way cat does, killed by SIGPIPE, silently."""
    sys.stderr.flush()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)


def _silence_stdout() -> None:
    """After stdout failed, make the interpreter's final flush of it harmless."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    install_signal_handlers()
    try:
        settings = parse(sys.argv[1:] if argv is None else argv, dict(os.environ))
    except Unsupported as error:
        sys.stderr.write(f"{PROG}: {error}\n")
        return 1
    except UsageError as error:
        sys.stderr.write(f"{PROG}: {error}\n{PROG}: Try '{PROG} --help' for more information.\n")
        return 1
    reporter = Reporter(PROG, settings.verbosity)
    try:
        if settings.help:
            sys.stdout.write(help_text(PROG))
        elif settings.version:
            runtime = Runtime(engine=settings.engine)
            sys.stdout.write(f"{PROG} {__version__}\n{runtime.info.library} {runtime.library_version()} "
                             "(WebAssembly engine)\n")
        elif settings.license:
            runtime = Runtime(engine=settings.engine)
            sys.stdout.write(f"{PROG} {__version__}\n"
                             "Copyright (C) 2026 the wpigz developers\n"
                             "Released under the zlib license; it comes with no warranty.\n"
                             f"Its engine is {runtime.info.library} {runtime.library_version()}, by "
                             f"{runtime.info.credit}.\n")
        else:
            status = run(settings, reporter)
            sys.stdout.flush()
            return status
        sys.stdout.flush()
        return 0
    except BrokenPipeError:
        if sigpipe_ignored_by_parent():         # as gzip: an error, status 1
            reporter.error(f"{STDOUT_LABEL}: Broken pipe")
            _silence_stdout()
            return 1
        end_quietly_on_broken_pipe()
        return 1
    except (OutputError, Abort) as error:
        reporter.error(str(error))
        if settings.verbosity >= 3:         # where it went wrong: the cause's traceback, once
            import traceback      # only with -vv: it costs start-up time
            traceback.print_exception(error.__cause__ or error)
        _silence_stdout()
        return 1
    except OSError as error:        # writing help or version text to stdout
        reporter.error(f"{STDOUT_LABEL}: {error.strerror or error}")
        _silence_stdout()
        return 1
    except KeyboardInterrupt:
        return 130
    except Interrupted as interrupted:
        return 128 + interrupted.signum
    except Exception as error:      # a bug: say so plainly, and show where only with -vv
        reporter.error(f"internal error: {type(error).__name__}: {error}")
        if settings.verbosity >= 3:
            import traceback      # only with -vv: it costs start-up time
            traceback.print_exc()
        return 1
