"""The layers hold: the import contracts of pyproject.toml (import-linter), no SQL and no
database driver outside the backends (SQLite, PostgreSQL), and no front end reaching past
the service.

The backends' modules are the ones the "protected" import contract names, so the list
lives in one place; a package there (`core/store/sqlite/`) counts with its files. The SQL the
two backends share (`core/store/sql/`) is among them, and names no driver.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "jobdash"

# SQL as code writes it (upper case), and what only a SQLite backend has to know.
SQL = re.compile(
    r"\bSELECT\b.*\bFROM\b|\bINSERT\s+(?:OR\s+[A-Z]+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b|\b(?:CREATE|DROP|ALTER)\s+(?:TABLE|INDEX|VIEW|TRIGGER)\b"
    r"|\bBEGIN\s+(?:IMMEDIATE|EXCLUSIVE|DEFERRED)\b|\bPRAGMA\b"
)
SQLITE = re.compile(
    r"\b(?:sqlite3|aiosqlite|SqliteStore|data_version|psycopg|PostgresStore)\b"
    r"|\bstore\.(?:sqlite|postgres)\b"
)
# open_store chooses the backend: naming the backends (to load one) is the one exception.
CHOOSER = PACKAGE / "core" / "store" / "base.py"
CHOOSER_MAY = re.compile(
    r"\b(?:SqliteStore|PostgresStore)\b|\bjobdash\.core\.store\.(?:sqlite|postgres)\b"
    r"|\bpsycopg\b"
)


def backend_files() -> set[Path]:
    """The files of the backends: the modules their protected contract names."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = (
        c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "protected"
    )
    files: set[Path] = set()
    for module in contract["protected_modules"]:
        path = ROOT.joinpath(*module.split("."))
        if path.is_dir():
            files |= set(path.rglob("*.py"))
        else:
            files.add(path.with_suffix(".py"))
    assert all(f.exists() for f in files), sorted(f for f in files if not f.exists())
    return files


def offending_lines(pattern: re.Pattern[str], files: list[Path]) -> list[str]:
    out = []
    for path in files:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(CHOOSER_MAY.sub("", line) if path == CHOOSER else line):
                out.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    return out


def test_no_sql_and_no_driver_outside_the_backends() -> None:
    backend = backend_files()
    assert len(backend) >= 3  # the contract is read, not empty
    others = sorted(p for p in PACKAGE.rglob("*.py") if p not in backend)
    found = offending_lines(SQL, others) + offending_lines(SQLITE, others)
    assert not found, "SQL or a database driver outside the backends:\n" + "\n".join(found)


def test_the_shared_sql_names_no_driver() -> None:
    """`core/store/sql/` is written once for both dialects: no driver, no backend in it."""
    shared = sorted((PACKAGE / "core" / "store" / "sql").rglob("*.py"))
    assert shared and set(shared) <= backend_files()
    found = offending_lines(SQLITE, shared)
    assert not found, "a driver or backend named in the shared SQL:\n" + "\n".join(found)


def test_the_check_finds_what_it_looks_for() -> None:
    """The patterns are not vacuous: the backend itself is full of what they look for."""
    backend = sorted(backend_files())
    assert offending_lines(SQL, backend) and offending_lines(SQLITE, backend)


def test_the_front_ends_do_not_reach_into_the_store() -> None:
    """`svc.store.…` is the engine's door, not the front ends': they ask the service."""
    front = sorted([*(PACKAGE / "cli").rglob("*.py"), *(PACKAGE / "tui").rglob("*.py")])
    found = offending_lines(re.compile(r"\.store\b"), front)
    assert not found, "the store reached past the service:\n" + "\n".join(found)


def test_the_import_contracts_are_kept() -> None:
    """pyproject.toml's import-linter contracts (the same command .ci/run runs)."""
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
        "lint-imports"
    )
    assert lint, "import-linter is not installed (pip install -e '.[test]')"
    done = subprocess.run(
        [lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
