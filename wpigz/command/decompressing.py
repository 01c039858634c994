"""Decompressing and testing a command's inputs (-d, -t, -dc): small files side by side.

pigz decodes one file at a time; on a tree of small .gz files most of each file's time is not
inflate but the file system's (creating the output, its metadata, the rename) and the
program's own per-file work. So the command hands its inputs, in argument order, to up to -p
worker threads, each with its own WebAssembly decoder (a Runtime and a Decoder, made on the
worker's first file and kept for every file after it; calls into wasm and system calls release
the GIL), and finishes them on the main thread in the same order:

* a worker opens the input, creates the temporary output beside its final name, decodes into
  it and gives it the input's mode, owner and times (``AtomicOutput.finish``); with -c it
  holds the output instead (at most ``HELD_BYTES`` of it), with -t it keeps nothing;
* the main thread then, file by file in argument order: says the skip notes before it, its
  output on stdout (-c), its warnings or its error; renames the temporary file into place
  (``AtomicOutput.place``); says -v's line; and only then removes the input. So messages, the
  exit status, and what is on disk after an error or an interruption are what one file at a
  time gives: a write error (a full disk) ends the run with no file after it placed, and on
  SIGINT, SIGTERM or SIGHUP the workers stop at their next piece, are joined, and every
  temporary file not yet placed is removed.

A file goes alone, decoded on the main thread in its turn exactly as before this module
existed, when it cannot go side by side: standard input, anything but a regular file, a
compressed file over ``SIDE_BY_SIDE_BYTES`` (its own decoding may be parallel: indexed members,
chunks), an output that exists (the question or the warning comes in its turn, then the file),
more -c output than a worker may hold, -N (the output's name is known only once decoded), or a
command with one input. There are at most ``MAX_WORKERS`` workers and ``FLIGHT_PER_THREAD``
x workers files in flight; a file that reads or writes a name that a file in flight writes or
reads waits until the files before it are finished. Corrupt data fails only its own file (the
next file starts the decoder afresh); a decoder whose instance trapped is replaced by a new
Runtime before the worker's next file.
"""

from __future__ import annotations

import os
import queue
import stat
import sys
import threading
from collections import deque
TYPE_CHECKING = False                         # typing itself costs start-up time
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Callable

from . import progress
from .files import (STDOUT_LABEL, AtomicOutput, CreateError, HeldSignals, Input, Output, OutputError, Reporter,
                    decompressed_name, may_overwrite, say_notes)
from .options import HEAD_NAME, HEAD_TIME, Settings
from .._record import cast
from ..decode.entry import decompress
from ..decode.sequential import Decoded
from ..decode.stream import CorruptInput, Unrecognized
from ..sandbox.wasm_host import DECODER_ENGINE, Decoder, EngineError, Runtime

# A compressed file up to this size is decoded by a worker; a larger one alone, on the main
# thread, with the whole -p for itself (the chunked decoder splits only streams of 1 MiB and more).
SIDE_BY_SIDE_BYTES = 1 << 20
# Files in flight per worker: enough queued that a worker rarely waits for the main thread,
# which renames, reports and removes inputs one at a time between other work.
FLIGHT_PER_THREAD = 8
# At most this many workers, whatever -p says: each holds a Runtime and a Decoder (2.3 MiB
# measured), and all of them share one GIL, so many more threads than cores add memory more
# than speed (-p 64 on the bench's tree: 142 MB of RSS, against 41 MB at -p 2).
MAX_WORKERS = 16
# -c: the output a worker holds for one file; a file with more is decoded again, alone.
HELD_BYTES = 1 << 20
# Tests: the argument number (1-based) of the input at which a worker's wasm instance traps.
TRAP_ENV = "WPIGZ_TEST_TRAP_DECODE"


class _Stopped(Exception):
    """The command is ending (an interruption, a write error): a worker leaves its file."""


class _TooMuch(Exception):
    """-c: more output than a worker may hold for one file."""


class _Job:
    """One input, from its hand-over to a worker until the main thread has finished it. The
    worker fills in what happened; ``done`` is set once it has (whatever happened)."""

    def __init__(self, item: Input, index: int, final: str | None, overwrite: bool = False) -> None:
        self.item = item
        self.index = index
        self.final = final                      # the output's name; None: stdout, or -t
        self.overwrite = overwrite              # the user said yes: an existing output goes
        self.output: AtomicOutput | None = None  # finished, under its temporary name
        self.held: list[bytes] | None = None    # -c: the output, for the main thread to write
        self.decoded: Decoded | None = None
        self.problem: str | None = None         # an error message (the input is kept)
        self.fatal: BaseException | None = None  # a write error, a bug: the main thread raises it
        self.exists = False                     # its output exists: asked or warned about in turn
        self.alone = False                      # to be decoded alone by the main thread
        self.engine_failed = False              # the decoder raised EngineError (a trap)
        self.opened = False
        self.on_worker = False                  # decoded by a worker (else by the main thread)
        self.read = 0
        self.written = 0
        self.done = threading.Event()


