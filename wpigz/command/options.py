"""Command-line options: the one table of wpigz's options, their defaults, and the parser.

The parser follows pigz's rules rather than argparse's: every option is read before any file
(``wpigz file -9`` compresses at level 9); short options bundle (``-kc9``) and take their
value attached or as the next argument (``-b64``, ``-p 2``, ``-Sz``); a level is a run of
digits; long options are exact names and take their value as the next argument or, as gzip's
do, after ``=`` (``--suffix=.x``); ``--`` ends the options; ``-`` is standard input, also after
``--`` (as in gzip). Default options come first from the ``GZIP``
and then the ``PIGZ`` environment variable, which may hold only harmless options (levels,
``-n``/``-N``, ``-q``/``-v``, ``--rsyncable``, ``--fast``/``--best``), as GNU gzip 1.13 allows.
``-h`` and the option table of docs/command.md are both generated from ``OPTIONS``.
"""

from __future__ import annotations

from .._record import dataclass, field        # dataclasses itself costs start-up time
TYPE_CHECKING = False                         # typing itself costs start-up time
if TYPE_CHECKING:
    from typing import Any, Iterator

from ..sandbox.engines import ENGINES, compressor_for, engines_for, layout_of
from ..encode.framing import BGZF_BLOCK
from ..encode.pipeline import Z_DEFAULT_STRATEGY, Z_HUFFMAN_ONLY, Z_RLE, DeflateOptions, ZopfliTuning, default_threads

DEFAULTS = DeflateOptions()

# headis bits, as pigz keeps them: bit 0 stores the name, bit 1 the modification time
HEAD_NAME = 0x1
HEAD_TIME = 0x2

ENV_VARIABLES = ("GZIP", "PIGZ")


class UsageError(Exception):
    """A bad command line; the message is shown as ``wpigz: <message>``, exit status 1."""


class Unsupported(UsageError):
    """A pigz option that wpigz does not offer: said in one line, with no pointer to --help,
    which would not help."""


@dataclass(frozen=True)
class Option:
    short: str | None           # the letter, or None for long-only options
    longs: tuple[str, ...]      # long names, as pigz spells them
    metavar: str | None         # the value it takes, if any
    help: str
    harmless: bool = False      # allowed in the GZIP and PIGZ variables
    shown: bool = True          # listed by -h (refused options are not)


