"""How the CLI and the dashboard show what agent deaths and taken-over claims left behind.

- A log line written by an earlier attempt of its task is kept (it is what the task
  printed) but must not pass for the latest attempt's: a retried attempt's output, or what
  a frozen agent printed before its claim was taken over and stored once it woke up.
- Retrying a quarantined task (it killed its agent) is allowed, with a warning that says
  what will happen.
"""

from __future__ import annotations

from collections.abc import Sequence

from jobdash.core.model import LogLine, Task
from jobdash.present.text import sanitize


def attempt_mark(line: LogLine) -> str:
    """'[attempt 1] ' before a task's output line of an earlier attempt than its latest, else
    '' (jobdash's own system lines name the attempt they speak of): as `LogTexts.earlier`
    says it of the lines of a page, which `earlier_mark` marks."""
    return earlier_mark(line.attempt) if line.earlier and line.stream != "system" else ""


def earlier_mark(attempt: int | None) -> str:
    """'[attempt 1] ' before a line written by `attempt`, an earlier attempt than its task's
    latest; '' for None (the latest, or no task's)."""
    return "" if attempt is None else f"[attempt {attempt}] "


def quarantine_warning(task: Task) -> str:
    """What retrying a quarantined task does, in one line."""
    why = task.error.removeprefix("quarantined").lstrip(": ")
    return (
        f"task {task.seq} ({task.name}) was quarantined ({why}): retried, it runs again "
        "alone on an agent, and is quarantined again if that agent dies"
    )


def quarantine_warnings(tasks: Sequence[Task], shown: int = 5) -> str:
    """What retrying these quarantined tasks does, a line for each of the first `shown`
    (each sanitized: a task's name or error cannot break a line of its own)."""
    text = "\n".join(sanitize(quarantine_warning(t)) for t in tasks[:shown])
    if len(tasks) > shown:
        text += f"\n… and {len(tasks) - shown} more"
    return text
