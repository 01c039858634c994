"""The library: ``wpigz.open``, ``GzipFile``, ``compress`` and ``decompress``, shaped like gzip.

This stage gives Python programs the same surface as the standard library's ``gzip`` module --
same signatures, modes, attributes, exception types -- plus ``threads`` and ``blocksize``.
Writing goes through the parallel engine (``pipeline.DeflateStream``): the bytes are pigz's for
the same level, block size and header fields. Reading goes through the sandboxed decoder
(``entry.decode``), pulled piece by piece, wrapped in ``io.BufferedReader`` for
``peek``/``readline``/``read1``, exactly as gzip wraps its own reader.

Each file object has its own engine ``Runtime``, so file objects may be used from different
threads at once (one thread per object, as with gzip). A writer's errors -- a worker trap, a
full disk -- are raised from the ``write``/``flush``/``close`` call that meets them, and again
from any later call. A writer that the program never closes is finished at interpreter exit
(``atexit``), so its data is complete and its worker threads are joined; those threads are
daemon threads only so that such a forgotten writer cannot block exit before that happens.

Differences from ``gzip`` are listed in docs/library.md: the header's OS byte is 3 (Unix, as
pigz), and ``flush`` writes out every finished block but keeps an unfinished one buffered,
since cutting a block early would change the bytes.
"""

from __future__ import annotations

import atexit
import builtins
import errno
import gzip as _gzip
import io
import os
import struct
import time
import weakref
import zlib
from typing import IO, Any, Generator

from .encode import framing
from .decode.stream import CorruptInput, Unrecognized
from .decode.sequential import Decoded
from .decode.entry import decode
from .sandbox.engines import DEFAULT_ENGINE, compressor_for, engine_info, engines_for, layout_of
from .encode.pipeline import DeflateOptions, DeflateStream, ZopfliTuning, default_threads
from .sandbox.wasm_host import DECODER_ENGINE, Runtime

READ = _gzip.READ
WRITE = _gzip.WRITE

# truncation, in pigz's words; the gzip module raises EOFError for these
_TRUNCATED = ("incomplete deflate data", "unexpected end of file", "missing trailer")


class BadGzipFile(_gzip.BadGzipFile):
    """Raised for an invalid gzip file: a ``gzip.BadGzipFile`` (so an OSError), so that code
    written for the gzip module catches it unchanged."""


def _reader_error(problem: Exception) -> Exception:
    text = str(problem)
    if any(word in text for word in _TRUNCATED):
        return EOFError("Compressed file ended before the end-of-stream marker was reached")
    if isinstance(problem, Unrecognized):
        return BadGzipFile(f"Not a gzipped file ({text})")
    return BadGzipFile(text)


class LevelError(zlib.error, ValueError):
    """A compression level outside 0-9 (or -1): gzip.compress raises zlib.error for it and
    GzipFile ValueError, so this is both."""


def _check_integer(value: Any) -> None:
    """gzip's TypeError for an argument that must be an int (or None)."""
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")


def _write_settings(compresslevel: Any, mtime: Any, threads: Any, blocksize: Any,
                    message: str, zopfli: ZopfliTuning | None = None,
                    levels: tuple[int, ...] = (*range(10), 11)) -> tuple[int, DeflateOptions]:
    """Check the writing arguments as gzip does, with its exception types, before any file is
    opened or thread started: (level, engine options). message is the bad level's text."""
    for value in (compresslevel, threads, blocksize):
        _check_integer(value)
    if compresslevel != -1 and compresslevel not in levels:    # the engine's (11: zopfli or libdeflate's 12)
        raise LevelError(message)
    if mtime is not None:
        struct.pack("<L", int(mtime))               # struct.error out of range, as gzip's header
    options = DeflateOptions(level=6 if compresslevel == -1 else compresslevel, blocksize=blocksize,
                             threads=default_threads() if threads is None else threads,
                             zopfli=zopfli or ZopfliTuning())
    return options.level, options


def _bgzf_engine(engine: str, blocksize: int | None) -> str:
    """The engine that writes bgzf=True (the command's --bgzf refuses the same): one that can
    write the bgzf layout (libdeflate, also when engine is left at its default); BGZF's members
    have their own size, so a blocksize makes no sense. ValueError otherwise."""
    if blocksize is not None:
        raise ValueError("bgzf=True writes BGZF's own 64 KiB members: no blocksize")
    able = engines_for("bgzf")
    if engine == DEFAULT_ENGINE and engine not in able:
        engine = able[0]
    if "bgzf" not in engine_info(engine).layouts:      # ValueError for an unknown engine first
        raise ValueError(f"bgzf=True needs engine={' or '.join(map(repr, able))}, not {engine!r}")
    return engine


