"""wpigz on Dask: one big gzip file read and written by many workers, split at member boundaries.

Dask cannot split a gzip file (``dask.bytes.read_bytes`` refuses chunked reads of compressed
files, ``dask.dataframe.read_csv`` makes one partition of each). A file whose members state
their sizes -- the ``IG`` subfield of wpigz's indexed members and pgzip, ``BC`` of htslib's
BGZF -- can be split without decoding: ``members.indexed_members`` walks the headers and
trailers (the same walk as ``wpigz -l``), and the members are grouped into pieces of about
``blocksize`` bytes of *uncompressed* data. Each piece becomes one Dask task; the worker that
runs it reads the piece's byte range and decodes it with wpigz's wasm engine in its own
process. There is no coordination beyond Dask's: one member range per task.

Reading follows ``dask.bytes.read_bytes`` (``read_bytes``: delayed blocks per file, cut after a
delimiter as fsspec's ``read_block`` cuts plain files), ``dask.bag.read_text`` (``read_text``)
and ``dask.dataframe.read_csv`` (``read_csv``: the header row read once from a sample and put in
front of every later partition, ``dd.from_map`` over the pieces). A file whose members do not
state their sizes (gzip, pigz, wpigz's zlib engine) is read whole as one piece, with a
one-line ``UnsplittableWarning`` saying how to write it splittable.

Writing (``to_csv``, ``to_textfiles``) makes ONE gzip file: each partition is compressed on its
worker into indexed members (``wpigz.fsspec.member_writer``, the one place that asks for that
layout) and written as a part file; a final task joins the part files in partition order
(``os.sendfile`` on local files, so the data does not pass through a Python process's memory;
a chunked copy elsewhere), then removes them. Concatenated gzip members are one gzip file to
gzip, pigz, Python's gzip -- and to ``read_csv`` here, which splits it again.

Only this module and ``wpigz.fsspec`` import Dask, pandas or fsspec; importing this module also
registers ``compression="wpigz"`` with fsspec.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import uuid
import warnings
from dataclasses import dataclass
from functools import partial
from typing import IO, Any, Generator, Iterator

import dask.bag as db
import dask.dataframe as dd
import pandas as pd
from dask.base import tokenize
from dask.dataframe.io.csv import pandas_read_text
from dask.delayed import Delayed, delayed
from dask.utils import parse_bytes
from fsspec import AbstractFileSystem
from fsspec.core import get_fs_token_paths, url_to_fs
from fsspec.implementations.local import LocalFileSystem

from .decode import members
from .api import BadGzipFile, GzipFile
from .fsspec import member_writer

__all__ = ["UnsplittableWarning", "read_bytes", "read_text", "read_csv", "to_csv", "to_textfiles"]

# Defaults, in one place. blocksize is uncompressed bytes per partition, as dask's read_bytes
# counts plain bytes. threads is wpigz's decoding or compressing threads inside ONE task:
# Dask runs one task per worker thread already, so more would only compete for the same cores.
BLOCKSIZE = "64 MiB"
THREADS = 1
COPY_CHUNK = 1 << 20            # the join's copy unit where sendfile cannot be used


class UnsplittableWarning(UserWarning):
    """A gzip file (or its end) whose members do not state their sizes: read as one piece."""


def _unsplittable(path: str, where: int) -> None:
    what = "its members do not state their sizes" if where == 0 else \
        f"its members from byte {where} on do not state their sizes"
    warnings.warn(f"wpigz: {path}: {what}, so they are read as one partition; write it with "
                  "`wpigz --members` (indexed members) or `wpigz --bgzf` to make it splittable",
                  UnsplittableWarning, stacklevel=3)


# ---- the plan: pieces of whole members, made on the client from headers and trailers only

@dataclass(frozen=True)
class Piece:
    """One partition's byte range of one file: whole members, or the unindexed rest of it."""

    path: str
    version: str                # fsspec's ukey of the file: tokens change when the file does
    start: int                  # where the piece's first member starts
    stop: int                   # where the next piece starts (the file's size for the last)
    first: bool                 # the piece starts the file: no partial line to skip
    size: int                   # its members' ISIZEs added: what it should decode to (a hint)


