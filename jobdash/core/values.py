"""How the values users write are read, one way everywhere: durations, `{placeholders}`, a
job's parameters.

Why one module: the same words must mean the same in the config file (timeouts, backoff,
retention), on the command line (`--since`, `-p`), in the filter bar (`since:1h`) and when
an engine builds a command from its job type, so each is parsed by one function here.
Nothing here knows the config file; `jobdash.core.config` uses these to check it.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections.abc import Iterable, Mapping

from jobdash.core.limits import MAX_DURATION, MAX_DURATION_TEXT
from jobdash.core.model import (
    BadInput,
    JobType,
    Param,
    Report,
)
from jobdash.core.patterns import compiled

# Patterns are kept as text and compiled where used (`core.patterns`): a command that reads
# no config and parses no duration compiles none of them.
PARAM_NAME = r"[A-Za-z_][A-Za-z0-9_-]*\Z"
ITEM = "item"  # the placeholder naming the current item in a command


def show(value: object) -> str:
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


# ------------------------------------------------------------------------- durations

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION_PART = r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d|w)"
_DURATION_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)\Z"
_DURATION_HINT = 'a duration like "30s", "10m", "1h30m", "500ms" or a number of seconds'


def unit_seconds(text: str) -> float | None:
    """The seconds in `text` made of numbers with units, "1h30m", "500ms", "2d" (spaces
    between them allowed), summed; None when it is not all such parts. A bare number is
    not one: whether it means seconds is the caller's choice (a duration: yes; an
    interval planning: no)."""
    total, pos = 0.0, 0
    part = compiled(_DURATION_PART)
    while pos < len(text):
        m = part.match(text, pos)
        if m is None:
            return None
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return total


def duration_seconds(value: object) -> float:
    """Seconds in `value`; ValueError(message without location) when it is not one."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an integer past any float: as good as infinite
            seconds = math.inf if value > 0 else -math.inf
    elif isinstance(value, str):
        text = value.strip().lower()
        if compiled(_DURATION_NUMBER).match(text):
            seconds = float(text)
        elif text:
            seconds = unit_seconds(text)
    if seconds is None or math.isnan(seconds) or seconds < 0:
        raise ValueError(f"must be {_DURATION_HINT}, got {show(value)}")
    if seconds > MAX_DURATION:  # infinity too: "never" is not a duration
        raise ValueError(f"must be at most {MAX_DURATION_TEXT}, got {show(value)}")
    return seconds


def parse_duration(text: str | int | float, where: str) -> float:
    """Seconds in "500ms", "30s", "10m", "2h", "1d", "1h30m" or a plain number.

    One parser for the config (timeouts, backoff, retention), the CLI (`--since`)
    and the filter bar (`since:1h`), so the same words mean the same everywhere.
    `where` names the setting or option in the BadInput message.
    """
    try:
        return duration_seconds(text)
    except ValueError as exc:
        raise BadInput(f"{where}: {exc}") from None


# ---------------------------------------------------------------------- placeholders

_FORMATTER = string.Formatter()


def template_parts(template: str) -> list[tuple[str, str | None]]:
    """(literal, placeholder-or-None) pairs; ValueError on a malformed template.

    string.Formatter does the brace parsing (so `{{` and `}}` escape braces), but
    format specs, conversions and attribute/index access are refused: a placeholder
    is a plain name, replaced by a plain string.
    """
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise ValueError(
            f"bad braces in {show(template)} ({exc}); write {{{{ and }}}} for literal braces"
        ) from None
    parts: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parsed:
        if name is not None:
            if spec or conversion:
                raise ValueError(
                    f"placeholders take no format spec or conversion, got {show(template)}"
                )
            if not compiled(PARAM_NAME).match(name):
                raise ValueError(f"bad placeholder {{{name}}} in {show(template)}")
        parts.append((literal, name))
    return parts


def substitute(template: str, values: Mapping[str, str], where: str) -> str:
    """Replace `{name}` placeholders in one argv element (or glob, or lock key).

    The result is one argv element: values are never re-split or passed through a
    shell, so a parameter containing spaces or `;` stays inert data.
    """
    try:
        parts = template_parts(template)
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

    Checked before a job is created so that a typo in `-p` fails at once
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


def address_problem(address: str) -> str:
    """Why `address` cannot take a report by e-mail ("" when it can): one plain address
    (local@domain), no display name, no spaces or control characters, nothing a mail
    header would read as a second recipient."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return f"not an e-mail address (local@domain): {show(address)}"
    if any(c.isspace() or not c.isprintable() or c in ',;<>()[]"\\' for c in address):
        return f"not a plain e-mail address (no spaces, names or separators): {show(address)}"
    if "@" in local or domain.startswith(".") or domain.endswith(".") or ".." in domain:
        return f"not an e-mail address (local@domain): {show(address)}"
    return ""


def webhook_problem(url: str) -> str:
    """Why `url` cannot take a report as a webhook ("" when it can): an http(s) URL with a
    host and no spaces or control characters."""
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    if scheme not in ("http", "https") or not sep or not host:
        return f"not an http(s) URL: {show(url)}"
    if any(c.isspace() or not c.isprintable() for c in url):
        return f"not an http(s) URL (it has spaces or control characters): {show(url)}"
    return ""


def checked_report(email: tuple[str, ...], webhook: tuple[str, ...]) -> Report:
    """Recipients given at run time (the CLI, the dashboard), checked before they are kept:
    BadInput names the first that cannot take a report."""
    for problem in (*map(address_problem, email), *map(webhook_problem, webhook)):
        if problem:
            raise BadInput(f"report recipients: {problem}")
    return Report(tuple(dict.fromkeys(email)), tuple(dict.fromkeys(webhook)))


def close_to(word: str, known: Iterable[str]) -> str | None:
    """The known word `word` is most likely a typo of (`faild`: `failed`), or None: for a
    refusal's "did you mean"."""
    from difflib import get_close_matches  # only when input is refused

    close = get_close_matches(word, list(known), n=1, cutoff=0.6)
    return close[0] if close else None
