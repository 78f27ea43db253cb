"""The Completed tab's rows when the history is long: a window onto the store, not a copy.

The rows are addressed by position in the store's order (the filter and sort the table
shows), and held in pages of `PAGE` rows fetched when they come into view; at most
`KEEP_PAGES` pages are kept (the least recently drawn go first), so that memory does not grow
with the history. A page is read by keyset from a neighbour page already held (in id order),
else by offset from the nearer end: the newest and the oldest rows cost the same.

How many rows there are comes from the store too: exactly when that is cheap (no filter, or
a filter selecting fewer than `CAP`), else "10,000+" until the exact count is asked for (the
end key). A keystroke's count stops at `FIRST_CAP` ("1,000+"), and goes on to CAP once the
filter has stood still for a moment. Nothing here knows about the screen: `JobWindowTable` draws it and runs the reads.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from jobdash.core.model import Job
from jobdash.core.query import Query

__all__ = ["CAP", "FIRST_CAP", "KEEP_PAGES", "PAGE", "JobWindow", "PageRead"]

PAGE = 100
KEEP_PAGES = 24  # 2,400 rows at most
CAP = 10_000  # a filtered count stops past this ("10,000+")
# Each keystroke counts this far first (a tenth of the cost), the rest once typing pauses.
FIRST_CAP = 1_000


@dataclass(frozen=True)
class PageRead:
    """One read of the store: `limit` rows in the order of `order` (`descending`), past
    `after_id` (keyset, id order only) or `offset` rows in; `reverse`: the rows come from the
    other end, so they are reversed into display order."""

    order: str
    descending: bool
    offset: int
    limit: int
    after_id: int | None
    reverse: bool
    indexed: bool  # free words may be looked up in the store's text index (it is current)


Fetch = Callable[[Query, PageRead], Awaitable[list[Job]]]
Count = Callable[[Query, int | None, bool], Awaitable[int]]


class JobWindow:
    """Pages of the finished jobs a query selects, in a column's order."""

    def __init__(self, sort: str = "id", reverse: bool = True) -> None:
        self.sort_column = sort
        self.reverse = reverse
        self.query = Query()
        self.total = 0  # rows shown (cap + 1 while only "more than cap" is known)
        self.cap = CAP  # how far the last count went
        self.exact = True  # whether `total` is the exact count
        self.exact_generation = -1  # the generation last counted exactly
        self.all_count = 0  # finished jobs without the filter
        self.all_known = False  # whether all_count is current (the data changed since)
        self.pages: OrderedDict[int, list[Job]] = OrderedDict()
        self.wanted: set[int] = set()
        self.generation = 0  # moves with each change of query, sort or data: late reads drop
        self.indexed = False  # whether the store's text index holds every finished job
        self.index: dict[int, int] = {}  # job id -> position, for the rows held
        self.all: dict[int, Job] = {}  # the jobs held, by id
        self.version: dict[int, int] = {}

    # ------------------------------------------------------------------ rows

    def row(self, index: int) -> Job | None:
        """The row at `index`, or None (its page is then wanted)."""
        page, at = divmod(index, PAGE)
        rows = self.pages.get(page)
        if rows is None:
            self.wanted.add(page)
            return None
        self.pages.move_to_end(page)
        return rows[at] if at < len(rows) else None

    def held(self) -> list[Job]:
        """The rows held, in no particular order."""
        return [job for rows in self.pages.values() for job in rows]

    def count_text(self) -> str:
        """The count as the tab's title says it: "10,000+" while only that much is known."""
        return f"{self.total:,}" if self.exact else f"{self.cap:,}+"

    # ------------------------------------------------------------------ reads

    def reset(self) -> None:
        """Forget every page (a new query, sort or data): they are read again as drawn."""
        self.generation += 1
        self.pages.clear()
        self.wanted.clear()
        self.index.clear()
        self.all.clear()

    def read_for(self, page: int) -> PageRead:
        """How to read `page`: by keyset from a held neighbour (id order), else by offset
        from the nearer end (the far end only when the count is exact)."""
        start = page * PAGE
        limit = min(PAGE, max(0, self.total - start)) if self.exact else PAGE
        by_id = self.sort_column == "id"
        before = self.pages.get(page - 1)
        if by_id and before is not None and len(before) == PAGE:
            return PageRead("id", self.reverse, 0, limit, before[-1].id, False, self.indexed)
        after = self.pages.get(page + 1)
        if by_id and after:
            return PageRead("id", not self.reverse, 0, limit, after[0].id, True, self.indexed)
        from_end = self.total - start - limit
        if self.exact and from_end < start:
            return PageRead(
                self.sort_column, not self.reverse, from_end, limit, None, True, self.indexed
            )
        return PageRead(self.sort_column, self.reverse, start, limit, None, False, self.indexed)

    def put(self, page: int, rows: list[Job]) -> None:
        """Hold a page read from the store (dropping the least recently drawn beyond
        KEEP_PAGES)."""
        self.pages[page] = rows
        self.pages.move_to_end(page)
        while len(self.pages) > KEEP_PAGES:
            self.pages.popitem(last=False)
        self.index = {}
        self.all = {}
        for number, held in self.pages.items():
            base = number * PAGE
            for at, job in enumerate(held):
                self.index[job.id] = base + at
                self.all[job.id] = job

    async def load(self, fetch: Fetch, pages: Sequence[int]) -> bool:
        """Read `pages`; False when the window changed meanwhile (the rows are dropped)."""
        generation = self.generation
        for page in pages:
            read = self.read_for(page)
            if read.limit <= 0:
                continue
            rows = await fetch(self.query, read)
            if generation != self.generation:
                return False
            self.put(page, rows[::-1] if read.reverse else rows)
        return True

    async def recount(self, count: Count, exact: bool = False, cap: int | None = None) -> bool:
        """Count the rows (up to `cap`, CAP by default, with a filter, unless `exact`) and
        the finished jobs; False when the window changed meanwhile."""
        cap = CAP if cap is None else min(cap, CAP)
        generation = self.generation
        if self.query.is_empty:
            total = every = await count(self.query, None, False)
        else:
            total = await count(self.query, None if exact else cap, self.indexed)
            # Counted once per change of the data, not per keystroke.
            every = self.all_count if self.all_known else await count(Query(), None, False)
        if generation != self.generation:
            return False
        if not exact and self.exact_generation == generation:
            # An exact count of these same rows (the end key) landed while this capped one
            # (typing paused) was on its way: it must not take "10,000+" back.
            return True
        self.exact = exact or self.query.is_empty or total <= cap
        if self.exact:
            self.exact_generation = generation
        self.cap = cap
        self.total = total
        self.all_count = every
        self.all_known = True
        return True
