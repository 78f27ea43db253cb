"""How log lines are labelled with their task, on a terminal and in a saved log.

When the tasks of a job run side by side their lines interleave; a stream that carries
more than one task's lines says, before each line, which task printed it ("#2 beta"; in
the job details' pane, beside the table of its tasks, "#2"), padded so the lines start in
one column.  A stream of several jobs' lines (`jobdash logs
12 13 14`, the dashboard's `L`) says the job too ("12 #2 beta"), each job in its own colour
(its `hue`: the CLI and the dashboard each map hues to their colours).  A saved log keeps everything a reader needs
later: the time with its offset, the task and the stream of each line.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from jobdash.core.model import LineLevel, LogLine, Task
from jobdash.present.recovery import attempt_mark
from jobdash.present.text import cells, clip, sanitize

__all__ = [
    "GUTTER",
    "JOB_HUES",
    "JOB_LABEL",
    "LABEL_WIDTH",
    "JobLabels",
    "LineLabels",
    "TaskLabels",
    "saved_line",
    "task_ids",
]

LABEL_WIDTH = 24
"""On a terminal task labels are cut to this many cells: a long item name must not push
the text away. Piped and saved, a label is whole: `grep` and a reader later need it all."""


JOB_HUES = 6
"""Colours told apart by the job prefixes of several jobs' lines: the jobs take them in
turn, in the order given, as `docker compose logs` colours its services."""


GUTTER: dict[LineLevel, str] = {
    LineLevel.OUTPUT: " ",
    LineLevel.WARNING: "⚠",
    LineLevel.ERROR: "!",
    LineLevel.SYSTEM: "»",
}
"""The cell before each line on a screen (the log pane, a failure group's sample), by its
level (`line_level`, the one classifier of log lines, by which the store also counts unread
warnings and errors): a level is never told by colour alone."""

JOB_LABEL = "job"  # the label of a line no task printed (the job's own)


class TaskLabels:
    """The labels of one job's tasks: "#SEQ NAME", sanitized, cut to `cut` cells (a
    terminal's `LABEL_WIDTH`; None: whole), or with `names` False only "#SEQ" (the job
    details' pane: the task table above it names them, and the text keeps the width); "job"
    for a line no task printed.  `padded` pads them to the widest, for alignment."""

    def __init__(
        self, tasks: Iterable[Task] = (), cut: int | None = None, names: bool = True
    ) -> None:
        self._labels: dict[int, str] = {}
        self._padded: dict[int | None, str] = {}  # a log of millions of lines: made once
        self.cut = cut
        self.names = names
        self.width = cells(JOB_LABEL)
        self.update(tasks)

    def update(self, tasks: Iterable[Task]) -> bool:
        """Learn the labels of `tasks`; whether a label is new or changed."""
        self._padded.clear()
        changed = False
        for task in tasks:
            label = sanitize(f"#{task.seq} {task.name}") if self.names else f"#{task.seq}"
            if self.cut is not None:
                label = clip(label, self.cut)
            if self._labels.get(task.id) != label:
                changed = True
                self._labels[task.id] = label
                self.width = max(self.width, cells(label))
        return changed

    def knows(self, task_id: int | None) -> bool:
        """Whether the lines of task `task_id` have their label (a page of lines asks once
        for each of its tasks, not for each line)."""
        return task_id is None or task_id in self._labels

    def __len__(self) -> int:
        return len(self._labels)

    def label(self, line: LogLine) -> str:
        return self.label_for(line.task_id)

    def label_for(self, task_id: int | None) -> str:
        if task_id is None:
            return JOB_LABEL
        return self._labels.get(task_id, f"task {task_id}")

    def label_of(self, job_id: int, task_id: int | None) -> str:
        """The label of a line of the job (`LineLabels`: the job is this one)."""
        return self.label_for(task_id)

    def hue_of(self, job_id: int, task_id: int | None) -> int | None:
        """None: one job's lines are told apart by their labels' words, in one muted
        colour (a colour in a log pane says a line's level)."""
        return None

    def padded(self, line: LogLine) -> str:
        return self.padded_for(line.task_id)

    def padded_for(self, task_id: int | None) -> str:
        padded = self._padded.get(task_id)
        if padded is None:
            label = self.label_for(task_id)
            padded = self._padded[task_id] = label + " " * max(0, self.width - cells(label))
        return padded


class JobLabels:
    """The labels of several jobs' lines: the job's id, then its task's label ("12 #2
    beta", "12 job" for a line no task printed), each job's `hue` by its place among them.
    `width` is the widest label yet, for `padded`."""

    def __init__(self, job_ids: Iterable[int], cut: int | None = None) -> None:
        self.tasks: dict[int, TaskLabels] = {}
        self.hues: dict[int, int] = {}
        self.cut = cut
        self.width = 0
        self._padded: dict[tuple[int, int | None], str] = {}
        for job_id in job_ids:
            self.add_job(job_id)

    def add_job(self, job_id: int) -> None:
        self._padded.clear()
        if job_id not in self.tasks:
            self.hues[job_id] = len(self.tasks) % JOB_HUES
            self.tasks[job_id] = TaskLabels(cut=self.cut)
            self.width = max(self.width, len(f"{job_id} job"))

    def update(self, job_id: int, tasks: Iterable[Task]) -> None:
        """Learn the labels of a job's tasks (its lines name them)."""
        self.add_job(job_id)  # which forgets the padded labels: the width may change
        labels = self.tasks[job_id]
        labels.update(tasks)
        self.width = max(self.width, len(str(job_id)) + 1 + labels.width)

    def knows(self, job_id: int, task_id: int | None) -> bool:
        labels = self.tasks.get(job_id)
        return labels is not None and labels.knows(task_id)

    def label_of(self, job_id: int, task_id: int | None) -> str:
        labels = self.tasks.get(job_id)
        if labels is None:
            return f"{job_id} job" if task_id is None else f"{job_id} task {task_id}"
        return f"{job_id} {labels.label_for(task_id)}"

    def label(self, line: LogLine) -> str:
        return self.label_of(line.job_id, line.task_id)

    def padded(self, line: LogLine) -> str:
        key = (line.job_id, line.task_id)
        padded = self._padded.get(key)
        if padded is None:
            label = self.label(line)
            padded = self._padded[key] = label + " " * max(0, self.width - cells(label))
        return padded

    def hue(self, job_id: int) -> int:
        return self.hues.get(job_id, 0)

    def hue_of(self, job_id: int, task_id: int | None) -> int | None:
        """The colour of a line's label: its job's (`LineLabels`)."""
        return self.hue(job_id)


class LineLabels(Protocol):
    """What a log pane asks of the labels before its lines: those of one job's tasks
    (`TaskLabels`) or of several jobs' (`JobLabels`)."""

    width: int

    def label_of(self, job_id: int, task_id: int | None) -> str: ...

    def hue_of(self, job_id: int, task_id: int | None) -> int | None:
        """The label's colour among `JOB_HUES` (None: muted)."""
        ...


def task_ids(lines: Iterable[LogLine]) -> set[tuple[int, int | None]]:
    """The (job, task) of some lines, each once: whose labels a page of lines needs."""
    return {(line.job_id, line.task_id) for line in lines}


def saved_line(line: LogLine, labels: TaskLabels | JobLabels) -> str:
    """One line of a saved log, tab-separated: ISO 8601 local time with its offset (to the
    millisecond), task, stream, then the text exactly as the job printed it (a line break
    inside it becomes a space, so that one line stays one line), marked when an earlier
    attempt of its task printed it."""
    at = datetime.fromtimestamp(line.ts).astimezone().isoformat(timespec="milliseconds")
    text = attempt_mark(line) + line.text.replace("\r\n", " ").replace("\n", " ")
    return f"{at}\t{labels.label(line)}\t{line.stream}\t{text}\n"
