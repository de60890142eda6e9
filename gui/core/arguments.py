"""Numeric command-line arguments with ranges: a value out of range is a one-line usage error."""

from __future__ import annotations

import argparse
import math


def int_in(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low}..{high}")
        return value

    return parse


def float_in(low: float, high: float, *, low_open: bool = False, high_open: bool = False):
    """A finite float in [low, high]; ``low_open``/``high_open`` exclude that end."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        inside = (math.isfinite(value) and (low < value if low_open else low <= value)
                  and (value < high if high_open else value <= high))
        if not inside:
            raise argparse.ArgumentTypeError(f"{value} is outside {'(' if low_open else '['}{low}, {high}"
                                             f"{')' if high_open else ']'}")
        return value

    return parse


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line: the reason, and where help is."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see --help)\n")
