"""`jobdash systemd-unit [--user]`: a unit for `jobdash serve` that systemd's own checker
accepts (`systemd-analyze verify`), with the settings a clean stop needs (SIGTERM to jobdash
alone, a stop timeout above the grace period, restart on failure), and an ExecStart that
systemd reads back as exactly the argv meant, whatever the paths hold."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli

ANALYZE = shutil.which("systemd-analyze")


def unit(*args: str) -> configparser.ConfigParser:
    done = run_cli("systemd-unit", *args)
    assert done.returncode == 0, done.stderr
    parsed = configparser.ConfigParser(interpolation=None, strict=True)
    parsed.optionxform = str  # type: ignore[assignment,method-assign]
    parsed.read_string(done.stdout)
    return parsed


def exec_start_argv(line: str) -> list[str]:
    """ExecStart's words as systemd.service(5) and systemd.syntax(7) read them: split at
    blanks, double quotes grouping, C escapes inside them, then `%%` and `$$` undoubled."""
    words = re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', line)
    out = []
    for quoted, bare in words:
        word = bare
        if not bare:
            word = re.sub(
                r"\\(x[0-9a-f]{2}|.)",
                lambda m: chr(int(m[1][1:], 16)) if m[1].startswith("x") else m[1],
                quoted,
            )
        out.append(word.replace("%%", "%").replace("$$", "$"))
    return out


@pytest.mark.parametrize("user", [False, True], ids=["system", "user"])
def test_the_unit_stops_jobdash_cleanly_and_restarts_it_on_failure(
    user: bool, tmp_path: Path
) -> None:
    u = unit("--grace", "50", *(["--user"] if user else []))
    service = u["Service"]
    assert service["KillMode"] == "mixed" and service["KillSignal"] == "SIGTERM"
    assert float(service["TimeoutStopSec"]) > 50 + 5  # the grace, then a task's SIGKILL delay
    assert service["Restart"] == "on-failure"
    argv = exec_start_argv(service["ExecStart"])
    assert argv[1:3] == ["serve", "--db"] and argv[-2:] == ["--grace", "50"]
    assert os.access(argv[0], os.X_OK)
    # The program named runs: this jobdash, with the unit's arguments.
    done = subprocess.run([argv[0], "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.startswith("jobdash ")
    if user:
        assert "User" not in service and u["Install"]["WantedBy"] == "default.target"
    else:
        assert service["User"] and u["Install"]["WantedBy"] == "multi-user.target"


def odd_config(tmp_path: Path, name: str) -> Path:
    """A config in a folder whose name systemd would misread if it were not quoted."""
    folder = tmp_path / name
    folder.mkdir()
    config = folder / "jobdash.toml"
    config.write_text('[types.t]\ncommand = ["true"]\n')
    return config


def test_paths_with_blanks_quotes_and_specifiers_come_back_exact(tmp_path: Path) -> None:
    config = odd_config(tmp_path, 'odd "dir" 100% $HOME \\ tab\tend')
    db = config.with_name("s.db")
    argv = exec_start_argv(unit("--db", str(db), "--config", str(config))["Service"]["ExecStart"])
    assert argv[1:] == ["serve", "--db", str(db), "--config", str(config), "--grace", "30"]


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    config = odd_config(tmp_path, 'odd "dir" 100% $HOME')
    path = tmp_path / "jobdash.service"
    done = run_cli("systemd-unit", "--db", str(config.with_name("s.db")), "--config", str(config))
    path.write_text(done.stdout)
    verified = subprocess.run(
        [str(ANALYZE), "verify", "--man=no", str(path)], capture_output=True, text=True, check=False
    )
    assert verified.returncode == 0 and verified.stderr == "", verified.stderr
    # Not vacuous: the checker refuses a unit with broken quoting.
    path.write_text(done.stdout.replace("--db ", '--db "', 1))
    broken = subprocess.run(
        [str(ANALYZE), "verify", "--man=no", str(path)], capture_output=True, text=True, check=False
    )
    assert broken.returncode != 0 or broken.stderr


def test_a_store_url_with_a_password_is_refused() -> None:
    done = run_cli("systemd-unit", "--db", "postgresql://engine:s3cret@db.example.com/jobdash")
    assert done.returncode == 2 and done.stdout == ""
    assert "password" in done.stderr and "s3cret" not in done.stderr
    assert len(done.stderr.splitlines()) == 1
