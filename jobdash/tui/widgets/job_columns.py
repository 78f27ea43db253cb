"""The job table's columns: their order and widths, the job fields each shows, and how a
job's row and the header are drawn (plain strings, after `sanitize`: nothing from a job is
parsed as markup).  Sizing the columns to the data and to the view is the table's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Literal, NamedTuple

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from jobdash.core.model import Job, Unread
from jobdash.present.durations import job_time
from jobdash.present.progress import progress_bar, progress_count
from jobdash.present.text import clip_path, sanitize
from jobdash.present.times import clock
from jobdash.present.timing import info_beside_status, job_look
from jobdash.present.unread import unread_mark, unread_mark_in, unread_tone, unread_words
from jobdash.tui.widgets.fitting import fit_text
from jobdash.tui.widgets.job_rows import COLUMN_KEYS

__all__ = [
    "COLUMNS",
    "Column",
    "Widths",
    "changed_columns",
    "data_widths",
    "day_of",
    "header_strip",
    "row_strip",
]


class Column(NamedTuple):
    """One column of the table: `width` 0 means "the rest of the line"."""

    key: str
    label: str
    width: int
    align: Literal["left", "right"] = "left"


# The id and time columns are resized at run time (see `JobTable._update_widths`); the widths
# here are their minimums.  `info` takes whatever width is left, down to INFO_MIN_WIDTH,
# below which the table scrolls horizontally rather than squeezing it out of sight.
# Budget: at 120 columns `updated` goes so that info gets INFO_WANTED; at 80 the user
# and started columns go too, and the names, bar and marks narrow (NARROW_…), so info
# keeps INFO_MIN_WIDTH however wide the marks (LAST_DROPS: even with long ids).
COLUMNS: tuple[Column, ...] = (
    Column("id", "id", 3, "right"),
    Column("type", "type", 10),
    Column("target", "target", 12),
    Column("user", "user", 8),
    Column("started", "started", 8),
    Column("updated", "updated", 8),
    Column("status", "status", 12),
    Column("progress", "progress", 14),
    Column("failed", "fail", 4, "right"),
    Column("time", "eta/dur", 7, "right"),
    Column("unread", "new", 3),
    Column("info", "info", 0),
)
INFO_MIN_WIDTH = 12
TYPE_MAX_WIDTH = 20  # the type column grows to the longest type name, up to this
# On a wide view, user then target grow toward their longest value, up to these, as far as
# info keeps INFO_ROOMY cells: at 200 columns "scheduler" showed as "schedul…" beside 60
# blank ones.
TARGET_MAX_WIDTH = 40
USER_MAX_WIDTH = 16
INFO_ROOMY = 60
# Dropped, in this order, while the terminal is too narrow for every column with info
# INFO_WANTED wide: what a job is doing or why it waits is what the on-call reads, the
# time of its last change the least (status, name, progress and failures stay).
NARROW_DROPS = ("updated", "user", "started")
INFO_WANTED = 18  # "agents busy: 4/4 slots…", "exclusive slot held…"
NARROW_NAME_WIDTH = 9  # type and target shrink to this when even that is not enough
NARROW_PROGRESS_WIDTH = 11  # … and progress to this: a bar of 3 to 6 cells and its count
NARROW_UNREAD_WIDTH = 5  # … and the unread marks to their gravest part ("✘2", "●1.2k")
# Should info still get less than INFO_MIN_WIDTH (ids of five digits at 80 columns), these
# go, in this order, rather than the table scrolling info off the screen's edge.
LAST_DROPS = ("unread", "failed")
TIME_WIDTH_TODAY = 8  # "14:03:22"
TIME_WIDTH_OLDER = 16  # "2026-01-12 14:03"
PROGRESS_BAR_WIDTH = 6  # shrinks (to 3) when the done/total count is long
UNREAD_MIN_WIDTH = 3  # "new", its label
UNREAD_MAX_WIDTH = 14  # the unread mark's column grows to the widest mark, up to this
UNREAD_WORDS_MAX_WIDTH = 40  # … and in words (`v`, the text mode), up to this


assert tuple(column.key for column in COLUMNS) == COLUMN_KEYS  # the model sorts by these


# The job fields each column shows: a live update repaints only the cells whose fields
# changed (over SSH a whole 120-cell row costs ~340 bytes, its eta cell ~40).
_CELL_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "type": ("type",),
    "target": ("target",),
    "user": ("user",),
    "started": ("started",),
    "updated": ("updated",),
    "status": ("status", "timing", "quiet_since"),
    "progress": ("pending", "running", "succeeded", "failed", "cancelled", "skipped", "progress"),
    "failed": ("failed",),
    "time": (
        "status",
        "started",
        "finished",
        "progress",
        "idle_time",
        "paused_at",
        "pending",
        "running",
        "timing",
    ),
    "unread": ("unread",),
    "info": ("info", "status"),  # a waiting job's drops "waiting: "
}


Day = tuple[float, float]  # (local midnight, the next one): "today", for the time format


class Widths(NamedTuple):
    """The widths of the columns sized to the data (see `data_widths`)."""

    id: int = COLUMNS[0].width
    time: int = TIME_WIDTH_TODAY
    type: int = COLUMNS[1].width
    unread: int = UNREAD_MIN_WIDTH
    target: int = COLUMNS[2].width  # what target and user grow to on a wide view
    user: int = COLUMNS[3].width

    def spec(self, view: int = 0) -> list[tuple[int, int]]:
        """(width, least width) of every column, as `TableBase` asks (info: flexible), in
        a view `view` cells wide (target and user grow where info keeps INFO_ROOMY)."""
        sized = {
            "id": self.id,
            "started": self.time,
            "updated": self.time,
            "type": self.type,
            "unread": self.unread,
        }
        widths = {c.key: sized.get(c.key, c.width) for c in COLUMNS}
        room = view - (sum(widths.values()) + len(COLUMNS) - 1) - INFO_ROOMY
        for key, most in (("user", self.user), ("target", self.target)):  # user: the cheaper
            more = max(0, min(most - widths[key], room))
            widths[key] += more
            room -= more
        return [(widths[c.key], INFO_MIN_WIDTH) for c in COLUMNS]

    def too_narrow_for(self, job: Job, day: Day, numbers: bool = False) -> bool:
        """Whether `job` needs wider columns than these (`numbers`: in the text mode)."""
        return (
            job.id >= 10**self.id
            or (self.time == TIME_WIDTH_TODAY and not on_day(job, day))
            or self.type < min(TYPE_MAX_WIDTH, len(job.type))
            or self.unread < unread_width(len(unread_cell(job.unread, numbers)), numbers)
            or self.target < min(TARGET_MAX_WIDTH, len(job.target))
            or self.user < min(USER_MAX_WIDTH, len(job.user))
        )


def unread_cell(unread: Unread | None, numbers: bool = False) -> str:
    """The `new` column's text: the mark (`●85 ⚠1 ✘4`), or in the text mode (`v`, for a
    screen reader) its words ("85 unread lines: 1 warning, 4 errors"); "" when none."""
    if unread is None:
        return ""
    return unread_words(unread) if numbers else unread_mark(unread)


def unread_width(widest: int, numbers: bool) -> int:
    """The `new` column's width for its widest text (each glyph of a mark is one cell)."""
    most = UNREAD_WORDS_MAX_WIDTH if numbers else UNREAD_MAX_WIDTH
    return max(UNREAD_MIN_WIDTH, min(most, widest))


