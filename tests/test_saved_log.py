"""A saved log keeps what a reader needs later: time with offset, task, stream, and whose
attempt printed a line."""

from __future__ import annotations

from jobdash.core.model import LogLine, Task, TaskStatus
from jobdash.present.logs import TaskLabels, saved_line


def test_a_line_of_an_earlier_attempt_stays_marked_in_a_saved_log() -> None:
    task = Task(id=7, job_id=1, seq=2, name="beta", item=None, status=TaskStatus.RUNNING)
    labels = TaskLabels([task])
    late = LogLine(5, 1, 7, 1_700_000_000.0, "stdout", "late 1", attempt=1, earlier=True)
    now = LogLine(6, 1, 7, 1_700_000_001.0, "stdout", "done 2", attempt=2)
    at, label, stream, text = saved_line(late, labels).rstrip("\n").split("\t")
    assert (label, stream, text) == ("#2 beta", "stdout", "[attempt 1] late 1")
    assert at.startswith("2023-11-1") and at[-6] in "+-"  # ISO 8601 with its offset
    assert saved_line(now, labels).rstrip("\n").split("\t")[3] == "done 2"
