"""The dashboard's start to its first frame, headless, for an instruction count (not
collected by pytest). The process ends (`os._exit`) when the first frame draws the In
Progress table, so that all it ran is the start: Python, the imports, the store opened and
its first rows read (as `jobdash` does), Textual composing, styling and drawing. Run:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python tests/bench/first_frame.py STORE CONFIG

(`I refs`: the load does not move it, as it moves wall-clock times ~1.8× here); without
valgrind it prints the seconds from its own start to that frame. `PYTHONPATH=another
checkout` times another version (run it from outside a checkout: `python -c` and `-m`
put the working directory first on sys.path).
"""

import asyncio
import os
import sys
import time

START = time.perf_counter()


async def main(db: str, config: str) -> None:
    from jobdash.core.service import Service, read_config
    from jobdash.tui.app import JobdashApp
    from jobdash.tui.first_rows import FirstRows
    from jobdash.tui.keymap import check_keymap
    from jobdash.tui.widgets.job_table import JobTable

    render_lines = JobTable.render_lines

    def drawn(self: JobTable, crop: object) -> object:  # the first frame's table lines
        print(f"first frame at {time.perf_counter() - START:.3f} s", flush=True)
        os._exit(0)
        return render_lines(self, crop)  # type: ignore[arg-type]

    JobTable.render_lines = drawn  # type: ignore[method-assign,assignment]
    cfg = read_config(config)
    check_keymap(cfg.keymap, config)
    svc = await Service.open(db=db, config=config)
    embedded = not await svc.engine_alive()
    first = await FirstRows.read(svc)
    app = JobdashApp(
        svc, embedded_engine=embedded, engine_slots=4 if embedded else None, first_rows=first
    )
    await app.run_async(headless=True, size=(120, 40))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
