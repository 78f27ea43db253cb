"""`jobdash import-crontab [FILE]`: a crontab's entries as job types with cron schedules,
printed as config text to review (and append to the config). Nothing is written or run;
no store is opened. The reading and the conversion are `jobdash.core.crontab`'s.
"""

from __future__ import annotations

import argparse
import sys

from jobdash.cli.parser import EXIT_OK
from jobdash.cli.render import err, tell
from jobdash.core.model import BadInput


def read_text(name: str | None) -> tuple[str, str]:
    """(the crontab's text, how to name it in messages): FILE, or standard input."""
    if name in (None, "-"):
        if sys.stdin.isatty():
            err().print(
                "jobdash: import-crontab: reading a crontab from standard input (Ctrl-D ends)"
            )
        source = "standard input"
        try:
            data = sys.stdin.buffer.read()
        except (OSError, ValueError, AttributeError) as e:  # closed, or no file behind it
            raise BadInput(f"import-crontab: {source}: cannot read: {e}") from None
    else:
        source = name
        try:
            with open(name, "rb") as f:
                data = f.read()
        except OSError as e:
            raise BadInput(f"import-crontab: {name}: cannot read: {e.strerror or e}") from None
    try:
        return data.decode("utf-8"), source
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise BadInput(f"import-crontab: {source}: line {line}: not UTF-8 text") from None


def cmd_import_crontab(a: argparse.Namespace) -> int:
    from jobdash.core.service import import_crontab, read_config

    text, source = read_text(a.file)
    # Names the config already has are not reused: the output can be appended to it.
    toml, skipped = import_crontab(text, source, a.system, set(read_config(a.config).types))
    for s in skipped:
        tell(f"jobdash: import-crontab: line {s.line} not imported: {s.reason}")
    sys.stdout.write(toml)
    return EXIT_OK
