"""Dashboard benchmarks (not collected by pytest).  Run:

    python tests/bench/tui.py            # everything
    python tests/bench/tui.py a c        # some parts

(a) 100,000 finished jobs in the store: seconds from spawning `python -m jobdash` in a
    120×40 pty to the first frame showing the Completed tab's rows (the bench presses `2`
    as soon as the first frame is out), and ms from the last keystroke of a filter to the
    frame showing the filtered table ("(1 of 100000)"): for keys typed 150 ms apart, for
    single keys, and for the whole query sent back to back.
(b) bytes per second the dashboard writes to its pty while 20 jobs run and update (their
    engine is a separate `jobdash serve`; the dashboard attaches), over 30 s (jobs of 3 min: none ends meanwhile), in the
    normal mode and then (where this jobdash has it) with `--low-bandwidth`, on the same
    20 jobs.
(c) a job printing 20,000 lines/s followed in the details screen's log pane, in-process
    (headless driver, so the compositor still renders every frame): event-loop lag p99
    from a 20 ms asyncio sleep probe.  Measured twice: engine embedded in the same
    process (as `jobdash` runs without a serving engine) and engine in another process.
(d) RSS: of the dashboard process holding 100,000 jobs (a), and of (c)'s process.
(w) what a window's keystroke asks of the store (the Completed tab past 100,000 jobs): for
    each prefix of a job name typed into the filter, the count (to 1,000) and the first page
    (100 rows, id order), on 100,000 finished jobs, warm (a second pass is timed); SQLite
    through its text index, or with `--db` PostgreSQL. Not run by default.

`--db postgresql://…`: (a) and (w) on a PostgreSQL server instead (a fresh schema, dropped after);
`--json`: (a)'s figures as one JSON line at the end (tests/bench/pg.py reads it).
"""

from __future__ import annotations

import asyncio
import compileall
import fcntl
import json
import os
import pty  # noqa: F401  (documents the approach: os.openpty is pty's primitive)
import re
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PY = sys.executable
COLS, ROWS = 120, 40
ANSI = re.compile(
    rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]"
)


def clean(data: bytes) -> str:
    return ANSI.sub(b"", data).decode("utf-8", "replace")


def counted(shown: int, n: int) -> tuple[str, str]:
    """A filtered count in a tab's title, with thousands separators (since 2026-12-02) or
    without (an earlier checkout)."""
    return f"{shown:,} of {n:,}", f"{shown} of {n}"


def completed_title(n: int) -> tuple[str, str]:
    """The Completed tab's title over `n` jobs: "Completed (1,000,000)" since 2026-12-02,
    "Completed (1000000)" in an earlier checkout (timed beside it: JOBDASH_BENCH_ROOT)."""
    return f"Completed ({n:,})", f"Completed ({n})"


class PtyApp:
    """A process on a pty of COLS×ROWS; a thread collects (time, bytes) from the master."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        full_env = dict(os.environ)
        full_env.update({"TERM": "xterm-256color", "COLUMNS": str(COLS), "LINES": str(ROWS)})
        full_env.pop("NO_COLOR", None)
        full_env.pop("TEXTUAL_THEME", None)
        full_env.pop("SSH_CONNECTION", None)  # it would choose low-bandwidth mode alone
        full_env.pop("TEXTUAL_FPS", None)
        full_env.update(env or {})
        self.start = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.chunks: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        self.done = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                break
            if not data:
                break
            with self.lock:
                self.chunks.append((time.perf_counter(), data))
        self.done = True

    def send(self, text: str) -> float:
        os.write(self.master, text.encode())
        return time.perf_counter()

    def output_since(self, t: float) -> bytes:
        with self.lock:
            return b"".join(d for ts, d in self.chunks if ts >= t)

    def bytes_between(self, t0: float, t1: float) -> int:
        with self.lock:
            return sum(len(d) for ts, d in self.chunks if t0 <= ts < t1)

    def wait_for(self, needle: str | tuple[str, ...], since: float, timeout: float = 30.0) -> float:
        """Time (perf_counter) of the chunk at which `needle` (or one of them) first shows
        after `since`."""
        needles = (needle,) if isinstance(needle, str) else needle
        deadline = time.perf_counter() + timeout
        seen = 0
        while time.perf_counter() < deadline:
            with self.lock:
                chunks = [(ts, d) for ts, d in self.chunks if ts >= since]
            acc = b""
            for ts, d in chunks:
                acc += d
                if any(n in clean(acc) for n in needles):
                    return ts
            if self.done and seen == len(chunks):
                break
            seen = len(chunks)
            time.sleep(0.005)
        tail = clean(self.output_since(since))[-600:]
        raise TimeoutError(f"{needle!r} not drawn within {timeout}s; last output: {tail!r}")

    def quiet(self, seconds: float = 0.3, timeout: float = 10.0) -> None:
        """Wait until no output arrived for `seconds`."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            with self.lock:
                last = self.chunks[-1][0] if self.chunks else self.start
            if time.perf_counter() - last >= seconds:
                return
            time.sleep(0.02)

    def rss(self) -> int:
        """RSS of the process tree (the dashboard and anything it started)."""
        p = psutil.Process(self.proc.pid)
        return p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        try:
            os.close(self.master)
        except OSError:
            pass


