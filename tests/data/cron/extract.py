"""Extract the cron test vectors of cronsim and croniter into JSON (run by hand, not by pytest).

    python tests/data/cron/extract.py CRONSIM_GIT_DIR CRONITER_GIT_DIR

Each git directory is a clone (bare is fine) of https://github.com/cuu508/cronsim or
https://github.com/pallets-eco/croniter. The script exports HEAD, runs that commit's own
test suite against that commit's own library code, and records every call a test makes to
the library: the expression, the start time and its zone, the options, and what the library
answered (fire times, a refusal, a verdict). Only the records of tests that pass are kept,
so each vector is an answer the library's own test suite stands behind. Nothing of the
libraries is kept but these facts (see each file's "licence").

It needs, besides the standard library, what croniter's tests import: pytz and
python-dateutil. It writes cronsim.json and croniter.json beside itself; jobdash's tests
(tests/test_cron_vectors.py) read them and decide which vectors are in scope.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import json
import subprocess
import sys
import tempfile
import types
import unittest
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
UTC = dt.UTC


class Recorder:
    """The records of the test running now, made only for calls written in a test file."""

    def __init__(self) -> None:
        self.test_files: set[str] = set()
        self.current: list[dict[str, Any]] = []

    def caller_line(self) -> int | None:
        """The line of the test file that called into the library (None: the library
        calling itself, which is not a vector)."""
        return self.line_of(sys._getframe(2))

    def line_of(self, frame: types.FrameType | None) -> int | None:
        """The test file's line of this frame, looking through unittest's own frames
        (`self.assertRaises(Error, croniter, expr)` calls the library from unittest)."""
        while frame is not None and "/unittest/" in frame.f_code.co_filename:
            frame = frame.f_back
        if frame is not None and frame.f_code.co_filename in self.test_files:
            return frame.f_lineno
        return None

    def add(self, line: int, **fields: Any) -> dict[str, Any]:
        rec = {"line": line, **fields}
        self.current.append(rec)
        return rec


REC = Recorder()


# --------------------------------------------------------------------------- values


def zone_name(tz: dt.tzinfo | None, when: dt.datetime | None = None) -> str | None:
    """An IANA name for a tzinfo of zoneinfo, pytz or dateutil (None: naive)."""
    if tz is None:
        return None
    for attr in ("key", "zone"):
        name = getattr(tz, attr, None)
        if isinstance(name, str):
            return name
    filename = getattr(tz, "_filename", None)
    if isinstance(filename, str):
        return filename.split("zoneinfo/")[-1]
    offset = tz.utcoffset(when or dt.datetime(2000, 1, 1))
    if offset is not None:
        if not offset:
            return "UTC"
        return "fixed " + dt.datetime(2000, 1, 1, tzinfo=dt.timezone(offset)).strftime("%z")
    return repr(tz)


def instant(value: Any, tz: dt.tzinfo | None) -> str | None:
    """A start or a result as ISO 8601: with its offset when aware, naive otherwise (a
    float is a POSIX timestamp: in the iterator's zone, or naive UTC)."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        utc = dt.datetime.fromtimestamp(value, UTC)
        if tz is None:
            return utc.replace(tzinfo=None).isoformat()
        return utc.astimezone(tz).isoformat()
    return None


def plain(value: Any) -> Any:
    """An option's value as JSON."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, type):
        return value.__name__
    return repr(value)


def spans(values: set[Any]) -> str:
    """A parsed field as cron would write it: "0-59", "1-3,7-9" (cronsim's markers for
    L and nth week days, which are not numbers, as they are: "(5, -1000)")."""
    numbers = sorted(v for v in values if isinstance(v, int))
    parts: list[str] = []
    for n in numbers:
        if parts and parts[-1].split("-")[-1] == str(n - 1):
            parts[-1] = parts[-1].split("-")[0] + f"-{n}"
        else:
            parts.append(str(n))
    return ",".join(parts + sorted(str(v) for v in values if not isinstance(v, int)))


def refusal(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- cronsim


def wrap_cronsim(module: types.ModuleType) -> None:
    """Replace the test module's CronSim with a recording subclass."""
    base = module.CronSim

    class CronSim(base):  # type: ignore[misc, valid-type]
        def __init__(self, expr: str, start: dt.datetime, reverse: bool = False) -> None:
            line = REC.caller_line()
            self._rec: dict[str, Any] | None = None
            try:
                super().__init__(expr, start, reverse)
            except Exception as e:
                if line is not None:
                    REC.add(line, kind="reject", expr=expr, error=refusal(e))
                raise
            if line is not None:
                options = {"reverse": True} if reverse else {}
                self._rec = REC.add(
                    line,
                    kind="next",
                    expr=expr,
                    tz=zone_name(start.tzinfo, start),
                    start=start.isoformat(),
                    options=options,
                    fires=[],
                    fields={
                        name: spans(getattr(self, name))
                        for name in ("seconds", "minutes", "hours", "days", "months", "weekdays")
                    },
                )

        def __next__(self) -> dt.datetime:
            try:
                got = super().__next__()
            except StopIteration:
                if self._rec is not None:
                    self._rec["end"] = "no further fire time"
                raise
            if self._rec is not None:
                self._rec["fires"].append(got.isoformat())
            return got

    module.CronSim = CronSim


# --------------------------------------------------------------------------- croniter


def wrap_croniter(module: types.ModuleType) -> None:
    """Replace the test module's croniter (and croniter_range) with recording wrappers."""
    if hasattr(module, "croniter"):
        module.croniter = recording_croniter(module.croniter)
    if hasattr(module, "croniter_range"):
        module.croniter_range = recording_range(module.croniter_range)


def options_of(sig: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict:
    """The options a call gave that differ from the defaults (ret_type aside)."""
    bound = sig.bind(*args, **kwargs)
    out = {}
    for name, value in bound.arguments.items():
        param = sig.parameters[name]
        if param.kind is param.VAR_KEYWORD:
            out.update({k: plain(v) for k, v in value.items()})
        elif name not in ("self", "cls", "ret_type") and value != param.default:
            out[name] = plain(value)
    return out


def recording_croniter(base: type) -> type:
    init_sig = inspect.signature(base.__init__)

    class croniter(base):  # type: ignore[misc, valid-type]
        def __init__(self, expr_format: Any, start_time: Any = None, *args: Any, **kw: Any):
            line = REC.caller_line()
            self._rec: dict[str, Any] | None = None
            options = options_of(init_sig, (self, expr_format, start_time, *args), kw)
            options.pop("expr_format", None)
            options.pop("start_time", None)
            try:
                super().__init__(expr_format, start_time, *args, **kw)
            except Exception as e:
                if line is not None:
                    REC.add(
                        line, kind="reject", expr=expr_format, options=options, error=refusal(e)
                    )
                raise
            if line is None:
                return
            tz = start_time.tzinfo if isinstance(start_time, dt.datetime) else None
            self._rec = REC.add(
                line,
                kind="next",
                expr=expr_format,
                tz=zone_name(tz, start_time if tz else None),
                start=instant(start_time, tz),
                options=options,
                fires=[],
            )
            self._tz = tz

        def _after(self, what: str) -> None:
            """Stop the vector's forward record: the iterator was moved another way."""
            if self._rec is not None and "then" not in self._rec:
                self._rec["then"] = what

        def _fire(self, got: Any) -> None:
            if self._rec is not None and "then" not in self._rec:
                self._rec["fires"].append(instant(got, self._tz))

        def get_next(self, *args: Any, **kw: Any) -> Any:
            line = REC.caller_line()
            if line is not None and (kw.get("start_time") or len(args) > 1):
                self._after("get_next with a new start time")
            try:
                got = super().get_next(*args, **kw)
            except Exception as e:
                if line is not None and self._rec is not None and "then" not in self._rec:
                    self._rec["end"] = refusal(e)
                raise
            if line is not None:
                if kw.get("update_current") is False:
                    self._after("get_next without moving")
                else:
                    self._fire(got)
            return got

        def __next__(self, *args: Any, **kw: Any) -> Any:
            line = REC.caller_line()
            got = super().__next__(*args, **kw)
            if line is not None:
                self._after("get_prev") if self._is_prev else self._fire(got)
            return got

        next = __next__

        def all_next(self, *args: Any, **kw: Any) -> Iterator[Any]:
            line = REC.caller_line()
            for got in super().all_next(*args, **kw):
                if line is not None:
                    self._fire(got)
                yield got

        def get_prev(self, *args: Any, **kw: Any) -> Any:
            if REC.caller_line() is not None:
                self._after("get_prev")
            return super().get_prev(*args, **kw)

        def all_prev(self, *args: Any, **kw: Any) -> Iterator[Any]:
            if REC.caller_line() is not None:
                self._after("get_prev")
            return super().all_prev(*args, **kw)

        def set_current(self, *args: Any, **kw: Any) -> Any:
            if REC.caller_line() is not None:
                self._after("set_current")
            return super().set_current(*args, **kw)

        @classmethod
        def expand(cls, expr_format: Any, *args: Any, **kw: Any) -> Any:
            line = REC.caller_line()
            try:
                got = super().expand(expr_format, *args, **kw)
            except Exception as e:
                if line is not None:
                    REC.add(line, kind="reject", expr=expr_format, error=refusal(e))
                raise
            if line is not None:
                options = options_of(inspect.signature(base.expand), (expr_format, *args), kw)
                options.pop("expr_format", None)
                REC.add(line, kind="accept", expr=expr_format, options=options)
            return got

        @classmethod
        def is_valid(cls, expression: Any, *args: Any, **kw: Any) -> bool:
            line = REC.caller_line()
            got = super().is_valid(expression, *args, **kw)
            if line is not None:
                options = options_of(inspect.signature(base.is_valid), (expression, *args), kw)
                options.pop("expression", None)
                REC.add(line, kind="accept" if got else "reject", expr=expression, options=options)
            return bool(got)

        @classmethod
        def match(cls, expr: Any, testdate: Any, *args: Any, **kw: Any) -> bool:
            return cls._verdict("match", expr, testdate, testdate, args, kw)

        @classmethod
        def match_range(cls, expr: Any, start: Any, stop: Any, *args: Any, **kw: Any) -> bool:
            return cls._verdict("match_range", expr, start, stop, args, kw)

        @classmethod
        def _verdict(cls, name: str, expr: Any, start: Any, stop: Any, args: Any, kw: Any) -> bool:
            line = REC.line_of(sys._getframe(2))
            method = getattr(base, name)
            try:
                got = (
                    method.__func__(base, expr, start, *args, **kw)
                    if name == "match"
                    else (method.__func__(base, expr, start, stop, *args, **kw))
                )
            except Exception as e:
                if line is not None:
                    REC.add(line, kind="reject", expr=expr, error=refusal(e))
                raise
            if line is not None:
                params = inspect.signature(method).parameters
                skip = 2 if name == "match" else 3
                names = [p for p in params if p != "cls"][skip:]
                options = {n: plain(v) for n, v in zip(names, args, strict=False)}
                options |= {k: plain(v) for k, v in kw.items()}
                options = {k: v for k, v in options.items() if v != plain(params[k].default)}
                add_window(line, "match", expr, start, stop, options, match=bool(got))
            return bool(got)

    return croniter


def add_window(
    line: int, kind: str, expr: Any, start: Any, stop: Any, options: dict, **answer: Any
) -> None:
    """A record about the times from `start` to `stop`: a verdict, or the fire times."""
    tz = start.tzinfo if isinstance(start, dt.datetime) else None
    if "fires" in answer:
        answer["fires"] = [instant(x, tz) for x in answer["fires"]]
    REC.add(
        line,
        kind=kind,
        expr=expr,
        tz=zone_name(tz, start if tz else None),
        start=instant(start, tz),
        stop=instant(stop, tz),
        options=options,
        **answer,
    )


def recording_range(base: Callable[..., Any]) -> Callable[..., Any]:
    sig = inspect.signature(base)

    def croniter_range(start: Any, stop: Any, expr_format: Any, *args: Any, **kw: Any) -> Any:
        line = REC.caller_line()
        try:
            got = list(base(start, stop, expr_format, *args, **kw))
        except Exception as e:
            if line is not None:
                REC.add(line, kind="reject", expr=expr_format, error=refusal(e))
            raise
        if line is not None:
            options = options_of(sig, (start, stop, expr_format, *args), kw)
            for name in ("start", "stop", "expr_format"):
                options.pop(name, None)
            add_window(line, "range", expr_format, start, stop, options, fires=got)
        return iter(got)

    return croniter_range


# --------------------------------------------------------------------------- running


def each_test(suite: unittest.TestSuite) -> Iterator[unittest.TestCase]:
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from each_test(item)
        else:
            yield item


def run_module(module: types.ModuleType, relpath: str) -> tuple[list[dict[str, Any]], int, int]:
    """(vectors, tests passed, tests failed or skipped) of one test module."""
    vectors: list[dict[str, Any]] = []
    passed = dropped = 0
    for test in each_test(unittest.defaultTestLoader.loadTestsFromModule(module)):
        REC.current = []
        result = unittest.TestResult()
        test.run(result)
        if not result.wasSuccessful() or result.skipped:
            dropped += 1
            continue
        passed += 1
        name = test.id().removeprefix(module.__name__ + ".")
        for rec in REC.current:
            vectors.append({"file": relpath, "test": name, **rec})
    return vectors, passed, dropped


def compact(vectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One vector per line and expression for calls that give croniter a `hash_id`:
    croniter's hash-function tests call the same expression thousands of times with other
    ids, and what those answers depend on (croniter's hash of the id) is croniter's own.
    The vector kept says how many calls it stands for."""
    kept: dict[tuple[Any, ...], dict[str, Any]] = {}
    out = []
    for v in vectors:
        if "hash_id" not in v.get("options", {}):
            out.append(v)
            continue
        key = (v["file"], v["test"], v["line"], v["kind"], str(v["expr"]))
        if key in kept:
            kept[key]["calls"] += 1
        else:
            kept[key] = v | {"calls": 1}
            out.append(kept[key])
    return out


def export(git_dir: Path, into: Path) -> str:
    """Write HEAD's tree into `into`; return the commit."""
    commit = subprocess.run(
        ["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "--git-dir", str(git_dir), "archive", "--format=tar", commit],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return commit


SOURCES = {
    "cronsim": {
        "repository": "https://github.com/cuu508/cronsim",
        "licence": "BSD-3-Clause",
        "package_root": ".",
        "modules": {"tests.test_cronsim": "tests/test_cronsim.py"},
        "wrap": wrap_cronsim,
        "left_out": {"tests/test_explain.py": "English descriptions of expressions, no times"},
    },
    "croniter": {
        "repository": "https://github.com/pallets-eco/croniter",
        "licence": "MIT",
        "package_root": "src",
        "modules": {
            f"croniter.tests.{name}": f"src/croniter/tests/{name}.py"
            for name in (
                "test_croniter",
                "test_croniter_dst_repetition",
                "test_croniter_hash",
                "test_croniter_random",
                "test_croniter_range",
            )
        },
        "wrap": wrap_croniter,
        "left_out": {
            "src/croniter/tests/test_croniter_speed.py": (
                "timing only: its fire times are never compared with anything"
            )
        },
    },
}


def extract(name: str, git_dir: Path) -> dict[str, Any]:
    src = SOURCES[name]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        commit = export(git_dir, root)
        licence = (root / "LICENSE").read_text()
        sys.path.insert(0, str(root / src["package_root"]))
        sys.path.insert(0, str(root))
        for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[mod]
        vectors: list[dict[str, Any]] = []
        summary = {}
        try:
            for modname, relpath in src["modules"].items():
                module = importlib.import_module(modname)
                REC.test_files = {str(Path(module.__file__).resolve()), module.__file__}
                src["wrap"](module)
                got, passed, dropped = run_module(module, relpath)
                vectors += compact(got)
                summary[relpath] = {"tests passed": passed, "tests failed or skipped": dropped}
        finally:
            sys.path.remove(str(root / src["package_root"]))
            sys.path.remove(str(root))
    return {
        "about": (
            f"Cron test vectors from {name}'s own test suite: every call its passing tests "
            "made to the library, with what the library answered (fire times in order, a "
            "refusal, a verdict). Extracted by tests/data/cron/extract.py; read by "
            "tests/test_cron_vectors.py. Only these facts are taken from the repository, "
            "no code; the licence below is the repository's."
        ),
        "source": {
            "repository": src["repository"],
            "commit": commit,
            "files": list(src["modules"].values()),
            "left_out": src["left_out"],
            "tests": summary,
        },
        "licence": src["licence"],
        "licence_text": licence,
        "vectors": vectors,
    }


def dump(data: dict[str, Any]) -> str:
    """JSON with one vector a line (readable, and diffs show which vectors changed)."""
    head = {k: v for k, v in data.items() if k != "vectors"}
    text = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
    lines = [json.dumps(v, ensure_ascii=False) for v in data["vectors"]]
    return text + ',\n "vectors": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    for name, git_dir in zip(("cronsim", "croniter"), argv, strict=True):
        data = extract(name, Path(git_dir))
        out = HERE / f"{name}.json"
        out.write_text(dump(data))
        print(f"{out}: {len(data['vectors'])} vectors, {data['source']['tests']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
