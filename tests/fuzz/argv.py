"""Command lines for the CLI fuzzer, drawn from the real argparse parser (`jobdash.cli`):
every command and schedule action, a random few of its options in any order, values that
are mostly plausible for the option and often hostile (huge, negative, NaN, unicode,
terminal escapes, bytes that are not UTF-8, empty), values left out, unknown options."""

from __future__ import annotations

import argparse
import contextlib
import io
import random

from jobdash.cli import build_parser, parse_args
from jobdash.cli.parser import Parser

# The harness gives the store and the config. `export -o` writes only plain names inside the
# harness's folder (how export writes files is being reworked apart; widen its pool after).
HARNESS_DESTS = {"db", "config"}
HUGE = "9" * 20
NASTY = [
    "",
    " ",
    "0",
    "-1",
    "1",
    "2",
    "#1",
    HUGE,
    str(2**63 - 1),
    str(2**63),
    str(-(2**63) - 1),
    "1" * 5000,
    "1e400",
    "-1e400",
    "inf",
    "-inf",
    "nan",
    "NaN",
    "1e-300",
    "0x10",
    "1_000",
    "٣",
    "１２",
    "½",
    "²",
    "\x1b[2J\x1b[H",
    "\x1b]52;c;aGk=\x07",
    "\u202eevil",
    "💥",
    "caf\udce9",  # the bytes b"caf\xe9" (Latin-1, not UTF-8), as Python hands them over
    "\udcff\udcfe",
    "a" * 5000,
    "%s%n",
    "{item}",
    "$(id)",
    "'",
    '"',
    "\\",
    "--",
    "-",
    "--json",
    "-p",
    "\n",
    "a\nb",
    "\t",
    "\r",
]
POOLS: dict[str, list[str]] = {
    "job": ["1", "2", "3", "4", "#2", "99", "0", "-1", HUGE, str(2**63), "٣", "1.5", "abc", "#"],
    "type": ["quick", "echo", "nightly", "import-files", "nope", "QUICK", ""],
    "param": ["word=hi", "word=", "=x", "x", "times=3", "nope=1", "word=\x1b[2J", "word=a,b"],
    "query": [
        "status:failed",
        "status:succeeded,queued",
        "status:a,b",
        "type:quick,echo",
        "-type:echo",
        "id:1,2",
        f"id:{HUGE}",
        "id:0",
        "since:1h",
        "since:1e400",
        "since:99999999999999999999w",
        "target:x,",
        "user:root,alice",
        "trigger:manual,cron",
        '"quoted',
        "-status:",
        "status:",
        "foo:bar",
        "id:#3",
        "hi",
        "-hi",
        'target:"a,b"',
    ],
    "status": ["failed", "succeeded,queued", "nope", "active", "", "failed,,x"],
    "user": ["root", "alice,bob", "", "é"],
    "since": ["1h", "30s", "0", "1e400", "999999999999999999999w", "-1h", "1h30m", "soon"],
    "limit": ["1", "5", "50", "0", "-3", HUGE, str(2**63 - 1), "1e3", "nan"],
    "task": ["1", "2", "3", "0", HUGE, str(2**63 - 1)],
    "tail": ["1", "2", "0", HUGE, str(2**63 - 1)],
    "slots": ["1", "2", "4", "0", "10000", "10001", HUGE, "-4"],
    "lease": ["15", "1", "0.5", "3600", "3601", "inf", "1e400", "nan", "-1", "0"],
    "grace": ["0", "1", "30", "-1", "nan", "inf", "86401", "1e-9"],
    "name": ["worker", "", " ", "\x1b]52;c;aGk=\x07", "a" * 300, "x y"],
    "target": ["worker", "nope", "", "\x1b[2J"],
    # Files the fuzzer may write, inside its own folder: a folder, a missing folder, a name
    # too long for the file system, an escape, an empty name.
    "output": [
        "out.csv",
        "out.json",
        "-",
        "sub.csv",
        ".",
        "sub",
        "missing/out.csv",
        "a" * 5000,
        "out\x1b[2J.csv",
        "",
    ],
    "theme": ["nord", "jobdash-night", "nope", ""],
    "id": ["nightly", "quick", "nope", "", "\x1b[2J", "nightly "],
    "cron": ["0 3 * * *", "*/5 * * * *", "*/99999999999999999999 * * * *", "0 0 31 2 *", "", "a"],
    "every": [
        "30s",
        "5m",
        "0s",
        "0.01s",
        "36500d",
        "36501d",
        "999999999999999999999999h",
        "1e400s",
    ],
    "daily": ["09:00", "mon,wed@09:00,17:00", "24:00", "@09:00", "xyz@09:00", ""],
    "once": ["2026-12-01T09:00", "0001-01-01T00:00+05:00", "9999-12-31T23:59-12:00", "soon"],
    "tz": ["UTC", "Europe/Paris", "Etc/GMT+12", "Nope/Zone", "", "../../../etc/passwd", "/etc"],
    "catchup_bound": ["1d", "6h", "0", "99999999999999w", "-1h", "nan"],
}
UNKNOWN_OPTIONS = ["--nope", "-z", "--json=1", "--slots", "--", "-"]


