"""The filter query language of `jobdash jobs` and the dashboard's filter bar.

    import failed -user:alice status:failed status:cancelled type:import since:2d

Free words match (case-insensitively, as substrings) a job's type, target, user,
info, id and parameter values; every free word must match. `field:value` terms
restrict one field; several terms on the same field are OR'ed, different fields
are AND'ed; a leading `-` negates a term. A comma list is the same as repeating the
field, for every field: `type:import,export` = `type:import type:export`, and
`-status:failed,cancelled` = neither (a value with quotes in it is taken whole, so
`target:"a,b"` looks for "a,b"). Quotes group words (`"disk full"`), and a quoted
token is always free text, so `"http://x"` searches for that text instead of being
read as a field.

One parsed `Query` answers both ways so the two views never disagree: `matches`
filters jobs already in memory (the dashboard re-filters on every keystroke, so it
is precompiled into closures and does no parsing or regex per row), and a store
answers the same terms itself (`store.records.JobFilter`: the CLI, export, 100,000
finished jobs), compiled by its backend. Case-folding is ASCII-only, so that a
backend's own lower case (SQLite's `lower()` folds ASCII only) gives the same
answer for any text.
"""

from __future__ import annotations

import io
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from jobdash.core.limits import MAX_ID
from jobdash.core.model import ACTIVE_JOB, FINISHED_JOB, BadInput, Job, JobStatus, Trigger
from jobdash.core.timing import FLAGS, flags
from jobdash.core.values import close_to, parse_duration

FIELDS = ("status", "type", "user", "since", "id", "target", "trigger")
STATUS_GROUPS: dict[str, frozenset[JobStatus]] = {
    "active": ACTIVE_JOB,
    "finished": FINISHED_JOB,
    "inprogress": ACTIVE_JOB,  # the In Progress tab shows exactly the active statuses
}
STATUSES = tuple(s.value for s in JobStatus)
TRIGGERS = tuple(t.value for t in Trigger)
TEXT = ""  # Term.field of a free-text word
_QUOTES = ("'", '"')

_FIELD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")

Check = Callable[[Job, float], bool]


def fold(text: str) -> str:
    """ASCII-only lower case, the one a store's filter uses too (SQLite's `lower()`).

    `bytes.lower()` touches ASCII letters only and is far faster than
    `str.translate` (this runs once per row on every keystroke of the filter bar).
    """
    if text.isascii():
        return text.lower()
    return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


class Term(NamedTuple):
    """One term: `field:value` (field "" for a free word), maybe negated.

    `value` is normalized (folded case, canonical status or id) so that equal
    queries compare equal and `str()` gives them back in one spelling.
    """

    field: str
    value: str
    negated: bool = False

    def __str__(self) -> str:
        sign = "-" if self.negated else ""
        if self.field:
            # A comma would split the value into a list when parsed again: quoted, it stays whole.
            value = _force_quote(self.value) if "," in self.value else shlex.quote(self.value)
            return f"{sign}{self.field}:{value}"
        value = self.value
        if value.startswith("-") or _field_prefix(value) is not None:
            return sign + _force_quote(value)  # quoted: stays free text when parsed again
        return sign + shlex.quote(value)


def _force_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _field_prefix(token: str) -> str | None:
    """`status` for `status:x`; None when the token doesn't start with `word:`."""
    colon = token.find(":")
    if colon <= 0:
        return None
    name = token[:colon]
    return name if all(c in _FIELD_CHARS for c in name) else None


