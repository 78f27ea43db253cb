"""The job-type catalogue as the config file defines it: each `[types.NAME]` table checked
and turned into a `JobType` (its parameters, items, command or function, locks, schedule,
report recipients).

Why strict: these tables drive commands that move and delete data, so every key is
checked now, each placeholder against the declared parameters, and a schedule that could
never fire (a required parameter without a default) is refused before any job exists.
"""

from __future__ import annotations

from collections.abc import Collection

from jobdash.core.config.checks import (
    Keys,
    Problem,
    as_bool,
    as_duration,
    as_int,
    as_str,
    as_str_list,
    as_table,
    as_timezone,
    check_keys,
    check_template,
)
from jobdash.core.limits import MAX_PARALLEL, MAX_RETRIES
from jobdash.core.model import (
    CATCHUP,
    OVERLAP,
    Items,
    JobType,
    Param,
    Report,
    SchedulePolicy,
)
from jobdash.core.patterns import compiled
from jobdash.core.values import ITEM, PARAM_NAME, address_problem, show, webhook_problem

# As text, compiled where a config is read (`core.patterns`).
TYPE_NAME = r"[a-z0-9][a-z0-9_-]*\Z"
FUNCTION = r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*\Z"
TYPE_KEYS = (
    "description",
    "params",
    "items",
    "command",
    "function",
    "finalize",
    "parallel",
    "timeout",
    "stall_after",
    "retries",
    "backoff",
    "locks",
    "on_lock",
    "exclusive",
    "cancellable",
    "schedule",
    "target",
    "report",
    "artifacts",
)
PARAM_KEYS = ("required", "default", "help")
ITEMS_KEYS = ("glob", "command", "list")
REPORT_KEYS = ("email", "webhook")
TYPE_REPORT_KEYS = (*REPORT_KEYS, "stalls")  # a type's report may also ask for stall reports
SCHEDULE_KEYS = ("planning", "overlap", "catchup", "catchup_bound", "report", "timezone")
ON_LOCK = ("wait", "refuse")
_COMMAND_IS_STRING = (
    'command must be an array of strings (argv); write ["sh", "-c", "..."] for a shell'
)


def job_type(name: str, value: object, source: str) -> JobType:
    keys: Keys = ("types", name)
    if not compiled(TYPE_NAME).match(name):
        raise Problem(
            keys,
            "type names use lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit",
        )
    table = as_table(value, keys)
    check_keys(table, TYPE_KEYS, keys)

    def at(key: str) -> Keys:
        return (*keys, key)

    params = _params(table["params"], at("params")) if "params" in table else ()
    names = [p.name for p in params]

    if "command" in table and "function" in table:
        raise Problem(
            at("function"), 'set either command = [argv...] or function = "module:attr", not both'
        )
    command: tuple[str, ...] | None = None
    function: str | None = None
    items: Items | None = None
    if "command" in table:
        command = _argv(table["command"], at("command"))
        if "items" in table:
            items = _items(table["items"], at("items"), names)
        _check_argv(command, at("command"), names, item_ok=items is not None)
    elif "function" in table:
        function = as_str(table["function"], at("function"))
        if not compiled(FUNCTION).match(function):
            raise Problem(
                at("function"),
                f'must be "module:attribute" (e.g. "mypkg.jobs:rebuild"), got {show(function)}',
            )
        if "items" in table:
            raise Problem(
                at("items"), "items only apply to command types; a function adds its own tasks"
            )
    else:
        raise Problem(keys, 'needs either command = [argv...] or function = "module:attr"')

    finalize = (
        _finalize(table["finalize"], at("finalize"), names, command is not None)
        if ("finalize" in table)
        else None
    )
    artifacts: tuple[str, ...] = ()
    if "artifacts" in table:
        if command is None:
            raise Problem(
                at("artifacts"),
                "artifacts globs are for command types; a Python task calls ctx.artifact()",
            )
        artifacts = as_str_list(table["artifacts"], at("artifacts"))
        for pattern in artifacts:
            check_template(pattern, at("artifacts"), names, item_ok=items is not None)

    locks = as_str_list(table["locks"], at("locks")) if "locks" in table else ()
    for lock in locks:
        check_template(lock, at("locks"), names, item_ok=False)

    target: str | None = None
    if "target" in table:
        target = as_str(table["target"], at("target"))
        if target not in names:
            declared = f"declared: {', '.join(names)}" if names else "this type declares none"
            raise Problem(
                at("target"), f"must name a declared parameter ({declared}), got {show(target)}"
            )

    on_lock = "wait"
    if "on_lock" in table:
        on_lock = as_str(table["on_lock"], at("on_lock"))
        if on_lock not in ON_LOCK:
            raise Problem(at("on_lock"), f'must be "wait" or "refuse", got {show(on_lock)}')

    schedule, policy, schedule_report, schedule_tz = (
        _schedule(table["schedule"], at("schedule"))
        if "schedule" in table
        else (None, SchedulePolicy(), Report(), None)
    )
    # A schedule starts the type with its parameters' defaults: one without would fail at
    # every fire time, so it is refused now rather than found failing at 3 a.m.
    for p in params if schedule else ():
        if p.required and not p.default:
            raise Problem(
                at("schedule"),
                f"parameter {p.name!r} is required and has no default, and a schedule starts "
                "the type with the defaults: give it a default, or remove the schedule",
            )
    return JobType(
        name=name,
        description=as_str(table["description"], at("description"))
        if "description" in table
        else "",
        params=params,
        items=items,
        command=command,
        function=function,
        parallel=as_int(table["parallel"], at("parallel"), 1, MAX_PARALLEL)
        if "parallel" in table
        else 1,
        timeout=as_duration(table["timeout"], at("timeout"), positive=True)
        if "timeout" in table
        else None,
        stall_after=as_duration(table["stall_after"], at("stall_after"), positive=True)
        if "stall_after" in table
        else None,
        retries=as_int(table["retries"], at("retries"), 0, MAX_RETRIES)
        if "retries" in table
        else 0,
        backoff=as_duration(table["backoff"], at("backoff")) if "backoff" in table else 1.0,
        locks=locks,
        on_lock=on_lock,
        exclusive=as_bool(table["exclusive"], at("exclusive")) if "exclusive" in table else False,
        cancellable=as_bool(table["cancellable"], at("cancellable"))
        if "cancellable" in table
        else True,
        schedule=schedule,
        schedule_policy=policy,
        schedule_report=schedule_report,
        schedule_timezone=schedule_tz,
        target=target,
        report=_report(table["report"], at("report"), TYPE_REPORT_KEYS)
        if "report" in table
        else Report(),
        source=source,
        finalize=finalize,
        artifacts=artifacts,
    )


