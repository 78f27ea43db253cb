"""What `jobdash check` asks of a config beyond its own rules: that each job type's programs
can be started and each Python function's module found, here, as the engine would start or
import them.

The file's rules hold on any machine; these depend on this one (its PATH, its files, its
installed modules), so they are asked where the engine will run (`jobdash check`, which an
admin runs there after an edit or an `import-crontab`), not whenever a config is read: a
dashboard on another host reads the same file. A program named with a placeholder in it
(`["{script}"]`) or by a relative path (the engine's working folder decides) is not looked
for. A module is found without being run (`importlib.util.find_spec`; a package's
`__init__` does run, as the engine's import would run it).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from jobdash.core.config.checks import ConfigError, Keys, dotted, find_line
from jobdash.core.config.file import Config


def unrunnable(cfg: Config) -> ConfigError | None:
    """The first job type (in the file's order) whose program or module is not here, as the
    one line a config error is: `file:line: key: message`; None when all are."""
    if cfg.path is None:
        return None
    source = str(cfg.path)
    text = cfg.path.read_text(encoding="utf-8", errors="replace")
    folder = str(cfg.path.parent.resolve())  # Python job types live next to the config
    for jt in sorted(cfg.types.values(), key=lambda t: t.line or 0):
        if jt.source != source:
            continue
        keys: Keys = ("types", jt.name)
        found = _missing(jt.command, (*keys, "command"))
        if found is None and jt.items is not None:
            found = _missing(jt.items.command, (*keys, "items", "command"))
        if found is None and isinstance(jt.finalize, tuple):
            found = _missing(jt.finalize, (*keys, "finalize"))
        if found is None and jt.function is not None:
            found = _no_module(jt.function, (*keys, "function"), folder)
        if found is None and isinstance(jt.finalize, str):
            found = _no_module(jt.finalize, (*keys, "finalize"), folder)
        if found is not None:
            where, message = found
            return ConfigError(source, message, dotted(where), find_line(text, where))
    return None


def _missing(argv: tuple[str, ...] | None, keys: Keys) -> tuple[Keys, str] | None:
    """Why the program of `argv` cannot be started, or None."""
    if not argv or "{" in argv[0]:
        return None
    program = argv[0]
    if "/" not in program:
        path = os.environ.get("PATH", os.defpath)
        if shutil.which(program, path=path) is None:
            return keys, f'program "{program}" is not on PATH ({path})'
        return None
    if not os.path.isabs(program):
        return None
    if not Path(program).is_file():
        return keys, f'program "{program}": no such file'
    if not os.access(program, os.X_OK):
        return keys, f'program "{program}" is not executable'
    return None


def _no_module(ref: str, keys: Keys, folder: str) -> tuple[Keys, str] | None:
    """Why the module of `ref` ("module:attribute") cannot be imported, or None."""
    module = ref.partition(":")[0]
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):  # a parent package missing, or not a package
        spec = None
    except Exception as e:  # a package's __init__ that fails: the engine's import would too
        return keys, f'module "{module}" cannot be imported: {type(e).__name__}: {e}'
    finally:
        if added:
            sys.path.remove(folder)
    if spec is None:
        return keys, f'no module "{module}" (looked next to the config and on Python\'s path)'
    return None
