"""The PostgreSQL store's compiler for job filters: a `JobFilter` as a WHERE clause, its
parameters and an ORDER BY over the `jobs` table.

It must select exactly the jobs `Query.matches` passes (the agreement tests hold it to that):
text is folded with `translate` over A-Z only, as `query.fold` does (PostgreSQL's `lower`
follows the database's locale and would fold more); parameter values are searched with
json_each_text, so key names, quotes and escapes of the JSON text never match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobdash.core.query import STATUS_GROUPS, TEXT, Query, by_field
from jobdash.core.store.postgres.schema import ACTIVE_ONLY
from jobdash.core.store.records import JobFilter
from jobdash.core.values import parse_duration


def fold(sql: str) -> str:
    """ASCII-only lower case of an SQL text expression."""
    return f"translate({sql}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"


def folded(column: str) -> str:
    """A text column, NULL as empty, folded."""
    return fold(f"coalesce({column}, '')")


def job_query(f: JobFilter, now: float) -> tuple[str, list[Any], str]:
    """(WHERE clause, its parameters, ORDER BY) for the jobs `f` selects."""
    where, args = query_sql(f.query, now)
    clauses = [] if f.query.is_empty else [f"({where})"]
    if f.user is not None:
        clauses.append('"user" = %s')
        args.append(f.user)
    if f.schedule_id is not None:
        clauses.append("schedule_id = %s")
        args.append(f.schedule_id)
    if f.after_id is not None:
        clauses.append("id > %s" if f.oldest_first else "id < %s")
        args.append(f.after_id)
    if f.active:
        clauses.append(ACTIVE_ONLY)
    elif f.active is False:
        clauses.append(f"NOT ({ACTIVE_ONLY})")
    return " AND ".join(clauses) or "TRUE", args, "id" if f.oldest_first else "id DESC"


def query_sql(query: Query, now: float, table: str | None = None) -> tuple[str, list[Any]]:
    """The filter language's terms as a WHERE fragment and its parameters; "TRUE" when
    there are none. `table` qualifies the columns for queries that join tables."""
    if query.is_empty:
        return "TRUE", []

    def col(name: str) -> str:
        name = '"user"' if name == "user" else name
        return f"{table}.{name}" if table else name

    clauses: list[str] = []
    args: list[Any] = []
    for name, (pos, neg) in by_field(query.terms).items():
        if name == TEXT:
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
    ors = [f"strpos({folded(col(c))}, %s) > 0" for c in ("type", "target", "user", "info")]
    ors.append(f"strpos({col('id')}::text, %s) > 0")
    ors.append(
        f"EXISTS (SELECT 1 FROM json_each_text({col('params')}::json) AS jp "
        f"WHERE strpos({fold('jp.value')}, %s) > 0)"
    )
    args.extend([word] * len(ors))
    return "(" + " OR ".join(ors) + ")"


def _term_sql(col: Callable[[str], str], name: str, value: str, now: float, args: list[Any]) -> str:
    """One `field:value` term as an SQL condition that is never NULL."""
    if name == "status":
        args.append(sorted(str(s) for s in STATUS_GROUPS.get(value, (value,))))
        return f"{col('status')} = ANY(%s)"
    if name == "type":
        args.extend([len(value), value])
        return f"left({folded(col('type'))}, %s) = %s"
    if name == "user":
        args.append(value)
        return f"{folded(col('user'))} = %s"
    if name == "target":
        args.append(value)
        return f"strpos({folded(col('target'))}, %s) > 0"
    if name == "trigger":
        args.append(value)
        return f"coalesce({col('trigger')}, '') = %s"
    if name == "id":
        args.append(int(value))
        return f"{col('id')} = %s"
    if name == "since":
        args.append(now - parse_duration(value, "since"))
        return f"{col('created')} >= %s"
    raise AssertionError(f"no SQL for field {name!r}")  # parse_query admits only FIELDS
