"""Text that jobdash did not write itself reaches a terminal inert, through real `jobdash`
processes on a real SQLite store: piped, and on a real pseudo-terminal.

The store is tampered with plain sqlite3, as anyone who can write the file could: escapes,
OSC 52 clipboard writes, BEL, a screen clear, an 8-bit CSI, a right-to-left override and Rich
markup in an agent's name and host, a job's type, target, parameters and info, a task's name,
error and agent, a schedule's id and tick detail, and log lines.  Also: `--name` is
validated, and followed logs of parallel tasks say which task printed each line.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobdash.present.text import (
    PLACEHOLDER,
    inert_joined,
    name_problem,
    sanitize,
    sanitize_all,
    sanitize_joined,
)
from tests.conftest import run_cli

# Each piece is something a terminal acts on: a screen clear, an OSC 52 clipboard write
# ended by BEL, an 8-bit CSI (C1), a right-to-left override, and Rich markup.
EVIL = "E\x1b[2J O\x1b]52;c;aGk=\x07 C\x9b31m B\u202eevil [bold]M[/bold]"
SHOWN = "E␛[2J O␛]52;c;aGk=␇ C�31m B⇚evil [bold]M[/bold]"
# What must never reach the terminal from data: C0 controls other than tab and line feed,
# DEL, C1 controls, bidi embeddings/overrides/isolates/marks, line/paragraph separators.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
# Rich's own styling on a terminal (colour, bold, dim): the only escapes jobdash may write.
SGR = re.compile("\x1b\\[[0-9;]*m")

CONFIG = """\
[types.evil]
description = "D\\u001b[2J O\\u001b]52;c;aGk=\\u0007 C\\u009b31m B\\u202eevil [bold]M[/bold]"
params.p = { default = "x", help = "help \\u001b[2J" }
command = ["true"]

[types.pair]
items = ["alpha", "beta", "gamma"]
parallel = 3
command = ["sh", "-c", "for i in 1 2 3; do echo line $i of {item}; sleep 0.1; done"]

[types.solo]
command = ["sh", "-c", "echo one; echo two >&2"]
"""


def raw_control(text: str) -> list[str]:
    return RAW.findall(text)


def run_piped(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, COLUMNS="400")
    return subprocess.run(
        [sys.executable, "-m", "jobdash", *args],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )


def run_tty(*args: str, timeout: float = 60, columns: int = 400) -> tuple[int, str]:
    """Run `jobdash ARGS` on a real pseudo-terminal (400 columns unless told); its exit
    status and everything it wrote there, with the terminal's CR LF back to LF."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = dict(os.environ, TERM="xterm-256color")
    env.pop("COLUMNS", None)
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobdash", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                if proc.poll() is not None and not select.select([master], [], [], 0.2)[0]:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not data:
                break
            chunks.append(data)
        else:
            raise AssertionError(f"jobdash {' '.join(args)} still running after {timeout}s")
        status = proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        os.close(master)
    return status, b"".join(chunks).decode("utf-8", "surrogateescape").replace("\r\n", "\n")


@pytest.fixture
def tampered(write_config: Callable[[str], Path], tmp_path: Path) -> dict[str, int]:
    """A store with one job of every kind of tampered text; returns its job id."""
    write_config(CONFIG)
    done = run_cli("run", "evil")
    assert done.returncode == 0, done.stderr
    db = Path(os.environ["JOBDASH_DB"])
    now = time.time()
    # The SQLite file itself, tampered (the threat): no store call writes most of this.
    con = sqlite3.connect(db)
    with con:
        (jid,) = con.execute("SELECT id FROM jobs").fetchone()
        (tid,) = con.execute("SELECT id FROM tasks WHERE job_id = ?", (jid,)).fetchone()
        con.execute(
            "UPDATE jobs SET type = ?, target = ?, info = ?, params = ?, schedule_id = ?, "
            "trigger = 'schedule', status = 'failed', started = ?, finished = ?, pending = 0, "
            "failed = 1, metrics = ? WHERE id = ?",
            (EVIL, EVIL, EVIL, json.dumps({"p": EVIL}), EVIL, now - 5, now, "{}", jid),
        )
        con.execute(
            "UPDATE tasks SET name = ?, error = ?, agent = ?, status = 'failed', started = ?, "
            "finished = ?, exit_code = 1 WHERE id = ?",
            (EVIL, EVIL, EVIL, now - 5, now, tid),
        )
        for stream in ("stdout", "stderr", "system"):
            con.execute(
                "INSERT INTO logs (job_id, task_id, ts, stream, text) VALUES (?, ?, ?, ?, ?)",
                (jid, tid, now, stream, EVIL),
            )
        con.execute(
            "INSERT INTO agents (name, owner, host, pid, version, slots, state, "
            "started, heartbeat) VALUES (?, 'root', ?, 4242, '1', 2, 'idle', ?, ?)",
            (EVIL, EVIL, now - 60, now),
        )
        con.execute(
            "INSERT INTO schedules (id, type, planning, timezone, last_job, last_status, "
            "last_run, config_planning) VALUES (?, ?, 'interval: 1h', 'UTC', ?, 'failed', ?, "
            "'interval: 1h')",
            (EVIL, EVIL, jid, now),
        )
        con.execute(
            "INSERT INTO ticks (schedule_id, fire_time, outcome, job_id, ts, detail) "
            "VALUES (?, ?, 'error', ?, ?, ?)",
            (EVIL, now, jid, now, EVIL),
        )
    con.close()
    return {"job": jid}


