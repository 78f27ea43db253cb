"""The parameter sets of `jobdash run TYPE --params-from FILE|-`: one job per line.

Two forms, told apart by the first line that is not blank: JSON lines (each line one
object, `{"host": "a", "n": 3}`; scalar values become text, as on the command line) or CSV
(a header row naming the parameters, then one row per job). A bad line is BadInput naming
its number, and nothing is submitted: the caller submits all the sets or none.

Apart from the command line so that reading the file needs nothing of Rich or argparse.
"""

from __future__ import annotations

import csv
import json
import signal
import sys
from pathlib import Path

from jobdash.core.model import BadInput


def read_params_file(source: str) -> list[tuple[str, dict[str, str]]]:
    """The parameter sets in `source` (a path, or "-" for standard input), each with its
    label for errors ("--params-from jobs.csv: line 7")."""
    where = "standard input" if source == "-" else source
    try:
        data = _read_stdin() if source == "-" else Path(source).read_bytes()
    except OSError as e:
        raise BadInput(f"--params-from {where}: cannot read it: {e.strerror or e}") from None
    text = _text(data, where)
    lines = text.splitlines()
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    # A JSON array too is JSON lines: its line is then "not a JSON object", not a CSV header.
    json_lines = first.startswith(("{", "["))
    sets = _json_lines(lines, where) if json_lines else _csv_rows(text, where)
    if not sets:
        raise BadInput(f"--params-from {where}: no jobs in it (one JSON object or CSV row a line)")
    return sets


def _read_stdin() -> bytes:
    """Standard input, whole. This runs inside `asyncio.run`, whose SIGINT handler only
    wakes the event loop, which this read blocks: Ctrl-C at a terminal did nothing until
    Ctrl-D. Python's own handler raises KeyboardInterrupt in the read (exit status 130)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return sys.stdin.buffer.read()
    finally:
        signal.signal(signal.SIGINT, previous)


def _text(data: bytes, where: str) -> str:
    """The file's text: UTF-8, read as bytes whatever the locale (a C locale's standard input
    would take junk in as text, a CSV header of it, and say "no jobs"), less the byte order
    mark spreadsheets put before a CSV (else the first column is named "\\ufeffname")."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInput(
            f"--params-from {where}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset "
            f"{e.start}); JSON lines or CSV expected"
        ) from None


def _json_lines(lines: list[str], where: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise BadInput(f"--params-from {where}: line {n}: not JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise BadInput(f"--params-from {where}: line {n}: not a JSON object")
        params = {}
        for k, v in obj.items():
            if isinstance(v, (dict, list)) or v is None:
                raise BadInput(
                    f"--params-from {where}: line {n}: {k!r} is not a single value "
                    "(text, number or true/false)"
                )
            params[k] = json.dumps(v) if isinstance(v, bool) else str(v)
        out.append((f"--params-from {where}: line {n}", params))
    return out


def _csv_rows(text: str, where: str) -> list[tuple[str, dict[str, str]]]:
    # strict: a quote left open to the end is an error, not a value that takes the rest
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    out = []
    header: list[str] | None = None
    try:
        for row in reader:
            n = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() for cell in row]
                if "" in header or len(set(header)) != len(header):
                    raise BadInput(
                        f"--params-from {where}: line {n}: the header row must name each "
                        "parameter once"
                    )
                continue
            if len(row) != len(header):
                raise BadInput(
                    f"--params-from {where}: line {n}: {len(row)} values for "
                    f"{len(header)} columns ({', '.join(header)})"
                )
            out.append((f"--params-from {where}: line {n}", dict(zip(header, row, strict=True))))
    except csv.Error as e:
        why = "a quote is not closed" if "unexpected end of data" in str(e) else str(e)
        raise BadInput(f"--params-from {where}: line {reader.line_num}: {why}") from None
    return out
