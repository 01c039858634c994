"""wpigz: pigz-compatible parallel gzip, with zlib compiled to WebAssembly as its engine."""

__version__ = "0.1.0"
