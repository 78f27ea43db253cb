"""The compiler for job filters: a `JobFilter` as a WHERE clause, its parameters and an
ORDER BY over the `jobs` table, in a dialect's spelling (`Text`: how each folds and searches
text).

It must select exactly the jobs `Query.matches` passes (the agreement tests hold it to that,
on both backends): text is folded over A-Z only, as `query.fold` does (SQLite's `lower()`
folds ASCII only; PostgreSQL's follows the collation's locale and would fold more, but under
the "C" collation it folds A-Z alone, ~9 times faster than a `translate` of A-Z: 0.24 s
against 2.0–2.5 s to look for a free word in 100,000 jobs); parameter values are searched
with the JSON functions that yield each value as text (json_each, json_each_text), so key
names, quotes and escapes of the JSON text never match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, NamedTuple

from jobdash.core.query import STATUS_GROUPS, STATUSES, TEXT, Query, by_field
from jobdash.core.store.records import JobFilter, Shared
from jobdash.core.store.sql.counts import ACTIVE_ONLY
from jobdash.core.store.sql.dialect import POSTGRES, SQLITE, Dialect
from jobdash.core.timing import FLAGS
from jobdash.core.values import parse_duration


class Text(NamedTuple):
    """How a dialect folds and searches text (`{}`: the expression searched)."""

    fold: str  # ASCII-only lower case
    contains: str  # the expression holds the parameter
    starts: str  # the expression's first (parameter) characters are the next parameter
    values: str  # each value of a JSON object, as rows of a column `value` of text
    true: str  # a condition that always holds


TEXT_OF = {
    SQLITE.name: Text(
        "lower({})", "instr({}, ?) > 0", "substr({}, 1, ?) = ?", "json_each({})", "1"
    ),
    POSTGRES.name: Text(
        'lower(({}) COLLATE "C")',
        "strpos({}, %s) > 0",
        "left({}, %s) = %s",
        "json_each_text({}::json)",
        "TRUE",
    ),
}


# The value each column of the dashboard's job table sorts on, as `job_rows` sorts in memory
# (ties: by id). Text in code point order (PostgreSQL: the "C" collation, not the locale's);
# not started sorts as the latest; statuses in lifecycle order; a finished job's run time.
# The finished jobs, as the predicate of SQLite's partial indexes of them says it (see
# counts.ACTIVE_ONLY: comparisons, not a list).
FINISHED_ONLY = (
    "(status = 'cancelled' OR status = 'failed' OR status = 'succeeded' OR status = 'warning')"
)
_STATUS_RANK = " ".join(f"WHEN '{s}' THEN {n}" for n, s in enumerate(STATUSES))
# A finished job's run: to its end, or to the pause it ended in, without its idle time.
_RAN = (
    "(CASE WHEN paused_at IS NOT NULL AND paused_at < finished THEN paused_at ELSE finished END"
    " - started - idle_time)"
)
_TEXT_ORDER = {SQLITE.name: "{}", POSTGRES.name: '{} COLLATE "C"'}
SORT_SQL = {
    "id": "id",
    "type": "type",
    "target": "target",
    "user": '"user"',
    "info": "info",
    "started": "CASE WHEN started IS NULL THEN 1e308 ELSE started END",
    "updated": "updated",
    "status": f"CASE status {_STATUS_RANK} END",
    "progress": "progress",
    "failed": "failed",
    # Job.duration of a finished job (the Completed tab's rows); -1 when it never started.
    "time": "CASE WHEN started IS NULL OR started = 0 OR finished IS NULL THEN -1 "
    f"WHEN {_RAN} < 0 THEN 0 ELSE {_RAN} END",
}


class Select(NamedTuple):
    """A job query in parts: FROM, WHERE, its parameters, ORDER BY."""

    source: str
    where: str
    args: list[Any]
    order: str


def job_select(d: Dialect, f: JobFilter, now: float, counting: bool = False) -> Select:
    """The jobs `f` selects: through the store's text index when `f.indexed` allows it (for
    finished jobs: those it holds) and a free word is long enough for it (see `WordIndex`),
    or through the index's text read row by row for a shorter one (SQLite), else
    `job_query`'s scan."""
    index = WORD_INDEX.get(d.name)
    usable = index is not None and f.indexed and f.active is False
    words = index.words(f.query) if index is not None and usable else []
    if not words or index is None:
        short = index.short_words(f.query) if index is not None and usable else []
        if index is not None and index.scan is not None and short and f.order == "id":
            # Too short for the index's lookup, a word is still looked for in its text,
            # in id order (a common word stops after a page or the count's cap).
            where, args, order = job_query(d, f, now, key=index.key)
            pattern = like_contains(max(short, key=len))
            return Select(index.driven, f"{index.scan} AND {where}", [pattern, *args], order)
        where, args, order = job_query(d, f, now, counting=counting)
        return Select("jobs", where, args, order)
    match = index.match(words)
    if f.order == "id":
        # Driven by the index in id order: a page of a common word stops after a page.
        where, args, order = job_query(d, f, now, key=index.key)
        return Select(index.driven, f"{index.condition} AND {where}", [match, *args], order)
    where, args, order = job_query(d, f, now)
    return Select("jobs", f"{index.among} AND {where}", [match, *args], order)


