"""Start-up of the command, for the console script and for ``python -m wpigz``.

Importing the command builds thousands of objects (modules, classes, ctypes prototypes), and
the garbage collections that this triggers find nothing to free: they were 17M of the 182M
instructions that ``wpigz -c`` spent on a one-line file (callgrind; 34M of 292M when wpigz
still imported wasmtime-py). So the import runs with collections off, and the objects it made,
which live until exit, are then frozen out of every later collection. The library (``import
wpigz``) is left alone.

A wasmtime that wpigz cannot use (wasmtime_version) stops every command here, -h and -V too,
with one ``wpigz:`` line saying which wasmtime is installed and which would work.
"""

from __future__ import annotations

import gc
import sys

from ..sandbox.wasmtime_version import WasmtimeUnusable


def main() -> int:
    collecting = gc.isenabled()
    gc.disable()
    try:
        from .cli import main as command
    except WasmtimeUnusable as error:   # every command needs wasmtime, even -h (cli imports it)
        sys.stderr.write(f"wpigz: {error}\n")
        return 1
    finally:
        if collecting:
            gc.freeze()
            gc.enable()
    return command()