def subcommands(parser: Parser) -> dict[str, Parser]:
    return {name: sub for name, (sub, _) in parser.commands.items()}


def value_for(action: argparse.Action, rng: random.Random) -> str:
    if rng.random() < 0.2 and action.dest != "output":
        return rng.choice(NASTY)
    if action.choices and rng.random() < 0.8:
        return str(rng.choice(list(action.choices)))
    return rng.choice(POOLS.get(action.dest, NASTY))


def command_line(parser: Parser, rng: random.Random, most: int = 4) -> list[str]:
    """Words for `parser` (with up to `most` of its options) and, if it has them, one of
    its sub-commands."""
    options = [
        a
        for a in parser.arguments
        if a.option_strings and a.dest not in HARNESS_DESTS and a.dest not in ("help", "version")
    ]
    chunks: list[list[str]] = []
    for action in rng.sample(options, k=rng.randint(0, min(most, len(options)))):
        flag = rng.choice(action.option_strings)
        if action.nargs == 0:
            chunks.append([flag])
        elif rng.random() < 0.05:
            chunks.append([flag])  # its value left out
        elif flag.startswith("--") and rng.random() < 0.2:
            chunks.append([f"{flag}={value_for(action, rng)}"])
        else:
            chunks.append([flag, value_for(action, rng)])
    if rng.random() < 0.03:
        chunks.append([rng.choice(UNKNOWN_OPTIONS)])
    if rng.random() < 0.02:
        chunks.append([rng.choice(["-h", "--help"])])
    positional: list[str] = []
    for action in parser.arguments:
        if action.option_strings or action is parser.command_action:
            continue
        count = {"?": rng.randint(0, 1), "*": rng.randint(0, 3)}.get(str(action.nargs), 1)
        if rng.random() < 0.05:
            count = max(0, count + rng.choice([-1, 1]))
        positional += [value_for(action, rng) for _ in range(count)]
    words = positional
    for chunk in chunks:  # options anywhere among the positional words
        at = rng.randint(0, len(words))
        words = words[:at] + chunk + words[at:]
    commands = subcommands(parser)
    if commands:
        name = rng.choice(sorted(commands)) if rng.random() < 0.98 else "nope"
        if name in commands:
            return [*words, name, *command_line(commands[name], rng)]
        return [*words, name]
    return words


def argv(rng: random.Random) -> list[str]:
    """One whole command line (never the bare dashboard: it needs a terminal)."""
    if rng.random() < 0.01:
        return [rng.choice(["--help", "--version"])]
    parser = build_parser()
    while True:
        words = command_line(parser, rng, most=rng.choice([0, 0, 0, 1, 2]))  # the dashboard's
        commands = subcommands(parser)
        if not any(w in commands for w in words):
            words.append(rng.choice(sorted(commands)))
        if exports_to(words) in (None, *POOLS["output"]):
            return words


def exports_to(words: list[str]) -> str | None:
    """The file `export -o` would write (a value left out lets -o take the next word)."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            output: str | None = getattr(parse_args(words), "output", None)
        except SystemExit:
            return None
    return output
