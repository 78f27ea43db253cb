"""jobdash's cron plannings against the test suites of cronsim and croniter.

The vectors (tests/data/cron/*.json, made by tests/data/cron/extract.py) are every call the
two libraries' own passing tests make: an expression, a start time and zone, and what the
library answered. Each is run through `jobdash schedule preview`'s code path (the same
function the CLI calls; a sample through the CLI itself) and falls in one class:

- agree: jobdash must give the same fire times, verdict or acceptance;
- rejected: the library refuses the expression, so jobdash must refuse it too;
- unsupported: the expression uses an extension jobdash does not support (L, W, #, ?, H,
  R, a seconds or year field): jobdash must refuse it, saying so;
- out of scope: a question jobdash has no counterpart for (reverse iteration, croniter's
  own options, no start time), with the reason;
- disputed: listed by hand below, each with the rule that jobdash follows instead; the
  test checks that each still differs, so the list cannot go stale.

tests/data/cron/scope.txt lists every vector with its class and jobdash's message or the
reason; `python -m tests.test_cron_vectors` writes it, and a test checks it is current.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jobdash.core.model import BadInput
from jobdash.core.planning import parse_planning
from jobdash.core.service import preview_planning
from tests.conftest import run_cli

DATA = Path(__file__).parent / "data" / "cron"
LISTING = DATA / "scope.txt"
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
NAMES = {*MONTHS, *DAYS}

# Where a library's answer contradicts the rule jobdash follows:
# (library, test, line, expression) → the rule jobdash follows instead.
OR_STAR = (
    "croniter ORs the day fields when one starts with '*' (unless implement_cron_bug=True); "
    "crontab(5) as Vixie cron, cronie, Debian cron and cronsim run it: a field starting "
    "with '*' is unrestricted, so both must match"
)
WHOLE_WEEK = (
    "croniter reads a week-day range with equal ends as the whole week; crontab(5), "
    "cronie and cronsim read it as that one day"
)
NEVER = (
    "February has no day 31: croniter accepts it unless strict; jobdash refuses it as "
    "croniter's strict mode and cronsim do"
)
DISPUTED: dict[tuple[str, str, int, str], str] = {
    ("croniter", "CroniterTest.test_dom_dow_vixie_cron_bug", 290, "0 16 */2 * sat"): OR_STAR,
    ("croniter", "CroniterTest.test_sunday_ranges_to", 3604, "0 0 * * Sun-Sun"): WHOLE_WEEK,
    ("croniter", "CroniterTest.test_sunday_ranges_to", 3607, "0 0 * * 7-7"): WHOLE_WEEK,
    ("croniter", "CroniterTest.test_sunday_ranges_to", 3610, "0 0 * * 0-0"): WHOLE_WEEK,
    ("croniter", "CroniterTest.test_is_valid_strict", 1284, "0 0 31 2 *"): NEVER,
}


@dataclass
class Vector:
    lib: str
    n: int  # position in the library's file
    v: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.lib}:{self.v['test']}:{self.v['line']}#{self.n}"

    @property
    def expr(self) -> str:
        return str(self.v["expr"])

    @property
    def zone(self) -> str:
        return self.v.get("tz") or "UTC"  # a naive start: the libraries count it as UTC


def load() -> list[Vector]:
    out = []
    for lib in ("cronsim", "croniter"):
        data = json.loads((DATA / f"{lib}.json").read_text())
        out += [Vector(lib, i, v) for i, v in enumerate(data["vectors"])]
    return out


VECTORS = load()


# --------------------------------------------------------------------------- classes


def extensions(expr: str) -> list[str]:
    """The extensions of other schedulers an expression uses, read without jobdash's parser."""
    fields = [] if expr.startswith("@") else expr.split()
    found = ["a seconds or year field"] if len(fields) in (6, 7) else []
    for i, field in enumerate(fields):
        for item in field.lower().split(","):
            a, dash, b = item.partition("/")[0].partition("-")
            lo, hi = _number(a, i), _number(b, i)
            sunday_end = len(fields) == 5 and i == 4 and hi == 0  # cronie: mon-sun = 1-7
            if dash and lo is not None and hi is not None and lo > hi and not sunday_end:
                found.append("a range that wraps around")
        for token in re.split(r"[,/-]", field.lower()):
            if token in ("*", "") or token.isdigit() or token in NAMES:
                continue
            for mark, name in (("#", "#"), ("?", "?"), ("h", "H"), ("r", "R")):
                if token.startswith(mark) or (mark in "#?" and mark in token):
                    found.append(name)
                    break
            else:
                if "l" in token:
                    found.append("L")
                elif "w" in token:
                    found.append("W")
    return found