COMMANDS = [
    ("agents",),
    ("jobs",),
    ("show", "{job}"),
    ("types",),
    ("schedules",),
    ("logs", "{job}"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_tampered_text_is_inert_when_piped(tampered: dict[str, int], command: tuple[str]) -> None:
    args = [a.format(**tampered) for a in command]
    done = run_piped(*args)
    assert done.returncode == 0, done.stderr
    for stream in (done.stdout, done.stderr):
        text = stream.decode("utf-8", "surrogateescape")
        assert raw_control(text) == [], text
    shown = done.stdout.decode()
    assert "␛[2J" in shown and "␛]52;c;aGk=␇" in shown, shown
    assert "B⇚evil" in shown, shown  # the override shown as its arrow: inert, visible
    assert "[bold]M[/bold]" in shown  # markup printed as written, never applied


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_tampered_text_is_inert_on_a_terminal(
    tampered: dict[str, int], command: tuple[str]
) -> None:
    args = [a.format(**tampered) for a in command]
    status, text = run_tty(*args)
    assert status == 0, text
    assert SGR.search(text), "expected a colour terminal (Rich styles its output)"
    plain = SGR.sub("", text)
    assert raw_control(plain) == [], plain
    assert "␛[2J" in plain and "␛]52;c;aGk=␇" in plain, plain
    assert "B⇚evil" in plain, plain
    assert "[bold]M[/bold]" in plain


def test_sanitize_c1_bidi_and_separators() -> None:
    text = "a\x1b\x07\x9b\x9d\u202e\u2066\u200f\u2028\udcff\t\x7fz"
    shown = sanitize(text)
    assert shown == "a␛␇" + PLACEHOLDER * 2 + "⇚⇥↼" + PLACEHOLDER * 2 + " ␡z"
    assert len(shown) == len(text)  # offsets found in the raw text stay valid
    assert sanitize("plain [bold]text[/], café, 日本") == "plain [bold]text[/], café, 日本"
    # The invisible ones show: "x\u200by" looked like "xy"; the joiners of scripts and emoji stay.
    assert (
        sanitize("x\u200by\u00ad\ufeff\u2060z") == "x" + PLACEHOLDER + "y" + PLACEHOLDER * 3 + "z"
    )
    assert sanitize("👨\u200d👩 \u200c") == "👨\u200d👩 \u200c"


# Unicode's Bidi_Control characters: the embeddings, overrides, isolates, pops and marks.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_each_bidi_control_is_shown_as_a_visible_arrow_that_reorders_nothing() -> None:
    """A bidi control in a name or a log line showed as "�", which reads as broken
    encoding: each shows as an arrow of its own, one cell wide (the tables and the log
    pane count cells), printable, a neutral that turns no text around it (Trojan Source)
    nor is itself mirrored in right-to-left text, never the placeholder."""
    import unicodedata

    from rich.cells import cell_len

    from jobdash.present.text import cells

    shown = sanitize(BIDI_CONTROLS)
    assert len(set(shown)) == len(BIDI_CONTROLS)  # told apart: which control it was
    for control, char in zip(BIDI_CONTROLS, shown, strict=True):
        assert char != PLACEHOLDER and char.isprintable(), hex(ord(control))
        assert unicodedata.bidirectional(char) == "ON" and not unicodedata.mirrored(char)
        assert cells(char) == cell_len(char) == 1, hex(ord(control))
    # Every character Unicode gives an explicit bidi class (the controls) is among them.
    explicit = {"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}
    assert {
        chr(c) for c in range(0x110000) if unicodedata.bidirectional(chr(c)) in explicit
    } <= set(BIDI_CONTROLS)
    # "Trojan Source": the text reads in the order it is stored.
    trojan = 'if access_level != "user\u202e \u2066// Check if admin\u2069 \u2066" {'
    assert not set(sanitize(trojan)) & set(BIDI_CONTROLS)
    assert sanitize(trojan) == 'if access_level != "user⇚ ⇥// Check if admin⇡ ⇥" {'


def test_every_character_sanitize_replaces_is_one_python_finds_unprintable() -> None:
    """`sanitize` returns text that `str.isprintable` passes as it is, without its scan:
    that holds only while every character its scan finds is unprintable to Python."""
    from jobdash.present import text

    replaced = [chr(c) for c in range(0x110000) if text._unsafe().match(chr(c))]
    assert len(replaced) > 2000  # C0, DEL, C1, bidi controls, separators, surrogates
    assert [hex(ord(c)) for c in replaced if c.isprintable()] == []


def test_a_page_of_text_is_sanitized_as_each_of_its_lines_is() -> None:
    """`sanitize_all` checks a page at once (ASCII by its bytes, other text by
    `isprintable`): whatever one line holds, each comes out as `sanitize` makes it."""
    for code in [*range(0x100), 0x202E, 0x2028, 0xDCFF, 0x3000, 0x1F600]:
        for page in ([chr(code)], ["plain", f"a{chr(code)}b"], [f"é{chr(code)}", ""]):
            assert sanitize_all(list(page)) == [sanitize(t) for t in page], hex(code)
    page = ["one", "two"]
    assert sanitize_all(page) is page  # nothing to make inert: the page as it is


ODD = "\x00\x1b\x07\r\t\x7f\x9b\x9d\u202e\u2028\u2066\u200f\udcff\xa0\u3000é日😀[]"


def test_a_joined_page_is_sanitized_as_each_of_its_lines_is() -> None:
    """`sanitize_joined` checks lines joined by line breaks at once: whatever one line
    holds, each comes out as `sanitize` makes it, the line breaks between them kept."""
    for code in [*range(0x100), 0x202E, 0x2028, 0xDCFF, 0x3000, 0x1F600]:
        if code == 0x0A:
            continue  # a line of a page has no line break of its own
        for page in ([chr(code)], ["plain", f"a{chr(code)}b"], [f"é{chr(code)}", ""]):
            want = "\n".join(sanitize(t) for t in page)
            assert sanitize_joined("\n".join(page)) == want, hex(code)


CONTROLS = "".join(chr(c) for c in [*range(0x20), 0x7F] if c != 0x0A)


ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)  # printable, no control
ANY = st.characters(exclude_characters="\n")


@pytest.mark.parametrize("odd", sorted(set(CONTROLS + ODD)), ids=lambda c: hex(ord(c)))
@settings(max_examples=25)
@given(data=st.data())
def test_any_joined_page_is_sanitized_as_its_lines_are(odd: str, data: st.DataObject) -> None:
    """What `jobdash logs` prints of a page the store joined (`sanitize_joined`) is what
    it prints of the same lines one by one: a page of one odd character among printable
    ASCII (checked by its bytes) or among any characters (a check that missed one kind
    could be covered by another kind it finds)."""
    lines = st.lists(st.text(data.draw(st.sampled_from([ASCII, ANY]))), min_size=1)
    before, after = data.draw(lines), data.draw(lines)
    page = [*before[:-1], before[-1] + odd, *after]
    assert sanitize_joined("\n".join(page)) == "\n".join(sanitize(t) for t in page)


@pytest.mark.parametrize("odd", sorted(set(CONTROLS + ODD + "\n")), ids=lambda c: hex(ord(c)))
@settings(max_examples=25)
@given(data=st.data())
def test_a_joined_page_is_found_inert_only_when_it_prints_as_it_is(
    odd: str, data: st.DataObject
) -> None:
    """`inert_joined` (what `jobdash logs` writes without making it inert) says a page
    the store joined prints as it is only when it does: no line has a line break of its
    own (no more line breaks than the page's count of lines less one) and each line is
    what `sanitize` makes of it; of an ASCII page, always when it does (one the check of
    other text misses is made inert: the same). A page with one odd character, among
    printable ASCII or any characters, or without it."""
    lines = st.lists(st.text(data.draw(st.sampled_from([ASCII, ANY]))), min_size=1)
    before, after = data.draw(lines), data.draw(lines)
    for page in ([*before[:-1], before[-1] + odd, *after], [*before, *after]):
        joined = "\n".join(page)
        want = joined.count("\n") == len(page) - 1 and joined == "\n".join(map(sanitize, page))
        inert = inert_joined(joined, len(page))
        assert inert == want if joined.isascii() else want or not inert, page


@pytest.mark.parametrize("command", ["agent", "serve"])
@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("\x1b]52;c;aGk=\x07", "control or invisible character"),
        ("worker\u202e1", "RIGHT-TO-LEFT OVERRIDE"),
        ("w" * 65, "at most 64"),
        ("", "empty"),
    ],
    ids=["osc52", "bidi", "long", "empty"],
)
def test_a_bad_name_on_the_command_line_is_refused(
    write_config: Callable[[str], Path], command: str, name: str, why: str
) -> None:
    write_config(CONFIG)
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobdash", command, "--name", name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:  # it started an engine under that name
            proc.kill()
            proc.wait(10)
    text = err.decode("utf-8", "surrogateescape")
    assert proc.returncode == 2, text
    lines = text.strip().splitlines()
    assert len(lines) == 1, lines
    assert "--name" in lines[0] and why in lines[0]
    assert raw_control(text) == [] and out == b""
    agents = run_cli("agents", "--json")
    assert json.loads(agents.stdout or "[]") == []  # no agent ever ran under that name