def _blamed(error: BaseException, item: Input) -> str:
    """The file an error is about: the output when it could not be created, else the input."""
    return str(error.filename) if isinstance(error, CreateError) else item.label


def _restored_path(item: Input, stored: bytes | None, default: str) -> str:
    """-N: the stored name's last component, in the input's directory (the default when the
    stored name is missing or unusable)."""
    base = os.fsdecode(stored).rsplit("/", 1)[-1] if stored else ""
    if base in ("", ".", ".."):
        return default
    return os.path.join(os.path.dirname(item.path or ""), base)


class _ReadCounter:
    """The input, counting the bytes read from it: the decompressing bar's progress."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw: Any = raw          # a file with readinto (BinaryIO does not declare it)
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.count += len(data)
        return data

    def readinto(self, view) -> int:
        n = self.raw.readinto(view) or 0
        self.count += n
        return n

    def fileno(self) -> int:
        return self.raw.fileno()

    def take(self) -> int:
        """Bytes read since the last call."""
        n, self.count = self.count, 0
        return n


class Decompressing:
    """The decompress (or test) loop of a command: workers for small files, the main thread for
    the rest and for everything that must happen in argument order (see the module's docstring).
    ``run`` does every input; the main thread's Runtime is ``runtime``."""

    def __init__(self, settings: Settings, runtime: Runtime, reporter: Reporter, inputs: list[Input],
                 meter: progress.Progress | None) -> None:
        self.settings = settings
        self.runtime = runtime
        self.reporter = reporter
        self.inputs = inputs
        self.meter = meter
        self.testing = settings.mode == "test"
        self.restore_name = bool(settings.head & HEAD_NAME)
        self.restore_time = bool(settings.head & HEAD_TIME)
        self.passthrough = settings.force and settings.mode == "decompress"
        self.flight: deque[_Job] = deque()
        self.queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.stopping = False           # set by the main thread: workers leave their files
        self.workers: list[threading.Thread] = []
        if len(inputs) > 1 and not self.restore_name:
            count = min(settings.threads, len(inputs), MAX_WORKERS)
            self.workers = [threading.Thread(target=self._work, name=f"wpigz-decode-{i}") for i in range(count)]
        self.cap = FLIGHT_PER_THREAD * len(self.workers)
        self.trap_at = int(os.environ.get(TRAP_ENV, "0") or 0)

    def run(self, trailing: tuple[tuple[str, str], ...] = ()) -> None:
        """Every input, then the skip messages after the last one (``trailing``)."""
        flight = self.flight
        try:
            for thread in self.workers:
                thread.start()
            for index, item in enumerate(self.inputs, 1):
                job = _Job(item, index, self._final(item))
                if not self.workers or item.path is None:
                    self._finish_all()
                    self._finish(job, alone=True)
                    continue
                names = {item.path, job.final} - {None}
                if any(names & {other.item.path, other.final} for other in flight):
                    self._finish_all()      # it reads or writes what a file in flight writes or reads
                while len(flight) >= self.cap:
                    # one wake-up for half the flight, not one per file: every hand-over of the
                    # GIL between threads is a futex call and, on a busy machine, a wait for a core
                    flight[self.cap // 2].done.wait()
                    self._finish_oldest()
                    while flight and flight[0].done.is_set():
                        self._finish_oldest()
                flight.append(job)
                self.queue.put(job)
                while flight and flight[0].done.is_set():
                    self._finish_oldest()
            self._finish_all()
            say_notes(self.reporter, trailing)
        finally:
            self.stopping = True
            for _ in self.workers:
                self.queue.put(None)
            for thread in self.workers:
                if thread.ident is not None:
                    thread.join()
            while flight:                   # all done or left now: their temporary files go
                job = flight.popleft()
                if job.output is not None:
                    job.output.discard()

    def _final(self, item: Input) -> str | None:
        """The output's name: None for -t and for stdout."""
        if self.testing or item.path is None or self.settings.stdout:
            return None
        final = decompressed_name(item.path, self.settings.suffix)
        assert final is not None, "select_inputs passes only names with a compressed suffix"
        return final

    def _finish_oldest(self) -> None:
        job = self.flight[0]
        job.done.wait()
        self._finish(job)
        self.flight.popleft()

    def _finish_all(self) -> None:
        while self.flight:
            self._finish_oldest()

    # -- the workers' side --

    def _work(self) -> None:
        """A worker thread: jobs from the queue until its sentinel (None), with one decoder."""
        runtime: Runtime | None = None
        decoder: Decoder | None = None
        try:
            while (job := self.queue.get()) is not None:
                try:
                    if self.stopping:
                        continue
                    if decoder is None:
                        try:
                            runtime = Runtime(engine=DECODER_ENGINE)
                            decoder = Decoder(runtime)
                        except EngineError as error:       # reported as one file alone reports it
                            job.problem = f"{job.item.label}: {error}"
                            _close(runtime, None)
                            runtime = None
                            continue
                    self._decode(job, cast("Runtime", runtime), decoder, worker=True)
                    if job.engine_failed:       # a trap: its instance may be in any state
                        _close(runtime, decoder, trapped=True)
                        runtime = decoder = None
                except _Stopped:
                    pass
                except BaseException as error:      # the main thread raises it in its turn
                    job.fatal = error
                finally:
                    job.done.set()
        finally:
            _close(runtime, decoder)

    def _decode(self, job: _Job, runtime: Runtime, decoder: Decoder | None, *, worker: bool) -> None:
        """Open job's input and decode it into its output (a temporary file left finished for
        the main thread to place, stdout, held pieces with -c on a worker, or nothing with -t).
        Problems with this input are recorded in job; a write error, an interruption or a
        broken pipe go up. On the main thread (worker False) it streams and updates the bar."""
        settings, item = self.settings, job.item
        if job.final is not None and not (settings.force or job.overwrite or self.restore_name) \
                and os.path.lexists(job.final):
            job.exists = True
            return
        try:
            if worker:
                # a FIFO or a device is not even opened here (a FIFO's open waits for a writer)
                assert item.path is not None, "standard input is decoded alone"
                info = os.stat(item.path)
                if not stat.S_ISREG(info.st_mode) or info.st_size > SIDE_BY_SIDE_BYTES:
                    job.alone = True
                    return
                job.read, job.on_worker = info.st_size, True
            source = sys.stdin.buffer if item.path is None else open(item.path, "rb", buffering=0)
        except OSError as error:
            job.problem = f"{item.label}: {error.strerror}"
            return
        meter = None if worker else self.meter
        try:
            job.opened = True
            if meter is not None:
                meter.begin(os.path.basename(item.label), job.index)
            self._decode_into(job, source, runtime, decoder, worker, meter)
        except Unrecognized as problem:
            job.problem = f"skipping: {item.label} {problem}"
        except CorruptInput as problem:
            job.problem = f"skipping: {item.label}: {problem}"
        except _TooMuch:
            job.alone, job.held = True, None
        except (OSError, EngineError) as error:
            if isinstance(error, BrokenPipeError):
                raise
            job.problem = f"{_blamed(error, item)}: {getattr(error, 'strerror', None) or error}"
            job.engine_failed = isinstance(error, EngineError)
        finally:
            if item.path is not None:
                source.close()
            if job.output is not None and (job.problem is not None or job.decoded is None):
                job.output.discard()        # failed, or left by an exception going up
                job.output = None

    def _decode_into(self, job: _Job, source: BinaryIO, runtime: Runtime, decoder: Decoder | None,
                     worker: bool, meter: progress.Progress | None) -> None:
        settings = self.settings
        sink: Callable[[memoryview], object]
        if job.final is not None:
            if worker:      # signals reach only the main thread, whose cleanup joins this one first
                job.output = AtomicOutput(job.final, synchronous=settings.synchronous)
            else:
                with HeldSignals():         # the cleanup must know of it as soon as it exists
                    job.output = AtomicOutput(job.final, synchronous=settings.synchronous)
            sink = Output(job.output.file, job.final).write
        elif self.testing:
            sink = _discard
        elif worker:
            job.held = []
            sink = _discard         # _stoppable holds the pieces
        else:
            sink = Output(sys.stdout.buffer, STDOUT_LABEL).write
        counter = None
        if worker:
            sink = self._stoppable(job, sink)
            if self.trap_at == job.index:
                _trap(runtime)
        elif meter is not None:
            counter = _ReadCounter(source)
            sink = _metered(sink, meter, counter)
        decoded = decompress(cast("BinaryIO", counter) if counter else source, sink, runtime,
                             passthrough=self.passthrough and job.final is None and not self.testing,
                             threads=1 if worker else settings.threads, decoder=decoder)
        if meter is not None and counter is not None:
            meter.update(counter.take(), 0)
        if job.output is not None:
            try:
                job.output.finish(os.fstat(source.fileno()),
                                  mtime=decoded.mtime if self.restore_time else None)
            except OSError as error:
                raise OutputError(job.output.final, error) from error
        job.decoded = decoded

    def _stoppable(self, job: _Job, sink: Callable[[memoryview], object]) -> Callable[[memoryview], None]:
        """A worker's sink: counts the output, holds a copy with -c (up to HELD_BYTES), and
        leaves the file when the command is ending."""
        held = job.held

        def write(piece: memoryview) -> None:
            if self.stopping:
                raise _Stopped
            job.written += len(piece)
            if held is not None:
                if job.written > HELD_BYTES:
                    raise _TooMuch
                held.append(bytes(piece))
            else:
                sink(piece)
        return write

    # -- the main thread's side, in argument order --

    def _finish(self, job: _Job, alone: bool = False) -> None:
        """Everything about job that must come in its turn: its notes, its output on stdout,
        its messages, the rename, -v's line, the input's removal (alone: decode it here first)."""
        say_notes(self.reporter, job.item.notes)
        if alone:
            self._decode(job, self.runtime, None, worker=False)
        try:
            self._conclude(job)
        finally:
            if job.output is not None:      # not placed: an error, or an exception going up
                job.output.discard()
                job.output = None

    def _conclude(self, job: _Job) -> None:
        settings, reporter, item = self.settings, self.reporter, job.item
        if job.fatal is not None:
            raise job.fatal
        if job.exists:
            assert job.final is not None
            if not may_overwrite(job.final, force=settings.force, reporter=reporter):
                return
            job = _Job(item, job.index, job.final, overwrite=True)
            self._finish_alone(job)
            return
        if job.alone:
            job = _Job(item, job.index, job.final)
            self._finish_alone(job)
            return
        if job.opened and self.meter is not None:
            if job.on_worker:       # the bar learns of a worker's file at once, in its turn
                self.meter.begin(os.path.basename(item.label), job.index)
                self.meter.update(job.read, job.written)
            self.meter.file_done()
        if job.held:
            out = Output(sys.stdout.buffer, STDOUT_LABEL)
            for piece in job.held:
                out.write(piece)
            job.held = None
        if job.problem is not None:
            reporter.error(job.problem)
            return
        decoded = job.decoded
        assert decoded is not None
        for warning in decoded.warnings:
            reporter.warning(f"{item.label}: {warning}")
        final = job.final
        if job.output is not None:
            if self.restore_name:
                final = job.output.final = _restored_path(item, decoded.name, job.output.final)
                if not may_overwrite(final, force=settings.force, reporter=reporter):
                    return
            try:
                job.output.place()
            except OSError as error:
                raise OutputError(job.output.final, error) from error
            job.output = None
        if reporter.verbosity >= 2 and not self.testing:
            reporter.line(f"{item.label} to {final or STDOUT_LABEL} ")   # pigz ends it with a space
        if final is not None and item.path is not None and not settings.keep and not decoded.later_entries:
            try:
                os.unlink(item.path)
            except OSError as error:
                reporter.error(f"{item.path}: {error.strerror}")

    def _finish_alone(self, job: _Job) -> None:
        """Decode job here, now (its notes were said), and conclude it."""
        try:
            self._decode(job, self.runtime, None, worker=False)
            self._conclude(job)
        finally:
            if job.output is not None:
                job.output.discard()
                job.output = None


def _metered(sink: Callable[[memoryview], object], meter: progress.Progress,
             counter: _ReadCounter) -> Callable[[memoryview], None]:
    def write(piece: memoryview) -> None:
        sink(piece)
        meter.update(counter.take(), len(piece))
    return write


def _discard(data: memoryview) -> None:
    pass


def _trap(runtime: Runtime) -> None:
    """Make runtime's instance trap (tests, through TRAP_ENV): a decoder step on an address far
    outside its memory is an out-of-bounds access, which wasm turns into a trap."""
    runtime.call("wpigz_inflater_step", 0x7FFF0000, 0)


def _close(runtime: Runtime | None, decoder: Decoder | None, trapped: bool = False) -> None:
    """A worker's decoder and Runtime, at its end or after a trap (then nothing more is asked
    of the instance: it may be in any state)."""
    if decoder is not None and not trapped:
        try:
            decoder.close()
        except EngineError:
            pass
    if runtime is not None:
        runtime.close()
