#!/usr/bin/env python3
"""Reproducible build of wpigz's WebAssembly engines (wpigz/zlib.wasm, zlib-ng.wasm, libdeflate.wasm).

The module is zlib 1.2.13 -- the version Debian's pigz 2.6 is linked with, so the deflate
bytes match -- plus the glue in this folder (engine.c, inflater.c, thread_start.s), compiled by the
pinned `ziglang` package from PyPI for wasm32-wasi with atomics and a shared, imported
memory. zig's output is deterministic, so the same inputs give the same bytes on any
machine; the module is committed, and `pip install` needs no compiler.

    python wasm/build.py                 # fetch the sources, build, write both modules
    python wasm/build.py --check         # rebuild from scratch, fail if a committed one differs
    python wasm/build.py --zlib-tarball zlib_1.2.13.dfsg.orig.tar.bz2

The second module, zlib-ng.wasm, is the same glue over zlib-ng in zlib-compatible mode, with
its generic C code (no CPU-specific paths): faster, with slightly different bytes. Its source
is the PyPI sdist of python-zlib-ng (which carries the zlib-ng C sources), pinned by version and
sha256 and fetched with `pip download --no-binary :all:`.

The third module, libdeflate.wasm, is the same ring and threads over libdeflate 1.14 (Debian's
source package `libdeflate 1.14-1`, fetched the same way as zlib's and pinned by sha256) with
its own compressor, deflate_libdeflate.c (one job = one gzip member's body, and the decoding
of indexed members), plus zlib 1.2.13 for the shared inflater and the check-value arithmetic.

zlib's source is never committed. It is Debian's orig tarball of the source package
`zlib 1:1.2.13.dfsg-1`, checked against the sha256 below. Without --zlib-tarball it is
fetched with `apt-get source --download-only`, using a private sources list (a `deb-src`
twin of the Debian entries already configured on this machine) and private state
directories, so the system's apt configuration is not touched.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUTPUT = REPO / "wpigz" / "zlib.wasm"
OUTPUT_NG = REPO / "wpigz" / "zlib-ng.wasm"
OUTPUT_ZOPFLI = REPO / "wpigz" / "zopfli.wasm"
OUTPUT_LD = REPO / "wpigz" / "libdeflate.wasm"
CACHE = HERE / ".cache"

ZIG_VERSION = "0.17.1"                   # pip install ziglang==0.17.1
ZLIB_PACKAGE = "zlib"
ZLIB_DEBIAN_VERSION = "1:1.2.13.dfsg-1"
ZLIB_SUITE = "bookworm"
ZLIB_TARBALL = "zlib_1.2.13.dfsg.orig.tar.bz2"
ZLIB_SHA256 = "71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1"
ZLIB_SOURCES = ["adler32.c", "crc32.c", "deflate.c", "trees.c", "zutil.c",
                "inflate.c", "inffast.c", "inftrees.c"]
# the glue every module shares (the ring, the decoders, the thread entry), and each module's
# compressor: engine.h is the seam between them
GLUE_SOURCES = ["engine.c", "inflater.c", "chunk_inflate.c", "thread_start.s"]
GLUE_HEADERS = ["engine.h"]
ZLIB_COMPRESSOR = "deflate_zlib.c"       # zlib and zlib-ng: pigz's parallel path
# zlib.wasm's deflate: longest_match compares its candidate's first two and last two bytes, and
# extends a match, two bytes at a time through 16-bit loads (wasm32 loads need no alignment).
# Its only effect in zlib 1.2.13 (deflate.c); the same bytes compared, so the same matches and
# the same output. callgrind, 4.7 MB of Python source at level 6 in pigz's 128 KiB pieces,
# wasmtime's JIT code: 1.50 G instructions -> 1.40 G (longest_match 815 M -> 711 M; native
# gcc -O2: 375 M). A 64-bit word loop for the extension instead was slower (855 M): on
# text most candidates fail the first checks.
ZLIB_DEFINES = ["-DUNALIGNED_OK"]

ZLIB_NG_SDIST = "zlib_ng-1.1.0.tar.gz"          # python-zlib-ng 1.1.0, carrying zlib-ng 2.3.3
ZLIB_NG_PIP = "zlib-ng==1.1.0"
ZLIB_NG_SHA256 = "08a3a8468d4f130e3dc80d28ec42fcc7a878a57dfed616233e791066327d78a3"
ZLIB_NG_DIR = "src/zlib_ng/zlib-ng"
ZLIB_NG_SOURCES = ["adler32.c", "compress.c", "crc32.c", "crc32_braid_comb.c", "deflate.c", "deflate_fast.c",
                   "deflate_huff.c", "deflate_medium.c", "deflate_quick.c", "deflate_rle.c", "deflate_slow.c",
                   "deflate_stored.c", "inflate.c", "inftrees.c", "insert_string.c", "insert_string_roll.c",
                   "trees.c", "zutil.c"]
ZLIB_NG_DEFINES = ["-DZLIB_COMPAT", "-DDISABLE_RUNTIME_CPU_DETECTION",
                   "-DWORKER_ARENA=(1024*1024)",       # zlib-ng's deflate state is larger than zlib's
                   "-DWPIGZ_ZLIB_NG",                  # deflate_zlib.c: zlib-ng specifics (fresh_stream)
                   # what zlib-ng's CMake finds in clang, and its setting for 64-bit CPUs with
                   # unaligned loads, as wasm32 has (i64 loads, i64.ctz): without them compare256
                   # falls back to 2-byte compares. OPTIMAL_CMP=64 needs the 64-bit CRC-32 words
                   # of ZLIB_NG_EDITS below (with 4-byte words its chorba CRC-32 is wrong).
                   "-DOPTIMAL_CMP=64", "-DHAVE_BUILTIN_CTZ", "-DHAVE_BUILTIN_CTZLL",
                   "-DHAVE_ATTRIBUTE_ALIGNED", "-DHAVE_BUILTIN_ASSUME_ALIGNED",
                   # our SIMD128 functions (simd_zlib_ng.c) in place of the generic ones
                   "-DWPIGZ_SIMD128", "-DWPIGZ_SIMD_COMPARE256", "-DWPIGZ_SIMD_CHUNKSET",
                   "-DWPIGZ_SIMD_ADLER32"]
# WebAssembly SIMD128 (wasmtime, Node and Chromium run it): clang also vectorises zlib-ng's
# generic loops with it (slide_hash)
ZLIB_NG_CPU = "-mcpu=generic+atomics+bulk_memory+simd128"
# two one-line edits of zlib-ng's sources at build time (the sdist itself stays pinned): our
# SIMD128 functions join its build-time choice as one more architecture, and wasm32, whose
# 64-bit integer operations are native, gets the 64-bit word CRC-32 code (braid and chorba)
# that zlib-ng otherwise gives only to 64-bit CPUs
ZLIB_NG_EDITS = [
    ("arch_functions.h", "#if defined(X86_FEATURES)",
     '#if defined(WPIGZ_SIMD128)\n#  include "simd_zlib_ng.h"\n#elif defined(X86_FEATURES)'),
    ("crc32_braid_p.h", "#if defined(__x86_64__)", "#if defined(__wasm__) || defined(__x86_64__)"),
]
ZLIB_NG_SIMD_SOURCES = ["simd_zlib_ng.c"]
ZLIB_NG_SIMD_HEADERS = ["simd_zlib_ng.h"]

# zopfli, as pigz bundles it beside pigz.c (zopfli/src/zopfli). bookworm's pigz 2.6 source is
# gone from the mirror; trixie's pigz 2.8 carries the same zopfli (pigz records no zopfli update
# after 2.3.x), and tests/test_sandbox_zopfli.py checks the bytes against the installed pigz 2.6.
PIGZ_SPEC = "pigz=2.8-1"
PIGZ_SUITE = "trixie"
PIGZ_TARBALL = "pigz_2.8.orig.tar.xz"
PIGZ_SHA256 = "bec34f9d61e28b9b069da9efd53e73d22cd207a4798ed664832dc9b17aa486aa"
ZOPFLI_DIR = "zopfli/src/zopfli"
ZOPFLI_SOURCES = ["blocksplitter.c", "cache.c", "deflate.c", "hash.c", "katajainen.c", "lz77.c",
                  "squeeze.c", "symbols.c", "tree.c", "util.c"]
ZOPFLI_COMPRESSOR = "deflate_zopfli.c"
ZOPFLI_GLUE = ["zopfli_heap.s"]          # beside the compressor; zopfli_alloc.h goes into zopfli/
ZOPFLI_DEFINES = ["-DNDEBUG",            # as fast as pigz's build; asserts never change the bytes
                  # each worker's heap: zopfli's measured peak for one block is at most 113x
                  # the block size + 2 MiB (random data; text 38-90x), see deflate_zopfli.c
                  "-DWORKER_ARENA_BYTES(b)=(128*(uint64_t)(b)+(8<<20))"]
# zopfli's speed in wasm32, measured with callgrind on one 128 KiB block of Python source (the
# largest file of bench/many_files.py's -11 tree; wasmtime's JIT code attributed through its
# perf map): 7.48 G instructions against 4.35 G for pigz's own build (gcc -O2, native), 0.68 s
# of CPU against 0.41 s. Link-time optimization inlines zopfli's small cross-file helpers
# (ZopfliGetDistSymbol and the others into the cost model, the cache's into the match finder):
# -11% of instructions, -12% of CPU. The edits below take the count to 5.87 G. Bytes
# unchanged: wasm's floating point is IEEE double without contraction, so inlining changes no
# cost. Not helping (0-0.3%): -O3 (the same module), SIMD128, 64-bit words in the match
# extension (GetMatch: matches mostly come from the longest-match cache).
ZOPFLI_LTO = "-flto"
# Edits at build time (the tarball stays pinned), each keeping every byte of the output.
# katajainen.c: its qsort of the leaves (a comparator call through a pointer per comparison,
# 10% of all instructions) and its recursive BoundaryPM (2.3x the time of pigz's native build:
# calls are costly in wasm) are replaced by zopfli_katajainen.c's routines, which give the same
# results (-9% and -4% of instructions on the text; the package-merge loop -22% on binaries,
# where Huffman trees for block splitting are most of zopfli's time). squeeze.c's
# GetBestLengths calls the cost model through a pointer for every (position, length): the
# statistics model, the one of every iteration, is called directly when it is the one passed,
# so that it is inlined (-2%).
ZOPFLI_EDITS = [
    ("katajainen.c", "  return ((const Node*)a)->weight - ((const Node*)b)->weight;\n}\n",
     "  return ((const Node*)a)->weight - ((const Node*)b)->weight;\n}\n\n"
     '#include "zopfli_katajainen.c"\t/* wpigz */\n'),
    ("katajainen.c", "qsort(leaves, numsymbols, sizeof(Node), LeafComparator);",
     "wpigz_sort_leaves(leaves, numsymbols);\t/* wpigz */"),
    ("katajainen.c", "    BoundaryPM(lists, leaves, numsymbols, &pool, maxbits - 1);\n",
     "    wpigz_boundary_pm(lists, leaves, numsymbols, &pool, maxbits - 1);\t/* wpigz */\n"),
    ("squeeze.c", "static double GetBestLengths(ZopfliBlockState *s,",
     "/* wpigz: the statistics cost model called directly, so that it is inlined */\n"
     "#define costmodel(litlen, dist, context) \\\n"
     "  (costmodel == GetCostStat ? GetCostStat(litlen, dist, context) : costmodel(litlen, dist, context))\n\n"
     "static double GetBestLengths(ZopfliBlockState *s,"),
    ("squeeze.c", "static void TraceBackwards(", "#undef costmodel\n\nstatic void TraceBackwards("),
]
ZOPFLI_INCLUDED = ["zopfli_katajainen.c"]    # beside katajainen.c, which includes it

LIBDEFLATE_PACKAGE = "libdeflate"               # Debian's source package, bookworm
LIBDEFLATE_DEBIAN_VERSION = "1.14-1"
LIBDEFLATE_TARBALL = "libdeflate_1.14.orig.tar.gz"
LIBDEFLATE_SHA256 = "89e7df898c37c3427b0f39aadcf733731321a278771d20fc553f92da8d4808ac"
LIBDEFLATE_SOURCES = ["lib/adler32.c", "lib/crc32.c", "lib/deflate_compress.c", "lib/deflate_decompress.c",
                      "lib/utils.c"]
LIBDEFLATE_COMPRESSOR = "deflate_libdeflate.c"  # one job = one gzip member's body
LIBDEFLATE_DEFINES = [
    # libdeflate's state per worker, measured (native build): 0.2 MB at level 1, 0.65 MB at
    # 2-9, 9.0 MB at 10-12 (the near-optimal parser). The arena is reserved, not touched,
    # beyond what the level uses.
    "-DWORKER_ARENA=(10*1024*1024)",
]
# libdeflate's speed on wasm32, measured with callgrind on 8 MB of GCIDE text (instructions of
# compressing 1 MiB pieces, bytes unchanged): SIMD128 lets clang vectorize the matchfinder's
# table init and rebase loops, which x86 builds get from hand-written SSE2/AVX2 (-15% at
# level 6, -15% at level 1); 64-bit machine words (below) -3% at 6, -6% at 1; together -19%
# and -21%. -O3 built the same module as -O2. Newer libdeflate (1.25) gave the same counts.
LIBDEFLATE_CPU = "-mcpu=generic+atomics+bulk_memory+simd128"
# Edits at build time (the tarball itself stays pinned). First: libdeflate's word type is size_t,
# 32 bits on wasm32, but wasm's 64-bit integer operations are native, so its bit buffers, match
# extension and match copies get 64-bit words, as on 64-bit CPUs (the code supports both sizes).
# Then pigz's one-stream layout, which libdeflate cannot write as released: a block primed with
# the input before it, and a non-final ending. libdeflate_block.c (wpigz_deflate_block) is
# included at the end of deflate_compress.c to see its internals; it sets two new fields of the
# compressor for one call: wpigz_dict, the bytes before `in` that each matchfinder (ht for level
# 1, hash chains for 2-9, binary trees for 10-12) inserts as history without emitting them, and
# wpigz_nonfinal, which clears the BFINAL bit of every block. libdeflate_alloc_compressor zeroes
# both, so libdeflate_deflate_compress (the members layout) is libdeflate's own path, unchanged
# (tests/test_sandbox_libdeflate.py compares it with the system's libdeflate).
_LD_PRIME = "\tif (c->wpigz_dict) {\t/* wpigz: the dictionary before the block, hashed, not emitted */\n"
LIBDEFLATE_EDITS = [
    ("common_defs.h", "typedef size_t machine_word_t;", "typedef u64 machine_word_t;"),
    ("lib/deflate_compress.c", "\tsize_t max_passthrough_size;\n",
     "\tsize_t max_passthrough_size;\n\tsize_t wpigz_dict;\t\t/* wpigz: priming bytes before in */\n"
     "\tbool wpigz_nonfinal;\t/* wpigz: no block is final */\n"),
    ("lib/deflate_compress.c", "\tc->max_passthrough_size = 55 - (compression_level * 4);\n",
     "\tc->max_passthrough_size = 55 - (compression_level * 4);\n\tc->wpigz_dict = 0;\n"
     "\tc->wpigz_nonfinal = false;\n"),
    ("lib/deflate_compress.c", "\tht_matchfinder_init(&c->p.f.ht_mf);\n",
     "\tht_matchfinder_init(&c->p.f.ht_mf);\n" + _LD_PRIME +
     "\t\tht_matchfinder_skip_bytes(&c->p.f.ht_mf, &in_cur_base, in_next, in_end, c->wpigz_dict, &next_hash);\n"
     "\t\tin_next += c->wpigz_dict;\n\t}\n"),
    ("lib/deflate_compress.c", "\thc_matchfinder_init(&c->p.g.hc_mf);\n",     # greedy and lazy
     "\thc_matchfinder_init(&c->p.g.hc_mf);\n" + _LD_PRIME +
     "\t\thc_matchfinder_skip_bytes(&c->p.g.hc_mf, &in_cur_base, in_next, in_end, c->wpigz_dict, next_hashes);\n"
     "\t\tin_next += c->wpigz_dict;\n\t}\n"),
    # binary trees insert one byte at a time; a dictionary of at most 32 KiB ends before the
    # first slide of the window (in_next_slide), so none is needed here
    ("lib/deflate_compress.c", "\tbt_matchfinder_init(&c->p.n.bt_mf);\n",
     "\tbt_matchfinder_init(&c->p.n.bt_mf);\n" + _LD_PRIME +
     "\t\tfor (; in_next < in + c->wpigz_dict; in_next++) {\n"
     "\t\t\tadjust_max_and_nice_len(&max_len, &nice_len, in_end - in_next);\n"
     "\t\t\tif (max_len >= BT_MATCHFINDER_REQUIRED_NBYTES)\n"
     "\t\t\t\tbt_matchfinder_skip_byte(&c->p.n.bt_mf, in_cur_base, in_next - in_cur_base, nice_len,\n"
     "\t\t\t\t\t\t\t c->max_search_depth, next_hashes);\n"
     "\t\t}\n\t\tin_block_begin = in_next;\n\t}\n"),
    # the near-optimal parser starts the first block from default costs, later ones from the
    # block before: the first block is the first after the dictionary (a job's output must not
    # depend on what the worker compressed before)
    ("lib/deflate_compress.c", "bool is_first = (in_block_begin == in);",
     "bool is_first = (in_block_begin == in + c->wpigz_dict);"),
    ("lib/deflate_compress.c", "\tASSERT(block_length <= MAX_BLOCK_LENGTH);\n",
     "\tASSERT(block_length <= MAX_BLOCK_LENGTH);\n\tis_final_block = is_final_block && !c->wpigz_nonfinal;\n"),
    ("lib/deflate_compress.c", "LIBDEFLATEEXPORT void LIBDEFLATEAPI\nlibdeflate_free_compressor",
     '#include "libdeflate_block.c"\t/* wpigz */\n\nLIBDEFLATEEXPORT void LIBDEFLATEAPI\nlibdeflate_free_compressor'),
]
LIBDEFLATE_INCLUDED = ["libdeflate_block.c"]    # beside deflate_compress.c, which includes it

# 65535 pages: the largest maximum wasm-ld accepts for a 32-bit memory. The host may
# create the shared memory with a smaller maximum.
MAX_MEMORY = 65535 * 65536

CFLAGS = [
    "-target", "wasm32-wasi",
    "-mcpu=generic+atomics+bulk_memory",
    "-mexec-model=reactor",
    "-O2",
    "-Wno-deprecated-non-prototype",     # zlib 1.2.13 still uses K&R definitions
    "-Wno-unused-command-line-argument", # the -D defines reach thread_start.s too, which has no use for them
]
LDFLAGS = [
    "-Wl,--import-memory",
    "-Wl,--export-memory",
    "-Wl,--shared-memory",
    f"-Wl,--max-memory={MAX_MEMORY}",
    "-Wl,--no-entry",
    "-Wl,--strip-all",
    "-Wl,-z,stack-size=262144",          # the main instance's stack; workers get their own
]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def debian_source_entries(suite: str = ZLIB_SUITE) -> str:
    """deb-src twins (deb822) of the machine's configured Debian entries for ZLIB_SUITE, for
    suite (the same mirrors serve the other suites)."""
    stanzas = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for block in Path(path).read_text().split("\n\n"):
            fields = {}
            for line in block.splitlines():
                if ":" in line and not line.startswith((" ", "#")):
                    key, value = line.split(":", 1)
                    fields[key.strip()] = value.strip()
            if ZLIB_SUITE in fields.get("Suites", "").split() and "main" in fields.get("Components", ""):
                stanza = ["Types: deb-src", f"URIs: {fields['URIs']}", f"Suites: {suite}",
                          "Components: main"]
                if "Signed-By" in fields:
                    stanza.append(f"Signed-By: {fields['Signed-By']}")
                stanzas.append("\n".join(stanza))
    list_file = Path("/etc/apt/sources.list")
    if list_file.exists():
        for line in list_file.read_text().splitlines():
            words = line.split()
            if len(words) >= 4 and words[0] == "deb" and words[2] == ZLIB_SUITE and "main" in words[3:]:
                stanzas.append(f"Types: deb-src\nURIs: {words[1]}\nSuites: {suite}\nComponents: main")
    if not stanzas:
        sys.exit(f"build.py: no Debian '{ZLIB_SUITE}' entry in the apt configuration; "
                 f"pass --zlib-tarball {ZLIB_TARBALL}")
    return "\n\n".join(stanzas) + "\n"


def fetch_zlib_tarball() -> Path:
    """Debian's orig tarball, from the cache or downloaded with a private apt setup."""
    return fetch_debian_tarball(f"{ZLIB_PACKAGE}={ZLIB_DEBIAN_VERSION}", ZLIB_SUITE, ZLIB_TARBALL, ZLIB_SHA256)


