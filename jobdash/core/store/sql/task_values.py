"""A task's spec and item as both backends store them: JSON text, as `json.dumps` writes
it. Written and read by the million (each task's claim reads both), so the commonest
values skip `json`'s cost (~1.3 µs a value): null, a count, a short string."""

from __future__ import annotations

import functools
import json
from typing import Any

SHORT_STRING = 200  # the JSON strings `_string` keeps decoded (few and small)


def value_text(value: Any) -> str:
    """`json.dumps(value)`: a task's item is often None or an int (0.1 µs, not ~1.5)."""
    if value is None:
        return "null"
    if type(value) is int:  # not a bool, nor an int subclass with a repr of its own
        return str(value)
    return json.dumps(value)


def stored_value(text: str) -> Any:
    """`json.loads(text)` of what `value_text` wrote: null, a count (a plain int's
    digits), a short string (a function task's reference: decoded once, and a str cannot
    be changed) without `json`."""
    if text == "null":
        return None
    if text.isdigit() and text.isascii() and (text[0] != "0" or len(text) == 1):
        return int(text)
    if text[:1] == '"' and len(text) <= SHORT_STRING:
        return _string(text)
    return json.loads(text)


@functools.lru_cache(maxsize=256)
def _string(text: str) -> str:
    value: str = json.loads(text)
    return value
