"""The SQLite backend of the Store contract: `SqliteStore` (store.py) and the areas it is
composed of, one module each (see store.py for the map). Only this package and
`base.open_store` import it."""

from jobdash.core.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