def day_of(now: float) -> Day:
    """The local day `now` falls on."""
    today = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return today.timestamp(), (today + timedelta(days=1)).timestamp()


def on_day(job: Job, day: Day) -> bool:
    """Whether both times the table shows for `job` fall on `day`."""
    start, end = day
    if not start <= job.updated < end:
        return False
    return job.started is None or start <= job.started < end


def data_widths(rows: Sequence[Job], max_id: int, day: Day, numbers: bool = False) -> Widths:
    """The id, time and type columns sized to the shown jobs.

    Time columns are narrow ("14:03:22") while every shown time is today and wide
    ("Jan 12 14:03") otherwise, which gives info room on a typical live dashboard.
    """
    start, end = day
    today = True
    if rows:
        updated = list(map(attrgetter("updated"), rows))
        started = list(filter(None, map(attrgetter("started"), rows)))
        today = start <= min(updated) and max(updated) < end
        if today and started:
            today = start <= min(started) and max(started) < end
    marks = {job.unread for job in rows}
    widest = max((len(unread_cell(u, numbers)) for u in marks), default=0)
    return Widths(
        max(COLUMNS[0].width, len(str(max_id))),
        TIME_WIDTH_TODAY if today else TIME_WIDTH_OLDER,
        _longest(rows, "type", COLUMNS[1].width, TYPE_MAX_WIDTH),
        unread_width(widest, numbers),
        _longest(rows, "target", COLUMNS[2].width, TARGET_MAX_WIDTH),
        _longest(rows, "user", COLUMNS[3].width, USER_MAX_WIDTH),
    )


