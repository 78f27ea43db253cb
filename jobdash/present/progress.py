"""A job's progress as text, the same in the job table and the job's details.

Glyphs, not colours alone: █ tasks that ran to an end, ▒ tasks cancelled before they ran,
░ tasks still to do. A cancelled job thus shows the work that was done (`worked`/total) and
the part cancelled, never a full bar.
"""

from __future__ import annotations

from collections.abc import Iterable

from jobdash.core.model import Job

DONE, CANCELLED, LEFT = "█", "▒", "░"


def progress_bar(job: Job, width: int) -> str:
    """The bar, `width` cells wide."""
    total = job.total
    if not total:  # a job function still planning: its own progress
        filled = round(min(1.0, max(0.0, job.progress / 100.0)) * width)
        return DONE * filled + LEFT * (width - filled)
    ran = round(job.worked / total * width)
    gone = round((job.worked + job.cancelled) / total * width) - ran
    return DONE * ran + CANCELLED * gone + LEFT * (width - ran - gone)


def progress_count(job: Job) -> str:
    """ "12/40": the tasks that ran to an end, of all; "" while there are none yet."""
    return f"{job.worked}/{job.total}" if job.total else ""


SPARK_BARS = " ▁▂▃▄▅▆▇█"


def sparkline(values: Iterable[float], width: int = 12) -> str:
    """The last `width` values as block characters, scaled to the largest ("▁" for none):
    an agent's throughput, a failure group's attempts over time."""
    values = list(values)[-width:]
    if not values:
        return ""
    top = max(values) or 1.0
    return "".join(SPARK_BARS[min(8, round(v / top * 8))] if v > 0 else "▁" for v in values)
