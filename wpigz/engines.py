"""The engines: what differs between wpigz's WebAssembly compressors, as data.

Every engine is one WebAssembly module with the same host protocol (the ring, the workers,
the decoders; see wasm/engine.h). What differs between them -- which module file, how its
jobs fit together in the output, which levels it has, its default block size, how it names
and credits its library -- is one row of ``ENGINES`` below. The framing, the pipeline and the
command read this table; nothing else should test an engine's name. This module imports
nothing heavy, so the command can consult it before it loads wasmtime.

Layouts:
* ``"stream"``: pigz's layout. One deflate stream; each block is primed with the 32 KiB of
  input before it and ends on a byte boundary, so the blocks simply concatenate.
* ``"members"``: each block is compressed alone into one complete gzip member whose header
  records the member's size in an ``IG`` subfield (pgzip's convention; see wpigz/members.py).
  The first member carries the name, time and comment. Readers that know the subfield find
  every member without decoding and decode them in parallel; every gzip reader decodes them
  one after another. One stream formats (-z, -K) and zlib's strategies (-H, -U) do not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ENGINE = "zlib"


@dataclass(frozen=True)
class EngineInfo:
    name: str                   # as given to --engine and engine=
    module: str                 # the .wasm file inside the package
    layout: str                 # "stream" or "members" (see above)
    levels: tuple[int, ...]     # the compression levels it accepts
    blocksize: int              # default block size in bytes
    library: str                # the library it compresses with, as -V names it
    credit: str                 # the library's authors, for -L
    summary: str                # one line for -h and the README


ENGINES: dict[str, EngineInfo] = {
    "zlib": EngineInfo(
        name="zlib", module="zlib.wasm", layout="stream", levels=tuple(range(10)),
        blocksize=128 * 1024,   # pigz's default: the bytes must be pigz's
        library="zlib", credit="Jean-loup Gailly and Mark Adler",
        summary="zlib 1.2.13 (default: pigz's exact bytes)"),
    "zlib-ng": EngineInfo(
        name="zlib-ng", module="zlib-ng.wasm", layout="stream", levels=tuple(range(10)),
        blocksize=128 * 1024,
        library="zlib-ng", credit="the zlib-ng contributors (Hans Kristian Rosbach et al.), "
                                  "after zlib by Jean-loup Gailly and Mark Adler",
        summary="zlib-ng (faster, slightly different bytes)"),
    "libdeflate": EngineInfo(
        name="libdeflate", module="libdeflate.wasm", layout="members",
        levels=(*range(10), 11),    # 1-9 are libdeflate's 1-9, 11 its strongest level, 12
        # bench/LIBDEFLATE.md's block-size sweep (-6, 40 MB of text, 2 threads): output 32.95% of
        # the input at 128 KiB, 32.62% at 256, 32.46% at 512, 32.38% at 1 MiB, 32.34% at 2 MiB,
        # 32.32% at 4 MiB; peak RSS 31, 32, 35, 38, 47, 62 MiB; speed differences were within
        # the noise of the (heavily loaded) machine. 1 MiB: most of the gain, little memory.
        blocksize=1024 * 1024,
        library="libdeflate", credit="Eric Biggers",
        summary="libdeflate 1.14 (fastest and smallest; one indexed gzip member per block)"),
}


def engine_info(name: str) -> EngineInfo:
    """The row for name; ValueError names the engines there are."""
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {name!r}") from None