def test_name_problem() -> None:
    assert name_problem("worker-1.example.org") is None
    assert name_problem("café 2") is None
    assert name_problem(" padded") is not None
    problem = name_problem("a\x1b[2Jb")
    assert problem is not None and "\x1b" not in problem and "a␛[2Jb" in problem


# --------------------------------------------------------------------------- task prefixes


@pytest.fixture
def engine(
    write_config: Callable[[str], Path], tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    write_config(CONFIG)
    log = tmp_path / "serve.log"
    with log.open("wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobdash", "serve", "--slots", "4"],
            stdout=f,
            stderr=f,
            start_new_session=True,
        )
    deadline = time.monotonic() + 20
    while "slots on" not in log.read_text(errors="replace"):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    yield proc
    proc.kill()
    proc.wait(10)


LABELLED = re.compile(r"^#(\d) (alpha|beta|gamma) +\| line (\d) of (\w+)$")


def check_labelled(lines: list[str]) -> None:
    """Every line of the parallel job says, aligned, which task printed it."""
    printed = [line for line in lines if "line " in line]
    assert len(printed) == 9, lines
    bars = set()
    for line in printed:
        m = LABELLED.match(line)
        assert m, line
        assert m.group(2) == m.group(4)  # the label is the task that printed the line
        assert ["alpha", "beta", "gamma"].index(m.group(2)) + 1 == int(m.group(1))
        bars.add(line.index("|"))
    assert len(bars) == 1, printed  # aligned


