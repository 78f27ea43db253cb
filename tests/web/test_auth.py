"""`jobdash web` lets nobody in without the token or the password, starts no process for
them, and holds sessions to their limit and their mode."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import aiohttp
import psutil
import pytest

from jobdash.web.auth import COOKIE, check_hash, hash_password, password_matches
from tests.conftest import run_cli
from tests.web.conftest import Served, waited

Serve = Callable[..., Served]


async def status_of(url: str, **kwargs: object) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, allow_redirects=False, **kwargs) as r,  # type: ignore[arg-type]
    ):
        return r.status


async def ws_status(served: Served, headers: dict[str, str]) -> int:
    """The status of a websocket handshake with these headers (101: open, then closed)."""
    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(f"{served.base}/ws", headers=headers):
                return 101
        except aiohttp.WSServerHandshakeError as e:
            return e.status


async def sign_in(served: Served) -> str:
    """The session cookie that the printed address (with its token) gives."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(served.url, allow_redirects=False) as r,
    ):
        assert r.status == 303 and r.headers["Location"] == "/"
        return r.cookies[COOKIE].value


async def test_nothing_without_the_token_and_no_process(serve_web: Serve) -> None:
    served = serve_web()
    wrong = {"Cookie": f"{COOKIE}=not-the-cookie"}
    for path in ("/", "/static/js/textual.js", "/ws", "/login", f"/?token={served.token}x"):
        assert await status_of(served.base + path) in (401, 405), path
    assert await status_of(served.base + "/", headers=wrong) == 401
    assert await ws_status(served, {}) == 401
    assert await ws_status(served, wrong) == 401
    assert "401 Unauthorized" in await _text(served.base + "/ws")
    # A token of an earlier start (a bookmark): said so, not only "open the address".
    said = await _text(f"{served.base}/?token={served.token}x")
    assert "that token is not this server's (a new one each start)" in said
    assert "token is not" not in await _text(served.base + "/")
    assert served.started() == []
    assert psutil.Process(served.proc.pid).children(recursive=True) == []


async def _text(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        return await r.text()


async def test_the_token_gives_a_strict_http_only_cookie(serve_web: Serve) -> None:
    served = serve_web()
    async with (
        aiohttp.ClientSession() as http,
        http.get(served.url, allow_redirects=False) as r,
    ):
        # To the page without the token: out of the address bar and the history.
        assert (r.status, r.headers["Location"]) == (303, "/")
        cookie = r.cookies[COOKIE]
        assert cookie["httponly"] and cookie["samesite"] == "Strict"
    headers = {"Cookie": f"{COOKIE}={cookie.value}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(served.base + "/") as r:
            page = await r.text()
            assert r.status == 200 and r.headers["X-Frame-Options"] == "DENY"
            assert f'data-session-websocket-url="ws://{served.base[7:]}/ws"' in page
        async with http.get(served.base + "/static/js/textual.js") as r:
            assert r.status == 200
    assert served.started() == []


async def test_a_websocket_opened_by_another_site_is_refused(serve_web: Serve) -> None:
    served = serve_web()
    cookie = {"Cookie": f"{COOKIE}={await sign_in(served)}"}
    assert await ws_status(served, {**cookie, "Origin": "http://evil.example"}) == 403
    assert served.started() == []


async def test_sessions_beyond_the_limit_are_refused(serve_web: Serve) -> None:
    served = serve_web("--sessions", "1")
    cookie = {"Cookie": f"{COOKIE}={await sign_in(served)}"}
    async with aiohttp.ClientSession(headers=cookie) as http:
        async with http.ws_connect(f"{served.base}/ws"):
            await waited(lambda: len(served.started()) == 1, "started")
            assert await ws_status(served, cookie) == 503
        await waited(lambda: len(served.ended()) == 1, "ended")
        async with http.ws_connect(f"{served.base}/ws"):
            await waited(lambda: len(served.started()) == 2, "started again")


async def test_read_only_reaches_every_session(serve_web: Serve) -> None:
    served = serve_web("--read-only")
    cookie = {"Cookie": f"{COOKIE}={await sign_in(served)}"}
    async with (
        aiohttp.ClientSession(headers=cookie) as http,
        http.ws_connect(f"{served.base}/ws"),
    ):
        await waited(lambda: len(served.started()) == 1, "started")
        argv = psutil.Process(served.started()[0]).cmdline()
        assert argv[1:] == ["-m", "jobdash.web.child", "--no-engine", "--read-only"]


async def test_a_password_from_the_config(serve_web: Serve, write_config: Callable) -> None:
    config = write_config(f'[web]\npassword_hash = "{hash_password("correct horse")}"\n')
    served = serve_web("--config", str(config))
    assert "?token=" not in served.url and str(config) in served.text()
    async with aiohttp.ClientSession() as http:
        async with http.get(served.base + "/") as r:
            assert r.status == 401 and 'type="password"' in await r.text()
        for password in ("", "correct horse ", "wrong"):
            async with http.post(served.base + "/login", data={"password": password}) as r:
                assert r.status == 401 and "Wrong password" in await r.text()
        async with http.post(
            served.base + "/login", data={"password": "correct horse"}, allow_redirects=False
        ) as r:
            assert r.status == 303
            cookie = r.cookies[COOKIE].value
        async with http.get(served.base + "/", headers={"Cookie": f"{COOKIE}={cookie}"}) as r:
            assert r.status == 200
    assert served.started() == []


def test_hash_password_prints_the_config_lines() -> None:
    done = run_cli("web", "--hash-password", input="correct horse\n")
    assert done.returncode == 0, done.stderr
    stored = tomllib.loads(done.stdout)["web"]["password_hash"]
    check_hash(stored, "test")
    assert password_matches(stored, "correct horse")
    assert not password_matches(stored, "correct horsE")
    assert stored != hash_password("correct horse")  # salted
    short = run_cli("web", "--hash-password", input="short\n")
    assert short.returncode == 2 and "at least 8" in short.stderr


@pytest.mark.parametrize(
    "value",
    ["hunter22", "scrypt$16384$8$1$c2FsdA$a2V5", "scrypt$1000$8$1$" + "A" * 22 + "$" + "A" * 43],
)
def test_a_hash_it_did_not_make_is_refused_at_start(write_config: Callable, value: str) -> None:
    config: Path = write_config(f'[web]\npassword_hash = "{value}"\n')
    done = run_cli("web", "--config", str(config), "--port", "0")
    assert done.returncode == 2
    assert "web.password_hash: not a password hash" in done.stderr
    assert value not in done.stderr and done.stdout == ""


def test_the_config_web_table_knows_its_keys(write_config: Callable) -> None:
    done = run_cli("check", "--config", str(write_config('[web]\npasswd = "x"\n')))
    assert done.returncode == 2 and "web.passwd" in done.stderr


def test_a_bad_host_or_a_taken_port_is_one_line(serve_web: Serve) -> None:
    taken = serve_web().base.rpartition(":")[2]
    for args, said in (
        (["--port", taken], f"cannot listen on 127.0.0.1 port {taken}: "),
        (["--host", "\x1b[2J"], "--host: not an IP address or a host name: '\\x1b[2J'"),
    ):
        done = run_cli("web", *args)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and said in done.stderr, done.stderr