def _layout(engine: str, members: bool, bgzf: bool) -> str:
    """The layout asked for (engines.layout_of), checked against what engine can write."""
    layout = layout_of(members=bool(members), bgzf=bool(bgzf))
    if layout not in engine_info(engine).layouts:
        raise ValueError(f"engine {engine!r} cannot write the {layout} layout")
    return layout


def open(filename: Any, mode: str = "rb", compresslevel: int = 6, *, threads: int | None = None,
         blocksize: int | None = None, engine: str = "zlib", zopfli: ZopfliTuning | None = None,
         bgzf: bool = False, members: bool = False, encoding: str | None = None, errors: str | None = None,
         newline: str | None = None) -> GzipFile | io.TextIOWrapper:
    """Open a gzip-compressed file in binary or text mode, like ``gzip.open``.

    filename is a path (str, bytes or PathLike) or a file object to read from or write to.
    mode is one of "r", "rb", "a", "ab", "w", "wb", "x", "xb" (binary) or "rt", "at", "wt",
    "xt" (text). threads is the number of compression threads, or when reading of threads
    decoding indexed members (None: the CPU count), and
    blocksize the block size in bytes (pigz's -b, 32 KiB to 512 MiB; None: the engine's default,
    128 KiB for zlib); engine is "zlib" (pigz's exact bytes), "zlib-ng" (faster, slightly
    different bytes) or "libdeflate" (faster and smaller still). Every engine writes pigz's
    layout, one deflate stream, unless members=True: one gzip member per block, each stating
    its size (an IG subfield), for parallel decoding and splitting (``wpigz --members``).
    bgzf=True writes htslib's BGZF, as ``wpigz --bgzf`` (libdeflate's members of at most 64 KiB,
    no name or time stored; not with a blocksize or another engine).
    compresslevel 11 is pigz's -11, zopfli, with zlib and zlib-ng (zopfli=ZopfliTuning(...)
    sets its -I, -J, -F and -O; default: pigz's), and libdeflate's strongest level, 12, with
    libdeflate. In text mode the binary
    file is wrapped in an io.TextIOWrapper with the given encoding, errors and newline.
    """
    if "t" in mode:
        if "b" in mode:
            raise ValueError(f"Invalid mode: {mode!r}")
    else:
        if encoding is not None:
            raise ValueError("Argument 'encoding' not supported in binary mode")
        if errors is not None:
            raise ValueError("Argument 'errors' not supported in binary mode")
        if newline is not None:
            raise ValueError("Argument 'newline' not supported in binary mode")
    gz_mode = mode.replace("t", "")
    if isinstance(filename, (str, bytes, os.PathLike)):
        binary_file = GzipFile(filename, gz_mode, compresslevel, threads=threads, blocksize=blocksize,
                               engine=engine, zopfli=zopfli, bgzf=bgzf, members=members)
    elif hasattr(filename, "read") or hasattr(filename, "write"):
        binary_file = GzipFile(None, gz_mode, compresslevel, filename, threads=threads, blocksize=blocksize,
                               engine=engine, zopfli=zopfli, bgzf=bgzf, members=members)
    else:
        raise TypeError("filename must be a str or bytes object, or a file")
    if "t" in mode:
        # io.text_encoding is new in 3.10; typeshed declares it only from 3.11
        return io.TextIOWrapper(binary_file, io.text_encoding(encoding), errors, newline)  # type: ignore[attr-defined]
    return binary_file


