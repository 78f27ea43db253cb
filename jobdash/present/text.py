"""Make text that jobdash did not write itself safe to put on a terminal.

Job output, job and task names, parameters, info lines, error texts, agent names and
hosts, schedule ids and the descriptions in a config are data: whoever wrote them may
have put ANSI escapes, screen clears, OSC 52 clipboard writes or Rich markup in them.
The CLI and the dashboard show all of that *literally*: they never parse markup from
data (plain `Text`/`Segment`s, consoles with markup off), and every such string passes
through `sanitize`, which swaps each character a terminal could act on for a visible
stand-in.  Pure Python, so the CLI, the dashboard and anything else can share it.

The mapping is one character for one character, so an offset found in the raw text (a
search match, for instance) is the same offset in the sanitized text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

__all__ = [
    "BIDI",
    "CELL_LIMIT",
    "NAME_LIMIT",
    "PLACEHOLDER",
    "cells",
    "clip",
    "clip_path",
    "inert_joined",
    "name_problem",
    "sanitize",
    "sanitize_all",
    "sanitize_joined",
    "sanitize_lines",
]

PLACEHOLDER = "\ufffd"
"""Stand-in for the characters that have no picture of their own."""

NAME_LIMIT = 64
"""The longest name (of an agent, say) accepted from the command line."""

CELL_LIMIT = 200
"""The most cells a listing's cell shows of one value (a target, an info line): longer
than any sane path, short enough that one long parameter cannot make every row of
`jobdash jobs | cat` 120 KB wide. `show` and `--json` give it whole."""

# C0 controls (U+0000-U+001F) have "control pictures" at U+2400 + code: ␀ … ␛ … ␟.
# Tab becomes a plain space: harmless, and far more readable than ␉ in log output.
# DEL has ␡ (U+2421).  The bidirectional embeddings, overrides, isolates and marks, which
# reorder what follows them on screen (a name or a log line that reads differently from
# what it is: "Trojan Source"), have no control pictures; each becomes an arrow of its
# own (`BIDI`), pointing the way it would have turned the text, so a reader sees that one
# is there and which: an arrow is a neutral character (it reorders nothing), one cell
# wide, and in the fonts terminals use.  The rest become PLACEHOLDER: C1 controls
# (U+0080-U+009F), among them the 8-bit CSI (U+009B) and OSC (U+009D) that some
# terminals still honour; the line and paragraph separators, which some terminals and libraries take for line
# breaks; the invisible ones (soft hyphen, zero-width space, word joiner and the invisible
# operators, the byte-order mark), which make "x\u200by" look like "xy"; and lone
# surrogates (undecodable bytes), which cannot be written as UTF-8. The zero-width joiners
# (U+200C, U+200D) stay: scripts and emoji are written with them.
_OTHERS = (
    (0x80, 0x9F),
    (0xAD, 0xAD),
    (0x061C, 0x061C),
    (0x200B, 0x200B),
    (0x200E, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x2069),
    (0xD800, 0xDFFF),
    (0xFEFF, 0xFEFF),
)
BIDI: dict[str, str] = {
    "\u061c": "↽",  # ARABIC LETTER MARK
    "\u200e": "⇀",  # LEFT-TO-RIGHT MARK
    "\u200f": "↼",  # RIGHT-TO-LEFT MARK
    "\u202a": "⇢",  # LEFT-TO-RIGHT EMBEDDING
    "\u202b": "⇠",  # RIGHT-TO-LEFT EMBEDDING
    "\u202c": "↥",  # POP DIRECTIONAL FORMATTING
    "\u202d": "⇛",  # LEFT-TO-RIGHT OVERRIDE
    "\u202e": "⇚",  # RIGHT-TO-LEFT OVERRIDE
    "\u2066": "⇥",  # LEFT-TO-RIGHT ISOLATE
    "\u2067": "⇤",  # RIGHT-TO-LEFT ISOLATE
    "\u2068": "⇹",  # FIRST STRONG ISOLATE
    "\u2069": "⇡",  # POP DIRECTIONAL ISOLATE
}
"""The stand-in of each bidirectional control character: dashed arrows embed, triple
arrows override, arrows to a bar isolate, harpoons mark, upward arrows pop."""

_ASCII_CONTROLS = bytes(range(0x20)) + b"\x7f"  # the ASCII characters `_table` replaces
_BUT_LF = _ASCII_CONTROLS.replace(b"\n", b"")


# The table and the pattern are made at the first text that is not printable, not when the
# module loads (~7 M instructions, 0.4 % of the dashboard's first frame, which has none).
@cache
def _table() -> dict[int, str]:
    """What each character a terminal could act on becomes (`str.translate`'s table)."""
    table = {code: chr(0x2400 + code) for code in range(0x20)}
    table[0x09] = " "
    table[0x7F] = "\u2421"
    for first, last in _OTHERS:
        table.update(dict.fromkeys(range(first, last + 1), PLACEHOLDER))
    table.update({ord(control): shown for control, shown in BIDI.items()})
    return table


@cache
def _unsafe() -> re.Pattern[str]:
    """A character of `_table`: among the ones Python does not find printable."""
    return re.compile(
        r"[\x00-\x1f\x7f" + "".join(rf"\u{a:04x}-\u{b:04x}" for a, b in _OTHERS) + "]"
    )


def sanitize(text: str) -> str:
    """Return `text` with every character a terminal could act on replaced by a visible
    stand-in.

    ESC becomes "␛", BEL "␇", line feed "␊", CR "␍", DEL "␡", tab a space, a bidi
    control its arrow (`BIDI`: RIGHT-TO-LEFT OVERRIDE "⇚"); C1 controls, line/paragraph
    separators, invisible characters and lone surrogates "�".  The result has the
    same length as `text`.  Text without such characters (the common case) is returned
    as is: text Python finds printable has none (each is a control, format, separator or
    surrogate character, none printable), and that check is twice as fast as the regex's.
    """
    if text.isprintable() or _unsafe().search(text) is None:
        return text
    return text.translate(_table())


def sanitize_all(texts: list[str]) -> list[str]:
    """`sanitize` of each of `texts`; `texts` itself when every one is printable (then
    `sanitize` returns each as is): a page of a log is one check, not a call a line. ASCII
    text (Python knows it is without looking) is printable without C0 controls and DEL:
    deleting them from its bytes takes half the time `isprintable` takes."""
    joined = "".join(texts)
    if joined.isascii():
        printable = len(joined.encode("ascii").translate(None, _ASCII_CONTROLS)) == len(joined)
    else:
        printable = joined.isprintable()
    return texts if printable else [sanitize(text) for text in texts]


def sanitize_joined(joined: str) -> str:
    """`sanitize_all` of lines joined by line breaks (the line breaks stay): `joined` itself
    when no line has a character to replace, one check of the whole (a page of a log joined
    by the store: `LogBlock`). Its lines must have no line break of their own."""
    if joined.isascii():
        if len(joined.encode("ascii").translate(None, _BUT_LF)) == len(joined):
            return joined
    elif joined.replace("\n", " ").isprintable():
        return joined
    return "\n".join(sanitize_all(joined.split("\n")))


def inert_joined(joined: str, lines: int) -> bool:
    """Whether `joined`, `lines` lines joined by line breaks, prints as it is: no line has
    a line break of its own nor a character `sanitize` replaces. ASCII text in one pass
    (its control characters deleted, only the `lines - 1` line breaks between its lines
    may go), not a count of its line breaks and then a check of the rest."""
    if joined.isascii():
        deleted = len(joined) - len(joined.encode("ascii").translate(None, _ASCII_CONTROLS))
        return deleted == lines - 1
    return joined.count("\n") == lines - 1 and joined.replace("\n", " ").isprintable()


def sanitize_lines(text: str) -> str:
    """`sanitize` for a document printed on a terminal (CSV, JSON): its line breaks stay
    line breaks, a CR that ends a line goes (the terminal ends lines itself), and every
    other character a terminal could act on becomes its visible stand-in."""
    return "\n".join(sanitize(line.removesuffix("\r")) for line in text.split("\n"))


def cells(text: str) -> int:
    """Terminal cells `text` takes: wide East Asian characters two, combining marks none."""
    if text.isascii():
        return len(text)
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def clip(text: str, width: int = CELL_LIMIT) -> str:
    """`text` in at most `width` cells, ending in "…" when cut."""
    if len(text) <= width and cells(text) <= width:
        return text
    out, used = [], 0
    for char in text:
        used += cells(char)
        if used > width - 1:
            break
        out.append(char)
    return "".join(out) + "…"


def clip_path(text: str, width: int) -> str:
    """`text` (a path, or a name made like one: `HR/pages`) in at most `width` cells, cut at
    its start when too long, so what tells rows apart stays: `…/2026/customer-4711.csv`,
    not `/srv/data/exports/…`, which every row of an export would read. The cut falls on a
    `/` when that costs at most a third of the room (more would show less than the end of
    a long folder's name does); a last part too long for the width keeps its end
    (`…stomer-4711.csv`). Cells, not characters: a wide character counts two, a
    combining mark none (and stays with the character it marks)."""
    if cells(text) <= width:
        return text
    if width <= 0:
        return ""
    room = width - 1  # one cell for the "…"
    start, used = len(text), 0
    while start > 0:
        need = cells(text[start - 1])
        if used + need > room:
            break
        used += need
        start -= 1
    while start < len(text) and unicodedata.combining(text[start]):
        start += 1  # never a mark without its character
    slash = text.find("/", start)
    if slash != -1 and cells(text[start:slash]) <= room // 3:
        start = slash  # whole parts: "…/2026/customer-4711.csv", not "…26/customer-…"
    return "…" + text[start:]


def name_problem(name: str, limit: int = NAME_LIMIT) -> str | None:
    """What is wrong with `name` as a name given on the command line, or None.

    A name is shown on other people's terminals for as long as it is in the store: it
    must be visible (not empty, no blank ends), printable (no control, format or
    separator character) and short enough for a table column.  The message quotes the
    name sanitized, so the refusal itself is safe to print.
    """
    if not name.strip():
        return "must not be empty"
    if name != name.strip():
        return f"'{sanitize(name)}' starts or ends with a blank"
    if len(name) > limit:
        return f"is {len(name)} characters long (at most {limit})"
    for position, char in enumerate(name, 1):
        if not char.isprintable():
            what = unicodedata.name(char, f"U+{ord(char):04X}")
            return (
                f"'{sanitize(name)}' has a control or invisible character ({what}) "
                f"at position {position}"
            )
    return None
