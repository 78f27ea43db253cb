"""A CSV export's page, written a column at a time (`export_csv.csv_columns`) with its times
written by arithmetic (`times.iso_column`), is the text the plain rule gives: `csv.writer`
of each job's cells, each time `iso` of it, whatever the cells hold and whatever the zone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from unittest import mock
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from jobdash.core import model
from jobdash.core.model import JobStatus, Trigger
from jobdash.core.service.export import Export
from jobdash.core.service.export_csv import csv_columns
from jobdash.core.service.page_text import KeptTexts
from jobdash.core.store.records import EXPORT_CELLS, RecordColumns, Same
from jobdash.present.times import iso, iso_column
from tests.test_export_rows import ANY_TEXT, FORMULAS, JSON_VALUES, writer_text
from tests.tui.job_factory import NOW


class Shifted(tzinfo):
    """A zone of neither kind `iso_column` writes by arithmetic: each time through `iso`."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=2)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def fromutc(self, dt: datetime) -> datetime:
        return dt + timedelta(hours=2)


ZONES = st.sampled_from(
    [
        UTC,
        ZoneInfo("Europe/Paris"),
        ZoneInfo("America/New_York"),
        ZoneInfo("America/St_Johns"),  # -03:30, DST
        ZoneInfo("Australia/Lord_Howe"),  # a DST of half an hour
        ZoneInfo("Asia/Kathmandu"),  # +05:45
        ZoneInfo("Europe/Amsterdam"),  # +00:19:32 before 1937: an offset's seconds written
        ZoneInfo("Africa/Freetown"),  # tzdata's closest two changes
        timezone(timedelta(hours=-9, minutes=-30)),
        timezone(timedelta(seconds=1, microseconds=7)),  # a fraction: written one by one
        Shifted(),
    ]
)
# Instants around which offsets change: DST in Europe, North America, Lord Howe, and the
# old ones of Amsterdam (1937, 1940) and Freetown (1939).
CHANGES = [1711846800, 1730000000, 1710054000, 1730613600, 1712446200, 1728143400]
CHANGES += [-1025745572, -935020800, -957308400, -956700000, 86400 * 2]
# A page's times: most near one another (one day, one hour), some anywhere, and the odd:
# half a microsecond before a second (rounded up by `fromtimestamp`), NaN, infinities, none.
NEAR = st.builds(
    lambda base, shift, fraction: base + shift + fraction,
    st.sampled_from(CHANGES) | st.integers(0, 4 * 10**9),
    st.integers(-3 * 86400, 3 * 86400),
    st.sampled_from([0.0, 0.5, 0.9999995, 0.99999949, 0.9999994999999999, 1e-6])
    | st.floats(0, 1, exclude_max=True),
)
ANY_TIME = (
    st.floats()
    | st.integers(-(2**40), 2**40)
    | st.sampled_from([None, 0, 0.0, -0.0, True, 1e20, 253402300799.0, 172800.5])
)
TIMES = st.lists(NEAR, max_size=12) | st.lists(NEAR | ANY_TIME, max_size=12)


@given(TIMES, ZONES)
def test_times_of_a_column_are_iso_of_each(times: list[object], tz: tzinfo) -> None:
    """Each time of a page written as `iso` writes it alone, in a zone of any kind: near an
    offset's change, in a day with two offsets, across days and years, at half a microsecond
    before a second, and where `iso` writes nothing (none, 0, NaN, beyond the calendar)."""
    assert iso_column(times, tz) == [iso(t, tz) for t in times]  # type: ignore[arg-type]


