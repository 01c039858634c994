"""Decoding's one entry point: recognise the format, then choose the decoder.

``decode`` reads the first bytes (``sequential.detect``), applies the caller's restrictions
(formats, passthrough for -cdf), and hands the input to one path: zstd to the ``zstandard``
package, a gzip file whose first member states its size to ``members`` (indexed members decoded
several at once), anything else to ``sequential``. Every path raises the same ``CorruptInput`` and
``Unrecognized`` (defined in ``sequential``) with the same wording, and a path that cannot go on
hands the rest of the input back to ``sequential`` rather than growing error rules of its own.
This module sits above the decoders it chooses between, so none of them imports it: that is
what lets ``members`` build on ``sequential`` without an import running back up.
"""

from __future__ import annotations

TYPE_CHECKING = False                         # typing itself costs start-up time
if TYPE_CHECKING:
    from typing import IO
    from .sequential import Output, Sink

from ..sandbox.wasm_host import Decoder, Runtime
from .stream import Source, Unrecognized
from .sequential import Decoded, detect, _copy, _gzip, _lzw, _zip, _zlib, _zstd
from . import chunks
from . import members


def decode(raw: IO[bytes], runtime: Runtime, decoded: Decoded | None = None, *,
           passthrough: bool = False, formats: tuple[str, ...] | None = None, strict: bool = False,
           threads: int | None = None, decoder: Decoder | None = None) -> Output:
    """Decode all of raw (any supported format, or only those in formats), yielding the output
    in pieces; what was found is recorded in decoded. Raises Unrecognized (before yielding
    anything) or CorruptInput. With passthrough (-cdf), input in no known format (or empty)
    is yielded unchanged. strict treats what follows a gzip member as Python's gzip module
    does. threads bounds the workers that decode indexed members and the chunks of one large
    deflate stream (-p; None: the CPU count). decoder, when given, is the caller's (a Decoder
    of runtime's, kept from file to file: each format starts it afresh); else one is made
    for this input and freed at the end, or when the generator is closed early."""
    decoded = decoded if decoded is not None else Decoded("unknown")
    source = Source(raw)
    head = source.peek(4)
    form = detect(head) if head else None
    if form is not None and formats is not None and form not in formats:
        form = None
    if form is None and passthrough:
        decoded.form = "copy"
        yield from _copy(source)
        return
    if not head:
        raise Unrecognized("empty")
    if form is None:
        raise Unrecognized("unrecognized format")
    decoded.form = form
    if form == "zstd":
        yield from _zstd(source, decoded)
        return
    if form == "gzip" and members.first_is_indexed(source):     # sizes stated: decode in parallel
        yield from members.decode_members(source, runtime, decoded, strict, passthrough, threads)
        return
    split = threads if threads is not None else chunks.default_threads()
    owned = Decoder(runtime) if decoder is None else None
    using = decoder or owned
    assert using is not None
    try:
        if form in ("gzip", "pack"):
            yield from _gzip(source, using, decoded, strict, passthrough, threads=split)
        elif form == "zlib":
            yield from _zlib(source, using, decoded, threads=split)
        else:
            yield from {"zip": _zip, "lzw": _lzw}[form](source, using, decoded)
    finally:
        if owned is not None:
            owned.close()


def decompress(raw: IO[bytes], sink: Sink, runtime: Runtime, *, passthrough: bool = False,
               threads: int | None = None, decoder: Decoder | None = None) -> Decoded:
    """Decode all of raw into sink, in pieces (see decode); returns what was found."""
    decoded = Decoded("unknown")
    for piece in decode(raw, runtime, decoded, passthrough=passthrough, threads=threads, decoder=decoder):
        sink(piece)
    return decoded