def fetch_debian_tarball(spec: str, suite: str, tarball: str, digest: str) -> Path:
    """A Debian source package's orig tarball (spec: package=version), from the cache or
    downloaded with a private apt setup, checked against digest."""
    cached = CACHE / tarball
    if cached.exists() and sha256(cached) == digest:
        return cached
    CACHE.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wpigz-apt-") as tmp:
        root = Path(tmp)
        (root / "parts").mkdir()
        (root / "parts" / "wpigz-src.sources").write_text(debian_source_entries(suite))
        (root / "empty.list").write_text("")
        for sub in ("lists/partial", "cache/archives/partial", "download"):
            (root / sub).mkdir(parents=True)
        apt = ["apt-get", "-q", "-o", "APT::Sandbox::User=root",
               "-o", f"Dir::Etc::SourceList={root / 'empty.list'}",
               "-o", f"Dir::Etc::SourceParts={root / 'parts'}",
               "-o", f"Dir::State::Lists={root / 'lists'}",
               "-o", f"Dir::Cache={root / 'cache'}"]
        subprocess.run(apt + ["update"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(apt + ["source", "--download-only", spec],
                       check=True, cwd=root / "download", stdout=subprocess.DEVNULL)
        shutil.copyfile(root / "download" / tarball, cached)
    if sha256(cached) != digest:
        sys.exit(f"build.py: {cached}: sha256 is not the pinned {digest}")
    return cached


def fetch_zlib_ng_sdist() -> Path:
    """python-zlib-ng's sdist from PyPI (cached), checked against the pinned sha256."""
    cached = CACHE / ZLIB_NG_SDIST
    if not (cached.exists() and sha256(cached) == ZLIB_NG_SHA256):
        CACHE.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="wpigz-pip-") as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                            ZLIB_NG_PIP, "-d", tmp], check=True)
            shutil.copyfile(Path(tmp) / ZLIB_NG_SDIST, cached)
    if sha256(cached) != ZLIB_NG_SHA256:
        sys.exit(f"build.py: {cached}: sha256 is not the pinned {ZLIB_NG_SHA256}")
    return cached


