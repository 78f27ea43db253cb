"""`migrate`: brings a SQLite store to the schema of this jobdash (schema.py's migrations,
in one transaction), or leaves it untouched: a store made by a newer jobdash, or one whose
tables do not match the version it records."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from pathlib import Path

from jobdash.core.model import BadInput
from jobdash.core.store.faults import StoreError
from jobdash.core.store.sqlite.schema import APP_ID, MIGRATIONS, SCHEMA_VERSION
from jobdash.present.words import plural_word


@functools.cache
def schema_tables(version: int) -> frozenset[str]:
    """The tables of a store at schema `version`: those its migrations make (built in
    memory, a few milliseconds)."""
    con = sqlite3.connect(":memory:")
    try:
        for script in MIGRATIONS[:version]:
            con.executescript(script)
        rows = con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        return frozenset(r[0] for r in rows)
    finally:
        con.close()


def schema_mismatch(have: set[str], version: int) -> str:
    """How the tables `have` differ from those of schema `version` ("" when they do not):
    the upgrade from a version assumes its tables, and on others it would fail half-way."""
    want = schema_tables(version)
    parts = []
    if extra := sorted(have - want):
        parts.append(f"{plural_word(len(extra), 'table')} {', '.join(extra[:3])} not of it")
    if missing := sorted(want - have):
        parts.append(f"{plural_word(len(missing), 'table')} {', '.join(missing[:3])} missing")
    return "; ".join(parts)


def migrate(con: sqlite3.Connection, path: Path) -> int | None:
    """Bring the store on `con` (the writer, in its thread) to SCHEMA_VERSION in one
    transaction, or leave it untouched: made by a newer jobdash, or tables that do not match
    the version it records. The schema it upgraded the store from; None for a store it
    created, or found up to date (another process upgraded it meanwhile)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        found = con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchall()
        version = 0
        if found:
            got = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchall()
            version = int(got[0][0]) if got else 0
        if version > SCHEMA_VERSION:  # made newer between the check and this lock
            raise BadInput(
                f"{path}: made by a newer jobdash (store schema {version}, this "
                f"version knows {SCHEMA_VERSION}); upgrade jobdash — the store was left "
                "untouched"
            )
        # The upgrade from `version` assumes that version's tables: on other tables (a
        # schema_version edited or restored apart from them) it would fail half-way.
        have = {
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        if mismatch := schema_mismatch(have, version):
            raise StoreError(
                f"{path}: its tables do not match its recorded schema version "
                f"{version} ({mismatch}); jobdash will not upgrade it and left it "
                "untouched: restore a backup, or set meta.schema_version to the version "
                "its tables are"
            )
        for i in range(version, SCHEMA_VERSION):
            for stmt in split_sql(MIGRATIONS[i]):
                con.execute(stmt)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('app', ?)", (APP_ID,))
        con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            con.execute("ROLLBACK")
        raise
    return version if 0 < version < SCHEMA_VERSION else None


def split_sql(script: str) -> list[str]:
    """Split a migration into statements, as SQLite itself sees their ends (comments and
    string literals may hold semicolons)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in buf.splitlines()
    ):
        out.append(buf.strip())
    return out