OPTIONS: tuple[Option, ...] = (
    Option("0..9", (), None, f"Compression level (default {DEFAULTS.level}); -0 stores, -11 is pigz's zopfli "
                            f"(tens of times slower, about 5% smaller)", harmless=True),
    Option(None, ("fast",), None, "Same as -1", harmless=True),
    Option(None, ("best",), None, "Same as -9", harmless=True),
    Option("A", ("alias",), "NAME", "Name of the zip entry for standard input (default -)"),
    Option("b", ("blocksize",), "KiB", f"Compress in blocks of this many KiB, 32..524288 "
                                       f"(default {ENGINES['zlib'].blocksize // 1024}; "
                                       f"{ENGINES['zlib-ng'].blocksize // 1024} with --engine zlib-ng, "
                                       f"{ENGINES['libdeflate'].blocksize // 1024} with libdeflate)"),
    Option("c", ("stdout", "to-stdout"), None, "Write to standard output, keep the input files"),
    Option("d", ("decompress", "uncompress"), None, "Decompress (gzip, zlib, zip, .Z and zstd)"),
    Option("C", ("comment",), "TEXT", "Store TEXT as the gzip comment (zip: the entry's comment)"),
    Option("F", ("first",), None, "With -11: iterate before splitting blocks (no effect in pigz's zopfli)"),
    Option("f", ("force",), None, "Overwrite outputs, compress links, special files, any suffix, "
                                  "and to a terminal"),
    Option("h", ("help",), None, "Show this help and exit"),
    Option("H", ("huffman",), None, "Huffman coding only (zlib's Z_HUFFMAN_ONLY)"),
    Option("I", ("iterations",), "N", f"With -11: N optimization passes per block "
                                      f"(default {DEFAULTS.zopfli.iterations})"),
    Option("i", ("independent",), None, "Compress blocks independently (no shared dictionary)"),
    Option("J", ("maxsplits",), "N", f"With -11: at most N deflate blocks per block "
                                     f"(default {DEFAULTS.zopfli.maxsplits}, 0: no limit)"),
    Option("k", ("keep",), None, "Keep the input files"),
    Option("K", ("zip",), None, "Write a single-entry zip file (.zip), as pigz does"),
    Option("l", ("list",), None, "List the contents of compressed files (-lv: more columns, "
                                "-lt: decode and list every gzip member)"),
    Option("L", ("license",), None, "Show the version and license and exit"),
    Option("m", ("no-time",), None, "Do not store (with -d: restore) the modification time"),
    Option("M", ("time",), None, "Store (with -d: restore) the modification time (default when compressing)"),
    Option("n", ("no-name",), None, "Store (with -d: restore) neither name nor time", harmless=True),
    Option("N", ("name",), None, "Store (with -d: restore) name and time (default when compressing)",
           harmless=True),
    Option("O", ("oneblock",), None, "With -11: do not split blocks"),
    Option("p", ("processes",), "N", "Use N compression threads; with -d, -t: N threads decode indexed "
                                       "members (default: the number of CPUs)"),
    Option("q", ("quiet", "silent"), None, "Print no messages, not even errors", harmless=True),
    Option("r", ("recursive",), None, "Compress the files in directories, recursively"),
    Option("R", ("rsyncable",), None, "Make rsync-friendly output (pigz's rolling-hash block cuts)",
           harmless=True),
    Option("S", ("suffix",), "SUF", "Use suffix SUF instead of .gz (.zz with -z, .zip with -K)"),
    Option("t", ("test",), None, "Test the integrity of compressed files"),
    Option("T", (), None, "Same as -m"),
    Option("U", ("rle",), None, "Run-length encoding only (zlib's Z_RLE)"),
    Option("v", ("verbose",), None, "Name each file as it is compressed (-vv: tracebacks on errors)",
           harmless=True),
    Option("V", ("version",), None, "Show the version of wpigz and of its zlib engine and exit"),
    Option("Y", ("synchronous",), None, "Sync each output file to disk before removing its input"),
    Option("z", ("zlib",), None, "Write zlib format (.zz) instead of gzip"),
    Option(None, ("engine",), "NAME", "Deflate engine in wasm: zlib (default: pigz's exact bytes), "
                                      "zlib-ng (faster, slightly different bytes) or libdeflate (fastest "
                                      "and smallest: 1 MiB blocks, -11 is its level 12; no -H, -U)"),
    Option(None, ("members",), None, "Write one gzip member per block, each stating its size (an IG "
                                     "subfield), for parallel decoding and splitting, with any engine "
                                     "(default: one deflate stream, as pigz)"),
    Option(None, ("bgzf",), None, "Write BGZF, htslib's blocked gzip that bgzip, samtools and tabix "
                                  "read (64 KiB members; uses --engine libdeflate; no name, time or comment)"),
    Option(None, ("zstd",), None, "Write zstd (.zst) with the zstandard package's own multithreaded "
                                  "compressor (not sandboxed); levels 1-9 map to zstd 1,1,2,2,3,3,6,12,19 (-11 as -9)"),
    Option(None, ("progress",), None, "Show a progress bar even when stderr is not a terminal"),
    Option(None, ("no-progress",), None, "Never show a progress bar"),
    # refused in one plain line (Unsupported): LZW output and ascii conversion are not offered
    Option("Z", ("lzw", "bits", "LZW"), None, "", shown=False),
    Option("a", ("ascii",), None, "", shown=False),
)

NEEDS_VALUE = {o.short for o in OPTIONS if o.metavar and o.short} | \
              {name for o in OPTIONS if o.metavar for name in o.longs}
LONG_TO_SHORT = {name: (o.short or name) for o in OPTIONS for name in o.longs}
HARMLESS = {o.short for o in OPTIONS if o.harmless and o.short} | \
           {name for o in OPTIONS if o.harmless for name in o.longs}


