"""The task counters, progress, settling and audit row of the SQLite store: the shared ones
(`jobdash.core.store.sql.counts`), prepared for SQLite once; the two this backend's own
transactions call (claims, a new job's audit row) are bound here as plain functions
(`apply_counts(con, rev, now, counts)`). The shared areas use `COUNTS[dialect.name]`."""

from __future__ import annotations

from jobdash.core.store.sql.counts import COUNTS, Counts
from jobdash.core.store.sql.dialect import SQLITE

__all__ = ["Counts", "apply_counts", "audit_row"]

apply_counts = COUNTS[SQLITE.name].apply_counts
audit_row = COUNTS[SQLITE.name].audit_row