def like_contains(word: str) -> str:
    """A LIKE pattern (`\\` its escape) of the text holding `word`."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def glob_like(pattern: str) -> str:
    """A role's glob (`*` any characters, `?` one; the config allows no other) as a LIKE
    pattern with `\\` as its escape: PostgreSQL's LIKE is case-sensitive, as GLOB is."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _within(
    d: Dialect, types: tuple[str, ...], targets: tuple[str, ...], args: list[Any], table: str = ""
) -> str:
    """The jobs of one of `types` and one of `targets` (globs; empty: any), appending the
    patterns to `args`: SQLite's GLOB, PostgreSQL's LIKE, both case-sensitive (`table`:
    the jobs' alias and a dot, when the query names it)."""
    parts = []
    for column, globs in ((f"{table}type", types), (f"{table}target", targets)):
        if not globs:
            continue
        if d is SQLITE:
            one, patterns = f"{column} GLOB ?", list(globs)
        else:
            one, patterns = f"{column} LIKE %s ESCAPE '\\'", [glob_like(g) for g in globs]
        parts.append("(" + " OR ".join([one] * len(globs)) + ")")
        args.extend(patterns)
    return "(" + " AND ".join(parts) + ")" if parts else "TRUE"


OWNER = '"user"'  # the jobs' column naming whose a job is


def seen_sql(
    d: Dialect,
    user: str,
    shared: Shared,
    args: list[Any],
    owner: str = '"user"',
    job_id: str | None = None,
) -> str:
    """The rows a user who does not see every job sees (`Rights.seen`, the same rule as
    the policies of a PostgreSQL store): their own (`owner`: the column naming whose the
    row is), or those of a job a role lets them see (`shared`: type and target globs),
    appending the parameters to `args`. `job_id`: on a table other than the jobs, the
    expression naming the row's job (NULL: none), looked up in the jobs by its key."""
    args.append(user)
    mine = [f"{owner} = {d.mark}"]
    if shared and job_id is None:
        mine += [_within(d, types, targets, args) for types, targets in shared]
    elif shared:
        within = [_within(d, types, targets, args, "s.") for types, targets in shared]
        mine.append(
            f"EXISTS (SELECT 1 FROM jobs s WHERE s.id = {job_id} AND ({' OR '.join(within)}))"
        )
    return mine[0] if len(mine) == 1 else f"({' OR '.join(mine)})"


def _index_counts(query: Query) -> bool:
    """Whether the index of the finished jobs' statuses counts `query`'s jobs without their
    rows: no condition, or status and user only."""
    return all(t.field in ("status", "user") for t in query.terms)


def _indexed_field(query: Query) -> bool:
    """Whether `query` names a status or user, which an index of the finished jobs serves."""
    return any(t.field in ("status", "user") and not t.negated for t in query.terms)


def count_sql(d: Dialect, f: JobFilter, now: float, cap: int | None) -> tuple[str, list[Any]]:
    """How many jobs `f` selects (its limit, offset and order ignored): up to `cap` + 1 when
    `cap` is given, so that a count of a large set stops early ("10,000+")."""
    s = job_select(d, replace(f, limit=None, offset=0, order="id"), now, counting=True)
    inner = f"SELECT 1 FROM {s.source} WHERE {s.where}"
    if cap is None:
        return f"SELECT count(*) FROM ({inner}) AS c", s.args
    return f"SELECT count(*) FROM ({inner} LIMIT {int(cap) + 1}) AS c", s.args


