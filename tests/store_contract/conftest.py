"""The backends the Store contract suite runs on, and the stores each test opens.

Every test of this suite takes `location` (a fresh, empty store's location) or `store` (the
store opened there) and uses nothing but the Store protocol, `open_store` and the plain
records: it holds for any backend `open_store` serves.

Adding a backend is one entry in `BACKENDS`: a name and a function that gives a fresh,
empty store's location for one test (and removes it after). PostgreSQL's makes a schema of
its own on the server `JOBDASH_TEST_PG` names (tests/pg.py); without one its tests are
skipped, with the reason (in CI they fail).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from jobdash.core.store.base import Store, open_store
from tests.pg import fresh_pg_store

BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {
    "sqlite": lambda request, tmp: f"sqlite:///{tmp / 'contract.db'}",
    "postgresql": lambda request, tmp: fresh_pg_store(request),
}


@pytest.fixture(params=sorted(BACKENDS))
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store's location, once per backend."""
    return BACKENDS[request.param](request, tmp_path)


@pytest.fixture
async def stores(location: str) -> AsyncIterator[Callable[[], Awaitable[Store]]]:
    """Open store objects on the test's location (as many as a test wants), closed after."""
    opened: list[Store] = []

    async def open_() -> Store:
        store = await open_store(location)
        opened.append(store)
        return store

    yield open_
    for store in reversed(opened):
        await store.close()


@pytest.fixture
async def store(stores: Callable[[], Awaitable[Store]]) -> Store:
    """The test's store."""
    return await stores()
