"""Artifacts (Store.add_artifact, artifacts, artifact, store_size, known_files): small ones
in the store, big ones as files of the store's artifacts folder; a name is unique in its job
(a later one replaces it, its file too); they go with their job (clear, retention), files
included; and a row naming a file jobdash did not write is never followed."""

from __future__ import annotations

import hashlib
import os
import stat
import time

import pytest

from jobdash.core.model import BadInput, NotFound
from jobdash.core.store.artifact_files import copy_in, open_kept
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import NewArtifact
from tests.store_contract.jobs import commands, run_all


def inline(job_id: int, name: str, data: bytes, kind: str = "text/plain") -> NewArtifact:
    return NewArtifact(job_id, None, name, kind, len(data), hashlib.sha256(data).hexdigest(), data)


def kept(store: Store, job_id: int, name: str, data: bytes) -> NewArtifact:
    file, size, digest = copy_in(store.artifact_folder, job_id, [data[:1000], data[1000:]])
    return NewArtifact(job_id, None, name, "application/pdf", size, digest, None, file)


async def finished_job(store: Store, name: str, user: str = "root") -> int:
    job = await store.create_job(commands(name, user=user))
    await run_all(store)
    return job.id


async def test_artifacts_in_the_store_and_as_files(store: Store) -> None:
    job = await finished_job(store, "a")
    rev = await store.rev()
    small = await store.add_artifact(inline(job, "notes.txt", b"hello\n"))
    assert small.inline and small.size == 6
    big_bytes = os.urandom(300_000)
    big = await store.add_artifact(kept(store, job, "scan.pdf", big_bytes))
    assert big.file is not None and not big.inline
    # The job shows changed in the feed: a details screen reads its artifacts again.
    assert job in [j.id for j in (await store.changes_since(rev)).jobs]

    listed = await store.artifacts(job)
    assert [(a.name, a.media_type, a.size) for a in listed] == [
        ("notes.txt", "text/plain", 6),
        ("scan.pdf", "application/pdf", 300_000),
    ]
    found, data = await store.artifact(job, "notes.txt")
    assert data == b"hello\n" and found.sha256 == hashlib.sha256(b"hello\n").hexdigest()
    found, data = await store.artifact(job, "scan.pdf")
    assert data is None and found.sha256 == hashlib.sha256(big_bytes).hexdigest()
    assert found.file is not None
    with open_kept(store.artifact_folder, found.file) as f:
        assert f.read() == big_bytes
    path = store.artifact_folder / found.file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.artifact_folder.stat().st_mode) == 0o700
    with pytest.raises(NotFound):
        await store.artifact(job, "missing.txt")
    with pytest.raises(NotFound):
        await store.add_artifact(inline(job + 1000, "x.txt", b"x"))

    size = await store.store_size()
    assert (size.artifacts, size.inline_bytes, size.file_bytes) == (2, 6, 300_000)
    assert size.database > 0 and size.total == size.database + 300_000
    assert await store.known_files([found.file, "1-0123456789abcdef"]) == {found.file}


async def test_a_name_is_unique_in_its_job_and_a_later_one_replaces_it(store: Store) -> None:
    job = await finished_job(store, "a")
    other = await finished_job(store, "b")
    first = await store.add_artifact(kept(store, job, "out.pdf", b"first" * 1000))
    await store.add_artifact(inline(other, "out.pdf", b"the other job's"))
    assert first.file is not None
    await store.add_artifact(inline(job, "out.pdf", b"second"))
    assert [(a.name, a.size) for a in await store.artifacts(job)] == [("out.pdf", 6)]
    assert (await store.artifact(job, "out.pdf"))[1] == b"second"
    assert not (store.artifact_folder / first.file).exists()  # the replaced file went
    assert (await store.artifact(other, "out.pdf"))[1] == b"the other job's"


async def test_artifacts_go_with_their_job_files_too(store: Store) -> None:
    cleared = await finished_job(store, "a")
    pruned = await finished_job(store, "b")
    active = (await store.create_job(commands("c"))).id
    files = []
    for job in (cleared, pruned, active):
        a = await store.add_artifact(kept(store, job, "f.bin", os.urandom(5000)))
        await store.add_artifact(inline(job, "g.txt", b"g"))
        assert a.file is not None
        files.append(store.artifact_folder / a.file)
    assert await store.clear_ids([cleared], None, "root") == 1
    assert await store.artifacts(cleared) == []
    assert not files[0].exists()
    assert await store.prune(time.time() + 3600) == 1  # every finished job: `pruned`
    assert await store.artifacts(pruned) == []
    assert not files[1].exists()
    assert [a.name for a in await store.artifacts(active)] == ["f.bin", "g.txt"]
    assert files[2].exists()  # an active job keeps its own
    assert (await store.store_size()).artifacts == 2


async def test_a_row_naming_another_file_is_never_followed(store: Store) -> None:
    job = await finished_job(store, "a")
    secret = store.artifact_folder.parent / "secret"
    store.artifact_folder.mkdir(parents=True, exist_ok=True)
    secret.write_bytes(b"not an artifact")
    name = "../secret"
    await store.add_artifact(NewArtifact(job, None, "evil", "text/plain", 15, "0" * 64, None, name))
    found, data = await store.artifact(job, "evil")
    assert data is None and found.file == name
    with pytest.raises(BadInput, match="not one jobdash wrote"):
        open_kept(store.artifact_folder, name)
    assert await store.clear(None, "root") == 1
    assert secret.read_bytes() == b"not an artifact"  # removing the job left it alone
