"""Failures grouped by cause: a failed attempt's error text, normalised into a message that
the same cause gives every time, and a short key for it.

"row 162: invalid date '31/02/2026' in /srv/in/b-003.csv" and "row 9: invalid date
'30/02/2026' in /srv/in/b-017.csv" are one cause, found in two files: what varies between
occurrences (numbers, ids, paths, hex, quoted values, times, addresses) is replaced by a
placeholder, and what stays is the cause. Numbers that name the kind of failure (an exit
status, an error or status code, an errno) are kept: `exit 1` and `exit 2` of one tool, or an
HTTP 404 and a 503, are different causes.

Only the telling line of the text counts: a traceback's last line (the exception), or a
command's `exit N: last stderr line`.
"""

from __future__ import annotations

import re
from functools import cache

from jobdash.core.patterns import compiled

MAX_MESSAGE = 200  # a normalised message is cut here: the start tells the cause

# Order matters: a URL holds a path, a path holds numbers, a time holds numbers. Each rule
# names a text that every match holds (None: none): a rule whose text is absent is skipped,
# which makes the usual error line several times quicker to normalise (a failure is
# normalised in the transaction that records it). Compiled when first used (`_rules`): a
# command that records and groups no failure (`jobdash jobs`) does not compile them.
_RULE_TEXTS: tuple[tuple[str | None, str, str], ...] = (
    ("://", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S+", "<url>"),
    ("@", r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "<email>"),
    (None, r"'[^'\n]*'|\"[^\"\n]*\"|‘[^’\n]*’|“[^”\n]*”|`[^`\n]*`", "'<q>'"),
    ("/", r"(?<![\w.~/-])(?:~|\.{1,2})?/[^\s:,;'\")\]}>]*", "<path>"),
    (
        "-",
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
        "<id>",
    ),
    (
        "-",
        r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
        r"(?:Z|[+-]\d{2}:?\d{2})?)?\b",
        "<time>",
    ),
    (":", r"\b\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\b", "<time>"),
    ("/", r"\b\d{1,2}/\d{1,2}/\d{2,4}\b", "<date>"),
    (".", r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "<ip>"),
    ("0x", r"\b0x[0-9a-fA-F]+\b", "<hex>"),
    (None, r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b", "<hex>"),
)


@cache
def _rules() -> list[tuple[str | None, re.Pattern[str], str]]:
    """`_RULE_TEXTS` compiled, once."""
    return [(needle, re.compile(text), placeholder) for needle, text, placeholder in _RULE_TEXTS]


# A number right after one of these words names the failure: it is kept. As text, like
# the rules: compiled where a failure is normalised (`core.patterns`).
_KEPT = r"\b(exit|code|status|errno|error|http|sqlstate)\b[\s:=#(\[]*$"
_NUMBER = r"\d+(?:\.\d+)*"
_SPACE = r"\s+"


def as_shown(line: str) -> str:
    """A line as a terminal leaves it: a progress meter (rsync, curl, wget, pv) writes over
    its line after each carriage return, so what it wrote last is what the line says
    ("10%\r50%\r100%\rrsync: connection unexpectedly closed" says the last part)."""
    parts = [part for part in line.split("\r") if part.strip()]
    return parts[-1] if parts else ""


def telling_line(error: str) -> str:
    """The line of an error text that says what went wrong: the last non-blank line of a
    traceback (the exception and its message), else the first non-blank line. Lines end at
    newlines only (`str.splitlines` also ends them at form feeds, separators and the like,
    which a job's text may hold), each as a terminal shows it (`as_shown`)."""
    lines = [ln.strip() for ln in map(as_shown, error.split("\n")) if ln.strip()]
    if not lines:
        return ""
    if lines[0].startswith("Traceback (most recent call last)"):
        return lines[-1]
    return lines[0]


def normalise(error: str) -> str:
    """The cause of a failure, with what varies between occurrences replaced."""
    text = telling_line(error)
    for needle, pattern, placeholder in _rules():
        if needle is None or needle in text:
            text = pattern.sub(placeholder, text)
    text = compiled(_NUMBER).sub(_number, text)
    return compiled(_SPACE).sub(" ", text).strip()[:MAX_MESSAGE]


def _number(m: re.Match[str]) -> str:
    # The words that keep a number stand right before it: look at what precedes it only.
    start = m.start()
    return (
        m.group()
        if compiled(_KEPT, re.IGNORECASE).search(m.string, max(0, start - 24), start)
        else "<n>"
    )


def key(message: str) -> str:
    """The fingerprint of a normalised message."""
    import hashlib  # OpenSSL's library: loaded where a failure is grouped, not by a read

    return hashlib.sha256(message.encode()).hexdigest()[:12]


def fingerprint(error: str) -> str:
    """A short key of the failure's cause: equal for errors that `normalise` makes equal."""
    return key(normalise(error))
