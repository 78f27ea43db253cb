"""Execution reports: when a job with recipients ends, one engine sends what happened.

Recipients come from the job type's `report` (and a schedule's, passed at submission); they
are stored with the job in the `reports` table, so the report goes out even when the engine
that runs it is not the one that started the job. Each engine's housekeeping claims due
reports of finished jobs (`store.claim_reports`): one engine sends each. A report holds the
status, task counts, duration, failed tasks and the log's last lines, and goes out

- by e-mail over SMTP (`[smtp]` in the config: host, port, tls = true/false/"starttls"/"ssl",
  user, password, sender), sent with smtplib in a worker thread;
- as a JSON POST to each webhook URL (urllib in a worker thread).

A schedule whose fire time cannot start its job (an `error` tick) sends a report to the
same recipients (the schedule's and its type's) when that error is new: not at every fire
time while the same error lasts, again when it changes or comes back after a fire that
worked (`fire_reports`, filled by the scheduler; `"event": "fire_failed"` in the JSON, where
a job's report has `"job_finished"`). A type with `report = { …, stalls = true }` also has a
report sent when one of its running tasks stalls, once per task attempt (`core.stalls`;
`"event": "task_stalled"`). Times are ISO 8601 with the UTC offset.

A send that fails is logged on the job (a system log line) and retried with backoff
(`BACKOFF`); after the last try the report is marked failed. Recipients already served are
not sent to again. Nothing here ever stops the engine: every error is caught and logged.
Delivery is at least once: an engine that dies in the middle of a send leaves the claim to
run out (`HOLD`), and another engine sends again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import textwrap
import time
import urllib.error
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jobdash import __version__
from jobdash.core.model import Job, TaskStatus, format_duration
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Delivery, FireReport, StallReport
from jobdash.present.times import iso
from jobdash.present.words import plural, plural_word

if TYPE_CHECKING:
    from email.message import EmailMessage

    from jobdash.core.stalls import StallWatch

log = logging.getLogger("jobdash.reports")

BACKOFF: Sequence[float] = (5.0, 30.0, 120.0)  # seconds before each retry; then it gives up
HOLD = 120.0  # seconds a claimed report stays with its engine before another may send it
SEND_TIMEOUT = 20.0  # seconds for one SMTP conversation or one webhook POST
LOG_TAIL = 20  # log lines in a report
MAX_FAILED = 50  # failed tasks listed in a report


def when(ts: float | None) -> str | None:
    """ISO 8601 with the UTC offset, in the engine's zone (JSON null for none)."""
    return iso(ts) or None


async def build_report(store: Store, job: Job) -> dict[str, Any]:
    """What a report says about a finished job (the webhook's JSON body)."""
    tasks = await store.tasks(job.id)
    failed = [t for t in tasks if t.status is TaskStatus.FAILED]
    tail = await store.log_tail(job.id, LOG_TAIL)
    seq_of = {t.id: t.seq for t in tasks}
    duration = job.duration()
    return {
        "event": "job_finished",
        "job": job.id,
        "type": job.type,
        "status": str(job.status),
        "info": job.info,
        "target": job.target,
        "params": job.params,
        "user": job.user,
        "trigger": str(job.trigger),
        "schedule": job.schedule_id,
        "created": when(job.created),
        "started": when(job.started),
        "finished": when(job.finished),
        "duration": round(duration, 3) if duration is not None else None,
        "counts": {
            "total": job.total,
            "succeeded": job.succeeded,
            "failed": job.failed,
            "cancelled": job.cancelled,
            "skipped": job.skipped,
        },
        "warnings": job.warnings,
        "metrics": job.metrics,
        "failed_tasks": [
            {
                "seq": t.seq,
                "name": t.name,
                "attempt": t.attempt,
                "exit_code": t.exit_code,
                "error": t.error,
            }
            for t in failed[:MAX_FAILED]
        ],
        "failed_tasks_not_listed": max(0, len(failed) - MAX_FAILED),
        "log_tail": [
            {
                "ts": when(ln.ts),
                "task": seq_of.get(ln.task_id) if ln.task_id is not None else None,
                "stream": ln.stream,
                "text": ln.text,
            }
            for ln in tail
        ],
        "engine": socket.gethostname(),
        "version": __version__,
    }