def build_zlib_ng(sdist: Path, output: Path) -> None:
    zig = check_zig()
    with tempfile.TemporaryDirectory(prefix="wpigz-build-ng-") as tmp:
        work = Path(tmp)
        top = extract(sdist, work)
        src = top / ZLIB_NG_DIR
        # what zlib-ng's CMake would generate for a zlib-compatible build without a symbol prefix
        (src / "zlib.h").write_text((src / "zlib.h.in").read_text().replace("@ZLIB_SYMBOL_PREFIX@", ""))
        shutil.copyfile(src / "zconf.h.in", src / "zconf.h")
        shutil.copyfile(src / "zlib_name_mangling.h.empty", src / "zlib_name_mangling.h")
        apply_edits(src, ZLIB_NG_EDITS, ZLIB_NG_SDIST)
        for name in [*ZLIB_NG_SIMD_SOURCES, *ZLIB_NG_SIMD_HEADERS]:
            shutil.copy(HERE / name, src / name)
        copy_glue(src, ZLIB_COMPRESSOR)
        generic = sorted(str(p.relative_to(src)) for p in (src / "arch" / "generic").glob("*.c"))
        cflags = [ZLIB_NG_CPU if flag.startswith("-mcpu=") else flag for flag in CFLAGS]
        link_module(zig, src, [*cflags, *ZLIB_NG_DEFINES, "-I.", *LDFLAGS, *GLUE_SOURCES, ZLIB_COMPRESSOR,
                               *ZLIB_NG_SOURCES, *ZLIB_NG_SIMD_SOURCES, *generic], output)


