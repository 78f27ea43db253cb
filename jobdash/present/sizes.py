"""How a number of bytes is shown (an artifact's size, the store's): in binary units, three
figures at most, the same in the CLI and the dashboard."""

from __future__ import annotations

__all__ = ["size_text"]

_UNITS = ("KiB", "MiB", "GiB", "TiB")


def size_text(n: int) -> str:
    """`512 B`, `1.5 KiB`, `50.0 MiB`, `12 GiB`."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")
