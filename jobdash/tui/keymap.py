"""Binding ids and the user's `[keymap]` (SPEC §8: every binding has an id so users can
remap it).

The config maps binding ids to key strings:

    [keymap]
    "job.cancel" = "ctrl+k"
    "tab.next" = "tab,right_square_bracket"

Textual applies the keymap itself (`App.set_keymap`) to every binding with that id,
wherever it is declared. Here we only check the ids, so a typo gets a warning instead
of doing nothing silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import import_module

from textual.binding import Binding

# Binding id prefix -> the heading it is shown under in the help screen.
GROUPS: dict[str, str] = {
    "app": "General",
    "tab": "Tabs",
    "job": "Jobs",
    "jobtable": "Job table",
    "filter": "Filter",
    "details": "Job details",
    "tasks": "Tasks",
    "log": "Log pane",
    "logview": "Log pane",
    "schedule": "Schedules",
    "schedules": "Schedules",
    "agent": "Agents",
    "agents": "Agents",
    "confirm": "Dialog",
    "start": "Dialog",
    "help": "Help",
}
GROUP_ORDER = list(dict.fromkeys(GROUPS.values()))

# Classes whose bindings can be remapped: ours, and the other screens' when present.
_BINDING_OWNERS = (
    ("jobdash.tui.app", "JobdashApp"),
    ("jobdash.tui.app", "DashboardScreen"),
    ("jobdash.tui.widgets.job_table", "JobTable"),
    ("jobdash.tui.widgets.log_view", "LogView"),
    ("jobdash.tui.widgets.filter_bar", "FilterBar"),
    ("jobdash.tui.dialogs.confirm", "ConfirmScreen"),
    ("jobdash.tui.dialogs.start_job", "StartJobScreen"),
    ("jobdash.tui.screens.help", "HelpScreen"),
    ("jobdash.tui.screens.job_details", "JobDetailsScreen"),
    ("jobdash.tui.widgets.schedules_pane", "SchedulesPane"),
    ("jobdash.tui.widgets.agents_pane", "AgentsPane"),
)


def group_of(binding_id: str | None) -> str:
    """The help heading of a binding id: its prefix before the first dot."""
    if not binding_id:
        return "Other"
    prefix = binding_id.split(".", 1)[0]
    return GROUPS.get(prefix, prefix.replace("_", " ").capitalize())


def known_bindings() -> dict[str, Binding]:
    """Every binding with an id that jobdash declares (id -> binding)."""
    found: dict[str, Binding] = {}
    for module_name, class_name in _BINDING_OWNERS:
        try:
            module = import_module(module_name)
        except ImportError:
            continue  # an optional screen that is not there yet
        owner = getattr(module, class_name, None)
        for cls in getattr(owner, "__mro__", ()):
            for binding in cls.__dict__.get("BINDINGS", ()):
                if isinstance(binding, Binding) and binding.id:
                    found.setdefault(binding.id, binding)
    return found


def unknown_ids(keymap: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """The ids in `keymap` that no binding has (typos, or ids of another version)."""
    known_set = set(known)
    return [binding_id for binding_id in keymap if binding_id not in known_set]
