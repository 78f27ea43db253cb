"""A job's artifacts in the store (the table of SQLite migration 19, PostgreSQL migration 10),
written once for both backends: recording one (replacing one of the same name in its job),
listing a job's, reading one, and what the store takes on disk.

The bytes of a small artifact are a column of its row; a big one's row names the file that
`core.artifacts` wrote in the store's artifacts folder (a name jobdash chose) and the host
whose folder it is. A kept file goes when its row goes: replaced, or its job removed (clear,
retention), removed by the process that removed the row, after the commit, when the folder
is its own (on PostgreSQL, the engine host's: see `remove_files`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobdash.core.model import NotFound
from jobdash.core.store.artifact_files import remove_kept
from jobdash.core.store.sql.dialect import Connection, Reading, Statements

if TYPE_CHECKING:
    from jobdash.core.store.engine_records import NewArtifact
    from jobdash.core.views import Artifact, StoreSize

# The table, the same in both backends but for the types of its id and bytes.
ARTIFACTS_TABLE = """
-- Each artifact of a job: its bytes (`data`, up to artifact_inline_max) or the name of its
-- file in the store's artifacts folder on `host` (`file`), its size and SHA-256. A name is
-- unique in its job (a later one of the same name replaces it). Rows go with their job.
CREATE TABLE artifacts (
    id {id},
    job_id BIGINT NOT NULL,
    task_id BIGINT,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    data {blob},
    file TEXT,
    host TEXT,
    UNIQUE (job_id, name)
);
"""
COLUMNS = (
    "a.job_id, a.name, a.media_type, a.size, a.sha256, a.created, t.seq, a.file, a.host "
    "FROM artifacts a LEFT JOIN tasks t ON t.id = a.task_id WHERE a.job_id = ?"
)
Q = Statements(
    job="SELECT 1 FROM jobs WHERE id = ?",
    replaced="SELECT file, host FROM artifacts WHERE job_id = ? AND name = ? AND file IS NOT NULL",
    drop="DELETE FROM artifacts WHERE job_id = ? AND name = ?",
    insert="INSERT INTO artifacts (job_id, task_id, name, media_type, size, sha256, created, "
    "data, file, host) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    # The change feed shows the job changed: its details read its artifacts again.
    touch="UPDATE jobs SET rev = ? WHERE id = ?",
    of_job=f"SELECT {COLUMNS} ORDER BY a.name",
    one=f"SELECT a.data, {COLUMNS} AND a.name = ?",
    sizes="SELECT count(*), coalesce(sum(CASE WHEN file IS NULL THEN size ELSE 0 END), 0), "
    "coalesce(sum(CASE WHEN file IS NULL THEN 0 ELSE size END), 0) FROM artifacts",
    files_of="SELECT file, host FROM artifacts WHERE file IS NOT NULL AND ",
    known="SELECT file FROM artifacts WHERE ",
)


def artifact_of(r: Sequence[Any]) -> Artifact:
    from jobdash.core.views import Artifact  # not loaded by a read that makes none

    return Artifact(
        job_id=int(r[0]),
        name=str(r[1]),
        media_type=str(r[2]),
        size=int(r[3]),
        sha256=str(r[4]),
        created=float(r[5]),
        task_seq=None if r[6] is None else int(r[6]),
        file=r[7],
        host=r[8],
    )


def kept_files(con: Connection, among: str, args: Sequence[Any], q: Any) -> list[Any]:
    """The kept files of the jobs `among` selects (a condition on job_id), before their
    rows are deleted in the same transaction."""
    return list(con.execute(q.files_of + among, args).fetchall())


class Artifacts:
    """The Store contract's artifacts: `add_artifact`, `artifacts`, `artifact`, `store_size`
    (with the backend's `database_bytes`)."""

    db: Reading
    artifact_folder: Path  # this host's folder of the store's big artifacts
    artifact_host: str | None  # the host a kept file is recorded on (None: beside the store)

    async def database_bytes(self) -> int:
        """What the database takes (the backend's own answer)."""
        raise NotImplementedError

    def remove_files(self, rows: Sequence[Sequence[Any]]) -> None:
        """Remove the kept files of rows just deleted, those of this folder (a row of
        another host's names a file there, which that host's engine removes: see README)."""
        mine = [str(r[0]) for r in rows if r[1] is None or r[1] == self.artifact_host]
        if mine:
            remove_kept(self.artifact_folder, mine)

    async def add_artifact(self, new: NewArtifact) -> Artifact:
        from jobdash.core.views import Artifact  # not loaded by a read that makes none

        q = Q[self.db.dialect]
        host = self.artifact_host if new.file is not None else None

        def txn(con: Connection, rev: int, now: float) -> tuple[float, list[Any]]:
            if not con.execute(q.job, (new.job_id,)).fetchall():
                raise NotFound(f"no job {new.job_id}")
            replaced = con.execute(q.replaced, (new.job_id, new.name)).fetchall()
            con.execute(q.drop, (new.job_id, new.name))
            con.execute(
                q.insert,
                (
                    new.job_id,
                    new.task_id,
                    new.name,
                    new.media_type,
                    new.size,
                    new.sha256,
                    now,
                    new.data,
                    new.file,
                    host,
                ),
            )
            con.execute(q.touch, (rev, new.job_id))
            return now, list(replaced)

        created, replaced = await self.db.write(txn)
        self.remove_files(replaced)
        seq = None
        if new.task_id is not None:
            found = await self.artifacts(new.job_id)
            seq = next((a.task_seq for a in found if a.name == new.name), None)
        return Artifact(
            new.job_id,
            new.name,
            new.media_type,
            new.size,
            new.sha256,
            created,
            seq,
            new.file,
            host,
        )

    async def artifacts(self, job_id: int) -> list[Artifact]:
        rows = await self.db.fetchall(Q[self.db.dialect].of_job, (job_id,))
        return [artifact_of(r) for r in rows]

    async def artifact(self, job_id: int, name: str) -> tuple[Artifact, bytes | None]:
        rows = await self.db.fetchall(Q[self.db.dialect].one, (job_id, name))
        if not rows:
            raise NotFound(f"job {job_id} has no artifact {name!r}")
        data = rows[0][0]
        return artifact_of(rows[0][1:]), None if data is None else bytes(data)

    async def known_files(self, names: Sequence[str]) -> set[str]:
        known: set[str] = set()
        d = self.db.dialect
        for i in range(0, len(names), 500):
            among, args = d.among("file", list(names[i : i + 500]))
            known.update(str(r[0]) for r in await self.db.fetchall(Q[d].known + among, args))
        return known

    async def store_size(self) -> StoreSize:
        from jobdash.core.views import StoreSize  # not loaded by a read that makes none

        rows = await self.db.fetchall(Q[self.db.dialect].sizes)
        count, inline, files = (int(x) for x in rows[0])
        return StoreSize(
            database=await self.database_bytes(),
            artifacts=count,
            inline_bytes=inline,
            file_bytes=files,
            folder=str(self.artifact_folder),
        )
