"""wpigz: pigz-compatible parallel gzip, with zlib compiled to WebAssembly as its engine.

The library mirrors Python's gzip module: ``wpigz.open``, ``wpigz.GzipFile``,
``wpigz.compress``, ``wpigz.decompress`` and ``wpigz.BadGzipFile``, plus ``threads`` and
``blocksize`` arguments. The command is ``wpigz`` (see ``wpigz -h``).
"""

__version__ = "0.1.0"

from .api import READ, WRITE, BadGzipFile, GzipFile, compress, decompress, open  # noqa: E402
from .pipeline import ZopfliTuning  # noqa: E402
from .wasm_host import EngineError  # noqa: E402

__all__ = ["BadGzipFile", "EngineError", "GzipFile", "READ", "WRITE", "ZopfliTuning", "compress", "decompress", "open",
           "__version__"]