def subject(r: dict[str, Any]) -> str:
    c = r["counts"]
    return (
        f"[jobdash] job {r['job']} {r['type']} {r['status']} "
        f"({c['succeeded']}/{c['total']} ok, {c['failed']} failed)"
    )


def email_text(r: dict[str, Any]) -> str:
    c = r["counts"]
    lines = [
        f"Job {r['job']} ({r['type']}) {r['status']}: {r['info']}",
        "",
        f"Status:     {r['status']}",
        f"Tasks:      {c['total']} total, {c['succeeded']} succeeded, {c['failed']} failed, "
        f"{c['cancelled']} cancelled, {c['skipped']} skipped",
        f"Duration:   {format_duration(r['duration'])}",
        f"Started:    {r['started'] or '-'}",
        f"Finished:   {r['finished'] or '-'}",
        f"Started by: {r['user']} ({r['trigger']}"
        + (f", schedule {r['schedule']}" if r["schedule"] else "")
        + ")",
    ]
    if r["params"]:
        lines.append("Parameters: " + " ".join(f"{k}={v}" for k, v in r["params"].items()))
    if r["metrics"]:
        lines.append("Metrics:    " + " ".join(f"{k}={v:g}" for k, v in r["metrics"].items()))
    if r["warnings"]:
        lines.append(f"Warnings:   {r['warnings']}")
    if r["failed_tasks"]:
        lines += ["", "Failed tasks:"]
        for t in r["failed_tasks"]:
            code = f" (exit {t['exit_code']})"
            if t["exit_code"] is None or code[2:-1] in t["error"]:
                code = ""
            lines.append(f"  #{t['seq']} {t['name']}: {t['error']}{code}, attempt {t['attempt']}")
        if r["failed_tasks_not_listed"]:
            lines.append(f"  … and {r['failed_tasks_not_listed']} more")
    if r["log_tail"]:
        n = len(r["log_tail"])
        lines += ["", f"Last {n} log {plural_word(n, 'line')}:"]
        for ln in r["log_tail"]:
            task = f"#{ln['task']} " if ln["task"] is not None else ""
            lines.append(f"  {ln['ts']} {task}{ln['stream']}: {ln['text']}")
    lines += ["", f"-- jobdash {r['version']} on {r['engine']}"]
    return "\n".join(lines) + "\n"


def fire_report(f: FireReport) -> dict[str, Any]:
    """What a report says about a failed fire (the webhook's JSON body)."""
    return {
        "event": "fire_failed",
        "job": None,
        "schedule": f.schedule_id,
        "type": f.type,
        "status": "error",
        "fire_time": when(f.fire_time),
        "timezone": f.timezone,  # the schedule's, in which its planning is read
        "error": f.error,
        "engine": socket.gethostname(),
        "version": __version__,
    }


def fire_email_text(r: dict[str, Any]) -> str:
    return (
        f"Schedule {r['schedule']} (type {r['type']}) could not start its job for the fire "
        f"time {r['fire_time']}:\n\n  {r['error']}\n\n"
        "It is tried again at each of its fire times. This error is reported once;\n"
        "another report follows if the error changes, or comes back after a fire\n"
        "that worked. "
        f"`jobdash schedule show {r['schedule']}` lists its ticks.\n\n"
        f"-- jobdash {r['version']} on {r['engine']}\n"
    )


def stall_report(s: StallReport) -> dict[str, Any]:
    """What a report says about a stalled task (the webhook's JSON body); the last line is
    the task's text as it wrote it (data: a mail client or a webhook shows it as text)."""
    return {
        "event": "task_stalled",
        "job": s.job_id,
        "type": s.type,
        "task": s.seq,
        "task_name": s.name,
        "attempt": s.attempt,
        "silent": round(s.silent, 3),
        "stall_after": s.stall_after,
        "stall_after_from": "config" if s.configured else "history",
        "last_line": s.last_line,
        "detected": when(s.detected),
        "engine": socket.gethostname(),
        "version": __version__,
    }


