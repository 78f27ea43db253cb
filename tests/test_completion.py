"""Shell completion through the real shells: the script `jobdash completion SHELL` prints is
loaded into bash (registered: `complete -p`; its function run as bash runs it on TAB, file
names by `compgen`), fish (`complete -C`, fish's own completion of a command line) and zsh
(the function run with zsh's completion variables, its answer caught where zsh's `_describe`
and `_files` would take it). Candidates come from the grammar and, for ids and types, from
a real store, read-only; no store, a store that never answers and hostile names complete
to nothing or to inert text, at once, without a traceback.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdash.cli import build_parser
from jobdash.cli.completion import TIMEOUT, value_kind
from jobdash.core.scheduler import Scheduler
from jobdash.core.service import Service
from tests.conftest import run_cli

CONFIG = """\
[types.import-files]
description = "Import files"
params.target = { default = "/srv/in", help = "the folder" }
target = "target"
command = ["true"]
schedule = "cron: 0 3 * * *"

[types.backup]
description = "Nightly \\u001b[31mbackup\\n(with a newline)"
command = ["true"]
"""
HOSTILE = "/srv/\x1b[2J\x07evil\nsecond line\tTAB"


def env_for(db: Path | str, config: Path | None = None) -> dict[str, str]:
    """The test's environment, `jobdash` (this venv's) first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["JOBDASH_DB"] = str(db)
    if config is not None:
        env["JOBDASH_CONFIG"] = str(config)
    return env


@pytest.fixture
async def store(tmp_path: Path, store_location: str) -> tuple[str, Path]:
    """The test's store (SQLite, or PostgreSQL for a test on both backends) with the
    config's schedule synced and three jobs no engine ran (queued: active), one with a
    hostile target; and the config."""
    config = tmp_path / "jobdash.toml"
    config.write_text(CONFIG)
    db = store_location
    svc = await Service.open(db=db, config=str(config))
    try:
        await Scheduler(svc).sync()
        await svc.submit("import-files")
        await svc.submit("import-files", {"target": HOSTILE})
        await svc.submit("backup")
    finally:
        await svc.close()
    return db, config