def _number(token: str, i: int) -> int | None:
    if token.isdigit():
        return int(token)
    if token in MONTHS and i == 3:
        return MONTHS.index(token) + 1
    return DAYS.index(token) if token in DAYS and i == 4 else None


OPTIONS_OUT = {
    "reverse": "reverse iteration (jobdash only looks forward)",
    "is_prev": "reverse iteration (jobdash only looks forward)",
    "day_or": "croniter's day_or=False (jobdash has one rule, crontab(5)'s)",
    "expand_from_start_time": "croniter's expand_from_start_time (steps counted from the start)",
    "max_years_between_matches": "croniter's search horizon option",
    "strict_year": "croniter's strict_year (valid in one given year)",
    "_croniter": "a croniter subclass",
}


def classify(vec: Vector) -> tuple[str, str]:
    """(class, reason) of a vector."""
    v = vec.v
    if not isinstance(v["expr"], str):
        return "out of scope", "not a text expression (croniter's argument types)"
    options = v.get("options") or {}
    for name, why in OPTIONS_OUT.items():
        if name in options:
            return "out of scope", why
    if "precision_in_seconds" in options and options["precision_in_seconds"] != 60:
        return "out of scope", "croniter's match precision in seconds"
    if v["kind"] == "reject":
        error = v.get("error") or ""
        if error.startswith(("TypeError", "CroniterBadTypeRangeError")):
            return "out of scope", "refuses an argument of croniter's API, not the expression"
        return "rejected", error or "is_valid() is False"
    if ext := extensions(vec.expr):
        return "unsupported", ", ".join(dict.fromkeys(ext))
    if "hash_id" in options:
        return "out of scope", "croniter's hash_id turns an alias into hashed times (its H)"
    key = (vec.lib, v["test"], v["line"], vec.expr)
    if key in DISPUTED:
        return "disputed", DISPUTED[key]
    if v["kind"] == "next" and v.get("start") is None:
        return "out of scope", "no start time (croniter's 'now')"
    if v["kind"] == "next" and not v["fires"] and v.get("then") == "get_prev":
        return "out of scope", "reverse iteration (jobdash only looks forward)"
    if v["kind"] == "range" and v["start"] > v["stop"]:
        return "out of scope", "reverse iteration (jobdash only looks forward)"
    return "agree", ""


# --------------------------------------------------------------------------- checks


def at(iso: str) -> float:
    """An ISO time as an instant; naive ones are UTC, as in the libraries."""
    d = datetime.fromisoformat(iso)
    return (d if d.tzinfo else d.replace(tzinfo=UTC)).timestamp()


def shift(iso: str, seconds: float) -> str:
    return (datetime.fromisoformat(iso) + timedelta(seconds=seconds)).isoformat()


def preview(vec: Vector, count: int, start: str) -> list[float]:
    """The vector through `jobdash schedule preview`'s function, as instants."""
    times = preview_planning(f"cron: {vec.expr}", vec.zone, count, start)
    return [t.timestamp() for t in times]


def answer(vec: Vector) -> str:
    """What jobdash says to a vector the library answered: "" when it agrees, else the
    difference (for refusals: jobdash's message prefixed "refused: ")."""
    v = vec.v
    try:
        if v["kind"] == "next" and not v["fires"] and "end" in v:
            try:
                preview(vec, 1, v["start"])
            except BadInput as e:
                return "" if "never fire" in str(e) else f"refused: {e}"
            return "fires"  # where the library says it never does
        if v["kind"] in ("reject", "accept") or (v["kind"] == "next" and not v["fires"]):
            preview(vec, 1, v.get("start") or "2000-01-01T00:00")
            return "accepted" if v["kind"] == "reject" else _fields(vec)
        if v["kind"] == "next":
            want = [at(f) for f in v["fires"]]
            got = preview(vec, len(want) + ("end" in v), v["start"])
            return "" if got == want else f"got {_show(vec, got)}"
        if v["kind"] == "match":
            first = preview(vec, 1, shift(v["start"], -60))[0]
            got_match = first <= at(v["stop"])
            return "" if got_match == v["match"] else f"match is {got_match}"
        # range: the fire times in [start, stop] (open ends with exclude_ends)
        exclusive = bool((v.get("options") or {}).get("exclude_ends"))
        start = v["start"] if exclusive else shift(v["start"], -1e-6)
        got = preview(vec, len(v["fires"]) + 1, start)
        stop = at(v["stop"])
        got = [t for t in got if t < stop or (t == stop and not exclusive)]
        want = [at(f) for f in v["fires"]]
        return "" if got == want else f"got {_show(vec, got)}"
    except BadInput as e:
        return f"refused: {e}"


