"""Finding, reading and checking the TOML config file (SPEC §5).

Why this module is strict: the config file drives commands that move and delete
data, so a typo (`paralel = 4`, `command = "rm -rf {path}"`, `{sourse}`) must stop
the program with one precise line -- file, line, dotted key, what was wrong --
instead of being ignored or guessed at. Parsing changes nothing anywhere: a bad
file raises `ConfigError` (a `BadInput`, exit status 2) before any job exists.

It also holds the small helpers every caller of a job type needs the same way:
durations (`parse_duration`), placeholder substitution into argv elements
(`substitute`) and parameter checking (`check_params`).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import string
import tomllib
import zoneinfo
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from jobdash.core.model import (
    CATCHUP,
    MAX_DURATION,
    MAX_DURATION_TEXT,
    MAX_PARALLEL,
    MAX_RETRIES,
    OVERLAP,
    BadInput,
    Items,
    JobType,
    Param,
    Report,
    SchedulePolicy,
)

CONFIG_ENV = "JOBDASH_CONFIG"
CONFIG_NAME = "jobdash.toml"

TYPE_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
PARAM_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
FUNCTION_RE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*\Z")
ITEM = "item"  # the placeholder naming the current item in a command

TOP_KEYS = ("jobdash", "types", "keymap", "smtp")
JOBDASH_KEYS = ("admins", "timezone", "theme", "retention", "agent_retention")
TYPE_KEYS = (
    "description",
    "params",
    "items",
    "command",
    "function",
    "parallel",
    "timeout",
    "retries",
    "backoff",
    "locks",
    "on_lock",
    "exclusive",
    "cancellable",
    "schedule",
    "target",
    "report",
)
PARAM_KEYS = ("required", "default", "help")
ITEMS_KEYS = ("glob", "command", "list")
REPORT_KEYS = ("email", "webhook")
SCHEDULE_KEYS = ("planning", "overlap", "catchup", "catchup_bound", "report")
SMTP_KEYS = ("host", "port", "tls", "user", "password", "sender")
ON_LOCK = ("wait", "refuse")
_COMMAND_IS_STRING = (
    'command must be an array of strings (argv); write ["sh", "-c", "..."] for a shell'
)
SMTP_TLS = ("starttls", "ssl")

Keys = tuple[str, ...]


# --------------------------------------------------------------------------- errors


class ConfigError(BadInput):
    """A problem in the config file, rendered as ONE line: `file:line: key: message`.

    One line because it is printed as-is by the CLI and the dashboard; the file,
    line and dotted key are kept as attributes so that `jobdash check` or a test
    can look at them without parsing the text.
    """

    def __init__(self, file: str, message: str, key: str = "", line: int | None = None) -> None:
        self.file = file
        self.message = message
        self.key = key
        self.line = line
        where = file if line is None else f"{file}:{line}"
        text = f"{where}: {key}: {message}" if key else f"{where}: {message}"
        super().__init__(re.sub(r"[\r\n]+", " ", text))


class _Problem(Exception):
    """Raised while building: the dotted key and message; the line is found later.

    Finding the line needs the source text, which the small checkers don't carry;
    `parse_config` turns this into a `ConfigError`.
    """

    def __init__(self, keys: Keys, message: str) -> None:
        super().__init__(message)
        self.keys = keys
        self.message = message


def _show(value: object) -> str:
    """How a bad value is quoted in a message: TOML-like, short, on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = json.dumps(value, ensure_ascii=False)
        return shown if len(shown) <= 60 else shown[:56] + '..."'
    if isinstance(value, int | float):
        shown = repr(value)
        return shown if len(shown) <= 30 else f"{shown[:20]}… ({len(shown)} digits)"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"  # TOML dates and times


def _kind(value: object) -> str:
    """What a value is, without what it says: for secrets."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "an array" if isinstance(value, list) else _show(value)


def _dotted(keys: Keys) -> str:
    """`types.import-files.parallel`; odd segments quoted as TOML would write them."""
    bare = re.compile(r"[A-Za-z0-9_-]+\Z")
    return ".".join(k if bare.match(k) else json.dumps(k, ensure_ascii=False) for k in keys)


def _suggest(word: str, known: Collection[str]) -> str:
    """`did you mean "x"?` when a known word is close, else the list of known ones."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    if close:
        return f'did you mean "{close[0]}"?'
    return "known: " + (", ".join(known) or "none")


