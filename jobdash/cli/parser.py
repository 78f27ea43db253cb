"""The command line's grammar: the top-level parser, the argument types that bound every
number and name before it reaches the engine, and `parse_args`.

Each command's arguments and help are declared in `declarations`; `build_parser` calls them
in the order of `--help`, or only the command's own when the first word names it. Nothing
heavy is imported here, so that `jobdash --help` starts quickly.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Collection, Sequence
from typing import Any, NoReturn

from jobdash import __version__
from jobdash.core.limits import MAX_ID, MAX_PARALLEL
from jobdash.present.text import name_problem, sanitize

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2), and the grammar it was
    given is kept where others may read it: `arguments` (its own options and positionals,
    and its parents', in argparse's order) and `commands` (its sub-commands). Shell
    completion and the command-line fuzzer walk these; argparse keeps its own lists
    private. Arguments are added with `add_argument`, `exclusive()` and `section()`, and
    sub-commands with `add_commands`, so that none is missed."""

    def __init__(self, *, parents: Sequence[Parser] = (), **kwargs: Any) -> None:
        self.arguments: list[argparse.Action] = []  # before argparse adds its -h
        self.commands: dict[str, tuple[Parser, str]] = {}  # name: (its parser, its help)
        self.command_action: argparse.Action | None = None  # the word naming a sub-command
        super().__init__(parents=list(parents), **kwargs)
        self.arguments += [a for parent in parents for a in parent.arguments]

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.arguments.append(action)
        return action

    def exclusive(self) -> Section:
        """Options of which one at most may be given."""
        return Section(self.add_mutually_exclusive_group(), self.arguments)

    def section(self, title: str) -> Section:
        """Options shown under a heading of their own in --help."""
        return Section(self.add_argument_group(title), self.arguments)

    def add_commands(self, **kwargs: Any) -> Callable[..., Parser]:
        """Sub-commands (argparse's `add_subparsers(**kwargs)`): the function that adds one,
        `add(name, help=…, …)`, which returns its parser."""
        sub = self.add_subparsers(parser_class=Parser, **kwargs)
        self.command_action = sub
        self.arguments.append(sub)

        def add(name: str, **kw: Any) -> Parser:
            parser: Parser = sub.add_parser(name, **kw)
            self.commands[name] = (parser, kw.get("help") or "")
            return parser

        return add

    def error(self, message: str) -> NoReturn:
        where = self.prog.removeprefix("jobdash").strip()
        # argparse quotes some arguments raw: a newline or escape in one stays visible, inert.
        say(f"jobdash: {where + ': ' if where else ''}{message} (see --help)")
        sys.exit(EXIT_USAGE)


class Section:
    """A group of a `Parser`'s options (exclusive, or under a heading), kept in its
    `arguments` as they are added."""

    def __init__(self, group: Any, arguments: list[argparse.Action]) -> None:
        self._group = group
        self._arguments = arguments

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action: argparse.Action = self._group.add_argument(*args, **kwargs)
        self._arguments.append(action)
        return action


def say(text: str) -> None:
    """One line on stderr, inert: written as `render.err` writes it (no colour, no wrap),
    without loading Rich for a usage error."""
    sys.stderr.write(sanitize(text) + "\n")


