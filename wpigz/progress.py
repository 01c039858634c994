"""Progress: a tqdm bar on stderr while a file is compressed (the only module importing tqdm).

Shown for each input when stderr is a terminal (or with ``--progress``), never with ``-q`` or
``--no-progress``: bytes read, with the total and an ETA when the input is a regular file, the
rate, the compression ratio so far, and which input of how many. The pipeline reports every
job; the bar is updated at most every ``REFRESH_SECONDS`` so it costs nothing measurable. The
bar is removed when the file is done, so a successful run leaves the screen as it was.
"""

from __future__ import annotations

import sys
import time

REFRESH_SECONDS = 0.2


def wanted(setting: bool | None, verbosity: int) -> bool:
    """--progress forces it on, --no-progress or -q off; otherwise only on a terminal."""
    if verbosity == 0 or setting is False:
        return False
    return setting is True or sys.stderr.isatty()


class FileProgress:
    """One input's bar. ``update`` takes the bytes read and written by one job."""

    def __init__(self, label: str, index: int, count: int, total: int | None, stream=None) -> None:
        from tqdm import tqdm
        self._bar = tqdm(total=total, desc=f"[{index}/{count}] {label}", unit="B", unit_scale=True,
                         unit_divisor=1024, file=stream or sys.stderr, leave=False, dynamic_ncols=True,
                         mininterval=REFRESH_SECONDS)
        self._pending = 0
        self._read = 0
        self._written = 0
        self._last = time.monotonic()

    def update(self, read: int, written: int) -> None:
        self._pending += read
        self._read += read
        self._written += written
        now = time.monotonic()
        if now - self._last >= REFRESH_SECONDS:
            self._flush(now)

    def _flush(self, now: float) -> None:
        if self._read:
            self._bar.set_postfix_str(f"ratio {100 * self._written / self._read:.1f}%", refresh=False)
        self._bar.update(self._pending)
        self._pending = 0
        self._last = now

    def close(self) -> None:
        self._flush(time.monotonic())
        self._bar.close()
