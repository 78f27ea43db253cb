"""The one door of the command line and the dashboard: `Service`, and the few other names
they need.

The front ends import this package and the plain model modules only (the import contracts
in pyproject.toml hold them to it), so the other names they use are re-exported here
(parse_duration, open_output, write_output, create_new, write_new, CATCHUP_BOUND, zone,
freeze_start_up, Changes, Export, JsonList, LogFeed, GroupRetry, check_group_id, Outcome,
Plan, skipped). Where things are: `facade` holds the `Service`, `failures` its failure groups, `bulk` its actions on many
jobs or schedules at once; `submission` what a submission becomes (the job, its tasks); `schedules` schedule checks and previews;
`export` the CSV and JSON history, whole or a page at a time; `locations` where the store
and the config are; `import_crontab` (`jobdash.core.crontab`) a crontab as job types.
"""

from jobdash.core.artifacts import is_text
from jobdash.core.crontab import import_crontab
from jobdash.core.heap import freeze_start_up
from jobdash.core.identity import real_user
from jobdash.core.outfile import (
    create_new,
    open_binary_output,
    open_output,
    write_new,
    write_output,
)
from jobdash.core.scheduler import CATCHUP_BOUND, zone
from jobdash.core.service.bulk import Outcome, Plan, skipped
from jobdash.core.service.export import Export, JsonList
from jobdash.core.service.facade import Service
from jobdash.core.service.failures import GroupRetry, check_group_id
from jobdash.core.service.locations import (
    check_store_ahead,
    config_timezone,
    find_config_path,
    read_config,
    store_location,
)
from jobdash.core.service.log_feed import LogFeed
from jobdash.core.service.schedules import preview_planning
from jobdash.core.service.setup import db_command, init_store
from jobdash.core.store.records import Changes
from jobdash.core.values import checked_report, parse_duration

__all__ = [
    "CATCHUP_BOUND",
    "Changes",
    "Export",
    "GroupRetry",
    "JsonList",
    "LogFeed",
    "Outcome",
    "Plan",
    "Service",
    "check_group_id",
    "check_store_ahead",
    "checked_report",
    "config_timezone",
    "create_new",
    "db_command",
    "find_config_path",
    "freeze_start_up",
    "import_crontab",
    "init_store",
    "is_text",
    "open_binary_output",
    "open_output",
    "parse_duration",
    "preview_planning",
    "read_config",
    "real_user",
    "skipped",
    "store_location",
    "write_new",
    "write_output",
    "zone",
]
