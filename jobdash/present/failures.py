"""How a failure group looks, the same in `jobdash failures` and the dashboard's Failures
tab: its columns' texts (the normalised message, job types, counts, first and last seen, a
sparkline of its attempts over time), its JSON, and the question a group retry asks.

The message and the types are text jobdash did not write (error lines, type names): callers
show them through the sanitiser, as every other such text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobdash.present.durations import duration
from jobdash.present.progress import sparkline
from jobdash.present.status import look
from jobdash.present.times import in_column
from jobdash.present.words import plural

if TYPE_CHECKING:  # hints only: the dashboard's first frame does not load the views
    from jobdash.core.views import FailedTask, FailureGroup

TYPES_SHOWN = 2  # job types named in a group's row; the others are counted


def group_types(g: FailureGroup, shown: int = TYPES_SHOWN) -> str:
    """The job types of a group's attempts, the most failing first: "import 12, export 3,
    +2"."""
    names = [f"{name} {n}" for name, n in list(g.types.items())[:shown]]
    if len(g.types) > shown:
        names.append(f"+{len(g.types) - shown}")
    return ", ".join(names)


def trend_span(g: FailureGroup) -> str:
    """What a group's sparkline spans: "per 1h12m, over 1d" (each bar, all of them)."""
    n = max(1, len(g.trend))
    whole = max(0.0, g.trend_end - g.trend_start)
    each = duration(whole / n) if whole / n >= 1 else "<1s"  # not "per 0s"
    return f"per {each}, over {duration(whole)}"


def group_cells(g: FailureGroup, now: float) -> tuple[str, ...]:
    """A group's row: id, attempts, tasks, jobs, types, first seen, last seen, trend,
    message (`GROUP_COLUMNS`)."""
    return (
        g.id,
        str(g.attempts),
        str(g.tasks),
        str(g.jobs),
        group_types(g),
        in_column(g.first, now),
        in_column(g.last, now),
        sparkline(g.trend, len(g.trend)),
        g.message,
    )


GROUP_COLUMNS = ("group", "fails", "tasks", "jobs", "types", "first", "last", "trend", "message")


def group_dict(g: FailureGroup) -> dict[str, Any]:
    """A group as `--json` gives it."""
    return {
        "id": g.id,
        "message": g.message,
        "attempts": g.attempts,
        "tasks": g.tasks,
        "jobs": g.jobs,
        "first": g.first,
        "last": g.last,
        "types": g.types,
        "trend": g.trend,
        "trend_start": g.trend_start,
        "trend_end": g.trend_end,
    }


def task_cells(t: FailedTask, now: float) -> tuple[str, ...]:
    """A group's task: job, type, task, its status now, failed attempts here, last failed,
    the error as it was (`TASK_COLUMNS`)."""
    return (
        str(t.job_id),
        t.job_type,
        f"#{t.seq} {t.name}",
        look(t.status).text,
        str(t.attempts),
        in_column(t.last, now),
        t.error,
    )


TASK_COLUMNS = ("job", "type", "task", "now", "fails", "last", "error")


def retry_question(group: str, tasks: int, jobs: int, left: int) -> tuple[str, str]:
    """The question a group retry asks, naming the counts, and what it adds."""
    question = f"Retry {plural(tasks, 'failed task')} of {plural(jobs, 'job')}?"
    detail = f"The tasks of failure group {group} whose latest attempt failed of this cause"
    detail += " run again, in their finished jobs."
    if left:
        detail += (
            f" {plural(left, 'other task')} of the group stay as they are (run again since, "
            "failed otherwise, or in a job still running)."
        )
    return question, detail
