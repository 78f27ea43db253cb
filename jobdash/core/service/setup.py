"""Setting a store up: `jobdash db init [URL]` creates its schema, or brings it up to date
(idempotent: a store already up to date is left as it is). The same happens when a store is
first opened; the command does it on its own, before any engine or user comes (a PostgreSQL
server's administrator runs it once)."""

from __future__ import annotations

from jobdash.core.service.locations import is_default_db, store_location
from jobdash.core.store.base import open_store


async def init_store(db: str | None) -> str:
    """Create (or upgrade) the store at `db` (None: JOBDASH_DB, else the default one); what
    was done, in one line."""
    store = await open_store(store_location(db), create_folder=is_default_db(db))
    try:
        return store.created or f"store at {store.location} is up to date"
    finally:
        await store.close()
