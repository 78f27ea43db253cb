"""The command line starts quickly because it imports only what a command needs: the
dashboard (Textual), the scheduler's APScheduler and the engine's runners are loaded by
the commands that use them, and Rich's tables and live display only when one is drawn.

Asserted on the set of modules each command leaves in `sys.modules` (run in a fresh
interpreter through `jobdash.cli.main`, as the `jobdash` script runs it), not on a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# Runs `jobdash ARGS` in this interpreter, then writes the modules it imported to FILE.
WRAPPER = """\
import json, sys
from jobdash.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as e:
    code = e.code
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""

# Never needed by a command that only reads or submits.
NEVER = ("textual", "apscheduler", "jobdash.tui", "jobdash.core.runners", "jobdash.core.reports")


def imported(tmp_path: Path, *args: str) -> tuple[object, set[str]]:
    """The exit status of `jobdash ARGS` and the modules it imported."""
    out = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", WRAPPER, str(out), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    done = json.loads(out.read_text())
    return done["code"], set(done["modules"])


def loaded(modules: set[str], *names: str) -> list[str]:
    """The modules of `modules` that are one of `names` or inside one of them."""
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.fixture
def store(tmp_path: Path, write_config: Callable[[str], Path]) -> list[str]:
    """The options of a store with one queued job (id 1) of a command type."""
    config = write_config('[types.hello]\ncommand = ["echo", "hello"]\n')
    return ["--db", str(tmp_path / "s.db"), "--config", str(config)]


# What `--help` may load of jobdash: the grammar and the few constants and checks it uses.
GRAMMAR = {
    "jobdash",
    "jobdash.cli",
    "jobdash.cli.main",
    "jobdash.cli.parser",
    "jobdash.cli.declarations",
    "jobdash.core",
    "jobdash.core.heap",  # the cycle collector held while the process starts
    "jobdash.core.limits",
    "jobdash.core.service",  # the front ends' door to it (the package alone: lazy names)
    "jobdash.present",
    "jobdash.present.text",
}


@pytest.mark.parametrize("args", [["--help"], ["jobs", "--help"], ["schedule", "set", "--help"]])
def test_help_loads_the_grammar_and_argparse_only(tmp_path: Path, args: list[str]) -> None:
    """No command module, no model (its dataclasses), no Rich, no asyncio: `--help` costs
    an interpreter and argparse."""
    code, modules = imported(tmp_path, *args)
    assert code == 0
    assert loaded(modules, "jobdash") == sorted(GRAMMAR)
    assert loaded(modules, "rich", "asyncio", "dataclasses", "sqlite3", *NEVER) == []


def test_a_usage_error_loads_no_more_than_help(tmp_path: Path) -> None:
    code, modules = imported(tmp_path, "jobs", "--limit", "0")
    assert code == 2
    assert loaded(modules, "jobdash", "rich", "asyncio") == sorted(GRAMMAR)


@pytest.mark.parametrize(
    ("args", "own"),
    [(["jobs"], "jobs"), (["schedules"], "schedules"), (["agents"], "engine")],
)
def test_a_command_loads_its_own_module_and_no_other_commands(
    tmp_path: Path, args: list[str], own: str
) -> None:
    code, modules = imported(tmp_path, "--db", str(tmp_path / "s.db"), *args)
    assert code == 0
    commands = ("jobs", "run", "logs", "schedules", "engine", "config", "failures", "audit")
    assert {m.rsplit(".", 1)[1] for m in modules if m.startswith("jobdash.cli.")} & set(
        commands
    ) == {own}


@pytest.mark.parametrize("color", ["auto", "always", "never"])
def test_jobs_on_an_empty_store_loads_no_rich_and_no_engine(tmp_path: Path, color: str) -> None:
    """It prints one plain line on stderr ("no jobs match"), written without Rich: Rich's
    consoles are made when something is printed through them."""
    db = str(tmp_path / "empty.db")
    imported(tmp_path, "--db", db, "jobs")  # the first opening creates the store
    code, modules = imported(tmp_path, "--color", color, "--db", db, "jobs")
    assert code == 0
    assert "jobdash.core.service" in modules  # it did read the store
    assert loaded(modules, *NEVER, "jobdash.core.agent.agent", "rich") == []


