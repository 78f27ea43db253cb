"""Jobs for the job table's tests, made without Textual (the row model's tests use them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobdash.core.model import Job, JobStatus, Trigger

# A frozen "now": 14:03:22 local time on a fixed day, so formatting is stable in any zone.
NOW = datetime(2024, 3, 12, 14, 3, 22).timestamp()


def make_job(job_id: int, status: JobStatus = JobStatus.SUCCEEDED, **changes: Any) -> Job:
    """A finished job that started 15 minutes before NOW and took 10 minutes."""
    fields: dict[str, Any] = {
        "id": job_id,
        "type": "import",
        "params": {},
        "user": "alice",
        "trigger": Trigger.MANUAL,
        "status": status,
        "created": NOW - 1000,
        "updated": NOW - 300 + job_id * 0.0001,
        "started": NOW - 900,
        "finished": NOW - 300 if status.finished else None,
        "succeeded": 3,
        "pending": 1 if not status.finished else 0,
        "target": f"t{job_id}",
        "info": f"info {job_id}",
    }
    fields.update(changes)
    return Job(**fields)
