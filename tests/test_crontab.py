"""`jobdash import-crontab`: a crontab read as cron reads it (crontab(5): settings, macros,
ranges and steps, `%` as standard input), turned into job types that `jobdash check` accepts
and that an engine runs with cron's results; untrusted text comes out as inert TOML."""

from __future__ import annotations

import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jobdash.core.config import parse_config
from jobdash.core.config.writing import toml_comment, toml_string
from jobdash.core.crontab import (
    CrontabError,
    crontab_toml,
    import_entries,
    plain_argv,
    read_crontab,
    split_command,
)
from jobdash.core.model import JobStatus
from jobdash.core.service import Service
from jobdash.core.values import substitute
from tests.conftest import run_cli, wait_finished

SERVER = Path(__file__).parent / "data" / "crontab" / "server.crontab"
ENV_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BACKUP = "BACKUP_DIR=/var/backups/db "  # quoted in the crontab: its blank is kept
TEAM = ["ops@example.com", "dba@example.com"]


def imported_config(text: str, source: str = "test") -> dict[str, dict[str, object]]:
    """The job types import-crontab makes of `text`, as a TOML parser reads them back,
    after jobdash's own config check accepted them."""
    entries, skipped = read_crontab(text)
    toml = crontab_toml(import_entries(entries), skipped, source)
    parse_config(toml, "imported")  # raises ConfigError if jobdash would refuse it
    return tomllib.loads(toml).get("types", {})


def argv(table: dict[str, object]) -> list[str]:
    """A type's command as the engine runs it (placeholders substituted: none here)."""
    command = table["command"]
    assert isinstance(command, list)
    return [substitute(x, {}, "command") for x in command]


def test_a_real_world_crontab_becomes_job_types_that_jobdash_accepts() -> None:
    types = imported_config(SERVER.read_text())
    assert list(types) == [
        "pg-dump-all",
        "logrotate",
        "curl",
        "sync-inventory",
        "artisan",
        "find",
        "mail",
        "first-monday-report",
        "certbot",
        "apt-get",
        "echo",
        "printf",
        "collect_metrics",
    ]
    schedules = {name: t["schedule"] for name, t in types.items()}
    assert schedules["pg-dump-all"] == "cron: 30 2 * * 1-5"  # a range
    assert schedules["logrotate"] == "cron: @daily"  # macros
    assert schedules["apt-get"] == "cron: @weekly"
    assert schedules["sync-inventory"] == "cron: */15 9-17 * * mon-fri"  # a step, names
    assert schedules["collect_metrics"] == {  # below CRON_TZ=Asia/Tokyo
        "planning": "cron: 20,50 1-23/2 * JAN-Aug/2 *",
        "timezone": "Asia/Tokyo",
    }
    assert schedules["certbot"] == "cron: 0 22 * * Sun-Thu"
    # CRON_TZ: the zone of the schedules after it, as cronie reads them.
    tokyo = {"planning": "cron: 0 9 * * 1-5", "timezone": "Asia/Tokyo"}
    assert schedules["echo"] == tokyo
    assert schedules["printf"]["timezone"] == "Asia/Tokyo"
    # Comments right above an entry describe it; Debian's header block does not.
    assert types["pg-dump-all"]["description"] == "Nightly database dump, weekdays only"
    assert types["logrotate"]["description"] == "Rotate the application logs"
    assert "description" not in types["curl"]
    # No shell syntax: argv (simple quotes taken off); the env settings through `env`.
    assert argv(types["curl"]) == [
        "env",
        ENV_PATH,
        BACKUP,
        "/usr/bin/curl",
        "-fsS",
        "-m",
        "10",
        "--retry",
        "3",
        "-o",
        "/dev/null",
        "https://hc-ping.com/5c1f-44a2",
    ]
    assert argv(types["certbot"])[-2:] == ["--deploy-hook", "systemctl reload nginx"]
    # Shell syntax: SHELL -c, `\%` made `%`, `{}` kept as written.
    assert argv(types["pg-dump-all"])[3:] == [
        "/bin/bash",
        "-c",
        '/usr/local/bin/pg-dump-all --compress=9 > "$BACKUP_DIR/dump-$(date +%F).sql.gz" '
        "2>> /var/log/dump.log",
    ]
    assert argv(types["find"])[-1] == "find /tmp/uploads -type f -mtime +7 -exec rm -f {} \\;"
    assert argv(types["artisan"])[-1].startswith("cd /srv/www && ")
    # MAILTO: the report's recipients; MAILTO="" below it: none.
    assert types["mail"]["report"] == {"email": TEAM}
    assert "report" not in types["certbot"]


