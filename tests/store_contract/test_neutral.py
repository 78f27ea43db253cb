"""The contract suite holds for any backend: it reaches the store through `open_store` and
the Store protocol only, never through a backend's module, SQL or private attributes."""

from __future__ import annotations

import re
from pathlib import Path

BACKEND_SPECIFIC = re.compile(
    r"\b(?:sqlite3|aiosqlite|SqliteStore|psycopg)\b|core\.store\.sqlite|\.execute\(|\w\._[a-z]"
)


def test_the_contract_suite_uses_nothing_of_a_backend() -> None:
    here = Path(__file__).parent
    found = [
        f"{path.name}:{n}: {line.strip()}"
        for path in sorted(here.glob("*.py"))
        if path.name != Path(__file__).name
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if BACKEND_SPECIFIC.search(line)
    ]
    assert found == []
