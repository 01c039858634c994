"""wpigz's benchmark suite: ``python -m bench`` (``--quick`` for a few minutes' version).

It measures wpigz against the tools a user would otherwise pick -- GNU gzip, pigz, Python's
gzip module, python-isal's igzip_threaded, python-zlib-ng's gzip_ng_threaded, and zstd for
reference -- on a corpus it builds itself from real data (corpus.py), and writes
bench/RESULTS.md with tables and bench/plots/*.png. Every tool runs as its own process
(drivers.py wraps the Python libraries), so wall time, CPU time and peak RSS are measured the
same way for all of them.
"""
