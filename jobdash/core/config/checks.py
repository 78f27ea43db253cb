"""The config checker's tools: the one-line `ConfigError`, and small checkers for TOML values.

Why apart: every table of the file (`[jobdash]`, `[smtp]`, `[types.NAME]`) is checked with the
same checkers, which raise `Problem` (dotted key and message); `parse_config` then finds the
line where that key is written (`find_line`: tomllib gives no positions) and raises one
`ConfigError` line -- file, line, dotted key, what was wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from jobdash.core.model import BadInput
from jobdash.core.patterns import compiled
from jobdash.core.values import ITEM, close_to, duration_seconds, show, template_parts

Keys = tuple[str, ...]


# --------------------------------------------------------------------------- errors


class ConfigError(BadInput):
    """A problem in the config file, rendered as ONE line: `file:line: key: message`.

    One line because it is printed as-is by the CLI and the dashboard; the file,
    line and dotted key are kept as attributes so that `jobdash check` or a test
    can look at them without parsing the text.
    """

    def __init__(self, file: str, message: str, key: str = "", line: int | None = None) -> None:
        self.file = file
        self.message = message
        self.key = key
        self.line = line
        where = file if line is None else f"{file}:{line}"
        text = f"{where}: {key}: {message}" if key else f"{where}: {message}"
        super().__init__(re.sub(r"[\r\n]+", " ", text))


class Problem(Exception):
    """Raised while building: the dotted key and message; the line is found later.

    Finding the line needs the source text, which the small checkers don't carry;
    `parse_config` turns this into a `ConfigError`.
    """

    def __init__(self, keys: Keys, message: str) -> None:
        super().__init__(message)
        self.keys = keys
        self.message = message


def kind(value: object) -> str:
    """What a value is, without what it says: for secrets."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "an array" if isinstance(value, list) else show(value)


def dotted(keys: Keys) -> str:
    """`types.import-files.parallel`; odd segments quoted as TOML would write them."""
    bare = re.compile(r"[A-Za-z0-9_-]+\Z")
    return ".".join(k if bare.match(k) else json.dumps(k, ensure_ascii=False) for k in keys)


def suggest(word: str, known: Collection[str]) -> str:
    """`did you mean "x"?` when a known word is close, else the list of known ones."""
    close = close_to(word, known)
    if close:
        return f'did you mean "{close}"?'
    return "known: " + (", ".join(known) or "none")


# -------------------------------------------------------------- locating a key's line

_SEG = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
_KEY = rf"{_SEG}(?:\s*\.\s*{_SEG})*"
# Patterns as text, compiled where a config is read (`core.patterns`): a
# command without a config file compiles none of them.
_HEADER = rf"\s*\[\[?\s*({_KEY})\s*\]"
_ASSIGN = rf"\s*({_KEY})\s*="


def _split_key(key: str) -> Keys:
    parts = []
    for m in compiled(_SEG).finditer(key):
        seg = m.group(0)
        if seg.startswith('"'):
            try:
                seg = json.loads(seg)
            except ValueError:
                seg = seg[1:-1]
        elif seg.startswith("'"):
            seg = seg[1:-1]
        parts.append(seg)
    return tuple(parts)


def find_line(text: str, keys: Keys) -> int | None:
    """The line where `keys` (a dotted path) is written, or None if it can't be told.

    tomllib gives no positions for values, so we scan: each table header and each
    `key = ...` line (dotted keys included) gets its full path; the first line whose
    path shares the longest prefix with `keys` wins. A match must reach at least the
    key inside its table (`types.NAME.key`, `jobdash.key`); a vaguer hit would point
    at the wrong place, and no line is better than a wrong one.
    """
    header: Keys = ()
    best, best_line = 0, None
    in_string: str | None = None  # inside a multi-line string: its closing quotes
    for lineno, line in enumerate(text.split("\n"), 1):
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        if m := compiled(_HEADER).match(line):
            header = _split_key(m.group(1))
            path = header
        elif m := compiled(_ASSIGN).match(line):
            path = header + _split_key(m.group(1))
            rest = line[m.end() :]
            for quotes in ('"""', "'''"):
                if rest.count(quotes) % 2 == 1:
                    in_string = quotes
                    break
        else:
            continue
        score = 0
        for a, b in zip(path, keys, strict=False):
            if a != b:
                break
            score += 1
        if score > best:
            best, best_line = score, lineno
    need = min(len(keys), 3 if keys[:1] == ("types",) else 2)
    return best_line if best >= need else None


