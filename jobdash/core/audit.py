"""The filter language of the audit trail (`jobdash audit [QUERY]`, the audit sections of
the job details and schedule screens), in the spirit of the jobs' filter:

    jobdash audit user:alice action:cancel,retry since:2d
    jobdash audit job:12          # the events of one job (schedule:NAME, agent:NAME too)
    jobdash audit -user:root disk

`field:value` terms restrict one field of an event (user: who asked; actor: the OS user
whose process wrote it, which differs when root acts for someone; action; target; host:
the host it came from); several values of one field are OR'ed (a comma list is the same),
different fields AND'ed, a leading `-` negates. `job:12`, `schedule:NAME`, `agent:NAME` and
`failures:GROUP` are short for `target:job:12` and the like. `since:2d` keeps the events of
the last two days. Free words must each be found (case-insensitively) in the event's user,
action, target, detail, actor or host.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from jobdash.core.model import BadInput
from jobdash.core.query import filter_words, fold
from jobdash.core.store.records import AUDIT_ACTIONS
from jobdash.core.values import close_to, parse_duration

if TYPE_CHECKING:
    from jobdash.core.store.side_records import AuditFilter

FIELDS = ("user", "action", "target", "actor", "host", "since")
TARGET_KINDS = ("job", "schedule", "agent", "failures")  # `job:12`: `target:job:12`


def parse_audit_query(text: str, now: float | None = None) -> AuditFilter:
    """The filter `text` says (BadInput, one line naming the term, when it is wrong)."""
    terms: list[tuple[str, str, bool]] = []
    words: list[tuple[str, bool]] = []
    since: float | None = None
    for word in filter_words(text):
        if word.name is None:
            words.append((fold(word.text), word.negated))
            continue
        name, shown = word.name.lower(), f"{word.name}:{word.text}"
        if name not in FIELDS + TARGET_KINDS:
            raise BadInput(
                f"unknown audit field {word.name!r} (fields: {', '.join(FIELDS + TARGET_KINDS)}); "
                "quote the word to search for text containing ':'"
            )
        if name == "since":
            if word.negated:
                raise BadInput(f"audit filter {shown!r}: since cannot be negated")
            seconds = parse_duration(word.text, f"audit filter {shown!r}")
            since = (now if now is not None else time.time()) - seconds
            continue
        for value in word.values():
            if not value:
                raise BadInput(f"audit filter {shown!r} needs a value")
            if name == "action":
                value = known_action(value)
            if name in TARGET_KINDS:  # job:12 is target:job:12
                value = f"{name}:{value.removeprefix('#') if name == 'job' else value}"
            terms.append(("target" if name in TARGET_KINDS else name, value, word.negated))
    from jobdash.core.store.side_records import AuditFilter  # loaded where one is made

    return AuditFilter(tuple(terms), tuple(words), since)


def known_action(value: str) -> str:
    """An `action:` value as the store writes it (lower case), or BadInput naming it: one
    no event can have would match nothing, silently."""
    action = value.lower()
    if action not in AUDIT_ACTIONS:
        close = close_to(action, AUDIT_ACTIONS)
        guess = f", did you mean {close!r}?" if close else ""
        raise BadInput(
            f"unknown audit action {value!r}{guess} (actions: {', '.join(AUDIT_ACTIONS)})"
        )
    return action
