"""How log lines are labelled with their task, on a terminal and in a saved log.

When the tasks of a job run side by side their lines interleave; a stream that carries
more than one task's lines says, before each line, which task printed it ("#2 beta"),
padded so the lines start in one column.  A saved log keeps everything a reader needs
later: the time with its offset, the task and the stream of each line.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from jobdash.core.model import LogLine, Task
from jobdash.present.recovery import attempt_mark
from jobdash.present.text import cells, clip, sanitize

__all__ = ["LABEL_WIDTH", "TaskLabels", "saved_line"]

LABEL_WIDTH = 24
"""On a terminal task labels are cut to this many cells: a long item name must not push
the text away. Piped and saved, a label is whole: `grep` and a reader later need it all."""


class TaskLabels:
    """The labels of one job's tasks: "#SEQ NAME", sanitized, cut to `cut` cells (a
    terminal's `LABEL_WIDTH`; None: whole); "job" for a line no task printed.  `padded`
    pads them to the widest, for alignment."""

    def __init__(self, tasks: Iterable[Task] = (), cut: int | None = None) -> None:
        self._labels: dict[int, str] = {}
        self.cut = cut
        self.width = 0
        self.update(tasks)

    def update(self, tasks: Iterable[Task]) -> None:
        for task in tasks:
            label = sanitize(f"#{task.seq} {task.name}")
            if self.cut is not None:
                label = clip(label, self.cut)
            self._labels[task.id] = label
            self.width = max(self.width, cells(label))

    def knows(self, line: LogLine) -> bool:
        return line.task_id is None or line.task_id in self._labels

    def __len__(self) -> int:
        return len(self._labels)

    def label(self, line: LogLine) -> str:
        if line.task_id is None:
            return "job"
        return self._labels.get(line.task_id, f"task {line.task_id}")

    def padded(self, line: LogLine) -> str:
        label = self.label(line)
        return label + " " * max(0, self.width - cells(label))


def saved_line(line: LogLine, labels: TaskLabels) -> str:
    """One line of a saved log, tab-separated: ISO 8601 local time with its offset (to the
    millisecond), task, stream, then the text exactly as the job printed it (a line break
    inside it becomes a space, so that one line stays one line), marked when an earlier
    attempt of its task printed it."""
    at = datetime.fromtimestamp(line.ts).astimezone().isoformat(timespec="milliseconds")
    text = attempt_mark(line) + line.text.replace("\r\n", " ").replace("\n", " ")
    return f"{at}\t{labels.label(line)}\t{line.stream}\t{text}\n"
