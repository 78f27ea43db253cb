"""The PostgreSQL backend of the Store contract: `PostgresStore` (store.py), composed of its
areas, one module each, named as the SQLite backend's are (see store.py for the map). Only
this package, `base.open_store` and `jobdash db init` import it; it needs the optional
`postgres` extra (psycopg 3)."""

from jobdash.core.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
