"""`jobdash web`: the dashboard in a browser, one dashboard process per websocket.

The browser side is textual-serve's (its `textual.js`, an xterm.js terminal, served from its
package's static folder); the server is this small aiohttp application, because
textual-serve's `Server` has no authentication, starts its apps with a shell in the
server's process group and, when a websocket closes, asks the app to quit and waits for it
without end (see the README's "In a browser"). Textual's web driver protocol that both
speak is in `session`.

Nothing is served, and no process is started, before authentication (`auth`); a
websocket from another origin is refused; at most `sessions` dashboards run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import ipaddress
import json
import logging
import signal
import socket
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from jobdash.core.model import BadInput
from jobdash.web.auth import COOKIE, Gate
from jobdash.web.downloads import Downloads
from jobdash.web.session import AppProcess

log = logging.getLogger("jobdash.web")

HERE = Path(str(files("jobdash.web")))
# textual-serve ships its browser client as package data: css/, fonts/, js/textual.js.
CLIENT = Path(str(files("textual_serve"))) / "static"
URL = "{url}"  # in `serve`'s ready text: where the address goes
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class WebServer:
    """The aiohttp application of `jobdash web` and the dashboard processes it runs."""

    gate: Gate
    argv: list[str]  # the dashboard command of one session (session.dashboard_argv)
    sessions: int = 4
    title: str = "jobdash"
    running: set[AppProcess] = field(default_factory=set)
    _opening: int = 0  # websockets between the limit's check and their process's start
    _guessing: asyncio.Lock = field(default_factory=asyncio.Lock)
    downloads: Downloads = field(default_factory=Downloads)  # files a session hands over

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._headers, self._authenticate])
        app.add_routes(
            [
                web.get("/", self.index),
                web.get("/page.js", self.page_script),
                web.post("/login", self.login),
                web.get("/ws", self.websocket),
                web.get("/download/{key}", self.downloads.fetch),
                web.static("/static", CLIENT),
            ]
        )
        app.on_shutdown.append(self._stop_all)
        return app

    # ------------------------------------------------------------------ authentication

    @web.middleware
    async def _headers(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as e:
            response = e
        if not response.prepared:  # a websocket's headers are sent already
            response.headers.update(SECURITY_HEADERS)
        return response

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Let through the session cookie and the login form; a valid `?token=` earns the
        cookie and a redirect to the page without it (out of the address bar and the
        history). Anything else: 401, and nothing started."""
        if self.gate.cookie_ok(request.cookies.get(COOKIE)) or request.path == "/login":
            return await handler(request)
        token = request.query.get("token")
        if token is not None and self.gate.token_ok(token):
            return self._signed_in(_see_other("/"))
        if self.gate.password_hash is not None and request.path == "/":
            return self._login_page(401)
        # A token from an earlier start (a bookmark, the history) is the likely mistake.
        why = "" if token is None else "that token is not this server's (a new one each start): "
        return web.Response(
            status=401,
            text=f"401 Unauthorized: {why}open the address `jobdash web` printed "
            "(with its ?token=)\n",
        )

    def _signed_in(self, response: web.Response) -> web.Response:
        response.set_cookie(COOKIE, self.gate.cookie, httponly=True, samesite="Strict", path="/")
        return response

    def _login_page(self, status: int, wrong: bool = False) -> web.Response:
        page = (HERE / "login.html").read_text(encoding="utf-8")
        note = "Wrong password." if wrong else ""
        return web.Response(
            status=status,
            content_type="text/html",
            text=page.replace("{title}", html.escape(self.title)).replace("{note}", note),
        )

    async def login(self, request: web.Request) -> web.Response:
        """The password form. One guess at a time, each a scrypt (some 50 ms, off the event
        loop so the sessions' screens go on): guessing is slow however many try at once."""
        form = await request.post()
        password = form.get("password")
        async with self._guessing:
            right = isinstance(password, str) and await asyncio.to_thread(
                self.gate.password_ok, password
            )
        if right:
            return self._signed_in(_see_other("/"))
        return self._login_page(401, wrong=self.gate.password_hash is not None)

    # ------------------------------------------------------------------------- pages

    async def index(self, request: web.Request) -> web.Response:
        scheme = "wss" if request.secure else "ws"
        page = (HERE / "page.html").read_text(encoding="utf-8")
        for key, value in (
            ("{title}", self.title),
            ("{ws}", f"{scheme}://{request.host}/ws"),
        ):
            page = page.replace(key, html.escape(value))
        return web.Response(content_type="text/html", text=page)

    async def page_script(self, _request: web.Request) -> web.Response:
        """The page's own script (a file: the CSP allows no inline script)."""
        script = (HERE / "page.js").read_text(encoding="utf-8")
        return web.Response(content_type="text/javascript", text=script)

    # --------------------------------------------------------------------- websocket

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """One dashboard process for as long as this websocket lives."""
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            return web.Response(status=403, text="403 Forbidden: another site's page\n")
        if len(self.running) + self._opening >= self.sessions:
            return web.Response(
                status=503, text=f"503: {self.sessions} sessions are open, the most allowed\n"
            )
        width = _size(request.query.get("width"), 80)
        height = _size(request.query.get("height"), 24)
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=1024 * 1024)
        self._opening += 1
        try:
            await ws.prepare(request)
            app = await AppProcess.start(self.argv, width, height)
        finally:
            self._opening -= 1
        self.running.add(app)
        log.info("session %d started (process group %d)", app.pid, app.pid)
        to_browser = asyncio.create_task(self._to_browser(app, ws))
        try:
            await self._from_browser(app, ws)
        finally:
            to_browser.cancel()
            self.downloads.ended(app)
            await app.stop()
            self.running.discard(app)
            await ws.close()
            log.info("session %d ended (exit status %s)", app.pid, app.proc.returncode)
        return ws

    async def _from_browser(self, app: AppProcess, ws: web.WebSocketResponse) -> None:
        """textual.js's messages: ["stdin", text], ["resize", {width, height}],
        ["ping", x], ["focus"], ["blur"]; anything else is ignored."""
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            with contextlib.suppress(ValueError, TypeError):
                kind, *rest = json.loads(message.data)
                if kind == "stdin" and rest and isinstance(rest[0], str):
                    await app.send_keys(rest[0])
                elif kind == "resize" and rest and isinstance(rest[0], dict):
                    width, height = _size(rest[0].get("width"), 0), _size(rest[0].get("height"), 0)
                    if width and height:
                        await app.send_meta({"type": "resize", "width": width, "height": height})
                elif kind == "ping" and rest:
                    await ws.send_json(["pong", rest[0]])
                elif kind in ("focus", "blur"):
                    await app.send_meta({"type": kind})

    async def _to_browser(self, app: AppProcess, ws: web.WebSocketResponse) -> None:
        """The terminal's bytes to the browser; the app's exit (`q`) closes the websocket,
        and the browser says "Session ended". A file the app delivers is offered to the
        page, which fetches it from /download/KEY (`downloads`)."""
        with contextlib.suppress(ConnectionError):
            async for kind, payload in app.packets():
                if kind == b"D":
                    await ws.send_bytes(payload)
                elif kind == b"P":
                    await self.downloads.chunk(payload)
                elif kind == b"M":
                    meta = json.loads(payload)
                    if not isinstance(meta, dict):
                        continue
                    if meta.get("type") == "exit":
                        break
                    offered = meta.get("type") == "deliver_file_start"
                    if offered and (key := self.downloads.offered(app, meta)):
                        await ws.send_str(json.dumps(["deliver_file_start", key]))
        await ws.close()

    async def _stop_all(self, _app: web.Application) -> None:
        """The server stops: every session's process group ends, at once."""
        await asyncio.gather(*(app.stop() for app in list(self.running)))


