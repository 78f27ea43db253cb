"""How the answer to "why is it waiting?" looks (`core.model.Why`, said by `core.waiting`):
labelled lines, the same in `jobdash why` and the job details header.

The words of each reason are `core.waiting`'s; here only which line says what: the job's
reason first ("waiting", or "now" for a job that does not wait), then one line per group of
its pending tasks whose reason differs from the job's, labelled with the tasks it names.
"""

from __future__ import annotations

from jobdash.core.views import TaskWait, Why
from jobdash.present.words import plural


def tasks_label(t: TaskWait) -> str:
    """Which tasks a line is about: "task #4", "tasks #4, #7", "tasks #4, #7 and 12 more",
    "3 tasks" (ready tasks, not named one by one)."""
    if not t.seqs:
        return plural(t.count, "task")
    names = ", ".join(f"#{n}" for n in t.seqs)
    more = t.count - len(t.seqs)
    word = "task" if t.count == 1 else "tasks"
    return f"{word} {names}" + (f" and {more} more" if more > 0 else "")


def why_fields(w: Why) -> list[tuple[str, str]]:
    """The labelled lines of an answer: the job's reason, then its tasks' where they
    differ."""
    out = [("waiting" if w.waiting else "now", w.text)]
    out += [(tasks_label(t), t.text) for t in w.tasks]
    return out
