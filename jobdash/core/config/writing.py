"""Writing TOML that jobdash reads back exactly, from text it did not write (a crontab's
commands and comments, names): every value a basic string with its escapes, every comment
on one line.

Why escape more than TOML requires: the text is printed for review, mostly on a terminal.
Control characters, bidi overrides and other invisible format characters are written as
`\\uXXXX` (in a string, TOML reads them back as they were; in a comment they stay visible),
so that nothing printed can move the cursor, recolour the screen or reorder what is shown.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
# Unicode categories never shown as themselves: controls, format (bidi, zero-width), line
# and paragraph separators, surrogates, private use, unassigned.
_HIDDEN = frozenset(("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"))


def _code(ch: str) -> str:
    n = ord(ch)
    return f"\\u{n:04X}" if n <= 0xFFFF else f"\\U{n:08X}"


def toml_string(text: str) -> str:
    """`text` as a TOML basic string, read back by any TOML parser as exactly `text`."""
    out = ['"']
    for ch in text:
        if ch in _SHORT:
            out.append(_SHORT[ch])
        elif unicodedata.category(ch) in _HIDDEN:
            out.append(_code(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_array(values: Iterable[str]) -> str:
    """An inline array of strings: `["a", "b"]`."""
    return "[" + ", ".join(toml_string(v) for v in values) + "]"


def toml_comment(text: str) -> str:
    """`# text`, on one line, with anything invisible or line-breaking shown as `\\uXXXX`
    (a TOML comment may hold no control character but tab)."""
    shown = "".join(
        _code(ch) if ch != "\t" and unicodedata.category(ch) in _HIDDEN else ch for ch in text
    )
    return f"# {shown}".rstrip()
