"""The config file: a good file gives the expected job types; every bad one gives
ONE line naming the file, the dotted key and the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobdash.core.config import (
    Config,
    ConfigError,
    find_config_path,
    load_config,
    parse_config,
)
from jobdash.core.model import BadInput, Items, JobType, Param, Report
from jobdash.core.values import check_params, parse_duration, substitute

GOOD = """\
[jobdash]
admins = ["root", "alice"]        # OS users with the admin role
timezone = "Europe/Paris"
theme = "nord"
retention = "30d"

[types.import-files]
description = "Import files into the archive"
params.source = { required = true, help = "folder to import from" }
params.dry_run = { default = false }
params.batch = { default = 50 }
items = { glob = "{source}/*.csv" }
command = ["python3", "importer.py", "--batch={batch}", "{item}"]
parallel = 4
timeout = "10m"
retries = 2
backoff = "1m30s"
locks = ["folder:{source}"]
on_lock = "refuse"
target = "source"
report = { email = ["ops@example.com"], webhook = ["https://hooks.example.com/x"] }

[types.rebuild-index]
function = "mypackage.jobs:rebuild_index"
exclusive = true
cancellable = false

[types.listed]
items = ["a", "b", 3]
command = ["echo", "{item}"]
schedule = "cron: 0 3 * * *"

[keymap]
cancel = "k"
filter = "ctrl+f"

