"""The config file: where it is, reading it, and its top-level tables (`[jobdash]`,
`[keymap]`, `[smtp]`, `[web]`); the `[types.NAME]` tables are `jobtypes`'s.

`Config` is everything the file says; its defaults are what no file means.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobdash.core.config.checks import (
    ConfigError,
    Keys,
    Problem,
    as_bool,
    as_duration,
    as_size,
    as_str,
    as_str_list,
    as_table,
    as_timezone,
    check_keys,
    dotted,
    find_line,
    kind,
)
from jobdash.core.config.jobtypes import job_type
from jobdash.core.config.roles import role
from jobdash.core.model import JobType
from jobdash.core.permissions import Role
from jobdash.core.values import show

if TYPE_CHECKING:
    from tomllib import TOMLDecodeError

CONFIG_ENV = "JOBDASH_CONFIG"
CONFIG_NAME = "jobdash.toml"

TOP_KEYS = ("jobdash", "types", "keymap", "smtp", "web", "roles")
JOBDASH_KEYS = (
    "admins",
    "timezone",
    "theme",
    "retention",
    "agent_retention",
    "low_bandwidth_over_ssh",
    "artifact_inline_max",
)

SMTP_KEYS = ("host", "port", "tls", "user", "password", "sender")
SMTP_TLS = ("starttls", "ssl")
WEB_KEYS = ("password_hash",)
INLINE_LIMIT = 256 * 1024 * 1024  # the most `artifact_inline_max` may keep in a row


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
    # The dashboard draws for a slow link on its own when SSH_CONNECTION is set.
    low_bandwidth_over_ssh: bool = True
    # `jobdash web` asks for this password (its scrypt hash) instead of printing a token.
    web_password_hash: str | None = None
    # Artifacts up to this many bytes are kept in the store, bigger ones as files beside it.
    artifact_inline_max: int = 1024 * 1024
    # `[roles.NAME]`: who may do what beyond their own jobs (`core.permissions`).
    roles: tuple[Role, ...] = ()


def find_config_path(explicit: str | None) -> Path | None:
    """The config file to use, or None when there is none.

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
    import platformdirs  # here: a config named by --config or JOBDASH_CONFIG needs none

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
    import tomllib  # here: without a config file jobdash reads no TOML

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
        return _build(data, source, text)
    except Problem as problem:
        line = find_line(text, problem.keys)
        raise ConfigError(source, problem.message, dotted(problem.keys), line) from None


def _syntax_error(exc: TOMLDecodeError, text: str, source: str) -> ConfigError:
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


# ------------------------------------------------------------------------- building


def _build(data: dict[str, Any], source: str, text: str) -> Config:
    check_keys(data, TOP_KEYS, ())
    config = Config()
    if "jobdash" in data:
        _jobdash_section(as_table(data["jobdash"], ("jobdash",)), config)
    if "types" in data:
        for name, table in as_table(data["types"], ("types",)).items():
            jt = job_type(name, table, source)
            config.types[name] = replace(jt, line=find_line(text, ("types", name)))
    if "roles" in data:
        config.roles = tuple(
            role(name, as_table(table, ("roles", name)), find_line(text, ("roles", name)))
            for name, table in as_table(data["roles"], ("roles",)).items()
        )
    if "keymap" in data:
        for binding, key in as_table(data["keymap"], ("keymap",)).items():
            config.keymap[binding] = as_str(key, ("keymap", binding), empty=False)
    if "smtp" in data:
        config.smtp = _smtp(as_table(data["smtp"], ("smtp",)))
    if "web" in data:
        web = as_table(data["web"], ("web",))
        check_keys(web, WEB_KEYS, ("web",))
        if "password_hash" in web:
            config.web_password_hash = as_str(
                web["password_hash"], ("web", "password_hash"), empty=False
            )
    return config


def _jobdash_section(table: dict[str, Any], config: Config) -> None:
    check_keys(table, JOBDASH_KEYS, ("jobdash",))
    if "admins" in table:
        config.admins = as_str_list(table["admins"], ("jobdash", "admins"))
    if "timezone" in table:
        config.timezone = as_timezone(table["timezone"], ("jobdash", "timezone"))
    if "theme" in table:
        config.theme = as_str(table["theme"], ("jobdash", "theme"), empty=False)
    if "retention" in table:
        config.retention = as_duration(table["retention"], ("jobdash", "retention"), positive=True)
    if "low_bandwidth_over_ssh" in table:
        config.low_bandwidth_over_ssh = as_bool(
            table["low_bandwidth_over_ssh"], ("jobdash", "low_bandwidth_over_ssh")
        )
    if "agent_retention" in table:
        config.agent_retention = as_duration(
            table["agent_retention"], ("jobdash", "agent_retention"), positive=True
        )
    if "artifact_inline_max" in table:
        config.artifact_inline_max = as_size(
            table["artifact_inline_max"], ("jobdash", "artifact_inline_max"), INLINE_LIMIT
        )


def _smtp(table: dict[str, Any]) -> dict[str, Any]:
    keys: Keys = ("smtp",)
    check_keys(table, SMTP_KEYS, keys)
    out: dict[str, Any] = {}
    for key, value in table.items():
        where = (*keys, key)
        if key == "port":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
                raise Problem(where, f"must be a port number 1-65535, got {show(value)}")
            out[key] = value
        elif key == "tls":
            if not isinstance(value, bool) and value not in SMTP_TLS:
                raise Problem(where, f'must be true, false, "starttls" or "ssl", got {show(value)}')
            out[key] = value
        elif key == "password":
            # A secret: a wrong one is described, never shown (messages reach terminals and logs).
            if not isinstance(value, str):
                raise Problem(
                    where, f"must be a string, got {kind(value)} (its value is not shown)"
                )
            out[key] = value
        else:
            out[key] = as_str(value, where)
    return out
