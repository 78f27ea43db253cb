"""The task counters, progress, settling and audit row of the PostgreSQL store: the shared
ones (`jobdash.core.store.sql.counts`), prepared for PostgreSQL once and bound here."""

from __future__ import annotations

from typing import Any

import psycopg

from jobdash.core.store.sql.counts import COUNT_COLUMNS, COUNTS, INFO_MAX, Counts, end_idle
from jobdash.core.store.sql.dialect import POSTGRES

__all__ = ["COUNT_COLUMNS", "INFO_MAX", "Counts"]

Con = psycopg.Connection[Any]
END_IDLE = end_idle(POSTGRES)
_sql = COUNTS[POSTGRES.name]
apply_counts = _sql.apply_counts
update_progress = _sql.update_progress
settle_jobs = _sql.settle_jobs
job_status = _sql.job_status
set_status = _sql.set_status
audit_row = _sql.audit_row
