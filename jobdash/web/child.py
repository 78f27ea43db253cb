"""The dashboard of one browser session, as `jobdash web` starts it: `jobdash` itself, made
to end with the server even when the server cannot end it.

A server killed with SIGKILL (by hand, by the kernel's OOM killer) runs no code, so it
cannot signal its sessions; and Textual's web driver does not end its app when its pipes
close. On Linux the session asks the kernel to send it SIGTERM when its parent dies
(`PR_SET_PDEATHSIG`), then checks that the parent is still the server (it may have died
before the request): the dashboard then ends as on any SIGTERM.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

from jobdash.cli import main
from jobdash.web.session import SERVER_PID

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def end_with_the_server() -> None:
    """SIGTERM to this process when its parent dies; exit now if it has died already."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if str(os.getppid()) != os.environ.get(SERVER_PID):
        sys.exit(0)


if __name__ == "__main__":
    end_with_the_server()
    sys.exit(main(sys.argv[1:]))
