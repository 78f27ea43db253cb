"""The SQLite store's compiler for job filters: a `JobFilter` as a WHERE clause, its
parameters and an ORDER BY over the `jobs` table.

It must select exactly the jobs `Query.matches` passes (the agreement tests hold it to
that): text is compared through `lower()`, which folds ASCII letters only, as
`query.fold` does; parameter values are searched with json_each, so key names, quotes and
escapes of the JSON text never match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobdash.core.query import STATUS_GROUPS, TEXT, Query, by_field
from jobdash.core.store.records import JobFilter
from jobdash.core.store.sqlite.schema import ACTIVE_ONLY
from jobdash.core.values import parse_duration


def job_query(f: JobFilter, now: float) -> tuple[str, list[Any], str]:
    """(WHERE clause, its parameters, ORDER BY) for the jobs `f` selects."""
    where, args = query_sql(f.query, now)
    clauses = [] if f.query.is_empty else [f"({where})"]
    if f.user is not None:
        clauses.append("user = ?")
        args.append(f.user)
    if f.schedule_id is not None:
        clauses.append("schedule_id = ?")
        args.append(f.schedule_id)
    if f.after_id is not None:
        clauses.append("id > ?" if f.oldest_first else "id < ?")
        args.append(f.after_id)
    order = "id" if f.oldest_first else "id DESC"
    if f.active:
        # Repeated word for word, so that SQLite uses the partial index jobs_active; and
        # sorting the few active rows beats walking the whole history by id.
        clauses.append(ACTIVE_ONLY)
        if not f.oldest_first:
            order = "+id DESC"
    elif f.active is False:
        clauses.append(f"NOT ({ACTIVE_ONLY})")
    return " AND ".join(clauses) or "1", args, order


def query_sql(query: Query, now: float, table: str | None = None) -> tuple[str, list[Any]]:
    """The filter language's terms as a WHERE fragment and its parameters; "1" when there
    are none. `table` qualifies the columns (`jobs.status`) for queries that join tables."""
    if query.is_empty:
        return "1", []

    def col(name: str) -> str:
        return f"{table}.{name}" if table else name

    clauses: list[str] = []
    args: list[Any] = []
    for name, (pos, neg) in by_field(query.terms).items():
        if name == TEXT:
            # Every positive word must match; no negative one may.
            for word in pos:
                clauses.append(_text_sql(col, word, args))
            for word in neg:
                clauses.append(f"NOT {_text_sql(col, word, args)}")
            continue
        if pos:
            clauses.append("(" + " OR ".join(_term_sql(col, name, v, now, args) for v in pos) + ")")
        for value in neg:
            clauses.append(f"NOT ({_term_sql(col, name, value, now, args)})")
    return " AND ".join(clauses), args


def _text_sql(col: Callable[[str], str], word: str, args: list[Any]) -> str:
    """A free word in any text column, the id, or any parameter *value*."""
    ors = [
        f"instr(lower(coalesce({col(c)}, '')), ?) > 0" for c in ("type", "target", "user", "info")
    ]
    ors.append(f"instr(CAST({col('id')} AS TEXT), ?) > 0")
    ors.append(
        f"EXISTS (SELECT 1 FROM json_each({col('params')}) AS jp "
        "WHERE instr(lower(jp.value), ?) > 0)"
    )
    args.extend([word] * len(ors))
    return "(" + " OR ".join(ors) + ")"


def _term_sql(col: Callable[[str], str], name: str, value: str, now: float, args: list[Any]) -> str:
    """One `field:value` term as an SQL condition that is never NULL."""
    if name == "status":
        statuses = sorted(str(s) for s in STATUS_GROUPS.get(value, (value,)))
        args.extend(statuses)
        return f"{col('status')} IN ({', '.join('?' * len(statuses))})"
    if name == "type":
        args.extend([len(value), value])
        return f"substr(lower(coalesce({col('type')}, '')), 1, ?) = ?"
    if name == "user":
        args.append(value)
        return f"lower(coalesce({col('user')}, '')) = ?"
    if name == "target":
        args.append(value)
        return f"instr(lower(coalesce({col('target')}, '')), ?) > 0"
    if name == "trigger":
        args.append(value)
        return f"coalesce({col('trigger')}, '') = ?"
    if name == "id":
        args.append(int(value))
        return f"{col('id')} = ?"
    if name == "since":
        args.append(now - parse_duration(value, "since"))
        return f"{col('created')} >= ?"
    raise AssertionError(f"no SQL for field {name!r}")  # parse_query admits only FIELDS
