"""An export's rows, built a page at a time for histories of millions, say exactly what the
plain rules say: every cell that could start like a spreadsheet formula is inert, and a
job in JSON is its `dataclasses.asdict`."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Sequence
from datetime import tzinfo
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobdash.core import model
from jobdash.core.model import Job, JobStatus, Trigger, TypeTiming, Unread, job_record, run_time
from jobdash.core.service.export import EXPORT_COLUMNS, Export, indented
from jobdash.core.service.export_csv import inert_cell, sorted_params
from jobdash.core.service.page_text import KeptTexts
from jobdash.core.store.records import (
    EXPORT_CELLS,
    RECORD_CELLS,
    RecordColumns,
    Same,
    job_record_cells,
)
from jobdash.present.times import iso, local_zone
from tests.tui.job_factory import NOW, make_job

FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "ok"]


def jobs() -> list[Job]:
    made = [make_job(1), make_job(2, JobStatus.RUNNING, params={}, metrics={})]
    for n, text in enumerate(FORMULAS, start=3):
        made.append(
            make_job(
                n,
                JobStatus.FAILED,
                type=text,
                info=text,
                user=text,
                target=text,
                params={"z": text, "a": "1"},
                metrics={"rows": 3.5},
            )
        )
    # A clock that went back: it finished "before" it started, a negative duration.
    made.append(make_job(99, started=NOW - 100, finished=NOW - 160))
    made[1].unread = Unread(4, 1, 2)
    made[1].timing = TypeTiming("import", 3, 60.0, 90.0, 20.0, 30.0, 120.0)
    return made


def plain_csv(rows: list[Job]) -> str:
    """The rule as written: every cell of the documented columns through `inert_cell`."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([inert_cell(c) for c in EXPORT_COLUMNS])
    for j in rows:
        cells = [
            iso(j.started),
            iso(j.finished),
            j.type,
            str(j.status),
            j.info,
            j.user,
            j.id,
            j.target,
            str(j.trigger),
            j.total,
            j.succeeded,
            j.failed,
            f"{j.duration():.1f}" if j.started else "",
            json.dumps(j.params, sort_keys=True),
        ]
        w.writerow([inert_cell(c) for c in cells])
    return out.getvalue()


def test_csv_rows_follow_the_formula_rule_in_every_cell() -> None:
    rows = jobs()
    export = Export("csv")
    text = export.begin() + export.rows(rows[:4]) + export.rows(rows[4:]) + export.end()
    assert text == plain_csv(rows)
    read = list(csv.reader(io.StringIO(text)))
    assert read[-1][12] == "0.0"  # a clock that went back: never a negative number
    assert {r[2] for r in read[3:-1]} >= {"'" + f for f in FORMULAS if f != "ok"}


@pytest.mark.parametrize("which", range(len(jobs())))
def test_a_json_record_is_the_jobs_asdict(which: int) -> None:
    job = jobs()[which]
    assert job_record(job) == dataclasses.asdict(job)


def test_json_export_reads_back_as_the_jobs() -> None:
    rows = jobs()
    export = Export("json")
    text = export.begin() + export.rows(rows[:3]) + export.rows(rows[3:]) + export.end()
    assert json.loads(text) == json.loads(json.dumps([dataclasses.asdict(j) for j in rows]))
    assert text == json.dumps([dataclasses.asdict(j) for j in rows], indent=2, default=str)


class Odd:
    """A value JSON cannot write: `default` (str) gives its text."""

    def __str__(self) -> str:
        return "odd\u2028value"


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.builds(Odd)
    | st.sampled_from(list(JobStatus))
)
KEYS = st.text() | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(), inner, max_size=4)
        | st.dictionaries(KEYS, inner, max_size=3)
    ),
    max_leaves=25,
)


@given(VALUES, st.sampled_from(["\n", "\n  ", "\n      "]))
def test_indented_json_is_the_standard_librarys(value: object, newline: str) -> None:
    want = json.dumps(value, indent=2, default=str).replace("\n", newline)
    assert indented(value, str, newline) == want


def test_indented_json_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        indented({"a": [Odd()]})


