"""What differs in the SQL of the two backends, and the little the shared SQL needs of a
connection.

Shared statements are written with `?` placeholders (and `"user"`, a keyword in
PostgreSQL, quoted: SQLite reads it too) and prepared for a dialect once, when their module
is imported (`Statements`, `Dialect.prep`): no statement is rewritten per call. The few
real differences are named here: list membership (`among`: `IN (?, ?)` against
`= ANY(%s)`), the scalar maximum (`{max}`: `max(a, b)` against `greatest(a, b)`), "differ,
NULL included" (`{distinct}`: `IS NOT` against `IS DISTINCT FROM`), SQLite's index hint for
the running tasks, PostgreSQL's row locks on tasks about to be written, and executemany (or arrays). A
parameter whose type PostgreSQL cannot infer is written `CAST(? AS TEXT)` (or `BIGINT`,
`DOUBLE PRECISION`), which SQLite reads too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from types import SimpleNamespace
from typing import Any, NamedTuple, Protocol, TypeVar

T = TypeVar("T")
# Keys in one `IN (…)` of `Dialect.by_key` (SQLite allows 32,766 parameters a statement).
KEYS_PER_STATEMENT = 500


class Cursor(Protocol):
    """The rows of a statement run (both drivers' cursors are one)."""

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class Connection(Protocol):
    """The writer's connection as a transaction sees it (`txn(con, rev, now)`)."""

    def execute(self, sql: Any, args: Any = ..., /) -> Any: ...


class Buffering(Protocol):
    """What the shared flusher needs of a backend's `Db` besides `Reading`: the count of
    the lines it holds and writes, and where failures go."""

    held: Callable[[], int]
    inflight: int

    @property
    def dialect(self) -> Dialect: ...

    @property
    def faults(self) -> Any: ...

    def report_failure(self, logger: Any, what: str, *args: Any) -> None: ...


class Reading(Protocol):
    """What the shared areas need of a backend's `Db`: its dialect, its write transaction
    and its reads (autocommit: each sees what is committed now)."""

    @property
    def dialect(self) -> Dialect: ...

    @property
    def actor(self) -> str: ...

    @property
    def loop_free(self) -> bool: ...  # read without the event loop (`core.loopfree`)

    async def write(self, fn: Callable[[Any, int, float], T], *, work: bool = ...) -> T: ...

    async def fetchall(
        self, sql: str, args: Sequence[Any] = (), window: bool = False
    ) -> Sequence[Any]: ...

    async def exists(self, sql: str, args: Sequence[Any] = ()) -> bool: ...


class Dialect(NamedTuple):
    """One backend's spelling of the shared SQL."""

    name: str
    mark: str  # a placeholder
    maximum: str  # the scalar maximum of two values: `max` or `greatest`
    distinct: str  # "differ, NULL a value like any other": `IS NOT` or `IS DISTINCT FROM`
    running: str  # SQLite's hint for the running tasks of a job (none in PostgreSQL)
    # Rows of `tasks t` read to be written in the same transaction: PostgreSQL locks them
    # (FOR UPDATE); SQLite's one writer holds the whole database already.
    lock_tasks: str
    # Rows updated as arrays in one statement (PostgreSQL: `FROM unnest(…)`) rather than
    # by executemany, which runs the statement once a row (~25 µs each on the server).
    arrays: bool
    many: Callable[[Connection, str, Iterable[Sequence[Any]]], int]  # executemany: rows changed
    # An array's placeholder (`{array}`; `among`'s): PostgreSQL's in binary (`%b`), which
    # its driver writes 3-6× faster than as text (a list of 256 floats: 290 µs as text, 44
    # in binary). Its elements are then of one Python type (ints or floats, not both).
    array_mark: str = "?"
    # The `text` of a query's rows joined by line breaks in the order of their `seq` (the
    # word `{joined}`): SQLite before 3.44 has no ORDER BY in an aggregate, and joins in
    # the order it reads the rows: an ordered subquery's, or a range of `seq` walked up
    # by the table's key or by the index on (job_id, seq).
    joined: str = "group_concat(text, char(10))"
    # A table read by its key's range (`{key_walk}`): SQLite's hint to walk the rows of a
    # range of `logs.seq` one after the other rather than through an index (none in
    # PostgreSQL, whose planner chooses).
    key_walk: str = ""

    def prep(self, sql: str) -> str:
        """`sql`, written with `?` placeholders and the words `{max}` (the scalar maximum)
        `{distinct}`, `{joined}` and `{key_walk}`, in this dialect's spelling (once, at
        import)."""
        if self.mark != "?":
            sql = sql.replace("%", "%%").replace("?", self.mark)
        sql = sql.replace("{array}", self.array_mark)
        sql = sql.replace("{joined}", self.joined).replace("{key_walk}", self.key_walk)
        return sql.replace("{max}", self.maximum).replace("{distinct}", self.distinct)

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """`column` is one of `values`: the condition and its arguments. PostgreSQL's list
        of ids (ints) goes as the text of an array (`int_array`)."""
        if self.mark == "?":
            return f"{column} IN ({', '.join('?' * len(values))})", list(values)
        if values and all(type(v) is int for v in values):
            return f"{column} = ANY({INT_ARRAY})", [int_array(values)]
        return f"{column} = ANY({self.array_mark})", [list(values)]

    def by_key(self, con: Connection, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Like `many` for a statement that ends in `column = ?` (the rows' last value:
        `… WHERE column = ?` or `… AND column = ?`), but rows that differ in that value
        alone are written by one statement, `… column IN (…)`. Returns the rows changed.

        The same writes as one statement a row (each key is in one row at most), at a
        fraction of the cost: in SQLite, a job's status moved by a statement of its own
        costs 50-600 µs (measured with a backlog of 5,000-20,000 queued jobs, admitted
        oldest first: each statement re-balances the jobs' status indexes where the last
        one left them), one statement for a batch ~20 µs a job. A batch of one-task jobs
        (admitted, their tasks counted, settled) is one group."""
        head, _, column = sql.removesuffix(f" = {self.mark}").rpartition(" ")
        assert column.isidentifier(), f"by_key: {sql!r} does not end in column = ?"
        groups: dict[tuple[Any, ...], list[Any]] = {}
        for row in rows:
            groups.setdefault(tuple(row[:-1]), []).append(row[-1])
        changed = 0
        for values, keys in groups.items():
            for start in range(0, len(keys), KEYS_PER_STATEMENT):
                among, args = self.among(column, keys[start : start + KEYS_PER_STATEMENT])
                cur = con.execute(f"{head} {among}", (*values, *args))
                changed += max(cur.rowcount, 0)
        return changed


# A list of ids as PostgreSQL takes it fastest: the text of a BIGINT array (`int_array`).
INT_ARRAY = "CAST(%s AS BIGINT[])"


def int_array(values: Iterable[int]) -> str:
    """Ints as the text of a PostgreSQL array, for `INT_ARRAY`: the driver dumps a list
    element by element in Python (its binary array of 256 ids costs ~150 µs of the
    client's CPU, this text ~30), and the server reads either as fast."""
    return "{" + ",".join(map(str, values)) + "}"


def _sqlite_many(con: Any, sql: str, rows: Iterable[Sequence[Any]]) -> int:
    return max(con.executemany(sql, rows).rowcount, 0)


def _pg_many(con: Any, sql: str, rows: Iterable[Sequence[Any]]) -> int:
    cur = con.cursor()
    cur.executemany(sql, rows)
    return max(cur.rowcount, 0)


SQLITE = Dialect(
    "sqlite",
    "?",
    "max",
    "IS NOT",
    " INDEXED BY tasks_running_seq",
    "",
    False,
    _sqlite_many,
    key_walk=" NOT INDEXED",
)
POSTGRES = Dialect(
    "postgres",
    "%s",
    "greatest",
    "IS DISTINCT FROM",
    "",
    " FOR UPDATE OF t",
    True,
    _pg_many,
    "%b",
    "string_agg(text, chr(10) ORDER BY seq)",
)


class Statements:
    """An area's statements, by name, prepared for both dialects when the area's module is
    imported: `Q[db.dialect].claim` is the claim's text for that store."""

    def __init__(self, **sql: str) -> None:
        self._by = {
            d.name: SimpleNamespace(**{k: d.prep(v) for k, v in sql.items()})
            for d in (SQLITE, POSTGRES)
        }

    def __getitem__(self, d: Dialect) -> Any:
        return self._by[d.name]