def stall_email_text(r: dict[str, Any]) -> str:
    how = "its type's setting" if r["stall_after_from"] == "config" else "from its type's history"
    last = (
        f"Its last line:\n\n  {r['last_line']}"
        if r["last_line"] is not None
        else "It has written no line."
    )
    what = (
        f"Task #{r['task']} ({r['task_name']}) of job {r['job']} ({r['type']}), attempt "
        f"{r['attempt']}, has shown no sign of life (no log line, no progress) for "
        f"{format_duration(r['silent'])}, longer than its stall_after of "
        f"{format_duration(r['stall_after'])} ({how}). Seen at {r['detected']}."
    )
    return (
        f"{textwrap.fill(what, 78, break_long_words=False, break_on_hyphens=False)}\n\n"
        f"{last}\n\n"
        "The task is still running: jobdash does not stop it (its type's timeout would), and\n"
        "reports a stall once per task attempt.\n"
        f"`jobdash show {r['job']}` shows the job, `jobdash cancel {r['job']}` cancels it.\n\n"
        f"-- jobdash {r['version']} on {r['engine']}\n"
    )


def _message(msg: EmailMessage, r: dict[str, Any]) -> None:
    """Subject, jobdash's header and text of the message of report `r`."""
    if r["event"] == "fire_failed":
        msg["Subject"] = f"[jobdash] schedule {r['schedule']} failed to start its job"
        msg["X-Jobdash-Schedule"] = str(r["schedule"])
        msg.set_content(fire_email_text(r))
        return
    msg["X-Jobdash-Job"] = str(r["job"])
    if r["event"] == "task_stalled":
        msg["Subject"] = (
            f"[jobdash] job {r['job']} {r['type']}: task #{r['task']} stalled "
            f"(silent {format_duration(r['silent'])})"
        )
        msg.set_content(stall_email_text(r))
    else:
        msg["Subject"] = subject(r)
        msg.set_content(email_text(r))


def send_email(smtp: dict[str, Any], to: str, r: dict[str, Any]) -> None:
    """One message over SMTP (blocking: run it in a thread). The mail modules load here, at
    the first report, not with every engine."""
    import smtplib
    import ssl
    from email.message import EmailMessage

    host = str(smtp.get("host", "localhost"))
    port = int(smtp.get("port", 25))
    tls = smtp.get("tls", {465: "ssl", 587: "starttls"}.get(port, False))
    msg = EmailMessage()
    msg["From"] = str(smtp.get("sender") or f"jobdash@{socket.gethostname()}")
    msg["To"] = to
    _message(msg, r)
    ctx = ssl.create_default_context()
    server: smtplib.SMTP
    if tls == "ssl":
        server = smtplib.SMTP_SSL(host, port, timeout=SEND_TIMEOUT, context=ctx)
    else:
        server = smtplib.SMTP(host, port, timeout=SEND_TIMEOUT)
    with server:
        if tls is True or tls == "starttls":
            server.starttls(context=ctx)
        if smtp.get("user"):
            server.login(str(smtp["user"]), str(smtp.get("password", "")))
        server.send_message(msg)


def send_webhook(url: str, r: dict[str, Any]) -> None:
    """One JSON POST (blocking: run it in a thread); an HTTP status >= 300 is an error."""
    import urllib.request

    body = json.dumps(r).encode()
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"jobdash/{__version__}"},
    )
    with urllib.request.urlopen(req, timeout=SEND_TIMEOUT) as resp:
        if resp.status >= 300:
            raise OSError(f"HTTP {resp.status}")


