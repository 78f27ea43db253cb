"""The store location chooses the backend (`open_store`): a path or `sqlite:///PATH` is a
SQLite store, a PostgreSQL URL a PostgreSQL store; a store that cannot be reached, or a
location no backend serves, is refused in one line before anything is made (exit status 2),
through the real command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobdash.core.model import BadInput
from jobdash.core.store.base import open_store
from tests.conftest import run_cli
from tests.test_bad_input import refused


async def test_a_path_and_a_sqlite_url_open_the_same_store(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = await open_store(str(path))
    assert store.location == str(path) and store.created
    await store.close()
    again = await open_store(f"sqlite://{path}")
    try:
        assert again.location == str(path) and not again.created  # it was there already
        assert await again.list_jobs() == []
    finally:
        await again.close()


@pytest.mark.parametrize(
    ("location", "words"),
    [
        # No server there: the location (without its password) and why, in one line.
        (
            "postgresql://jobs:secret@127.0.0.1:1/jobdash",
            ["postgresql://jobs@127.0.0.1:1/jobdash", "cannot use the store"],
        ),
        ("postgres://127.0.0.1:1/jobdash", ["127.0.0.1:1/jobdash", "cannot use the store"]),
        ("mysql://root:secret@db/jobs", ["mysql://", "a path or sqlite:///PATH"]),
        ("sqlite://relative.db", ["sqlite:///PATH"]),
    ],
)
async def test_a_location_no_backend_serves_is_one_line(
    location: str, words: list[str], tmp_path: Path
) -> None:
    with pytest.raises(BadInput) as e:
        await open_store(location)
    for word in words:
        assert word in str(e.value)
    assert "secret" not in str(e.value)  # a URL's password is never repeated
    line = refused(run_cli("jobs", "--db", location, cwd=tmp_path), *words)
    assert "secret" not in line
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_jobdash_db_may_be_a_url_too(tmp_path: Path) -> None:
    refused(
        run_cli("jobs", env={"JOBDASH_DB": "postgresql://127.0.0.1:1/jobs"}, cwd=tmp_path),
        "postgresql://127.0.0.1:1/jobs",
        "cannot use the store",
    )