TEXT = ANY_TEXT | st.sampled_from([*FORMULAS, 'a,"b"', "x\r\ny", "\x1b]52;c;aGk=\x07", "", "é"])
NUMBER = st.integers(0, 10**30) | st.sampled_from([None, 7, True, 2.5])
# Each cell's values, from a small pool where a page's jobs often hold one value alike.
CELL_OF = {
    "id": st.integers(-(2**63), 2**63) | st.sampled_from([None, "12"]),
    "started": NEAR | ANY_TIME,
    "finished": NEAR | ANY_TIME,
    "type": TEXT,
    "status": TEXT | st.sampled_from([*JobStatus, None, 3]),
    "info": TEXT,
    "user": TEXT | st.sampled_from(["alice", "bob", None]),
    "target": TEXT,
    "trigger": TEXT | st.sampled_from([*Trigger]),
    "total": NUMBER,
    "succeeded": NUMBER,
    "failed": NUMBER,
    "paused_at": st.none() | NEAR | ANY_TIME,
    "idle_time": st.sampled_from([0.0, 0, 1.5, -3.0, float("nan")]) | st.floats(),
    "params": st.sampled_from(['{"source": "/data/in/27"}', "{}"])
    | st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=3).map(json.dumps),
}
CELLS = st.tuples(*(CELL_OF[name] for name in EXPORT_CELLS))
# A history's page: finished jobs never paused, a few values each, times near one another.
HISTORY = st.tuples(
    st.integers(1, 10**7),
    NEAR,
    NEAR,
    st.sampled_from(["import", "=1+1", "a,b"]),
    st.sampled_from(["succeeded", "failed"]),
    st.sampled_from(["bench-1 done", "", 'said "hi"']),
    st.sampled_from(["alice", "bob"]),
    st.sampled_from(["/data/in/1", "-x"]),
    st.just("manual"),
    st.just(10),
    st.integers(0, 10),
    st.integers(0, 10),
    st.none(),
    st.sampled_from([0.0, 2.5]),
    st.sampled_from(['{"source": "/data/in/27"}', '{"b": 1, "a": "x,y"}']),
)


@given(st.lists(CELLS, max_size=6) | st.lists(HISTORY, max_size=12), ZONES, st.data())
def test_csv_columns_are_the_csv_writers(
    page: list[tuple[object, ...]], tz: tzinfo, data: st.DataObject
) -> None:
    """A page given a column at a time, a column whose jobs all hold one value as one
    `Same` (as a store reads what the previous page's jobs all held) or not: the text is
    `csv.writer`'s of each job's cells, whatever they hold (quotes, commas, line breaks,
    escapes, formulas, none, numbers where text is, text where numbers are, odd times), in
    any zone. A running job's duration counts to now: both read one frozen clock."""
    columns = [list(column) for column in zip(*page, strict=True)] or [[]] * len(EXPORT_CELLS)
    given: dict[str, Sequence[object] | Same] = {}
    for name, column in zip(EXPORT_CELLS, columns, strict=True):
        alike = bool(column) and all(type(v) is type(column[0]) for v in column)
        alike = alike and len({repr(v) for v in column}) == 1
        given[name] = Same(column[0]) if alike and data.draw(st.booleans()) else column
    with mock.patch.object(model.time, "time", lambda: NOW):
        want = writer_text(page, tz)
        assert csv_columns(RecordColumns(len(page), given), tz) == want
        assert (
            csv_columns(RecordColumns(len(page), dict(zip(EXPORT_CELLS, columns, strict=True))), tz)
            == want
        )


def test_an_empty_page_is_no_text() -> None:
    """A page of no jobs (an export that selects none) writes nothing, as rows or columns."""
    empty = RecordColumns(0, {name: () for name in EXPORT_CELLS})
    assert Export("csv").cells(empty) == Export("csv").cells([]) == ""


@given(st.lists(st.sampled_from(["a", "bb", "c" * 9, "dddd"]), max_size=30))
def test_kept_texts_are_made_texts_within_their_bounds(stored: list[str]) -> None:
    """Texts kept for the stored texts met (parameters, metrics) are `make`'s, whether kept,
    made again once the most are kept (then all forgotten), or too long to keep."""
    made: list[str] = []

    def make(text: str) -> str:
        made.append(text)
        return text.upper()

    kept = KeptTexts(make, kept=2, longest=10)
    assert kept.column(stored) == [text.upper() for text in stored]
    assert [kept(text) for text in stored] == [text.upper() for text in stored]
    assert len(kept.kept) <= 2 and "c" * 9 not in kept.kept
    if stored.count("a") > 1 and len(set(stored)) == 1:
        assert made == ["a"]  # kept: made once