def fetch_pigz_tarball() -> Path:
    """pigz's orig tarball (for its bundled zopfli), from Debian like zlib's."""
    return fetch_debian_tarball(PIGZ_SPEC, PIGZ_SUITE, PIGZ_TARBALL, PIGZ_SHA256)


def build_zopfli(zlib_tarball: Path, pigz_tarball: Path, output: Path) -> None:
    """wpigz/zopfli.wasm: the glue, deflate_zopfli.c, pigz's zopfli and zlib (check values and
    decoders). Each zopfli file is compiled through a wrapper that force-includes
    zopfli_alloc.h, so only zopfli's malloc/free go to the per-worker heap."""
    check_pinned((zlib_tarball, ZLIB_SHA256), (pigz_tarball, PIGZ_SHA256))
    zig = check_zig()
    with tempfile.TemporaryDirectory(prefix="wpigz-build-zopfli-") as tmp:
        work = Path(tmp)
        zlib_top = extract(zlib_tarball, work / "zlib")
        pigz_top = extract(pigz_tarball, work / "pigz")
        top = work / "tree"
        top.mkdir()
        shutil.copytree(zlib_top, top / "zlib")
        shutil.copytree(pigz_top / ZOPFLI_DIR, top / "zopfli")
        copy_glue(top, ZOPFLI_COMPRESSOR)
        for name in ZOPFLI_GLUE:
            shutil.copy(HERE / name, top / name)
        shutil.copy(HERE / "zopfli_alloc.h", top / "zopfli" / "zopfli_alloc.h")
        apply_edits(top / "zopfli", ZOPFLI_EDITS, PIGZ_TARBALL)
        for name in ZOPFLI_INCLUDED:
            shutil.copy(HERE / name, top / "zopfli" / name)
        wrappers = []
        for name in ZOPFLI_SOURCES:
            wrapper = f"zopfli/wpigz_{name}"
            (top / wrapper).write_text(f'#include "zopfli_alloc.h"\n#include "{name}"\n')
            wrappers.append(wrapper)
        link_module(zig, top, [*CFLAGS, ZOPFLI_LTO, *ZOPFLI_DEFINES, "-Izlib", "-Izopfli", *LDFLAGS, *GLUE_SOURCES,
                               *ZOPFLI_GLUE, ZOPFLI_COMPRESSOR, *[f"zlib/{name}" for name in ZLIB_SOURCES],
                               *wrappers], output)