def test_a_command_that_prints_a_table_still_loads_rich(tmp_path: Path, store: list[str]) -> None:
    """The check above is not vacuous: the wrapper sees Rich where a listing is drawn."""
    imported(tmp_path, *store, "run", "hello")
    code, modules = imported(tmp_path, *store, "jobs")
    assert code == 0
    assert "rich.console" in modules and "rich.table" in modules


@pytest.mark.parametrize(
    "args",
    [["run", "hello"], ["jobs"], ["jobs", "--json"], ["show", "1"], ["logs", "1"]],
    ids=" ".join,
)
def test_reading_and_submitting_load_no_dashboard_and_no_scheduler(
    tmp_path: Path, store: list[str], args: list[str]
) -> None:
    code, _ = imported(tmp_path, *store, "run", "hello")  # job 1, queued (no engine runs)
    assert code == 0
    code, modules = imported(tmp_path, *store, *args)
    assert code == 0
    assert loaded(modules, *NEVER, "jobdash.core.agent.agent", "rich.progress") == []


@pytest.mark.parametrize("args", [["jobs", "--json"], ["show", "1", "--json"]], ids=" ".join)
def test_json_of_jobs_loads_no_rich(tmp_path: Path, store: list[str], args: list[str]) -> None:
    """JSON is written as it is: no console, no table, no text of Rich's."""
    code, _ = imported(tmp_path, *store, "run", "hello")
    assert code == 0
    code, modules = imported(tmp_path, *store, *args)
    assert code == 0
    assert loaded(modules, "rich") == []


def test_the_dashboard_and_the_engine_are_still_loaded_where_they_are_used(
    tmp_path: Path, store: list[str]
) -> None:
    """The check above is not vacuous: `check` with a keymap loads the dashboard's
    bindings, and the wrapper sees what a command imports."""
    config = Path(store[-1])
    config.write_text(config.read_text() + '[keymap]\n"job.cancel" = "k"\n')
    code, modules = imported(tmp_path, *store, "check")
    assert code == 0
    assert "textual" in modules and "jobdash.tui.keymap" in modules


@pytest.mark.parametrize(
    "args",
    [
        ["completion", "bash"],
        ["__complete", "bash", "jobdash sch", "sch"],
        ["import-crontab", "/dev/null"],
        ["systemd-unit"],
        ["--color", "always", "jobs"],
    ],
    ids=" ".join,
)
def test_completion_and_the_unix_commands_load_no_dashboard_and_no_engine(
    tmp_path: Path, args: list[str]
) -> None:
    code, modules = imported(tmp_path, *args)
    assert code == 0
    assert loaded(modules, *NEVER, "jobdash.core.agent.agent", "rich.table") == []


def test_every_declared_command_has_a_handler() -> None:
    """A command is declared in one place (its grammar) and run from another (its module's
    `COMMANDS`, found through `main.COMMANDS`): none is left without what runs it."""
    import importlib

    from jobdash.cli.declarations import DECLARED

    main = importlib.import_module("jobdash.cli.main")  # the module (`cli.main` is its function)

    # Run by `main` itself: the store's setup, the browser's server, no store at all.
    by_main = {"db", "web", *main.STORELESS}
    for command in DECLARED:
        if command in by_main:
            continue
        module = importlib.import_module(f"jobdash.cli.{main.COMMANDS[command]}")
        assert callable(module.COMMANDS[command]), command
    assert set(main.COMMANDS) | by_main == set(DECLARED)
    for module_name, function in main.STORELESS.values():
        assert callable(getattr(importlib.import_module(f"jobdash.cli.{module_name}"), function))


