"""The compiler for job filters: a `JobFilter` as a WHERE clause, its parameters and an
ORDER BY over the `jobs` table, in a dialect's spelling (`Text`: how each folds and searches
text).

It must select exactly the jobs `Query.matches` passes (the agreement tests hold it to that,
on both backends): text is folded over A-Z only, as `query.fold` does (SQLite's `lower()`
folds ASCII only; PostgreSQL's follows the database's locale and would fold more, so it
`translate`s); parameter values are searched with the JSON functions that yield each value
as text (json_each, json_each_text), so key names, quotes and escapes of the JSON text never
match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobdash.core.query import STATUS_GROUPS, TEXT, Query, by_field
from jobdash.core.store.records import JobFilter
from jobdash.core.store.sql.counts import ACTIVE_ONLY
from jobdash.core.store.sql.dialect import POSTGRES, SQLITE, Dialect
from jobdash.core.values import parse_duration


@dataclass(frozen=True)
class Text:
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
        "translate({}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')",
        "strpos({}, %s) > 0",
        "left({}, %s) = %s",
        "json_each_text({}::json)",
        "TRUE",
    ),
}


def job_query(d: Dialect, f: JobFilter, now: float) -> tuple[str, list[Any], str]:
    """(WHERE clause, its parameters, ORDER BY) for the jobs `f` selects."""
    where, args = query_sql(d, f.query, now)
    clauses = [] if f.query.is_empty else [f"({where})"]
    if f.user is not None:
        clauses.append(f'"user" = {d.mark}')
        args.append(f.user)
    if f.schedule_id is not None:
        clauses.append(f"schedule_id = {d.mark}")
        args.append(f.schedule_id)
    if f.after_id is not None:  # keyset paging
        clauses.append(f"id > {d.mark}" if f.oldest_first else f"id < {d.mark}")
        args.append(f.after_id)
    order = "id" if f.oldest_first else "id DESC"
    if f.active:
        # Repeated word for word, so that the partial index jobs_active is used; and
        # sorting the few active rows beats walking the whole history by id.
        clauses.append(ACTIVE_ONLY)
        if not f.oldest_first:
            order = "+id DESC"
    elif f.active is False:
        clauses.append(f"NOT ({ACTIVE_ONLY})")
    return " AND ".join(clauses) or TEXT_OF[d.name].true, args, order


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
            clauses.append(f"NOT ({_term_sql(d, t, col, name, value, now, args)})")
    return " AND ".join(clauses), args


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
    ors.append(
        f"EXISTS (SELECT 1 FROM {values} AS jp WHERE {t.contains.format(t.fold.format('jp.value'))})"
    )
    args.extend([word] * len(ors))
    return "(" + " OR ".join(ors) + ")"


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
        among, more = d.among(
            col("status"), sorted(str(s) for s in STATUS_GROUPS.get(value, (value,)))
        )
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
