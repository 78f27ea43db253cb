"""Bad input on the command line and in the config is refused with one line and exit status
2, through the real `jobdash` command (a subprocess): numbers past what SQLite or the clock
can hold, infinite or negative durations, a TOML file nested 500 deep, a secret that would be
echoed. None of these may print a traceback, and none may be accepted only to fail (or mean
"never") later, when an engine runs it.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
from collections.abc import Callable
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from jobdash import cli
from jobdash.cli import config as cli_config
from tests.conftest import run_cli, start_serve

HUGE = "9" * 20  # past 2**63 - 1, SQLite's largest integer
TWO_TO_63 = str(2**63)


def refused(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """The one line of a refusal (exit status 2, no traceback), checked for `words`."""
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["show", HUGE], ["job", "1 to 9223372036854775807"]),
        (["show", TWO_TO_63], ["job", "1 to 9223372036854775807"]),
        (["logs", HUGE], ["job"]),
        (["cancel", HUGE], ["job"]),
        (["pause", HUGE], ["job"]),
        (["resume", HUGE], ["job"]),
        (["retry", f"#{HUGE}"], ["job"]),
        (["show", "٣"], ["not a job id"]),  # int() would read Arabic-Indic digits as 3
        (["jobs", f"id:{HUGE}"], ["id must be a job number"]),
        (["logs", "1", "--task", HUGE], ["--task"]),
        (["logs", "1", "--tail", HUGE], ["--tail"]),
        (["jobs", "--limit", HUGE], ["--limit"]),
        (["schedule", "show", "x", "--limit", HUGE], ["--limit"]),
        (["--slots", HUGE, "jobs"], ["--slots"]),
        (["serve", "--slots", HUGE], ["--slots"]),
        (["agent", "--slots", "1" + "0" * 5000], ["--slots"]),
        (["schedule", "set", "x", "--catchup-bound", "99999999999999w"], ["--catchup-bound"]),
        (["jobs", "--since", "9" * 400 + "d"], ["since"]),
    ],
)
def test_numbers_out_of_range_are_refused_with_one_line(argv: list[str], words: list[str]) -> None:
    refused(run_cli(*argv), *words)


@pytest.mark.parametrize(
    "argv",
    [
        # A lease that never runs out: a dead agent's tasks would never run again.
        ["serve", "--lease", "inf"],
        ["serve", "--lease", "1e400"],
        ["agent", "--lease", "nan"],
        ["agent", "--lease", "1e-300"],  # its heartbeat would spin
        ["serve", "--grace", "-1"],
        ["serve", "--grace", "nan"],
        ["agent", "--grace", "inf"],
        ["agent", "--name", ""],
        ["serve", "--name", "   "],
    ],
)
def test_an_engine_with_a_bad_lease_grace_or_name_does_not_start(
    argv: list[str], tmp_path: Path
) -> None:
    """Refused before it starts: before the fix these ran (and so never returned)."""
    db = tmp_path / "engine.db"
    line = refused(run_cli(*argv, "--db", str(db), timeout=30))
    assert argv[1] in line
    assert not db.exists()  # no engine opened the store, no agent registered


# --------------------------------------------------------------------------- the config


def nested(depth: int) -> str:
    return "[jobdash]\nadmins = " + "[" * depth + "]" * depth + "\n"


T = "[types.t]\ncommand = ['true']\n"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param(nested(500), ["nested too deeply"], id="nested-500"),
        pytest.param(T + "parallel = 1" + "0" * 29, ["t.parallel", ":3:"], id="parallel"),
        pytest.param(T + "parallel = " + "7" * 5000, ["not readable"], id="5000-digits"),
        pytest.param(T + "retries = 1" + "0" * 20, ["t.retries", "0 to 100"], id="retries"),
        pytest.param(T + "timeout = '99999999999999w'", ["t.timeout", "at most"], id="timeout"),
        pytest.param(T + "backoff = inf", ["t.backoff"], id="backoff-inf"),
        pytest.param(T + "backoff = nan", ["t.backoff"], id="backoff-nan"),
        pytest.param("[jobdash]\nretention = 1e300", ["retention", "at most"], id="retention"),
        pytest.param(  # found by the config fuzzer: float() of it overflowed
            "[jobdash]\nretention = 1" + "0" * 400, ["retention", "at most"], id="retention-int"
        ),
        pytest.param(T + "timeout = -" + "9" * 400, ["t.timeout"], id="timeout-negative-int"),
        pytest.param(
            T + "schedule = 'interval: 999999999999999999999999h'",  # was shown as disabled
            ["t.schedule", "interval", "at most"],
            id="interval",
        ),
        pytest.param(
            T + "schedule = { planning = 'cron: 0 3 * * *', catchup_bound = '9999999999d' }",
            ["catchup_bound", "at most"],
            id="catchup-bound",
        ),
        pytest.param(
            T + "schedule = 'once: 0001-01-01T00:00+05:00'",  # before year 1 in UTC
            ["t.schedule", "once", "year"],
            id="once-year-1",
        ),
    ],
)
def test_config_numbers_out_of_range_fail_check_with_one_line(
    text: str, words: list[str], write_config: Callable[[str], Path]
) -> None:
    """`jobdash check` refuses what would fail (or never fire) once an engine runs it."""
    write_config(text)
    refused(run_cli("check"), "jobdash.toml", *words)


def test_a_type_with_a_huge_parallel_is_refused_before_any_job_exists(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    """Before the fix `check` said ok and `run` died in the store with an OverflowError."""
    write_config("[types.t]\ncommand = ['true']\nparallel = " + "1" + "0" * 29 + "\n")
    db = tmp_path / "store.db"
    refused(run_cli("run", "t", "--db", str(db)), "types.t.parallel")
    assert not db.exists()


@pytest.mark.parametrize("secret", ["12345678", "3.14159", "[1234, 5678]", "true"])
def test_a_wrong_smtp_password_is_never_shown(
    secret: str, write_config: Callable[[str], Path]
) -> None:
    write_config(f"[smtp]\nhost = 'mail'\npassword = {secret}\n")
    line = refused(run_cli("check"), "smtp.password", "not shown")
    for part in ("1234", "5678", "3.14", "true"):
        assert part not in line


def test_the_bounds_still_accept_the_largest_good_values(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    """The bounds are limits, not a narrower feature: their edges pass."""
    write_config(
        "[jobdash]\nretention = '36500d'\n[types.t]\ncommand = ['true']\nparallel = 10000\n"
        "retries = 100\ntimeout = '36500d'\nschedule = 'interval: 36500d'\n"
    )
    assert run_cli("check").returncode == 0
    db = tmp_path / "store.db"
    done = run_cli("jobs", "--db", str(db), f"id:{2**63 - 1}", "--limit", str(2**63 - 1))
    assert done.returncode == 0, done.stderr
    done = run_cli("show", "--db", str(db), str(2**63 - 1))
    assert done.returncode == 2 and "show: no job 9223372036854775807" in done.stderr


# ------------------------------------------------------------------------ last resort


def test_an_unexpected_error_is_one_line_that_says_it_is_a_bug(
    monkeypatch: pytest.MonkeyPatch, write_config: Callable[[str], Path]
) -> None:
    """Whatever escapes every named check (a bug) is still one line, not a traceback, and
    says what it is; JOBDASH_DEBUG=1 lets the traceback through for whoever fixes it."""
    write_config("[types.t]\ncommand = ['true']\n")

    async def broken(svc: object, a: object) -> int:
        raise ZeroDivisionError("a bug\nwith two lines and an \x1b[2J escape")

    monkeypatch.setitem(cli_config.COMMANDS, "types", broken)
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        assert cli.main(["types"]) == 1
    (line,) = stderr.getvalue().strip().splitlines()
    assert line.startswith("jobdash: internal error")
    assert "ZeroDivisionError" in line and "\x1b" not in line
    monkeypatch.setenv("JOBDASH_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli.main(["types"])


def test_the_store_is_intact_after_refusals(tmp_path: Path) -> None:
    """A refused command changed nothing: the store's jobs are the same afterwards."""
    db = tmp_path / "store.db"
    (tmp_path / "jobdash.toml").write_text("[types.t]\ncommand = ['true']\n")
    assert run_cli("run", "t", "--db", str(db)).returncode == 0
    before = json.loads(run_cli("jobs", "--json", "--db", str(db)).stdout)
    for argv in (["cancel", HUGE], ["retry", TWO_TO_63], ["logs", "1", "--tail", HUGE]):
        refused(run_cli(*argv, "--db", str(db)))
    after = json.loads(run_cli("jobs", "--json", "--db", str(db)).stdout)
    assert [(j["id"], j["status"]) for j in after] == [(j["id"], j["status"]) for j in before]
    with sqlite3.connect(db) as conn:  # the SQLite file's own check of itself
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_arguments_that_are_not_utf8_are_refused_but_file_names_may_be(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    """Bytes that are not UTF-8 (b"caf\\xe9", Latin-1) used to crash where they were stored
    or printed. File names may be any bytes the system allows."""
    write_config("[types.echo]\nparams.word = { required = true }\ncommand = ['echo', '{word}']\n")
    db = tmp_path / "store.db"
    latin1 = os.fsdecode(b"caf\xe9")
    refused(run_cli("run", "echo", "-p", f"word={latin1}", "--db", str(db)), "not UTF-8")
    refused(run_cli("jobs", latin1, "--db", str(db)), "not UTF-8")
    refused(run_cli("agent", "drain", latin1, "--db", str(db)), "not UTF-8")
    assert not db.exists()  # nothing was submitted
    odd = tmp_path / os.fsdecode(b"conf\xe9.toml")
    odd.write_text("[types.t]\ncommand = ['true']\n")
    done = run_cli("check", "--config", str(odd), "--db", str(db))
    # The byte that is not UTF-8 is shown as a stand-in (as `ls` shows "?"), never raw.
    assert done.returncode == 0 and "conf\ufffd.toml: ok" in done.stdout, done.stderr


def test_a_value_of_two_dashes_is_one_line_not_an_internal_error(tmp_path: Path) -> None:
    """argparse drops a value "--" given as `--opt=--` and handed the option an empty list:
    `run --params-from=-- T` ended in "internal error (a bug)" (found by the CLI fuzzer)."""
    db = tmp_path / "store.db"
    for argv, option in (
        (["run", "--params-from=--", "t"], "--params-from"),
        (["run", "t", "-p--"], "-p"),
        (["jobs", "--limit=--"], "--limit"),
    ):
        line = refused(run_cli(*argv, "--db", str(db)))
        assert f"{option}: '--' is not a value" in line, line
    assert not db.exists()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://%zz", ["not a PostgreSQL URL", "percent-encoded"]),
        ("postgresql://h/db?nosuchparam=1", ["not a PostgreSQL URL", "nosuchparam"]),
        ("postgresql://[::1/x", ["not a PostgreSQL URL", "IPv6"]),
    ],
)
def test_a_postgresql_url_libpq_cannot_read_is_one_line(url: str, words: list[str]) -> None:
    """Such a URL ended in "internal error (a bug)": libpq's parser raised before any
    connection was tried (found by hand)."""
    line = refused(run_cli("jobs", "--db", url), *words)
    assert line.startswith(f"jobdash: {url}: ") and "␊" not in line, line


