"""Config files close to valid jobdash configs (hypothesis strategies), and the check each
must pass; shared by the config fuzz test (tests/fuzz/test_config_fuzz.py, a few thousand
examples a run) and the long run (tests/fuzz/config_fuzz.py, 100,000 and more).

A config is drawn as a valid structure from a small pool, mutated a few times (a value
replaced by a wrong type, a huge or odd number, odd unicode, a bad planning, a table nested
deep; a key dropped, added, misspelt), written out as TOML, and sometimes mutated again as
text or bytes (a character inserted or cut, lines swapped, nesting 500 deep, bad UTF-8).
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from jobdash.core import config as known
from jobdash.core.config import Config, ConfigError, load_config
from jobdash.core.config.writing import toml_string
from jobdash.core.limits import MAX_DURATION, MAX_PARALLEL, MAX_RETRIES
from jobdash.core.planning import fire_times, next_fire, parse_planning

VALID: list[dict[str, Any]] = [
    {
        "jobdash": {
            "admins": ["root", "alice"],
            "timezone": "Europe/Paris",
            "theme": "nord",
            "retention": "30d",
        },
        "types": {
            "import-files": {
                "description": "Import files into the archive",
                "params": {
                    "source": {"required": True, "help": "folder to import from"},
                    "batch": {"default": 50},
                },
                "items": {"glob": "{source}/*.csv"},
                "command": ["python3", "importer.py", "--batch={batch}", "{item}"],
                "parallel": 4,
                "timeout": "10m",
                "retries": 2,
                "backoff": "1m30s",
                "locks": ["folder:{source}"],
                "on_lock": "refuse",
                "schedule": "cron: 0 3 * * *",
                "target": "source",
                "report": {"email": ["ops@example.com"], "webhook": ["https://h.example/x"]},
            },
            "rebuild-index": {
                "function": "mypackage.jobs:rebuild_index",
                "exclusive": True,
                "cancellable": False,
            },
        },
        "keymap": {"job.cancel": "k", "log.follow": "F"},
        "smtp": {
            "host": "mail.example.com",
            "port": 587,
            "tls": "starttls",
            "user": "jobdash",
            "password": "secret",
            "sender": "jobdash@example.com",
        },
    },
    {
        "types": {
            "listed": {"items": ["a", "b", 3], "command": ["echo", "{item}"], "parallel": 2},
            "nightly": {
                "command": ["/usr/local/bin/backup.sh"],
                "schedule": {
                    "planning": "daily: mon-fri@02:30,14:00",
                    "overlap": "queue",
                    "catchup": "all",
                    "catchup_bound": "6h",
                    "report": {"email": "oncall@example.com"},
                },
            },
            "lines": {
                "params": {"day": {"default": "today"}},
                "items": {"command": ["ls", "{day}"]},
                "command": ["cat", "{item}"],
                "schedule": "interval: 1h30m",
                "timeout": 30,
            },
        }
    },
    {
        "jobdash": {"timezone": "UTC"},
        "types": {
            "once": {"command": ["true"], "schedule": "once: 2026-12-01T09:00"},
            "off": {"command": ["true"], "schedule": "disabled", "retries": 0},
        },
    },
]

# ------------------------------------------------------------------------------ values

ODD_TEXT = [
    "",
    " ",
    "\x1b[2J\x1b[H",
    "\x1b]52;c;aGk=\x07",
    "\u202eevil",
    "e\u0301\u0301\u0301",
    "💥🧨",
    "\x00",
    "\x7f",
    "\t\r\n",
    "{",
    "}",
    "{item}",
    "{nope}",
    "{{",
    "{0}",
    "{item!r}",
    "{source:>10}",
    "a" * 300,
    "٣٤",
    "１２",
    "ß",
    "İ",
    "'",
    '"',
    "\\",
    "$(id)",
    "..",
    "/",
]
HUGE_INTS = [0, -1, 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**29, 10**400, -(10**4000)]
ODD_FLOATS = [0.0, -0.0, 1e-300, 1e300, 1e308, math.inf, -math.inf, math.nan, 0.5, -1.5]
DURATIONS = [
    "0s",
    "1ms",
    "100y",
    "36500d",
    "36501d",
    "999999999999999999999999h",
    "1e400s",
    "-5m",
    "5 m",
    "1h30m",
    ".5s",
    "5.s",
    "9" * 400,
    "1h 1h",
    "ms",
    "",
]
PLANNING_PARTS = {
    "cron": [
        "*",
        "*/5",
        "*/0",
        "*/99999999999999999999",
        "0",
        "59",
        "60",
        "1-5",
        "5-1",
        "mon-fri",
        "sun,7",
        "0/²",
        "L",
        "?",
        "1,,2",
        "99999999999999999999",
        "-1",
        "٣",
    ],
    "interval": ["30s", "5m", "1h30m", "0s", "0.05s", "36500d", "36501d", "9" * 30 + "h", "1e400s"],
    "daily": ["09:00", "mon,wed@09:00,17:00", "24:00", "@09:00", "xyz@09:00", "9:5", "٠٩:٣٠"],
    "once": [
        "2026-12-01T09:00",
        "0001-01-01T00:00",
        "0001-01-01T00:00+05:00",
        "9999-12-31T23:59",
        "9999-12-31T23:59-12:00",
        "1970-01-01T00:00Z",
        "2026-02-30T00:00",
        "2026-12-01T09:00+23:59",
        "tomorrow",
    ],
}


# Fields that fit any position of a cron expression, half the time; the odd ones else.
CRON_FIELDS = st.sampled_from(["*", "*/5", "0", "1", "1-5", "1,2", "*/7"]) | st.sampled_from(
    PLANNING_PARTS["cron"]
)


@st.composite
def plannings(draw: st.DrawFn) -> str:
    """Planning texts near the grammar: each kind with odd values, and some garbage."""
    kind = draw(st.sampled_from([*PLANNING_PARTS, "disabled", "automatic", "other"]))
    if kind in ("disabled", "automatic"):
        return draw(st.sampled_from([kind, f"{kind}: x", kind.upper()]))
    if kind == "other":
        return draw(st.text(max_size=30))
    if kind == "cron":
        n = draw(st.sampled_from([5, 5, 5, 4, 6, 0]))
        fields = [draw(CRON_FIELDS) for _ in range(n)]
        return "cron: " + " ".join(fields)
    return f"{kind}: {draw(st.sampled_from(PLANNING_PARTS[kind]))}"


# A value of any TOML type, often an odd one.
SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(ODD_TEXT),
    st.text(max_size=20),
    st.sampled_from(HUGE_INTS),
    st.integers(),
    st.sampled_from(ODD_FLOATS),
    st.floats(),
    st.booleans(),
    st.sampled_from(DURATIONS),
    plannings(),
    st.just(dt.datetime(2026, 1, 1, 9, 0)),
    st.just(dt.date(2026, 1, 1)),
    st.just(dt.time(9, 0)),
)


def nest(inner: Any, depth: int) -> Any:
    for _ in range(depth):
        inner = [inner] if isinstance(inner, list) else {"a": inner}
    return inner


# Scalars, arrays and tables of them (a few levels deep, or up to 200).
VALUES: st.SearchStrategy[Any] = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=4),
    st.dictionaries(st.text(max_size=8), SCALARS, max_size=3),
    st.integers(1, 200).map(lambda n: nest([], n)),
    st.integers(1, 200).map(lambda n: nest({}, n)),
)


KNOWN_KEYS = (
    known.TOP_KEYS,
    known.JOBDASH_KEYS,
    known.TYPE_KEYS,
    known.PARAM_KEYS,
    known.ITEMS_KEYS,
    known.REPORT_KEYS,
    known.SCHEDULE_KEYS,
    known.SMTP_KEYS,
)
KEYS = [  # every key the config knows, misspellings and odd ones
    *(k for keys in KNOWN_KEYS for k in keys),
    "paralel",
    "Types",
    "",
    "item",
    "a.b",
    "é",
    "\x1b",
]
NEW_KEYS = st.sampled_from(KEYS) | st.text(max_size=6)
ACTIONS = {
    (False, False): [],
    (True, False): ["replace", "replace", "drop"],
    (False, True): ["add"],
    (True, True): ["replace", "replace", "drop", "add", "rename"],
}

# ---------------------------------------------------------------------------- mutation


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a structure: dict keys and list indexes, depth first."""
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += paths(v, (*prefix, i))
    return out


