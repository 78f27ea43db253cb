"""Colour follows `--color never|auto|always` and NO_COLOR (no-color.org: set and not empty)
everywhere: the command line writes no escape code at all with NO_COLOR, even on a
terminal, and colours a pipe with `--color always`; the dashboard, which is Textual's,
draws in greys under NO_COLOR (Textual's own rule: its Monochrome filter), and `--color
never` gives it NO_COLOR."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.test_piped_output import pty_bytes

ESC = b"\x1b"
SGR = re.compile(rb"\x1b\[([0-9;:]*)m")


@pytest.fixture
def store(write_config: Callable[[str], Path]) -> None:
    """The test's store with one queued job (no engine runs it): coloured statuses."""
    write_config('[types.hello]\ncommand = ["echo", "hello"]\ndescription = "says hello"\n')
    assert run_cli("run", "hello").returncode == 0


@pytest.mark.usefixtures("store")
@pytest.mark.parametrize("argv", [["jobs"], ["show", "1"], ["types"]], ids=" ".join)
def test_no_color_means_no_escape_at_all_even_on_a_terminal(argv: list[str]) -> None:
    assert ESC + b"[" in pty_bytes(*argv)  # the check below is not vacuous
    assert ESC not in pty_bytes(*argv, env={"NO_COLOR": "1"})
    assert ESC not in pty_bytes("--color", "never", *argv)
    assert ESC not in pty_bytes(*argv, "--color=auto", env={"NO_COLOR": "1"})
    # An empty NO_COLOR is not set (no-color.org); `--color always` overrides it.
    assert ESC + b"[" in pty_bytes(*argv, env={"NO_COLOR": ""})
    assert ESC + b"[" in pty_bytes("--color", "always", *argv, env={"NO_COLOR": "1"})


@pytest.mark.usefixtures("store")
def test_color_always_colours_a_pipe_and_keeps_its_layout() -> None:
    plain = run_cli("jobs")
    assert plain.returncode == 0 and ESC not in plain.stdout.encode()
    coloured = run_cli("jobs", "--color", "always", env={"NO_COLOR": "1"})
    assert coloured.returncode == 0 and ESC.decode() + "[" in coloured.stdout
    # The same whole lines, colours aside: a pipe's layout, not a terminal's.
    unstyled = re.sub(r"\x1b\[[0-9;]*m", "", coloured.stdout)
    assert unstyled.splitlines() == plain.stdout.splitlines()


def test_a_bad_color_is_one_line_and_exit_2() -> None:
    done = run_cli("--color", "purple", "jobs")
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert "--color" in done.stderr and "purple" in done.stderr


def colours(screen: bytes) -> set[tuple[int, int, int]]:
    """The RGB colours a screen's SGR sequences set (foreground and background); a
    16- or 256-colour code counts as (-1, -1, -1): not a grey either."""
    found = set()
    for params in SGR.findall(screen):
        codes = [int(x) for x in re.split(rb"[;:]", params) if x]
        i = 0
        while i < len(codes):
            if codes[i] in (38, 48) and i + 4 < len(codes) + 1 and codes[i + 1] == 2:
                found.add((codes[i + 2], codes[i + 3], codes[i + 4]))
                i += 5
                continue
            if codes[i] in (38, 48) or 30 <= codes[i] <= 37 or 90 <= codes[i] <= 97:
                found.add((-1, -1, -1))
            i += 1
    return found


def dashboard_colours(*args: str, env: dict[str, str]) -> set[tuple[int, int, int]]:
    """The colours of the dashboard's first screens in a terminal of 100x30 (it is quit)."""
    screen = pty_bytes(
        *args, "--no-engine", columns=100, rows=30, keys=b"q", stderr=True,
        env={"COLORTERM": "truecolor", **env},
    )  # fmt: skip
    return colours(screen)


def real_colours(found: set[tuple[int, int, int]]) -> bool:
    return any(len({r, g, b}) > 1 for r, g, b in found)


@pytest.mark.usefixtures("store")
@pytest.mark.parametrize(("args", "env"), [(["--color", "never"], {}), ([], {"NO_COLOR": "1"})])
def test_the_dashboard_draws_in_greys_without_colour(args: list[str], env: dict[str, str]) -> None:
    assert real_colours(dashboard_colours(env={}))  # not vacuous
    grey = dashboard_colours(*args, env=env)
    assert grey and all(r == g == b >= 0 for r, g, b in grey), grey


@pytest.mark.usefixtures("store")
def test_an_empty_no_color_leaves_the_dashboard_in_colour() -> None:
    """Textual alone would go grey on `NO_COLOR=` (it counts any value); no-color.org and
    the command line do not, and jobdash makes the dashboard agree with them."""
    assert real_colours(dashboard_colours(env={"NO_COLOR": ""}))


LEVELS = [
    ("stdout", "copied 3 files"),
    ("stderr", "boom: disk full"),
    ("stderr", "warning: slow disk"),
]


def seeded_log(tmp_path: Path) -> tuple[str, str]:
    """A store with one job whose log holds a line of each level: output, error, warning
    and jobdash's own (system); the store's path and the job's id."""
    import asyncio

    from jobdash.core.store.base import open_store
    from tests.store_contract.jobs import commands

    db = str(tmp_path / "s.db")

    async def seed() -> int:
        store = await open_store(db)
        try:
            job = await store.create_job(commands("copy"))
            for stream, text in [*LEVELS, ("system", "attempt 1 of copy1 started")]:
                await store.append_log(job.id, None, stream, text)
            await store.flush()
            return job.id
        finally:
            await store.close()

    return db, str(asyncio.run(seed()))


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {}], ids=["no-color", "color"])
def test_logs_on_a_terminal_tell_each_level_by_the_dashboards_gutter(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """On a terminal `jobdash logs` showed an error or a warning by its colour alone
    (nothing at all under NO_COLOR): each line starts with the log pane's gutter (`!`
    error, `⚠` warning, `»` jobdash's own, a blank for output), coloured or not. Into a
    pipe the lines are as they were, byte for byte."""
    db, job = seeded_log(tmp_path)
    screen = pty_bytes("--db", db, "logs", job, columns=100, env=env)
    lines = re.sub(r"\x1b\[[0-9;]*m", "", screen.decode()).replace("\r\n", "\n").splitlines()
    assert lines[-4:] == [
        "  copied 3 files",
        "! boom: disk full",
        "⚠ warning: slow disk",
        "» attempt 1 of copy1 started",
    ], lines
    piped = run_cli("--db", db, "logs", job)
    assert piped.returncode == 0, piped.stderr
    want = "copied 3 files\nboom: disk full\nwarning: slow disk\nattempt 1 of copy1 started\n"
    assert piped.stdout == want
    coloured = run_cli("--db", db, "--color", "always", "logs", job)
    unstyled = re.sub(r"\x1b\[[0-9;]*m", "", coloured.stdout)
    assert unstyled == want.replace("attempt 1", "» attempt 1")  # as it always was
