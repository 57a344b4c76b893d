"""A throttled progress bar for long commands, written to a stream (stderr), never to the results."""

from __future__ import annotations

import time


class ProgressBar:
    def __init__(self, stream, *, label="subjects", width=30, every=0.5, clock=time.monotonic):
        self.stream, self.label, self.width, self.every, self.clock = stream, label, width, every, clock
        self.last_drawn = None
        self.drawn_done = None

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        finished = total and done >= total
        if not finished and self.last_drawn is not None and now - self.last_drawn < self.every:
            return
        if done == self.drawn_done:
            return
        self.last_drawn, self.drawn_done = now, done
        share = done / total if total else 1.0
        filled = int(round(self.width * share))
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done:,}/{total:,} {self.label} ({share:.0%})" + ("\n" if finished else ""))
        self.stream.flush()