def fetch_libdeflate_tarball() -> Path:
    """libdeflate's Debian orig tarball (bookworm, like zlib's)."""
    return fetch_debian_tarball(f"{LIBDEFLATE_PACKAGE}={LIBDEFLATE_DEBIAN_VERSION}", ZLIB_SUITE, LIBDEFLATE_TARBALL,
                                LIBDEFLATE_SHA256)


def build_libdeflate(tarball: Path, zlib_tarball: Path, output: Path) -> None:
    """libdeflate 1.14 (compression, and decoding of indexed members) plus zlib 1.2.13 for the
    shared inflater and the check-value arithmetic, with the libdeflate compressor."""
    check_pinned((tarball, LIBDEFLATE_SHA256), (zlib_tarball, ZLIB_SHA256))
    zig = check_zig()
    with tempfile.TemporaryDirectory(prefix="wpigz-build-ld-") as tmp:
        work = Path(tmp)
        src = extract(tarball, work)
        zlib_dir = extract(zlib_tarball, src / "zlib-src")
        apply_edits(src, LIBDEFLATE_EDITS, LIBDEFLATE_TARBALL)
        copy_glue(src, LIBDEFLATE_COMPRESSOR)
        for name in LIBDEFLATE_INCLUDED:
            shutil.copy(HERE / name, src / "lib" / name)
        zlib_files = [str((zlib_dir / name).relative_to(src)) for name in ZLIB_SOURCES]
        cflags = [LIBDEFLATE_CPU if flag.startswith("-mcpu=") else flag for flag in CFLAGS]
        link_module(zig, src, [*cflags, *LIBDEFLATE_DEFINES, "-I.", f"-I{zlib_dir.relative_to(src)}", *LDFLAGS,
                               *GLUE_SOURCES, LIBDEFLATE_COMPRESSOR, *LIBDEFLATE_SOURCES, *zlib_files], output)


