"""How an action on many jobs or schedules is said, the same wherever it is made (the
dashboard's marked rows, the command line's several ids): the question with its counts, the
result, and the line that says what is marked.

The counts are of words the caller gives (a job's status word, the reason a refusal gives in
a few words, `Refused.why`): nothing here decides what an action may do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from jobdash.present.text import sanitize
from jobdash.present.words import plural, plural_word

MARK = "◆"  # beside a marked row (● is a schedule's "enabled")

# (the question's verb, the result's) of each action; a cancel is asked for, not done yet.
VERBS: dict[str, tuple[str, str]] = {
    "cancel": ("Cancel", "Cancelling"),
    "kill": ("Force-kill", "Force-killing"),
    "pause": ("Pause", "Paused"),
    "resume": ("Resume", "Resumed"),
    "retry": ("Retry", "Retrying"),
    "clear": ("Clear", "Cleared"),
    "run": ("Run", "Started"),
    "enable": ("Enable", "Enabled"),
    "disable": ("Disable", "Disabled"),
}


def counts(words: Iterable[str]) -> str:
    """How many of each word, the most first: "2 running, 1 queued"."""
    counted = Counter(words)
    return ", ".join(f"{n} {word}" for word, n in sorted(counted.items(), key=lambda wn: -wn[1]))


def skipped_text(whys: Iterable[str]) -> str:
    """Those skipped, counted by why: "skipped: 1 finished, 2 already paused" (or "")."""
    said = counts(whys)
    return f"skipped: {said}" if said else ""


def question(
    action: str, noun: str, count: int, kinds: Iterable[str] = (), whys: Iterable[str] = ()
) -> str:
    """The one question before an action on `count` things: "Cancel 3 jobs? (2 running,
    1 queued; skipped: 1 finished)". `kinds`: a word for each one it applies to (a job's
    status), `whys`: why each skipped one is skipped."""
    said = [part for part in (counts(kinds), skipped_text(whys)) if part]
    now = " now" if action == "run" else ""
    tail = f" ({'; '.join(said)})" if said else ""
    return f"{VERBS[action][0]} {plural(count, noun)}{now}?{tail}"


def listed(names: Iterable[str], shown: int = 6) -> str:
    """Names in a line, the first `shown` of them: "nightly, backup, … (3 more)"."""
    names = list(names)
    more = f", … ({len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def result(action: str, noun: str, done: int, whys: Iterable[str] = (), more: str = "") -> str:
    """What an action on many did, in one line: "Cancelling 2 jobs; skipped: 1 finished";
    `more` follows the count ("Retrying 3 jobs (7 tasks)")."""
    text = f"{VERBS[action][1]} {plural(done, noun)}{more}"
    said = skipped_text(whys)
    return f"{text}; {said}" if said else text


def nothing_to_do(action: str, noun: str, whys: Iterable[str]) -> str:
    """When no marked one can take the action: "No marked job to cancel: 2 finished"."""
    return f"No marked {noun} to {VERBS[action][0].lower()}: {counts(whys)}"


def marked_line(count: int, noun: str, notes: Iterable[str], keys: str, unmark: str) -> str:
    """What is marked, and what acts on it: "● 3 jobs marked (1 hidden by the filter):
    c R p x act on all of them, esc unmarks"."""
    said = ", ".join(notes)
    where = f" ({said})" if said else ""
    return f"{MARK} {plural(count, noun)} marked{where}: {keys} act on all of them, " + (
        f"{unmark} unmarks"
    )


def clear_question(users: list[str], me: str, filtered: bool) -> tuple[str, str]:
    """The question before clearing the finished jobs the Completed tab shows (`users`: the
    user of each), with how many and whose."""
    by_user = Counter(users)
    if set(by_user) == {me}:
        whose = "yours"
    else:
        firsts = sorted(by_user.items(), key=lambda un: (-un[1], un[0]))[:3]
        whose = f"of {plural(len(by_user), 'user')}: "
        whose += ", ".join(f"{sanitize(user)} {n}" for user, n in firsts)
        whose += ", …" if len(by_user) > 3 else ""
    shown = "in Completed (filtered)" if filtered else "in Completed"
    n = len(users)
    return f"Clear {plural(n, 'finished job')}?", (
        f"The {plural_word(n, 'one')} shown {shown}, {whose}: their tasks and "
        "logs are deleted from the store. Other jobs stay."
    )