def test_the_service_package_names_each_export_where_it_is() -> None:
    """`jobdash.core.service` imports a name's module when the name is first asked for
    (`WHERE`): every name it exports is there, and is the object its module defines."""
    import importlib

    service = importlib.import_module("jobdash.core.service")
    assert sorted(service.__all__) == sorted(service.WHERE)
    for name, module in service.WHERE.items():
        assert getattr(service, name) is getattr(importlib.import_module(module), name)


def test_jobs_loads_neither_the_crontab_reader_nor_the_log_feed(tmp_path: Path) -> None:
    code, modules = imported(tmp_path, "--db", str(tmp_path / "empty.db"), "jobs")
    assert code == 0
    assert "jobdash.core.service.facade" in modules
    unused = ("jobdash.core.crontab", "jobdash.core.service.log_feed")
    assert loaded(modules, *unused, "jobdash.core.service.setup", "jobdash.core.artifacts") == []
    # Nor the exports' module (JSON lists and CSV): `jobs --json` writes with it.
    assert loaded(modules, "jobdash.core.service.export") == []
    code, modules = imported(tmp_path, "--db", str(tmp_path / "empty.db"), "jobs", "--json")
    assert code == 0
    assert "jobdash.core.service.export" in modules
    # Without a config file no TOML is read; no time is shown, no file written, no CSV.
    stdlib = ("tomllib", "tzlocal", "difflib", "csv", "mimetypes", "secrets")
    assert loaded(modules, *stdlib) == []


def test_every_dataclass_of_the_engine_has_a_docstring() -> None:
    """`@dataclass` makes a class without a docstring one from its signature, through
    `inspect.signature`, when the module is imported: a cost every command pays for the
    model's classes (`Job`'s 34 fields). Each says what it is instead."""
    import ast

    root = Path(__file__).parent.parent / "jobdash"
    bare = []
    for path in sorted((root / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ClassDef)
                and ast.get_docstring(node) is None
                and any("dataclass" in ast.unparse(d) for d in node.decorator_list)
            ):
                bare.append(f"{path.relative_to(root)}: {node.name}")
    assert bare == []


def test_a_store_and_config_named_need_no_user_folders(tmp_path: Path, store: list[str]) -> None:
    """platformdirs finds the user's config and data folders: `--db` and `--config` (or
    JOBDASH_DB and JOBDASH_CONFIG) name both, and it is not loaded."""
    code, modules = imported(tmp_path, *store, "jobs")
    assert code == 0
    assert loaded(modules, "platformdirs") == []


@pytest.mark.parametrize(
    ("words", "command"),
    [
        (["jobs"], "jobs"),
        (["--db", "x.db", "jobs", "--json"], "jobs"),
        (["--db=x.db", "--color", "never", "--config", "c.toml", "show", "1"], "show"),
        (["--db", "jobs", "show", "1"], "show"),  # a value that is a command's name
        (["--demo", "jobs"], None),  # another option first: the whole grammar
        (["--d", "x.db", "jobs"], None),  # an abbreviation, for argparse to read
        (["--", "jobs"], None),
        (["--db", "x.db"], None),
        (["--db"], None),
        (["nothing"], None),
        ([], None),
    ],
)
def test_the_grammar_declared_is_the_command_named(words: list[str], command: str | None) -> None:
    """`jobdash --db X jobs` declares `jobs` alone, as `jobdash jobs` does; whatever else
    comes first, every command is declared (and argparse says what is wrong)."""
    from jobdash.cli.declarations import DECLARED
    from jobdash.cli.parser import named_command

    assert named_command(words, DECLARED) == command


DASHBOARD_WORDS = [
    [],
    ["--db", "x.db", "--config", "c.toml"],
    ["--db=x.db", "--color", "never", "--demo", "--slots", "2", "--theme", "jobs"],
    ["--read-only", "--no-engine", "--low-bandwidth", "--mouse", "--config=c.toml"],
]


