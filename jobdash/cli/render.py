"""How the command line prints: its two consoles, inert text, times, a status's colours,
JSON, and log lines. What a job, a time or a status *looks like* is `jobdash.present`'s,
shared with the dashboard; this module only puts it on a terminal or a pipe. Listings
(tables) are `tables`', imported when one is drawn.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from jobdash.cli.parser import say
from jobdash.core.model import Job, LineLevel, LogLine, job_record, line_level
from jobdash.present.status import Look, Tone
from jobdash.present.text import clip, sanitize, sanitize_all
from jobdash.present.times import clock

# A log line's looks (`present.logs`, `present.recovery`) and a job's timing
# (`present.timing`) are imported where one is printed: `jobs` on an empty store prints
# neither.
if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from jobdash.core.views import LogTexts
    from jobdash.present.logs import JobLabels, TaskLabels

# Nothing printed is read as markup or emoji codes: data is shown as written (see `safe`).
PLAIN: dict[str, Any] = {"highlight": False, "markup": False, "emoji": False}

# `--color` as Rich's colour system: `auto` detects a terminal, `None` writes no escape
# code at all (Rich's own NO_COLOR handling drops colours but keeps bold and dim, which
# are escapes too), and `standard` colours a pipe or a file as well (the layout stays a
# pipe's: whole lines).
COLOR_SYSTEMS: dict[str, Literal["auto", "standard"] | None] = {
    "auto": "auto",
    "never": None,
    "always": "standard",
}


def color_mode(choice: str | None) -> str:
    """`--color` (default `auto`: colour on a terminal, none in a pipe or a file), where
    `auto` is `never` when NO_COLOR is set to anything but "" (the no-color.org rule):
    only `--color always` overrides NO_COLOR."""
    mode = choice or "auto"
    return "never" if mode == "auto" and os.environ.get("NO_COLOR") else mode


class Consoles:
    """The command line's two Rich consoles, standard output's and standard error's, each
    made when it first prints (Rich costs a command that prints none, such as `jobs` on an
    empty store, a third of its start) in the colour mode `use_color` chose."""

    mode = "auto"
    out: Console | None = None
    err: Console | None = None


def use_color(mode: str) -> None:
    """Colour both consoles by `mode` (a command's first step: each command decides anew)."""
    Consoles.mode = mode
    Consoles.out = Consoles.err = None


def _console(stderr: bool) -> Console:
    from rich.console import Console

    mode = Consoles.mode
    made = Console(
        stderr=stderr,
        color_system=COLOR_SYSTEMS[mode],
        no_color=False if mode == "always" else None,  # None: Rich reads NO_COLOR
        **PLAIN,
    )
    # Rich wraps at 80 columns when it has no terminal to measure; a pipe gets whole lines,
    # and standard error always does.
    made.soft_wrap = stderr or not made.is_terminal
    return made


def out() -> Console:
    """Standard output's console."""
    if Consoles.out is None:
        Consoles.out = _console(stderr=False)
    return Consoles.out


def err() -> Console:
    """Standard error's console."""
    if Consoles.err is None:
        Consoles.err = _console(stderr=True)
    return Consoles.err


def piped() -> bool:
    """Is standard output a pipe or a file that gets no colour, as Rich's console would say,
    told without making it (Rich costs a start ~25 ms: `logs JOB | wc -l` loads none)?
    `--color` is not `always`, standard output is no terminal, and neither variable by which
    Rich takes it for one (TTY_COMPATIBLE, FORCE_COLOR) is set. False: ask `out()`."""
    if Consoles.mode == "always" or "TTY_COMPATIBLE" in os.environ or "FORCE_COLOR" in os.environ:
        return False
    try:
        return not sys.stdout.isatty()
    except ValueError:  # closed: Rich says no terminal too
        return True


def is_terminal() -> bool:
    """Is standard output a terminal (Rich's console's answer, without it for a pipe)?"""
    return not piped() and out().is_terminal


def colored() -> bool:
    """Does standard output get colours (a terminal in `auto`, or `always`)?"""
    return not piped() and out().color_system is not None


def tell(text: str) -> None:
    """A message of one line on stderr, inert, uncoloured, as `err().print(safe(text))`
    writes it, without loading Rich (`say`). Rich's console is used once it exists, so that
    what it has buffered stays in order."""
    if Consoles.err is None:
        say(text)
    else:
        Consoles.err.print(safe(text))


def safe(text: object) -> Text:
    """Text that jobdash did not write itself (names, info, errors), made inert: control
    characters become visible stand-ins, and a `Text` is never read as markup."""
    from rich.text import Text

    return Text(sanitize(str(text)))


def cell(text: str) -> Text:
    """A listing's cell of free text (a target, an info line, parameters): inert, and cut
    at `CELL_LIMIT` cells, piped too, so that one long value cannot widen every row
    (`show` and `--json` give it whole)."""
    from rich.text import Text

    return Text(clip(sanitize(text)))


def when(ts: float | None, shown: str | None = None) -> str:
    """A time in the viewer's zone, the command line's way ("14:03:22" today, else
    "2026-11-20 14:03"), labelled with its zone unless `shown` (its column's) says it."""
    return clock(ts or None, time.time(), label=shown or True)


# A status's tone (`jobdash.present.status`) as the command line colours it.
TONE_STYLE: dict[Tone, str] = {
    Tone.QUIET: "dim",
    Tone.ACTIVE: "cyan",
    Tone.WARN: "yellow",
    Tone.GOOD: "green",
    Tone.BAD: "red",
}


def toned(shown: Look) -> Text:
    """A status's glyph and word in its tone's colour."""
    from rich.text import Text

    return Text(shown.text, style=TONE_STYLE[shown.tone])


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2, default=str))