def test_percent_signs_are_standard_input_as_cron_writes_it() -> None:
    # Vixie cron's do_command: the first unescaped % ends the command; in the input each
    # % is a newline, `\%` a %, other backslashes stay, and a final newline is added.
    assert split_command("date +\\%F") == ("date +%F", "")
    assert split_command("mail -s hi bob%Hello,%%bye\\% now%") == (
        "mail -s hi bob",
        "Hello,\n\nbye% now\n",
    )
    assert split_command("cat%a\\b") == ("cat", "a\\b\n")
    assert split_command("cat%") == ("cat", "")
    entries, _ = read_crontab("0 0 1 * * /usr/bin/mail -s x boss@example.com%Hi%there%\n")
    assert entries[0].stdin == "Hi\nthere\n"


def test_settings_apply_to_the_entries_below_them() -> None:
    entries, _ = read_crontab(
        "* * * * * first\n"
        "MAILTO = a@example.com, b@example.com\n"
        "SHELL=/bin/bash\n"
        "A='  spaced  '\n"
        "-i=1\n"
        "* * * * * second\n"
        "MAILTO=\n"
        "* * * * * third\n"
    )
    first, second, third = entries
    assert (first.mailto, first.shell, first.env) == (None, "/bin/sh", ())
    assert second.mailto == ("a@example.com", "b@example.com")
    assert (second.shell, second.env) == ("/bin/bash", (("A", "  spaced  "), ("-i", "1")))
    assert third.mailto == ()
    # A name `env` could read as an option is not passed on, and said so.
    (imported,) = import_entries([second])
    assert imported.command == ("env", "A=  spaced  ", "second")
    assert "not a variable name, left out of the environment: -i" in imported.notes


def test_cron_tz_sets_the_zone_of_the_schedules_below_it_until_it_is_unset() -> None:
    text = "0 3 * * * first\nCRON_TZ=Europe/Paris\n0 3 * * * second\nCRON_TZ=\n0 3 * * * third\n"
    entries, skipped = read_crontab(text)
    toml = crontab_toml(import_entries(entries), skipped, "test")
    types = parse_config(toml, "imported").types
    zones = {name: (t.schedule, t.schedule_timezone) for name, t in types.items()}
    assert zones == {
        "first": ("cron: 0 3 * * *", None),
        "second": ("cron: 0 3 * * *", "Europe/Paris"),
        "third": ("cron: 0 3 * * *", None),
    }
    assert "CRON_TZ" not in toml.replace("crontab line", "")  # a setting, not a note to act on


def test_a_system_crontab_has_a_user_field_and_tabs_are_blanks() -> None:
    entries, _ = read_crontab(
        "17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly\n"
        "25 6\t* * *\troot\ttest -x /usr/sbin/anacron || run-parts /etc/cron.daily\n"
        "@daily\tbackup  nightly --full\n",
        system=True,
    )
    assert [(e.user, e.command) for e in entries] == [
        ("root", "cd / && run-parts --report /etc/cron.hourly"),
        ("root", "test -x /usr/sbin/anacron || run-parts /etc/cron.daily"),
        ("backup", "nightly --full"),
    ]
    imported = import_entries(entries)
    assert imported[2].command == ("nightly", "--full")
    assert "ran as user backup: the engine runs it as its own user" in imported[2].notes


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/usr/bin/backup --full /srv", ["/usr/bin/backup", "--full", "/srv"]),
        (
            "curl -o /dev/null 'https://x/?a=1&b=2'",
            ["curl", "-o", "/dev/null", "https://x/?a=1&b=2"],
        ),
        ('logger "disk check done"', ["logger", "disk check done"]),
        ("backup > /var/log/b.log 2>&1", None),  # redirection
        ("a && b", None),
        ("rm /tmp/*.tmp", None),  # a glob
        ('echo "$HOME"', None),  # an expansion inside double quotes
        ("cd /srv", None),  # a builtin
        ("FOO=1 run", None),  # an assignment
        ("ls ~/x", None),  # a tilde
        ("echo '' x", None),  # an empty argument (jobdash's argv has none)
        ("echo 'open", None),  # an unclosed quote
    ],
)
def test_only_commands_without_shell_syntax_run_as_argv(
    command: str, expected: list[str] | None
) -> None:
    assert plain_argv(command) == expected


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("* * * *\n", 1, "five time fields"),
        ("# ok\n61 * * * * x\n", 2, "minute"),
        ("0 0 30 2 * x\n", 1, "never"),
        ("@fortnightly x\n", 1, "unknown macro"),
        ("0 0 * * *\n", 1, "needs a command"),
        ("# zone\nCRON_TZ=Mars/Olympus\n0 0 * * * x\n", 2, "CRON_TZ: unknown time zone"),
    ],
)
def test_a_line_cron_refuses_is_one_line_naming_it(text: str, line: int, what: str) -> None:
    with pytest.raises(CrontabError, match=what) as e:
        read_crontab(text)
    assert e.value.line == line


