"""Untrusted text (labels, metadata strings, file and folder names) made safe to show.

Such text can hold newlines and terminal escapes that forge output lines, bidirectional
overrides that disguise a name, or a million characters. Everything shown to a user from a
file goes through ``printable`` (terminal) or ``shown`` (one bounded line in the app).
"""

from __future__ import annotations

import re

MAX_SHOWN_CHARS = 200
# C0 and C1 controls, line and paragraph separators, bidirectional embeddings, overrides and
# isolates, and lone surrogates (how Python carries a file name that is not valid UTF-8).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def unsafe_characters(text: str) -> list[str]:
    """The unsafe characters in ``text``, escaped, in order of appearance (at most 5)."""
    return [m.group().encode("unicode_escape", "backslashreplace").decode("ascii") for m in _UNSAFE.finditer(text)][:5]


def printable(text: str) -> str:
    """``text`` with every unsafe character written as its escape (``\\n``, ``\\x1b``, ``\\u202e``)."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text)


def shown(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """One printable line of at most ``limit`` characters, elided at the end."""
    text = printable(text[:limit * 4])  # escapes at most quadruple a character; never escape a megabyte
    return text if len(text) <= limit else text[:limit - 1] + "…"


def first_line(exc: BaseException, limit: int = 200) -> str:
    """An exception as one bounded line: the first line of its message, or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


def natural_order(text: str) -> list:
    """A sort key that puts resnet18 before resnet101: the digits compared as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]
