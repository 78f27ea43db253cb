"""How the dashboard's pictures look and what their numbers say, without Textual: the
bars of a series as block characters, their tones, and the same numbers as text.

A picture is a few `Series`: a label, bars (a value and a tone each), a note (the numbers
that matter most, always shown) and the text equivalent, one entry per bar, that the
dashboard shows instead of the bars on `v` (a screen reader reads text, not block
characters; without colour a tone says nothing). A bar is never told by its colour alone:
a failed run has its mark under it (✘), this run ▲, and in the Completed tab's header
each hour is two bars, succeeded then failed.

- `runs_picture`: a job type's last runs (job details) or a schedule's runs (its screen),
  oldest to newest, height the run's duration, tone its outcome.
- `hours_picture`: the jobs that ended in each of the last 24 hours (the Completed tab).
- `agents_picture`: the tasks each agent ended per minute over the last hour, and in total.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from jobdash.core.model import Counted, Job, JobStatus, Run
from jobdash.present.durations import duration
from jobdash.present.status import Tone, look
from jobdash.present.times import clock
from jobdash.present.words import plural

__all__ = [
    "BLOCKS",
    "Bar",
    "Series",
    "agents_picture",
    "bar_lines",
    "hours_picture",
    "run_of",
    "runs_picture",
]

BLOCKS = " ▁▂▃▄▅▆▇█"  # eighths of a cell, bottom up
THIS_RUN = "▲"
FAILED = "✘"
RUNS = 30  # a job type's runs shown in its details
HOURS = 24
MINUTES = 60


@dataclass(frozen=True)
class Bar:
    """One bar: its value (None: nothing to measure, drawn empty), its tone and the mark
    drawn under it ("" none)."""

    value: float | None
    tone: Tone
    mark: str = ""


@dataclass(frozen=True)
class Series:
    """One row of a picture: label, bars (oldest first), note, and its text equivalent
    (one entry per bar, the same numbers in words)."""

    label: str
    bars: list[Bar]
    note: str
    entries: list[str] = field(default_factory=list)
    lead: str = ""  # what the entries are: "per minute, oldest first: "
    joiner: str = " · "
    height: int = 1  # lines of bars (a series higher than 1 has a line of marks below)

    @property
    def words(self) -> str:
        """The whole series as text: label, note, then every bar's numbers."""
        return f"{self.label}: {self.note}. {self.lead}{self.joiner.join(self.entries)}"


def bar_lines(values: Sequence[float | None], height: int) -> list[str]:
    """The bars of `values` as `height` lines of block characters, top line first, one
    character per value; the largest fills the height, any value above 0 shows at least
    an eighth."""
    top = max((v for v in values if v), default=0.0)
    eighths = [0 if not v or top <= 0 else max(1, round(v / top * height * 8)) for v in values]
    lines = []
    for row in range(height - 1, -1, -1):  # the top line first
        floor = row * 8
        lines.append("".join(BLOCKS[min(8, max(0, e - floor))] for e in eighths))
    return lines


def run_of(job: Job, now: float) -> Run:
    """A job as a run of its type (an active one: its time so far)."""
    return Run(job.id, job.status, job.finished or now, job.duration(now))


def runs_picture(runs: Iterable[Run], label: str, mark: int | None = None) -> Series:
    """Runs (any order) as bars oldest to newest: height the time it ran, tone how it
    ended; `mark`, the id of the run to point at (▲ under it)."""
    ordered = sorted(runs, key=lambda r: r.job_id)
    bars, entries = [], []
    for run in ordered:
        shown = look(run.status)
        is_mark = run.job_id == mark
        sign = THIS_RUN if is_mark else FAILED if run.status is JobStatus.FAILED else ""
        bars.append(Bar(run.duration, shown.tone, sign))
        took = duration(run.duration) if run.duration is not None else "never started"
        entries.append(f"job {run.job_id} {shown.text} {took}" + (" (this run)" if is_mark else ""))
    times = [r.duration for r in ordered if r.duration is not None and r.status.finished]
    parts = [plural(len(ordered), "run")]
    if times:
        parts.append(f"median {duration(statistics.median(times))}")
        parts.append(f"longest {duration(max(times))}")
    failed = sum(r.status is JobStatus.FAILED for r in ordered)
    if failed:
        parts.append(f"{FAILED} {failed} failed")
    this = next((r for r in ordered if r.job_id == mark), None)
    if this is not None and this.duration is not None:
        parts.append(f"{THIS_RUN} this run {duration(this.duration)}")
    return Series(label, bars, " · ".join(parts), entries, "oldest first: ", height=3)