def at(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        data = data[step]
    return data


@st.composite
def structures(draw: st.DrawFn) -> dict[str, Any]:
    """A valid config, mutated 0 to 5 times."""
    data: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(0, 5))):
        places = paths(data)
        path = places[draw(st.integers(0, len(places) - 1))]
        target = at(data, path)
        actions = ACTIONS[bool(path), isinstance(target, dict)]
        if not actions:
            continue
        action = actions[draw(st.integers(0, len(actions) - 1))]
        if action == "replace":
            at(data, path[:-1])[path[-1]] = draw(VALUES)
        elif action == "drop":
            del at(data, path[:-1])[path[-1]]
        elif action == "add":
            target[draw(NEW_KEYS)] = draw(VALUES)
        elif target:
            old = list(target)[draw(st.integers(0, len(target) - 1))]
            target[draw(NEW_KEYS)] = target.pop(old)
    return data


# ------------------------------------------------------------------------ TOML writing


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**4000 else "1" * 4400
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(type(value))


def to_toml(data: dict[str, Any]) -> str:
    """TOML text for `data`: plain values first (they must come before any [table]), then a
    [table] per table, with a [types.NAME] table per job type."""
    head: list[str] = []
    tables: list[str] = []
    for key, value in data.items():
        if not isinstance(value, dict):
            head.append(f"{toml_string(key)} = {toml_value(value)}")
        elif key == "types":
            for name, table in value.items():
                if not isinstance(table, dict):
                    head.append(f"types.{toml_string(name)} = {toml_value(table)}")
                    continue
                tables.append(f"\n[types.{toml_string(name)}]")
                tables += [f"{toml_string(k)} = {toml_value(v)}" for k, v in table.items()]
        else:
            tables.append(f"\n[{toml_string(key)}]")
            tables += [f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()]
    return "\n".join(head + tables) + "\n"


