"""The dashboard in a real browser: Debian's headless Chromium, driven by Playwright, opens
`jobdash web`'s address, types into the terminal and sees the dashboard answer.

What the page's terminal shows is read back through the page itself: a script added
before the page's own wraps the browser's `WebSocket` so that every byte the terminal is
given is also kept, and pyte (a VT emulator) draws those bytes into a screen of the size
the page asked for. No screenshot is compared: fonts and anti-aliasing vary, text does not.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pyte
import pytest

from tests.web.conftest import Served, until

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
window.jobdashTerminal = { url: "", bytes: [] };
const NativeWebSocket = window.WebSocket;
window.WebSocket = function (url, ...rest) {
  const ws = new NativeWebSocket(url, ...rest);
  window.jobdashTerminal.url = String(url);
  ws.addEventListener("message", (e) => {
    if (typeof e.data !== "string") {
      window.jobdashTerminal.bytes.push(...new Uint8Array(e.data));
    }
  });
  return ws;
};
window.WebSocket.prototype = NativeWebSocket.prototype;
"""


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


def screen(page: Any) -> str:
    """The page's terminal as text: the bytes it was sent, drawn at the size it asked for."""
    kept = page.evaluate("window.jobdashTerminal")
    size = dict(re.findall(r"(width|height)=(\d+)", kept["url"]))
    terminal = pyte.Screen(int(size.get("width", 80)), int(size.get("height", 24)))
    pyte.ByteStream(terminal).feed(bytes(kept["bytes"]))
    return "\n".join(terminal.display)


@pytest.mark.slow
def test_the_dashboard_in_a_browser(serve_web: Callable[..., Served], browser: Any) -> None:
    served = serve_web()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.add_init_script(KEEP_BYTES)

    # Without the token: 401, and no dashboard process.
    assert page.goto(served.base + "/").status == 401
    assert served.started() == []
    assert psutil.Process(served.proc.pid).children(recursive=True) == []

    # With it: the page, its terminal connected, the dashboard drawn in it.
    assert page.goto(served.url).status == 200
    assert page.url == served.base + "/"  # the token is out of the address bar
    page.wait_for_selector(".textual-terminal.-connected", timeout=60_000)
    until(lambda: "No jobs in progress" in screen(page), "the In Progress tab drawn")
    assert len(served.started()) == 1
    assert "no engine running" in screen(page)  # a session never embeds one

    page.click(".xterm-screen")  # the terminal is a canvas: focus it before typing
    page.keyboard.press("2")
    until(lambda: "No completed jobs yet" in screen(page), "the Completed tab shown")
    assert "No jobs in progress" not in screen(page)
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
    page.goto(served.url)
    page.wait_for_selector(".textual-terminal.-connected", timeout=60_000)
    shows(page, "No jobs in progress", "the In Progress tab drawn")
    waited_for(page, lambda: "q Quit" in screen(page), "the footer's keys shown", within=15)
    page.keyboard.press("2")
    shows(page, "No completed jobs yet", "the Completed tab shown")
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
    page.goto(served.url)
    page.wait_for_selector(".textual-terminal.-connected", timeout=60_000)
    shows(page, "No jobs in progress", "the In Progress tab drawn")
    page.click(".xterm-screen")
    page.keyboard.press("2")
    shows(page, "nightly-report", "the Completed tab with the job")
    page.keyboard.press("Enter")
    shows(page, "artifacts · 1 file", "the job's details with its artifact")
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
    own calls)."""
    for _ in range(int(within * 10)):
        if cond():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"still not {what} after {within}s")


def shows(page: Any, text: str, what: str) -> None:
    waited_for(page, lambda: text in screen(page), what)