def job_query(
    d: Dialect, f: JobFilter, now: float, key: str = "id", counting: bool = False
) -> tuple[str, list[Any], str]:
    """(WHERE clause, its parameters, ORDER BY) for the jobs `f` selects (`key`: the id as
    the query reads it, when an index drives it; `counting`: for a count, not in order)."""
    where, args = query_sql(d, f.query, now)
    clauses = [] if f.query.is_empty else [f"({where})"]
    if f.user is not None:
        owner = OWNER
        if not f.shared:
            # Their own jobs, through the finished jobs' index of folded names (SQLite's
            # jobs_user_folded); the exact name is checked on the row. On SQLite it is
            # `+"user"`: a plain column equal to a value would be put for it in the folded
            # term, which would then no longer match the index (the status index was used).
            t = TEXT_OF[d.name]
            clauses.append(f"{_folded(t, OWNER)} = {t.fold.format(d.mark)}")
            args.append(f.user)
            owner = f"+{OWNER}" if d is SQLITE else OWNER
        clauses.append(seen_sql(d, f.user, f.shared, args, owner))
    if f.schedule_id is not None:
        clauses.append(f"schedule_id = {d.mark}")
        args.append(f.schedule_id)
    if f.after_id is not None:  # keyset paging
        clauses.append(f"{key} > {d.mark}" if f.oldest_first else f"{key} < {d.mark}")
        args.append(f.after_id)
    if f.order == "id":
        order = key if f.oldest_first else f"{key} DESC"
    else:
        value = SORT_SQL[f.order]
        if f.order in ("type", "target", "user", "info"):
            value = _TEXT_ORDER[d.name].format(value)
        order = f"{value}, id" if f.oldest_first else f"{value} DESC, id DESC"
    if f.active:
        # Repeated word for word, so that the partial index jobs_active is used; and
        # sorting the few active rows beats walking the whole history by id.
        clauses.append(ACTIVE_ONLY)
        if not f.oldest_first and f.order == "id":
            order = "+id DESC"
    elif f.active is False and (
        (counting and _index_counts(f.query)) or f.user is not None or _indexed_field(f.query)
    ):
        # Named so, the finished statuses let SQLite use the indexes of the finished jobs
        # (status, user: counted or paged through them); a page of them all in id order is
        # read in id order from the table instead (NOT: no index, no sort), and so is a
        # count of a condition no index holds (type:, target:, a short word): a walk of
        # the status index looked each row up (type:e, 1M jobs: 320 ms), the table's rows
        # in order stop at the count's cap (3 ms) and, for a rare type, take half as long.
        clauses.append(FINISHED_ONLY)
    elif f.active is False:
        clauses.append(f"NOT ({ACTIVE_ONLY})")
    return " AND ".join(clauses) or TEXT_OF[d.name].true, args, order


class WordIndex(NamedTuple):
    """A backend's index of the finished jobs' text, for free words: it finds a superset of
    the jobs holding a word (the exact condition of `query_sql` is checked beside it), so
    that a word found in few of a million jobs is not looked for in each.

    SQLite's is the FTS5 table jobs_text (trigram tokenizer: any substring of three
    characters or more), brought up to date in batches (`Store.index_text`), not by each
    write: a job finished since the last batch is not found through it. PostgreSQL's is a
    trigram index of the column `jobs.words` (`LIKE`: postgres/words.py), current at each
    write; its text holds the parameters' JSON text, so only a word that stands there as in
    a value (`verbatim`) is looked up in it, the longest one of them."""

    driven: str  # FROM: the index, joined to the jobs in the index's order
    condition: str  # the driven index matches (one parameter)
    among: str  # the job is among the index's matches (one parameter)
    key: str  # the job id as the driven form orders and pages by it
    shortest: int  # words shorter than this cannot be looked up
    like: bool = False  # one LIKE pattern (PostgreSQL), not an FTS5 query
    # A word too short to look up, found in the index's text row by row (one parameter: a
    # LIKE pattern); None: such a word is looked for in the jobs themselves.
    scan: str | None = None

    def words(self, query: Query) -> list[str]:
        """The positive free words of `query` the index can look up."""
        return [
            t.value
            for t in query.terms
            if t.field == TEXT
            and not t.negated
            and len(t.value) >= self.shortest
            and (not self.like or _verbatim(t.value))
        ]

    def short_words(self, query: Query) -> list[str]:
        """The positive free words of `query` too short to look up."""
        return [
            t.value
            for t in query.terms
            if t.field == TEXT and not t.negated and 0 < len(t.value) < self.shortest
        ]

    def match(self, words: list[str]) -> str:
        """The index's query for rows holding every word (FTS5: quoted phrases, ANDed;
        LIKE: the longest word anywhere, the others left to the exact condition)."""
        if self.like:
            return like_contains(max(words, key=len))
        return " ".join('"' + word.replace('"', '""') + '"' for word in words)


# PostgreSQL's form names the finished statuses as the index's condition does.
_WORDS_LIKE = f"{FINISHED_ONLY} AND words LIKE %s"
WORD_INDEX = {
    SQLITE.name: WordIndex(
        driven="jobs_text CROSS JOIN jobs ON jobs.id = jobs_text.rowid",
        condition="jobs_text MATCH ?",
        among="id IN (SELECT rowid FROM jobs_text WHERE jobs_text MATCH ?)",
        key="jobs_text.rowid",
        shortest=3,
        # The index's text is each finished job's fields, one a line, without the JSON of
        # its parameters or its other columns: reading it whole for a rare short word took
        # 0.44 s at 1M jobs, the jobs' rows 3-4 s.
        scan="jobs_text.text LIKE ? ESCAPE '\\'",
    ),
    POSTGRES.name: WordIndex(
        driven="jobs", condition=_WORDS_LIKE, among=_WORDS_LIKE, key="id", shortest=3, like=True
    ),
}