[smtp]
host = "mail.example.com"
port = 587
tls = "starttls"
user = "jobdash"
password = "secret"
sender = "jobdash@example.com"
"""


def write(tmp_path: Path, text: str, name: str = "jobdash.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return info.value


def test_good_config_parses_to_expected_job_types(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = load_config(path)
    assert config.path == path
    assert config.admins == ("root", "alice")
    assert config.timezone == "Europe/Paris"
    assert config.theme == "nord"
    assert config.retention == 30 * 86400
    assert config.keymap == {"cancel": "k", "filter": "ctrl+f"}
    assert config.smtp["port"] == 587 and config.smtp["tls"] == "starttls"
    assert list(config.types) == ["import-files", "rebuild-index", "listed"]
    assert config.types["import-files"] == JobType(
        name="import-files",
        description="Import files into the archive",
        params=(
            Param("source", required=True, help="folder to import from"),
            Param("dry_run", default="false"),
            Param("batch", default="50"),
        ),
        items=Items(glob="{source}/*.csv"),
        command=("python3", "importer.py", "--batch={batch}", "{item}"),
        parallel=4,
        timeout=600.0,
        retries=2,
        backoff=90.0,
        locks=("folder:{source}",),
        on_lock="refuse",
        target="source",
        report=Report(email=("ops@example.com",), webhook=("https://hooks.example.com/x",)),
        source=str(path),
        line=7,  # its [types.import-files] header
    )
    rebuild = config.types["rebuild-index"]
    assert rebuild.defined_at == f"{path}:23 (function mypackage.jobs:rebuild_index)"
    assert rebuild.function == "mypackage.jobs:rebuild_index"
    assert rebuild.command is None and rebuild.exclusive and not rebuild.cancellable
    assert config.types["listed"].items == Items(values=("a", "b", "3"))
    assert config.types["listed"].schedule == "cron: 0 3 * * *"


def test_no_file_means_defaults() -> None:
    config = load_config(None)
    assert config == Config()
    assert config.admins == ("root",) and config.types == {}


@pytest.mark.parametrize(
    ("text", "key", "line", "words"),
    [
        # TOML syntax error: the line comes from tomllib's message.
        ('[types.a]\ncommand = ["x"]\nparallel = = 4\n', "", 3, "TOML syntax error"),
        # unknown key, with a suggestion
        (
            '[types.a]\ncommand = ["x"]\n\nparalel = 4\n',
            "types.a.paralel",
            4,
            'did you mean "parallel"',
        ),
        ('[types.a]\ncommand = ["x"]\nparallel = "four"\n', "types.a.parallel", 3, 'got "four"'),
        (
            '[types.a]\ncommand = ["x"]\nparallel = 0\n',
            "types.a.parallel",
            3,
            "from 1 to 10000, got 0",
        ),
        # unknown placeholder
        (
            '[types.a]\nparams.source = {}\ncommand = ["cp", "{sourse}"]\n',
            "types.a.command",
            3,
            "unknown placeholder {sourse}",
        ),
        ('[types.a]\ncommand = ["cp", "{item}"]\n', "types.a.command", 2, "{item}"),
        ('[types.a]\ncommand = "rm -rf /tmp/x"\n', "types.a.command", 2, '["sh", "-c", "..."]'),
        (
            '[types.a]\ncommand = ["x"]\nfunction = "m:f"\n',
            "types.a.function",
            3,
            "either command",
        ),
        ("[types.a]\ndescription = 'nothing to run'\n", "types.a", 1, "needs either command"),
        ('[types.a]\ncommand = ["x"]\nlocks = ["f:{nope}"]\n', "types.a.locks", 3, "{nope}"),
        # a finalize step: an argv for a command type, "module:attr" for a Python one
        ('[types.a]\ncommand = ["x"]\nfinalize = "mail x"\n', "types.a.finalize", 3, "argv"),
        ('[types.a]\ncommand = ["x"]\nfinalize = []\n', "types.a.finalize", 3, "not be empty"),
        (
            '[types.a]\nitems = ["i"]\ncommand = ["x", "{item}"]\nfinalize = ["y", "{item}"]\n',
            "types.a.finalize",
            4,
            "{item}",
        ),
        (
            '[types.a]\ncommand = ["x"]\nfinalize = ["y", "{nope}"]\n',
            "types.a.finalize",
            3,
            "{nope}",
        ),
        ('[types.a]\nfunction = "m:f"\nfinalize = ["y"]\n', "types.a.finalize", 3, "module:attr"),
        ('[types.a]\nfunction = "m:f"\nfinalize = "nope"\n', "types.a.finalize", 3, "module:attr"),
        ('[types.a]\ncommand = ["x"]\ntarget = "nope"\n', "types.a.target", 3, "declared"),
        ('[types.a]\ncommand = ["x"]\ntimeout = "ten"\n', "types.a.timeout", 3, "duration"),
        ('[types.a]\ncommand = ["x"]\non_lock = "skip"\n', "types.a.on_lock", 3, "refuse"),
        ('[types.A]\ncommand = ["x"]\n', "types.A", 1, "lowercase"),
        (
            '[types.a]\ncommand = ["x"]\n[types.a.params.src]\nrequird = true\n',
            "types.a.params.src.requird",
            4,
            'did you mean "required"',
        ),
        ('[jobdash]\nadmins = "root"\n', "jobdash.admins", 2, "array of strings"),
        ('[jobdash]\ntimezone = "Mars/Base"\n', "jobdash.timezone", 2, "unknown time zone"),
        ("[smtp]\nport = 70000\n", "smtp.port", 2, "port number"),
        ("[typo]\n", "typo", 1, "unknown key"),
        (
            '[types.a]\ncommand = ["x"]\nschedule = { planning = "interval: 1m", overlap = "x" }\n',
            "types.a.schedule.overlap",
            3,
            "skip, queue",
        ),
        (
            '[types.a]\ncommand = ["x"]\nschedule = { overlap = "queue" }\n',
            "types.a.schedule",
            3,
            "planning",
        ),
        (
            '[types.a]\ncommand = ["x"]\nschedule = { planning = "every day" }\n',
            "types.a.schedule.planning",
            3,
            "",
        ),
        (
            '[types.a]\ncommand = ["x"]\nschedule = { planning = "interval: 1m", catchup_bund = 1 }\n',
            "types.a.schedule.catchup_bund",
            3,
            "catchup_bound",
        ),
    ],
)
def test_each_error_is_one_line_with_file_key_and_line(
    tmp_path: Path, text: str, key: str, line: int, words: str
) -> None:
    error = error_for(tmp_path, text)
    message = str(error)
    assert f"jobdash.toml:{line}: " in message
    assert error.line == line
    if key:
        assert f": {key}: " in message
    assert words in message


def test_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    message = str(error_for(tmp_path, 'a = 1\n\n[types.x]\ncommand = ["x"\n'))
    assert "TOML syntax error" in message
    assert message.count(":") >= 2


def test_line_is_omitted_when_it_cannot_be_found() -> None:
    # The key is written in an inline table: there is no `key =` line for it.
    text = 'types = { a = { command = ["x"], parallel = -1 } }\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, "inline.toml")
    assert str(info.value).startswith("inline.toml: types.a.parallel: ")
    assert info.value.line is None


def test_line_is_found_for_dotted_keys_under_types_table() -> None:
    text = '[types]\na.command = ["x"]\na.retries = -1\n'
    with pytest.raises(
        ConfigError, match=r"^c.toml:3: types\.a\.retries: must be an integer from 0 to 100, got -1"
    ):
        parse_config(text, "c.toml")


def test_config_error_is_bad_input() -> None:
    with pytest.raises(BadInput):
        parse_config("[types.a]\n", "x.toml")


def test_find_config_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user_dir = tmp_path / "user"
    user_dir.mkdir()
    monkeypatch.setattr("platformdirs.user_config_dir", lambda name: str(user_dir))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JOBDASH_CONFIG", raising=False)
    assert find_config_path(None) is None

    user_file = write(user_dir, "")
    assert find_config_path(None) == user_file
    local = write(tmp_path, "")
    assert find_config_path(None) == Path("jobdash.toml") and local.exists()
    env_file = write(tmp_path, "", "env.toml")
    monkeypatch.setenv("JOBDASH_CONFIG", str(env_file))
    assert find_config_path(None) == env_file
    explicit = write(tmp_path, "", "explicit.toml")
    assert find_config_path(str(explicit)) == explicit

    with pytest.raises(BadInput, match=r"missing\.toml"):
        find_config_path(str(tmp_path / "missing.toml"))
    monkeypatch.setenv("JOBDASH_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(BadInput, match=r"gone\.toml"):
        find_config_path(None)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30),
        ("10m", 600),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("1.5h", 5400),
        ("45", 45),
        (12, 12),
        (2.5, 2.5),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text, "x") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "ten", "10 min", "-5s", "5x", "1h30", True, -1])
def test_parse_duration_rejects(text: str | float) -> None:
    with pytest.raises(BadInput, match=r"^--timeout: "):
        parse_duration(text, "--timeout")


def test_substitute() -> None:
    values = {"source": "/data/in box", "item": "a;b.csv"}
    assert substitute("{source}/{item}", values, "w") == "/data/in box/a;b.csv"
    assert substitute("{{literal}} {source}", values, "w") == "{literal} /data/in box"
    with pytest.raises(BadInput, match=r"^types\.x\.command: unknown placeholder \{nope\}"):
        substitute("{nope}", values, "types.x.command")
    with pytest.raises(BadInput):
        substitute("{source", values, "w")
    with pytest.raises(BadInput):
        substitute("{source!r}", values, "w")


def test_check_params() -> None:
    config = parse_config(GOOD, "good.toml")
    jt = config.types["import-files"]
    assert check_params(jt, {"source": "/in"}) == {
        "source": "/in",
        "dry_run": "false",
        "batch": "50",
    }
    assert check_params(jt, {"source": "/in", "batch": "7"})["batch"] == "7"
    with pytest.raises(BadInput) as info:
        check_params(jt, {"source": "/in", "x": "1"})
    assert str(info.value) == (
        "unknown parameter 'x' for type import-files (known: source, dry_run, batch)"
    )
    with pytest.raises(BadInput) as info:
        check_params(jt, {})
    assert str(info.value) == "parameter 'source' is required for type import-files"
    with pytest.raises(BadInput, match="required"):
        check_params(jt, {"source": ""})
    optional = JobType(name="t", params=(Param("note"),))
    assert check_params(optional, {}) == {"note": ""}


def test_a_type_published_for_attached_dashboards_reads_back_the_same(tmp_path: Path) -> None:
    from jobdash.core.catalogue import type_from_dict, type_to_dict

    path = tmp_path / "jobdash.toml"
    path.write_text(
        "[types.nightly]\n"
        'command = ["true", "{item}"]\n'
        'items = ["a", "b"]\n'
        'report = { email = "owner@example.com" }\n'
        'schedule = { planning = "cron: 0 3 * * *", overlap = "queue", catchup_bound = "2h", '
        'report = { webhook = "https://hooks.example.com/x" } }\n'
        'finalize = ["mail-summary", "--to", "ops"]\n'
    )
    jt = load_config(path).types["nightly"]
    assert jt.finalize == ("mail-summary", "--to", "ops")
    assert jt.schedule_policy.overlap == "queue" and jt.schedule_policy.catchup_bound == 7200
    assert jt.schedule_report.webhook == ("https://hooks.example.com/x",)
    assert type_from_dict(json.loads(json.dumps(type_to_dict(jt)))) == jt


def test_a_type_asks_for_stall_reports_in_its_report_table_and_only_there(
    tmp_path: Path,
) -> None:
    from jobdash.core.catalogue import type_from_dict, type_hash, type_to_dict

    text = '[types.t]\ncommand = ["true"]\nreport = { email = "ops@example.com"%s }\n'
    jt = load_config(write(tmp_path, text % ", stalls = true")).types["t"]
    assert jt.report == Report(email=("ops@example.com",), stalls=True)
    assert type_from_dict(json.loads(json.dumps(type_to_dict(jt)))) == jt
    plain = load_config(write(tmp_path, text % "")).types["t"]
    assert plain.report.stalls is False
    assert type_hash(plain) != type_hash(jt)  # engines that differ in it tell so

    bad = error_for(tmp_path, text % ', stalls = "yes"')
    assert str(bad).endswith('types.t.report.stalls: must be true or false, got "yes"')
    sched = error_for(
        tmp_path,
        '[types.t]\ncommand = ["true"]\n'
        'schedule = { planning = "cron: 0 3 * * *", report = { email = "a@b.org", stalls = true } }\n',
    )
    assert "types.t.schedule.report.stalls: unknown key" in str(sched)