@dataclass
class Settings:
    """Everything the command line asked for."""

    level: int = DEFAULTS.level
    blocksize: int = DEFAULTS.blocksize     # set from the engine's default after parsing unless -b
    blocksize_given: int | None = None      # -b, else the engine's default
    threads: int = field(default_factory=default_threads)
    strategy: int = Z_DEFAULT_STRATEGY
    zopfli: ZopfliTuning = ZopfliTuning()   # -I, -J, -F, -O (used at level 11)
    independent: bool = False
    rsyncable: bool = False
    head: int = HEAD_NAME | HEAD_TIME
    form: str = "gzip"                      # "gzip", "zlib", "zip" or "zstd"
    engine: str = "zlib"                    # a name in engines.ENGINES
    engine_given: bool = False              # --engine was on the command line (not the default)
    bgzf: bool = False                      # --bgzf: gzip members framed as htslib's BGZF
    members: bool = False                   # --members: one indexed gzip member per block
    suffix: str | None = None               # None: the format's own (.gz, .zz, .zip)
    comment: bytes | None = None
    alias: str = "-"
    stdout: bool = False
    force: bool = False
    keep: bool = False
    recursive: bool = False
    synchronous: bool = False
    verbosity: int = 1                      # 0 with -q, +1 for each -v
    progress: bool | None = None            # None: only when stderr is a terminal
    mode: str = "compress"                  # "compress", "decompress", "test" or "list"
    test_too: bool = False                  # -lt: list after really decoding
    help: bool = False
    version: bool = False
    license: bool = False
    files: list[str] = field(default_factory=list)

    @property
    def output_suffix(self) -> str:
        if self.suffix is not None:
            return self.suffix
        return {"gzip": ".gz", "zlib": ".zz", "zip": ".zip", "zstd": ".zst"}[self.form]

    @property
    def layout(self) -> str:
        """How the blocks become a file (engines.LAYOUTS); _check_engine has refused both."""
        return layout_of(members=self.members, bgzf=self.bgzf)

    def deflate_options(self) -> DeflateOptions:
        return DeflateOptions(level=self.level, blocksize=self.blocksize or ENGINES[self.engine].blocksize,
                              threads=self.threads,
                              strategy=self.strategy, independent=self.independent,
                              rsyncable=self.rsyncable, zopfli=self.zopfli, layout=self.layout,
                              check="adler32" if self.form == "zlib" else "crc32")



def _replace(record: Any, **changes: Any) -> Any:
    """dataclasses.replace for wpigz's records (dataclasses itself is kept off the start-up path)."""
    return type(record)(**{**vars(record), **changes})

def _number(value: str) -> int:
    if not value.isdigit() or not value.isascii():
        raise UsageError(f"invalid numeric parameter: {value}")
    return int(value)


def _c_int(value: str) -> int:
    """A numeric parameter as pigz stores -I and -J: read as a 64-bit size_t (larger is an
    invalid numeric parameter), then cast to a 32-bit int (2147483648 becomes negative)."""
    n = _number(value)
    if n >= 2**64:
        raise UsageError(f"invalid numeric parameter: {value}")
    n &= 0xFFFFFFFF
    return n - 2**32 if n >= 2**31 else n