TEXT_EDITS = ["none", "none", "insert", "cut", "swap", "truncate", "deep", "bom", "bytes"]


@st.composite
def config_files(draw: st.DrawFn) -> bytes:
    """The bytes of a config file near a valid one."""
    text = to_toml(draw(structures()))
    edit = draw(st.sampled_from(TEXT_EDITS))
    where = draw(st.integers(0, len(text)))
    if edit == "insert":
        text = (
            text[:where]
            + draw(
                st.sampled_from(["[", "]", '"', "=", "\n", "{", ".", "#", "'''"])
                | st.text(max_size=3)
            )
            + text[where:]
        )
    elif edit == "cut":
        text = text[:where] + text[where + draw(st.integers(1, 20)) :]
    elif edit == "swap":
        lines = text.split("\n")
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
        text = "\n".join(lines)
    elif edit == "truncate":
        text = text[:where]
    elif edit == "deep":
        depth = draw(st.sampled_from([100, 300, 500, 2000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ("{a=", "}")]))
        text += f"\n[jobdash]\nadmins = {opener * depth}{closer * depth}\n"
    elif edit == "bom":
        text = "\ufeff" + text
    data = text.encode("utf-8")
    if edit == "bytes":
        data = (
            data[:where]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"]))
            + data[where:]
        )
    return data


# ------------------------------------------------------------------------------ the check

ZONES = [ZoneInfo(z) for z in ("UTC", "Europe/Paris", "Pacific/Kiritimati", "Etc/GMT+12")]
NOW = time.time()


def check_planning(text: str) -> None:
    """A planning that parses gives its next fire times in any zone, without an error."""
    planning = parse_planning(text)
    for zone in ZONES:
        next_fire(planning, zone, NOW)
        list(fire_times(planning, zone, NOW, NOW + 3 * 366 * 86400, limit=3))


def load_one(data: bytes, path: Path) -> Config | None:
    """Load `data` as a config file: a Config, or None after checking its one-line error.
    Anything else raised is the fuzzer's finding."""
    path.write_bytes(data)
    try:
        config = load_config(path)
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(str(path)), message
        assert "\n" not in message and "\r" not in message, message
        return None
    # Accepted means it can run: nothing here fails later, or means "never", at run time.
    for jt in config.types.values():
        assert 1 <= jt.parallel <= MAX_PARALLEL
        assert 0 <= jt.retries <= MAX_RETRIES
        for seconds in (jt.timeout, jt.backoff, jt.schedule_policy.catchup_bound):
            assert seconds is None or 0 <= seconds <= MAX_DURATION
        if jt.schedule:
            check_planning(jt.schedule)
    assert config.retention is None or 0 < config.retention <= MAX_DURATION
    return config
