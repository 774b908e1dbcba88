"""Argument types for the training scripts' command lines: whole numbers in a range."""

import argparse


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
