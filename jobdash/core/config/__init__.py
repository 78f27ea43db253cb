"""Finding, reading and checking the TOML config file.

Why strict: the config file drives commands that move and delete data, so a typo
(`paralel = 4`, `command = "rm -rf {path}"`, `{sourse}`) must stop the program with one
precise line -- file, line, dotted key, what was wrong -- instead of being ignored or guessed
at. Parsing changes nothing anywhere: a bad file raises `ConfigError` (a `BadInput`, exit
status 2) before any job exists.

Where things are: `file` finds and reads the file and checks its top-level tables,
`jobtypes` the `[types.NAME]` tables (the job-type catalogue), `checks` the one-line error
and the value checkers both use. Durations, placeholders and parameter checking, which
every caller of a job type needs too, are `jobdash.core.values`'s.
"""

from jobdash.core.config.checks import ConfigError
from jobdash.core.config.file import (
    CONFIG_ENV,
    CONFIG_NAME,
    JOBDASH_KEYS,
    SMTP_KEYS,
    TOP_KEYS,
    Config,
    find_config_path,
    load_config,
    parse_config,
)
from jobdash.core.config.jobtypes import (
    ITEMS_KEYS,
    PARAM_KEYS,
    REPORT_KEYS,
    SCHEDULE_KEYS,
    TYPE_KEYS,
)

__all__ = [
    "CONFIG_ENV",
    "CONFIG_NAME",
    "ITEMS_KEYS",
    "JOBDASH_KEYS",
    "PARAM_KEYS",
    "REPORT_KEYS",
    "SCHEDULE_KEYS",
    "SMTP_KEYS",
    "TOP_KEYS",
    "TYPE_KEYS",
    "Config",
    "ConfigError",
    "find_config_path",
    "load_config",
    "parse_config",
]