def check_pinned(*pinned: tuple[Path, str]) -> None:
    """Stop unless every (tarball, sha256) pair matches."""
    for tarball, digest in pinned:
        if sha256(tarball) != digest:
            sys.exit(f"build.py: {tarball}: sha256 is not the pinned {digest}")


def extract(tarball: Path, into: Path) -> Path:
    """Unpack tarball into the directory into; return the one top-level directory it holds."""
    with tarfile.open(tarball) as tar:
        tar.extractall(into, filter="data")
    (top,) = [p for p in into.iterdir() if p.is_dir()]
    return top


def link_module(zig: list[str], tree: Path, args: list[str], output: Path) -> None:
    """Compile and link one module with zig cc inside tree (relative paths only, so nothing
    about this machine reaches the output), then copy it to output."""
    subprocess.run(zig + ["cc", *args, "-o", "out.wasm"], check=True, cwd=tree)
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tree / "out.wasm", output)


def apply_edits(src: Path, edits: list[tuple[str, str, str]], origin: str) -> None:
    """Small edits (file, hook, replacement) of a pinned library's extracted sources: every
    occurrence of the hook is replaced, and each hook must be found, so a changed source fails
    the build instead of silently building without the edit."""
    for name, hook, replacement in edits:
        text = (src / name).read_text()
        if hook not in text:
            sys.exit(f"build.py: {origin}: {name} has no '{hook}' to edit")
        (src / name).write_text(text.replace(hook, replacement))


