"""Reading a crontab (crontab(5), as Vixie cron, cronie and Debian cron read it) and turning
its entries into job types: `jobdash import-crontab`.

What cron does with a line, and so what the job type must do:

- `name = value` lines set the environment of the entries after them (a value in matching
  quotes keeps its blanks). `MAILTO` names who gets the output (here: the type's report
  recipients), `SHELL` the shell that runs the command, `CRON_TZ` the zone of the times
  (here: the schedule's `timezone`; an unknown zone is refused, naming its line);
  the other names reach the command's environment (here: `env NAME=value …` in argv).
- An entry is five time fields (or an `@daily`-style macro) and a command, which cron
  hands to `SHELL -c`. A `%` not escaped by a backslash ends the command: what follows is
  the command's standard input, each further `%` a newline, a newline added at the end;
  `\\%` is a plain `%` in both parts.
- A command with no shell syntax (words of plain characters, simple quotes) runs as argv;
  any other runs as `sh -c` (the `SHELL` in force), its input as a quoted here-document.

Each type's command is written for jobdash's templates: braces are doubled, so that a
command's `{}` stays `{}`. Nothing here reads files or prints: the command line does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from jobdash.core.config.writing import toml_array, toml_comment, toml_string
from jobdash.core.cron import ALIASES, CronError, parse_cron
from jobdash.core.model import BadInput

DEFAULT_SHELL = "/bin/sh"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Variables cron itself reads, never passed to the command here (MAILTO, SHELL and
# CRON_TZ are taken over; the rest are cronie's mail and delay settings).
CRON_OWN = _words(
    "MAILTO SHELL CRON_TZ MAILFROM RANDOM_DELAY CONTENT_TYPE CONTENT_TRANSFER_ENCODING"
)
# Characters of a word that no shell reads specially (outside quotes).
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")
# First words that only a shell can run (builtins and keywords): such a command is `sh -c`.
_SHELL_ONLY = _words(
    "cd exec export source . set unset ulimit umask eval exit trap wait read alias "
    "if for while until case function time ! [[ { shift return break continue "
    "readonly local command type hash declare typeset let builtin pushd popd"
)
# Words skipped when naming a type after its command: wrappers, interpreters, shells.
_WRAPPERS = _words(
    "sh bash dash zsh ksh env nice ionice nohup timeout flock sudo chronic setsid "
    "stdbuf run-one exec python python2 python3 perl ruby php node time cd test && "
    "|| ; |"
)
_ENV_LINE = re.compile(r"[ \t]*([^\s=]+)[ \t]*=[ \t]*(.*)\Z")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_HEADER = re.compile(r"m\s+h\s+dom\s+mon\s+dow\b", re.IGNORECASE)


class CrontabError(ValueError):
    """A line cron itself would refuse: `line` is its number (from 1)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class Entry:
    """One crontab entry, read as cron reads it, with the settings in force above it."""

    line: int
    text: str  # the line as written
    when: str  # the five fields, or a macro
    command: str  # up to the first unescaped `%`, `\\%` made `%`
    stdin: str  # what cron writes to its standard input ("" when nothing)
    env: tuple[tuple[str, str], ...] = ()  # environment for the command
    shell: str = DEFAULT_SHELL
    mailto: tuple[str, ...] | None = None  # None: MAILTO not set (cron mails the owner)
    cron_tz: str = ""
    description: str = ""  # the comment lines right above it
    user: str = ""  # a system crontab's user field


@dataclass(frozen=True)
class Skipped:
    """A line cron would run that no job type can express (`@reboot`)."""

    line: int
    text: str
    reason: str


@dataclass(frozen=True)
class Imported:
    """A job type made of an entry: what the config will say."""

    name: str
    entry: Entry
    command: tuple[str, ...]  # argv, braces doubled for jobdash's templates
    schedule: str  # "cron: …"
    email: tuple[str, ...]  # report recipients (MAILTO's addresses)
    timezone: str = ""  # the schedule's zone (CRON_TZ's; "": the engine's default)
    notes: tuple[str, ...] = field(default=())  # what the reviewer should know


