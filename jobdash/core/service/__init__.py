"""The one door of the command line and the dashboard: `Service`, and the few other names
they need.

The front ends import this package and the plain model modules only (the import contracts
in pyproject.toml hold them to it), so the other names they use are re-exported here
(parse_duration, open_output, write_output, create_new, write_new, CATCHUP_BOUND, zone,
collector_held, freeze_start_up, hold_collector, release_collector, Changes, Export, JsonList, LogFeed, GroupRetry, check_group_id, Outcome,
Plan, skipped, leases_moved). Where things are: `facade` holds the `Service`, `failures` its failure groups, `bulk` its actions on many
jobs or schedules at once; `submission` what a submission becomes (the job, its tasks); `schedules` schedule checks and previews;
`export` the CSV and JSON history, whole or a page at a time; `locations` where the store
and the config are; `import_crontab` (`jobdash.core.crontab`) a crontab as job types.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobdash.core.artifacts import is_text
    from jobdash.core.config.runnable import unrunnable
    from jobdash.core.crontab import import_crontab
    from jobdash.core.heap import (
        collector_held,
        freeze_start_up,
        hold_collector,
        release_collector,
    )
    from jobdash.core.identity import real_user
    from jobdash.core.loopfree import NeedsLoop, run_loop_free
    from jobdash.core.outfile import (
        create_new,
        open_binary_output,
        open_output,
        write_new,
        write_output,
    )
    from jobdash.core.scheduler import CATCHUP_BOUND, zone
    from jobdash.core.service.answers import GroupRetry, Outcome, Plan, skipped
    from jobdash.core.service.export import Export, JsonList
    from jobdash.core.service.facade import Service
    from jobdash.core.service.failures import check_group_id
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
    from jobdash.core.timing import LEASE_MARGIN, held_lease_end, leases_moved, renew_held
    from jobdash.core.values import checked_report, parse_duration

# Where each name is defined. A name is imported when it is first asked for (PEP 562's
# module `__getattr__`), with its module alone: `from jobdash.core.service import Service`
# loads neither the crontab reader, the exporter nor the log feed, so that a command loads
# what it uses (`jobdash jobs` starts sooner).
WHERE: dict[str, str] = {
    "CATCHUP_BOUND": "jobdash.core.scheduler",
    "Changes": "jobdash.core.store.records",
    "check_group_id": "jobdash.core.service.failures",
    "check_store_ahead": "jobdash.core.service.locations",
    "checked_report": "jobdash.core.values",
    "config_timezone": "jobdash.core.service.locations",
    "create_new": "jobdash.core.outfile",
    "db_command": "jobdash.core.service.setup",
    "Export": "jobdash.core.service.export",
    "find_config_path": "jobdash.core.service.locations",
    "collector_held": "jobdash.core.heap",
    "freeze_start_up": "jobdash.core.heap",
    "hold_collector": "jobdash.core.heap",
    "release_collector": "jobdash.core.heap",
    "GroupRetry": "jobdash.core.service.answers",
    "import_crontab": "jobdash.core.crontab",
    "init_store": "jobdash.core.service.setup",
    "is_text": "jobdash.core.artifacts",
    "JsonList": "jobdash.core.service.export",
    "held_lease_end": "jobdash.core.timing",
    "LEASE_MARGIN": "jobdash.core.timing",
    "leases_moved": "jobdash.core.timing",
    "renew_held": "jobdash.core.timing",
    "LogFeed": "jobdash.core.service.log_feed",
    "NeedsLoop": "jobdash.core.loopfree",
    "run_loop_free": "jobdash.core.loopfree",
    "open_binary_output": "jobdash.core.outfile",
    "open_output": "jobdash.core.outfile",
    "Outcome": "jobdash.core.service.answers",
    "parse_duration": "jobdash.core.values",
    "Plan": "jobdash.core.service.answers",
    "preview_planning": "jobdash.core.service.schedules",
    "read_config": "jobdash.core.service.locations",
    "real_user": "jobdash.core.identity",
    "Service": "jobdash.core.service.facade",
    "skipped": "jobdash.core.service.answers",
    "store_location": "jobdash.core.service.locations",
    "unrunnable": "jobdash.core.config.runnable",
    "write_new": "jobdash.core.outfile",
    "write_output": "jobdash.core.outfile",
    "zone": "jobdash.core.scheduler",
}

__all__ = [
    "CATCHUP_BOUND",
    "LEASE_MARGIN",
    "Changes",
    "Export",
    "GroupRetry",
    "JsonList",
    "LogFeed",
    "NeedsLoop",
    "Outcome",
    "Plan",
    "Service",
    "check_group_id",
    "check_store_ahead",
    "checked_report",
    "collector_held",
    "config_timezone",
    "create_new",
    "db_command",
    "find_config_path",
    "freeze_start_up",
    "held_lease_end",
    "hold_collector",
    "import_crontab",
    "init_store",
    "is_text",
    "leases_moved",
    "open_binary_output",
    "open_output",
    "parse_duration",
    "preview_planning",
    "read_config",
    "real_user",
    "release_collector",
    "renew_held",
    "run_loop_free",
    "skipped",
    "store_location",
    "unrunnable",
    "write_new",
    "write_output",
    "zone",
]


def __getattr__(name: str) -> Any:
    if name not in WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(WHERE[name]), name)
    globals()[name] = value  # asked for once
    return value