def _see_other(path: str) -> web.Response:
    """A redirect (303: the browser follows with a GET)."""
    return web.Response(status=303, headers={"Location": path})


def _size(value: object, default: int) -> int:
    """A terminal dimension from the browser: a whole number of cells, 1-1000."""
    try:
        number = int(str(value))
    except ValueError:
        return default
    return number if 0 < number <= 1000 else default


async def serve(server: WebServer, host: str, port: int, ready: str) -> None:
    """Serve until SIGINT, SIGTERM or SIGHUP, then end every session. `ready` is printed
    with `URL` replaced once the socket listens (the port is known then, for port 0)."""
    runner = web.AppRunner(server.application(), handle_signals=False, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as e:  # the port is taken, the address is not this machine's …
            raise BadInput(f"cannot listen on {host} port {port}: {e.strerror or e}") from None
        bound = runner.addresses[0]
        # Every address (0.0.0.0, ::): the machine's name is the one a browser can use.
        shown = socket.gethostname() if ipaddress.ip_address(bound[0]).is_unspecified else bound[0]
        shown = f"[{shown}]" if ":" in shown else shown
        print(ready.replace(URL, f"http://{shown}:{bound[1]}/"), flush=True)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
    print("jobdash web: stopped; every session ended", file=sys.stderr, flush=True)