def job_dict(job: Job) -> dict[str, Any]:
    """A job as `--json` gives it: its fields, and what is computed from them."""
    from jobdash.present.timing import timing_fields

    d = job_record(job)
    d["status"] = str(job.status)
    d["trigger"] = str(job.trigger)
    d["total"] = job.total
    now = time.time()
    d.update(timing_fields(job, now))  # eta (its pace, else its type's history), flags
    d["duration"] = job.duration(now)
    return d


def metrics_text(metrics: Mapping[str, float]) -> str:
    """A job's result metrics on one line: `rows=12  size=3.5`."""
    return "  ".join(f"{k}={v:g}" for k, v in sorted(metrics.items()))


# Each job's prefix in a stream of several jobs' lines, by its hue (`present.logs`'s
# JOB_HUES of them: `tests/test_cli_multilog.py` holds the two to the same number).
JOB_STYLES: tuple[str, ...] = ("cyan", "magenta", "green", "blue", "yellow", "bright_cyan")


def plain_log_lines(lines: Sequence[LogLine], labels: TaskLabels | JobLabels | None = None) -> str:
    """Log lines as `print_log_line` writes them without colours, in one string: inert, each
    its label first, no markup, no wrapping, no escapes added (a pipe, NO_COLOR)."""
    from jobdash.present.recovery import attempt_mark

    marks = [attempt_mark(line) for line in lines] if any(ln.earlier for ln in lines) else None
    padded = [labels.padded(line) for line in lines] if labels is not None else None
    return plain_text([line.text for line in lines], marks, padded)


def plain_log_texts(page: LogTexts, labels: TaskLabels | None = None) -> str:
    """`plain_log_lines` of a page of one job's lines read by column."""
    from jobdash.present.recovery import earlier_mark

    earlier = page.earlier
    marks = [earlier_mark(a) for a in earlier] if earlier.count(None) < len(earlier) else None
    padded = [labels.padded_for(task) for task in page.task_ids] if labels is not None else None
    return plain_text(page.texts, marks, padded)


def plain_text(texts: list[str], marks: list[str] | None, labels: list[str] | None) -> str:
    """Lines of text made inert, each after its attempt mark and its label (None: no line
    has one), a line break after each. A page of one task's lines of its latest attempt (the
    common case) is its texts joined: a log of a million lines is a join a page, not a
    million strings put together."""
    if not texts:
        return ""
    texts = sanitize_all(texts)
    if marks is not None:
        texts = [mark + text for mark, text in zip(marks, texts, strict=True)]
    if labels is not None:
        texts = [f"{label} | {text}" for label, text in zip(labels, texts, strict=True)]
    return "\n".join(texts) + "\n"


def print_log_line(
    line: LogLine,
    tty: bool,
    labels: TaskLabels | JobLabels | None = None,
    hue: int | None = None,
) -> None:
    """One log line, inert: its control characters become visible stand-ins in a pipe too
    (piped output mostly ends on a terminal: `| less`, `| tail`). With `labels` (the job
    has several tasks, or the stream has several jobs) the line starts with its label,
    aligned, in its job's colour (`hue`) when there is one; output of an earlier attempt of
    its task says so. On a terminal (`tty`) each line starts with the dashboard's gutter
    (`GUTTER`: `!` an error, `⚠` a warning, `»` jobdash's own line), so its level reads
    without colour (NO_COLOR, a colour-blind reader); a pipe, coloured or not, gets the
    lines as before, `grep` and scripts reading them unchanged."""
    if not tty and not colored():
        sys.stdout.write(plain_log_lines([line], labels))
        return
    from rich.text import Text

    from jobdash.present.logs import GUTTER, JOB_HUES
    from jobdash.present.recovery import attempt_mark

    text = attempt_mark(line) + sanitize(line.text)
    label = f"{labels.padded(line)} | " if labels is not None else ""
    level = line_level(line.stream, line.text)  # as the dashboard's log pane draws it
    style = LEVEL_STYLES.get(level, "")
    gutter = GUTTER[level] + " " if tty else ""
    if level is LineLevel.OUTPUT and not label:  # the common line: no Rich to print it
        sys.stdout.write(gutter + text + "\n")
        return
    if level is LineLevel.SYSTEM and not tty:
        text = f"» {text}"  # its level's mark, after the label, as a pipe always had it
    shown = Text(gutter, style=f"bold {style}" if level is LineLevel.ERROR else style)
    shown.append(label, style="dim" if hue is None else JOB_STYLES[hue % JOB_HUES])
    shown.append(text, style=style)
    out().print(shown, soft_wrap=True)


LEVEL_STYLES = {LineLevel.ERROR: "red", LineLevel.WARNING: "yellow", LineLevel.SYSTEM: "dim"}
"""The colour of a log line of each level on a terminal (an output line has none)."""


def fields(pairs: list[tuple[str, str]], width: int) -> None:
    """`show`'s labelled lines (`  started: …`), the empty ones left out."""
    from rich.text import Text

    for k, v in pairs:
        if v:
            out().print(Text.assemble((f"{k:>{width}}: ", "dim"), sanitize(v)))