def test_run_follow_labels_the_lines_of_parallel_tasks(engine: subprocess.Popen[bytes]) -> None:
    done = run_cli("run", "pair", "--follow", timeout=60)
    assert done.returncode == 0, done.stderr
    check_labelled(done.stdout.splitlines())
    done = run_cli("run", "solo", "--follow", timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()[:2]) == ["one", "two"]  # one task: bare lines


def test_logs_follow_labels_the_lines_of_parallel_tasks(engine: subprocess.Popen[bytes]) -> None:
    done = run_cli("run", "pair")
    assert done.returncode == 0, done.stderr
    jid = re.search(r"job (\d+) (?:queued|running)", done.stdout)  # running: a live engine
    assert jid, done.stdout
    done = run_cli("logs", "-f", jid.group(1), timeout=60)
    assert done.returncode == 0, done.stderr
    check_labelled(done.stdout.splitlines())
    # One task picked out: its lines need no label.
    done = run_cli("logs", jid.group(1), "--task", "2")
    assert done.stdout.splitlines() == ["line 1 of beta", "line 2 of beta", "line 3 of beta"]
    done = run_cli("run", "solo", "--wait")
    assert done.returncode == 0, done.stderr
    solo = re.search(r"job (\d+)", done.stderr)
    assert solo, done.stderr
    done = run_cli("logs", "-f", solo.group(1))
    assert sorted(done.stdout.splitlines()) == ["one", "two"]


def test_task_labels_on_a_terminal_are_dim_and_sanitized(
    engine: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    done = run_cli("run", "pair", "--wait", timeout=60)
    assert done.returncode == 0, done.stderr
    jid = re.search(r"job (\d+)", done.stderr)
    assert jid, done.stderr
    con = sqlite3.connect(os.environ["JOBDASH_DB"])  # the SQLite file tampered (the threat)
    with con:
        con.execute("UPDATE tasks SET name = ? WHERE job_id = ? AND seq = 2", (EVIL, jid.group(1)))
    con.close()
    status, text = run_tty("logs", jid.group(1))
    assert status == 0, text
    assert "\x1b[2m" in text  # the labels are dim
    plain = SGR.sub("", text)
    assert raw_control(plain) == [], plain
    beta = [line for line in plain.splitlines() if "of beta" in line]
    # After the gutter (blank: output lines), each line's label, cut and inert.
    assert len(beta) == 3 and all(line.startswith("  #2 E␛[2J") for line in beta), beta
