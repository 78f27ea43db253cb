"""The task counters, progress, settling and audit row of the SQLite store: the shared ones
(`jobdash.core.store.sql.counts`), prepared for SQLite once and bound here, so that the
areas call them as plain functions (`apply_counts(con, rev, now, counts)`)."""

from __future__ import annotations

from jobdash.core.store.sql.counts import (
    COUNT_COLUMNS,
    COUNTS,
    INFO_MAX,
    SETTLING_SQL,
    Counts,
    end_idle,
)
from jobdash.core.store.sql.dialect import SQLITE

__all__ = ["COUNT_COLUMNS", "INFO_MAX", "SETTLING_SQL", "Counts"]

END_IDLE = end_idle(SQLITE)
_sql = COUNTS[SQLITE.name]
apply_counts = _sql.apply_counts
update_progress = _sql.update_progress
settle_jobs = _sql.settle_jobs
job_row = _sql.job_row
job_status = _sql.job_status
set_status = _sql.set_status
audit_row = _sql.audit_row