def _longest(rows: Sequence[Job], field: str, least: int, most: int) -> int:
    """The width of the longest `field` of `rows`, within [least, most] (its cells: text,
    after `sanitize`, one cell a character but for wide ones, cut with "…" anyway)."""
    return max(least, min(most, max(map(len, set(map(attrgetter(field), rows))), default=0)))


def changed_columns(old: Job, new: Job, now: float) -> set[str]:
    """The keys of the columns whose text may differ between two versions of a job.

    The status cell only when what it shows at `now` changed: its fields include the job's
    silence (`quiet_since`, for the stalled flag), which moves with every line a running
    job prints, and a changed status is repainted at once, past the live repaints'
    budget (`LiveRepaints`): every busy row was repainted whole at each line it printed."""
    keys = {
        key
        for key, fields in _CELL_FIELDS.items()
        if any(getattr(old, name) != getattr(new, name) for name in fields)
    }
    if "status" in keys and job_look(old, now) == job_look(new, now):
        keys.discard("status")
    return keys


def progress_cells(job: Job, width: int) -> tuple[str, str]:
    """A text bar of the tasks and their count, e.g. ("███░░░", " 12/40"), that together
    fill `width` cells; a long count takes cells from the bar, not the digits."""
    count = progress_count(job)
    bar_width = min(PROGRESS_BAR_WIDTH, max(3, width - 1 - len(count)))
    return progress_bar(job, bar_width), fit_text(" " + count, width - bar_width)


def row_strip(
    job: Job,
    layout: Sequence[tuple[int, int]],
    width: int,
    now: float,
    base: Style,
    get_style: Callable[[str], Style],
    is_cursor: bool,
    numbers: bool = False,
) -> Strip:
    """A job's row from plain strings (nothing is parsed as markup): the columns of
    `layout` ((index into COLUMNS, width)), `width` cells in all, on `base`, styled by
    `get_style` (a component class name -> style); `now` for the times."""
    if is_cursor:
        row_style = get_style("table--cursor")
        dim = failed_style = bar_style = status_style = row_style
    else:
        row_style = base
        dim = get_style("table--dim")
        failed_style = get_style("table--failed") if job.failed else dim
        bar_style = get_style("table--bar")
        status_style = get_style(f"table--{job_look(job, now).tone}")
    segments: list[Segment] = []
    append = segments.append
    space = Segment(" ", row_style)
    for n, column_width in layout:
        column = COLUMNS[n]
        key = column.key
        style = row_style
        if key == "id":
            text = str(job.id)
        elif key == "type":
            text = sanitize(job.type)
        elif key == "target":  # most often a path: its end tells rows apart
            text = clip_path(sanitize(job.target), column_width)
        elif key == "user":
            text = sanitize(job.user)
        elif key == "started":
            text = clock(job.started, now, label=False)
        elif key == "updated":
            text = clock(job.updated, now, label=False)
            style = dim
        elif key == "status":
            text = job_look(job, now).text
            style = status_style
        elif key == "progress":
            bar, text = progress_cells(job, column_width)
            append(Segment(bar, bar_style))
            column_width -= len(bar)
        elif key == "failed":
            text = str(job.failed)
            style = failed_style
        elif key == "time":
            text = job_time(job, now)
        elif key == "unread":
            text = unread_cell(job.unread, numbers)
            if len(text) > column_width and not numbers:  # narrowed: its gravest part
                text = unread_mark_in(job.unread, column_width)
            if not is_cursor:
                style = get_style(f"table--{unread_tone(job.unread)}")
        else:  # info
            text = sanitize(info_beside_status(job))
        append(Segment(fit_text(text, column_width, column.align), style))
        append(space)
    if segments:
        segments.pop()  # no gap after the last column
    return Strip(segments).adjust_cell_length(width, row_style).simplify()


def header_strip(
    layout: Sequence[tuple[int, int]], width: int, sort: str, reverse: bool, style: Style
) -> Strip:
    """The column labels of `layout`, with ▲/▼ on the `sort` column."""
    arrow = "▼" if reverse else "▲"
    parts: list[str] = []  # cells and the gaps between them, alternating
    for n, column_width in layout:
        column = COLUMNS[n]
        label = column.label
        if column.key == sort:
            if len(label) < column_width:
                label = arrow + label if column.align == "right" else label + arrow
            elif column.align == "right" and parts:
                parts[-1] = arrow  # no room: the arrow takes the gap before
        parts.append(fit_text(label, column_width, column.align))
        parts.append(" ")
    parts.pop()
    return Strip([Segment("".join(parts), style)]).adjust_cell_length(width, style)