def split_command(raw: str) -> tuple[str, str]:
    """A crontab command as cron splits it: (command, standard input)."""
    command: list[str] = []
    i, escaped = 0, False
    while i < len(raw):
        ch = raw[i]
        i += 1
        if escaped:
            escaped = False
            if ch == "%":
                command[-1] = "%"  # `\%`: the backslash goes, the % stays
                continue
        elif ch == "%":
            return "".join(command), _stdin_text(raw[i:])
        escaped = ch == "\\"
        command.append(ch)
    return "".join(command), ""


def _stdin_text(data: str) -> str:
    """cron's translation of what follows the first `%`: `\\%` to `%`, `%` to a newline,
    `\\x` kept, a newline added when the text does not end with one."""
    out: list[str] = []
    escaped = need_newline = False
    for ch in data:
        if escaped:
            if ch != "%":
                out.append("\\")
        elif ch == "%":
            ch = "\n"
        escaped = ch == "\\"
        if not escaped:
            out.append(ch)
            need_newline = ch != "\n"
    if escaped:
        out.append("\\")
    if need_newline:
        out.append("\n")
    return "".join(out)


def _env_value(raw: str) -> str:
    """An assignment's value: blanks trimmed, unless it is in matching quotes."""
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def read_crontab(text: str, system: bool = False) -> tuple[list[Entry], list[Skipped]]:
    """The entries of a crontab (`system`: /etc/crontab's format, a user field after the
    times) and the lines no job type can express. CrontabError for a line cron refuses."""
    entries: list[Entry] = []
    skipped: list[Skipped] = []
    env: dict[str, str] = {}
    comments: list[str] = []
    for number, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.rstrip("\r")
        stripped = line.strip(" \t")
        if not stripped:
            comments = []
            continue
        if stripped.startswith("#"):
            body = stripped[1:].strip()
            # Debian's header line, or an entry commented out: not a description.
            if _HEADER.match(body) or _is_entry(body, system):
                comments = []
            elif body:
                comments.append(body)
            continue
        if (m := _ENV_LINE.match(line)) and not _is_entry(stripped, system):
            env[m.group(1)] = _env_value(m.group(2))
            if m.group(1) == "CRON_TZ" and env["CRON_TZ"]:
                _check_zone(env["CRON_TZ"], number)
            comments = []
            continue
        when, rest = _times(stripped, number)
        user = ""
        if system:
            user, rest = _first_word(rest)
        if not rest.strip():
            raise CrontabError(number, "an entry needs a command after its times")
        description = " ".join(comments)
        comments = []
        if when.lower() == "@reboot":
            skipped.append(Skipped(number, line, "@reboot: jobdash has no start-up schedule"))
            continue
        command, stdin = split_command(rest)
        mailto = env.get("MAILTO")
        entries.append(
            Entry(
                line=number,
                text=line,
                when=when,
                command=command,
                stdin=stdin,
                env=tuple((k, v) for k, v in env.items() if k not in CRON_OWN),
                shell=env.get("SHELL") or DEFAULT_SHELL,
                mailto=None if mailto is None else tuple(_addresses(mailto)),
                cron_tz=env.get("CRON_TZ", ""),
                description=description,
                user=user,
            )
        )
    return entries, skipped


def _check_zone(name: str, number: int) -> None:
    """CrontabError unless `name` (a `CRON_TZ`) is a time zone: cronie would run the
    entries below it in UTC, not as their writer meant."""
    from jobdash.core.planning import PlanningError, check_timezone

    try:
        check_timezone(name)
    except PlanningError as e:
        raise CrontabError(number, f"CRON_TZ: {e}") from None


def _addresses(mailto: str) -> list[str]:
    return [a.strip() for a in mailto.split(",") if a.strip()]


