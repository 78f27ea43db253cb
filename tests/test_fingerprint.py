"""Failures grouped by cause: real-looking errors of common tools, and the groups an on-call
engineer would make of them. Two errors share a fingerprint exactly when they share a group."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from jobdash.core.fingerprint import MAX_MESSAGE, fingerprint, normalise, telling_line

TRACEBACK = """Traceback (most recent call last):
  File "/opt/jobs/import_files.py", line {line}, in run
    rows = parse(path)
  File "/opt/jobs/import_files.py", line 88, in parse
    raise ValueError(f"row {{n}}: invalid date {{value!r}} in {{path}}")
ValueError: row {row}: invalid date '{date}' in /srv/in/{name}.csv
"""

# (group, error text): the errors of one group are one cause.
ERRORS: list[tuple[str, str]] = [
    ("bad-date", "row 162: invalid date '31/02/2026' in /srv/in/b-003.csv"),
    ("bad-date", "row 9: invalid date '30/02/2026' in /srv/in/b-017.csv"),
    ("bad-date-py", TRACEBACK.format(line=41, row=7, date="2026-02-30", name="c-1")),
    ("bad-date-py", TRACEBACK.format(line=41, row=1200, date="31.04.2025", name="d-88")),
    ("key", "KeyError: 'customer_id'"),
    ("key", "Traceback (most recent call last):\n  File \"x.py\", line 3\nKeyError: 'order_id'"),
    ("conn", "ConnectionRefusedError: [Errno 111] Connection refused"),
    ("conn", "ConnectionRefusedError: [Errno 111] Connection refused\n"),
    ("dns", "ConnectionError: [Errno -2] Name or service not known"),
    ("rsync-missing", 'rsync: [sender] link_stat "/srv/a/report 1.pdf" failed: No such file'),
    ("rsync-missing", 'rsync: [sender] link_stat "/srv/b/x.tar" failed: No such file'),
    (
        "rsync-partial",
        "exit 23: rsync error: some files/attrs were not transferred (see previous errors) "
        "(code 23) at main.c(1338) [sender=3.2.7]",
    ),
    (
        "rsync-partial",
        "exit 23: rsync error: some files/attrs were not transferred (see previous errors) "
        "(code 23) at main.c(1336) [sender=3.2.3]",
    ),
    (
        "rsync-vanished",
        "exit 24: rsync warning: some files vanished before they could be "
        "transferred (code 24) at main.c(1338) [sender=3.2.7]",
    ),
    ("tar-denied", "exit 2: tar: /srv/backup/2026-11-30/home.tar: Cannot open: Permission denied"),
    ("tar-denied", "exit 2: tar: /srv/backup/2026-12-01/etc.tar: Cannot open: Permission denied"),
    ("tar-space", "exit 2: tar: /srv/backup/2026-12-01/etc.tar: Wrote only 4096 of 10240 bytes"),
    (
        "psql-refused",
        'exit 2: psql: error: connection to server at "db1.internal" (10.0.4.21), port 5432 '
        "failed: Connection refused",
    ),
    (
        "psql-refused",
        'exit 2: psql: error: connection to server at "db2.internal" (10.0.4.22), port 5432 '
        "failed: Connection refused",
    ),
    (
        "psql-dup",
        'exit 3: ERROR:  duplicate key value violates unique constraint "invoices_pkey"',
    ),
    ("curl-dns", "exit 6: curl: (6) Could not resolve host: https://api.example.com/v2/export"),
    ("curl-503", "exit 22: curl: (22) The requested URL returned error: 503"),
    ("curl-404", "exit 22: curl: (22) The requested URL returned error: 404"),
    ("cp-stat", "exit 1: cp: cannot stat '/srv/in/a.csv': No such file or directory"),
    ("cp-stat", "exit 1: cp: cannot stat '/srv/in/b b.csv': No such file or directory"),
    ("cp-readonly", "exit 1: cp: cannot create regular file '/mnt/x': Read-only file system"),
    ("timeout", "timed out after 30s"),
    ("timeout", "timed out after 600s"),
    ("killed", "killed by SIGKILL"),
    ("exit-1", "exit 1"),
    ("exit-2", "exit 2"),
    (
        "obj",
        "RuntimeError: <Session object at 0x7f3a2c1b9d30> closed at 2026-11-30T14:03:22Z "
        "by job 3f2a9c1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b",
    ),
    (
        "obj",
        "RuntimeError: <Session object at 0x7f00aa11bb22> closed at 2026-12-01 09:14:05+01:00 "
        "by job 00000000-1111-2222-3333-444455556666",
    ),
    # A progress meter's carriage returns: the line says what was written last over it.
    (
        "rsync-full",
        'exit 23: 10%\r50%\r100%\rrsync: write failed on "/srv/b/x.tar": '
        "No space left on device (28)",
    ),
    (
        "rsync-full",
        'exit 23: 5%\r100%\rrsync: write failed on "/srv/c/y": No space left on device (28)',
    ),
    ("rsync-closed", "exit 23: 10%\r50%\r100%\rrsync: connection unexpectedly closed\r\n"),
    ("smtp", "report failed (smtp to ops@example.com: [Errno 110] timed out)"),
    ("smtp", "report failed (smtp to alice.b@corp.example.org: [Errno 110] timed out)"),
]


def test_the_table_holds_enough_real_errors() -> None:
    assert len(ERRORS) >= 15 and len({g for g, _ in ERRORS}) >= 15


def test_errors_share_a_fingerprint_exactly_when_they_share_a_cause() -> None:
    wrong = [
        (normalise(error_a), normalise(error_b))
        for (group_a, error_a), (group_b, error_b) in itertools.combinations(ERRORS, 2)
        if (fingerprint(error_a) == fingerprint(error_b)) != (group_a == group_b)
    ]
    assert wrong == []


def test_the_message_keeps_the_cause_and_names_what_varies() -> None:
    assert normalise("row 162: invalid date '31/02/2026' in /srv/in/b-003.csv") == (
        "row <n>: invalid date '<q>' in <path>"
    )
    assert normalise("exit 22: curl: (22) The requested URL returned error: 503") == (
        "exit 22: curl: (<n>) The requested URL returned error: 503"
    )


def test_a_tracebacks_exception_line_is_what_counts() -> None:
    text = TRACEBACK.format(line=41, row=7, date="x", name="c")
    assert telling_line(text) == "ValueError: row 7: invalid date 'x' in /srv/in/c.csv"
    assert telling_line("\n\n  first line \nsecond") == "first line"
    assert telling_line("") == normalise(" \n ") == ""


def test_a_line_is_what_a_terminal_shows_of_it() -> None:
    assert telling_line("exit 23: 10%\r50%\r100%\rrsync: closed\r\nmore") == "rsync: closed"
    assert telling_line("100%\r \r") == "100%"
    # Only a newline ends a line: form feeds, separators and the like are the line's text.
    for odd in ("\x0b", "\x0c", "\x1c", "\x1e", "\x85", "\u2028", "\u2029"):
        assert telling_line(f"exit 1: [bold]a{odd}b") == f"exit 1: [bold]a{odd}b"


@given(st.text(max_size=2000))
def test_any_text_gives_a_short_one_line_message_and_a_key(text: str) -> None:
    message = normalise(text)
    assert "\n" not in message and len(message) <= MAX_MESSAGE
    assert len(fingerprint(text)) == 12 and fingerprint(text) == fingerprint(text)
