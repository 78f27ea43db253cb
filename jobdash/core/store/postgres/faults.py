"""PostgreSQL's failures as StoreErrors: a lost or refused connection, a full disk or a
server shutting down are the store's own trouble (an engine retries them, a command says so
in one line); any other error is a bad statement ("store failure: …"). Nothing of psycopg
leaves the backend.
"""

from __future__ import annotations

import psycopg
from psycopg import errors

from jobdash.core.store.faults import StoreError, one_line

# SQLSTATE classes of failures of the server or the connection, not of a statement:
# 08 connection exception, 53 insufficient resources, 57 operator intervention (shutdown),
# 58 system error.
FAULT_CLASSES = ("08", "53", "57", "58")


def is_fault(e: BaseException) -> bool:
    if isinstance(e, psycopg.OperationalError | psycopg.InterfaceError):
        return not isinstance(e, errors.QueryCanceled | errors.LockNotAvailable)
    state = getattr(e, "sqlstate", None) or ""
    return isinstance(e, psycopg.Error) and state[:2] in FAULT_CLASSES


def store_error(where: str, e: BaseException) -> StoreError:
    """One line for a failure of the store at `where` (a URL without its password)."""
    why = one_line(str(e).strip() or type(e).__name__)
    if is_fault(e):
        return StoreError(f"{where}: cannot use the store: {why}", why)
    return StoreError(f"{where}: store failure: {why}", why)
