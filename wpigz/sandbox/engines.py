"""The engines: what differs between wpigz's WebAssembly compressors, as data.

Every engine is one WebAssembly module with the same host protocol (the ring, the workers,
the decoders; see wasm/engine.h). What differs between them -- which module file, how its
jobs fit together in the output, which levels it has, its default block size, how it names
and credits its library -- is one row of ``ENGINES`` below. The framing, the pipeline and the
command read this table; nothing else should test an engine's name. This module imports
nothing heavy, so the command can consult it before it loads wasmtime.

pigz's ``-11`` is a level, not an engine: an engine may hand a level to a module of its own
(``level_modules``), as zlib and zlib-ng hand level 11 to pigz's zopfli (``MODULES``, which
nobody picks with ``--engine``). ``compressor_for`` is that one rule.

Layouts (how the jobs become a file) are a choice of their own, apart from the engine; the
engine's row says which it can write (``layouts``) and ``layout_of`` is the one rule that picks
one for the command, the library, the page and wpigz.dask:
* ``"stream"`` (the default, every engine): pigz's layout. One deflate stream in one gzip
  member (or zlib stream, or zip entry); each block is primed with the 32 KiB of input before it
  (not with -i) and ends on a byte boundary, so the blocks simply concatenate. Every gzip
  reader reads all of it, also those that stop after the first member (browsers'
  DecompressionStream, Python's zlib.decompress(data, 31)).
* ``"members"`` (--members, members=True): each block is compressed alone into one complete
  gzip member whose header records the member's size in an ``IG`` subfield (pgzip's
  convention; see wpigz/decode/members.py). The first member carries the name, time and comment.
  Readers that know the subfield find every member without decoding and decode them in
  parallel, or split the file (wpigz.dask); every multi-member gzip reader decodes them one
  after another. gzip only: no -z or -K.
* ``"bgzf"`` (--bgzf): members of at most 64 KiB framed as htslib's BGZF.
A layout other than "stream" asks the module for whole jobs (``whole_jobs``): every job
independent (no history) and last (a complete deflate stream of its own).
"""

from __future__ import annotations

from .._record import dataclass               # dataclasses itself costs start-up time

DEFAULT_ENGINE = "zlib"
LAYOUTS = ("stream", "members", "bgzf")
# One stream by default, for every engine: many readers stop after the first gzip member without
# a word (Chromium's DecompressionStream, HTTP Content-Encoding in browsers, Python's
# zlib.decompress(data, 31); tests/test_encode_layouts.py), and libdeflate's one stream is no larger
# and about as fast as its members (bench/LAYOUTS.md, docs/engines.md).
DEFAULT_LAYOUT = "stream"


@dataclass(frozen=True)
class EngineInfo:
    name: str                   # as given to --engine and engine=
    module: str                 # the .wasm file inside the package
    layouts: tuple[str, ...]    # the LAYOUTS it can write (see above)
    levels: tuple[int, ...]     # the compression levels it accepts
    blocksize: int              # default block size in bytes (when -b / blocksize= is not given)
    library: str                # the library it compresses with, as -V names it
    credit: str                 # the library's authors, for -L
    summary: str                # one line for -h and the options table of docs/command.md
    library_levels: tuple[int, ...] = tuple(range(13))   # the library's level for each of wpigz's
    level_modules: tuple[tuple[int, str], ...] = ()     # (level, MODULES row compressing it)
    arena_per_block: int = 0    # worker memory in block sizes, when it grows with them (build.py)
    strategies: bool = True     # zlib's -H and -U exist
    decodes_members: bool = False   # its module decodes indexed members in parallel (JOB_DECODE)


