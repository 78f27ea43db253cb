"""Who may open `jobdash web`: a token printed at start, or the password whose hash is in the
config (`[web] password_hash`); either one earns a session cookie.

Every secret is compared in constant time (`hmac.compare_digest`), so the time a wrong
guess takes says nothing about how much of it was right. The cookie is one random value for
the server's lifetime: stopping the server ends every browser's session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from jobdash.core.model import BadInput

COOKIE = "jobdash_session"
SCHEME = "scrypt"
# scrypt's cost (n=2**14, r=8: 16 MiB and some 50 ms a try), the figures Python's docs and
# OWASP give for interactive logins.
N, R, P = 2**14, 8, 1
MAXMEM = 256 * 1024 * 1024
HASH_FORM = re.compile(
    r"scrypt\$(?P<n>\d{1,8})\$(?P<r>\d{1,3})\$(?P<p>\d{1,3})\$(?P<salt>[A-Za-z0-9_-]{16,})\$(?P<key>[A-Za-z0-9_-]{43,})"
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=MAXMEM, dklen=32
    )


def hash_password(password: str) -> str:
    """The `[web] password_hash` value for `password` (scrypt with a random salt)."""
    salt = secrets.token_bytes(16)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(_scrypt(password, salt, N, R, P))}"


def check_hash(stored: str, where: str) -> None:
    """Refuse, naming `where`, a hash that `hash_password` did not make: a typo would
    otherwise lock everyone out, or (worse) be taken for a plain password."""
    m = HASH_FORM.fullmatch(stored)
    n, r, p = (int(m["n"]), int(m["r"]), int(m["p"])) if m else (0, 0, 0)
    power_of_two = n >= 2 and not n & (n - 1)
    if not (power_of_two and r > 0 and p > 0 and 128 * n * r <= MAXMEM // 2):
        raise BadInput(
            f"{where}: not a password hash made by `jobdash web --hash-password` "
            f"(scrypt$N$r$p$salt$key; its value is not shown)"
        )


def password_matches(stored: str, password: str) -> bool:
    """Whether `password` is the one `stored` (checked by `check_hash`) was made from."""
    m = HASH_FORM.fullmatch(stored)
    if m is None:
        return False
    key = _scrypt(password, _unb64(m["salt"]), int(m["n"]), int(m["r"]), int(m["p"]))
    return hmac.compare_digest(key, _unb64(m["key"]))


@dataclass
class Gate:
    """The server's secrets: the start token (None when a password is asked instead) and
    the session cookie's value."""

    password_hash: str | None = None
    token: str | None = None
    cookie: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @classmethod
    def new(cls, password_hash: str | None) -> Gate:
        """A password when the config names one, else a fresh token to print."""
        if password_hash is not None:
            return cls(password_hash=password_hash)
        return cls(token=secrets.token_urlsafe(32))

    def token_ok(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), self.token.encode("ascii")
        )

    def password_ok(self, given: str) -> bool:
        return self.password_hash is not None and password_matches(self.password_hash, given)

    def cookie_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), self.cookie.encode("ascii")
        )