def dashboard(db: Path | str, config: Path, cwd: Path, *options: str) -> PtyApp:
    return PtyApp(
        [PY, "-m", "jobdash", "--db", str(db), "--config", str(config), *options],
        cwd=str(cwd),
        env={"JOBDASH_DB": str(db)},
    )


def make_store(db: Path | str) -> None:
    from jobdash.core.store.base import open_store

    async def create() -> None:
        store = await open_store(str(db))
        await store.close()

    asyncio.run(create())


def index_history(db: Path | str) -> None:
    """Bring the store's text index up to date, as an engine's heartbeats keep it while jobs
    finish: jobs written with SQL skip that, and the dashboard's engine would otherwise
    index the whole history in its first seconds (once in a store's life) while it is
    measured."""
    from jobdash.core.store.base import open_store

    async def index() -> None:
        store = await open_store(str(db))
        try:
            if hasattr(store, "index_text"):  # a store without one (PostgreSQL, older main)
                await store.index_text(batches=None)
        finally:
            await store.close()

    asyncio.run(index())


# --------------------------------------------------------------------------- (a)


def insert_finished_jobs(db: Path | str, n: int) -> None:
    now = time.time()
    statuses = ["succeeded"] * 17 + ["failed", "warning", "cancelled"]
    types = ["import-files", "export", "archive", "backup", "report"]
    users = ["alice", "bob", "root", "scheduler"]

    def rows() -> Any:
        for i in range(1, n + 1):
            status = statuses[i % len(statuses)]
            created = now - (n - i) * 30 - 120
            failed = 1 if status == "failed" else 0
            yield (
                i,
                types[i % len(types)],
                json.dumps({"source": f"/data/in/{i % 97}"}),
                users[i % len(users)],
                "manual",
                status,
                created,
                created + 60,
                created + 1,
                created + 60,
                10 - failed,
                failed,
                100.0,
                f"bench-{i:06d} done",
                f"/data/in/{i % 97}",
            )

    columns = (
        'id, type, params, "user", trigger, status, created, updated, started, finished, '
        "succeeded, failed, progress, info, target"
    )
    if isinstance(db, str):  # a PostgreSQL store: COPY, then the id sequence moved on
        import psycopg

        with psycopg.connect(db) as pg:
            with pg.cursor().copy(f"COPY jobs ({columns}) FROM STDIN") as copy:
                for row in rows():
                    copy.write_row(row)
            pg.execute("SELECT setval(pg_get_serial_sequence('jobs', 'id'), %s)", (n,))
            pg.execute("ANALYZE jobs")
        return
    con = sqlite3.connect(db)
    with con:
        con.executemany(
            f"INSERT INTO jobs ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )
    con.close()


def bench_a(tmp: Path, n: int = 100_000, server: str = "") -> dict[str, float]:
    if server:  # PostgreSQL: a fresh schema of the server, dropped after
        from tests.bench.engine import pg_schema

        with pg_schema(server) as url:
            return _bench_a(tmp, n, url)
    return _bench_a(tmp, n, tmp / "a.db")


def _bench_a(tmp: Path, n: int, db: Path | str) -> dict[str, float]:
    config = tmp / "a.toml"
    user = os.environ.get("USER", "root")
    config.write_text(f'[jobdash]\nadmins = ["root", "{user}"]\n')
    make_store(db)
    t = time.perf_counter()
    insert_finished_jobs(db, n)
    index_history(db)
    print(f"(a) inserted {n:,} finished jobs in {time.perf_counter() - t:.2f} s (and indexed)")
    app = dashboard(db, config, tmp)
    try:
        first = app.wait_for("Completed", app.start, timeout=60)
        sent = app.send("2")
        # The newest job's row (its info column may be cut short: match its start).
        shown = app.wait_for(f"bench-{n:06d}"[:10], sent, timeout=60)
        app.quiet(0.5)
        rss = app.rss()
        first_frame = first - app.start
        completed = shown - app.start
        print(f"(a) first frame {first_frame:.3f} s after process start")
        print(
            f"(a) Completed tab rows drawn {completed:.3f} s after process start "
            f"(`2` pressed at {sent - app.start:.3f} s, drawn {1000 * (shown - sent):.0f} ms later)"
        )
        # The rest of the history loads in the background; the tab title counts it.
        loaded = app.wait_for(completed_title(n), app.start, timeout=60)
        print(f"(a) all {n:,} jobs loaded {loaded - app.start:.3f} s after process start")
        # Filter: open the bar, type all but the last character 150 ms apart (a quick
        # typist), then time the last one.  (Waiting for 150 ms of quiet between keys, as
        # this once did, returns at once when the previous key has not drawn yet, so all
        # the keys went out together: that is the back-to-back burst measured below.)
        query = f"bench-{77777:06d}"
        app.quiet(1.0)
        opened = app.send("/")
        app.wait_for("esc clears", opened, timeout=10)
        app.quiet(0.3)
        for ch in query[:-1]:
            app.send(ch)
            time.sleep(0.15)
        timings = []
        sent = app.send(query[-1])
        drawn = app.wait_for(counted(1, n), sent, timeout=30)
        timings.append(drawn - sent)
        # And back: backspace widens to 10 matches again, then once more to 1.
        for text, expect in (("\x7f", counted(10, n)), (query[-1], counted(1, n))):
            app.quiet(0.3)
            sent = app.send(text)
            drawn = app.wait_for(expect, sent, timeout=30)
            timings.append(drawn - sent)
        # The whole query at once (pasted, or typed faster than a frame): esc clears the
        # filter, `/` opens the bar again, then every key goes out back to back.
        app.quiet(0.3)
        cleared = app.send("\x1b")
        app.wait_for(completed_title(n), cleared, timeout=10)
        app.quiet(0.3)
        opened = app.send("/")
        app.wait_for("esc clears", opened, timeout=10)
        app.quiet(0.3)
        for ch in query:
            sent = app.send(ch)
        drawn = app.wait_for(counted(1, n), sent, timeout=30)
        burst = 1000 * (drawn - sent)
        ms = [1000 * t for t in timings]
        print(
            f"(a) filter keystroke → updated table: {ms[0]:.0f} ms for the last key of a burst "
            "typed 150 ms apart; single keystrokes once the table has settled: "
            + ", ".join(f"{m:.0f}" for m in ms[1:])
            + f" ms; the last key of {len(query)} sent back to back: {burst:.0f} ms"
        )
        print(f"(a) RSS of the dashboard with {n:,} jobs: {rss / 2**20:.0f} MB")
        return {
            "first_frame_s": first_frame,
            "completed_s": completed,
            "filter_ms_max": max(ms),
            "filter_typed_ms": ms[0],
            "filter_single_ms": statistics.median(ms[1:]),
            "filter_burst_ms": burst,
            "rss_mb": rss / 2**20,
        }
    finally:
        app.stop()


# --------------------------------------------------------------------------- (w)


def bench_w(tmp: Path, n: int = 100_000, server: str = "") -> dict[str, float]:
    from jobdash.core.query import parse_query
    from jobdash.core.store.base import open_store
    from jobdash.core.store.records import JobFilter

    word = f"bench-{77777:06d}"
    # SQLite's text index (index_history brings it up to date); PostgreSQL's index of words
    # where the jobdash under test has one (it is current at each write).
    indexed = True

    async def keys(db: str) -> list[float]:
        store = await open_store(db)
        try:
            took = []
            for i in range(1, len(word) + 1):
                f = JobFilter(parse_query(word[:i]), active=False, indexed=indexed)
                t = time.perf_counter()
                await store.count_jobs(f, 1000)
                await store.list_jobs(JobFilter(f.query, active=False, limit=100, indexed=indexed))
                took.append(time.perf_counter() - t)
            return took
        finally:
            await store.close()

    def run(db: Path | str) -> list[float]:
        make_store(db)
        insert_finished_jobs(db, n)
        index_history(db)
        asyncio.run(keys(str(db)))  # warm: the server's cache, hint bits
        return asyncio.run(keys(str(db)))

    if server:
        from tests.bench.engine import pg_schema

        with pg_schema(server) as url:
            took = run(url)
    else:
        took = run(tmp / "w.db")
    ms = [round(1000 * t) for t in took]
    print(f"(w) window keys, count + first page per prefix of {word!r}: {ms} ms, {sum(ms)} in all")
    return {"window_keys_ms": float(sum(ms)), "window_last_key_ms": float(ms[-1])}


# --------------------------------------------------------------------------- (b)

B_CONFIG = """
[jobdash]
admins = ["root", "{user}"]

[types.steady]
description = "sixty steps of three seconds, printing now and then"
params.n = {{ required = true }}
items = [{items}]
command = ["sh", "-c", "echo start {{item}}; sleep 1.5; echo half {{item}}; sleep 1.5"]
parallel = 1
"""


def has_low_bandwidth() -> bool:
    """Whether the jobdash under test has `--low-bandwidth` (main before it had not)."""
    out = subprocess.run([PY, "-m", "jobdash", "--help"], capture_output=True, text=True)
    return "--low-bandwidth" in out.stdout


def twenty_running(tmp: Path, db: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """A `jobdash serve` on the store `db` (made already), running 20 jobs of steady
    steps; the engine and the config it read (`stop` ends it)."""
    config = tmp / "b.toml"
    items = ", ".join(f'"{n}"' for n in range(1, 61))
    config.write_text(B_CONFIG.format(user=os.environ.get("USER", "root"), items=items))
    env = dict(os.environ, JOBDASH_DB=str(db))
    engine = subprocess.Popen(
        # Sub-command options go after the sub-command (`jobdash --db X serve` loses --db).
        [PY, "-m", "jobdash", "serve", "--db", str(db), "--config", str(config), "--slots", "24"],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(2.0)  # the engine registers and publishes its catalogue
    run = [PY, "-m", "jobdash", "run", "steady", "--db", str(db), "--config", str(config)]
    for i in range(20):
        subprocess.run(
            [*run, "-p", f"n={i}"], env=env, cwd=tmp, check=True, stdout=subprocess.DEVNULL
        )
    return engine, config


def stop(engine: subprocess.Popen[bytes]) -> None:
    os.killpg(engine.pid, signal.SIGTERM)
    try:
        engine.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(engine.pid, signal.SIGKILL)


def bench_b(tmp: Path, seconds: float = 30.0) -> dict[str, float]:
    db = tmp / "b.db"
    make_store(db)
    engine, config = twenty_running(tmp, db)
    modes = {"normal": ()} | ({"low": ("--low-bandwidth",)} if has_low_bandwidth() else {})
    result: dict[str, float] = {}
    try:
        for mode, options in modes.items():
            result[f"kb_per_s_{mode}"] = _bytes_per_second(db, config, tmp, mode, options, seconds)
        return result
    finally:
        stop(engine)


def _bytes_per_second(
    db: Path, config: Path, tmp: Path, mode: str, options: tuple[str, ...], seconds: float
) -> float:
    """KB/s one dashboard writes to its pty over `seconds`, after its first frames."""
    app = dashboard(db, config, tmp, *options)
    try:
        app.wait_for("In Progress", app.start, timeout=30)
        time.sleep(3.0)  # let the first full frames go out
        t0 = time.perf_counter()
        time.sleep(seconds)
        t1 = time.perf_counter()
        sent = app.bytes_between(t0, t1)
        dump = os.environ.get("JOBDASH_BENCH_DUMP")
        if dump:  # the raw bytes, to see which rows are repainted
            with app.lock:
                data = b"".join(d for ts, d in app.chunks if t0 <= ts < t1)
            Path(f"{dump}.{mode}").write_bytes(data)
        rate = sent / (t1 - t0)
        screen = clean(app.output_since(app.start))
        running = screen.count("▶ running")
        print(
            f"(b) 20 running jobs (attached to `jobdash serve`), {mode} mode: {sent:,} bytes "
            f"in {t1 - t0:.1f} s = {rate / 1024:.2f} KB/s"
            + ("" if running else "  [warning: no running row seen in that output]")
        )
        return rate / 1024
    finally:
        app.stop()


# --------------------------------------------------------------------------- (c), (d)

FLOOD = r"""
import sys, time
rate, seconds = int(sys.argv[1]), float(sys.argv[2])
t0 = time.time(); n = 0
out = sys.stdout
while True:
    elapsed = time.time() - t0
    if elapsed >= seconds:
        break
    target = int(elapsed * rate)
    if n < target:
        out.write("".join(f"{i:08d} GET /api/v1/items/{i % 977} 200 {i % 53} ms user=bench\n"
                          for i in range(n, target)))
        out.flush()
        n = target
    time.sleep(0.005)
print(f"flood done: {n} lines", flush=True)
"""


def bench_c(
    tmp: Path, embedded: bool, rate: int = 20_000, seconds: float = 10.0
) -> dict[str, float]:
    from textual.app import App
    from textual.signal import Signal

    from jobdash.core.model import JobStatus
    from jobdash.core.service import Service
    from jobdash.tui.screens.job_details import JobDetailsScreen

    try:  # what JobdashApp calls once its first screen is drawn
        from jobdash.core.service import freeze_start_up
    except ImportError:  # a jobdash from before it (this bench run beside an older main)
        freeze_start_up = None  # type: ignore[assignment]

    tag = "embedded" if embedded else "attached"
    db = tmp / f"c-{tag}.db"
    flood = tmp / "flood.py"
    flood.write_text(FLOOD)
    config = tmp / "c.toml"
    config.write_text(
        f'[jobdash]\nadmins = ["root", "{os.environ.get("USER", "root")}"]\n\n'
        f'[types.flood]\ncommand = ["{PY}", "{flood}", "{rate}", "{seconds}"]\n'
    )
    make_store(db)

    class BenchApp(App[None]):
        def __init__(self, svc: Service) -> None:
            super().__init__()
            self.service = svc
            self.store_changed: Signal[Any] = Signal(self, "store-changed")
            self.read_only = False

        def clock(self) -> float:
            return time.time()

        async def on_mount(self) -> None:
            self.run_worker(self._watch())
            if freeze_start_up is not None:
                self.call_after_refresh(freeze_start_up)

        async def _watch(self) -> None:
            async for changes in self.service.watch():
                self.store_changed.publish(changes)

    lags: list[float] = []
    result: dict[str, float] = {}

    async def main() -> None:
        engine = None
        svc = await Service.open(db=str(db), config=str(config))
        if embedded:
            await svc.start_engine(slots=2)
        else:
            env = dict(os.environ, JOBDASH_DB=str(db))
            engine = subprocess.Popen(  # noqa: ASYNC220 (started once, not awaited)
                [PY, "-m", "jobdash", "serve", "--db", str(db), "--config", str(config)],
                env=env,
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            app = BenchApp(svc)
            async with app.run_test(size=(COLS, ROWS)) as pilot:
                job = await svc.submit("flood")
                screen = JobDetailsScreen(svc, job.id)
                await app.push_screen(screen)
                await pilot.pause()
                stop = asyncio.Event()

                async def probe() -> None:
                    period = 0.02
                    while not stop.is_set():
                        t = time.perf_counter()
                        await asyncio.sleep(period)
                        lags.append(time.perf_counter() - t - period)

                task = asyncio.create_task(probe())
                t0 = time.perf_counter()
                while True:
                    current = await svc.job(job.id)
                    if current.status.finished or time.perf_counter() - t0 > seconds + 60:
                        break
                    await asyncio.sleep(0.25)
                stop.set()
                await task
                wall = time.perf_counter() - t0
                await pilot.pause(0.5)
                stored = len(await svc.logs(job.id))
                view = screen.log_view
                held = view.line_count + view.dropped_count
                result.update(
                    lines_stored=stored,
                    lines_shown=held,
                    following=float(view.following),
                    status_ok=float(current.status is JobStatus.SUCCEEDED),
                    wall=wall,
                )
                result["rss_mb"] = psutil.Process().memory_info().rss / 2**20
        finally:
            await svc.close()
            if engine is not None:
                os.killpg(engine.pid, signal.SIGTERM)
                engine.wait(10)

    asyncio.run(main())
    lags.sort()
    p99 = lags[int(0.99 * (len(lags) - 1))] * 1000
    p50 = statistics.median(lags) * 1000
    print(
        f"(c) {rate:,} lines/s for {seconds:g} s, engine {tag}: event-loop lag p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms, max {lags[-1] * 1000:.1f} ms over {len(lags)} probes; "
        f"log pane holds {int(result['lines_shown']):,} of {int(result['lines_stored']):,} "
        f"stored lines, following={bool(result['following'])}, job finished in "
        f"{result['wall']:.1f} s"
    )
    print(f"(d) RSS of the in-process dashboard after (c) [{tag}]: {result['rss_mb']:.0f} MB")
    result.update(p99_ms=p99, p50_ms=p50)
    return result


def main(argv: list[str]) -> None:
    if argv[:1] == ["c1"]:  # one mode of (c) and (d), in this process
        with tempfile.TemporaryDirectory(prefix="jobdash-bench-") as d:
            bench_c(Path(d), embedded=argv[1] == "embedded")
        return
    parts = [a for a in argv if a in ("a", "b", "c", "d", "w")] or ["a", "b", "c", "d"]
    server = argv[argv.index("--db") + 1] if "--db" in argv else ""
    if server and not set(parts) <= {"a", "w"}:
        raise SystemExit("--db: only parts (a) and (w) run on PostgreSQL")
    found: dict[str, float] = {}
    # The dashboard starts as an installed jobdash does, from compiled modules (pip compiles
    # them on install), not compiling its source at every start: that costs ~0.3 s of CPU,
    # and an environment with PYTHONDONTWRITEBYTECODE set never keeps what it compiled.
    compileall.compile_dir(ROOT / "jobdash", quiet=1)
    print(
        f"jobdash dashboard bench — {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"python {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory(prefix="jobdash-bench-") as d:
        tmp = Path(d)
        if "a" in parts or "d" in parts:
            found = bench_a(tmp, server=server)
        if "w" in parts:
            found |= bench_w(tmp, server=server)
        if "b" in parts:
            bench_b(tmp)
        if "c" in parts or "d" in parts:
            # Each mode in a process of its own, as a dashboard runs: what one run leaves
            # in memory (and the collector's state) does not count in the other's figures.
            sys.stdout.flush()
            for mode in ("embedded", "attached"):
                subprocess.run([PY, __file__, "c1", mode], check=False)
    print(
        "targets: (a) < 1.0 s and < 100 ms; (b) < 5 KB/s, < 1.5 KB/s low-bandwidth; "
        "(c) < 100 ms; (d) < 300 MB"
    )
    if "--json" in argv:
        print(json.dumps(found))


if __name__ == "__main__":
    main(sys.argv[1:])