def _is_entry(text: str, system: bool) -> bool:
    """Does `text` read as an entry (times and a command)? For commented-out ones."""
    try:
        _, rest = _times(text, 0)
    except CrontabError:
        return False
    return len(rest.split()) >= (2 if system else 1)


def _first_word(text: str) -> tuple[str, str]:
    """(the first word, the rest after the blanks that follow it): cron's blanks are
    spaces and tabs, in any mix."""
    word, *rest = re.split(r"[ \t]+", text, maxsplit=1)
    return word, rest[0] if rest else ""


def _times(text: str, number: int) -> tuple[str, str]:
    """(the times, the rest): a macro or five fields, checked as cron checks them."""
    if text.startswith("@"):
        macro, rest = _first_word(text)
        if macro.lower() not in ALIASES and macro.lower() != "@reboot":
            raise CrontabError(number, f"unknown macro {macro!r}")
        return macro, rest
    parts = re.split(r"[ \t]+", text, maxsplit=5)
    if len(parts) < 5:
        raise CrontabError(
            number, "not an entry (five time fields and a command), a comment or a setting"
        )
    when = " ".join(parts[:5])
    try:
        parse_cron(when)
    except CronError as e:
        raise CrontabError(number, str(e)) from None
    return when, parts[5] if len(parts) > 5 else ""


# --------------------------------------------------------------------- job types


