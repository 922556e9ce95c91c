"""A progress bar in the style of Keras 3, redrawn only on a terminal.

``verbose=1`` draws a bar that is redrawn in place with ``\\r`` when the
output is a terminal (or a Jupyter kernel); elsewhere it prints the final
line of each run only, so log files never fill with redraws. ``verbose=2``
prints one line at the end. ``verbose=0`` prints nothing.
"""
import math
import sys
import time

__all__ = ["Progbar", "is_interactive"]


def is_interactive(stream=None):
    """Whether ``stream`` (default ``sys.stdout``) is a terminal."""
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # closed or detached stream
        return False


def _can_encode(stream, text):
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def format_duration(seconds):
    """``"3s"``, ``"1:05"`` or ``"1:02:03"``."""
    seconds = max(0.0, seconds)
    if seconds >= 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds >= 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


def format_per_unit(seconds, unit):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def format_value(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if value != value or abs(value) > 1e-3 or value == 0:  # nan, regular or zero
        return f"{value:.4f}"
    return f"{value:.4e}"


class Progbar:
    """Progress bar for a run of ``target`` steps.

    Parameters
    ----------
    target : int or None
        Total number of steps, ``None`` if unknown.
    width : int, default 20
        Width of the bar in characters.
    verbose : {0, 1, 2}, default 1
    interval : float, default 0.05
        Minimum time between two redraws, in seconds.
    unit_name : str, default "step"
    stream : file-like, optional
        Where to write; ``sys.stdout`` at the time of each write by default.
    dynamic : bool, optional
        Redraw in place; by default when the stream is a terminal or Jupyter.

    Examples
    --------
    >>> import io
    >>> from pyconv._progbar import Progbar
    >>> out = io.StringIO()
    >>> bar = Progbar(2, verbose=2, stream=out)
    >>> bar.update(1, {"loss": 0.5}); bar.update(2, {"loss": 0.25})
    >>> out.getvalue().startswith("2/2 - ")
    True
    >>> "loss: 0.2500" in out.getvalue()
    True
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, unit_name="step",
                 stream=None, dynamic=None):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self._stream = stream
        stream = self.stream
        if dynamic is None:
            dynamic = is_interactive(stream) or "ipykernel" in sys.modules
        self.dynamic = dynamic
        self._fill, self._empty = ("\u2501", "\u2500") if _can_encode(stream, "\u2501\u2500") \
            else ("=", ".")
        self._start = time.perf_counter()
        self._after_first = None
        self._last_update = 0.0
        self._prev_width = 0
        self._values = {}
        self._finalized = False

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stdout

    def _time_per_unit(self, current, now):
        if not current:
            return 0.0
        if self._after_first is not None and current > 1:
            return (now - self._after_first) / (current - 1)
        return (now - self._start) / current

    def update(self, current, values=None, finalize=None):
        """Show step ``current`` with ``values`` (a dict or (name, value) pairs).

        Values are displayed as given (the caller passes running means).
        """
        if self._finalized:
            return
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if values:
            self._values.update(dict(values))
        now = time.perf_counter()
        if current == 1 and self._after_first is None:
            self._after_first = now
        if self.verbose == 0:
            return
        if self.verbose == 1 and not finalize:
            if not self.dynamic or now - self._last_update < self.interval:
                return
        if self.verbose == 2 and not finalize:
            return
        self._last_update = now
        per_unit = self._time_per_unit(current, now)
        elapsed = now - self._start
        metrics = "".join(f" - {k}: {format_value(v)}" for k, v in self._values.items())
        if self.verbose == 1:
            line = self._bar(current)
            if finalize or self.target is None:
                line += f" {format_duration(elapsed)}"
            else:
                eta = per_unit * (self.target - current)
                line += f" {format_duration(elapsed)} ETA {format_duration(eta)}"
            line += f" {format_per_unit(per_unit, self.unit_name)}{metrics}"
        else:
            line = f"{self._count(current)} - {format_duration(elapsed)} - " \
                   f"{format_per_unit(per_unit, self.unit_name)}{metrics}"
        stream = self.stream
        if self.dynamic and self.verbose == 1:
            pad = " " * max(0, self._prev_width - len(line))
            self._prev_width = len(line)
            stream.write("\r" + line + pad + ("\n" if finalize else ""))
        else:
            stream.write(line + "\n")
        stream.flush()
        if finalize:
            self._finalized = True

    def _count(self, current):
        if self.target is None:
            return f"{current}/Unknown"
        digits = int(math.log10(max(self.target, 1))) + 1
        return f"{current:{digits}d}/{self.target}"

    def _bar(self, current):
        text = self._count(current)
        if self.target:
            done = int(self.width * min(current, self.target) / self.target)
            text += " " + self._fill * done + self._empty * (self.width - done)
        return text
