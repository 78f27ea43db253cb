"""How a status looks, the same on the command line and in the dashboard: glyph, word, tone.

A status is never told by colour alone: its glyph and word say it (a monochrome terminal, a
colour-blind eye, a pipe). The tone is what colour adds: each front end maps a `Tone` to its
own means, the dashboard to theme variables ($success, $warning, $error, $accent,
$text-muted), the command line to Rich styles (`jobdash.cli.render.TONE_STYLE`). To change how a
status looks, change it here: both follow.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from jobdash.core.model import JobStatus, TaskStatus
from jobdash.present.text import sanitize

__all__ = [
    "SCHEDULE_STATE_TONES",
    "STATUS_LOOKS",
    "TICK_TONES",
    "Look",
    "Tone",
    "agent_look",
    "exit_text",
    "last_run_look",
    "look",
    "signal_name",
]


def signal_name(n: int) -> str:
    """A signal by its name: SIGTERM for 15."""
    import signal  # here: a status's look needs no signals

    try:
        return signal.Signals(n).name
    except ValueError:
        return f"signal {n}"


def exit_text(code: int | None) -> str:
    """A process's end as a person reads it: its exit status, or the signal that killed it
    (a negative status, Python's way: -15 is SIGTERM); "" before it ended."""
    if code is None:
        return ""
    return signal_name(-code) if code < 0 else str(code)


class Tone(StrEnum):
    """What a colour says about a status. The values are the dashboard's style names."""

    QUIET = "dim"  # nothing to do or see: waiting its turn, cancelled, skipped
    ACTIVE = "accent"  # work under way
    WARN = "warn"  # needs an eye: paused, cancelling, warnings
    GOOD = "ok"  # ended well
    BAD = "error"  # failed


class Look(NamedTuple):
    """A status as shown: "✔ succeeded" in the tone GOOD."""

    glyph: str
    word: str
    tone: Tone

    @property
    def text(self) -> str:
        """Glyph and word: "✔ succeeded"."""
        return f"{self.glyph} {self.word}"


# Each status's glyph, by its tone; a status's word is its value. A job's and a task's of
# the same word look the same ("✘ failed" is a failed job or task alike).
STATUS_LOOKS: dict[Tone, dict[str, str]] = {
    Tone.QUIET: {"pending": "○", "queued": "○", "waiting": "◷", "cancelled": "⊗", "skipped": "↷"},
    Tone.ACTIVE: {"running": "▶", "finalizing": "◔"},
    Tone.WARN: {"paused": "⏸", "cancelling": "⊘", "warning": "⚠"},
    Tone.GOOD: {"succeeded": "✔"},
    Tone.BAD: {"failed": "✘"},
}
# A schedule's state and the outcome of one of its fire times (words from the model).
SCHEDULE_STATE_TONES: dict[str, Tone] = {
    "enabled": Tone.GOOD,
    "disabled": Tone.WARN,
    "manual only": Tone.WARN,
    "error": Tone.BAD,
}
TICK_TONES: dict[str, Tone] = {
    "ran": Tone.GOOD,
    "skipped": Tone.WARN,
    "missed": Tone.WARN,
    "paused": Tone.QUIET,
    "error": Tone.BAD,
}

_LOOKS = {
    word: Look(glyph, word, tone)
    for tone, glyphs in STATUS_LOOKS.items()
    for word, glyph in glyphs.items()
}
# An agent's state (jobdash.core.store's words), and the totals row of the pruned agents.
_AGENT_LOOKS = {
    "idle": Look("○", "idle", Tone.QUIET),
    "busy": Look("▶", "busy", Tone.ACTIVE),
    "draining": Look("◐", "draining", Tone.WARN),
    "stale": Look("⚠", "stale", Tone.BAD),
    "offline": Look("⊗", "offline", Tone.QUIET),
    "pruned": Look("⊖", "pruned", Tone.QUIET),
}
_NO_RUN = Look("·", "", Tone.QUIET)
_UNKNOWN = Look("?", "", Tone.QUIET)


def look(status: JobStatus | TaskStatus) -> Look:
    """The look of a job's or a task's status."""
    return _LOOKS[status]


def last_run_look(status: str | None) -> Look:
    """The look of a schedule's last run, from the status stored with it: "·" before its
    first run, "?" for a status this version does not know (a newer engine wrote it)."""
    if not status:
        return _NO_RUN
    try:
        return look(JobStatus(status))
    except ValueError:
        return _UNKNOWN


def agent_look(state: str) -> Look:
    """The look of an agent's state: "▶ busy", "⚠ stale"; "?" and the word for a state this
    version does not know (sanitized: it is read from the store)."""
    return _AGENT_LOOKS.get(state) or Look("?", sanitize(state), Tone.QUIET)