# -------------------------------------------------------------- locating a key's line

_SEG = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
_KEY = rf"{_SEG}(?:\s*\.\s*{_SEG})*"
_SEG_RE = re.compile(_SEG)
_HEADER_RE = re.compile(rf"\s*\[\[?\s*({_KEY})\s*\]")
_ASSIGN_RE = re.compile(rf"\s*({_KEY})\s*=")


def _split_key(key: str) -> Keys:
    parts = []
    for m in _SEG_RE.finditer(key):
        seg = m.group(0)
        if seg.startswith('"'):
            try:
                seg = json.loads(seg)
            except ValueError:
                seg = seg[1:-1]
        elif seg.startswith("'"):
            seg = seg[1:-1]
        parts.append(seg)
    return tuple(parts)


def _find_line(text: str, keys: Keys) -> int | None:
    """The line where `keys` (a dotted path) is written, or None if it can't be told.

    tomllib gives no positions for values, so we scan: each table header and each
    `key = ...` line (dotted keys included) gets its full path; the first line whose
    path shares the longest prefix with `keys` wins. A match must reach at least the
    key inside its table (`types.NAME.key`, `jobdash.key`); a vaguer hit would point
    at the wrong place, and no line is better than a wrong one.
    """
    header: Keys = ()
    best, best_line = 0, None
    in_string: str | None = None  # inside a multi-line string: its closing quotes
    for lineno, line in enumerate(text.split("\n"), 1):
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        if m := _HEADER_RE.match(line):
            header = _split_key(m.group(1))
            path = header
        elif m := _ASSIGN_RE.match(line):
            path = header + _split_key(m.group(1))
            rest = line[m.end() :]
            for quotes in ('"""', "'''"):
                if rest.count(quotes) % 2 == 1:
                    in_string = quotes
                    break
        else:
            continue
        score = 0
        for a, b in zip(path, keys, strict=False):
            if a != b:
                break
            score += 1
        if score > best:
            best, best_line = score, lineno
    need = min(len(keys), 3 if keys[:1] == ("types",) else 2)
    return best_line if best >= need else None


# ------------------------------------------------------------------------- durations

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d|w)")
_DURATION_NUMBER = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\Z")
_DURATION_HINT = 'a duration like "30s", "10m", "1h30m", "500ms" or a number of seconds'