class _GzipReader(io.RawIOBase):
    """Raw reader: pulls decoded pieces from the sandboxed decoder; seeks like gzip's."""

    def __init__(self, fp: IO[bytes], runtime: Runtime, threads: int | None) -> None:
        self._fp = fp
        self._runtime = runtime
        self._threads = threads
        self._pieces: Generator[memoryview, None, None] | None = None
        self._pending = memoryview(b"")
        self._pos = 0
        self._size = -1
        self._decoded = Decoded("gzip")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._fp.seekable()

    @property
    def mtime(self) -> int | None:
        return self._decoded.member_mtime

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        if not view:
            return 0
        while not self._pending:
            if self._pieces is None:
                self._pieces = decode(self._fp, self._runtime, self._decoded, formats=("gzip",), strict=True,
                                      threads=self._threads)
            try:
                self._pending = next(self._pieces)
            except StopIteration:
                self._size = self._pos
                return 0
            except (CorruptInput, Unrecognized) as problem:
                if isinstance(problem, Unrecognized) and str(problem) == "empty":
                    self._size = self._pos
                    return 0            # gzip reads an empty file as empty
                raise _reader_error(problem) from None
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self._pos += n
        return n

    def _rewind(self) -> None:
        if self._pieces is not None:
            self._pieces.close()
        self._fp.seek(0)
        self._pieces = None
        self._pending = memoryview(b"")
        self._pos = 0
        self._decoded = Decoded("gzip")

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pass
        elif whence == io.SEEK_CUR:
            offset = self._pos + offset
        elif whence == io.SEEK_END:
            if self._size < 0:
                while self.read(io.DEFAULT_BUFFER_SIZE):
                    pass
            offset = self._size + offset
        else:
            raise ValueError(f"Invalid value for whence: {whence}")
        if offset < self._pos:
            self._rewind()
        else:
            offset -= self._pos
        while offset > 0:
            data = self.read(min(io.DEFAULT_BUFFER_SIZE, offset))
            if not data:
                break
            offset -= len(data)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if self._pieces is not None:
            self._pieces.close()
            self._pieces = None
        self._pending = memoryview(b"")     # a view holds the wasm memory (Runtime.view)
        super().close()


_open_writers: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _finish_forgotten_writers() -> None:
    for writer in list(_open_writers):
        try:
            writer.close()
        except Exception:
            pass            # at exit there is no caller left to tell


