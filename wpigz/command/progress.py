"""Progress: one tqdm bar on stderr while a command compresses, decompresses or tests its
inputs (the only module importing tqdm).

Shown when stderr is a terminal (or with ``--progress``), never with ``-q`` or
``--no-progress``: the input bytes read over all inputs, with the total and an ETA when every
input is a regular file, the rate, the ratio so far, which input of how many is being read, and
how many are done. Sizes and rates are in
1000-based units (kB, MB, MB/s), as tqdm prints them. The ratio is what gzip's and ``wpigz -l``'s
ratio is: the space saved, 100 * (1 - compressed / original). The pipeline (or the decoder)
reports every piece; the bar is redrawn at most every ``REFRESH_SECONDS`` so it costs nothing
measurable. A terminal that reports a size of 0 x 0 (a fresh pseudo-terminal does) gets a bar
80 columns wide (on row 1 of 24). The bar is removed when the command is done, so a successful run leaves the
screen as it was.
"""

from __future__ import annotations

import os
import sys
import time
TYPE_CHECKING = False                         # typing itself costs start-up time
if TYPE_CHECKING:
    from typing import IO

REFRESH_SECONDS = 0.2
FALLBACK_COLUMNS = 80
FALLBACK_ROWS = 24          # tqdm hides a bar below the last row, and 0 rows hides every bar


def wanted(setting: bool | None, verbosity: int, output_on_terminal: bool = False) -> bool:
    """--progress forces it on, --no-progress or -q off; otherwise only on a terminal, and not
    when the output itself goes to that terminal (`wpigz -dc f.gz` read on the screen: the bar
    would be drawn into the text)."""
    if verbosity == 0 or setting is False:
        return False
    return setting is True or (sys.stderr.isatty() and not output_on_terminal)


def _columns(stream: IO[str]) -> int:
    """The terminal's width, or 0 when it reports none (then the bar has a fixed width)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


class Progress:
    """The command's one bar: the input bytes of every input (the total when they are all
    regular files), which input is being read (``[index/count] name``), how many are done,
    and the ratio so far. ``update`` takes the input bytes read and the output bytes written
    since the last call; decompressing says which of them is the compressed side. A tree of
    thousands of files gets this one bar, not a bar per file."""

    def __init__(self, count: int, total: int | None, stream: IO[str] | None = None,
                 *, decompressing: bool = False) -> None:
        from tqdm import tqdm
        stream = stream or sys.stderr
        sized = _columns(stream) > 0
        self._bar = tqdm(total=total, desc="", unit="B", unit_scale=True,
                         unit_divisor=1000, file=stream, leave=False, dynamic_ncols=sized,
                         ncols=None if sized else FALLBACK_COLUMNS, nrows=None if sized else FALLBACK_ROWS,
                         mininterval=REFRESH_SECONDS)
        self._count = count
        self._done = 0
        self._decompressing = decompressing
        self._pending = 0
        self._read = 0
        self._written = 0
        self._last = time.monotonic()

    def begin(self, label: str, index: int) -> None:
        """Input index (1-based) of count is being read now."""
        # drawn at once for the first input (the bar may never be redrawn for a small one),
        # else with the next refresh
        self._bar.set_description_str(f"[{index}/{self._count}] {label}", refresh=index == 1)

    def file_done(self) -> None:
        self._done += 1

    def update(self, read: int, written: int) -> None:
        self._pending += read
        self._read += read
        self._written += written
        now = time.monotonic()
        if now - self._last >= REFRESH_SECONDS:
            self._flush(now)

    def saved(self) -> float | None:
        """The space saved so far, in percent (None before any original byte)."""
        compressed, original = self._read, self._written
        if not self._decompressing:
            compressed, original = original, compressed
        return 100 * (original - compressed) / original if original else None

    def _flush(self, now: float) -> None:
        saved = self.saved()
        parts = [f"{self._done}/{self._count} files done"] if self._count > 1 else []
        if saved is not None:
            parts.append(f"ratio {saved:.1f}%")
        if parts:
            self._bar.set_postfix_str(", ".join(parts), refresh=False)
        self._bar.update(self._pending)
        self._pending = 0
        self._last = now

    def clear(self) -> None:
        """Take the bar off the screen (a line of text is about to be written)."""
        self._bar.clear()

    def redraw(self) -> None:
        self._bar.refresh()

    def close(self) -> None:
        self._flush(time.monotonic())
        self._bar.refresh()         # the final count, even when the run took less than a refresh
        self._bar.close()
