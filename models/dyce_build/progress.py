"""Progress bars with time left, for every long step.

On a terminal the bar redraws in place; otherwise (CI logs, pipes) one line
is printed at most every `every` seconds and at the end. Only rank 0 of a
distributed run prints (dist.is_main).
"""

import sys
import time

from . import dist


def _clock(seconds):
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:d}:{s:02d}"


class Progress:
    """`with Progress("train backbone", total) as bar: bar.update(n, note)`."""

    def __init__(self, what, total, every=10.0, out=None):
        self.what, self.total, self.every = what, max(1, int(total)), every
        self.out = out or sys.stderr
        self.done, self.start = 0, time.time()
        self.shown = self.start
        self.tty = self.out.isatty() and dist.is_main()
        self.note = ""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            self._show(final=True)
        elif self.tty:
            self.out.write("\n")

    def update(self, n=1, note=None):
        self.done = min(self.total, self.done + n)
        if note is not None:
            self.note = note
        now = time.time()
        if self.tty or now - self.shown >= self.every:
            self._show()
            self.shown = now

    def line(self):
        elapsed = time.time() - self.start
        frac = self.done / self.total
        left = elapsed / frac - elapsed if frac > 0 else 0
        width = 24
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        note = f" {self.note}" if self.note else ""
        return (f"{self.what} [{bar}] {self.done}/{self.total} "
                f"{_clock(elapsed)} elapsed, {_clock(left)} left{note}")

    def _show(self, final=False):
        if not dist.is_main():
            return
        if self.tty:
            self.out.write("\r" + self.line()[:150].ljust(150)
                           + ("\n" if final else ""))
        elif final or self.done < self.total:
            self.out.write(self.line() + "\n")
        self.out.flush()
