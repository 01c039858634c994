"""Decoding: one family of decoders behind one entry point, with one set of error rules.
``entry`` (``decode``/``decompress``) recognises the format and chooses the path; ``sequential``
parses the container headers of every format in plain Python and has the sandbox inflate the
data, raising ``CorruptInput``/``Unrecognized`` with pigz's and gzip's wording; ``members``
decodes indexed gzip members several at once and hands any range it cannot trust back to
``sequential``. Faster paths never grow error rules of their own. It may import
``wpigz.sandbox``, ``wpigz.encode`` (the default thread count only) and ``wpigz._record``;
the command and the library import it, never the reverse."""