@pytest.mark.parametrize("words", DASHBOARD_WORDS)
def test_the_dashboards_options_alone_declare_no_command(words: list[str]) -> None:
    """`jobdash --db X --config Y` opens the dashboard without building every command's
    parser: its arguments read as the whole grammar reads them."""
    from jobdash.cli.parser import build_parser, dashboard_only, parse_args

    assert dashboard_only(words)
    whole, extra = build_parser().parse_known_args(words)
    assert extra == []
    assert vars(parse_args(words)) == {"db": None, "config": None, "color": None, **vars(whole)}


@pytest.mark.parametrize(
    "words",
    [
        ["--demo", "jobs"],
        ["jobs"],
        ["--d", "x.db"],  # an abbreviation, for argparse to read
        ["--help"],
        ["--db", "x.db", "-h"],
        ["--version"],
        ["--demo=1"],
        ["--", "x"],
    ],
)
def test_any_other_word_gets_the_whole_grammar(words: list[str]) -> None:
    from jobdash.cli.parser import dashboard_only

    assert not dashboard_only(words)


def test_the_dashboards_options_are_the_top_level_parsers() -> None:
    """`DASHBOARD_OPTIONS` names every option of the top level (but help and version), and
    which take a value: one added to the parser and not there gets the whole grammar."""
    from jobdash.cli.parser import DASHBOARD_OPTIONS, build_parser

    options = {
        name: action.nargs != 0
        for action in build_parser("").arguments
        for name in action.option_strings
        if name.startswith("--") and name not in ("--help", "--version")
    }
    assert options == DASHBOARD_OPTIONS


def test_help_after_the_stores_option_is_the_commands(tmp_path: Path) -> None:
    def shown(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "jobdash", *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "100"},
        ).stdout

    db = str(tmp_path / "s.db")
    assert shown("--db", db, "jobs", "--help") == shown("jobs", "--help")
    assert "usage: jobdash jobs" in shown("--db", db, "--color", "never", "jobs", "--help")