class Commands:
    """Where a declaration adds its command: the top parser's `add_parser`, and the parents
    every command shares (`--db`, `--config`) or that a listing adds (`--json`). A plain
    class: `dataclasses` (and the `inspect` it loads) would double what `--help` loads."""

    def __init__(self, add_parser: Callable[..., Parser], common: Parser, as_json: Parser):
        self.add_parser = add_parser
        self.common = common
        self.as_json = as_json

    def add(self, name: str, help: str, *parents: Parser, **kwargs: Any) -> Parser:
        """A command, described by its help line, taking the common options."""
        kwargs.setdefault("description", help)
        return self.add_parser(name, help=help, parents=[self.common, *parents], **kwargs)

    def filtered(self, name: str, help: str, epilog: str, query_help: str) -> Parser:
        """A listing that reads filter text (and `--json`), explained after its options."""
        s = self.add(
            name,
            help,
            self.as_json,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        s.add_argument("query", nargs="*", help=query_help)
        return s


def shown(text: str) -> str:
    """An argument quoted in a message: escapes visible, on one line, not too long."""
    return repr(text) if len(text) <= 40 else repr(text[:36]) + "…"


def whole_number(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: a whole number (ASCII digits) from `lo` to `hi`. The one place the
    command line's numbers are bounded, so that none reaches SQLite (64-bit integers) or a
    loop too big to mean anything."""

    def parse(text: str) -> int:
        m = re.fullmatch(r"\s*([+-]?)([0-9]+)\s*", text)
        if m is None:
            raise argparse.ArgumentTypeError(f"not a whole number: {shown(text)}")
        digits = m.group(2).lstrip("0") or "0"
        # Beyond 20 digits the value is out of any range here; int() of a 5,000-digit
        # string would refuse with a ValueError about Python's limits.
        n = int(m.group(1) + digits) if len(digits) <= 20 else None
        if n is None or not lo <= n <= hi:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {lo} to {hi}, got {shown(text.strip())}"
            )
        return n

    return parse


def seconds_between(lo: float, hi: float) -> Callable[[str], float]:
    """An argparse type: a number of seconds from `lo` to `hi`; never NaN or infinity (a
    lease or grace period that never ends is not one)."""

    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {shown(text)}") from None
        if not lo <= x <= hi:  # False for NaN too
            raise argparse.ArgumentTypeError(
                f"must be from {lo:g} to {hi:g} seconds, got {shown(text.strip())}"
            )
        return x

    return parse


slots_arg = whole_number(1, MAX_PARALLEL)
count_arg = whole_number(1, MAX_ID)  # --limit, --tail, --task
lease_arg = seconds_between(1.0, 3600.0)
grace_arg = seconds_between(0.0, 86400.0)


def agent_name(text: str) -> str:
    """An agent's name: shown on other people's terminals (`jobdash agents`, the dashboard)
    and used by `agent drain NAME`: visible, printable and short."""
    problem = name_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"the agent name {problem}")
    return text


def job_id(text: str) -> int:
    """A job id, as shown (`12`) or as the dashboard copies it (`#12`)."""
    if not re.fullmatch(r"\s*#?[0-9]+\s*", text):
        raise argparse.ArgumentTypeError(f"not a job id: {shown(text)}")
    return whole_number(1, MAX_ID)(text.strip().lstrip("#"))


def build_parser(command: str | None = None) -> Parser:
    """The whole command line: the dashboard's options, then every command; or, given a
    command, the dashboard's options and that command alone ("": no command)."""
    from jobdash.cli.declarations import DECLARED

    # Given before or after the command; SUPPRESS keeps a sub-command's parser from
    # resetting to None what was given before it (`jobdash --db X jobs`).
    common = Parser(add_help=False)
    common.add_argument(
        "--db",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="the store (default: $JOBDASH_DB, then the data dir)",
    )
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (default: $JOBDASH_CONFIG, ./jobdash.toml, config dir)",
    )
    common.add_argument(
        "--color",
        choices=("never", "auto", "always"),
        default=argparse.SUPPRESS,
        help="colours: never, auto (on a terminal, unless $NO_COLOR is set; the default), always",
    )
    as_json = Parser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON")

    p = Parser(
        prog="jobdash", description="A job manager with a terminal dashboard.", parents=[common]
    )
    p.add_argument("--version", action="version", version=f"jobdash {__version__}")
    p.add_argument(
        "--demo", action="store_true", help="load the demo job types and start demo jobs"
    )
    p.add_argument(
        "--read-only", action="store_true", help="watch only: no action changes anything"
    )
    p.add_argument("--theme", help="dashboard theme")
    p.add_argument(
        "--no-engine",
        action="store_true",
        help="never embed an engine: watch and act only (jobdash web's sessions)",
    )
    p.add_argument("--slots", type=slots_arg, default=4, help="task slots of the embedded engine")
    p.add_argument(
        "--low-bandwidth",
        action="store_true",
        help="for a slow link: fewer frames, no animations, no mouse (on its own over SSH)",
    )
    p.add_argument(
        "--mouse", action="store_true", help="keep mouse reporting on in low-bandwidth mode"
    )
    commands = Commands(p.add_commands(dest="command", metavar="COMMAND"), common, as_json)
    for name, declare in DECLARED.items():
        if command in (None, name):
            declare(commands, name)
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """argparse, plus the query's negations: `jobdash jobs -status:failed` is a query term,
    not an unknown option."""
    from jobdash.cli.declarations import DECLARED

    words = list(sys.argv[1:] if argv is None else argv)
    command = named_command(words, DECLARED)
    parser = build_parser("" if command is None and dashboard_only(words) else command)
    for word in words[: words.index("--") if "--" in words else len(words)]:
        # argparse drops a value of "--" given as `--opt=--` (or `-o--`) and passes the
        # option an empty list where a string is due.
        if m := re.fullmatch(r"(--[^=\s]+)=--|(-[A-Za-z])--", word):
            parser.error(f"{m.group(1) or m.group(2)}: '--' is not a value (it ends the options)")
    args, extra = parser.parse_known_args(words)
    for name in ("db", "config", "color"):
        if not hasattr(args, name):
            setattr(args, name, None)
    if extra:
        # Filter words after an option (`jobs status:failed --json type:x`) are argparse's
        # leftovers: they belong to the query, like negations, which look like options.
        if getattr(args, "command", None) in ("jobs", "export", "failures", "audit") and all(
            not x.startswith("-") or re.fullmatch(r"-[A-Za-z_]+:.*", x) for x in extra
        ):
            args.query = [*args.query, *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    for dest, value in vars(args).items():
        # Bytes that are not UTF-8 reach us as lone surrogates, which can be neither stored
        # nor printed; only file names may be any bytes the system allows.
        values = value if isinstance(value, list) else [value]
        if dest not in ("db", "config", "output") and not all(map(is_text, values)):
            bad = next(v for v in values if not is_text(v))
            parser.error(f"{dest.replace('_', '-')}: not UTF-8 text: {shown(bad)}")
    return args


# The dashboard's own options, True for one that takes a value. A command line of these
# alone (as `jobdash` and `jobdash web`'s sessions open the dashboard) names no command,
# and its grammar declares none: the dashboard's start does not build some 50 commands'
# parsers (~12 M instructions, 0.7 % of its first frame). An abbreviation, `--help` or any
# other word gets the whole grammar, whose messages name every command.
DASHBOARD_OPTIONS = {
    "--db": True,
    "--config": True,
    "--color": True,
    "--theme": True,
    "--slots": True,
    "--demo": False,
    "--read-only": False,
    "--no-engine": False,
    "--low-bandwidth": False,
    "--mouse": False,
}


def dashboard_only(words: Sequence[str]) -> bool:
    """Whether `words` are the dashboard's own options (`DASHBOARD_OPTIONS`) alone, each
    value after its option or joined to it by "="."""
    i = 0
    while i < len(words):
        name, joined, _ = words[i].partition("=")
        takes_value = DASHBOARD_OPTIONS.get(name)
        if takes_value is None or (joined and not takes_value):
            return False
        i += 1 if joined or not takes_value else 2
    return True


# The options every command takes that may also come before it (`jobdash --db X jobs`).
BEFORE_COMMAND = ("--db", "--config", "--color")


def named_command(words: Sequence[str], commands: Collection[str]) -> str | None:
    """The command `words` run, when it is their first word or comes after none but
    `BEFORE_COMMAND`'s options (and their values): argparse reads that word so, and only
    its own arguments need declaring. None for anything else (another option first, no
    command, a word that is none): that gets the whole command line, and its messages name
    every command."""
    i = 0
    while i < len(words) and words[i] not in commands:
        if words[i] in BEFORE_COMMAND:
            i += 2  # the option and its value, whatever it is (`--db jobs jobs`)
        elif words[i].partition("=")[0] in BEFORE_COMMAND:
            i += 1
        else:
            return None
    return words[i] if i < len(words) else None


def is_text(value: object) -> bool:
    """False for a str that cannot be written as UTF-8 (it holds lone surrogates)."""
    if not isinstance(value, str):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