def query_sql(
    d: Dialect, query: Query, now: float, table: str | None = None, also: tuple[str, ...] = ()
) -> tuple[str, list[Any]]:
    """The filter language's terms as a WHERE fragment and its parameters; always true when
    there are none. `table` qualifies the columns (`jobs.status`) for queries that join
    tables; `also`: more text columns (qualified) a free word may be found in."""
    t = TEXT_OF[d.name]
    if query.is_empty:
        return t.true, []

    def col(name: str) -> str:
        column = '"user"' if name == "user" else name
        return f"{table}.{column}" if table else column

    clauses: list[str] = []
    args: list[Any] = []
    for name, (pos, neg) in by_field(query.terms).items():
        if name == TEXT:
            # Every positive word must match; no negative one may.
            for word in pos:
                clauses.append(_text_sql(d, t, col, word, args, also))
            for word in neg:
                clauses.append(f"NOT {_text_sql(d, t, col, word, args, also)}")
            continue
        if pos:
            clauses.append(
                "(" + " OR ".join(_term_sql(d, t, col, name, v, now, args) for v in pos) + ")"
            )
        for value in neg:
            if name == "status" and value in FLAGS:
                continue  # a job without the flag may be any job: the Service tells (`flagged`)
            clauses.append(f"NOT ({_term_sql(d, t, col, name, value, now, args)})")
    return (" AND ".join(clauses), args) if clauses else (t.true, [])


def _folded(t: Text, column: str) -> str:
    """A text column, NULL as empty, folded."""
    return t.fold.format(f"coalesce({column}, '')")


def _text_sql(
    d: Dialect,
    t: Text,
    col: Callable[[str], str],
    word: str,
    args: list[Any],
    also: tuple[str, ...] = (),
) -> str:
    """A free word in any text column (and those of `also`), the id, or any parameter
    *value*."""
    ors = [t.contains.format(_folded(t, col(c))) for c in ("type", "target", "user", "info")]
    ors += [t.contains.format(_folded(t, c)) for c in also]
    ors.append(t.contains.format(f"CAST({col('id')} AS TEXT)"))
    values = t.values.format(col("params"))
    each = f"EXISTS (SELECT 1 FROM {values} AS jp WHERE {t.contains.format(t.fold.format('jp.value'))})"
    if _verbatim(word):
        # Such a word stands in the JSON text as it stands in a value: the text is searched
        # first, and only a job whose text holds it has its values taken apart (a word
        # found in no job is looked for at a fraction of the cost).
        each = f"({t.contains.format(_folded(t, col('params')))} AND {each})"
        ors.append(each)
        args.extend([word] * (len(ors) + 1))
    else:
        ors.append(each)
        args.extend([word] * len(ors))
    return "(" + " OR ".join(ors) + ")"


def _verbatim(word: str) -> bool:
    """Whether JSON text (json.dumps: ASCII, escapes) holds `word` unescaped wherever a value
    does: printable ASCII without quote or backslash."""
    return all(" " <= c <= "~" and c not in '"\\' for c in word)


def _term_sql(
    d: Dialect,
    t: Text,
    col: Callable[[str], str],
    name: str,
    value: str,
    now: float,
    args: list[Any],
) -> str:
    """One `field:value` term as an SQL condition that is never NULL."""
    if name == "status":
        # A flag (stalled, overrun) is a running job's: the store selects them all, and the
        # Service keeps those that carry it now (`Timings.flagged`).
        statuses = ("running",) if value in FLAGS else STATUS_GROUPS.get(value, (value,))
        among, more = d.among(col("status"), sorted(str(s) for s in statuses))
        args.extend(more)
        return among
    if name == "type":
        args.extend([len(value), value])
        return t.starts.format(_folded(t, col("type")))
    if name == "user":
        args.append(value)
        return f"{_folded(t, col('user'))} = {d.mark}"
    if name == "target":
        args.append(value)
        return t.contains.format(_folded(t, col("target")))
    if name == "trigger":
        args.append(value)
        return f"coalesce({col('trigger')}, '') = {d.mark}"
    if name == "id":
        args.append(int(value))
        return f"{col('id')} = {d.mark}"
    if name == "since":
        args.append(now - parse_duration(value, "since"))
        return f"{col('created')} >= {d.mark}"
    raise AssertionError(f"no SQL for field {name!r}")  # parse_query admits only FIELDS
