"""How one task attempt runs: a command in its own process group, or a Python coroutine.

Both kinds offer the same handle (`Run`, in `base`): `wait()` for the outcome,
`stop(force)` to cancel, `pause()`/`resume()`. `command` runs a command and `output` reads
its pipes line by line into the store as data; `python` runs a Python task, job function
or finalize step and holds what it receives (`TaskContext`, `JobContext`,
`FinalizeContext`, which `jobdash.api` offers users); `finalize` reads the results a
job's finalize step is told.
"""

from jobdash.core.runners.base import RefusedRun, Result, Run
from jobdash.core.runners.command import LEFTOVER_GRACE, STOP_GRACE, WATCH_AFTER, CommandRun
from jobdash.core.runners.finalize import Results
from jobdash.core.runners.output import CHUNK, READ_LIMIT
from jobdash.core.runners.python import (
    FinalizeContext,
    FunctionRun,
    JobContext,
    TaskCancelled,
    TaskContext,
    TooManyTasks,
    function_ref,
    resolve,
)

__all__ = [
    "CHUNK",
    "LEFTOVER_GRACE",
    "READ_LIMIT",
    "STOP_GRACE",
    "WATCH_AFTER",
    "CommandRun",
    "FinalizeContext",
    "FunctionRun",
    "JobContext",
    "RefusedRun",
    "Result",
    "Results",
    "Run",
    "TaskCancelled",
    "TaskContext",
    "TooManyTasks",
    "function_ref",
    "resolve",
]
