"""Progress on long work: one dependency-free bar shared by every ``coaching`` subcommand.

Why here: the demo, the audit, the export and the import all walk logs that may hold millions of
events; each says what it is doing the same way (bar on a terminal, plain lines in a CI log).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO


class Progress:
    """A dependency-free progress bar on a stream: bar, count/total, rate, ETA.

    On a terminal it redraws one line (at most ten times a second); elsewhere (a pipe, a CI log)
    it prints a plain line at every tenth of the way, so logs stay readable.
    """

    def __init__(self, label: str, total: int, stream: IO[str] | None = None, *,
                 enabled: bool = True, width: int = 28,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.total = max(0, total)
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.width = width
        self.clock = clock
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = clock()
        self.count = 0
        self._last_draw = 0.0
        self._last_decile = -1
        self._drawn = 0

    def update(self, count: int) -> None:
        """Report that ``count`` of ``total`` are done."""
        self.count = count
        if not self.enabled:
            return
        if self.tty:
            now = self.clock()
            if now - self._last_draw >= 0.1 or count >= self.total:
                self._last_draw = now
                self._redraw()
        else:
            decile = count * 10 // self.total if self.total else 10
            if decile > self._last_decile:
                self._last_decile = decile
                self.stream.write(self.line(bar=False) + "\n")
                self.stream.flush()

    def finish(self) -> None:
        """Draw the final state and end the line."""
        if not self.enabled:
            return
        if self.tty:
            self._redraw()
            self.stream.write("\n")
        elif self._last_decile < 10 or self.count < self.total:
            self.stream.write(self.line(bar=False) + "\n")
        self.stream.flush()

    def _redraw(self) -> None:
        text = self.line(bar=True)
        # pad over the tail of a longer previous line ("ETA 1:02:03" → "done in 0:04")
        self.stream.write("\r" + text.ljust(self._drawn))
        self._drawn = len(text)
        self.stream.flush()

    def line(self, *, bar: bool) -> str:
        """The text of the progress line now."""
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.count / elapsed
        fraction = min(1.0, self.count / self.total) if self.total else 1.0
        if self.count >= self.total:
            eta = f"done in {duration(elapsed)}"
        elif rate > 0:
            eta = f"ETA {duration((self.total - self.count) / rate)}"
        else:
            eta = "ETA --:--"
        counts = f"{self.count:,}/{self.total:,} {fraction:4.0%} {rate:,.0f}/s {eta}"
        if not bar:
            return f"{self.label}: {counts}"
        filled = round(fraction * self.width)
        return f"{self.label:<6} [{'#' * filled}{'.' * (self.width - filled)}] {counts}"


def duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


