"""The dashboard in a real browser: Debian's headless Chromium, driven by Playwright, opens
`jobdash web`'s address, types into the terminal and sees the dashboard answer.

What the page's terminal shows is read back through the page itself: a script added
before the page's own wraps the browser's `WebSocket` so that every byte the terminal is
given is also kept, and pyte (a VT emulator) draws those bytes, as they come, into a screen
of the size the page asked for. No screenshot is compared: fonts and anti-aliasing vary, text does not.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pyte
import pytest

from tests.web.conftest import Served

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KEEP_BYTES = """
window.jobdashTerminal = {
  socket: "", url: "", chunks: [], sockets: 0,
  opened(url) {
    this.socket = `${performance.timeOrigin}/${++this.sockets}`;  // this page load's nth
    this.url = String(url);
    this.chunks = [];
  },
  keep(data) {
    this.chunks.push(new Uint8Array(data));
  },
};
const NativeWebSocket = window.WebSocket;
window.WebSocket = function (url, ...rest) {
  const ws = new NativeWebSocket(url, ...rest);
  window.jobdashTerminal.opened(url);
  ws.addEventListener("message", (e) => {
    if (typeof e.data !== "string") window.jobdashTerminal.keep(e.data);
  });
  return ws;
};
window.WebSocket.prototype = NativeWebSocket.prototype;
"""
# The bytes kept since the last read, given once (none is read twice), as a string of
# code points 0-255: Playwright carries a string at once, an array number by number (a
# megabyte: 20 s).
TAKE_BYTES = """() => {
  const t = window.jobdashTerminal;
  const parts = [];
  for (const chunk of t.chunks) {
    for (let i = 0; i < chunk.length; i += 8192) {
      parts.push(String.fromCharCode.apply(null, chunk.subarray(i, i + 8192)));
    }
  }
  t.chunks = [];
  return { socket: t.socket, url: t.url, bytes: parts.join("") };
}"""


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium. Missing: a skip saying so, except in CI (CI=true), where .ci/run
    installs it and its absence is a failure."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium); CI runs this test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield chromium
        chromium.close()


class Terminal:
    """The page's terminal as text: the bytes it was sent, drawn at the size it asked for.

    Each read draws only the bytes sent since the last one, into the screen kept from it
    (pyte's stream reads a sequence cut between two reads as one): a read costs what was
    sent meanwhile, never the whole session again, so a wait that fails fails in its time.
    A new websocket (a page loaded again) starts a new screen."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.socket = ""
        self.screen = pyte.Screen(80, 24)
        self.stream = pyte.ByteStream(self.screen)

    def text(self) -> str:
        kept = self.page.evaluate(TAKE_BYTES)
        if kept["socket"] != self.socket:
            self.socket = kept["socket"]
            size = dict(re.findall(r"(width|height)=(\d+)", kept["url"]))
            self.screen = pyte.Screen(int(size.get("width", 80)), int(size.get("height", 24)))
            self.stream = pyte.ByteStream(self.screen)
        self.stream.feed(kept["bytes"].encode("latin-1"))
        return "\n".join(self.screen.display)


# A long session's worth of output (240 KB), given to the page's terminal as its websocket
# gives it, then a last frame.
LONG_SESSION = """() => {
  const t = window.jobdashTerminal;
  t.opened("ws://127.0.0.1:1/ws?width=100&height=30");
  const line = new TextEncoder().encode("a long session's output, drawn again and again\\r\\n");
  for (let i = 0; i < 5000; i++) t.keep(line.buffer);
  t.keep(new TextEncoder().encode("\\x1b[2J\\x1b[Hlast frame \\u2713").buffer);
}"""


def test_a_wait_that_fails_fails_in_its_time_however_long_the_session(browser: Any) -> None:
    """Reading the terminal costs what it was sent since the last read: a wait for what
    never comes fails in its time, not minutes later (each read drew the whole session
    again, ~1 s each here, and the wait counted its reads, not the time)."""
    page = browser.new_page()
    page.add_init_script(KEEP_BYTES)
    page.goto("data:text/html,<title>terminal</title>")
    page.evaluate(LONG_SESSION)
    term = Terminal(page)
    shows(term, "last frame \u2713", "the last frame drawn")
    assert term.text().splitlines()[0].rstrip() == "last frame \u2713"
    assert len(term.text().splitlines()) == 30 and len(term.text().splitlines()[0]) == 100
    began = time.monotonic()
    with pytest.raises(AssertionError, match="still not the text never sent after 2"):
        shows(term, "never sent", "the text never sent", within=2)
    assert time.monotonic() - began < 2 + 3  # its time, one read and a loaded machine's slack
    # What comes later is drawn on the same screen, a sequence cut between two reads too.
    page.evaluate("() => window.jobdashTerminal.keep(new Uint8Array([27, 91]).buffer)")
    assert "last frame" in term.text()
    page.evaluate("() => window.jobdashTerminal.keep(new TextEncoder().encode('Hdone').buffer)")
    shows(term, "done frame", "the cursor moved home, then text")
    page.close()


@pytest.mark.slow
def test_the_dashboard_in_a_browser(serve_web: Callable[..., Served], browser: Any) -> None:
    served = serve_web()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.add_init_script(KEEP_BYTES)
    term = Terminal(page)

    # Without the token: 401, and no dashboard process.
    assert page.goto(served.base + "/").status == 401
    assert served.started() == []
    assert psutil.Process(served.proc.pid).children(recursive=True) == []

    # With it: the page, its terminal connected, the dashboard drawn in it.
    assert page.goto(served.url).status == 200
    assert page.url == served.base + "/"  # the token is out of the address bar
    page.wait_for_selector(".textual-terminal.-connected", timeout=60_000)
    shows(term, "No jobs in progress", "the In Progress tab drawn")
    assert len(served.started()) == 1
    assert "no engine running" in term.text()  # a session never embeds one

    page.click(".xterm-screen")  # the terminal is a canvas: focus it before typing
    page.keyboard.press("2")
    shows(term, "No completed jobs yet", "the Completed tab shown")
    assert "No jobs in progress" not in term.text()
    page.close()


@pytest.mark.slow
def test_keys_reach_the_dashboard_without_a_click_first(
    serve_web: Callable[..., Served], browser: Any
) -> None:
    # Textual's web driver starts the app blurred: until the page's terminal has the focus,
    # keys typed go nowhere and the footer of keys stays empty.
    served = serve_web()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.add_init_script(KEEP_BYTES)
    term = Terminal(page)
    page.goto(served.url)
    page.wait_for_selector(".textual-terminal.-connected", timeout=60_000)
    shows(term, "No jobs in progress", "the In Progress tab drawn")
    shows(term, "q Quit", "the footer's keys shown", within=15)
    page.keyboard.press("2")
    shows(term, "No completed jobs yet", "the Completed tab shown")
    page.close()


ARTIFACT = b"host,rows\nvm-1,400\n" * 1000  # 19 KB: more than one chunk is not needed


async def finished_job_with_artifact(location: str) -> int:
    """A finished job of the test's store with one artifact (no engine: the store's own
    calls, as a test may)."""
    from jobdash.core.artifacts import keep
    from jobdash.core.store.base import open_store
    from tests.store_contract.jobs import commands, run_all

    store = await open_store(location)
    try:
        job = await store.create_job(commands("nightly-report"))
        await run_all(store)
        await keep(store, job.id, None, "rows [1].csv", ARTIFACT, "text/csv")
        return job.id
    finally:
        await store.close()


@pytest.mark.slow
def test_an_artifact_downloads_in_the_browser(
    serve_web: Callable[..., Served], browser: Any
) -> None:
    # Playwright's own loop runs in this thread: the store is written from another.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, finished_job_with_artifact(os.environ["JOBDASH_DB"])).result()
    served = serve_web()
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 800})
    downloads: list[Any] = []
    # The page opens /download/KEY in a new tab (textual.js): its download is that tab's.
    context.on("page", lambda tab: tab.on("download", lambda d: downloads.append(d)))
    page = context.new_page()
    page.add_init_script(KEEP_BYTES)
    term = Terminal(page)
    page.goto(served.url)
    page.wait_for_selector(".textual-terminal.-connected", timeout=60_000)
    shows(term, "No jobs in progress", "the In Progress tab drawn")
    page.click(".xterm-screen")
    page.keyboard.press("2")
    shows(term, "nightly-report", "the Completed tab with the job")
    page.keyboard.press("Enter")
    shows(term, "artifacts · 1 file", "the job's details with its artifact")
    page.keyboard.press("o")
    waited_for(page, lambda: bool(downloads), "a download")
    download = downloads[0]
    assert download.suggested_filename == "rows [1].csv"
    assert Path(download.path()).read_bytes() == ARTIFACT
    # Served once: the same address again is 404.
    assert context.request.get(download.url).status == 404
    context.close()


def waited_for(page: Any, cond: Callable[[], bool], what: str, within: float = 60.0) -> None:
    """`until`, letting Playwright deliver its events meanwhile (it does so only inside its
    own calls). Fails `within` seconds after it began (plus one `cond()`), however long each
    `cond()` took."""
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() >= deadline:
            raise AssertionError(f"still not {what} after {within}s")
        page.wait_for_timeout(100)


def shows(term: Terminal, text: str, what: str, within: float = 60.0) -> None:
    """Wait until the terminal shows `text`; a failure prints the screen it shows instead."""
    try:
        waited_for(term.page, lambda: text in term.text(), what, within)
    except AssertionError as e:
        raise AssertionError(f"{e}; the screen:\n{term.text()}") from None