class GzipFile(io.BufferedIOBase):
    """A gzip file object, like ``gzip.GzipFile``: written by the parallel engine (pigz's
    bytes), read by the sandboxed decoder (every member of a multi-member file).

    At most one of filename and fileobj is needed; fileobj, when given, is not closed by
    close(). mode defaults to fileobj's mode, else "rb". compresslevel is 0-9 (-1 means 6) or
    11 (zopfli, tuned by zopfli=ZopfliTuning(...)).
    mtime is stored in the header when writing (None: now; not with bgzf=True); when reading,
    the attribute holds the last member's stored time. threads, blocksize, engine, bgzf and
    members set the engine and the layout (see ``wpigz.open``); reading, threads bounds the workers decoding indexed members.
    """

    myfileobj: IO[bytes] | None = None
    fileobj: IO[bytes] | None

    def __init__(self, filename: Any = None, mode: str | None = None, compresslevel: int = 6,
                 fileobj: IO[bytes] | None = None, mtime: float | None = None, *,
                 threads: int | None = None, blocksize: int | None = None, engine: str = "zlib",
                 zopfli: ZopfliTuning | None = None, bgzf: bool = False, members: bool = False) -> None:
        if mode and ("t" in mode or "U" in mode):
            raise ValueError(f"Invalid mode: {mode!r}")
        if mode and "b" not in mode:
            mode += "b"
        level = 6 if compresslevel == -1 else compresslevel
        self._bgzf = bool(bgzf)
        if self._bgzf:
            engine, blocksize = _bgzf_engine(engine, blocksize), framing.BGZF_BLOCK
        compressor = compressor_for(engine, level)     # ValueError for an unknown engine
        self._layout = _layout(engine, members, bgzf)
        if blocksize is None:
            blocksize = compressor.blocksize
        _check_integer(threads)         # reading uses it too; writing checks it again (_write_settings)
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        if mode and mode.startswith(("w", "a", "x")):
            # check everything before a file is created or a thread started
            level, self._options = _write_settings(compresslevel, mtime, threads, blocksize,
                                                   "Invalid initialization option", zopfli,
                                                   engine_info(engine).levels)
        if fileobj is None:
            fileobj = self.myfileobj = builtins.open(filename, mode or "rb")
        if filename is None:
            filename = getattr(fileobj, "name", "")
            if not isinstance(filename, (str, bytes)):
                filename = ""
        else:
            filename = os.fspath(filename)
        origmode = mode
        if mode is None:
            mode = getattr(fileobj, "mode", "rb")
        # writing: the engine's module, or the one it hands this level to (11: zopfli);
        # reading: whatever wrote it, the fastest inflater decodes it
        self._runtime = Runtime(engine=DECODER_ENGINE if mode.startswith("r") else compressor.name)
        self._error: BaseException | None = None
        if mode.startswith("r"):
            self.mode = READ
            self._buffer = io.BufferedReader(_GzipReader(fileobj, self._runtime, threads))
            self.name = filename
        elif mode.startswith(("w", "a", "x")):
            if origmode is None:
                import warnings
                warnings.warn("GzipFile was opened for writing, but this will change in future Python "
                              "releases.  Specify the mode argument for opening it for writing.",
                              FutureWarning, 2)
                level, self._options = _write_settings(compresslevel, mtime, threads, blocksize,
                                                       "Invalid initialization option", zopfli,
                                                       engine_info(engine).levels)
            self.mode = WRITE
            self.name = filename
            self._level = level
            self._write_mtime = mtime
            self.offset = 0
        else:
            if self.myfileobj is not None:
                self.myfileobj.close()
                self.myfileobj = None
            raise ValueError(f"Invalid mode: {mode!r}")
        self.fileobj = fileobj
        if self.mode == WRITE:
            self._options = DeflateOptions(**{**vars(self._options), "layout": self._layout})
            self._write_header()
            self._stream = DeflateStream(fileobj, self._options, runtime=self._runtime,
                                         framer=self._framing.job)
            _open_writers.add(self)

    def _file(self) -> IO[bytes]:
        if self.fileobj is None:
            raise ValueError("I/O operation on closed file")
        return self.fileobj

    def _check_not_closed(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    # -- attributes

    @property
    def mtime(self) -> float | None:
        if self.mode == READ:
            return self._buffer.raw.mtime
        return self._write_mtime

    @property
    def filename(self) -> str | bytes:
        import warnings
        warnings.warn("use the name attribute", DeprecationWarning, 2)
        return self.name

    def __repr__(self) -> str:
        return f"<wpigz {self.fileobj!r} {id(self):#x}>"

    # -- writing

    def _write_header(self) -> None:
        base = os.path.basename(self.name)
        if isinstance(base, bytes):
            base = base.decode("latin-1", "replace")
        if base.endswith(".gz"):
            base = base[:-3]
        try:
            stored = base.encode("latin-1") or None
        except UnicodeEncodeError:
            stored = None
        mtime = self._write_mtime
        if mtime is None:
            mtime = time.time()
        # BGZF stores neither name nor time (bgzip's header; gzip_framing leaves them out)
        self._framing = framing.gzip_framing(self._layout,
                                             level=self._level, mtime=int(mtime), name=stored)
        self._file().write(self._framing.header)

    def _check_writer(self, what: str) -> None:
        self._check_not_closed()
        if self.mode != WRITE:
            raise OSError(errno.EBADF, f"{what}() on read-only GzipFile object")
        if self._error is not None:
            raise self._error

    def write(self, data: Any) -> int:
        """Compress the bytes-like data; returns its length in bytes."""
        self._check_writer("write")
        if isinstance(data, (bytes, bytearray)):
            length = len(data)
        else:
            data = memoryview(data)
            length = data.nbytes
        if length:
            try:
                self._stream.write(data)
            except BaseException as error:
                self._error = error
                raise
            self.offset += length
        return length

    def flush(self, zlib_mode: int = 2) -> None:
        """Write out what the engine has finished and flush the underlying file. An
        unfinished block stays buffered (cutting it early would change pigz's bytes)."""
        self._check_not_closed()
        if self.mode == WRITE:
            if self._error is not None:
                raise self._error
            self._file().flush()

    # -- reading

    def _check_reader(self, what: str) -> None:
        self._check_not_closed()
        if self.mode != READ:
            raise OSError(errno.EBADF, f"{what}() on write-only GzipFile object")

    def read(self, size: int | None = -1) -> bytes:
        self._check_reader("read")
        return self._buffer.read(size)

    def read1(self, size: int = -1) -> bytes:
        self._check_reader("read1")
        if size < 0:
            size = io.DEFAULT_BUFFER_SIZE
        return self._buffer.read1(size)

    def readinto(self, b: Any) -> int:
        self._check_reader("readinto")
        return self._buffer.readinto(b)

    def readinto1(self, b: Any) -> int:
        self._check_reader("readinto1")
        return self._buffer.readinto1(b)

    def peek(self, n: int) -> bytes:
        self._check_reader("peek")
        return self._buffer.peek(n)

    def readline(self, size: int | None = -1) -> bytes:
        self._check_not_closed()
        return self._buffer.readline(size)

    # -- both

    @property
    def closed(self) -> bool:
        return self.fileobj is None

    def close(self) -> None:
        """Finish the stream (when writing) and close; closing again does nothing. A file
        object passed in as fileobj is left open."""
        fileobj = self.fileobj
        if fileobj is None:
            return
        try:
            if self.mode == WRITE:
                _open_writers.discard(self)
                if self._error is None:
                    body = self._stream.finish()
                    fileobj.write(self._framing.trailer(body.check, body.length))
            elif self.mode == READ:
                self._buffer.close()
        finally:
            self.fileobj = None
            try:
                if self.mode == WRITE:
                    self._stream.close()
            finally:
                # the engine's memory goes now, not when this object does (it may be kept)
                self._runtime.close()
            myfileobj = self.myfileobj
            if myfileobj is not None:
                self.myfileobj = None
                myfileobj.close()

    def fileno(self) -> int:
        return self._file().fileno()

    def rewind(self) -> None:
        """Return to the start of the file (reading only)."""
        if self.mode != READ:
            raise OSError("Can't rewind in write mode")
        self._buffer.seek(0)

    def readable(self) -> bool:
        return self.mode == READ

    def writable(self) -> bool:
        return self.mode == WRITE

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Reading: any position (backwards re-reads from the start). Writing: forward only,
        filling with zeros."""
        if self.mode == WRITE:
            self._check_writer("seek")
            if whence != io.SEEK_SET:
                if whence == io.SEEK_CUR:
                    offset = self.offset + offset
                else:
                    raise ValueError("Seek from end not supported")
            if offset < self.offset:
                raise OSError("Negative seek in write mode")
            count = offset - self.offset
            chunk = b"\0" * 1024
            for _ in range(count // 1024):
                self.write(chunk)
            self.write(b"\0" * (count % 1024))
            return self.offset
        self._check_not_closed()
        return self._buffer.seek(offset, whence)

    def tell(self) -> int:
        self._check_not_closed()
        return self.offset if self.mode == WRITE else self._buffer.tell()


def compress(data: Any, compresslevel: int = 6, *, mtime: float | None = None,
             threads: int | None = None, engine: str = "zlib", zopfli: ZopfliTuning | None = None,
             bgzf: bool = False, members: bool = False) -> bytes:
    """Compress data into one gzip member, like ``gzip.compress`` (mtime None: now), or with
    members=True into one indexed member per block (as ``wpigz --members``), or with bgzf=True
    into BGZF (as ``wpigz --bgzf``). A bad level raises zlib.error (LevelError), as
    gzip.compress does."""
    if bgzf:
        engine = _bgzf_engine(engine, None)
    _layout(engine, members, bgzf)
    _write_settings(compresslevel, mtime, threads, 128 * 1024, "Bad compression level", zopfli,
                    engine_info(engine).levels)
    memoryview(data)                                # TypeError for what is not bytes-like, first
    buffer = io.BytesIO()
    with GzipFile(fileobj=buffer, mode="wb", compresslevel=compresslevel, mtime=mtime, threads=threads,
                  engine=engine, zopfli=zopfli, bgzf=bgzf, members=members) as f:
        f.write(data)
    return buffer.getvalue()


def decompress(data: Any) -> bytes:
    """Decompress gzip data, every member of it, like ``gzip.decompress``."""
    with GzipFile(fileobj=io.BytesIO(data)) as f:
        return f.read()


def _round_trip() -> None:
    """The self-check wasmtime_version runs in a child: what wpigz asks of wasmtime -- the module compiled, a
    shared memory, worker threads started through wasi.thread-spawn, compress and decompress
    with each engine -- checked against Python's zlib. Prints "ok" when all is well."""
    import gzip
    from .sandbox.engines import ENGINES
    data = (bytes(range(256)) * 64 + b"wpigz self-check\n" * 1000) * 80      # 1.6 MB: several blocks
    for engine in ENGINES:
        packed = compress(data, 1, mtime=0, threads=2, engine=engine)
        if gzip.decompress(packed) != data or decompress(packed) != data:
            raise SystemExit(f"the {engine} engine's round trip gave other bytes")
    print("ok")