def _finalize(
    value: object, keys: Keys, params: Collection[str], command: bool
) -> tuple[str, ...] | str:
    """A command type's finalize step is an argv (`finalize = ["mail-report", "{out}"]`,
    the placeholders of `command` without {item}: it runs once, after every item); a Python
    type's, "module:attr" of an async function `fn(ctx)`."""
    if command:
        argv = _argv(value, keys, "finalize of a command type")
        _check_argv(argv, keys, params, item_ok=False)
        return argv
    if not isinstance(value, str):
        raise Problem(keys, f'a Python type\'s finalize is "module:attribute", got {show(value)}')
    if not compiled(FUNCTION).match(value):
        raise Problem(
            keys, f'must be "module:attribute" (e.g. "mypkg.jobs:send_report"), got {show(value)}'
        )
    return value


def _argv(value: object, keys: Keys, what: str = "command") -> tuple[str, ...]:
    """An argv as the config writes it (`command`, an items command, a finalize step): an
    array of strings, not empty; a string is refused (no shell unless written out)."""
    if isinstance(value, str):
        raise Problem(keys, _COMMAND_IS_STRING.replace("command", what, 1))
    argv = as_str_list(value, keys)
    if not argv:
        raise Problem(keys, "must not be empty")
    return argv


def _check_argv(argv: tuple[str, ...], keys: Keys, params: Collection[str], item_ok: bool) -> None:
    """Every placeholder of `argv` is a declared parameter (or {item}, where `item_ok`)."""
    for element in argv:
        check_template(element, keys, params, item_ok=item_ok)


def _params(value: object, keys: Keys) -> tuple[Param, ...]:
    out: list[Param] = []
    for name, spec in as_table(value, keys).items():
        where = (*keys, name)
        if not compiled(PARAM_NAME).match(name):
            raise Problem(
                where,
                "parameter names use letters, digits, '-' and '_', starting with a letter or '_'",
            )
        if name == ITEM:
            raise Problem(where, "'item' is reserved for the {item} placeholder")
        spec = as_table(spec, where)
        check_keys(spec, PARAM_KEYS, where)
        default: str | None = None
        if "default" in spec:
            raw = spec["default"]
            if isinstance(raw, bool):
                default = "true" if raw else "false"
            elif isinstance(raw, str | int | float):
                default = str(raw)
            else:
                raise Problem(
                    (*where, "default"), f"must be a string, number or boolean, got {show(raw)}"
                )
        out.append(
            Param(
                name=name,
                required=as_bool(spec["required"], (*where, "required"))
                if "required" in spec
                else False,
                default=default,
                help=as_str(spec["help"], (*where, "help")) if "help" in spec else "",
            )
        )
    return tuple(out)


