"""jobdash's own Textual themes, loaded from TOML files at start.

Looked up, later ones winning on a name clash:

1. `jobdash/themes/*.toml` inside the package (shipped as package data, so a
   `pip install` finds them);
2. `themes/*.toml` at the top of a source checkout;
3. `<user config dir>/jobdash/themes/*.toml`, for the user's own.

A theme file holds the arguments of `textual.theme.Theme`:

    name = "jobdash-night"
    dark = true
    primary = "#4FB3BF"
    ...
    [variables]
    "block-cursor-background" = "#4FB3BF"
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import platformdirs
from textual.theme import BUILTIN_THEMES, Theme

from jobdash.core.model import BadInput

DEFAULT_THEME = "jobdash-night"
PACKAGE_THEMES = Path(__file__).resolve().parent.parent / "themes"
CHECKOUT_THEMES = Path(__file__).resolve().parent.parent.parent / "themes"

_COLOURS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)


def theme_dirs() -> list[Path]:
    user = Path(platformdirs.user_config_dir("jobdash")) / "themes"
    return [PACKAGE_THEMES, CHECKOUT_THEMES, user]


def parse_theme(path: Path) -> Theme:
    """One theme file; BadInput names the file and what is wrong."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: {e}") from None
    name = data.get("name") or path.stem
    if not isinstance(name, str):
        raise BadInput(f"{path}: name must be a string")
    if not isinstance(data.get("primary"), str):
        raise BadInput(f'{path}: primary colour missing (primary = "#RRGGBB")')
    args: dict[str, Any] = {"name": name, "primary": data["primary"]}
    for key in _COLOURS[1:]:
        if key in data:
            if not isinstance(data[key], str):
                raise BadInput(f"{path}: {key} must be a colour string")
            args[key] = data[key]
    if "dark" in data:
        args["dark"] = bool(data["dark"])
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise BadInput(f"{path}: [variables] must map names to strings")
    args["variables"] = dict(variables)
    try:
        return Theme(**args)
    except Exception as e:  # a bad colour string
        raise BadInput(f"{path}: {e}") from None


def load_themes(dirs: Iterable[Path] | None = None) -> dict[str, Theme]:
    """Every theme file found, by name (a later directory wins on a clash)."""
    themes: dict[str, Theme] = {}
    for folder in theme_dirs() if dirs is None else dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            theme = parse_theme(path)
            themes[theme.name] = theme
    return themes


def check_theme(name: str, themes: dict[str, Theme]) -> None:
    """BadInput unless `name` is one of ours or a Textual built-in theme."""
    if name in themes or name in BUILTIN_THEMES:
        return
    known = ", ".join(sorted(set(themes) | set(BUILTIN_THEMES)))
    raise BadInput(f"unknown theme {name!r} (known: {known})")
