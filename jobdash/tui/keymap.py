"""Binding ids and the user's `[keymap]` (every binding has an id so users can
remap it).

The config maps binding ids to key strings:

    [keymap]
    "job.cancel" = "ctrl+k"
    "tab.next" = "tab,right_square_bracket"

Textual applies the keymap itself (`App.set_keymap`) to every binding with that id,
wherever it is declared, and silently ignores what it cannot use. Here we check it, in
`jobdash check` and before the dashboard starts (`check_keymap`: one line naming the file,
the id and the key): an id that no binding has, a key that Textual never reports (a typo,
"nonsense-key-name", an escape sequence), and a keymap that gives one key two actions on
one screen are refused. Hints that name a key ("f to follow") take it from `key_for`, so
they follow a remap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.keys import (
    REPLACED_KEYS,
    Keys,
    key_to_character,
)

from jobdash.core.model import BadInput
from jobdash.present.text import sanitize

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
    "logs": "Log pane",
    "schedule": "Schedules",
    "schedules": "Schedules",
    "agent": "Agents",
    "agents": "Agents",
    "failures": "Failures",
    "failure": "Failures",
    "confirm": "Dialog",
    "start": "Dialog",
    "help": "Help",
}
GROUP_ORDER = list(dict.fromkeys(GROUPS.values()))


@cache
def _job_tables_screen() -> tuple[type, ...]:
    """The classes whose bindings act on the job tables: the first tab's, which the first
    frame shows (the other tabs' panes and their modules come after it)."""
    from jobdash.tui.app import JobdashApp
    from jobdash.tui.screens.dashboard import DashboardScreen
    from jobdash.tui.widgets.filter_bar import FilterBar
    from jobdash.tui.widgets.job_table import JobTable

    return (JobdashApp, DashboardScreen, JobTable, FilterBar)


@cache
def _dashboard_screens() -> dict[str, tuple[type, ...]]:
    """The dashboard's tabs: the classes whose bindings act together on each (app-wide
    keys everywhere), by the tab's name in messages. A key may do one thing per screen. On
    the Scheduled and Agents tabs the dashboard's job actions are off
    (DashboardScreen.JOB_ACTIONS).

    Imported when first asked, not at the top: these modules import this one (`key_for`)."""
    from jobdash.tui.widgets.agents_pane import AgentsPane
    from jobdash.tui.widgets.failures_pane import FailuresPane
    from jobdash.tui.widgets.filter_bar import FilterBar
    from jobdash.tui.widgets.line_table import LineTable
    from jobdash.tui.widgets.schedules_pane import SchedulesPane

    job_tables = _job_tables_screen()
    app, dash = job_tables[:2]
    return {
        JOB_SCREENS[0]: job_tables,
        "the Scheduled tab": (app, dash, SchedulesPane, LineTable),
        "the Agents tab": (app, dash, AgentsPane, LineTable),
        "the Failures tab": (app, dash, FailuresPane, LineTable, FilterBar),
    }


@cache
def _screens() -> dict[str, tuple[type, ...]]:
    """Every screen's classes, the dashboard's tabs first (see `_dashboard_screens`). The
    others' modules (details, logs, dialogs, help) are imported here, which a keymap's
    check and a hint of theirs need, and the dashboard's first frame does not."""
    from jobdash.tui.dialogs.confirm import ConfirmScreen
    from jobdash.tui.dialogs.edit_planning import EditPlanningScreen
    from jobdash.tui.dialogs.save_artifact import SaveArtifactScreen
    from jobdash.tui.dialogs.start_job import StartJobScreen
    from jobdash.tui.screens.failure_group import FailureGroupScreen
    from jobdash.tui.screens.help import HelpScreen
    from jobdash.tui.screens.job_details import JobDetailsScreen
    from jobdash.tui.screens.multi_log import MultiLogScreen
    from jobdash.tui.screens.schedule_details import ScheduleDetailsScreen
    from jobdash.tui.widgets.line_table import LineTable
    from jobdash.tui.widgets.log_view import LogView

    dashboard = _dashboard_screens()
    app = dashboard[JOB_SCREENS[0]][0]
    return {
        **dashboard,
        "the job details screen": (app, JobDetailsScreen, LogView, LineTable),
        "the several jobs' log": (app, MultiLogScreen, LogView),
        "the schedule details screen": (app, ScheduleDetailsScreen, LineTable),
        "the failure group screen": (app, FailureGroupScreen, LineTable),
        "the start-a-job dialog": (app, StartJobScreen),
        "the planning dialog": (app, EditPlanningScreen),
        "a confirmation": (app, ConfirmScreen),
        "the save-artifact dialog": (app, SaveArtifactScreen),
        "the help screen": (app, HelpScreen),
    }


JOB_SCREENS = ("the job tables",)


def group_of(binding_id: str | None) -> str:
    """The help heading of a binding id: its prefix before the first dot."""
    if not binding_id:
        return "Other"
    prefix = binding_id.split(".", 1)[0]
    return GROUPS.get(prefix, prefix.replace("_", " ").capitalize())


def _bindings(owner: Any) -> list[Binding]:
    """The bindings with an id that a class declares, its bases' included."""
    return [
        binding
        for cls in getattr(owner, "__mro__", ())
        for binding in cls.__dict__.get("BINDINGS", ())
        if isinstance(binding, Binding) and binding.id
    ]


@cache
def known_bindings() -> dict[str, Binding]:
    """Every binding with an id that jobdash declares (id -> binding, as declared)."""
    return _by_id(_screens())


@cache
def _job_tables_bindings() -> dict[str, Binding]:
    """The bindings of the job tables' tab (first in `_dashboard_bindings` too, so a binding
    found here is the one found there): the first frame's hints, found without importing
    the other tabs' panes."""
    return _by_id({JOB_SCREENS[0]: _job_tables_screen()})


@cache
def _dashboard_bindings() -> dict[str, Binding]:
    """The bindings of the dashboard's tabs, as `known_bindings` has them (the tabs come
    first there too): what the first frame's hints name, found without importing the rest."""
    return _by_id(_dashboard_screens())


def _by_id(screens: Mapping[str, tuple[type, ...]]) -> dict[str, Binding]:
    found: dict[str, Binding] = {}
    for owners in screens.values():
        for owner in owners:
            for binding in _bindings(owner):
                found.setdefault(binding.id or "", binding)
    return found


def _keys(binding: Binding, keymap: Mapping[str, str]) -> list[str]:
    """The keys a binding answers to under `keymap` (normalised as Textual does)."""
    keys = keymap.get(binding.id or "") or binding.key
    # As App.set_keymap and a binding's declaration name them: "?" is question_mark.
    return [b.key for b in Binding.make_bindings([Binding(keys, "")])]


def key_for(app: App[Any], binding_id: str) -> str:
    """The key of a binding as hints show it ("f", "F", "^s", "esc"): the user's keymap
    if it remaps the binding, else the default. Every hint that names a key uses this."""
    binding = (
        _job_tables_bindings().get(binding_id)
        or _dashboard_bindings().get(binding_id)
        or known_bindings()[binding_id]
    )
    keymap: Mapping[str, str] = getattr(app, "keymap", {})  # JobdashApp's, as it set it
    return sanitize(app.get_key_display(Binding(_keys(binding, keymap)[0], "")))


# The modifiers Textual puts before a key's name ("ctrl+shift+up", "alt+x").
MODIFIERS = frozenset({"alt", "ctrl", "hyper", "meta", "shift", "super"})


@cache
def _named_keys() -> frozenset[str]:
    """The names Textual gives keys that are not characters ("escape", "f5", "pageup")."""
    return frozenset(k.value.rpartition("+")[2] for k in Keys if not k.value.startswith("<"))


def key_problem(key: str) -> str | None:
    """What is wrong with `key` (one key of a keymap entry) as a key Textual reports, or
    None: one printable character ("k", "F", "?"), or a key's name ("escape", "f2",
    "question_mark", "slash"), after modifiers ("ctrl+k", "alt+shift+up")."""
    if len(key) == 1:  # Textual names it itself: "?" is question_mark
        return None if key.isprintable() and not key.isspace() else "is not a printable key"
    *modifiers, name = key.split("+")
    unknown = [m for m in modifiers if m not in MODIFIERS]
    if unknown:
        return f"has an unknown modifier {unknown[0]!r} (known: {', '.join(sorted(MODIFIERS))})"
    if len(set(modifiers)) < len(modifiers):
        return "repeats a modifier"
    if len(name) == 1 and name.isprintable() and not name.isspace():
        # Textual reports shift+a as "A", and ctrl with shift+a as "ctrl+shift+a".
        if modifiers == ["shift"] and name.isalpha():
            return f"never arrives: shift+{name} is the key {name.upper()}"
        if modifiers and name != name.lower():
            together = "+".join(sorted({*modifiers, "shift"}))
            return f"never arrives: write {together}+{name.lower()}"
        return None
    if name in _named_keys() or name in REPLACED_KEYS or key_to_character(name) is not None:
        return None
    return "is not a key name Textual knows (e.g. k, F, ctrl+k, f2, escape, question_mark)"


def keymap_problems(keymap: Mapping[str, str]) -> list[str]:
    """One line per keymap entry whose id no binding has, or whose key Textual never
    reports (each quoted inert: a config's text is data)."""
    known = known_bindings()
    problems: list[str] = []
    for binding_id, keys in keymap.items():
        shown = f'"{sanitize(binding_id)}" = "{sanitize(keys)}"'
        if binding_id not in known:
            problems.append(f"{shown}: no binding has this id (the dashboard's help lists them)")
            continue
        parts = [k.strip() for k in keys.split(",")]
        for key in parts:
            problem = "is empty" if not key else key_problem(key)
            if problem:
                problems.append(f"{shown}: key {sanitize(key)!r} {problem}")
                break
    return problems


def keymap_conflicts(keymap: Mapping[str, str]) -> list[str]:
    """One line per key that `keymap` makes do two things on one screen (a key bound to
    two binding ids there, one of them by the keymap: the defaults' own overlaps, such as
    `q` quitting or going back, are by design)."""
    problems: list[str] = []
    for screen, owners in _screens().items():
        by_key: dict[str, dict[str, bool]] = {}  # key -> binding id -> bound by the keymap
        for owner in owners:
            off: Iterable[str] = () if screen in JOB_SCREENS else getattr(owner, "JOB_ACTIONS", ())
            for binding in _bindings(owner):
                if binding.action.split("(")[0] in off:
                    continue
                remapped = binding.id in keymap
                for key in _keys(binding, keymap):
                    ids = by_key.setdefault(key, {})
                    ids[binding.id or ""] = ids.get(binding.id or "", False) or remapped
        for key, ids in by_key.items():
            if len(ids) > 1 and any(ids.values()):
                names = " and ".join(sorted(ids))
                problems.append(f'key "{key}" would do two things on {screen}: {names}')
    return problems


def check_keymap(keymap: Mapping[str, str], where: str) -> None:
    """Refuse (BadInput: one line, exit 2) a keymap with an unknown binding id, a key that
    Textual never reports, or a key given two actions on one screen; `where` names the
    config file. No keymap has nothing to check (and imports no screen to check it)."""
    if not keymap:
        return
    problems = keymap_problems(keymap) or keymap_conflicts(keymap)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise BadInput(f"{where}: [keymap]: {problems[0]}{more}")
