"""The PostgreSQL server of the tests: `JOBDASH_TEST_PG` names it (`.ci/postgres start`
makes a private one and prints the export). Each test gets a fresh schema of its own on it
(a store lives in its connection's current schema), dropped after the test.

Without the variable a test that needs the server is skipped with the reason, except in CI
(`CI=true`), where a missing server is a failure: CI must run both backends.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest

SERVER_VAR = "JOBDASH_TEST_PG"
NO_SERVER = (
    f"PostgreSQL: {SERVER_VAR} names no server; start one with "
    '`eval "$(.ci/postgres start)"` (see the README)'
)


def pg_server() -> str:
    """The test server's URL; skips (fails in CI) when there is none."""
    url = os.environ.get(SERVER_VAR, "")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{NO_SERVER}: CI runs every test on both backends")
        pytest.skip(NO_SERVER)
    return url


def schema_url(server: str, schema: str) -> str:
    """The URL of a store in `schema` of the server's database."""
    sep = "&" if "?" in server else "?"
    return f"{server}{sep}options={quote(f'-csearch_path={schema}')}"


def fresh_pg_store(request: pytest.FixtureRequest) -> str:
    """A fresh, empty store's URL for one test: a schema of its own, dropped after it."""
    import psycopg  # only where a test uses PostgreSQL

    server = pg_server()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")

    request.addfinalizer(drop)
    return schema_url(server, schema)