def test_the_command_line_prints_toml_and_refuses_bad_input(tmp_path: Path) -> None:
    done = run_cli("import-crontab", str(SERVER))
    assert done.returncode == 0, done.stderr
    assert "line 28 not imported: @reboot" in done.stderr
    assert "# @reboot /usr/local/bin/start-tunnel" in done.stdout
    config = tmp_path / "imported.toml"
    config.write_text(done.stdout)
    checked = run_cli("check", "--config", str(config))
    assert checked.returncode == 0 and "13 job types" in checked.stdout, checked.stderr
    # From standard input, names the config has already are not reused.
    piped = run_cli("--config", str(config), "import-crontab", input="@daily echo hi\n")
    assert piped.returncode == 0 and "[types.echo-2]" in piped.stdout, piped.stderr
    bad = tmp_path / "bad.crontab"
    bad.write_text("# fine\n0 0 * * * ok\n0 0 * * mon-xyz broken\n")
    refused = run_cli("import-crontab", str(bad))
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith(f"jobdash: import-crontab: {bad}: line 3: ")
    assert len(refused.stderr.splitlines()) == 1
    bad.write_text("0 0 * * * ok\nCRON_TZ=Europe/Pariss\n0 0 * * * later\n")
    refused = run_cli("import-crontab", str(bad))
    assert (refused.returncode, refused.stdout, refused.stderr.strip()) == (
        2,
        "",
        f"jobdash: import-crontab: {bad}: line 2: CRON_TZ: unknown time zone 'Europe/Pariss' "
        '(e.g. "Europe/Paris", "UTC")',
    )
    bad.write_bytes(b"0 0 * * * ok\n0 0 * * * caf\xe9\n")
    refused = run_cli("import-crontab", str(bad))
    assert (refused.returncode, refused.stderr.strip()) == (
        2,
        f"jobdash: import-crontab: {bad}: line 2: not UTF-8 text",
    )


UNTRUSTED = [
    'say "hi"',
    "back\\slash",
    "new\nline",
    "esc \x1b[2J bell \x07 del \x7f nul \x00",
    "bidi \u202e override \u2028 separator",
    "emoji 🙂 and tab\t.",
]


@pytest.mark.parametrize("text", UNTRUSTED, ids=range(len(UNTRUSTED)))
def test_untrusted_text_round_trips_through_toml_and_prints_inert(text: str) -> None:
    written = toml_string(text)
    assert tomllib.loads(f"x = {written}")["x"] == text
    comment = toml_comment(text)
    assert tomllib.loads(f"{comment}\nx = 1") == {"x": 1}
    for shown in (written, comment):
        assert "\n" not in shown and not any(ord(c) < 0x20 and c != "\t" for c in shown)
        assert "\x7f" not in shown and "\u202e" not in shown and "\u2028" not in shown


def test_a_hostile_crontab_gives_inert_toml_whose_commands_are_exact() -> None:
    command = 'printf "%s" \x1b]0;title\x07 "q\\"uote" \\\\ {x} \u202eevil'
    written = command.replace("%", "\\%")  # a % of the command is escaped in a crontab
    text = f'# desc with \x1b[31m colour \u202e and "quotes" \\ \n* * * * * {written}\n'
    types = imported_config(text)
    (table,) = types.values()
    assert table["description"] == 'desc with \x1b[31m colour \u202e and "quotes" \\'
    assert argv(table) == ["/bin/sh", "-c", command]
    entries, skipped = read_crontab(text)
    toml = crontab_toml(import_entries(entries), skipped, "x")
    assert "\x1b" not in toml and "\x07" not in toml and "\u202e" not in toml


RUNNABLE = """\
MAILTO=ops@example.com
GREETING = "hello  world "
# Upper-cases its input, then greets
* * * * * tr a-z A-Z; echo "[$GREETING]" 50\\%%line one%line two \\% end
@daily echo plain argv '{}' words
@hourly cat -n%first%second
0 0 * * * cat%CRON_STDIN%after
"""


async def test_an_engine_runs_the_imported_types_with_crons_results(
    services: Callable[..., Awaitable[Service]], write_config: Callable[[str], Path]
) -> None:
    """The real engine, real processes: each type prints what cron would have made of it
    (the input after `%`, the settings, `\\%`, braces, a delimiter in the input)."""
    entries, skipped = read_crontab(RUNNABLE)
    svc = await services(write_config(crontab_toml(import_entries(entries), skipped, "t")))
    outputs = {}
    for name in svc.local_types:
        job = await wait_finished(svc, (await svc.submit(name)).id)
        assert job.status is JobStatus.SUCCEEDED, (name, job.info)
        outputs[name] = [ln.text for ln in await svc.logs(job.id) if ln.stream == "stdout"]
    assert outputs == {
        "tr": ["LINE ONE", "LINE TWO % END", "[hello  world ] 50%"],
        "echo": ["plain argv {} words"],
        "cat": ["     1\tfirst", "     2\tsecond"],
        "cat-2": ["CRON_STDIN", "after"],
    }
    assert svc.local_types["tr"].description == "Upper-cases its input, then greets"
    assert svc.local_types["tr"].report.email == ("ops@example.com",)
