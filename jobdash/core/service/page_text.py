"""What both exports' pages are written with: the page's text put together from its
columns' texts (`interleaved`), and texts kept for the stored values met (`KeptTexts`).

Why: an export writes millions of jobs a page of 1,000 at a time, and a call of Python a
value was most of its time; a column's texts are made in calls of C where they can be,
then each record's pieces set in place by a slice (a copy in C) and joined once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence


def interleaved(parts: Iterable[str | Sequence[str]], n: int) -> str:
    """The text of `n` records, each made of `parts` in their order: a str is the text
    every record holds there, a sequence each record's own (one whose texts are all the
    same: that text, written once). The texts every record holds side by side are put
    together once: a template a record (`%`) cost more than writing all its values."""
    if not n:
        return ""
    pieces: list[str | Sequence[str]] = []  # a text all records hold, or one a record
    same = ""  # the text all records hold since the last piece
    for part in parts:
        if isinstance(part, str):
            same += part
        elif part.count(part[0]) == len(part):  # (no text hashed, as a set would)
            same += part[0]
        else:
            if same:
                pieces.append(same)
            pieces.append(part)
            same = ""
    pieces.append(same)
    k = len(pieces)
    joined: list[str] = [""] * (n * k)
    for i, piece in enumerate(pieces):
        joined[i::k] = [piece] * n if isinstance(piece, str) else piece
    return "".join(joined)


class KeptTexts:
    """The texts `make` writes of stored texts (a job's parameters, its metrics), each kept
    within a few MB: the jobs of a type or a schedule often have the same parameters, and
    parsing and writing them again was a third of an export's time."""

    def __init__(self, make: Callable[[str], str], kept: int = 4096, longest: int = 2048) -> None:
        self.make = make
        self.kept: dict[str, str] = {}
        self.most = kept  # texts kept at most (a history of all different parameters)
        self.longest = longest  # a stored text and its text kept: this long at most

    def __call__(self, stored: str) -> str:
        text = self.kept.get(stored)
        if text is None:
            text = self.make(stored)
            if len(stored) + len(text) <= self.longest:
                if len(self.kept) >= self.most:
                    self.kept.clear()
                self.kept[stored] = text
        return text

    def column(self, column: Sequence[str]) -> list[str]:
        """The text of each of a column's stored texts (a lookup in C a value, most kept)."""
        texts = [*map(self.kept.get, column)]
        if None not in texts:
            return texts  # type: ignore[return-value]  # none missing
        return [self(v) if t is None else t for v, t in zip(column, texts, strict=True)]
