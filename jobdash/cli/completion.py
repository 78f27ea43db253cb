"""Shell completion: `jobdash completion bash|zsh|fish` prints a script, and the script asks
`jobdash __complete SHELL …` (hidden) what may follow the words typed so far.

Why the script asks jobdash rather than listing everything itself: the candidates come from
the command line's own grammar (`build_parser`: commands, options, choices), so a new
command or option completes without anyone editing three scripts, and the values only
the store knows (job ids, job types, schedule ids, agents) are read when asked for.
`__complete` reads a store only if it exists (it never creates one), opens it to read,
prints nothing but candidates, and gives up silently after `TIMEOUT` seconds: a TAB never
hangs and never shows a traceback. Exit status 3 asks the shell for file names.

Candidates are data too (a job's type, an agent's name): one a line, control characters
and tabs made visible stand-ins in descriptions, values with any of them left out, and
quoted for the shell that inserts them (bash inserts what it is given as typed text).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jobdash.cli.declarations import SHELLS
from jobdash.cli.parser import EXIT_OK, EXIT_USAGE, Parser, build_parser, job_id
from jobdash.present.text import clip, sanitize

if TYPE_CHECKING:
    from jobdash.core.model import JobType

EXIT_FILES = 3  # the shell completes file names itself
TIMEOUT = 5  # seconds: past this a TAB completes nothing (a store that does not answer)
JOB_LIMIT = 100  # the newest jobs offered
# Options and positionals whose values are file names (the shell completes them).
FILE_DESTS = frozenset({"db", "config", "output", "params_from", "file"})
# Values only the store or the config knows: read when asked for (see `values`).
STORE_KINDS = ("jobs", "types", "params", "schedules", "agents")
# Commands whose job id is an active job's (the others take any job).
ACTIVE_ONLY = frozenset({"cancel", "pause", "resume"})

Candidate = tuple[str, str]  # (value, description)


def cmd_completion(a: argparse.Namespace) -> int:
    """`completion SHELL`: the script, on standard output (see the README to install it)."""
    from jobdash.cli.completion_scripts import SCRIPTS

    sys.stdout.write(SCRIPTS[a.shell])
    return EXIT_OK


def value_kind(action: argparse.Action) -> str | None:
    """What completes the value of an option or positional: a store kind, "files",
    "zones", "choices", or None (free text: a number, a duration, a query)."""
    if action.choices is not None:
        return "choices"
    if action.type is job_id:
        return "jobs"
    if action.dest == "type":  # `run TYPE`, `jobs --type`
        return "types"
    if action.dest == "param":  # `run TYPE -p NAME=…`: the type's parameters
        return "params"
    if action.dest == "id":  # `schedule run|enable|disable|show|set ID`
        return "schedules"
    if action.dest == "target" and action.metavar == "NAME":  # `agent drain NAME`
        return "agents"
    if action.dest == "tz":
        return "zones"
    if action.dest in FILE_DESTS:
        return "files"
    return None


def takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


class Position:
    """Where the words typed so far leave the grammar: the (sub)parser reached, the next
    positional, an option waiting for its value, and the values seen (`--db`, `--config`)."""

    def __init__(self, parser: Parser, words: Sequence[str]) -> None:
        self.parser = parser
        self.command = ""
        self.seen: dict[str, str] = {}
        self.pending: argparse.Action | None = None
        self.index = 0
        for word in words:
            self._take(word)

    def positionals(self) -> list[argparse.Action]:
        return [a for a in self.parser.arguments if not a.option_strings]

    def option(self, text: str) -> argparse.Action | None:
        return next((a for a in self.parser.arguments if text in a.option_strings), None)

    def _take(self, word: str) -> None:
        if self.pending is not None:
            self.seen[self.pending.dest] = word
            self.pending = None
            return
        if word.startswith("-") and len(word) > 1:
            name, eq, value = word.partition("=")
            action = self.option(name)
            if action is not None and takes_value(action):
                if eq:
                    self.seen[action.dest] = value
                else:
                    self.pending = action
            return
        positionals = self.positionals()
        if self.index >= len(positionals):
            return
        action = positionals[self.index]
        if action is self.parser.command_action:
            if word in self.parser.commands:
                self.parser = self.parser.commands[word][0]
                self.command = f"{self.command} {word}".strip()
                self.index = 0
            return
        self.seen[action.dest] = word
        if action.nargs not in ("*", "+"):
            self.index += 1


def candidates(words: Sequence[str]) -> tuple[list[Candidate], bool]:
    """What may replace the last of `words` (the first is the program): (candidates,
    whether file names do instead)."""
    here = Position(build_parser(), words[1:-1])
    cur = words[-1] if len(words) > 1 else ""
    if here.pending is not None:
        return _values(here.pending, here), value_kind(here.pending) == "files"
    if cur.startswith("--") and "=" in cur:  # `--color=ne`
        name = cur.partition("=")[0]
        action = here.option(name)
        if action is None or not takes_value(action):
            return [], False
        if value_kind(action) == "files":
            return [], True
        return [(f"{name}={v}", d) for v, d in _values(action, here)], False
    if cur.startswith("-"):
        out = []
        for action in here.parser.arguments:
            if action.help == argparse.SUPPRESS:
                continue
            for name in action.option_strings:
                out.append((name, action.help or ""))
        return out, False
    positionals = here.positionals()
    if here.index >= len(positionals):
        return [], False
    action = positionals[here.index]
    if action is here.parser.command_action:
        commands = here.parser.commands
        return [(n, help) for n, (_, help) in commands.items() if not n.startswith("_")], False
    return _values(action, here), value_kind(action) == "files"


def _values(action: argparse.Action, here: Position) -> list[Candidate]:
    kind = value_kind(action)
    if kind == "choices":
        return [(str(c), "") for c in action.choices or ()]
    if kind == "zones":
        import zoneinfo

        return [(z, "") for z in sorted(zoneinfo.available_timezones())]
    if kind in STORE_KINDS:
        import asyncio

        return asyncio.run(store_values(kind, here))
    return []


async def store_values(kind: str, here: Position) -> list[Candidate]:
    """Job ids, job types, schedule ids or agent names, as this user may see them: the
    config's types even without a store; nothing from a store that does not exist."""
    from jobdash.core.service import Service, read_config, store_location

    db, config = here.seen.get("db"), here.seen.get("config")
    location = store_location(db)
    if "://" not in location and not Path(location).is_file():
        if kind not in ("types", "params"):
            return []
        return type_values(kind, read_config(config).types, here)
    svc = await Service.open(db=db, config=config, reading=True)
    try:
        if kind in ("types", "params"):
            return type_values(kind, svc.types, here)
        if kind == "schedules":
            return [(s.id, s.effective) for s in await svc.schedules()]
        if kind == "agents":
            return [(info.name, info.state) for info, _ in await svc.agents()]
        active = True if here.command in ACTIVE_ONLY else None
        jobs = await svc.jobs(active=active, limit=JOB_LIMIT)
        return [(str(j.id), f"{j.type} {j.status} {j.target}".strip()) for j in jobs]
    finally:
        await svc.close()


