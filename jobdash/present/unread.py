"""How a job's unread log lines look, to the dashboard and the command line alike.

A mark is glyphs and counts, never colour alone: `●12 ⚠1 ✘2` is 12 unread lines, of which
1 warning and 2 errors (a count of 0 is left out: `●5` is five lines, none a warning or
an error). The glyphs are those of the statuses: ⚠ a warning, ✘ a failure. Large counts
are shortened (`●1.2k`, `●35k`) so the mark stays narrow; the words (`unread_words`: "12
unread lines: 1 warning, 2 errors") are exact, for the details, `jobdash show` and the
dashboard's text mode (`v`), which a screen reader reads.
"""

from __future__ import annotations

from jobdash.core.model import Unread
from jobdash.present.status import Tone
from jobdash.present.words import plural, plural_word

__all__ = [
    "UNREAD_GLYPH",
    "unread_mark",
    "unread_mark_in",
    "unread_text",
    "unread_tone",
    "unread_words",
]

UNREAD_GLYPH = "●"
WARNING_GLYPH = "⚠"
ERROR_GLYPH = "✘"


def short_count(n: int) -> str:
    """A count in at most four characters: 999, 1.2k, 35k, 1.2M."""
    if n < 1000:
        return str(n)
    size, unit = (1_000_000, "M") if n >= 999_500 else (1000, "k")
    value = n / size
    text = f"{value:.1f}".removesuffix(".0") if value < 9.95 else f"{value:.0f}"
    return text + unit


def unread_mark(unread: Unread | None) -> str:
    """`●12 ⚠1 ✘2`, or "" when nothing is unread."""
    if unread is None:
        return ""
    parts = [UNREAD_GLYPH + short_count(unread.lines)]
    if unread.warnings:
        parts.append(WARNING_GLYPH + short_count(unread.warnings))
    if unread.errors:
        parts.append(ERROR_GLYPH + short_count(unread.errors))
    return " ".join(parts)


def unread_mark_in(unread: Unread | None, width: int) -> str:
    """The mark in at most `width` cells (each glyph is one): whole if it fits, else its
    gravest part alone (`✘2` of `●38 ⚠1 ✘2`; five cells hold any part), not a mark cut
    to `●38 ⚠…`, which hides the errors the mark is for."""
    mark = unread_mark(unread)
    if unread is None or len(mark) <= width:
        return mark
    if unread.errors:
        return ERROR_GLYPH + short_count(unread.errors)
    if unread.warnings:
        return WARNING_GLYPH + short_count(unread.warnings)
    return UNREAD_GLYPH + short_count(unread.lines)


def unread_words(unread: Unread | None) -> str:
    """ "12 unread lines: 1 warning, 2 errors", "5 unread lines", or "nothing unread"."""
    if unread is None:
        return "nothing unread"
    text = f"{unread.lines:,} unread {plural_word(unread.lines, 'line')}"
    counts = ((unread.warnings, "warning"), (unread.errors, "error"))
    of = [plural(n, word) for n, word in counts if n]
    return f"{text}: {', '.join(of)}" if of else text


def unread_text(unread: Unread | None) -> str:
    """The mark and its words, "●3 ✘2 (3 unread lines: 2 errors)"; "" when none."""
    return f"{unread_mark(unread)} ({unread_words(unread)})" if unread is not None else ""


def unread_tone(unread: Unread | None) -> Tone:
    """The mark's colour: errors BAD, warnings WARN, other lines ACTIVE."""
    if unread is None:
        return Tone.QUIET
    if unread.errors:
        return Tone.BAD
    return Tone.WARN if unread.warnings else Tone.ACTIVE