def _fields(vec: Vector) -> str:
    """cronsim's parse vectors: the values of each field must be the same."""
    fields = vec.v.get("fields")
    if not fields:
        return ""
    spec = parse_planning(f"cron: {vec.expr}").specs[0]
    mine = {
        "minutes": spec.minutes,
        "hours": spec.hours,
        "days": spec.days,
        "months": spec.months,
        "weekdays": spec.weekdays,
    }
    for name, got in mine.items():
        want = {n % 7 if name == "weekdays" else n for n in _spans(fields[name])}
        if got != want:
            return f"{name} {sorted(got)} != {sorted(want)}"
    return ""


def _spans(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


def _show(vec: Vector, got: list[float]) -> str:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(vec.zone)
    shown = [datetime.fromtimestamp(t, zone).isoformat() for t in got[:4]]
    return ", ".join(shown) + (" …" if len(got) > 4 else "")


def listing() -> str:
    """Every vector, its class, and jobdash's message or the reason."""
    lines = []
    for vec in VECTORS:
        cls, reason = classify(vec)
        said = answer(vec) if cls != "out of scope" else ""
        if cls in ("unsupported", "rejected"):
            reason = said.removeprefix("refused: ")
        elif cls == "disputed":
            reason = f"{reason} (jobdash: {said})"
        lines.append(f"{vec.id}\t{cls}\t{vec.expr!r}\t{reason}".rstrip())
    counts: dict[str, int] = {}
    for line in lines:
        cls = line.split("\t")[1]
        counts[cls] = counts.get(cls, 0) + 1
    head = ", ".join(f"{n} {c}" for c, n in sorted(counts.items()))
    return f"# {len(lines)} vectors: {head}\n" + "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- tests


def by_class(cls: str) -> list[Vector]:
    return [v for v in VECTORS if classify(v)[0] == cls]


@pytest.mark.parametrize("vec", by_class("agree"), ids=lambda v: v.id)
def test_vector_agrees(vec: Vector) -> None:
    assert answer(vec) == ""


@pytest.mark.parametrize("vec", by_class("rejected"), ids=lambda v: v.id)
def test_what_the_library_rejects_jobdash_rejects(vec: Vector) -> None:
    said = answer(vec)
    assert said.startswith("refused: cron: "), said
    assert "\n" not in said


@pytest.mark.parametrize("vec", by_class("unsupported"), ids=lambda v: v.id)
def test_extensions_are_refused_saying_so(vec: Vector) -> None:
    said = answer(vec)
    assert said.startswith("refused: cron: "), said
    assert "not supported" in said or "does not support" in said, said


@pytest.mark.parametrize("vec", by_class("disputed"), ids=lambda v: v.id)
def test_disputed_vectors_still_differ(vec: Vector) -> None:
    assert answer(vec) != "", "jobdash agrees now: remove it from DISPUTED"


def test_every_library_has_vectors_in_scope() -> None:
    for lib in ("cronsim", "croniter"):
        classes = [classify(v)[0] for v in VECTORS if v.lib == lib]
        assert classes.count("agree") >= 100, lib
        assert classes.count("rejected") >= 20, lib
        assert classes.count("unsupported") >= 10, lib


def test_the_listing_is_current() -> None:
    assert LISTING.read_text() == listing(), (
        "tests/data/cron/scope.txt is stale: python -m tests.test_cron_vectors"
    )


def test_a_sample_through_the_cli() -> None:
    """The command itself gives the same answers (ISO 8601 with offsets, one a line)."""
    sample = [v for v in by_class("agree") if v.v["kind"] == "next" and v.v["fires"]][::40]
    assert len(sample) >= 5
    for vec in sample:
        v = vec.v
        r = run_cli(
            "schedule", "preview", f"cron: {vec.expr}", "--tz", vec.zone,
            "--from", v["start"], "--count", str(len(v["fires"])),
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        got = [at(line) for line in r.stdout.splitlines()]
        assert got == [at(f) for f in v["fires"]], vec.id
        assert all(re.search(r"[+-]\d\d:\d\d$", line) for line in r.stdout.splitlines())
    refused = by_class("unsupported")[0]
    r = run_cli("schedule", "preview", f"cron: {refused.expr}", "--tz", "UTC")
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "support" in r.stderr


if __name__ == "__main__":
    LISTING.write_text(listing())
    print(LISTING.read_text().splitlines()[0])