def type_values(kind: str, types: Mapping[str, JobType], here: Position) -> list[Candidate]:
    """Job types with their descriptions, or (`params`) `NAME=` for each parameter of the
    type already on the line, with its help."""
    if kind == "types":
        return [(name, types[name].description) for name in sorted(types)]
    jt = types.get(here.seen.get("type", ""))
    return [(f"{p.name}=", p.help) for p in jt.params] if jt is not None else []


def shown(shell: str, value: str, description: str) -> str | None:
    """One output line for `shell`; None for a value no shell could take safely."""
    if not value or value != sanitize(value):  # a control character, a tab, a newline
        return None
    text = clip(sanitize(description).replace("\t", " "), 60)
    if shell == "bash":
        return shlex.quote(value)
    if shell == "zsh":
        value = value.replace("\\", "\\\\").replace(":", "\\:")
        return f"{value}:{text}" if text else value
    return f"{value}\t{text}" if text else value


def split_line(line: str) -> list[str]:
    """A bash command line, as far as the cursor, into words as the shell will pass them
    (an unclosed quote is closed; a line ending in a blank starts an empty word)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    lexer.commenters = ""
    words: list[str] = []
    try:
        for word in lexer:
            words.append(word)
    except ValueError:  # "No closing quotation": the word being typed
        words.append(lexer.token)
    if not line or line[-1] in " \t":
        words.append("")
    return words


def complete(argv: Sequence[str]) -> int:
    """`jobdash __complete SHELL -- WORD…` (zsh, fish: the words up to the cursor, the last
    one being completed) or `jobdash __complete bash LINE WORD` (bash: the line up to the
    cursor, and bash's own idea of the word, which stops at `=` and `:`)."""
    signal.signal(signal.SIGALRM, lambda *_: os._exit(EXIT_USAGE))
    signal.alarm(TIMEOUT)
    try:
        if not argv or argv[0] not in SHELLS:
            return EXIT_USAGE
        shell = argv[0]
        if shell == "bash":
            words = split_line(argv[1] if len(argv) > 1 else "")
            bash_word = argv[2] if len(argv) > 2 else words[-1]
        else:
            words = list(argv[2:] if argv[1:2] == ["--"] else argv[1:]) or [""]
            bash_word = words[-1]
        found, files = candidates(words)
        if files:
            return EXIT_FILES
        cur = words[-1]
        # bash replaces only its own word: `--db=/tm` is `/tm` to it.
        cut = len(cur) - len(bash_word) if shell == "bash" and cur.endswith(bash_word) else 0
        lines = []
        for value, description in found:
            if value.startswith(cur):
                line = shown(shell, value[cut:], description)
                if line is not None and line not in lines:
                    lines.append(line)
        sys.stdout.write("".join(f"{line}\n" for line in lines))
        return EXIT_OK
    except BaseException:  # a TAB shows nothing rather than a traceback
        return EXIT_USAGE
    finally:
        signal.alarm(0)
