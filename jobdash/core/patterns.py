"""Regular expressions compiled where they are first used, once per process.

A module-level `re.compile` is paid by every command that imports the module (~0.45 M
instructions a pattern), though most never use it: `jobdash jobs` reads no config key, no
duration and no failure's text. Such patterns are kept as text beside their use and
compiled by `compiled` the first time, then taken from here (not from `re`'s own cache,
which is looked up at each call and whose workings are its own).
"""

from __future__ import annotations

import re

__all__ = ["compiled"]

_compiled: dict[tuple[str, int], re.Pattern[str]] = {}


def compiled(text: str, flags: int = 0) -> re.Pattern[str]:
    """`text` compiled with `flags`: at the first call, then the same object."""
    found = _compiled.get((text, flags))
    if found is None:
        found = _compiled[(text, flags)] = re.compile(text, flags)
    return found
