"""Artifacts end to end: a real engine runs a command type whose globs collect files and a
Python type that calls `ctx.artifact`; the real CLI lists them and saves them (bytes
identical, the file 0600); a 50 MiB one is kept outside the database; `clear` removes them,
files too; `logs -o` saves a log."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jobdash.core.artifacts import check_name, safe_name
from jobdash.core.model import BadInput, JobStatus
from jobdash.core.service import Service
from tests.conftest import run_cli, wait_finished

CONFIG = """
[jobdash]
artifact_inline_max = "64KiB"

[types.print-pdf]
params.out = { required = true }
command = ["sh", "-c", 'printf "%%PDF-1.4 fake" > "$1/doc.pdf"; echo "[b]notes[/b]" > "$1/notes.txt"; ln -s /etc/hostname "$1/link.txt"', "sh", "{out}"]
artifacts = ["{out}/*.pdf", "{out}/*.txt"]

[types.broken-pdf]
params.out = { required = true }
command = ["sh", "-c", 'printf "half" > "$1/doc.pdf"; exit 3', "sh", "{out}"]
artifacts = ["{out}/*.pdf"]

[types.py-report]
params.dir = { required = true }
params.mb = { default = "0" }
params.evil = { default = "" }
function = "tests.artifact_jobs:report_job"
"""

Services = Callable[..., Awaitable[Service]]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cli(location: str, *args: str) -> tuple[int, str, str]:
    done = run_cli("--db", location, *args)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.both_backends
async def test_a_command_type_and_a_python_type_keep_artifacts(
    services: Services, write_config: Callable[[str], Path], tmp_path: Path, store_location: str
) -> None:
    svc = await services(write_config(CONFIG))
    out = tmp_path / "out"
    out.mkdir()
    printed = await wait_finished(svc, (await svc.submit("print-pdf", {"out": str(out)})).id)
    assert printed.status is JobStatus.SUCCEEDED, printed.info
    python = await wait_finished(svc, (await svc.submit("py-report", {"dir": str(tmp_path)})).id)
    assert python.status is JobStatus.SUCCEEDED, python.info

    found = {a.name: a for a in await svc.artifacts(printed.id)}
    assert sorted(found) == ["doc.pdf", "notes.txt"]  # the link is not collected
    assert found["doc.pdf"].media_type == "application/pdf"
    assert found["doc.pdf"].sha256 == sha(b"%PDF-1.4 fake")
    assert found["doc.pdf"].task_seq == 1 and found["doc.pdf"].inline
    log = [line.text for line in await svc.logs(printed.id)]
    assert any("link.txt is not a regular file; not kept" in t for t in log)
    assert any(t.startswith("artifact doc.pdf kept (13 B)") for t in log)

    kept = {a.name: a for a in await svc.artifacts(python.id)}
    assert sorted(kept) == ["report.csv", "summary.txt"]
    assert kept["report.csv"].media_type == "text/csv" and kept["report.csv"].task_seq == 2
    assert kept["summary.txt"].task_seq == 1  # the job function's own task

    # The CLI lists them, as text and as JSON.
    code, text, _ = cli(store_location, "artifacts", str(printed.id))
    assert code == 0
    assert text.split("\n")[0].split() == ["NAME", "SIZE", "TYPE", "TASK", "KEPT"]
    assert "doc.pdf" in text and "application/pdf" in text and "in the store" in text
    code, text, _ = cli(store_location, "artifacts", str(printed.id), "--json")
    listed = json.loads(text)
    assert [(x["name"], x["size"], x["kept"]) for x in listed] == [
        ("doc.pdf", 13, "store"),
        ("notes.txt", 13, "store"),
    ]
    # Saved: the bytes as kept, in a file only its owner reads.
    saved = tmp_path / "saved.pdf"
    code, _, err = cli(store_location, "artifact", str(printed.id), "doc.pdf", "-o", str(saved))
    assert code == 0, err
    assert saved.read_bytes() == b"%PDF-1.4 fake"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert "written to" in err
    # Piped, the bytes as they are (markup is data).
    code, text, _ = cli(store_location, "artifact", str(printed.id), "notes.txt")
    assert (code, text) == (0, "[b]notes[/b]\n")
    # A job or a name that is not there: one line, exit status 2.
    code, _, err = cli(store_location, "artifact", str(printed.id), "nope.pdf")
    assert code == 2 and err.count("\n") == 1 and "no artifact 'nope.pdf'" in err
    code, _, err = cli(store_location, "artifacts", "999")
    assert code == 2 and err.count("\n") == 1 and "no job 999" in err


async def test_a_failed_command_keeps_nothing_and_a_bad_name_fails_its_task(
    services: Services, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    svc = await services(write_config(CONFIG))
    broken = await wait_finished(svc, (await svc.submit("broken-pdf", {"out": str(tmp_path)})).id)
    assert broken.status is JobStatus.FAILED
    assert await svc.artifacts(broken.id) == []  # half-written: not collected
    evil = await svc.submit("py-report", {"dir": str(tmp_path), "evil": "../../etc/x"})
    job = await wait_finished(svc, evil.id)
    assert job.status is JobStatus.FAILED
    tasks = {t.name: t for t in await svc.tasks(job.id)}
    assert tasks["evil"].error.startswith("ValueError: artifact name '../../etc/x' has a '/'")
    assert sorted(a.name for a in await svc.artifacts(job.id)) == ["report.csv", "summary.txt"]


async def test_a_parameter_never_widens_the_glob(
    services: Services, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    svc = await services(write_config(CONFIG))
    literal, other = tmp_path / "o[1]", tmp_path / "o1"
    literal.mkdir()
    other.mkdir()
    (other / "other.pdf").write_bytes(b"not this job's")
    job = await wait_finished(svc, (await svc.submit("print-pdf", {"out": str(literal)})).id)
    assert sorted(a.name for a in await svc.artifacts(job.id)) == ["doc.pdf", "notes.txt"]


@pytest.mark.both_backends
async def test_a_50_mb_artifact_is_kept_outside_the_store_and_cleared_with_its_job(
    services: Services, write_config: Callable[[str], Path], tmp_path: Path, store_location: str
) -> None:
    svc = await services(write_config(CONFIG))
    job = await svc.submit("py-report", {"dir": str(tmp_path), "mb": "50"})
    done = await wait_finished(svc, job.id, timeout=120)
    assert done.status is JobStatus.SUCCEEDED, done.info
    big = {a.name: a for a in await svc.artifacts(job.id)}["big.bin"]
    assert big.size == 50 * 1024 * 1024 and big.file is not None
    folder = svc.store.artifact_folder
    kept = folder / big.file
    assert kept.stat().st_size == big.size
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert big.sha256 == sha((tmp_path / "big.bin").read_bytes())
    size = await svc.store_size()
    assert size.file_bytes == big.size and size.database < 10 * 1024 * 1024

    code, text, err = cli(store_location, "db", "size", "--json")
    assert code == 0, err
    reported = json.loads(text)
    assert reported["file_bytes"] == big.size and reported["total"] > big.size

    saved = tmp_path / "saved.bin"
    code, _, err = cli(store_location, "artifact", str(job.id), "big.bin", "-o", str(saved))
    assert code == 0, err
    assert sha(saved.read_bytes()) == big.sha256
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600

    code, _, err = cli(store_location, "clear")
    assert code == 0, err
    assert not kept.exists()
    assert (await svc.store_size()).artifacts == 0


async def test_a_kept_file_changed_since_is_not_saved(
    services: Services, write_config: Callable[[str], Path], tmp_path: Path, db_path: Path
) -> None:
    svc = await services(write_config(CONFIG))
    job = await wait_finished(
        svc, (await svc.submit("py-report", {"dir": str(tmp_path), "mb": "1"})).id
    )
    big = {a.name: a for a in await svc.artifacts(job.id)}["big.bin"]
    assert big.file is not None
    kept = svc.store.artifact_folder / big.file
    with kept.open("r+b") as f:
        f.write(b"tampered")
    saved = tmp_path / "saved.bin"
    code, _, err = cli(str(db_path), "artifact", str(job.id), "big.bin", "-o", str(saved))
    assert code == 2 and "no longer matches" in err and err.count("\n") == 1
    assert not saved.exists()  # the new file is not made
    # A row pointed at a file jobdash did not write is not read.
    con = sqlite3.connect(db_path)
    with con:
        con.execute("UPDATE artifacts SET file = '../../../etc/hostname' WHERE name = 'big.bin'")
    con.close()
    code, _, err = cli(str(db_path), "artifact", str(job.id), "big.bin", "-o", str(saved))
    assert code == 2 and "not one jobdash wrote" in err and not saved.exists()


async def test_logs_saved_to_a_file(
    services: Services, write_config: Callable[[str], Path], tmp_path: Path, db_path: Path
) -> None:
    svc = await services(write_config(CONFIG))
    job = await wait_finished(svc, (await svc.submit("print-pdf", {"out": str(tmp_path)})).id)
    saved = tmp_path / "job.log"
    code, _, err = cli(str(db_path), "logs", str(job.id), "-o", str(saved))
    assert code == 0, err
    lines = saved.read_text().splitlines()
    assert any(line.split("\t")[3].startswith("artifact doc.pdf kept") for line in lines)
    assert all(len(line.split("\t")) == 4 for line in lines)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    code, _, err = cli(str(db_path), "logs", str(job.id), "-o", str(saved), "-f")
    assert code == 2 and "without -f" in err


def test_names_are_checked_and_collected_names_made_safe() -> None:
    assert check_name("report [final].pdf") == "report [final].pdf"  # markup is data
    for bad, why in (
        ("a/b.pdf", "has a '/'"),
        ("..", "is not a name"),
        ("x\x1b[2J.txt", "control or invisible character"),
        ("", "must not be empty"),
        ("x" * 201, "at most 200"),
        ("a\u202eb", "control or invisible character"),
    ):
        with pytest.raises(BadInput, match=why):
            check_name(bad)
    assert safe_name("a\x1b[2Jb\u202e.pdf") == "a_[2Jb_.pdf"
    assert safe_name("..") == "artifact"
    assert os.sep not in safe_name("x\\y")