def _items(value: object, keys: Keys, params: Collection[str]) -> Items:
    if isinstance(value, list):
        values = as_str_list(value, keys, numbers=True)
        kind = "list"
    elif isinstance(value, dict):
        check_keys(value, ITEMS_KEYS, keys)
        if len(value) != 1:
            raise Problem(keys, "needs exactly one of glob, command, list")
        ((kind, raw),) = value.items()
        where = (*keys, kind)
        if kind == "glob":
            glob = as_str(raw, where, empty=False)
            check_template(glob, where, params, item_ok=False)
            return Items(glob=glob)
        if kind == "command":
            argv = _argv(raw, where)
            _check_argv(argv, where, params, item_ok=False)
            return Items(command=argv)
        values = as_str_list(raw, where, numbers=True)
        keys = where
    else:
        raise Problem(
            keys,
            'must be { glob = "..." }, { command = [argv...] }, { list = [...] } or an array, '
            f"got {show(value)}",
        )
    if not values:
        raise Problem(keys, f"the {kind} of items must not be empty")
    for element in values:
        check_template(element, keys, params, item_ok=False)
    return Items(values=values)


def _schedule(value: object, keys: Keys) -> tuple[str, SchedulePolicy, Report, str | None]:
    """`schedule = "cron: 0 3 * * *"`, or a table with the planning, the schedule's policies,
    the recipients of its runs' reports (besides the type's) and its time zone (else
    `[jobdash] timezone`'s): `{ planning = "...", overlap = "queue", catchup = "all",
    catchup_bound = "6h", report = { email = "..." }, timezone = "Europe/Paris" }`.
    The planning (see `jobdash.core.planning`) is checked now and kept in canonical form."""
    from jobdash.core.planning import PlanningError, parse_planning

    policy = SchedulePolicy()
    report = Report()
    tz = None
    if isinstance(value, dict):
        if "report" in value:
            report = _report(value["report"], (*keys, "report"))
        check_keys(value, SCHEDULE_KEYS, keys)
        if "timezone" in value:
            tz = as_timezone(value["timezone"], (*keys, "timezone"))
        if "planning" not in value:
            raise Problem(keys, 'a schedule table needs planning = "..."')
        policy = SchedulePolicy(
            overlap=_choice(value, "overlap", OVERLAP, keys, policy.overlap),
            catchup=_choice(value, "catchup", CATCHUP, keys, policy.catchup),
            catchup_bound=as_duration(
                value["catchup_bound"], (*keys, "catchup_bound"), positive=True
            )
            if "catchup_bound" in value
            else None,
        )
        value, keys = value["planning"], (*keys, "planning")
    text = as_str(value, keys, empty=False)
    try:
        planning = parse_planning(text)
    except PlanningError as exc:
        raise Problem(keys, str(exc)) from None
    if planning.kind == "automatic":
        raise Problem(
            keys, '"automatic" means the type\'s default planning; give the planning here'
        )
    return planning.text, policy, report, tz


def _choice(
    table: dict[str, object], key: str, allowed: tuple[str, ...], keys: Keys, default: str
) -> str:
    if key not in table:
        return default
    value = as_str(table[key], (*keys, key))
    if value not in allowed:
        raise Problem((*keys, key), f"must be one of {', '.join(allowed)}, got {show(value)}")
    return value


def _report(value: object, keys: Keys, allowed: tuple[str, ...] = REPORT_KEYS) -> Report:
    """Recipients (`email`, `webhook`); a type's also `stalls = true` (a stalled task is
    reported to the job's recipients: a schedule's report only adds recipients)."""
    table = as_table(value, keys)
    check_keys(table, allowed, keys)
    found: dict[str, tuple[str, ...]] = {}
    for key, problem_of in (("email", address_problem), ("webhook", webhook_problem)):
        raw = table.get(key, [])
        found[key] = (raw,) if isinstance(raw, str) else as_str_list(raw, (*keys, key))
        for recipient in found[key]:
            if problem := problem_of(recipient):
                raise Problem((*keys, key), problem)
    stalls = as_bool(table["stalls"], (*keys, "stalls")) if "stalls" in table else False
    return Report(email=found["email"], webhook=found["webhook"], stalls=stalls)