def _blocksize(blocksize: int | str | None) -> int | None:
    """blocksize as dask.bytes.read_bytes takes it: None, an int, or a string like "64 MiB"."""
    if isinstance(blocksize, str):
        blocksize = parse_bytes(blocksize)
    if blocksize is not None and (not isinstance(blocksize, int) or isinstance(blocksize, bool)
                                  or blocksize < 1):
        raise TypeError(f"blocksize must be a positive integer, a string like '64 MiB' or None, not {blocksize!r}")
    return blocksize


def _cuts(sizes: list[int], blocksize: int) -> list[int]:
    """The indices of the members that start a piece, plus len(sizes). As dask.bytes.read_bytes
    spreads a file's spare bytes over its blocks, the file's total is cut into ceil(total /
    blocksize) equal stretches, and each member goes to the piece of the stretch its middle
    falls in (a member larger than a stretch makes a piece of its own; no stretch, no piece)."""
    total = sum(sizes)
    parts = max(1, -(-total // blocksize))
    stretch = total / parts or 1
    cuts, done, current = [0], 0, 0
    for i, size in enumerate(sizes):
        k = min(parts - 1, int((done + size / 2) // stretch))
        if k > current and i:
            cuts.append(i)
        current = max(current, k)
        done += size
    return cuts + [len(sizes)]


def _plan(fs: AbstractFileSystem, path: str, blocksize: int | None) -> list[Piece]:
    """A file's pieces. Members that state their sizes are grouped by _cuts; whatever follows
    the last of them (members without sizes, padding, garbage) goes with the last piece, where
    the decoder treats it exactly as when it reads the whole file."""
    size = fs.size(path)
    if not size:
        return []                           # as dask: an empty file has no blocks
    version = fs.ukey(path)
    if blocksize is None:
        return [Piece(path, version, 0, size, True, 0)]
    with fs.open(path, "rb") as raw:
        found = list(members.indexed_members(raw, size))
    end = found[-1].offset + found[-1].size if found else 0
    if end < size:
        _unsplittable(path, end)
    if not found:
        return [Piece(path, version, 0, size, True, 0)]
    cuts = _cuts([m.isize for m in found], blocksize)
    starts = [found[i].offset for i in cuts[:-1]] + [size]
    return [Piece(path, version, a, b, a == 0, sum(m.isize for m in found[i:j]))
            for a, b, i, j in zip(starts, starts[1:], cuts, cuts[1:])]


def _paths(urlpath: Any, storage_options: dict | None) -> tuple[AbstractFileSystem, list[str]]:
    fs, _, paths = get_fs_token_paths(urlpath, mode="rb", storage_options=storage_options or {})
    if not paths:
        raise OSError(f"{urlpath} resolved to no files")
    return fs, paths


# ---- decoding a piece, in the worker

def _inflate(data: bytes, threads: int) -> bytes:
    """Whole gzip data decoded by wpigz (BadGzipFile or EOFError if corrupt)."""
    with GzipFile(fileobj=io.BytesIO(data), threads=threads) as f:
        return f.read()


def _corrupt(raw: IO[bytes], path: str, start: int, stop: int, problem: Exception, threads: int) -> BadGzipFile:
    """wpigz's error for a byte range that failed to decode, naming the first member in it
    that fails on its own (members after the indexed ones: where they start)."""
    where, reason = start, problem
    for member in members.indexed_members(raw, stop, start):
        where = member.offset + member.size
        raw.seek(member.offset)
        try:
            _inflate(raw.read(member.size), threads)
        except (BadGzipFile, EOFError) as error:
            where, reason = member.offset, error
            break
    text = str(reason) if isinstance(reason, BadGzipFile) else "unexpected end of file"
    return BadGzipFile(f"wpigz: {path}: member at byte {where}: {text}")


def _decode_range(raw: IO[bytes], path: str, start: int, stop: int, size: int, threads: int) -> bytearray:
    """The members in [start, stop) decoded, straight into a buffer of their stated size (one
    copy of each byte, where reading to the end in steps would make several)."""
    raw.seek(start)
    data = raw.read(stop - start)
    try:
        with GzipFile(fileobj=io.BytesIO(data), threads=threads) as f:
            out = bytearray(size)
            got = f.readinto(out)
            del out[got:]
            out += f.read()             # more than the sizes said (an unindexed rest): the rest
            return out
    except (BadGzipFile, EOFError) as problem:
        raise _corrupt(raw, path, start, stop, problem, threads) from None


def _following(raw: IO[bytes], path: str, start: int, end: int, threads: int) -> Generator[bytes, None, None]:
    """What the file holds from start on, decoded lazily: a block reads past its own members
    only to the next delimiter, usually a few bytes into the next member."""
    if start >= end:
        return
    raw.seek(start)
    try:
        with GzipFile(fileobj=raw, threads=threads) as f:
            while chunk := f.read(1 << 16):
                yield chunk
    except (BadGzipFile, EOFError) as problem:
        raise _corrupt(raw, path, start, end, problem, threads) from None


def _cut(own: bytearray, first: bool, delimiter: bytes, following: Iterator[bytes]) -> bytearray:
    """fsspec's read_block rule, on decoded data: the block starts after the first delimiter
    that starts at or after its own start (at once, at the start of a file) and ends after the
    first delimiter that starts at or after its own end (or at the end of the file). Every
    line then belongs to exactly one block. own is the piece's decoded members; it is extended
    and cut in place, so the block is not copied."""
    length = len(own)

    def after(pos: int) -> int:
        """The offset just past the first delimiter that starts at pos or later, decoding what
        follows own as far as needed."""
        while (i := own.find(delimiter, pos)) < 0:
            pos = max(pos, len(own) - len(delimiter) + 1)
            if (chunk := next(following, None)) is None:
                return len(own)
            own.extend(chunk)
        return i + len(delimiter)

    start = 0 if first else after(0)
    end = after(length)
    del own[max(start, end):]
    del own[:start]
    return own


def _block(fs: AbstractFileSystem, piece: Piece, delimiter: bytes | None, threads: int) -> bytearray:
    """A piece's block of decoded bytes, in the worker."""
    with fs.open(piece.path, "rb") as raw:
        own = _decode_range(raw, piece.path, piece.start, piece.stop, piece.size, threads)
        if not delimiter:
            return own
        following = _following(raw, piece.path, piece.stop, fs.size(piece.path), threads)
        try:
            return _cut(own, piece.first, delimiter, following)
        finally:
            following.close()           # its reader, before the file it reads


def _read_piece(fs: AbstractFileSystem, piece: Piece, delimiter: bytes | None, threads: int) -> bytes:
    """read_bytes' task: a piece's block, as bytes (as Dask's blocks are)."""
    return bytes(_block(fs, piece, delimiter, threads))


def _sample(fs: AbstractFileSystem, path: str, size: int, delimiter: bytes | None, threads: int) -> bytes:
    """The first size decoded bytes of path, on to the end of the line (as dask's sample)."""
    with fs.open(path, "rb") as raw:
        if not fs.size(path):
            return b""
        try:
            with GzipFile(fileobj=raw, threads=threads) as f:
                sample = f.read(size)
                while delimiter and sample and (more := f.read(1 << 16)):
                    i = more.find(delimiter)
                    if i >= 0:
                        sample += more[:i + len(delimiter)]
                        break
                    sample += more
        except (BadGzipFile, EOFError) as problem:
            raise _corrupt(raw, path, 0, fs.size(path), problem, threads) from None
    return sample


# ---- reading: Dask's three entry points

def read_bytes(urlpath: Any, blocksize: int | str | None = BLOCKSIZE, delimiter: bytes | None = None,
               sample: int | str | bool = "10 kiB", include_path: bool = False, threads: int = THREADS,
               **storage_options: Any) -> tuple:
    """Like ``dask.bytes.read_bytes`` for gzip files: ``(sample, blocks)`` (with include_path,
    ``(sample, blocks, paths)``), blocks being per file a list of delayed blocks of *decoded*
    bytes, each made of whole members holding about blocksize bytes of uncompressed data (None:
    one block per file). With a delimiter, blocks are cut after it as dask cuts plain files:
    no line is split or lost. sample is the first bytes of the first file (False: none)."""
    fs, paths = _paths(urlpath, storage_options)
    blocksize = _blocksize(blocksize)
    read = delayed(_read_piece)
    blocks = []
    for path in paths:
        pieces = _plan(fs, path, blocksize)
        token = tokenize(fs, path, delimiter, threads, [(p.version, p.start, p.stop) for p in pieces])
        blocks.append([read(fs, p, delimiter, threads, dask_key_name=f"wpigz-read-block-{p.start}-{token}")
                       for p in pieces])
    head: bytes | bool = False
    if sample is not False:
        head = _sample(fs, paths[0], parse_bytes("10 kiB" if sample is True else sample), delimiter, threads)
    return (head, blocks, paths) if include_path else (head, blocks)


def _lines(block: bytearray, encoding: str, errors: str, linedelimiter: str | None) -> list[str]:
    """A block's lines, as dask.bag.read_text splits them (universal newlines by default)."""
    text = block.decode(encoding, errors)
    if linedelimiter in (None, "", "\n", "\r", "\r\n"):
        return list(io.StringIO(text, newline=linedelimiter))
    parts = text.split(linedelimiter)
    return [p + linedelimiter for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _text_piece(fs: AbstractFileSystem, piece: Piece, delimiter: bytes, encoding: str, errors: str,
                linedelimiter: str | None, threads: int) -> list[str]:
    return _lines(_block(fs, piece, delimiter, threads), encoding, errors, linedelimiter)


def read_text(urlpath: Any, blocksize: int | str | None = BLOCKSIZE, encoding: str = "utf-8",
              errors: str = "strict", linedelimiter: str | None = None, threads: int = THREADS,
              storage_options: dict | None = None) -> db.Bag:
    """Like ``dask.bag.read_text`` for gzip files: a Bag of the lines (with their endings),
    one partition per block of about blocksize uncompressed bytes."""
    delimiter = (linedelimiter or "\n").encode(encoding)
    fs, paths = _paths(urlpath, storage_options)
    lines = delayed(_text_piece)
    parts = [lines(fs, piece, delimiter, encoding, errors, linedelimiter, threads)
             for path in paths for piece in _plan(fs, path, _blocksize(blocksize))]
    return db.from_delayed(parts) if parts else db.from_sequence([], npartitions=1)


def _read_csv_piece(piece: Piece, *, fs: AbstractFileSystem, delimiter: bytes, header: bytes, meta: pd.DataFrame,
                    kwargs: dict, threads: int) -> pd.DataFrame:
    """One partition of read_csv (a Dask task): the piece's lines, the header put in front
    unless it starts the file, parsed by pandas as dask.dataframe.read_csv parses a block."""
    block = _block(fs, piece, delimiter, threads)
    rest = dict(kwargs)
    write_header = False
    if not piece.first:
        if rest.get("names") is None:
            write_header = True
        rest.pop("skiprows", None)
        if rest.get("header", 0) is not None:
            rest.pop("header", None)
    if not block.strip():
        return meta.iloc[:0]        # a piece whose lines all belong to its neighbours
    return pandas_read_text(pd.read_csv, block, header, rest, meta.dtypes.to_dict(), list(meta.columns),
                            write_header, False, None)


def read_csv(urlpath: Any, blocksize: int | str | None = BLOCKSIZE, *, sample: int = 256000, sample_rows: int = 10,
             threads: int = THREADS, storage_options: dict | None = None, **kwargs: Any) -> dd.DataFrame:
    """Like ``dask.dataframe.read_csv`` for gzip files, split at member boundaries into
    partitions of about blocksize uncompressed bytes. The column names and types come from a
    sample of the first file, the header row is put in front of every later partition, and
    pandas' keywords (usecols, dtype, names, sep, ...) are passed through."""
    for key in ("index", "iterator", "chunksize", "nrows", "skipfooter", "compression"):
        if key in kwargs:
            raise ValueError(f"{key!r} is not supported by wpigz.dask.read_csv (as dask.dataframe.read_csv)")
    if kwargs.get("index_col") not in (None, False):
        raise ValueError("'index_col' is not supported, except index_col=False; use .set_index(...) instead")
    if isinstance(kwargs.get("header"), list):
        raise TypeError("a list of header rows is not supported")
    fs, paths = _paths(urlpath, storage_options)
    size = _blocksize(blocksize)
    lineterminator = kwargs.get("lineterminator") or "\n"
    delimiter = lineterminator.encode(kwargs.get("encoding") or "utf-8")
    pieces = [piece for path in paths for piece in _plan(fs, path, size)]
    b_sample = _sample(fs, paths[0], sample, delimiter, threads)
    skiprows = kwargs.get("skiprows")
    if skiprows is not None and not isinstance(skiprows, int):
        raise TypeError("skiprows must be an int (a number of lines at the start of each file)")
    names = kwargs.get("names")
    header = kwargs.get("header", "infer" if names is None else None)
    kwargs["header"] = header
    head = pd.read_csv(io.BytesIO(b_sample), nrows=sample_rows, **kwargs)   # pandas' error for an empty file
    firstrow = (skiprows or 0) + (header if isinstance(header, int) else 0)
    lines = b_sample.split(delimiter, firstrow + 1)
    if header is not None and len(lines) <= firstrow:
        raise ValueError("the sample does not reach the header row: increase sample")
    header_line = b"" if header is None else lines[firstrow] + delimiter
    return dd.from_map(partial(_read_csv_piece, fs=fs, delimiter=delimiter, header=header_line,
                               meta=head.iloc[:0], kwargs=kwargs, threads=threads),
                       pieces, meta=head.iloc[:0], label="wpigz-read-csv", enforce_metadata=False)


# ---- writing: partitions compressed on their workers, joined into one file

def _write_part(fs: AbstractFileSystem, part: str, write: Any, compresslevel: int, threads: int) -> int:
    """Compress what write(binary_file) writes into a part file of indexed members; the
    number of uncompressed bytes (a Dask task; runs in the worker)."""
    fs.makedirs(part.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(part, "wb") as raw, member_writer(raw, compresslevel, threads) as gz:
        write(gz)
        return gz.tell()


def _csv_writer(df: pd.DataFrame, encoding: str, kwargs: dict) -> Any:
    def write(gz: GzipFile) -> None:
        # the partition's text at once: the writer's pipeline wants large writes, and the
        # partition is in memory already
        gz.write(df.to_csv(**kwargs).encode(encoding))
    return write


def _lines_writer(lines: Any, encoding: str | None) -> Any:
    def write(gz: GzipFile) -> None:
        started = False
        for line in lines:
            if started:
                gz.write(b"\n")
            started = True
            gz.write(line.encode(encoding) if isinstance(line, str) and encoding else line)
    return write


def _write_csv_part(df: pd.DataFrame, fs: AbstractFileSystem, part: str, encoding: str, compresslevel: int,
                    threads: int, kwargs: dict) -> int:
    return _write_part(fs, part, _csv_writer(df, encoding, kwargs), compresslevel, threads)


def _write_lines_part(lines: Any, fs: AbstractFileSystem, part: str, encoding: str | None, compresslevel: int,
                      threads: int) -> int:
    return _write_part(fs, part, _lines_writer(lines, encoding), compresslevel, threads)


def _copy(fs: AbstractFileSystem, part: str, out: IO[bytes]) -> None:
    """Append a part file to out: in the kernel (sendfile) for local files, else in chunks."""
    if isinstance(fs, LocalFileSystem):
        out.flush()
        with open(fs._strip_protocol(part), "rb") as src:
            size, offset = os.fstat(src.fileno()).st_size, 0
            try:
                while offset < size:
                    sent = os.sendfile(out.fileno(), src.fileno(), offset, size - offset)
                    if not sent:
                        break
                    offset += sent
                return
            except OSError as error:
                if offset or error.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSOCK):
                    raise
    with fs.open(part, "rb") as src:
        shutil.copyfileobj(src, out, COPY_CHUNK)


def _join(sizes: list[int], fs: AbstractFileSystem, out: str, parts: list[str], folder: str,
          separator: bytes, last_endline: bool, compresslevel: int) -> str:
    """The final task: the part files copied into out in partition order, then removed.
    separator (to_textfiles' end of line) goes, as a member of its own, between parts that
    hold data, and at the end with last_endline."""
    between = b""
    if separator:
        buffer = io.BytesIO()
        with member_writer(buffer, compresslevel, 1) as gz:
            gz.write(separator)
        between = buffer.getvalue()
    try:
        with fs.open(out, "wb") as dst:
            wrote = False
            for size, part in zip(sizes, parts):
                if between and size and wrote:
                    dst.write(between)
                _copy(fs, part, dst)
                wrote = wrote or bool(size)
            if between and last_endline:
                dst.write(between)
    finally:
        fs.rm(folder, recursive=True)
    return out


def _out(path: Any, storage_options: dict | None) -> tuple[AbstractFileSystem, str, str]:
    """The output's filesystem and path, and a fresh folder beside it for the part files."""
    fs, out = url_to_fs(os.fspath(path), **(storage_options or {}))
    return fs, out, f"{out}.wpigz-parts-{uuid.uuid4().hex}"


def _finish(final: Delayed, out: str, compute: bool, compute_kwargs: dict | None) -> list:
    if compute:
        final.compute(**(compute_kwargs or {}))
        return [out]
    return [final]


def to_csv(df: dd.DataFrame, path: Any, *, encoding: str = "utf-8", compresslevel: int = 6, threads: int = THREADS,
           compute: bool = True, compute_kwargs: dict | None = None, storage_options: dict | None = None,
           **kwargs: Any) -> list:
    """Write a Dask DataFrame as ONE gzip CSV file: each partition is compressed on its worker
    into indexed members, and the parts are joined in order (the header once, from the first
    partition). pandas' to_csv keywords are passed through. Returns [path] (compute=False:
    [the delayed join])."""
    fs, out, folder = _out(path, storage_options)
    header = kwargs.pop("header", True)
    parts = [f"{folder}/{i:06d}.gz" for i in range(df.npartitions)]
    write = delayed(_write_csv_part, pure=False)
    sizes = [write(part_df, fs, part, encoding, compresslevel, threads, {**kwargs, "header": header if i == 0 else False})
             for i, (part_df, part) in enumerate(zip(df.to_delayed(), parts))]
    final = delayed(_join, pure=False)(sizes, fs, out, parts, folder, b"", False, compresslevel)
    return _finish(final, out, compute, compute_kwargs)


def to_textfiles(bag: db.Bag, path: Any, *, encoding: str | None = "utf-8", last_endline: bool = False,
                 compresslevel: int = 6, threads: int = THREADS, compute: bool = True,
                 compute_kwargs: dict | None = None, storage_options: dict | None = None) -> list:
    """Write a Bag as ONE gzip text file, as ``dask.bag.to_textfiles`` writes each of its
    files: the elements joined by newlines (and one at the end with last_endline), str
    encoded with encoding (None: the elements are bytes). Each partition is compressed on its
    worker into indexed members; the parts are joined in order. Returns [path]."""
    fs, out, folder = _out(path, storage_options)
    parts = [f"{folder}/{i:06d}.gz" for i in range(bag.npartitions)]
    write = delayed(_write_lines_part, pure=False)
    sizes = [write(lines, fs, part, encoding, compresslevel, threads) for lines, part in zip(bag.to_delayed(), parts)]
    final = delayed(_join, pure=False)(sizes, fs, out, parts, folder, b"\n", last_endline, compresslevel)
    return _finish(final, out, compute, compute_kwargs)