def copy_glue(src: Path, compressor: str) -> None:
    """Put wpigz's glue and one compressor beside a library's sources, to build in one tree."""
    for name in [*GLUE_SOURCES, *GLUE_HEADERS, compressor]:
        shutil.copy(HERE / name, src / name)


def check_zig() -> list[str]:
    zig = [sys.executable, "-m", "ziglang"]
    try:
        version = subprocess.run(zig + ["version"], check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        sys.exit(f"build.py: zig not found; pip install ziglang=={ZIG_VERSION}")
    if version != ZIG_VERSION:
        sys.exit(f"build.py: zig {version} found, {ZIG_VERSION} pinned; pip install ziglang=={ZIG_VERSION}")
    return zig


def build(tarball: Path, output: Path) -> None:
    check_pinned((tarball, ZLIB_SHA256))
    zig = check_zig()
    with tempfile.TemporaryDirectory(prefix="wpigz-build-") as tmp:
        work = Path(tmp)
        src = extract(tarball, work)
        copy_glue(src, ZLIB_COMPRESSOR)
        link_module(zig, src, [*CFLAGS, *ZLIB_DEFINES, "-I.", *LDFLAGS, *GLUE_SOURCES, ZLIB_COMPRESSOR, *ZLIB_SOURCES],
                    output)


# The licence of every library a module contains, taken from the same pinned sources and shipped
# in the wheel beside the modules (libdeflate's MIT and zopfli's Apache-2.0 licences ask for their
# text to travel with copies; zlib's and zlib-ng's are shipped too). Each entry: the file in
# wpigz/licenses/, and the path inside the source archive below its top directory.
LICENSES_DIR = REPO / "wpigz" / "licenses"
LICENSE_FILES = {"zlib.txt": "LICENSE", "zlib-ng.txt": f"{ZLIB_NG_DIR}/LICENSE.md",
                 "libdeflate.txt": "COPYING", "zopfli.txt": "zopfli/COPYING"}


def write_license(archive: Path, inner: str, output: Path) -> None:
    """Copy one licence text out of a pinned archive (already checked by its fetch)."""
    with tarfile.open(archive) as tar:
        (member,) = [m for m in tar.getmembers() if m.isfile() and m.name.split("/", 1)[-1] == inner]
        data = tar.extractfile(member).read()  # type: ignore[union-attr]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zlib-tarball", type=Path, help=f"use this local {ZLIB_TARBALL}")
    parser.add_argument("--check", action="store_true",
                        help="rebuild in a temporary place and fail if it differs from the committed module")
    args = parser.parse_args()
    tarball = args.zlib_tarball or fetch_zlib_tarball()
    sdist = fetch_zlib_ng_sdist()
    pigz_tarball = fetch_pigz_tarball()
    builds = [(OUTPUT, lambda target: build(tarball, target)), (OUTPUT_NG, lambda target: build_zlib_ng(sdist, target))]
    builds.append((OUTPUT_ZOPFLI, lambda target: build_zopfli(tarball, pigz_tarball, target)))
    ld_tarball = fetch_libdeflate_tarball()
    builds.append((OUTPUT_LD, lambda target: build_libdeflate(ld_tarball, tarball, target)))
    archives = {"zlib.txt": tarball, "zlib-ng.txt": sdist, "libdeflate.txt": ld_tarball, "zopfli.txt": pigz_tarball}
    for name, inner in LICENSE_FILES.items():
        builds.append((LICENSES_DIR / name,
                       lambda target, archive=archives[name], inner=inner: write_license(archive, inner, target)))
    for output, make in builds:
        if args.check:
            with tempfile.TemporaryDirectory(prefix="wpigz-check-") as tmp:
                fresh = Path(tmp) / output.name
                make(fresh)
                if not output.exists() or fresh.read_bytes() != output.read_bytes():
                    sys.exit(f"build.py --check: a fresh build ({sha256(fresh)}) differs from "
                             f"{output.relative_to(REPO)} ({sha256(output) if output.exists() else 'missing'})")
                print(f"build.py --check: {output.relative_to(REPO)} matches a fresh build ({sha256(fresh)})")
        else:
            make(output)
            print(f"build.py: wrote {output.relative_to(REPO)} ({output.stat().st_size} bytes, "
                  f"sha256 {sha256(output)})")


if __name__ == "__main__":
    main()