def describe(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return str(e.reason)
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


class Reporter:
    """Sends the due reports; one per engine, driven by the agent's housekeeping loop."""

    def __init__(
        self,
        store: Store,
        smtp: dict[str, Any],
        owner: str,
        backoff: Sequence[float] | None = None,
        stalls: StallWatch | None = None,
    ) -> None:
        self.store = store
        self.smtp = smtp
        self.owner = owner
        self.backoff = tuple(BACKOFF if backoff is None else backoff)
        self.stalls = stalls  # the look for stalled tasks to report (None: none asked)

    async def look(self) -> int:
        """Note the stalls to report (every STALL_EVERY), then send what is due; returns
        how many reports were claimed."""
        if self.stalls is not None:
            await self.stalls.due()
        if await self.store.has_due_reports():
            return await self.run_due()
        return 0

    async def run_due(self) -> int:
        """Claim and send the reports that are due (jobs' and failed fires'); returns how
        many were claimed."""
        claimed = await self.store.claim_reports(self.owner, HOLD)
        fires = await self.store.claim_fire_reports(self.owner, HOLD)
        stalls = await self.store.claim_stall_reports(self.owner, HOLD)
        await asyncio.gather(
            *(self._send(*c) for c in claimed),
            *(self._send_fire(f) for f in fires),
            *(self._send_stall(s) for s in stalls),
        )
        return len(claimed) + len(fires) + len(stalls)

    async def _deliver(
        self, recipients: dict[str, list[str]], done: list[str], report: dict[str, Any]
    ) -> list[str]:
        """Send to every recipient not yet served (added to `done`); the errors."""
        errors: list[str] = []
        targets = [("email", a) for a in recipients.get("email", [])]
        targets += [("webhook", u) for u in recipients.get("webhook", [])]
        for kind, where in targets:
            key = f"{kind}:{where}"
            if key in done:
                continue
            try:
                if kind == "email":
                    await asyncio.to_thread(send_email, self.smtp, where, report)
                else:
                    await asyncio.to_thread(send_webhook, where, report)
                done.append(key)
            except Exception as e:
                errors.append(f"{kind} to {where}: {describe(e)}")
        return errors

    def _outcome(self, error: str, attempts: int, served: int) -> tuple[float | None, str]:
        """When to try again (None: never) and what to note, after a send."""
        if not error:
            return None, f"report sent ({plural(served, 'recipient')})"
        if attempts < len(self.backoff):
            wait = self.backoff[attempts]
            return time.time() + wait, f"report failed ({error}); retrying in {wait:g}s"
        return None, f"report failed ({error}); giving up after {plural(attempts + 1, 'try')}"

    async def _send(
        self, job_id: int, recipients: dict[str, list[str]], done: list[str], attempts: int
    ) -> None:
        errors: list[str] = []
        try:
            job = await self.store.get_job(job_id)
            report = await build_report(self.store, job)
        except Exception as e:  # the job was cleared meanwhile, or the store hiccuped
            errors.append(f"cannot build the report: {describe(e)}")
            report = None
        if report is not None:
            errors += await self._deliver(recipients, done, report)
        error = "; ".join(errors)
        retry_at, note = self._outcome(error, attempts, len(done))
        if error:
            log.warning("job %s: %s", job_id, note)
        try:
            await self.store.report_done(job_id, self.owner, Delivery(done, error, retry_at), note)
        except Exception:
            self.store.report_failure(log, "job %s: cannot record the report's outcome", job_id)

    async def _send_fire(self, f: FireReport) -> None:
        error = "; ".join(await self._deliver(f.recipients, f.done, fire_report(f)))
        retry_at, note = self._outcome(error, f.attempts, len(f.done))
        if error:
            log.warning(
                "schedule %s: failed fire at %s: %s", f.schedule_id, when(f.fire_time), note
            )
        try:
            await self.store.fire_report_done(
                f.tick_id, self.owner, Delivery(f.done, error, retry_at)
            )
        except Exception:
            self.store.report_failure(
                log, "schedule %s: cannot record the report's outcome", f.schedule_id
            )

    async def _send_stall(self, s: StallReport) -> None:
        error = "; ".join(await self._deliver(s.recipients, s.done, stall_report(s)))
        retry_at, note = self._outcome(error, s.attempts, len(s.done))
        if error:
            log.warning("job %s: task #%s stalled: %s", s.job_id, s.seq, note)
        try:
            await self.store.stall_report_done(
                s, self.owner, Delivery(s.done, error, retry_at), f"task #{s.seq} stalled: {note}"
            )
        except Exception:
            self.store.report_failure(log, "job %s: cannot record the report's outcome", s.job_id)
