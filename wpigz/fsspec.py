"""fsspec's ``compression="wpigz"``: wpigz as a codec for fsspec, pandas and Dask users.

Importing this module (``wpigz.dask`` imports it) registers the name with fsspec, so
``fsspec.open("x.gz", "rb", compression="wpigz")`` reads any gzip file through wpigz's
sandboxed decoder (indexed members several at once) and ``"wb"`` writes indexed members,
which ``wpigz.dask.read_csv`` can split again. The ``.gz`` suffix stays fsspec's own gzip: the
name is only used when asked for.

This is the edge of the package: only this module and ``wpigz.dask`` import fsspec, so the
command's start-up and the core's dependencies do not change.
"""

from __future__ import annotations

from typing import IO, Any

import fsspec.compression

from .api import GzipFile

NAME = "wpigz"


def member_writer(fileobj: IO[bytes], compresslevel: int = 6, threads: int | None = None) -> GzipFile:
    """A writer of indexed members (each member states its size, so readers can split the
    file) onto fileobj, which close() leaves open. This is the one place the fsspec codec and
    the Dask writers ask for that layout (``members=True``), with the libdeflate engine, the
    fastest and smallest that writes it (docs/engines.md). No name and time 0 in the headers,
    so the same data always gives the same bytes."""
    return GzipFile("", "wb", compresslevel, fileobj, mtime=0, threads=threads, engine="libdeflate", members=True)


def _wpigz_file(infile: IO[bytes], mode: str = "rb", **kwargs: Any) -> GzipFile:
    """fsspec's codec callback: infile wrapped for reading or writing (kwargs: GzipFile's
    threads, and compresslevel when writing)."""
    if "r" in mode:
        return GzipFile(fileobj=infile, mode="rb", threads=kwargs.get("threads"))
    return member_writer(infile, kwargs.get("compresslevel", 6), kwargs.get("threads"))


def register() -> None:
    """Make compression="wpigz" known to fsspec (once; never over another codec's name)."""
    if NAME not in fsspec.compression.compr:
        fsspec.compression.register_compression(NAME, _wpigz_file, extensions=[])


register()