def bash(line: str, env: dict[str, str]) -> list[str]:
    """COMPREPLY after TAB at the end of `line` in bash with the script loaded (words split
    at blanks and at `=`, as COMP_WORDBREAKS does)."""
    script = run_cli("completion", "bash").stdout
    words = line.replace("=", " = ").split()
    if line.endswith(" "):
        words.append("")
    program = f"""{script}
complete -p jobdash
COMP_LINE={shlex.quote(line)}
COMP_POINT=${{#COMP_LINE}}
COMP_WORDS=({" ".join(shlex.quote(w) for w in words)})
COMP_CWORD={len(words) - 1}
_jobdash jobdash
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    registered, *reply = done.stdout.splitlines()
    assert registered == "complete -F _jobdash jobdash"
    return [r for r in reply if r]


def test_bash_completes_commands_options_and_choices(tmp_path: Path) -> None:
    env = env_for(tmp_path / "none.db")
    assert bash("jobdash sch", env) == ["schedules", "schedule"]
    assert bash("jobdash wh", env) == ["why", "whoami"]
    assert bash("jobdash who", env) == ["whoami"]
    assert bash("jobdash schedule ", env) == ["run", "enable", "disable", "show", "set", "preview"]
    assert bash("jobdash jobs --li", env) == ["--limit"]
    assert bash("jobdash --color ", env) == ["never", "auto", "always"]
    assert bash("jobdash jobs --color=al", env) == ["always"]  # bash's word is `al`
    assert bash("jobdash completion ", env) == ["bash", "zsh", "fish"]
    assert bash("jobdash export --format ", env) == ["csv", "json"]
    assert "Europe/Paris" in bash("jobdash schedule set x --tz Europe/P", env)
    assert "__complete" not in " ".join(bash("jobdash ", env))


def test_bash_completes_file_names_where_a_file_goes(tmp_path: Path) -> None:
    (tmp_path / "my crontab").write_text("")
    env = env_for(tmp_path / "none.db")
    os.chdir(tmp_path)
    assert bash("jobdash import-crontab my", env) == ["my crontab"]
    assert bash(f"jobdash --db={tmp_path}/my", env) == [f"{tmp_path}/my crontab"]


@pytest.mark.both_backends
def test_bash_completes_ids_and_types_from_the_store(store: tuple[str, Path]) -> None:
    db, config = store
    env = env_for(db, config)
    assert bash("jobdash run ", env) == ["backup", "import-files"]
    assert bash("jobdash run import-files -p t", env) == ["target="]
    assert bash("jobdash jobs --type i", env) == ["import-files"]
    assert bash("jobdash schedule run ", env) == ["import-files"]
    assert bash("jobdash show ", env) == ["3", "2", "1"]
    assert bash("jobdash why ", env) == ["3", "2", "1"]  # any job, as show
    # A --db typed on the line is the store read.
    elsewhere = env_for(Path(config).with_name("missing.db"))
    assert bash(f"jobdash --db {shlex.quote(db)} cancel ", elsewhere) == ["3", "2", "1"]


def test_hostile_names_complete_as_inert_single_lines(store: tuple[str, Path]) -> None:
    db, config = store
    env = env_for(db, config)
    for shell in ("zsh", "fish"):
        for words in (["jobdash", "show", ""], ["jobdash", "run", ""]):
            done = subprocess.run(
                ["jobdash", "__complete", shell, "--", *words],
                capture_output=True,
                text=True,
                env=env,
                timeout=30,
                check=False,
            )
            assert done.returncode == 0 and done.stderr == ""
            lines = done.stdout.splitlines()
            assert len(lines) == 3 if words[1] == "show" else 2, lines
            for line in lines:
                assert not any(ord(c) < 0x20 and c != "\t" for c in line), line
                assert line.count("\t") <= (1 if shell == "fish" else 0), line
    assert "2:import-files queued /srv/␛[2J␇evil␊second line TAB" in subprocess.run(
        ["jobdash", "__complete", "zsh", "--", "jobdash", "show", "2"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    ).stdout.replace("…", "")


def test_no_store_completes_nothing_and_creates_none(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.db"
    env = env_for(missing)
    assert bash("jobdash show ", env) == []
    assert bash("jobdash schedule run ", env) == []
    assert not missing.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a hung database)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def test_a_store_that_never_answers_completes_nothing_in_time(
    tmp_path: Path, silent_server: int
) -> None:
    env = env_for(tmp_path / "x.db")
    env["JOBDASH_DB"] = f"postgresql://jobdash@127.0.0.1:{silent_server}/jobdash?connect_timeout=60"
    start = time.monotonic()
    assert bash("jobdash show ", env) == []
    assert time.monotonic() - start < TIMEOUT + 5


def test_every_value_the_grammar_takes_is_completed_or_free_text() -> None:
    """A new option or positional gets a completion by what it is (a job id, a file, a
    choice …); the ones left are free text, listed here, so none is forgotten."""
    free = {
        "slots", "name", "grace", "lease", "host", "port", "sessions", "theme",
        "status", "user", "since", "limit", "task", "tail", "query", "cron", "every",
        "daily", "once", "catchup_bound", "planning", "count", "from_", "url", "start",
        "report_email", "report_webhook",
    }  # fmt: skip
    parsers = [build_parser()]
    unknown = set()
    while parsers:
        parser = parsers.pop()
        parsers.extend(sub for sub, _ in parser.commands.values())
        for action in parser.arguments:
            if action.nargs == 0 or action.dest in ("help", "version"):
                continue
            if action is parser.command_action:
                continue
            if value_kind(action) is None and action.dest not in free:
                unknown.add(action.dest)
    assert unknown == set()


FISH_SKIP = shutil.which("fish") is None
ZSH_SKIP = shutil.which("zsh") is None


@pytest.mark.skipif(FISH_SKIP, reason="fish is not installed (apt-get install fish)")
def test_fish_completes_through_its_own_completion(store: tuple[str, Path]) -> None:
    db, config = store
    script = run_cli("completion", "fish").stdout

    def fish(line: str) -> list[str]:
        done = subprocess.run(
            ["fish", "--no-config", "-c", f"{script}\ncomplete -C {shlex.quote(line)}"],
            capture_output=True,
            text=True,
            env=env_for(db, config),
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    assert fish("jobdash sched") == [  # fish sorts them; descriptions are cut at 60
        "schedule\tact on a schedule: run, enable, disable, set, show; preview…",
        "schedules\tschedules: planning, time zone, last and next run",
    ]
    assert fish("jobdash run ") == [
        "backup\tNightly ␛[31mbackup␊(with a newline)",
        "import-files\tImport files",
    ]
    assert [x.split("\t")[0] for x in fish("jobdash retry ")] == ["1", "2", "3"]
    assert fish("jobdash --color a") == ["always", "auto"]


@pytest.mark.skipif(ZSH_SKIP, reason="zsh is not installed (apt-get install zsh)")
def test_zsh_hands_the_candidates_to_describe(store: tuple[str, Path], tmp_path: Path) -> None:
    db, config = store
    script = run_cli("completion", "zsh").stdout

    def zsh(*words: str) -> list[str]:
        program = f"""
compdef() {{ print -r -- "compdef $*" }}
_describe() {{ print -rl -- "${{(@P)4}}" }}
_files() {{ print -r -- "FILES" }}
{script}
words=({" ".join(shlex.quote(w) for w in words)})
CURRENT={len(words)}
_jobdash
"""
        done = subprocess.run(
            ["zsh", "-f", "-c", program],
            capture_output=True,
            text=True,
            env=env_for(db, config),
            timeout=60,
            check=False,
        )
        registered, *lines = done.stdout.splitlines()
        assert registered == "compdef _jobdash jobdash", done.stderr
        return lines

    lines = zsh("jobdash", "schedule", "")
    assert [x.partition(":")[0] for x in lines] == [
        "run", "enable", "disable", "show", "set", "preview"
    ]  # fmt: skip
    assert lines[0] == "run:run the schedule's job now"
    assert all(len(x.partition(":")[2]) <= 60 for x in lines)  # descriptions cut at 60
    assert zsh("jobdash", "run", "im") == ["import-files:Import files"]
    assert zsh("jobdash", "--db", "") == ["FILES"]