def test_jobs_compiles_no_failure_fingerprint_rules(tmp_path: Path) -> None:
    """The rules that normalise a failure's text are compiled when a failure is recorded or
    grouped, not by every command that loads the store."""
    code = (
        "import sys; from jobdash.cli import main; "
        f"main(['--db', {str(tmp_path / 'empty.db')!r}, 'jobs']); "
        "from jobdash.core import fingerprint; "
        "print(fingerprint._rules.cache_info().currsize, fingerprint.fingerprint('exit 3: x'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split()[0] == "0"


# What `jobs` on an empty store prints no row with, so does not load: a row's looks (its
# timing, progress, durations; a log line's), OpenSSL's hashes (a type's hash at a
# submission, an artifact's checksum, a failure's fingerprint) and the time zone database
# (a time shown). `jobs` over jobs loads them: the check below is not vacuous.
NOT_FOR_NO_ROWS = (
    "hashlib",
    "_hashlib",
    "zoneinfo",
    "jobdash.present.durations",
    "jobdash.present.logs",
    "jobdash.present.progress",
    "jobdash.present.recovery",
    "jobdash.present.steps",
    "jobdash.present.timing",
    "jobdash.present.unread",
)


def test_jobs_on_an_empty_store_loads_no_row_looks_no_hashes_and_no_zones(
    tmp_path: Path, store: list[str]
) -> None:
    code, modules = imported(tmp_path, *store, "jobs")
    assert code == 0
    assert "jobdash.core.service.facade" in modules  # it did read the store
    assert loaded(modules, *NOT_FOR_NO_ROWS) == []
    code, modules = imported(tmp_path, *store, "run", "hello")  # a type's hash: hashlib
    assert code == 0
    assert "hashlib" in modules
    code, modules = imported(tmp_path, *store, "jobs")  # one row, its time in a zone
    assert code == 0
    assert loaded(modules, "jobdash.present.timing", "jobdash.present.durations") != []
    assert "zoneinfo" in modules


def test_jobs_compiles_none_of_the_configs_and_failures_patterns(tmp_path: Path) -> None:
    """Each `re.compile` of a module's import is paid by every command that loads it
    (~0.45 M instructions a pattern): those of reading a config file (where a key is, a
    size, a type's, a role's or a group's name, a function, a duration), of artifacts'
    files and of failures (a fingerprint's numbers and words, a group id) are compiled
    where they are used (`core.patterns`), and kept from then on."""
    code = (
        "import re; from jobdash.cli import main; from jobdash.core import patterns; "
        f"main(['--db', {str(tmp_path / 'empty.db')!r}, 'jobs']); "
        "from jobdash.core.config import checks, jobtypes, roles; "
        "from jobdash.core import fingerprint, values; "
        "from jobdash.core.service import failures; "
        "from jobdash.core.store import artifact_files; "
        "texts = {(t, 0) for t in (checks._SEG, checks._HEADER, checks._ASSIGN, "
        "checks._SIZE, jobtypes.TYPE_NAME, jobtypes.FUNCTION, roles.ROLE_NAME, "
        "roles.GROUP_NAME, values.PARAM_NAME, values._DURATION_PART, "
        "values._DURATION_NUMBER, artifact_files.FILE_NAME, "
        "fingerprint._NUMBER, fingerprint._SPACE, failures.GROUP_ID)}; "
        "texts.add((fingerprint._KEPT, re.IGNORECASE)); "
        "print(sum(key in texts for key in patterns._compiled)); "  # (text, flags)
        "fingerprint.normalise('exit 3: x'); failures.check_group_id('0123456789ab'); "
        "print(sum(key in texts for key in patterns._compiled))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    before, after = done.stdout.split()
    assert before == "0"
    assert int(after) == 4  # the check sees them once used: the failures' four


# What `jobs` (one read of the store) does not load: the plannings of schedules (their cron
# reader and the scheduler), which the store's schedules and the Service's schedule parts
# import where a schedule is read or changed; the records the engine and the scheduler
# write and claim (`engine_records`), and the views of what else the store reads out (a
# log's pages, artifacts, audit events, failure groups, why a job waits), each imported
# where one is made; and the engine's rules of waits and deaths (why a job waits, how a
# lost task is judged), which the store's engine-side methods, `why` and `pause` import
# where they use them. Each is dataclasses, a cost on Python 3.11 of ~0.5 ms each when its
# module is imported. Nor the answers of the Service's actions on many things (a plan, each
# one's outcome, a failure group's retry), imported by those actions; nor the store's
# records of its other reads (read marks, published types, the audit's and the failures'
# filters) and of agents, imported where one is made (none: no mark, no agent).
NOT_FOR_JOBS = (
    "jobdash.core.service.answers",
    "jobdash.core.store.side_records",
    "jobdash.core.agent_info",
    "jobdash.core.views",
    "jobdash.core.planning",
    "jobdash.core.cron",
    "jobdash.core.scheduler",
    "jobdash.core.store.engine_records",
    "jobdash.core.service.submission",
    "jobdash.core.waiting",
    "jobdash.core.deaths",
)


def test_jobs_loads_neither_plannings_nor_the_engines_records(
    tmp_path: Path, store: list[str]
) -> None:
    code, _ = imported(tmp_path, *store, "run", "hello")
    assert code == 0
    code, modules = imported(tmp_path, *store, "jobs")
    assert code == 0
    assert "jobdash.core.store.sql.schedules" in modules  # the store's part that reads them
    assert loaded(modules, *NOT_FOR_JOBS) == []
    # The check is not vacuous: `schedules` reads plannings, `run` makes a new job.
    code, modules = imported(tmp_path, *store, "schedules")
    assert code == 0
    assert "jobdash.core.planning" in modules
    code, modules = imported(tmp_path, *store, "run", "hello")
    assert code == 0
    assert "jobdash.core.store.engine_records" in modules
    code, modules = imported(tmp_path, *store, "logs", "1")
    assert code == 0
    assert "jobdash.core.views" in modules
    code, modules = imported(tmp_path, *store, "why", "1")
    assert code == 0
    assert "jobdash.core.waiting" in modules
    code, modules = imported(tmp_path, *store, "cancel", "1")
    assert code == 0
    assert "jobdash.core.service.answers" in modules
    code, modules = imported(tmp_path, *store, "audit")
    assert code == 0
    assert "jobdash.core.store.side_records" in modules
    code, modules = imported(tmp_path, *store, "agents")
    assert code == 0
    assert "jobdash.core.agent_info" in modules


@pytest.mark.parametrize("args", [["show", "1"], ["logs", "1"], ["run", "hello"]], ids=" ".join)
def test_show_logs_and_run_load_no_rules_of_waits_and_deaths(
    tmp_path: Path, store: list[str], args: list[str]
) -> None:
    """Submitting and reading one job load neither `core.waiting` nor `core.deaths`: the
    engine's admission, claims and recovery, `why` and `pause` use them."""
    code, _ = imported(tmp_path, *store, "run", "hello")
    assert code == 0
    code, modules = imported(tmp_path, *store, *args)
    assert code == 0
    assert loaded(modules, "jobdash.core.waiting", "jobdash.core.deaths") == []


def test_logs_into_a_pipe_loads_no_rich(tmp_path: Path, store: list[str]) -> None:
    """`jobdash logs JOB | …` writes plain lines: whether standard output is a terminal, and
    coloured, is told without Rich's console where no variable or `--color always` says
    more (then Rich decides, as it colours)."""
    code, _ = imported(tmp_path, *store, "run", "hello")
    assert code == 0
    code, modules = imported(tmp_path, *store, "logs", "1")  # the wrapper's output: a pipe
    assert code == 0
    assert loaded(modules, "rich") == []
    code, modules = imported(tmp_path, "--color", "always", *store, "logs", "1")
    assert code == 0
    assert "rich.console" in modules


# What a loop-free read (`core.loopfree`) leaves out: the event loop and what it brings (its
# thread pools, sockets), and the store's aiosqlite reader and writer thread.
LOOP_ONLY = ("asyncio", "aiosqlite", "concurrent.futures", "socket")


@pytest.mark.parametrize(
    "args",
    [["jobs"], ["jobs", "--json"], ["jobs", "--all", "--json"], ["show", "1"], ["why", "1"]],
    ids=" ".join,
)
def test_reads_of_a_sqlite_store_run_without_the_event_loop(
    tmp_path: Path, store: list[str], args: list[str]
) -> None:
    code, modules = imported(tmp_path, *store, "run", "hello")  # job 1, queued
    assert code == 0
    assert "asyncio" in modules  # a submission writes: on the loop (the check is not vacuous)
    code, modules = imported(tmp_path, *store, *args)
    assert code == 0
    assert "jobdash.core.service.facade" in modules  # it did read the store
    assert loaded(modules, *LOOP_ONLY) == []


def test_a_store_to_create_is_read_on_the_loop(tmp_path: Path) -> None:
    """Opening it writes it: `NeedsLoop`, said before anything is opened, and the command
    runs on the loop as any other; the next one reads without it, and without `logging`
    (loaded at a first message: `core.lazylog`; a time shown loads it, by tzlocal)."""
    db = str(tmp_path / "new.db")
    code, modules = imported(tmp_path, "--db", db, "jobs")
    assert code == 0
    assert "asyncio" in modules and "aiosqlite" in modules
    code, modules = imported(tmp_path, "--db", db, "jobs")
    assert code == 0
    assert loaded(modules, *LOOP_ONLY, "logging") == []
