"""wpigz: pigz-compatible parallel gzip, with zlib compiled to WebAssembly as its engine.

The library mirrors Python's gzip module: ``wpigz.open``, ``wpigz.GzipFile``,
``wpigz.compress``, ``wpigz.decompress`` and ``wpigz.BadGzipFile``, plus ``threads`` and
``blocksize`` arguments. The command is ``wpigz`` (see ``wpigz -h``).

The names are imported on first use (PEP 562), so that ``python -m wpigz`` -- which imports
this package before the command -- does not pay for the library API it does not use.
"""

# No "from __future__ import annotations" and no "from typing import ...": either would leave a
# name (annotations, Any) in the package's namespace, which holds only __all__. Nor is typing
# imported at run time: it costs the command's start-up time (wpigz/_record.py); the
# TYPE_CHECKING flag (false at run time, true for type checkers) is deleted once read.
TYPE_CHECKING = False

__version__ = "0.1.0"

__all__ = ["BadGzipFile", "EngineError", "GzipFile", "READ", "WRITE", "ZopfliTuning", "compress", "decompress",
           "open",
           "__version__"]

_SUBMODULES = {"api", "command", "decode", "encode", "sandbox"}
_API = {"BadGzipFile", "GzipFile", "READ", "WRITE", "compress", "decompress", "open"}

if TYPE_CHECKING:
    import typing as _typing
    from .api import READ, WRITE, BadGzipFile, GzipFile, compress, decompress, open  # noqa: F401
    from .encode.pipeline import ZopfliTuning  # noqa: F401
    from .sandbox.wasm_host import EngineError  # noqa: F401
del TYPE_CHECKING


def __getattr__(name: str) -> "_typing.Any":
    if name in _API:
        from . import api
        value = getattr(api, name)
    elif name == "ZopfliTuning":
        from .encode import pipeline
        value = pipeline.ZopfliTuning
    elif name == "EngineError":
        from .sandbox import wasm_host
        value = wasm_host.EngineError
    elif name in _SUBMODULES:          # wpigz.api etc. after a bare "import wpigz", as before
        import importlib
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'wpigz' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public API only (``__all__``): not the helpers, nor the submodules imported so far."""
    return sorted(__all__)
