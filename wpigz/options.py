"""Command-line options: the one table of wpigz's options, their defaults, and the parser.

The parser follows pigz's rules rather than argparse's: every option is read before any file
(``wpigz file -9`` compresses at level 9); short options bundle (``-kc9``) and take their
value attached or as the next argument (``-b64``, ``-p 2``); a level is a run of digits;
long options are exact names (no ``--name=value``); ``--`` ends the options; a lone ``-``
is standard input. ``-h`` and the README's option table are both generated from ``OPTIONS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .pipeline import Z_DEFAULT_STRATEGY, DeflateOptions, default_threads

DEFAULTS = DeflateOptions()

# headis bits, as pigz keeps them: bit 0 stores the name, bit 1 the modification time
HEAD_NAME = 0x1
HEAD_TIME = 0x2


class UsageError(Exception):
    """A bad command line; the message is shown as ``wpigz: <message>``."""


@dataclass(frozen=True)
class Option:
    short: str | None           # the letter, or None for long-only options
    longs: tuple[str, ...]      # long names, as pigz spells them
    metavar: str | None         # the value it takes, if any
    help: str


OPTIONS: tuple[Option, ...] = (
    Option("0..9", (), None, f"Compression level (default {DEFAULTS.level}); -0 stores"),
    Option(None, ("fast",), None, "Same as -1"),
    Option(None, ("best",), None, "Same as -9"),
    Option("b", ("blocksize",), "KiB", f"Compress in blocks of this many KiB, 32..524288 "
                                       f"(default {DEFAULTS.blocksize // 1024})"),
    Option("c", ("stdout", "to-stdout"), None, "Write to standard output"),
    Option("f", ("force",), None, "Write compressed data even to a terminal"),
    Option("h", ("help",), None, "Show this help and exit"),
    Option("i", ("independent",), None, "Compress blocks independently (no shared dictionary)"),
    Option("m", ("no-time",), None, "Do not store the modification time in the header"),
    Option("M", ("time",), None, "Store the modification time in the header (default)"),
    Option("n", ("no-name",), None, "Store neither name nor time in the header"),
    Option("N", ("name",), None, "Store name and time in the header (default)"),
    Option("p", ("processes",), "N", "Use N compression threads (default: the number of CPUs)"),
    Option("V", ("version",), None, "Show the version of wpigz and of its zlib engine"),
    Option("z", ("zlib",), None, "Write zlib format (.zz) instead of gzip"),
)

NEEDS_VALUE = {o.short for o in OPTIONS if o.metavar and o.short} | \
              {name for o in OPTIONS if o.metavar for name in o.longs}
LONG_TO_SHORT = {name: o.short for o in OPTIONS for name in o.longs}


@dataclass
class Settings:
    """Everything the command line asked for."""

    level: int = DEFAULTS.level
    blocksize: int = DEFAULTS.blocksize
    threads: int = field(default_factory=default_threads)
    strategy: int = Z_DEFAULT_STRATEGY
    independent: bool = False
    head: int = HEAD_NAME | HEAD_TIME
    zlib: bool = False
    stdout: bool = False
    force: bool = False
    help: bool = False
    version: bool = False
    files: list[str] = field(default_factory=list)

    def deflate_options(self) -> DeflateOptions:
        return DeflateOptions(level=self.level, blocksize=self.blocksize, threads=self.threads,
                              strategy=self.strategy, independent=self.independent,
                              check="adler32" if self.zlib else "crc32")


def _number(option: str, value: str) -> int:
    if not value.isdigit() or not value.isascii():
        raise UsageError(f"invalid numeric parameter: {value}")
    return int(value)


def _apply(settings: Settings, letter: str, value: str | None) -> None:
    """Apply one short option (long ones are mapped to their letter first)."""
    if letter == "b":
        kib = _number("-b", value or "")
        if kib < 32:
            raise UsageError("block size too small (must be >= 32K)")
        if kib > 512 * 1024:
            raise UsageError(f"block size too large: {value}")
        settings.blocksize = kib * 1024
    elif letter == "p":
        n = _number("-p", value or "")
        if n < 1:
            raise UsageError(f"invalid number of processes: {value}")
        if n > 256:
            raise UsageError(f"too many processes: {value}")
        settings.threads = n
    elif letter == "c":
        settings.stdout = True
    elif letter == "f":
        settings.force = True
    elif letter == "h":
        settings.help = True
    elif letter == "i":
        settings.independent = True
    elif letter == "m":
        settings.head &= ~0xA
    elif letter == "M":
        settings.head |= 0xA
    elif letter == "n":
        settings.head = 0
    elif letter == "N":
        settings.head = 0xF
    elif letter == "V":
        settings.version = True
    elif letter == "z":
        settings.zlib = True
    else:
        raise UsageError(f"invalid option: -{letter}")


def _set_level(settings: Settings, digits: str) -> None:
    level = int(digits)
    if level == 11:
        raise UsageError("level 11 (zopfli) is not supported by wpigz")
    if level > 9:
        raise UsageError("only levels 0..9 are allowed")
    settings.level = level


def parse(argv: list[str]) -> Settings:
    """Parse the arguments after the program name."""
    settings = Settings()
    args = iter(argv)
    options_done = False
    for arg in args:
        if options_done or arg == "-" or not arg.startswith("-"):
            settings.files.append(arg)
        elif arg == "--":
            options_done = True
        elif arg.startswith("--"):
            name = arg[2:]
            if name == "fast":
                settings.level = 1
            elif name == "best":
                settings.level = 9
            elif name in LONG_TO_SHORT:
                letter = LONG_TO_SHORT[name]
                value = _next_value(args, arg) if name in NEEDS_VALUE else None
                _apply(settings, letter, value)
            else:
                raise UsageError(f"invalid option: {arg}")
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
                if letter in NEEDS_VALUE:
                    attached = arg[i + 1:]
                    _apply(settings, letter, attached if attached else _next_value(args, f"-{letter}"))
                    break
                _apply(settings, letter, None)
                i += 1
    return settings


def _next_value(args, option: str) -> str:
    value = next(args, None)
    if value is None or value.startswith("-"):
        raise UsageError(f"missing parameter after {option}")
    return value


def help_rows() -> list[tuple[str, str]]:
    """(option spelling, description) for every option: used by -h and the README table."""
    rows = []
    for option in OPTIONS:
        names = []
        if option.short:
            names.append("-" + option.short if option.short != "0..9" else "-0 .. -9")
        names += ["--" + name for name in option.longs]
        spelled = ", ".join(names) + (f" {option.metavar}" if option.metavar else "")
        rows.append((spelled, option.help))
    return rows


def markdown_table() -> str:
    """The README's option table (tests/test_readme.py keeps the README in step with it)."""
    lines = ["| option | meaning |", "|---|---|"]
    lines += [f"| `{spelled}` | {text} |" for spelled, text in help_rows()]
    return "\n".join(lines) + "\n"


def help_text(program: str) -> str:
    rows = help_rows()
    width = max(len(spelled) for spelled, _ in rows)
    lines = [f"Usage: {program} [options] [files ...]",
             "  Compress files in parallel, pigz-compatible; with no file (or -), standard input",
             "  to standard output.",
             "",
             "Options:"]
    lines += [f"  {spelled.ljust(width)}  {text}" for spelled, text in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