PARAMS = ['{"z": "1", "a": "\\u00e9"}', "{}", "null", '{"b": {"y": 1, "x": 2}}']


@pytest.mark.parametrize("text", [*PARAMS, json.dumps({"z": "x" * 600, "a": "1"})])
def test_sorted_params_are_json_dumps_sorted(text: str) -> None:
    """Kept or not (a text met before, a long one: `KeptTexts`), the parameters' cell is
    what `json.dumps(params, sort_keys=True)` writes ("{}" for none)."""
    params = json.loads(text)
    want = json.dumps(params, sort_keys=True) if params else "{}"
    assert sorted_params(text) == want
    kept = KeptTexts(sorted_params)
    assert kept(text) == kept(text) == want  # the second time: from what was kept
    assert kept.column([text, "{}", text]) == [want, "{}", want]


TIMES = st.none() | st.floats(0, 4e9) | st.just(0.0)
TEXTS = st.text() | st.sampled_from([*FORMULAS, 'a,"b"', "x\r\ny", ""])
CELLS = st.tuples(
    st.integers(0, 2**62),  # id
    TIMES,  # started
    TIMES,  # finished
    TEXTS,  # type
    TEXTS,  # status
    TEXTS,  # info
    TEXTS,  # user
    TEXTS,  # target
    TEXTS,  # trigger
    st.integers(0, 10**9),  # total
    st.integers(0, 10**9),  # succeeded
    st.integers(0, 10**9),  # failed
    TIMES,  # paused_at
    st.floats(0, 1e6),  # idle_time
    st.dictionaries(st.text(), st.text(), max_size=3).map(json.dumps),  # params
)


@given(st.lists(CELLS, max_size=5))
def test_csv_lines_are_the_csv_writers(page: list[tuple[object, ...]]) -> None:
    """`Export.cells` joins each line itself: the text `csv.writer` writes of the cells
    the rule says, whatever a cell holds (commas, quotes, line breaks, a formula's start).
    A running job's duration counts to now: both sides read one frozen clock (CI once saw
    the two reads of the clock round to different tenths)."""
    with mock.patch.object(model.time, "time", lambda: NOW):
        check_csv_lines(page)


def check_csv_lines(page: list[tuple[object, ...]]) -> None:
    assert Export("csv").cells(page) == writer_text(page, local_zone())


def writer_text(page: Sequence[Sequence[object]], tz: tzinfo) -> str:
    """The rule as written: `csv.writer` of each job's cells, the users' and jobs' made
    inert, the times `iso`, the duration `run_time`'s, the parameters sorted ("{}" none)."""
    out = io.StringIO()
    w = csv.writer(out)
    for cells in page:
        c = dict(zip(EXPORT_CELLS, cells, strict=True))
        params = json.loads(str(c["params"]))
        w.writerow(
            [
                iso(c["started"], tz),  # type: ignore[arg-type]
                iso(c["finished"], tz),  # type: ignore[arg-type]
                inert_cell(c["type"]),
                c["status"],
                inert_cell(c["info"]),
                inert_cell(c["user"]),
                c["id"],
                inert_cell(c["target"]),
                c["trigger"],
                c["total"],
                c["succeeded"],
                c["failed"],
                f"{run_time(c['started'], c['finished'], c['paused_at'], c['idle_time']):.1f}"  # type: ignore[arg-type]
                if c["started"]
                else "",
                json.dumps(params, sort_keys=True) if params else "{}",
            ]
        )
    return out.getvalue()