ENGINES: dict[str, EngineInfo] = {
    "zlib": EngineInfo(
        name="zlib", module="zlib.wasm", layouts=("stream", "members"), levels=(*range(10), 11),
        level_modules=((11, "zopfli"),),     # pigz's -11
        blocksize=128 * 1024,   # pigz's default: the bytes must be pigz's
        library="zlib", credit="Jean-loup Gailly and Mark Adler",
        summary="zlib 1.2.13 (default: pigz's exact bytes)"),
    "zlib-ng": EngineInfo(
        name="zlib-ng", module="zlib-ng.wasm", layouts=("stream", "members"), levels=(*range(10), 11),
        level_modules=((11, "zopfli"),),
        # Each block is primed with the 32 KiB before it (hashed again: a quarter more work on a
        # 128 KiB block) and starts from a reset stream. Engine alone, 8 MB of text and of
        # binaries, one thread, CPU seconds 128 KiB -> 512 KiB: level 1 0.165 -> 0.125 and
        # 0.111 -> 0.099, level 6 0.448 -> 0.399 and 0.337 -> 0.282, level 9 0.931 -> 0.872 and
        # 0.953 -> 0.899; output within 0.3%. 1 MiB gained nothing more on binaries.
        blocksize=512 * 1024,
        library="zlib-ng", credit="the zlib-ng contributors (Hans Kristian Rosbach et al.), "
                                  "after zlib by Jean-loup Gailly and Mark Adler",
        summary="zlib-ng (faster, slightly different bytes)",
        # wpigz's level -> zlib-ng's. Engine alone, 8 MB of text / of binaries, one thread,
        # 128 KiB blocks, CPU seconds and output % of input (pigz's own in brackets):
        # - zlib-ng 1 (deflate_quick) writes 49.6% / 38.1% (pigz -1: 39.2% / 31.6%); zlib-ng 2
        #   (deflate_fast) 36.8% / 31.2% for 0.24 / 0.16 s against 0.18 / 0.14 s (pigz -1: 0.19 /
        #   0.16 s). So -1 (and -2) is zlib-ng's 2: a gzip -1's size at about pigz -1's speed.
        # - zlib-ng 5 against 6 on 20 MB of text (512 KiB blocks): 0.69 s against 0.91 s for
        #   +0.43% output (+0.85% against pigz -6); on binaries 0.30 s against 0.36 s for +0.23%.
        #   So -6 (and -5) is zlib-ng's 5, and -7 and -8 move down one level each.
        # - zlib-ng 8 is slower than 9 on both (1.12 / 1.43 s against 0.96 / 0.97 s) and larger on
        #   binaries (28.55% against 27.99%): no wpigz level uses it.
        library_levels=(0, 2, 2, 3, 4, 5, 5, 6, 7, 9)),
    "libdeflate": EngineInfo(
        name="libdeflate", module="libdeflate.wasm", layouts=LAYOUTS,
        levels=(*range(10), 11),    # 1-9 are libdeflate's 1-9, 11 its strongest level, 12
        # bench/LIBDEFLATE.md's block-size sweep (-6, 40 MB of text, 2 threads): output 32.95% of
        # the input at 128 KiB, 32.62% at 256, 32.46% at 512, 32.38% at 1 MiB, 32.34% at 2 MiB,
        # 32.32% at 4 MiB; peak RSS 31, 32, 35, 38, 47, 62 MiB; speed differences were within
        # the noise of the (heavily loaded) machine. 1 MiB: most of the gain, little memory.
        # Measured again for speed (issue 21: docs/engines.md), the wasm engine alone, one thread,
        # 110 MB of text, CPU seconds 1 MiB -> 4 MiB: level 1 0.55 -> 0.54, level 6 1.62 -> 1.67,
        # the same within the noise; the priming is a small share of the work at any size.
        blocksize=1024 * 1024,
        library="libdeflate", credit="Eric Biggers",
        summary="libdeflate 1.14 (fastest and smallest; -11 is its level 12)",
        strategies=False, decodes_members=True),
}


# Modules that compress a level on an engine's behalf (see level_modules); not engines of their own.
MODULES: dict[str, EngineInfo] = {
    "zopfli": EngineInfo(
        name="zopfli", module="zopfli.wasm", layouts=("stream", "members"), levels=(11,),
        blocksize=128 * 1024,   # pigz's default: the bytes must be pigz's
        library="zopfli", credit="Lode Vandevenne and Jyrki Alakuijala (Google)",
        summary="zopfli as bundled with pigz (level 11: pigz's exact bytes)",
        arena_per_block=128),   # WORKER_ARENA_BYTES in wasm/build.py
}


def compressor_for(engine: str, level: int) -> EngineInfo:
    """The row whose module compresses level for engine: the engine's own, or the module it
    hands that level to. ValueError for an unknown engine."""
    info = engine_info(engine)
    handed = dict(info.level_modules)
    return MODULES[handed[level]] if level in handed else info


def module_info(name: str) -> EngineInfo:
    """The row of an engine or of a level's module (what a Runtime loads)."""
    return MODULES[name] if name in MODULES else engine_info(name)


def engine_info(name: str) -> EngineInfo:
    """The row for name; ValueError names the engines there are."""
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {name!r}") from None


def layout_of(*, members: bool = False, bgzf: bool = False) -> str:
    """The layout asked for: --members / members=True, --bgzf / bgzf=True, else the default.
    ValueError when both are asked."""
    if members and bgzf:
        raise ValueError("members and bgzf are two layouts: choose one")
    return "bgzf" if bgzf else "members" if members else DEFAULT_LAYOUT


def engines_for(layout: str) -> list[str]:
    """The engines that can write layout, for messages and for picking one (bgzf)."""
    return [name for name, info in ENGINES.items() if layout in info.layouts]


def whole_jobs(layout: str) -> bool:
    """Whether the module is asked for whole jobs: each independent and ending its own
    deflate stream (every layout but pigz's single stream)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    return layout != "stream"
