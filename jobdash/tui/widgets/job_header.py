"""The job details' header: a few lines about one job, built from plain strings (nothing
is parsed as markup): its status, progress bar, failed count, ETA or duration; its type and
where it is declared, who started it and when; its info line, or, while it waits, why (the
service's answer, `core.waiting`: the lock and its holder, who paused it, the backoff's end,
the agents' slots); what of its log was unread when the screen opened (the mark, then its
words: the log is marked read as the pane shows it, so the live mark is the job tables');
once it ended, its result metrics.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.content import Content
from textual.widget import Widget

from jobdash.core.model import Job, JobStatus, Unread
from jobdash.core.views import Why
from jobdash.present.durations import duration
from jobdash.present.progress import progress_bar
from jobdash.present.status import Tone
from jobdash.present.text import clip, sanitize
from jobdash.present.times import in_column
from jobdash.present.timing import eta_text, job_look, timing_words
from jobdash.present.unread import unread_mark, unread_tone, unread_words
from jobdash.present.waiting import why_fields
from jobdash.present.words import plural
from jobdash.tui.helpers import clock_of

BAR_WIDTH = 20
NARROW_BAR = 10  # the bar below WIDE columns: the status line stays one line at 80
WIDE = 100
FIELD_CELLS = 80  # of a target, who, the info line: the header stays a few lines high


def who(job: Job) -> str:
    """ "alice (manual)", "scheduler (schedule nightly)"."""
    trigger = str(job.trigger)
    if job.schedule_id:
        trigger = f"schedule {job.schedule_id}"
    return f"{job.user} ({trigger})"


def format_metric(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


class JobHeader(Widget):
    """A few lines about the job, built from plain strings (nothing is parsed as markup)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "jobheader--dim",
        "jobheader--ok",
        "jobheader--warn",
        "jobheader--error",
        "jobheader--accent",
        "jobheader--bold",
        "jobheader--bar",
    }
    DEFAULT_CSS = """
    JobHeader {
        height: auto;
        max-height: 6;  /* whatever a job's fields hold, the tasks and the log keep the room */
        padding: 0 1;
        background: $panel;
        & > .jobheader--dim { color: $text-muted; }
        & > .jobheader--ok { color: $success; text-style: bold; }
        & > .jobheader--warn { color: $warning; text-style: bold; }
        & > .jobheader--error { color: $error; text-style: bold; }
        & > .jobheader--accent { color: $accent; text-style: bold; }
        & > .jobheader--bold { text-style: bold; }
        & > .jobheader--bar { color: $accent; }
    }
    """

    def __init__(self, job_id: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.job_id = job_id
        self.job: Job | None = None
        self.gone = False
        self.defined_at = ""  # where the job's type is declared (file name:line, function)
        self.finalize = ""  # its type's finalize step, run after its last task ("": none)
        self.why: Why | None = None  # why it waits, as the service last said
        self.opened_unread: Unread | None = None  # unread when the screen opened
        self._rows = 0  # its height when last drawn

    def set_job(self, job: Job | None) -> None:
        self.job = job
        self.refresh()

    def set_why(self, why: Why | None) -> None:
        self.why = why
        self.refresh()

    def _drawn(self, text: Text) -> Text:
        """`text`, drawn; the screen is laid out again only when the header's height
        changes (a line of timing or of results comes or goes, a long line wraps): a job
        changes with every batch of its log, and laying out the whole screen each time was
        most of what redrawing it cost."""
        width = self.size.width
        rows = (
            Content.from_rich_text(text).get_height(self.styles.get_render_rules(), width)
            if width
            else 0
        )
        if rows != self._rows:
            self._rows = rows
            self.refresh(layout=True)
        return text

    def said(self, job: Job) -> tuple[str, str]:
        """The third line's label and text: why the job waits while it does (the
        service's answer for this job, in the status it was given for), else its info."""
        w = self.why
        if w is not None and w.waiting and w.job_id == job.id and w.status is job.status:
            return why_fields(w)[0]
        return "info", job.info

    def render(self) -> Text:
        style = self.get_component_rich_style
        job = self.job
        if job is None:
            word = f"job {self.job_id} is no longer in the store" if self.gone else "loading…"
            return self._drawn(Text(f"job {self.job_id}  {word}", style=style("jobheader--dim")))
        now = clock_of(self.app)()
        status = job.status
        text = Text(no_wrap=True, overflow="ellipsis")
        shown = job_look(job, now)
        text.append(shown.text, style(f"jobheader--{shown.tone}"))
        text.append("   ")
        bar = BAR_WIDTH if self.size.width >= WIDE else NARROW_BAR
        text.append(progress_bar(job, bar), style("jobheader--bar"))
        total = job.total
        text.append(f" {job.worked}/{plural(total, 'task')}" if total else f" {job.progress:.0f}%")
        if job.cancelled:
            text.append(f" · {job.cancelled} cancelled", style("jobheader--dim"))
        text.append("   failed ", style("jobheader--dim"))
        text.append(str(job.failed), style("jobheader--error") if job.failed else "")
        if status is JobStatus.RUNNING:
            text.append("   ETA ", style("jobheader--dim"))
            text.append(eta_text(job, now) or "—")
        if job.started is not None:
            text.append(
                "   duration " if status.finished else "   elapsed ", style("jobheader--dim")
            )
            text.append(duration(job.duration(now)))
        text.append("\n")
        text.append(f"job {job.id}", style("jobheader--bold"))
        text.append(" · ")
        text.append(sanitize(job.type), style("jobheader--bold"))
        if self.defined_at:
            text.append(
                f" ({clip(sanitize(self.defined_at), FIELD_CELLS)})", style("jobheader--dim")
            )
        if self.finalize:
            text.append(" · then finalize ", style("jobheader--dim"))
            text.append(clip(sanitize(self.finalize), FIELD_CELLS))
        if job.target:
            text.append(" · target ", style("jobheader--dim"))
            text.append(clip(sanitize(job.target), FIELD_CELLS))
        text.append(" · started by ", style("jobheader--dim"))
        text.append(clip(sanitize(who(job)), FIELD_CELLS))
        text.append(" · created ", style("jobheader--dim"))
        text.append(in_column(job.created, now))
        if job.started is not None:
            text.append(" · started ", style("jobheader--dim"))
            text.append(in_column(job.started, now))
        if job.finished is not None:
            text.append(" · finished ", style("jobheader--dim"))
            text.append(in_column(job.finished, now))
        text.append("\n")
        label, said = self.said(job)
        text.append(f"{label} ", style("jobheader--dim"))
        tone = style("jobheader--warn") if label == "waiting" else ""
        text.append(clip(sanitize(said), FIELD_CELLS) or "—", tone)
        if timed := timing_words(job, now):
            text.append("\n")
            text.append("timing ", style("jobheader--dim"))
            flagged = job_look(job, now).tone is Tone.WARN
            text.append(timed, style("jobheader--warn") if flagged else "")
        if (opened := self.opened_unread) is not None:
            text.append("\n")
            text.append("log ", style("jobheader--dim"))
            text.append(unread_mark(opened), style(f"jobheader--{unread_tone(opened)}"))
            text.append(f"  {unread_words(opened)} when opened", style("jobheader--dim"))
        if status.finished and (job.metrics or job.warnings):
            text.append("\n")
            text.append("result ", style("jobheader--dim"))
            parts = [f"{sanitize(k)} {format_metric(v)}" for k, v in sorted(job.metrics.items())]
            if job.warnings:
                parts.append(f"warnings {job.warnings}")
            text.append(" · ".join(parts))
        return self._drawn(text)
