"""jobdash's public Python API for writing job types.

A Python job type is an async function that receives a `JobContext`: it adds tasks
(`ctx.add_task(fn, item)`), writes log lines, reports progress and metrics, and checks for
cancellation (`await ctx.checkpoint()`). Each task is an async function
`fn(ctx: TaskContext, item)`. A type may have a finalize step, `finalize(ctx:
FinalizeContext)`, run once after its last task with their results. See the README for a
complete example.
"""

from jobdash.core.model import Items, JobType, Param, Report
from jobdash.core.runners import (
    FinalizeContext,
    JobContext,
    Results,
    TaskCancelled,
    TaskContext,
    TooManyTasks,
)

__all__ = [
    "FinalizeContext",
    "Items",
    "JobContext",
    "JobType",
    "Param",
    "Report",
    "Results",
    "TaskCancelled",
    "TaskContext",
    "TooManyTasks",
]