def hours_picture(counts: Iterable[Counted], now: float, hours: int = HOURS) -> Series:
    """The jobs that ended in each of the last `hours` hours: two bars an hour, succeeded
    (warnings included) then failed, oldest hour first; cancelled jobs are counted in the
    text only."""
    good = [0] * hours
    bad = [0] * hours
    cancelled = [0] * hours
    for bucket, status, n in counts:
        if not 0 <= bucket < hours:
            continue
        if status in (JobStatus.SUCCEEDED, JobStatus.WARNING):
            good[bucket] += n
        elif status == JobStatus.FAILED:
            bad[bucket] += n
        elif status == JobStatus.CANCELLED:
            cancelled[bucket] += n
    bars, entries = [], []
    for bucket in range(hours - 1, -1, -1):  # the oldest hour first
        bars.append(Bar(good[bucket], Tone.GOOD))
        bars.append(Bar(bad[bucket], Tone.BAD))
        if good[bucket] or bad[bucket] or cancelled[bucket]:  # the empty hours go unsaid
            start = _hour_minute(now - 3600 * (bucket + 1), now)
            words = f"{start} ✔{good[bucket]} ✘{bad[bucket]}"
            entries.append(words + (f" ⊗{cancelled[bucket]}" if cancelled[bucket] else ""))
    note = f"✔ {sum(good)} ✘ {sum(bad)}"
    if any(bad):
        # Hours counted back from now: "in the hour from 11:20" read as "none since 11:20".
        last = min(b for b in range(hours) if bad[b])
        note += " · last failure " + (
            "in the last hour" if last == 0 else f"{last}–{last + 1} h ago"
        )
    lead = "the hours from, oldest first (✔ succeeded ✘ failed ⊗ cancelled): "
    return Series(f"last {hours} h", bars, note, entries or ["none"], lead)


def _hour_minute(ts: float, now: float) -> str:
    """ "14:03" of a time in the last day (its date is the strip's order)."""
    text = clock(ts, now, label=False)  # "14:03:22" today, "2026-11-20 14:03" before
    return text[:5] if len(text) == 8 else text[-5:]


def agents_picture(
    counts: Iterable[Counted], agents: Sequence[str], minutes: int = MINUTES
) -> list[Series]:
    """Each agent's tasks done (succeeded) per minute over the last `minutes` (agents in `agents`'
    order, then any other that ended tasks), then the total of all."""
    per: dict[str, list[int]] = {name: [0] * minutes for name in agents}
    for bucket, agent, n in counts:
        if 0 <= bucket < minutes:
            per.setdefault(agent, [0] * minutes)[bucket] += n
    total = [sum(values[m] for values in per.values()) for m in range(minutes)]
    out = [_per_minute(name, values, minutes) for name, values in per.items()]
    out.append(_per_minute("total", total, minutes))
    return out


def _per_minute(label: str, by_bucket: list[int], minutes: int) -> Series:
    oldest_first = by_bucket[::-1]
    bars = [Bar(float(n), Tone.ACTIVE) for n in oldest_first]
    note = (
        f"{sum(oldest_first)} done in {minutes} min · last min {oldest_first[-1]} · "
        f"peak {max(oldest_first, default=0)}/min"
    )
    entries = [str(n) for n in oldest_first]
    return Series(label, bars, note, entries, "per minute, oldest first: ", " ")
