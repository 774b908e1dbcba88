"""Progress bars for loops over batches: tqdm when installed, else a plain-text line."""

import sys
import time


def _clock(seconds):
    """``m:ss``, or ``h:mm:ss`` from an hour on, as tqdm writes times."""
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TextProgress:
    """A one-line progress bar in plain text, redrawn in place with a carriage return.

    ``desc  37/120 [ 31%] elapsed 0:12 remaining 0:26  loss 0.4123``: the
    remaining time assumes the rest of the items take as long on average as
    those done so far. Works in a terminal and in a notebook (both honour
    ``\\r``); :meth:`close` ends the line.

    Parameters
    ----------
    total : int
        Number of items (batches).
    desc : str
    file : writable text stream, default ``sys.stderr``
    mininterval : float
        Seconds between redraws; the last item is always drawn.
    """

    def __init__(self, total, desc="", *, file=None, mininterval=0.1):
        self.total, self.desc, self.n = int(total), desc, 0
        self.file = sys.stderr if file is None else file
        self.mininterval = mininterval
        self.postfix = ""
        self._start = time.perf_counter()
        self._drawn = -float("inf")
        self._closed = False

    def line(self, now=None):
        """The text of the bar as it stands."""
        elapsed = (time.perf_counter() if now is None else now) - self._start
        pct = 100 * self.n / self.total if self.total else 100.0
        remaining = (_clock(elapsed / self.n * (self.total - self.n)) if self.n else "?")
        text = (f"{self.desc + '  ' if self.desc else ''}{self.n}/{self.total} [{pct:3.0f}%] "
                f"elapsed {_clock(elapsed)} remaining {remaining}")
        return f"{text}  {self.postfix}" if self.postfix else text

    def update(self, n=1):
        """Count ``n`` more items done, redrawing if ``mininterval`` has passed."""
        self.n += n
        now = time.perf_counter()
        if now - self._drawn >= self.mininterval or self.n >= self.total:
            self._drawn = now
            self.file.write("\r" + self.line(now))
            self.file.flush()

    def set_postfix_str(self, text):
        """Text shown after the times (e.g. the running loss); drawn at the next update."""
        self.postfix = text

    def close(self):
        """End the line (once)."""
        if not self._closed:
            self._closed = True
            self.file.write("\n")
            self.file.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _NoProgress:
    """The bar of ``progress=False``: it shows nothing."""

    def update(self, n=1):
        pass

    def set_postfix_str(self, text):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def check_progress(name, progress):
    """Return ``progress`` if it is one of False, None, True, "text" or "tqdm"; else raise."""
    if progress not in (False, None, True, "text", "tqdm") or isinstance(progress, (int, float)) \
            and not isinstance(progress, bool):
        raise ValueError(f"{name}: progress must be False, True, 'text' or 'tqdm', got "
                         f"{progress!r}")
    return progress


def progress_bar(total, desc="", *, progress=True, leave=True, file=None):
    """A progress bar over ``total`` items with elapsed and remaining time, or a silent one.

    Parameters
    ----------
    total : int
    desc : str
    progress : False, None, True, "text" or "tqdm"
        False or None: no bar. True: ``tqdm.auto`` (a widget in a notebook, a
        text bar in a terminal) when tqdm is installed, else
        :class:`TextProgress`. "text": always :class:`TextProgress`. "tqdm":
        tqdm, which must be installed.
    leave : bool
        Keep tqdm's finished bar on screen (the text bar always stays).
    file : writable text stream, default ``sys.stderr``

    Returns
    -------
    An object with ``update(n=1)``, ``set_postfix_str(text)`` and
    ``close()``, usable in a ``with`` block.
    """
    check_progress("progress_bar", progress)
    if not progress:
        return _NoProgress()
    if progress is True or progress == "tqdm":
        try:
            from tqdm.auto import tqdm
        except ImportError:
            if progress == "tqdm":
                raise ImportError("progress_bar: progress='tqdm' needs tqdm: pip install tqdm "
                                  "(or use progress=True for the plain-text bar)") from None
        else:
            return tqdm(total=total, desc=desc, leave=leave, file=file, dynamic_ncols=True)
    return TextProgress(total, desc, file=file)