def _apply(settings: Settings, key: str, value: str | None) -> None:
    """Apply one option, named by its letter (or its long name for long-only options)."""
    if key == "b":
        kib = _number(value or "")
        if kib < 32:
            raise UsageError("block size too small (must be >= 32K)")
        if kib > 512 * 1024:
            raise UsageError(f"block size too large: {value}")
        settings.blocksize = settings.blocksize_given = kib * 1024
    elif key == "p":
        n = _number(value or "")
        if n < 1:
            raise UsageError(f"invalid number of processes: {value}")
        if n > 256:
            raise UsageError(f"too many processes: {value}")
        settings.threads = n
    elif key == "S":
        if not value:
            raise UsageError("suffix cannot be empty")
        settings.suffix = value
    elif key == "C":
        settings.comment = (value or "").encode()
    elif key == "A":
        settings.alias = value or "-"
    elif key in ("fast", "best"):
        settings.level = 1 if key == "fast" else 9
    elif key == "engine":
        if value not in ENGINES:
            raise UsageError(f"unknown engine: {value} ({' or '.join(ENGINES)})")
        settings.engine = value
        settings.engine_given = True
    elif key == "zstd":
        settings.form = "zstd"
    elif key == "bgzf":
        settings.bgzf = True
    elif key == "members":
        settings.members = True
    elif key in ("progress", "no-progress"):
        settings.progress = key == "progress"
    elif key in SIMPLE:
        SIMPLE[key](settings)
    elif key == "d":
        if settings.mode == "compress":
            settings.head >>= 2             # pigz: the name/time bits now mean "restore"
            settings.mode = "decompress"
    elif key == "t":
        if settings.mode == "list":
            settings.test_too = True
        else:
            if settings.mode == "compress":
                settings.head >>= 2
            settings.mode = "test"
    elif key == "l":
        if settings.mode == "compress":
            settings.head >>= 2
        settings.test_too = settings.test_too or settings.mode == "test"
        settings.mode = "list"
    elif key == "I":
        iterations = _c_int(value or "")
        if iterations < 1:      # pigz 2.6 takes it and writes a stream that fails its CRC check
            raise UsageError(f"-I {value}: zopfli needs at least one iteration")
        settings.zopfli = _replace(settings.zopfli, iterations=iterations)
    elif key == "J":
        settings.zopfli = _replace(settings.zopfli, maxsplits=_c_int(value or ""))
    elif key == "F":
        settings.zopfli = _replace(settings.zopfli, first=True)
    elif key == "O":
        settings.zopfli = _replace(settings.zopfli, oneblock=True)
    elif key == "Z":
        raise Unsupported("-Z (LZW output) is not supported")
    elif key == "a":
        raise Unsupported("-a (ascii conversion) is not supported")
    else:
        raise UsageError(f"invalid option: -{key}")


def _set(attribute: str, value: object):
    return lambda settings: setattr(settings, attribute, value)


SIMPLE = {
    "c": _set("stdout", True),
    "f": _set("force", True),
    "h": _set("help", True),
    "H": _set("strategy", Z_HUFFMAN_ONLY),
    "U": _set("strategy", Z_RLE),
    "i": _set("independent", True),
    "k": _set("keep", True),
    "K": _set("form", "zip"),
    "z": _set("form", "zlib"),
    "L": _set("license", True),
    "r": _set("recursive", True),
    "R": _set("rsyncable", True),
    "V": _set("version", True),
    "Y": _set("synchronous", True),
    "q": _set("verbosity", 0),
    "v": lambda s: setattr(s, "verbosity", s.verbosity + 1),
    "m": lambda s: setattr(s, "head", s.head & ~0xA),
    "T": lambda s: setattr(s, "head", s.head & ~0xA),
    "M": lambda s: setattr(s, "head", s.head | 0xA),
    "n": _set("head", 0),
    "N": _set("head", 0xF),
}


def _set_level(settings: Settings, digits: str) -> None:
    level = int(digits)
    if level == 10 or level > 11:       # 11 is checked against the engine once all is parsed
        raise UsageError("only levels 0..9 and 11 are allowed")
    settings.level = level


def _next_value(args: Iterator[str], option: str) -> str:
    value = next(args, None)
    if value is None or value.startswith("-"):
        raise UsageError(f"missing parameter after {option}")
    return value


def _parse_into(settings: Settings, argv: list[str], variable: str | None) -> None:
    """Apply argv to settings. From an environment variable (variable set), only harmless
    options are accepted and file names are refused, with gzip's messages."""

    def check(key: str, spelled: str) -> None:
        if variable is not None and key not in HARMLESS:
            raise UsageError(f"{spelled}: option not valid in {variable} environment variable")

    args = iter(argv)
    options_done = False
    for arg in args:
        if options_done or arg == "-" or not arg.startswith("-"):
            if variable is not None:
                raise UsageError(f"{arg}: non-option in {variable} environment variable")
            settings.files.append(arg)
        elif arg == "--":
            check("--", arg)
            options_done = True
        elif arg.startswith("--"):
            name, equals, attached = arg[2:].partition("=")
            if name not in LONG_TO_SHORT:
                raise UsageError(f"invalid option: {arg}")
            check(name, f"--{name}")
            key = LONG_TO_SHORT[name]
            if name not in NEEDS_VALUE:
                if equals:
                    raise UsageError(f"option '--{name}' doesn't allow an argument")
                _apply(settings, key, None)
            else:
                _apply(settings, key, attached if equals else _next_value(args, arg))
        else:
            i = 1
            while i < len(arg):
                letter = arg[i]
                if letter.isdigit():
                    j = i
                    while j < len(arg) and arg[j].isdigit():
                        j += 1
                    _set_level(settings, arg[i:j])
                    i = j
                    continue
                check(letter, f"-{letter}")
                if letter in NEEDS_VALUE:
                    attached = arg[i + 1:]
                    _apply(settings, letter, attached if attached else _next_value(args, f"-{letter}"))
                    break
                _apply(settings, letter, None)
                i += 1


