"""What a job's finalize step is told: the results of the job's other tasks.

Why a read of its own: the step runs once, after the last task (the job `finalizing`), to
compile what the tasks made or send it on; it must know how they ended without a claim
carrying it (claims are the hot path, and a job may have a million tasks). So the step reads
its job's counters when it starts (one row), and a Python step reads the tasks themselves
only if it asks (`FinalizeContext.tasks`, in `python`). A command step gets the same counts in its
environment (`results_env`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobdash.core.lifecycle import settle
from jobdash.core.model import JobStatus
from jobdash.core.store.base import Store


@dataclass(frozen=True)
class Results:
    """How a job's tasks (its finalize step left out) ended. `outcome` is the status the job
    would have without the step: succeeded, warning, failed or cancelled."""

    outcome: str
    tasks: int
    succeeded: int
    failed: int
    cancelled: int
    warnings: int
    metrics: dict[str, float] = field(default_factory=dict)


async def results_of(store: Store, job_id: int) -> Results:
    """The results of job `job_id`'s tasks, read while its finalize step runs (the step is
    its one running task; every other one has ended)."""
    job = await store.get_job(job_id)
    total = job.total - 1  # without the step itself
    outcome = settle(JobStatus.RUNNING, total, job.failed, job.cancelled, job.warnings).status
    return Results(
        str(outcome),
        total,
        job.succeeded,
        job.failed,
        job.cancelled,
        job.warnings,
        dict(job.metrics),
    )


def results_env(r: Results) -> dict[bytes, bytes]:
    """A command step's environment additions: JOBDASH_OUTCOME (the job's status without
    the step), JOBDASH_TASKS, JOBDASH_SUCCEEDED, JOBDASH_FAILED, JOBDASH_CANCELLED and
    JOBDASH_WARNINGS (counts of the other tasks)."""
    counts = {
        "TASKS": r.tasks,
        "SUCCEEDED": r.succeeded,
        "FAILED": r.failed,
        "CANCELLED": r.cancelled,
        "WARNINGS": r.warnings,
    }
    env = {b"JOBDASH_OUTCOME": r.outcome.encode()}
    env.update({f"JOBDASH_{k}".encode(): b"%d" % v for k, v in counts.items()})
    return env