def test_a_usage_error_quoting_a_newline_or_escape_stays_one_inert_line() -> None:
    line = refused(run_cli("types", "a\nb\x1b[2J"))  # argparse: "unrecognized arguments"
    assert "\x1b" not in line and "a␊b␛[2J" in line


@pytest.mark.parametrize("value", ["inf", "1e400"])
def test_an_infinite_lease_from_the_environment_falls_back_to_the_default(
    value: str, tmp_path: Path
) -> None:
    """JOBDASH_LEASE is read like any other bad value of it: ignored, not taken as 'never'."""
    db = tmp_path / "engine.db"
    proc = start_serve(tmp_path / "serve.log", "--db", str(db), env={"JOBDASH_LEASE": value})
    try:
        assert "lease 15s" in (tmp_path / "serve.log").read_text()
    finally:
        proc.kill()
        proc.wait(10)


UNKNOWN = [
    (["show", "999"], "show: no job 999"),
    (["why", "999"], "why: no job 999"),
    (["logs", "999"], "logs: no job 999"),
    (["artifacts", "999"], "artifacts: no job 999"),
    (["artifact", "999", "report.pdf"], "artifact: no job 999"),
    *(([c, "999"], f"{c}: no job 999") for c in ("cancel", "pause", "resume", "retry")),
    (["cancel", "--force", "999"], "cancel: no job 999"),
    (["failures", "show", "0123456789ab"], "failures show: no failure group 0123456789ab"),
    (["failures", "retry", "0123456789ab"], "failures retry: no failure group 0123456789ab"),
    (["schedule", "show", "nope"], "schedule show: no schedule 'nope'"),
    (["schedule", "run", "nope"], "schedule run: no schedule 'nope'"),
    (["schedule", "disable", "nope"], "schedule disable: no schedule 'nope'"),
    (["schedule", "set", "nope", "--every", "5m"], "schedule set: no schedule 'nope'"),
    (["agent", "drain", "nobody"], "agent drain: no agent named nobody"),
]


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An existing store with nothing in it (so that no command says it created one)."""
    env = {"JOBDASH_DB": str(tmp_path_factory.mktemp("empty") / "j.db")}
    assert run_cli("jobs", env=env).returncode == 0
    return env


@pytest.mark.parametrize(("argv", "said"), UNKNOWN, ids=[" ".join(a) for a, _ in UNKNOWN])
def test_every_command_says_an_unknown_id_alike(
    empty_store: dict[str, str], argv: list[str], said: str
) -> None:
    """A job id, failure group, schedule or agent that is not there is bad input, exit status
    2 and one line naming the command and the id, whichever command was given it (`why`
    said so with 2, `show`, `logs`, `cancel`, `failures show` … with 1)."""
    done = run_cli(*argv, env=empty_store)
    assert refused(done, said).startswith(f"jobdash: {said}")
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param("command = ['/no/such/cmd']", [":3:", "t.command", "no such file"], id="abs"),
        pytest.param("command = ['nosuchcmd-zz']", [":3:", "t.command", "not on PATH"], id="path"),
        pytest.param("command = ['DIR/tool.sh']", ["t.command", "not executable"], id="noexec"),
        pytest.param(
            "command = ['true']\nfinalize = ['/no/such/fin']",
            [":4:", "t.finalize", "no such file"],
            id="finalize",
        ),
        pytest.param(
            "command = ['true']\nitems = { command = ['/no/such/ls'] }",
            ["t.items.command", "no such file"],
            id="items",
        ),
        pytest.param("function = 'nosuchmod:fn'", [":3:", "t.function", "no module"], id="module"),
        pytest.param(
            "function = 'here:go'\nfinalize = 'nosuchpkg.sub:fin'",
            ["t.finalize", 'no module "nosuchpkg.sub"'],
            id="finalize-module",
        ),
    ],
)
def test_check_refuses_a_type_the_engine_could_not_start_here(
    text: str, words: list[str], write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    """A typo in a program or a module passed `check` and failed at the first run (at the
    first fire time, for a schedule): now it is one line naming the key, exit 2."""
    config = write_config(f"[jobdash]\n[types.t]\n{text.replace('DIR', str(tmp_path))}\n")
    (config.parent / "here.py").write_text("async def go(ctx):\n    pass\n")
    (tmp_path / "tool.sh").write_text("#!/bin/sh\n")  # no execute bit
    refused(run_cli("check"), "jobdash.toml", *words)


def test_check_accepts_what_the_engine_would_start(write_config: Callable[[str], Path]) -> None:
    """Programs on PATH or by absolute path, modules next to the config, placeholders and
    relative paths (the engine's working folder decides) pass."""
    config = write_config(
        "[types.a]\ncommand = ['true']\nfinalize = ['/bin/true']\n"
        "[types.b]\nfunction = 'here:go'\nfinalize = 'here:go'\n"
        "[types.c]\ncommand = ['{tool}']\nparams.tool = { default = 'x' }\n"
        "[types.d]\ncommand = ['./bin/tool']\n"
    )
    (config.parent / "here.py").write_text("async def go(ctx):\n    pass\n")
    done = run_cli("check")
    assert done.returncode == 0 and "ok — 4 job types" in done.stdout, done.stderr


def test_check_refuses_a_web_password_that_is_no_hash(write_config: Callable[[str], Path]) -> None:
    write_config("[web]\npassword_hash = 'hunter2-plain'\n")
    line = refused(run_cli("check"), "web.password_hash", "not a password hash")
    assert "hunter2" not in line
