"""Start-up of the command, for the console script and for ``python -m wpigz``.

Importing the command builds tens of thousands of objects (wasmtime's ctypes bindings above
all), and the garbage collections that this triggers find nothing to free: they were 34M of
the 292M instructions that ``wpigz -c`` spent on a one-line file (callgrind). So the import
runs with collections off, and the objects it made, which live until exit, are then frozen
out of every later collection. The library (``import wpigz``) is left alone.
"""

from __future__ import annotations

import gc


def main() -> int:
    collecting = gc.isenabled()
    gc.disable()
    try:
        from .cli import main as command
    finally:
        if collecting:
            gc.freeze()
            gc.enable()
    return command()
