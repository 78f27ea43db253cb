"""`keep_freed_memory`: an export's pages reuse the memory the previous page freed (glibc's
malloc told so), and nothing is done where the C library is another."""

from __future__ import annotations

import platform
import sys
from unittest import mock

from jobdash.cli import memory


def test_glibc_keeps_freed_memory() -> None:
    """On glibc it is told to (mallopt says yes); elsewhere nothing is done, no error."""
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert memory.keep_freed_memory() is glibc
    with mock.patch.object(memory.sys, "platform", "darwin"):
        assert memory.keep_freed_memory() is False
