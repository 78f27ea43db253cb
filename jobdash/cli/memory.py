"""The C allocator's keeping of freed memory, for a command that streams millions of rows.

Why: an export writes a page of 1,000 jobs as a text of ~0.8 MB, and its list of pieces,
its bytes and its rows are each as big. glibc's malloc gives such a block back to the
system when it is freed (the top of its heap trimmed, a big block unmapped), and the next
page's asks for it again: the kernel hands out zeroed pages anew, one fault each, and the
export spent ~15 % of its CPU in the kernel doing that (1.5-1.9 s of system time in a JSON
export of 1,000,000 jobs; 0.3-0.5 s once freed memory is kept). Kept here, up to a bound
far above what a page holds: memory stays flat, at the size of the largest page's work.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1  # mallopt's parameters (malloc.h)
M_MMAP_THRESHOLD = -3
KEPT = 64 * 1024 * 1024  # freed memory kept, blocks served from the heap: up to 64 MB


def keep_freed_memory() -> bool:
    """Have glibc's malloc keep freed memory (up to `KEPT`) for the next allocation instead
    of giving it back; False where the C library is not glibc (nothing done)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # another C library (musl has no mallopt)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_TRIM_THRESHOLD, KEPT)) and bool(mallopt(M_MMAP_THRESHOLD, KEPT))
