"""Command-line wrappers, so that the Python libraries run as processes like the other tools.

    python bench/drivers.py compress TOOL LEVEL THREADS INPUT OUTPUT
    python bench/drivers.py decompress TOOL THREADS INPUT OUTPUT
    python bench/drivers.py generate SIZE TEXTFILE        # SIZE bytes of text to stdout

TOOL is gzip (Python's module), isal (igzip_threaded), zlib-ng (gzip_ng_threaded) or pgzip. isal has
levels 0-3: the bench's levels 1, 6, 9 become isal 1, 2, 3.
"""

from __future__ import annotations

import shutil
import sys

ISAL_LEVELS = {1: 1, 6: 2, 9: 3}
CHUNK = 1 << 20


def opener(tool: str, threads: int):
    if tool == "gzip":
        import gzip
        return lambda path, mode, level=None: gzip.open(path, mode, **({"compresslevel": level} if level else {}))
    if tool == "isal":
        from isal import igzip_threaded
        return lambda path, mode, level=None: igzip_threaded.open(
            path, mode, threads=threads, **({"compresslevel": ISAL_LEVELS[level]} if level else {}))
    if tool == "pgzip":
        import pgzip
        return lambda path, mode, level=None: pgzip.open(
            path, mode, thread=threads, **({"compresslevel": level} if level else {}))
    if tool == "zlib-ng":
        from zlib_ng import gzip_ng_threaded
        return lambda path, mode, level=None: gzip_ng_threaded.open(
            path, mode, threads=threads, **({"compresslevel": level} if level else {}))
    raise SystemExit(f"unknown tool {tool}")


def main(argv: list[str]) -> None:
    if argv[0] == "compress":
        tool, level, threads, source, target = argv[1], int(argv[2]), int(argv[3]), argv[4], argv[5]
        with open(source, "rb") as src, opener(tool, threads)(target, "wb", level) as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    elif argv[0] == "decompress":
        tool, threads, source, target = argv[1], int(argv[2]), argv[3], argv[4]
        with opener(tool, threads)(source, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    elif argv[0] == "generate":
        size, text = int(argv[1]), open(argv[2], "rb").read()
        out = sys.stdout.buffer
        while size > 0:
            piece = text[:size]
            out.write(piece)
            size -= len(piece)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