# What a record's cells can hold: anything json writes (huge numbers, the three floats that
# are no number, -0.0 beside 0.0, 1 beside 1.0 and True in one column), any text (quotes,
# backslashes, control characters, non-ASCII, lone surrogates), a subclass of str, and what
# only `default=str` writes. Small pools make a column of one value, or of nearly one, likely.
ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()))
ODD_SCALARS = (
    SCALARS
    | ANY_TEXT
    | st.integers(-(10**80), 10**80)
    | st.sampled_from([0, 0.0, -0.0, 1, 1.0, True, False, None, "", '"\\', "\x00\u2028é", "\ud83d"])
    | st.sampled_from(list(Trigger))
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=12,
)
STORED_JSON = st.sampled_from(["{}", '{"source": "/data/in/27"}']) | JSON_VALUES.map(json.dumps)
UNREAD = st.none() | st.builds(Unread, st.integers(1, 10**6), st.integers(0), st.integers(0))
TIMING = st.none() | st.builds(
    TypeTiming,
    ANY_TEXT,
    st.integers(0, 100),
    st.none() | st.floats(),
    st.none() | st.floats(),
    st.none() | st.floats(),
    st.none() | st.floats(),
    st.none() | st.floats(),
    st.booleans(),
)
CELL_OF = {
    "params": STORED_JSON,
    "metrics": STORED_JSON,
    "cancellable": st.sampled_from([0, 1, True, False]),
    "unread": UNREAD,
    "timing": TIMING,
}
RECORD = st.tuples(*(CELL_OF.get(name, ODD_SCALARS) for name in RECORD_CELLS))


def old_record(cells: tuple[object, ...]) -> dict[str, object]:
    """A record's cells as `job_record` holds them for the job a store makes of them
    (`job_from_row`): its parameters and metrics parsed, `cancellable` true or not, the
    Service's unread lines and timing as `asdict` gives them."""
    record = dict(zip(RECORD_CELLS, cells, strict=True))
    record["params"] = json.loads(str(record["params"]))
    record["metrics"] = json.loads(str(record["metrics"]))
    record["cancellable"] = bool(record["cancellable"])
    for name in ("unread", "timing"):
        if record[name] is not None:
            record[name] = dataclasses.asdict(record[name])  # type: ignore[call-overload]
    return record


@given(st.lists(RECORD, max_size=6), st.integers(0, 6))
def test_json_records_are_json_dumps_of_the_records(
    page: list[tuple[object, ...]], split: int
) -> None:
    """`Export.records` writes each record's text itself, a column at a time, the values
    of a page's records that are all the same written once: the text is still that of
    `json.dumps(records, indent=2, default=str)`, whatever a cell holds, in pages of any
    size (one of them empty)."""
    want = json.dumps([old_record(cells) for cells in page], indent=2, default=str)
    export = Export("json")
    got = export.begin() + export.records(page[:split]) + export.records(page[split:])
    assert got + export.end() == want


@given(st.lists(RECORD, min_size=1, max_size=6), st.data())
def test_json_columns_are_json_records(page: list[tuple[object, ...]], data: st.DataObject) -> None:
    """A page given a column at a time (`RecordColumns`, as `Service.export_columns` gives
    it): a column whose values are all the first one's as one `Same` (as a store reads
    what the previous page's jobs all held), the last update as the finish column itself
    where it may be: the text is `json_records`' of the same cells."""
    columns = [list(column) for column in zip(*page, strict=True)]
    given: dict[str, Sequence[object] | Same] = {}
    for name, column in zip(RECORD_CELLS, columns, strict=True):
        # A store's `Same`: every job held the value, of its type, written alike.
        alike = all(type(v) is type(column[0]) and v == column[0] for v in column)
        alike = alike and len({repr(v) for v in column}) == 1
        given[name] = Same(column[0]) if alike and data.draw(st.booleans()) else column
    updated, finished = (columns[RECORD_CELLS.index(n)] for n in ("updated", "finished"))
    if updated == finished and repr(updated) == repr(finished) and data.draw(st.booleans()):
        given["updated"] = given["finished"]
    got = RecordColumns(len(page), given)
    assert [got[i] for i in range(len(page))] == page
    assert Export("json").records(got) == Export("json").records(page)


JOBS = st.builds(
    Job,
    id=st.integers(0, 2**62),
    type=ANY_TEXT,
    params=st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=3),
    user=ANY_TEXT,
    trigger=st.sampled_from(list(Trigger)),
    status=st.sampled_from(list(JobStatus)),
    created=st.floats(),
    updated=st.floats(),
    started=st.none() | st.floats(),
    finished=st.none() | st.floats(),
    schedule_id=st.none() | ANY_TEXT,
    pending=st.integers(0, 10**30),
    succeeded=st.integers(0, 10**30),
    progress=st.floats(),
    info=ANY_TEXT,
    metrics=st.dictionaries(ANY_TEXT, st.floats(), max_size=3),
    target=ANY_TEXT,
    cancellable=st.booleans(),
    idle_time=st.floats(),
    paused_at=st.none() | st.floats(),
    log_lines=st.integers(0, 10**6),
    unread=UNREAD,
    timing=TIMING,
    quiet_since=st.none() | st.floats(),
)


