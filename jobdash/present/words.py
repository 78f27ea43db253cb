"""Counted words, for every count that jobdash prints ("1 task", "2 tasks").

One rule in one place, shared by the CLI, the dashboard, the store's info lines and the
reports, so no screen says "1 tasks done" or "with 1 warnings".
"""

from __future__ import annotations

# Words whose plural is not the word + "s".
_IRREGULAR: dict[str, str] = {
    "directory": "directories",
    "entry": "entries",
    "match": "matches",
    "try": "tries",
}


def plural_word(count: int, word: str) -> str:
    """`word` in the plural unless `count` is one: "line" / "lines". For a text whose
    number is formatted apart ("1,204 new lines")."""
    return word if count == 1 else _IRREGULAR.get(word, word + "s")


def plural(count: int, word: str) -> str:
    """The count and the word: "1 task", "0 tasks", "3 warnings"."""
    return f"{count} {plural_word(count, word)}"


def agree(count: int, one: str, many: str) -> str:
    """The verb that agrees with `count`: agree(1, "is", "are") is "is", agree(2, …) "are"."""
    return one if count == 1 else many


def no_match(things: str, filter_text: str) -> str:
    """What an empty pane says when a filter hides all it holds: `No jobs match “alice”`
    (the filter as typed, to be shown inert like any text jobdash did not write)."""
    return f"No {things} match \u201c{filter_text.strip()}\u201d"
