"""Make job-provided text safe to put on a terminal.

Jobs print whatever they like: ANSI colour codes, cursor movement, screen clears,
OSC 52 clipboard writes, Rich markup.  The dashboard shows all of that *literally*.
Widgets never parse markup (they build `Segment`s / `Text` from plain strings), and
every control character is swapped for a visible stand-in by `sanitize` before it
reaches a segment, so nothing a job prints can drive the user's terminal.

The mapping is one character for one character, so an offset found in the raw
text (a search match, for instance) is the same offset in the sanitized text.
"""

from __future__ import annotations

import re

__all__ = ["PLACEHOLDER", "sanitize"]

PLACEHOLDER = "\ufffd"
"""Stand-in for C1 control characters, which have no picture of their own."""

# C0 controls (U+0000-U+001F) have "control pictures" at U+2400 + code: ␀ … ␛ … ␟.
# Tab becomes a plain space: harmless, and far more readable than ␉ in log output.
# DEL has ␡ (U+2421).  C1 controls (U+0080-U+009F) include the 8-bit CSI (U+009B)
# and OSC (U+009D) that some terminals still honour, so they are replaced too.
_TABLE: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20)}
_TABLE[0x09] = " "
_TABLE[0x7F] = "\u2421"
_TABLE.update({code: PLACEHOLDER for code in range(0x80, 0xA0)})

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f]")


def sanitize(text: str) -> str:
    """Return `text` with every control character replaced by a visible stand-in.

    ESC becomes "␛", BEL "␇", line feed "␊", CR "␍", DEL "␡", C1 controls "�", tab a
    space.  The result has the same length as `text`.  Text without control
    characters (the common case) is returned as is, after one fast regex scan.
    """
    if _UNSAFE.search(text) is None:
        return text
    return text.translate(_TABLE)
