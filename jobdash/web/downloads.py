"""Files a browser session's dashboard hands to the browser (an artifact: Textual's
`App.deliver_binary`), as textual-serve passes them on, with this server's rules.

The dashboard announces a delivery (`M` packet `{"type": "deliver_file_start", "key", "path",
"mime_type", …}`); the server tells the page (`["deliver_file_start", KEY]`), which opens
`/download/KEY`; that request (authenticated like every other: the session cookie) asks the
dashboard for the file a chunk at a time (`deliver_chunk_request`), each answered by a `P`
packet `("deliver_chunk", KEY, bytes)` (Textual's binary encoding), an empty one at the end.

A key is the dashboard's (a random 128-bit hex string) and is served once, only while its
session lives; at most `MAX_WAITING` wait per session. The file's name is data: it is
sent as RFC 6266's `filename*` (percent-encoded UTF-8), never as raw header text.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from aiohttp import web

from jobdash.web.session import AppProcess

CHUNK = 256 * 1024  # bytes asked of the dashboard at once
CHUNK_WAIT = 30.0  # seconds a chunk may take before the download is given up
MAX_WAITING = 16  # announced deliveries a session may have waiting to be fetched
KEY = re.compile(r"[0-9a-f]{32}\Z")
MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*\Z")


@dataclass
class Delivery:
    """One file the dashboard offered, until the browser fetches it."""

    app: AppProcess
    name: str
    media_type: str
    chunks: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)


class Downloads:
    """The deliveries of every session of one server."""

    def __init__(self) -> None:
        self.waiting: dict[str, Delivery] = {}
        self.fetching: dict[str, Delivery] = {}

    def offered(self, app: AppProcess, meta: dict[str, Any]) -> str | None:
        """A `deliver_file_start` from `app`: its key to tell the page, None when refused
        (a malformed key, too many waiting)."""
        key = str(meta.get("key", ""))
        if not KEY.match(key) or key in self.waiting or key in self.fetching:
            return None
        if sum(d.app is app for d in self.waiting.values()) >= MAX_WAITING:
            return None
        name = PurePosixPath(str(meta.get("path", ""))).name or "download"
        kind = str(meta.get("mime_type") or "").lower()
        self.waiting[key] = Delivery(app, name, kind if MEDIA_TYPE.match(kind) else "")
        return key

    async def chunk(self, payload: bytes) -> None:
        """A `P` packet: a chunk of a delivery being fetched (others are ignored)."""
        decoded = decode_chunk(payload)
        if decoded is not None and (d := self.fetching.get(decoded[0])) is not None:
            await d.chunks.put(decoded[1])

    def ended(self, app: AppProcess) -> None:
        """The session ended: its deliveries are gone, a fetch under way ends."""
        for key, d in list(self.waiting.items()):
            if d.app is app:
                del self.waiting[key]
        for d in self.fetching.values():
            if d.app is app:
                d.chunks.put_nowait(None)

    async def fetch(self, request: web.Request) -> web.StreamResponse:
        """GET /download/KEY: the file, streamed as the dashboard reads it; 404 for a key
        not (or no longer) offered."""
        key = request.match_info.get("key", "")
        d = self.waiting.pop(key, None)
        if d is None:
            raise web.HTTPNotFound(text="404: no such download (each is served once)\n")
        self.fetching[key] = d
        try:
            response = web.StreamResponse(
                headers={
                    "Content-Type": d.media_type or "application/octet-stream",
                    "Content-Disposition": f"attachment; filename*=UTF-8''{quote(d.name)}",
                }
            )
            await response.prepare(request)
            while True:
                await d.app.send_meta(
                    {"type": "deliver_chunk_request", "key": key, "size": CHUNK, "name": "artifact"}
                )
                chunk = None
                with contextlib.suppress(TimeoutError):
                    chunk = await asyncio.wait_for(d.chunks.get(), CHUNK_WAIT)
                if not chunk:
                    break
                await response.write(chunk)
            await response.write_eof()
            return response
        finally:
            self.fetching.pop(key, None)


def decode_chunk(payload: bytes) -> tuple[str, bytes] | None:
    """("deliver_chunk", KEY, DATA) in Textual's binary encoding (a tuple `t…e` of a string
    `s<n>:…`, a string, and bytes `<n>:…` or a string); None for anything else."""
    items: list[bytes] = []
    if payload[:1] != b"t" or payload[-1:] != b"e":
        return None
    at = 1
    while at < len(payload) - 1 and len(items) < 3:
        text = payload[at : at + 1] == b"s"
        start = at + 1 if text else at
        colon = payload.find(b":", start, start + 21)
        if colon < 0 or not payload[start:colon].isdigit():
            return None
        end = colon + 1 + int(payload[start:colon])
        items.append(payload[colon + 1 : end])
        at = end
    if at != len(payload) - 1 or len(items) != 3 or items[0] != b"deliver_chunk":
        return None
    try:
        return items[1].decode("ascii"), items[2]
    except UnicodeDecodeError:
        return None