def parse(argv: list[str], environ: dict[str, str] | None = None) -> Settings:
    """Parse GZIP, then PIGZ (when environ is given), then the arguments after the program name."""
    settings = Settings()
    for variable in ENV_VARIABLES:
        if environ and environ.get(variable, "").split():
            _parse_into(settings, environ[variable].split(), variable)
    _parse_into(settings, argv, None)
    _check_engine(settings)
    return settings


def _check_engine(settings: Settings) -> None:
    """What the chosen engine cannot do (engines.py), refused once every option is known; the
    engine's own default block size unless -b was given."""
    if settings.bgzf:
        if settings.form != "gzip" or settings.blocksize_given is not None or settings.comment is not None:
            raise UsageError("--bgzf writes BGZF only: not with -z, -K, --zstd, -b or -C")
        if settings.members:
            raise UsageError("--bgzf and --members are two layouts: choose one")
        if not settings.engine_given:       # the engine that writes BGZF
            settings.engine = engines_for("bgzf")[0]
        if "bgzf" not in ENGINES[settings.engine].layouts:
            raise UsageError(f"--bgzf needs --engine {' or '.join(engines_for('bgzf'))}, not {settings.engine}")
        settings.blocksize_given = BGZF_BLOCK
        settings.blocksize = BGZF_BLOCK
    info = ENGINES[settings.engine]
    if settings.level not in info.levels:
        raise UsageError(f"--engine {info.name} has no level {settings.level}")
    if settings.members and settings.form != "gzip":
        raise UsageError(f"--members writes gzip members: not with "
                         f"{ {'zlib': '-z', 'zip': '-K', 'zstd': '--zstd'}[settings.form]}")
    if not info.strategies and settings.strategy != Z_DEFAULT_STRATEGY and settings.form != "zstd":
        raise UsageError(f"--engine {info.name} has no -H or -U (zlib strategies)")
    if settings.blocksize_given is None:     # the default of the module compressing this level
        settings.blocksize = compressor_for(settings.engine, settings.level).blocksize


def help_rows() -> list[tuple[str, str]]:
    """(option spelling, description) for every listed option: used by -h and docs/command.md."""
    rows = []
    for option in OPTIONS:
        if not option.shown:
            continue
        names = []
        if option.short:
            names.append("-" + option.short if option.short != "0..9" else "-0 .. -9")
        names += ["--" + name for name in option.longs]
        spelled = ", ".join(names) + (f" {option.metavar}" if option.metavar else "")
        rows.append((spelled, option.help))
    return rows


def markdown_table() -> str:
    """docs/command.md's option table (tests/test_readme.py keeps it in step with this)."""
    lines = ["| option | meaning |", "|---|---|"]
    lines += [f"| `{spelled}` | {text} |" for spelled, text in help_rows()]
    return "\n".join(lines) + "\n"


def help_text(program: str) -> str:
    rows = help_rows()
    width = max(len(spelled) for spelled, _ in rows)
    lines = [f"Usage: {program} [options] [files ...]",
             "  Compress each file into file.gz in parallel, pigz-compatible (or decompress with -d);",
             "  with no file (or -), standard input to standard output.",
             "",
             "Options:"]
    lines += [f"  {spelled.ljust(width)}  {text}" for spelled, text in rows]
    lines += ["", f"Default options may be set in the {' and '.join(ENV_VARIABLES)} environment "
                  "variables (harmless ones only)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