def plain_argv(command: str) -> list[str] | None:
    """The argv of a command without shell syntax (words of plain characters, text in
    single quotes, or in double quotes without `$`, backquote or backslash); None when a
    shell is needed to read it."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    i = 0
    while i < len(command):
        ch = command[i]
        if ch in " \t":
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
            i += 1
            continue
        in_word = True
        if ch in "'\"":
            end = command.find(ch, i + 1)
            inner = command[i + 1 : end]
            if end < 0 or (ch == '"' and any(c in inner for c in "$`\\")):
                return None
            word.append(inner)
            i = end + 1
            continue
        if ch not in _PLAIN:
            return None
        word.append(ch)
        i += 1
    if in_word:
        words.append("".join(word))
    if not words or "" in words or "=" in words[0] or words[0] in _SHELL_ONLY:
        return None
    return words


def _heredoc(command: str, stdin: str) -> str:
    """`command` with `stdin` as its standard input, for a shell: a here-document whose
    quoted delimiter keeps the text literal (no expansion), grouping the whole command
    (a pipeline gets the input at its start, as from cron)."""
    lines = stdin.splitlines()
    delimiter = "CRON_STDIN"
    while delimiter in lines:
        delimiter += "_"
    return f"{{ {command}\n}} <<'{delimiter}'\n{stdin}{delimiter}\n"


def _template(text: str) -> str:
    """Literal text as a jobdash template element: braces doubled."""
    return text.replace("{", "{{").replace("}", "}}")


def entry_argv(entry: Entry) -> list[str]:
    """What the engine runs for `entry` (before brace doubling): argv when the command
    needs no shell and has no input, else the shell in force with `-c`; the entry's
    environment through `env`."""
    argv = None if entry.stdin else plain_argv(entry.command)
    if argv is None:
        script = _heredoc(entry.command, entry.stdin) if entry.stdin else entry.command.strip()
        argv = [entry.shell.strip() or DEFAULT_SHELL, "-c", script]
    env = [f"{k}={v}" for k, v in entry.env if _ENV_NAME.match(k)]
    return ["env", *env, *argv] if env else argv


def type_name(command: str, taken: set[str]) -> str:
    """A type name from the program a command runs (`/usr/local/bin/backup.sh --full`:
    `backup`), skipping wrappers and interpreters; made unique with `-2`, `-3` …"""
    words = re.findall(r"[^\s'\"|&;<>()`$]+", command)
    name = ""
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        base = word.rstrip("/").rsplit("/", 1)[-1]
        if base == "cd":
            skip_next = True
            continue
        if base in _WRAPPERS or base.startswith("-") or "=" in base or base.isdigit():
            continue
        base = re.sub(r"\.(sh|bash|py|pl|rb|php|js)\Z", "", base)
        name = re.sub(r"[^a-z0-9_-]+", "-", base.lower()).strip("-_")[:40].strip("-_")
        if name:
            break
    name = name or "cron"
    unique, n = name, 1
    while unique in taken:
        n += 1
        unique = f"{name}-{n}"
    taken.add(unique)
    return unique


def import_entries(entries: list[Entry], taken: set[str] | None = None) -> list[Imported]:
    """Each entry as a job type: its name, command, schedule, recipients and notes."""
    names = set(taken or ())
    out: list[Imported] = []
    for e in entries:
        notes: list[str] = []
        email = tuple(a for a in e.mailto or () if "@" in a)
        local = [a for a in e.mailto or () if "@" not in a]
        if local:
            notes.append(f"MAILTO {','.join(local)}: local mail, not an e-mail address (left out)")
        if e.stdin:
            notes.append("`%` in the command: the text after it is the command's standard input")
        odd = [k for k, _ in e.env if not _ENV_NAME.match(k)]
        if odd:  # `env` could read such a name as an option: not passed
            notes.append(f"not a variable name, left out of the environment: {', '.join(odd)}")
        if e.user:
            notes.append(f"ran as user {e.user}: the engine runs it as its own user")
        argv = entry_argv(e)
        out.append(
            Imported(
                name=type_name(e.command, names),
                entry=e,
                command=tuple(_template(a) for a in argv),
                schedule=f"cron: {e.when}",
                email=email,
                timezone=e.cron_tz,
                notes=tuple(notes),
            )
        )
    return out


def crontab_toml(imported: list[Imported], skipped: list[Skipped], source: str) -> str:
    """The job types as config text to review: each `[types.NAME]` table after a comment
    with its crontab line and what the reviewer should know; skipped lines as comments."""
    lines = [
        toml_comment(f"Job types imported from {source} by jobdash import-crontab: review them."),
        toml_comment(
            "They run as the engine's user, in its environment (cron's PATH=/usr/bin:/bin "
            "and HOME are not set);"
        ),
        toml_comment(
            "a report is sent at the end of every run (cron mailed only output); "
            "reports by e-mail need an [smtp] table."
        ),
    ]
    for s in skipped:
        lines += [
            "",
            toml_comment(f"not imported, line {s.line}: {s.reason}"),
            toml_comment(s.text),
        ]
    for t in imported:
        e = t.entry
        lines += ["", toml_comment(f"crontab line {e.line}: {e.text}")]
        lines += [toml_comment(f"note: {n}") for n in t.notes]
        lines.append(f"[types.{t.name}]")
        if e.description:
            lines.append(f"description = {toml_string(e.description)}")
        lines.append(f"command = {toml_array(t.command)}")
        if t.timezone:
            planning, zone = toml_string(t.schedule), toml_string(t.timezone)
            lines.append(f"schedule = {{ planning = {planning}, timezone = {zone} }}")
        else:
            lines.append(f"schedule = {toml_string(t.schedule)}")
        if t.email:
            lines.append(f"report = {{ email = {toml_array(t.email)} }}")
    return "\n".join(lines) + "\n"


def import_crontab(
    text: str, source: str, system: bool = False, taken: set[str] | None = None
) -> tuple[str, list[Skipped]]:
    """`jobdash import-crontab`: the config text of a crontab's entries (names in `taken`
    not reused) and the lines left out; BadInput naming the line cron would refuse."""
    try:
        entries, skipped = read_crontab(text, system=system)
    except CrontabError as e:
        raise BadInput(f"import-crontab: {source}: {e}") from None
    return crontab_toml(import_entries(entries, taken), skipped, source), skipped
