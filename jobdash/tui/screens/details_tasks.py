"""The job details screen's task table: its columns, and a task's row as `task_look` and
`task_time` show it (paused with its job, stalled, its agent lost)."""

from __future__ import annotations

from jobdash.core.model import Job, Task
from jobdash.present.durations import task_time
from jobdash.present.status import exit_text
from jobdash.present.times import in_column
from jobdash.present.timing import task_look
from jobdash.tui.widgets.line_table import Cell, Row, TableColumn

TASK_COLUMNS = (
    TableColumn("#", 5, "right"),
    TableColumn("status", 12),
    TableColumn("try", 3, "right"),
    TableColumn("agent", 14),
    TableColumn("name", 0, min_width=16, path=True),
    TableColumn("started", 8),
    TableColumn("time", 7, "right"),
    TableColumn("exit / error", 0, min_width=16),
)


def task_row(task: Task, now: float, job: Job) -> Row:
    """A task of `job`'s row, as `task_look` shows it (paused with its job, stalled, its
    agent lost); its time as its job's clock counts it."""
    shown = task_look(task, job, now)
    if task.error:
        outcome = Cell(task.error, "error")
    elif task.exit_code is not None:
        outcome = Cell(f"exit {exit_text(task.exit_code)}", "error" if task.exit_code else "dim")
    else:
        outcome = Cell("")
    return Row(
        task.seq,
        (
            str(task.seq),
            Cell(shown.text, shown.tone),
            str(task.attempt),
            Cell(task.agent or "", "dim"),
            task.name,
            Cell(in_column(task.started, now), "dim"),
            task_time(task, job, now),
            outcome,
        ),
    )