def _tokens(text: str) -> Iterable[tuple[str, str]]:
    """(token, raw text) pairs, using shlex in POSIX mode.

    shlex removes the quotes, but whether a token *began* with a quote decides if it
    is free text; so we also keep the raw characters each token consumed.
    """
    stream = io.StringIO(text)
    lex = shlex.shlex(stream, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    try:
        while True:
            start = stream.tell()
            token = lex.get_token()
            if token is None:
                return
            yield token, text[start : stream.tell()].strip()
    except ValueError as exc:  # "No closing quotation", "No escaped character"
        shown = text if len(text) <= 60 else text[:59] + "…"  # the start says which
        raise BadInput(f"bad filter {shown!r}: {str(exc).lower()}") from None


def _guess(word: str, known: Iterable[str]) -> str:
    """ ", did you mean 'failed'?" when `word` is close to a known one, else ""."""
    close = close_to(word, known)
    return f", did you mean {close!r}?" if close else ""


def _normalize(name: str, value: str) -> str:
    """Check one `field:value` and give its canonical value; BadInput if wrong."""
    if not value:
        raise BadInput(f"filter '{name}:' needs a value")
    if name == "status":
        status = value.lower()
        if status not in STATUS_GROUPS and status not in STATUSES and status not in FLAGS:
            valid, groups = ", ".join(STATUSES), ", ".join(STATUS_GROUPS)
            guess = _guess(status, (*STATUSES, *STATUS_GROUPS, *FLAGS))
            raise BadInput(
                f"unknown status {value!r}{guess} (statuses: {valid}; groups: {groups}; "
                f"flags of a running job: {', '.join(FLAGS)})"
            )
        return status
    if name == "trigger":
        trigger = value.lower()
        if trigger not in TRIGGERS:
            guess = _guess(trigger, TRIGGERS)
            raise BadInput(f"unknown trigger {value!r}{guess} (triggers: {', '.join(TRIGGERS)})")
        return trigger
    if name == "id":
        digits = value.removeprefix("#")
        if not digits.isascii() or not digits.isdigit():
            raise BadInput(f"id must be a job number, got {value!r}")
        n = int(digits) if len(digits.lstrip("0")) <= 19 else MAX_ID + 1
        if not 1 <= n <= MAX_ID:
            raise BadInput(f"id must be a job number from 1 to {MAX_ID}, got {value!r}")
        return str(n)
    if name == "since":
        parse_duration(value, "since")
        return value.strip().lower()
    return fold(value)


class Word(NamedTuple):
    """One word of filter text: `name:value` (`name` as typed) or free text (`name` None)."""

    name: str | None
    text: str  # the value of a field, or the free text
    negated: bool  # a leading '-'
    quoted: bool  # quotes in it: a field's comma list is taken whole

    def values(self) -> list[str]:
        """A field's values: its comma list (BadInput for an empty item in one)."""
        items = [self.text] if self.quoted else self.text.split(",")
        if len(items) > 1 and not all(items):
            raise BadInput(f"filter '{self.name}:{self.text}': an empty value in its comma list")
        return items


def filter_words(text: str) -> Iterable[Word]:
    """The words of filter text, as the jobs' filter and the audit trail's read it: quotes
    group words, and a token that starts with a quote (after an optional '-') is free text
    even with a ':' in it."""
    for token, raw in _tokens(text):
        negated, body, quoted = False, token, raw[:1] in _QUOTES
        if not quoted and token.startswith("-") and len(token) > 1:
            negated, body, quoted = True, token[1:], raw[1:2] in _QUOTES
        name = None if quoted else _field_prefix(body)
        if name is None:
            if body:
                yield Word(None, body, negated, True)
            continue
        yield Word(name, body[len(name) + 1 :], negated, any(q in raw for q in _QUOTES))


def parse_query(text: str) -> Query:
    """Parse filter text into a Query; BadInput names the problem in one line."""
    terms: list[Term] = []
    for word in filter_words(text):
        if word.name is None:
            terms.append(Term(TEXT, fold(word.text), word.negated))
            continue
        lowered = word.name.lower()
        if lowered not in FIELDS:
            raise BadInput(
                f"unknown filter field {word.name!r}{_guess(lowered, FIELDS)} "
                f"(fields: {', '.join(FIELDS)}); "
                "quote the word to search for text containing ':'"
            )
        terms.extend(
            Term(lowered, _normalize(lowered, item), word.negated) for item in word.values()
        )
    return Query(tuple(terms))


def _haystack(job: Job) -> str:
    """The text free words are searched in; NUL-separated so no match spans fields.

    Cached on the job object: a job row is replaced, not changed, when the store
    says it changed, so each keystroke of the filter bar reuses the text of every
    row it already looked at.
    """
    hay: str | None = getattr(job, "_haystack", None)
    if hay is None:
        params = job.params
        fields = (job.type, job.target, job.user, job.info, str(job.id))
        hay = fold("\0".join((*fields, *params.values()) if params else fields))
        # A slot of Job's base (`model._SearchText`); mypy counts only the fields' slots.
        job._haystack = hay  # type: ignore[misc]
    return hay


def prepare(jobs: Iterable[Job]) -> None:
    """Build the search text of many jobs ahead of the first keystroke (the dashboard runs
    this in a thread after loading, so the first filter pass is as fast as the next)."""
    for job in jobs:
        _haystack(job)


def by_field(terms: Iterable[Term]) -> dict[str, tuple[list[str], list[str]]]:
    """field -> (positive values, negated values), fields in order of first use."""
    grouped: dict[str, tuple[list[str], list[str]]] = {}
    for term in terms:
        pos, neg = grouped.setdefault(term.field, ([], []))
        (neg if term.negated else pos).append(term.value)
    return grouped


def _always(job: Job, now: float) -> bool:
    return True


def _compile(terms: tuple[Term, ...]) -> Check:
    """One predicate: a closure per field used, its values precomputed in sets.

    The common cases (no term, one field) return the closure itself, saving a call
    and a loop per row.
    """
    checks = tuple(_FIELD_CHECKS[name](pos, neg) for name, (pos, neg) in by_field(terms).items())
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def check_all(job: Job, now: float) -> bool:
        for check in checks:  # noqa: SIM110 -- a plain loop beats all(<genexpr>) per row
            if not check(job, now):
                return False
        return True

    return check_all


def _text_check(pos: list[str], neg: list[str]) -> Check:
    want, avoid = tuple(pos), tuple(neg)

    def check(job: Job, now: float) -> bool:
        hay = _haystack(job)
        return all(w in hay for w in want) and not any(w in hay for w in avoid)

    return check


def _status_check(pos: list[str], neg: list[str]) -> Check:
    def expand(values: list[str]) -> frozenset[str]:
        out: set[str] = set()
        for v in values:
            out.update(STATUS_GROUPS.get(v, (v,)))
        return frozenset(str(s) for s in out)

    want, avoid = expand([v for v in pos if v not in FLAGS]), expand(neg)
    want_flags = frozenset(v for v in pos if v in FLAGS)
    avoid_flags = frozenset(v for v in neg if v in FLAGS)
    if not want_flags and not avoid_flags:

        def check(job: Job, now: float) -> bool:
            status = str(job.status)
            return (not want or status in want) and status not in avoid

        return check

    def check_flags(job: Job, now: float) -> bool:
        status = str(job.status)
        if status in avoid:
            return False
        has = flags(job, now) if job.status is JobStatus.RUNNING else ()
        if avoid_flags.intersection(has):
            return False
        return not (want or want_flags) or status in want or bool(want_flags.intersection(has))

    return check_flags


def _set_check(get: Callable[[Job], Any]) -> Callable[[list[str], list[str]], Check]:
    """Exact match on a field (user, trigger, id): set membership."""

    def make(pos: list[str], neg: list[str]) -> Check:
        want, avoid = frozenset(pos), frozenset(neg)

        def check(job: Job, now: float) -> bool:
            value = get(job)
            return (not want or value in want) and value not in avoid

        return check

    return make


def _type_check(pos: list[str], neg: list[str]) -> Check:
    """`type:import` matches `import-files`: type names are prefix-matched."""
    want, avoid = tuple(pos), tuple(neg)

    def check(job: Job, now: float) -> bool:
        value = fold(job.type or "")
        return (not want or value.startswith(want)) and not (avoid and value.startswith(avoid))

    return check


def _target_check(pos: list[str], neg: list[str]) -> Check:
    """Targets are paths and names: substring match, like free text."""

    def check(job: Job, now: float) -> bool:
        value = fold(job.target or "")
        return (not pos or any(p in value for p in pos)) and not any(n in value for n in neg)

    return check


def _since_check(pos: list[str], neg: list[str]) -> Check:
    """`since:1h` = created within the last hour; `-since:1h` = created before that."""
    want = max((parse_duration(v, "since") for v in pos), default=None)
    avoid = max((parse_duration(v, "since") for v in neg), default=None)

    def check(job: Job, now: float) -> bool:
        if want is not None and not job.created >= now - want:
            return False
        return avoid is None or not job.created >= now - avoid

    return check


_FIELD_CHECKS: dict[str, Callable[[list[str], list[str]], Check]] = {
    TEXT: _text_check,
    "status": _status_check,
    "type": _type_check,
    "user": _set_check(lambda job: fold(job.user or "")),
    "since": _since_check,
    "id": _set_check(lambda job: str(job.id)),
    "target": _target_check,
    "trigger": _set_check(lambda job: str(job.trigger or "")),
}


@dataclass(frozen=True)
class Query:
    """A parsed filter. Build it with `Query.parse(text)` (or `parse_query`)."""

    terms: tuple[Term, ...] = ()
    _match: Check = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_match", _compile(self.terms))

    @classmethod
    def parse(cls, text: str) -> Query:
        """Parse filter text; BadInput on an unknown field, bad value or open quote."""
        return parse_query(text)

    @property
    def is_empty(self) -> bool:
        return not self.terms

    @property
    def flags(self) -> bool:
        """Whether it names a flag of running jobs (`status:stalled`), which is told from
        a job's timing at a moment, not by a store."""
        return any(t.field == "status" and t.value in FLAGS for t in self.terms)

    def __str__(self) -> str:
        """The query in canonical spelling; parsing it again gives an equal Query."""
        return " ".join(str(t) for t in self.terms)

    def matches(self, job: Job, now: float) -> bool:
        """Whether `job` passes the filter (`now` anchors `since:`)."""
        return self._match(job, now)

    def select(self, jobs: Iterable[Job], now: float) -> list[Job]:
        """The jobs that pass, in their order: `matches` for many rows at once.

        This runs on every keystroke of the filter bar over up to 100,000 rows, so the
        common terms (free words, status) narrow the rows with plain comprehensions
        first, without a Python call per row; whatever else the query says is then
        checked with `matches` on the few rows left.
        """
        rows = jobs if isinstance(jobs, list) else list(jobs)
        rest = False
        for term in self.terms:
            if term.field == TEXT and not term.negated:
                word = term.value
                rows = [j for j in rows if word in (getattr(j, "_haystack", None) or _haystack(j))]
            elif term.field != "status":  # status terms (an OR of values) come next
                rest = True
        statuses = [t.value for t in self.terms if t.field == "status"]
        plain = all(t.field != "status" or not t.negated for t in self.terms)
        if statuses and plain and not any(v in FLAGS for v in statuses):
            wanted: set[str] = set()
            for v in statuses:
                wanted.update(str(s) for s in STATUS_GROUPS.get(v, (v,)))
            rows = [j for j in rows if j.status in wanted]
        elif statuses:
            rest = True
        if rest:
            match = self._match
            rows = [j for j in rows if match(j, now)]
        return rows if rows is not jobs else list(rows)


def narrows(old: Query, new: Query) -> bool:
    """Whether every job `new` passes is sure to pass `old` too, so the rows `old` shows
    can be filtered instead of every job (the dashboard's filter does, as its user types on).

    True when only free words changed, each old word living on inside a new one: typing
    on at the end of a word or adding a word. A job must contain every free word, so a
    longer or extra word can only hide rows. Any other change may show rows that `old` hid
    (a second `status:` is an OR, a removed `-word` lets rows back), and `since:` moves
    with the clock between keystrokes: those filter every job again.
    """

    def split(query: Query) -> tuple[list[str], set[Term]]:
        words = [t.value for t in query.terms if t.field == TEXT and not t.negated]
        rest = {t for t in query.terms if t.field != TEXT or t.negated}
        return words, rest

    old_words, old_rest = split(old)
    new_words, new_rest = split(new)
    if old_rest != new_rest or any(t.field == "since" for t in new_rest):
        return False
    return all(any(word in longer for longer in new_words) for word in old_words)