@given(st.lists(JOBS, max_size=5))
def test_json_export_of_jobs_is_json_dumps_of_their_records(jobs: list[Job]) -> None:
    """A job's record cells (`job_record_cells`) written by `Export.rows` are the text of
    `json.dumps(job_record(job), indent=2, default=str)`, for jobs of any fields."""
    want = json.dumps([job_record(j) for j in jobs], indent=2, default=str)
    export = Export("json")
    assert export.begin() + export.rows(jobs) + export.end() == want
    assert [job_record_cells(j)[0] for j in jobs] == [j.id for j in jobs]


ALIKE = [(0.0, -0.0), (1, 1.0), (1, True), (0, False), (float("nan"), float("nan")), ("a", "a")]


@pytest.mark.parametrize("values", ALIKE, ids=repr)
def test_json_records_tell_equal_values_that_json_writes_apart(values: tuple[object, ...]) -> None:
    """A page's column is written once when all its values are written alike: not when
    they are only equal (-0.0 and 0.0, 1 and True), in every column that holds a value."""
    fixed = {"params": '{"a": "1"}', "metrics": "{}", "cancellable": 1}
    base = tuple(
        fixed.get(name, 2) if name not in ("unread", "timing") else None for name in RECORD_CELLS
    )
    for n, name in enumerate(RECORD_CELLS):
        if name in CELL_OF:
            continue
        page = [(*base[:n], v, *base[n + 1 :]) for v in values]
        want = json.dumps([old_record(cells) for cells in page], indent=2, default=str)
        export = Export("json")
        assert export.begin() + export.records(page) + export.end() == want, name


@pytest.mark.parametrize("values", ALIKE, ids=repr)
def test_json_records_tell_them_apart_in_long_columns(values: tuple[object, ...]) -> None:
    """The same in a page of many records (a float column of few values is written a value
    at a time, a finished job's last update from its finish time): equal values, each
    many times over, each still written as json writes it."""
    fixed = {"params": "{}", "metrics": "{}", "cancellable": 1, "unread": None, "timing": None}
    base = tuple(fixed.get(name, 2.5) for name in RECORD_CELLS)
    updated, finished = RECORD_CELLS.index("updated"), RECORD_CELLS.index("finished")
    for n, name in enumerate(RECORD_CELLS):
        if name in CELL_OF:
            continue
        page = [(*base[:n], v, *base[n + 1 :]) for v in values * 8]
        if name == "updated":  # beside a finish time equal to it, of the other value
            page = [
                (*p[:finished], v, *p[finished + 1 :])
                for p, v in zip(page, values[::-1] * 8, strict=True)
            ]
        want = json.dumps([old_record(cells) for cells in page], indent=2, default=str)
        export = Export("json")
        assert export.begin() + export.records(page) + export.end() == want, name
    assert updated < finished  # the update written from the finish that comes after it


def test_json_records_write_equal_unread_and_timing_apart() -> None:
    """Equal unread lines or timings that json writes apart (0.0 and -0.0, 1 and True),
    one page after another: each as its own values say, none as the other's kept text."""
    fixed = {"params": "{}", "metrics": "{}", "cancellable": 1, "unread": None, "timing": None}
    base = tuple(fixed.get(name, 2) for name in RECORD_CELLS)
    unread, timing = RECORD_CELLS.index("unread"), RECORD_CELLS.index("timing")
    for u, t in [(Unread(1), TypeTiming("t", 1, 0.0)), (Unread(True), TypeTiming("t", 1, -0.0))]:
        page = [(*base[:unread], u, t, *base[timing + 1 :])]
        want = json.dumps([old_record(cells) for cells in page], indent=2, default=str)
        export = Export("json")
        assert export.begin() + export.records(page) + export.end() == want
