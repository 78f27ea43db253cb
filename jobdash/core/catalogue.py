"""The engine's catalogue: the job types of its own configuration, known by a hash.

Why: a job row is written by whoever submitted it, and any process of the store's user can
write any row. So a job records only its type's name, the hash of the definition its
submitter saw, its parameters and, per task, its item; the engine that claims a task builds
what runs (argv with the parameters and the item substituted, or the Python function) from
its own definition with that hash, and claims only tasks of types it holds with the same
hash. A submitter whose definition differs from the running engines' is refused at submit
(see `Service.submit`); a job that reaches engines that do not hold its hash waits, with the
reason on its info line (see `Store.admit`; the words are `unrunnable`'s).
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from jobdash.core.lifecycle import FINALIZE_KIND
from jobdash.core.model import BadInput, Items, JobType, Param, Report, SchedulePolicy
from jobdash.core.values import ITEM, substitute

if TYPE_CHECKING:
    from jobdash.core.store.engine_records import Claim
    from jobdash.core.store.side_records import Published

# Not part of what a type runs: how it is shown, where it was read from, and when its
# schedule fires (an admin changes plannings at run time; queued jobs stay valid).
UNHASHED = (
    "description",
    "source",
    "line",
    "target",
    "schedule",
    "schedule_policy",
    "schedule_report",
    "schedule_timezone",
)


@functools.lru_cache(maxsize=256)
def type_hash(jt: JobType) -> str:
    """The hash of what a job of this type runs and how: its command or function, items,
    parameters (names, required, defaults, bounds), parallel, timeout, retries, backoff, locks,
    exclusive, cancellable, report recipients. Stable across processes and versions of the
    same definition (canonical JSON, sorted keys). Remembered per definition (a JobType is
    frozen, all the way down): every submission asks it, and working it out (a deep copy,
    JSON, SHA-256) cost a single submission more than its insert."""
    d: dict[str, Any] = dataclasses.asdict(jt)
    for key in UNHASHED:
        d.pop(key, None)
    if not d["artifacts"]:  # a type without any hashes as it did before artifacts existed
        del d["artifacts"]
    if not d["report"]["stalls"]:  # … and one without stall reports as before they existed
        del d["report"]["stalls"]
    d["params"] = [
        [p.name, p.required, p.default]
        + ([p.minimum, p.maximum] if p.minimum is not None or p.maximum is not None else [])
        for p in jt.params
    ]
    text = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    import hashlib  # OpenSSL's library: loaded by a submission or an engine, not by a read

    return hashlib.sha256(text.encode()).hexdigest()


def short(digest: str | None) -> str:
    """How a type hash is shown: its first 12 hex digits."""
    return digest[:12] if digest else "none"


def engines_do(agents: Sequence[str]) -> str:
    """'engine e1 does' / 'engines e1, e2 do' (three named at most)."""
    if len(agents) == 1:
        return f"engine {agents[0]} does"
    more = f" and {len(agents) - 3} more" if len(agents) > 3 else ""
    return f"engines {', '.join(agents[:3])}{more} do"


def unrunnable(type_name: str, digest: str | None, live: Sequence[Published]) -> str | None:
    """Why no agent among `live` (the live agents' catalogues) runs a job of this type and
    hash; None when one does, or when no agent is live (the job simply waits for one)."""
    if not live or (digest is not None and any(p.hash == digest for p in live)):
        return None
    if digest is None:
        return (
            f"waiting: this job of type {type_name} has no catalogue hash (made by an older "
            "jobdash); cancel it and run it again"
        )
    same = sorted((p.agent, p.hash) for p in live if p.name == type_name)
    if same:
        agent, theirs = same[0]
        return (
            f"waiting: type {type_name} changed since submit (catalogue hash {short(digest)}; "
            f"engine {agent} has {short(theirs)})"
        )
    agents = sorted({p.agent for p in live})
    return f"waiting: {engines_do(agents)} not define type {type_name}"


def check_submitted(
    jt: JobType, digest: str, live: set[str], published: Sequence[Published]
) -> None:
    """Refuse (BadInput, one line) a job of `jt` (hash `digest`) when engines are `live` and
    none runs that very definition (`published`: the live engines' catalogues): they run
    only their own config's types, so the job would only wait. With no live engine the job
    is queued; the engine that starts checks it (see `Store.admit`)."""
    if not live or any(p.hash == digest for p in published):
        return
    same = sorted((p.agent, p.hash) for p in published if p.name == jt.name)
    if same:
        agent, theirs = same[0]
        raise BadInput(
            f"type {jt.name} here differs from what engine {agent} runs (catalogue hash "
            f"{short(digest)}, engine's {short(theirs)}): an engine runs only its own "
            "config's definition; use the engine's config or restart it with yours"
        )
    raise BadInput(
        f"{engines_do(sorted(live))} not define type {jt.name}: an engine runs only the "
        "types of its own config"
    )


def type_to_dict(jt: JobType) -> dict[str, Any]:
    return dataclasses.asdict(jt)


def type_from_dict(d: Mapping[str, Any]) -> JobType:
    """Rebuild a JobType published by an engine (JSON lists back into tuples)."""
    d = dict(d)
    d["params"] = tuple(Param(**p) for p in d.get("params", ()))
    items = d.get("items")
    if items:
        d["items"] = Items(
            values=tuple(items["values"]) if items.get("values") is not None else None,
            glob=items.get("glob"),
            command=tuple(items["command"]) if items.get("command") is not None else None,
        )
    for key in ("command", "locks", "artifacts"):
        if d.get(key) is not None:
            d[key] = tuple(d[key])
    if isinstance(d.get("finalize"), list):  # a command type's argv
        d["finalize"] = tuple(d["finalize"])
    for key in ("report", "schedule_report"):
        rep = d.get(key) or {}
        d[key] = Report(
            tuple(rep.get("email", ())), tuple(rep.get("webhook", ())), bool(rep.get("stalls"))
        )
    d["schedule_policy"] = SchedulePolicy(**(d.get("schedule_policy") or {}))
    known = {f.name for f in dataclasses.fields(JobType)}
    return JobType(**{k: v for k, v in d.items() if k in known})


class Unrunnable(Exception):
    """A claimed task that the engine will not run; the message says why (one line)."""


class Work(NamedTuple):
    """What one claimed task runs: an argv, or a Python function reference (with the module
    that the tasks a job function adds must come from). A tuple: one is made per task."""

    argv: list[str] | None = None
    function: str | None = None
    module: str = ""
    finalize: bool = False  # the job's finalize step (it is told the tasks' results)
    artifacts: tuple[str, ...] = ()  # a command's globs, its placeholders substituted


class Catalogue:
    """The job types an engine runs, by hash. Resolving a claim costs a dict lookup and the
    substitution of its argv: no store access."""

    def __init__(self, types: Mapping[str, JobType]) -> None:
        self.types = dict(types)
        self.by_hash = {type_hash(jt): jt for jt in self.types.values()}
        self.hashes = frozenset(self.by_hash)
        # The module of each Python type's job function: its tasks' functions come from it.
        self._module = {
            jt.name: jt.function.partition(":")[0] for jt in self.types.values() if jt.function
        }

    def published(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """name -> (hash, definition as data), as an engine publishes it into the store."""
        return {jt.name: (h, dataclasses.asdict(jt)) for h, jt in self.by_hash.items()}

    def work(self, claim: Claim) -> Work:
        """What `claim` runs, from our own definition of its job's type (its finalize step's
        argv or function for a claim of kind "finalize")."""
        jt = self.by_hash.get(claim.type_hash or "")
        if jt is None:
            raise Unrunnable(
                f"this engine does not define type {claim.type} with catalogue hash "
                f"{short(claim.type_hash)}"
            )
        finalize = claim.kind == FINALIZE_KIND
        if finalize and jt.finalize is None:
            raise Unrunnable(f"type {jt.name} has no finalize step")
        if jt.command is not None:
            values = dict(claim.params)
            if claim.item is not None and jt.items is not None and not finalize:
                values[ITEM] = str(claim.item)
            key = "finalize" if finalize else "command"
            template = jt.finalize if finalize else jt.command
            try:
                argv = [substitute(a, values, f"types.{jt.name}.{key}") for a in template or ()]
                # A value is a literal part of the glob: its own `*`, `?` and `[` match
                # only themselves (a parameter never widens what is collected). A finalize
                # step's files are not collected: the globs are its tasks'.
                literal = {k: glob.escape(v) for k, v in values.items()}
                globs = tuple(
                    substitute(g, literal, f"types.{jt.name}.artifacts")
                    for g in (() if finalize else jt.artifacts)
                )
            except BadInput as e:
                raise Unrunnable(str(e)) from None
            return Work(argv=argv, finalize=finalize, artifacts=globs)
        module = self._module[jt.name]
        if finalize:
            return Work(function=str(jt.finalize), module=module, finalize=True)
        if claim.kind != "function":
            return Work(function=jt.function, module=module)
        ref = str(claim.spec)
        if ref.partition(":")[0] != module:
            raise Unrunnable(
                f"task function {ref} is not a function of {module}, the module of type "
                f"{jt.name}'s job function"
            )
        return Work(function=ref, module=module)
