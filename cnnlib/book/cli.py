"""Command-line helpers for the training scripts: numbers in a range, the progress switch."""

import argparse
import sys


def whole(minimum=1, maximum=None):
    """An ``argparse`` type: an int from ``minimum`` to ``maximum`` (inclusive), else a clear error.

    Examples
    --------
    >>> whole(1)("3")
    3
    >>> whole(0, 9)("12")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: 12 is not a whole number from 0 to 9
    """
    span = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{text} is not a whole number {span}")
        return value

    parse.__name__ = "whole number"
    return parse


def fraction(*, open_low=False, open_high=False):
    """An ``argparse`` type: a number in [0, 1], with either end excluded if asked."""
    span = ("(" if open_low else "[") + "0, 1" + (")" if open_high else "]")

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not (value > 0 if open_low else value >= 0) or not (
                value < 1 if open_high else value <= 1):
            raise argparse.ArgumentTypeError(f"{text} is not a number in {span}")
        return value

    parse.__name__ = "fraction"
    return parse


def add_progress_option(parser):
    """Add ``--progress`` / ``--no-progress``: per-batch bars, by default only on a terminal."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="per-batch progress bars with elapsed and remaining time on "
                             "stderr (default: on when stderr is a terminal, so that logs "
                             "written to a file stay clean)")


def progress_setting(args):
    """The ``progress=`` value for ``fit`` and ``evaluate`` from the parsed ``--progress``."""
    return sys.stderr.isatty() if args.progress is None else args.progress
