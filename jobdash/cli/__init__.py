"""The command line: every command goes through `core.service`.

- `parser`: the grammar (`build_parser`, `parse_args`) and the argument types that bound
  every number and name; `declarations`: every command's arguments and help.
- `render`: how the command line prints (consoles, inert text, times, status colours,
  JSON, log lines), from `jobdash.present`'s looks; `tables`: its listings (Rich tables).
- the command groups: `jobs` (jobs, show, export), `logs` (one job's log, several's,
  followed), `chosen` (which jobs: ids or `--query`), `run` (run, cancel, pause,
  resume, retry, clear), `schedules` (schedules, schedule …), `engine` (serve, agent,
  agents), `config` (types, check).
- `main`: `main()` (the `jobdash` script), `COMMANDS` (which module runs each command: it
  is imported when the command runs), opening the store, exit statuses.
- `dashboard`: the one module that imports the dashboard (`jobdash.tui`), when it opens.

The command groups, the service, Rich and the dashboard are imported when a command needs
them, so that `jobdash --help` and `jobdash jobs` start quickly.
"""

from jobdash.cli.main import COMMANDS, main
from jobdash.cli.parser import build_parser, parse_args

__all__ = ["COMMANDS", "build_parser", "main", "parse_args"]
