"""Starting commands and watching them, at the cost a command engine can afford.

Starting short commands fast is most of what an engine of command tasks does, and all of
it happens on the event loop's thread. asyncio.create_subprocess_exec costs more per
command than the process itself needs: a Popen, two pipe transports with protocols and
stream readers, a child watcher, and an exec that searches PATH in the child. Here a
command is started by os.posix_spawn (vfork and exec, nothing in Python between them) with
its executable found once; its pipes are watched through one epoll of our own that the
loop watches as a single descriptor; and its end is learned by waitpid when its output
closes, a pidfd being opened only for a command that keeps running.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import signal
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

TICK = 0.1  # seconds between the looks of `Poller.soon`
_SIGNALS_TO_DEFAULT = (signal.SIGPIPE, signal.SIGXFSZ)  # Python ignores these; a child must not

# Executables found on PATH, like a shell's hash table: a command task runs the same program
# thousands of times, and a PATH search in the child (a failed execve per directory before
# the right one) makes each spawn longer, all of which the event loop waits out.
_found: dict[tuple[str, str], str] = {}
_devnull_fd: int | None = None


Env = dict[bytes, bytes]


def encode_env(env: Mapping[str, str]) -> Env:
    """An environment as exec wants it, in bytes: encoded once, not per command."""
    return {os.fsencode(k): os.fsencode(v) for k, v in env.items()}


def _executable(name: str, path: str) -> str | None:
    if "/" in name:
        return name
    key = (name, path)
    found = _found.get(key)
    if found is None:
        from shutil import which  # here: shutil loads bz2 and lzma

        found = which(name, path=path)
        if found is not None:
            _found[key] = found
    return found


def _devnull() -> int:
    """/dev/null for the commands' stdin, opened once (close-on-exec: never inherited)."""
    global _devnull_fd
    if _devnull_fd is None:
        _devnull_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return _devnull_fd


def _pipe() -> tuple[int, int]:
    """A pipe whose ends are above 0-2 (a daemon may run with those closed, and the child's
    dup2 onto them must not be a no-op that leaves close-on-exec set). The read end does
    not block; the write end, the child's stdout or stderr, does."""
    fds = []
    for fd in os.pipe():
        if fd <= 2:
            new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
            os.close(fd)
            fd = new
        fds.append(fd)
    os.set_blocking(fds[0], False)
    return fds[0], fds[1]


def spawn(argv: list[str], env: Env) -> tuple[int, int, int]:
    """Start `argv` in a new session (so its own process group, pgid == pid) with stdin on
    /dev/null and environment `env`: (pid, stdout read end, stderr read end). OSError
    when it cannot start. Only descriptors 0-2 are passed on: Python opens every other one
    close-on-exec."""
    name = argv[0]
    search = os.fsdecode(env.get(b"PATH", os.defpath))
    path = _executable(name, search)
    if path is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)
    out_r, out_w = _pipe()
    try:
        err_r, err_w = _pipe()
    except OSError:
        os.close(out_r)
        os.close(out_w)
        raise
    try:
        try:
            pid = _posix_spawn(path, argv, env, out_w, err_w)
        except (FileNotFoundError, PermissionError):
            if _found.pop((name, search), None) is None:
                raise
            # Found on PATH before, moved or removed since: search again, once.
            path = _executable(name, search)
            if path is None:
                raise
            pid = _posix_spawn(path, argv, env, out_w, err_w)
    except OSError:
        os.close(out_r)
        os.close(err_r)
        raise
    finally:
        os.close(out_w)
        os.close(err_w)
    return pid, out_r, err_r


def _posix_spawn(path: str, argv: list[str], env: Env, out_w: int, err_w: int) -> int:
    return os.posix_spawn(
        path,
        argv,
        env,
        file_actions=[
            (os.POSIX_SPAWN_DUP2, _devnull(), 0),
            (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_DUP2, err_w, 2),
        ],
        setsid=True,
        setsigmask=(),
        setsigdef=_SIGNALS_TO_DEFAULT,
    )


def wait_status(pid: int, options: int = 0) -> int | None:
    """Reap child `pid`: its exit code (negative: killed by that signal), or None while it
    runs (with os.WNOHANG)."""
    try:
        return status_code(os.waitpid(pid, options))
    except ChildProcessError:
        return 255  # reaped elsewhere


def status_code(waited: tuple[int, int]) -> int | None:
    pid, status = waited
    return os.waitstatus_to_exitcode(status) if pid else None


def killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    """True while a process of group `pgid` that is not a zombie remains."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False  # the common case, without reading /proc
    except PermissionError:
        pass
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces and parentheses).
        rest = stat[stat.rfind(")") + 2 :].split()
        if len(rest) > 2 and int(rest[2]) == pgid and rest[0] != "Z":
            return True
    return False


class Poller:
    """Descriptors of running commands, in one epoll that the event loop watches as a single
    descriptor: registering a pipe here is one C call, where loop.add_reader runs a page of
    Python for each. One per event loop (`Poller.of`)."""

    _of: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Poller] = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> Poller:
        poller = cls._of.get(loop)
        if poller is None:
            poller = cls._of[loop] = cls(loop)
        return poller

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.epoll = select.epoll()
        self.handlers: dict[int, Callable[[], None]] = {}
        loop.add_reader(self.epoll.fileno(), self._ready)
        self._soon: list[Callable[[], None]] = []
        self._tick: asyncio.TimerHandle | None = None

    def soon(self, callback: Callable[[], None]) -> None:
        """Call `callback()` within TICK seconds: one timer for all commands, where a timer
        each would cost more than the rest of a short command's wait."""
        self._soon.append(callback)
        if self._tick is None:
            self._tick = self.loop.call_later(TICK, self._ticked)

    def _ticked(self) -> None:
        self._tick = None
        due, self._soon = self._soon, []
        for callback in due:
            callback()

    def add(self, fd: int, handler: Callable[[], None]) -> None:
        """Call `handler()` whenever `fd` is readable (or closed by its writer)."""
        self.handlers[fd] = handler
        self.epoll.register(fd, select.EPOLLIN)

    def remove(self, fd: int) -> None:
        if self.handlers.pop(fd, None) is not None:
            self.epoll.unregister(fd)

    def _ready(self) -> None:
        for fd, _events in self.epoll.poll(0):
            handler = self.handlers.get(fd)
            if handler is not None:
                handler()


def watch_exit(pid: int, exited: Callable[[int | None], None]) -> Callable[[], None]:
    """Call `exited(code)` in the loop when child `pid` ends: through a pidfd (Linux ≥ 5.3),
    else a blocking waitpid in a worker thread. Returns how to stop watching."""
    import asyncio

    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        reaped = loop.run_in_executor(None, os.waitpid, pid, 0)
        reaped.add_done_callback(
            lambda f: exited(255 if f.cancelled() or f.exception() else status_code(f.result()))
        )
        return lambda: None
    poller = Poller.of(loop)
    watching = True

    def unwatch() -> None:
        nonlocal watching
        if watching:
            watching = False
            poller.remove(pidfd)
            os.close(pidfd)

    def readable() -> None:
        code = wait_status(pid, os.WNOHANG)
        if code is not None:
            unwatch()
            exited(code)

    poller.add(pidfd, readable)
    return unwatch


def pid_alive(pid: int) -> bool:
    """True while process `pid` exists on this host and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2 :][:1] != "Z"
