"""The task counters, progress, settling and audit row of the PostgreSQL store: the shared
ones (`jobdash.core.store.sql.counts`), prepared for PostgreSQL once; the two this backend's
own transactions call (claims, a new job's audit row) are bound here as plain functions. The
shared areas use `COUNTS[dialect.name]`."""

from __future__ import annotations

from typing import Any

import psycopg

from jobdash.core.store.sql.counts import COUNTS, Counts, end_idle
from jobdash.core.store.sql.dialect import POSTGRES

__all__ = ["Counts", "apply_counts", "audit_row"]

Con = psycopg.Connection[Any]
END_IDLE = end_idle(POSTGRES)
apply_counts = COUNTS[POSTGRES.name].apply_counts
audit_row = COUNTS[POSTGRES.name].audit_row
