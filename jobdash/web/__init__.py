"""`jobdash web`: the same dashboard, served to a browser.

`command` is the command (checks, then serves); `server` the aiohttp application (pages,
authentication, websockets); `auth` the token, the password hash and the cookie; `session`
one browser session's dashboard process and its process group; `child` that process's
start, which ends it with the server.
"""