def _duration_seconds(value: object) -> float:
    """Seconds in `value`; ValueError(message without location) when it is not one."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an integer past any float: as good as infinite
            seconds = math.inf if value > 0 else -math.inf
    elif isinstance(value, str):
        text = value.strip().lower()
        if _DURATION_NUMBER.match(text):
            seconds = float(text)
        elif text:
            total, pos = 0.0, 0
            while pos < len(text):
                m = _DURATION_PART.match(text, pos)
                if m is None:
                    break
                total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
                pos = m.end()
            else:
                seconds = total
    if seconds is None or math.isnan(seconds) or seconds < 0:
        raise ValueError(f"must be {_DURATION_HINT}, got {_show(value)}")
    if seconds > MAX_DURATION:  # infinity too: "never" is not a duration
        raise ValueError(f"must be at most {MAX_DURATION_TEXT}, got {_show(value)}")
    return seconds


def parse_duration(text: str | int | float, where: str) -> float:
    """Seconds in "500ms", "30s", "10m", "2h", "1d", "1h30m" or a plain number.

    One parser for the config (timeouts, backoff, retention), the CLI (`--since`)
    and the filter bar (`since:1h`), so the same words mean the same everywhere.
    `where` names the setting or option in the BadInput message.
    """
    try:
        return _duration_seconds(text)
    except ValueError as exc:
        raise BadInput(f"{where}: {exc}") from None


# ---------------------------------------------------------------------- placeholders

_FORMATTER = string.Formatter()


def _template_parts(template: str) -> list[tuple[str, str | None]]:
    """(literal, placeholder-or-None) pairs; ValueError on a malformed template.

    string.Formatter does the brace parsing (so `{{` and `}}` escape braces), but
    format specs, conversions and attribute/index access are refused: a placeholder
    is a plain name, replaced by a plain string.
    """
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise ValueError(
            f"bad braces in {_show(template)} ({exc}); write {{{{ and }}}} for literal braces"
        ) from None
    parts: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parsed:
        if name is not None:
            if spec or conversion:
                raise ValueError(
                    f"placeholders take no format spec or conversion, got {_show(template)}"
                )
            if not PARAM_NAME_RE.match(name):
                raise ValueError(f"bad placeholder {{{name}}} in {_show(template)}")
        parts.append((literal, name))
    return parts


def substitute(template: str, values: Mapping[str, str], where: str) -> str:
    """Replace `{name}` placeholders in one argv element (or glob, or lock key).

    The result is one argv element: values are never re-split or passed through a
    shell, so a parameter containing spaces or `;` stays inert data.
    """
    try:
        parts = _template_parts(template)
    except ValueError as exc:
        raise BadInput(f"{where}: {exc}") from None
    out: list[str] = []
    for literal, name in parts:
        out.append(literal)
        if name is None:
            continue
        if name not in values:
            known = ", ".join(values) or "none"
            raise BadInput(f"{where}: unknown placeholder {{{name}}} (known: {known})")
        out.append(str(values[name]))
    return "".join(out)


def check_params(jt: JobType, given: Mapping[str, str]) -> dict[str, str]:
    """The full parameters of a new job of type `jt`: given values, defaults filled.

    Checked before a job is created (SPEC §5) so that a typo in `-p` fails at once
    with exit status 2 instead of producing a job whose commands go wrong. Optional
    parameters with no default get "" so every declared placeholder can be filled.
    A required parameter given as "" counts as missing: an empty path substituted
    into `{source}/*.csv` would silently mean `/*.csv`.
    """
    declared = {p.name: p for p in jt.params}
    for name in given:
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise BadInput(f"unknown parameter {name!r} for type {jt.name} (known: {known})")
    result: dict[str, str] = {}
    for p in jt.params:
        value = given.get(p.name)
        if value is None:
            value = p.default
        if p.required and not value:
            raise BadInput(f"parameter {p.name!r} is required for type {jt.name}")
        result[p.name] = "" if value is None else str(value)
        _check_bounds(jt, p, result[p.name])
    return result


def _check_bounds(jt: JobType, p: Param, value: str) -> None:
    """A bounded parameter's value is a whole number within its bounds (BadInput)."""
    if (p.minimum is None and p.maximum is None) or value == "":
        return  # unbounded, or an optional parameter left empty
    lo = "" if p.minimum is None else f" from {p.minimum}"
    hi = "" if p.maximum is None else f" to {p.maximum}"
    if re.fullmatch(r"[+-]?[0-9]{1,30}", value.strip()):
        n = int(value)
        if (p.minimum is None or n >= p.minimum) and (p.maximum is None or n <= p.maximum):
            return
    shown = value if len(value) <= 40 else value[:39] + "…"
    raise BadInput(
        f"parameter {p.name!r} of type {jt.name} must be a whole number{lo}{hi}, got {shown!r}"
    )


# --------------------------------------------------------------------------- config


@dataclass
class Config:
    """Everything the config file says; the defaults are what no file means."""

    path: Path | None = None
    admins: tuple[str, ...] = ("root",)
    timezone: str | None = None
    types: dict[str, JobType] = field(default_factory=dict)
    keymap: dict[str, str] = field(default_factory=dict)
    theme: str | None = None
    smtp: dict[str, Any] = field(default_factory=dict)
    retention: float | None = None  # seconds; finished jobs older than this are pruned
    # Seconds an agent stays listed after its last heartbeat (then pruned; totals are kept).
    agent_retention: float = 86400.0


def find_config_path(explicit: str | None) -> Path | None:
    """The config file to use (SPEC §4), or None when there is none.

    Order: `--config PATH`, `$JOBDASH_CONFIG`, `./jobdash.toml`, then the user's
    config directory. A file named explicitly (option or variable) that does not
    exist is an error rather than a silent fallback: the user asked for it.
    """
    if explicit is not None:
        return _named_config(explicit, "")
    env = os.environ.get(CONFIG_ENV, "")
    if env:
        return _named_config(env, f" (named by ${CONFIG_ENV})")
    local = Path(CONFIG_NAME)
    if local.is_file():
        return local
    try:
        user = Path(platformdirs.user_config_dir("jobdash")) / CONFIG_NAME
    except RuntimeError:  # no home folder (a uid without a passwd entry, HOME unset)
        return None
    if user.is_file():
        return user
    return None