# ----------------------------------------------------------------- value checkers


def as_table(value: object, keys: Keys) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Problem(keys, f"must be a table, got {show(value)}")
    return value


def check_keys(table: Mapping[str, Any], known: Collection[str], keys: Keys) -> None:
    for key in table:
        if key not in known:
            raise Problem((*keys, key), f"unknown key ({suggest(key, known)})")


def as_str(value: object, keys: Keys, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise Problem(keys, f"must be a string, got {show(value)}")
    if not empty and not value.strip():
        raise Problem(keys, "must not be empty")
    return value


def as_bool(value: object, keys: Keys) -> bool:
    if not isinstance(value, bool):
        raise Problem(keys, f"must be true or false, got {show(value)}")
    return value


def as_int(value: object, keys: Keys, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise Problem(keys, f"must be an integer from {minimum} to {maximum}, got {show(value)}")
    return value


_SIZE = r"\s*([0-9]+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*\Z"
_UNITS = {None: 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
_UNITS.update({"KB": 10**3, "MB": 10**6, "GB": 10**9})


def as_size(value: object, keys: Keys, maximum: int) -> int:
    """A number of bytes: an integer, or a string with a unit ("512KiB", "1MiB", "10MB")."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and (m := compiled(_SIZE).match(value)):
        number = int(m[1]) * _UNITS[m[2]]
    else:
        raise Problem(
            keys, f'must be a size in bytes (1048576, "512KiB", "1MiB"), got {show(value)}'
        )
    if not 0 <= number <= maximum:
        raise Problem(keys, f"must be from 0 to {maximum:,} bytes, got {show(value)}")
    return number


def as_duration(value: object, keys: Keys, *, positive: bool = False) -> float:
    try:
        seconds = duration_seconds(value)
    except ValueError as exc:
        raise Problem(keys, str(exc)) from None
    if positive and seconds <= 0:
        raise Problem(keys, f"must be a duration greater than zero, got {show(value)}")
    return seconds


def as_str_list(value: object, keys: Keys, *, numbers: bool = False) -> tuple[str, ...]:
    """An array of non-empty strings (numbers turned into strings when allowed)."""
    if not isinstance(value, list):
        raise Problem(keys, f"must be an array of strings, got {show(value)}")
    out: list[str] = []
    for element in value:
        if numbers and isinstance(element, int | float) and not isinstance(element, bool):
            element = str(element)
        if not isinstance(element, str) or not element:
            raise Problem(keys, f"must be an array of non-empty strings, got {show(element)}")
        out.append(element)
    return tuple(out)


def check_template(template: str, keys: Keys, allowed: Collection[str], item_ok: bool) -> None:
    """Every placeholder in `template` must be a declared parameter (or {item})."""
    try:
        parts = template_parts(template)
    except ValueError as exc:
        raise Problem(keys, str(exc)) from None
    for _, name in parts:
        if name is None or name in allowed or (item_ok and name == ITEM):
            continue
        if name == ITEM:
            raise Problem(keys, "{item} can only be used in command, and only when items is set")
        names = [*allowed, ITEM] if item_ok else list(allowed)
        from difflib import get_close_matches  # only for a suggestion

        close = get_close_matches(name, names, n=1, cutoff=0.6)
        if close:
            hint = f"did you mean {{{close[0]}}}?"
        else:
            hint = "declared parameters: " + (", ".join(allowed) or "none")
        raise Problem(keys, f"unknown placeholder {{{name}}} in {show(template)} ({hint})")


def as_timezone(value: object, keys: Keys) -> str:
    """An IANA zone name; checked now, since a bad zone would only fail at 3 a.m."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # a config that names a zone

    name = as_str(value, keys, empty=False)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        try:
            ZoneInfo("UTC")
        except ZoneInfoNotFoundError:
            return name  # no time zone database here at all: nothing to check against
        raise Problem(
            keys, f'unknown time zone {show(name)} (e.g. "Europe/Paris", "UTC")'
        ) from None
    return name
