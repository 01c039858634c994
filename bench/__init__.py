"""wpigz's benchmark suite: ``python -m bench`` (``--quick`` for a version of about ten minutes).

It measures wpigz against the tools a user would otherwise pick -- GNU gzip, pigz, Python's
gzip module, pgzip, python-isal's igzip_threaded, python-zlib-ng's gzip_ng_threaded, rapidgzip
(decompressing), and zstd for reference -- on a corpus it builds itself from real data (corpus.py), and writes
bench/RESULTS.md with tables and bench/plots/*.png. Every tool runs as its own process
(drivers.py wraps the Python libraries), so wall time, CPU time and peak RSS are measured the
same way for all of them.

Layout: measure.py runs one command and knows each tool's command line; suite.py measures the
core tables and runs the sections registered in sections.py (speed.py, engines.py, zopfli.py,
layouts.py, many_files.py, chunked.py, dask.py, libdeflate.py; `python -m bench --list`), which
import measure.py, never suite.py; report.py writes RESULTS.md; figures.py turns RESULTS.md into
the README's table.
"""