def _named_config(name: str, how: str) -> Path:
    """The config file named by the user (`how`: by what), which must be a file: one rule
    for the option and the variable."""
    path = Path(name).expanduser()
    if not path.is_file():
        raise ConfigError(
            name, ("config file not found" if not path.exists() else "not a file") + how
        )
    return path


def load_config(path: Path | None) -> Config:
    """Read and check the file at `path`; no path means the built-in defaults."""
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(str(path), "config file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror or exc}") from None
    config = parse_config(text, str(path))
    config.path = path
    return config


def parse_config(text: str, source: str) -> Config:
    """Parse and check config `text`; `source` names it in messages and in JobType.source."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, text, source) from None
    except RecursionError:  # tomllib descends once per level of nested arrays and tables
        raise ConfigError(
            source, "TOML nested too deeply (arrays or tables within each other)"
        ) from None
    except ValueError as exc:  # a number longer than Python reads (4300 digits)
        raise ConfigError(source, f"TOML value not readable: {str(exc).split(';')[0]}") from None
    try:
        return _build(data, source)
    except _Problem as problem:
        line = _find_line(text, problem.keys)
        raise ConfigError(source, problem.message, _dotted(problem.keys), line) from None


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str, source: str) -> ConfigError:
    """tomllib puts the position in its message; move it to the `file:line:` prefix."""
    message = str(exc)
    line: int | None = None
    if m := re.search(r"\s*\(at line (\d+), column (\d+)\)", message):
        line = int(m.group(1))
        message = f"{message[: m.start()]} (column {m.group(2)})"
    elif m := re.search(r"\s*\(at end of document\)", message):
        line = text.count("\n") + (0 if text.endswith("\n") else 1) or 1
        message = f"{message[: m.start()]} (at end of file)"
    return ConfigError(source, f"TOML syntax error: {message}", line=line)


# ----------------------------------------------------------------- value checkers


def _table(value: object, keys: Keys) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Problem(keys, f"must be a table, got {_show(value)}")
    return value


def _check_keys(table: Mapping[str, Any], known: Collection[str], keys: Keys) -> None:
    for key in table:
        if key not in known:
            raise _Problem((*keys, key), f"unknown key ({_suggest(key, known)})")


def _str(value: object, keys: Keys, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise _Problem(keys, f"must be a string, got {_show(value)}")
    if not empty and not value.strip():
        raise _Problem(keys, "must not be empty")
    return value


def _bool(value: object, keys: Keys) -> bool:
    if not isinstance(value, bool):
        raise _Problem(keys, f"must be true or false, got {_show(value)}")
    return value


def _int(value: object, keys: Keys, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise _Problem(keys, f"must be an integer from {minimum} to {maximum}, got {_show(value)}")
    return value


def _duration(value: object, keys: Keys, *, positive: bool = False) -> float:
    try:
        seconds = _duration_seconds(value)
    except ValueError as exc:
        raise _Problem(keys, str(exc)) from None
    if positive and seconds <= 0:
        raise _Problem(keys, f"must be a duration greater than zero, got {_show(value)}")
    return seconds


def _str_list(value: object, keys: Keys, *, numbers: bool = False) -> tuple[str, ...]:
    """An array of non-empty strings (numbers turned into strings when allowed)."""
    if not isinstance(value, list):
        raise _Problem(keys, f"must be an array of strings, got {_show(value)}")
    out: list[str] = []
    for element in value:
        if numbers and isinstance(element, int | float) and not isinstance(element, bool):
            element = str(element)
        if not isinstance(element, str) or not element:
            raise _Problem(keys, f"must be an array of non-empty strings, got {_show(element)}")
        out.append(element)
    return tuple(out)


def _check_template(template: str, keys: Keys, allowed: Collection[str], item_ok: bool) -> None:
    """Every placeholder in `template` must be a declared parameter (or {item})."""
    try:
        parts = _template_parts(template)
    except ValueError as exc:
        raise _Problem(keys, str(exc)) from None
    for _, name in parts:
        if name is None or name in allowed or (item_ok and name == ITEM):
            continue
        if name == ITEM:
            raise _Problem(keys, "{item} can only be used in command, and only when items is set")
        names = [*allowed, ITEM] if item_ok else list(allowed)
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        if close:
            hint = f"did you mean {{{close[0]}}}?"
        else:
            hint = "declared parameters: " + (", ".join(allowed) or "none")
        raise _Problem(keys, f"unknown placeholder {{{name}}} in {_show(template)} ({hint})")


# ------------------------------------------------------------------------- building


def _build(data: dict[str, Any], source: str) -> Config:
    _check_keys(data, TOP_KEYS, ())
    config = Config()
    if "jobdash" in data:
        _jobdash_section(_table(data["jobdash"], ("jobdash",)), config)
    if "types" in data:
        for name, table in _table(data["types"], ("types",)).items():
            config.types[name] = _job_type(name, table, source)
    if "keymap" in data:
        for binding, key in _table(data["keymap"], ("keymap",)).items():
            config.keymap[binding] = _str(key, ("keymap", binding), empty=False)
    if "smtp" in data:
        config.smtp = _smtp(_table(data["smtp"], ("smtp",)))
    return config


def _jobdash_section(table: dict[str, Any], config: Config) -> None:
    _check_keys(table, JOBDASH_KEYS, ("jobdash",))
    if "admins" in table:
        config.admins = _str_list(table["admins"], ("jobdash", "admins"))
    if "timezone" in table:
        config.timezone = _timezone(table["timezone"], ("jobdash", "timezone"))
    if "theme" in table:
        config.theme = _str(table["theme"], ("jobdash", "theme"), empty=False)
    if "retention" in table:
        config.retention = _duration(table["retention"], ("jobdash", "retention"), positive=True)
    if "agent_retention" in table:
        config.agent_retention = _duration(
            table["agent_retention"], ("jobdash", "agent_retention"), positive=True
        )


def _timezone(value: object, keys: Keys) -> str:
    """An IANA zone name; checked now, since a bad zone would only fail at 3 a.m."""
    name = _str(value, keys, empty=False)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        try:
            zoneinfo.ZoneInfo("UTC")
        except zoneinfo.ZoneInfoNotFoundError:
            return name  # no time zone database here at all: nothing to check against
        raise _Problem(
            keys, f'unknown time zone {_show(name)} (e.g. "Europe/Paris", "UTC")'
        ) from None
    return name


def _smtp(table: dict[str, Any]) -> dict[str, Any]:
    keys: Keys = ("smtp",)
    _check_keys(table, SMTP_KEYS, keys)
    out: dict[str, Any] = {}
    for key, value in table.items():
        where = (*keys, key)
        if key == "port":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
                raise _Problem(where, f"must be a port number 1-65535, got {_show(value)}")
            out[key] = value
        elif key == "tls":
            if not isinstance(value, bool) and value not in SMTP_TLS:
                raise _Problem(
                    where, f'must be true, false, "starttls" or "ssl", got {_show(value)}'
                )
            out[key] = value
        elif key == "password":
            # A secret: a wrong one is described, never shown (messages reach terminals and logs).
            if not isinstance(value, str):
                raise _Problem(
                    where, f"must be a string, got {_kind(value)} (its value is not shown)"
                )
            out[key] = value
        else:
            out[key] = _str(value, where)
    return out


def _job_type(name: str, value: object, source: str) -> JobType:
    keys: Keys = ("types", name)
    if not TYPE_NAME_RE.match(name):
        raise _Problem(
            keys,
            "type names use lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit",
        )
    table = _table(value, keys)
    _check_keys(table, TYPE_KEYS, keys)

    def at(key: str) -> Keys:
        return (*keys, key)

    params = _params(table["params"], at("params")) if "params" in table else ()
    names = [p.name for p in params]

    if "command" in table and "function" in table:
        raise _Problem(
            at("function"), 'set either command = [argv...] or function = "module:attr", not both'
        )
    command: tuple[str, ...] | None = None
    function: str | None = None
    items: Items | None = None
    if "command" in table:
        if isinstance(table["command"], str):
            raise _Problem(
                at("command"),
                _COMMAND_IS_STRING,
            )
        command = _str_list(table["command"], at("command"))
        if not command:
            raise _Problem(at("command"), "must not be empty")
        if "items" in table:
            items = _items(table["items"], at("items"), names)
        for element in command:
            _check_template(element, at("command"), names, item_ok=items is not None)
    elif "function" in table:
        function = _str(table["function"], at("function"))
        if not FUNCTION_RE.match(function):
            raise _Problem(
                at("function"),
                f'must be "module:attribute" (e.g. "mypkg.jobs:rebuild"), got {_show(function)}',
            )
        if "items" in table:
            raise _Problem(
                at("items"), "items only apply to command types; a function adds its own tasks"
            )
    else:
        raise _Problem(keys, 'needs either command = [argv...] or function = "module:attr"')

    locks = _str_list(table["locks"], at("locks")) if "locks" in table else ()
    for lock in locks:
        _check_template(lock, at("locks"), names, item_ok=False)

    target: str | None = None
    if "target" in table:
        target = _str(table["target"], at("target"))
        if target not in names:
            declared = f"declared: {', '.join(names)}" if names else "this type declares none"
            raise _Problem(
                at("target"), f"must name a declared parameter ({declared}), got {_show(target)}"
            )

    on_lock = "wait"
    if "on_lock" in table:
        on_lock = _str(table["on_lock"], at("on_lock"))
        if on_lock not in ON_LOCK:
            raise _Problem(at("on_lock"), f'must be "wait" or "refuse", got {_show(on_lock)}')

    schedule, policy, schedule_report = (
        _schedule(table["schedule"], at("schedule"))
        if "schedule" in table
        else (None, SchedulePolicy(), Report())
    )
    # A schedule starts the type with its parameters' defaults: one without would fail at
    # every fire time, so it is refused now rather than found failing at 3 a.m.
    for p in params if schedule else ():
        if p.required and not p.default:
            raise _Problem(
                at("schedule"),
                f"parameter {p.name!r} is required and has no default, and a schedule starts "
                "the type with the defaults: give it a default, or remove the schedule",
            )
    return JobType(
        name=name,
        description=_str(table["description"], at("description")) if "description" in table else "",
        params=params,
        items=items,
        command=command,
        function=function,
        parallel=_int(table["parallel"], at("parallel"), 1, MAX_PARALLEL)
        if "parallel" in table
        else 1,
        timeout=_duration(table["timeout"], at("timeout"), positive=True)
        if "timeout" in table
        else None,
        retries=_int(table["retries"], at("retries"), 0, MAX_RETRIES) if "retries" in table else 0,
        backoff=_duration(table["backoff"], at("backoff")) if "backoff" in table else 1.0,
        locks=locks,
        on_lock=on_lock,
        exclusive=_bool(table["exclusive"], at("exclusive")) if "exclusive" in table else False,
        cancellable=_bool(table["cancellable"], at("cancellable"))
        if "cancellable" in table
        else True,
        schedule=schedule,
        schedule_policy=policy,
        schedule_report=schedule_report,
        target=target,
        report=_report(table["report"], at("report")) if "report" in table else Report(),
        source=source,
    )


def _params(value: object, keys: Keys) -> tuple[Param, ...]:
    out: list[Param] = []
    for name, spec in _table(value, keys).items():
        where = (*keys, name)
        if not PARAM_NAME_RE.match(name):
            raise _Problem(
                where,
                "parameter names use letters, digits, '-' and '_', starting with a letter or '_'",
            )
        if name == ITEM:
            raise _Problem(where, "'item' is reserved for the {item} placeholder")
        spec = _table(spec, where)
        _check_keys(spec, PARAM_KEYS, where)
        default: str | None = None
        if "default" in spec:
            raw = spec["default"]
            if isinstance(raw, bool):
                default = "true" if raw else "false"
            elif isinstance(raw, str | int | float):
                default = str(raw)
            else:
                raise _Problem(
                    (*where, "default"), f"must be a string, number or boolean, got {_show(raw)}"
                )
        out.append(
            Param(
                name=name,
                required=_bool(spec["required"], (*where, "required"))
                if "required" in spec
                else False,
                default=default,
                help=_str(spec["help"], (*where, "help")) if "help" in spec else "",
            )
        )
    return tuple(out)


def _items(value: object, keys: Keys, params: Collection[str]) -> Items:
    if isinstance(value, list):
        values = _str_list(value, keys, numbers=True)
        kind = "list"
    elif isinstance(value, dict):
        _check_keys(value, ITEMS_KEYS, keys)
        if len(value) != 1:
            raise _Problem(keys, "needs exactly one of glob, command, list")
        ((kind, raw),) = value.items()
        where = (*keys, kind)
        if kind == "glob":
            glob = _str(raw, where, empty=False)
            _check_template(glob, where, params, item_ok=False)
            return Items(glob=glob)
        if kind == "command":
            if isinstance(raw, str):
                raise _Problem(
                    where,
                    _COMMAND_IS_STRING,
                )
            argv = _str_list(raw, where)
            if not argv:
                raise _Problem(where, "must not be empty")
            for element in argv:
                _check_template(element, where, params, item_ok=False)
            return Items(command=argv)
        values = _str_list(raw, where, numbers=True)
        keys = where
    else:
        raise _Problem(
            keys,
            'must be { glob = "..." }, { command = [argv...] }, { list = [...] } or an array, '
            f"got {_show(value)}",
        )
    if not values:
        raise _Problem(keys, f"the {kind} of items must not be empty")
    for element in values:
        _check_template(element, keys, params, item_ok=False)
    return Items(values=values)


def _schedule(value: object, keys: Keys) -> tuple[str, SchedulePolicy, Report]:
    """`schedule = "cron: 0 3 * * *"`, or a table with the planning, the schedule's policies
    and the recipients of its runs' reports (besides the type's): `{ planning = "...",
    overlap = "queue", catchup = "all", catchup_bound = "6h", report = { email = "..." } }`.
    The planning (see `jobdash.core.planning`) is checked now and kept in canonical form."""
    from jobdash.core.planning import PlanningError, parse_planning

    policy = SchedulePolicy()
    report = Report()
    if isinstance(value, dict):
        if "report" in value:
            report = _report(value["report"], (*keys, "report"))
        _check_keys(value, SCHEDULE_KEYS, keys)
        if "planning" not in value:
            raise _Problem(keys, 'a schedule table needs planning = "..."')
        policy = SchedulePolicy(
            overlap=_choice(value, "overlap", OVERLAP, keys, policy.overlap),
            catchup=_choice(value, "catchup", CATCHUP, keys, policy.catchup),
            catchup_bound=_duration(value["catchup_bound"], (*keys, "catchup_bound"), positive=True)
            if "catchup_bound" in value
            else None,
        )
        value, keys = value["planning"], (*keys, "planning")
    text = _str(value, keys, empty=False)
    try:
        planning = parse_planning(text)
    except PlanningError as exc:
        raise _Problem(keys, str(exc)) from None
    if planning.kind == "automatic":
        raise _Problem(
            keys, '"automatic" means the type\'s default planning; give the planning here'
        )
    return planning.text, policy, report


def _choice(
    table: dict[str, object], key: str, allowed: tuple[str, ...], keys: Keys, default: str
) -> str:
    if key not in table:
        return default
    value = _str(table[key], (*keys, key))
    if value not in allowed:
        raise _Problem((*keys, key), f"must be one of {', '.join(allowed)}, got {_show(value)}")
    return value


def _report(value: object, keys: Keys) -> Report:
    table = _table(value, keys)
    _check_keys(table, REPORT_KEYS, keys)
    email: tuple[str, ...] = ()
    webhook: tuple[str, ...] = ()
    if "email" in table:
        raw = table["email"]
        email = (raw,) if isinstance(raw, str) else _str_list(raw, (*keys, "email"))
        for address in email:
            if "@" not in address:
                raise _Problem((*keys, "email"), f"not an e-mail address: {_show(address)}")
    if "webhook" in table:
        raw = table["webhook"]
        webhook = (raw,) if isinstance(raw, str) else _str_list(raw, (*keys, "webhook"))
        for url in webhook:
            if not url.startswith(("http://", "https://")):
                raise _Problem((*keys, "webhook"), f"must be an http(s) URL, got {_show(url)}")
    return Report(email=email, webhook=webhook)
