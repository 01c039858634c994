"""Encoding: blocks in, a gzip, zlib or zip stream out (the folder is not called ``compress``,
which is the library's function ``wpigz.compress``). ``pipeline`` cuts the input into blocks,
hands them to the sandbox's workers through the ring (about two per thread in flight) and
writes their outputs in order; ``framing`` writes what surrounds the deflate data (headers,
trailers, the combined check value, indexed members, BGZF). It may import ``wpigz.sandbox``
and ``wpigz._record``, never the decoders, the command or the library above it."""
