"""A job's artifacts as a user reads them: listed, opened, saved to a file (bytes as they
are, checked against the checksum recorded when they were kept), and what the store takes
on disk. Who may: whoever may see the job (`Access.job`)."""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from jobdash.core.model import BadInput
from jobdash.core.outfile import open_binary_output
from jobdash.core.service.access import Access
from jobdash.present.text import sanitize

if TYPE_CHECKING:
    from jobdash.core.views import Artifact, StoreSize


class Artifacts(Access):
    """The artifacts part of the `Service`."""

    @property
    def artifact_folder(self) -> str:
        """This host's folder of the store's big artifacts (where a kept file is)."""
        return str(self.store.artifact_folder)

    async def artifacts(self, job_id: int) -> list[Artifact]:
        """A job's artifacts, by name (NotFound: no such job among yours)."""
        await self.job(job_id)
        return await self.store.artifacts(job_id)

    async def open_artifact(self, job_id: int, name: str) -> tuple[Artifact, BinaryIO]:
        """One artifact and its content to read (close it after). NotFound: no such job or
        artifact; BadInput: a kept file that cannot be read here (another host's)."""
        from jobdash.core.artifacts import read_all  # here: a listing reads no artifact

        await self.job(job_id)
        artifact, data = await self.store.artifact(job_id, name)
        return artifact, read_all(self.store.artifact_folder, artifact, data)

    async def save_artifact(
        self, job_id: int, name: str, target: str | os.PathLike[str]
    ) -> Artifact:
        """Write an artifact's bytes to `target` (`-`: standard output) by `open_output`'s
        rules (a new file 0600, replaced atomically). BadInput when its content no longer
        matches its checksum (then a file is left as it was)."""
        artifact, content = await self.open_artifact(job_id, name)
        import asyncio

        with content:
            await asyncio.to_thread(self._copy, artifact, content, target)
        return artifact

    @staticmethod
    def _copy(artifact: Artifact, content: BinaryIO, target: str | os.PathLike[str]) -> None:
        with open_binary_output(target) as out:
            copy_checked(artifact, content, out)

    async def store_size(self) -> StoreSize:
        """What the store takes: its database and the artifacts it holds and keeps."""
        return await self.store.store_size()


def copy_checked(artifact: Artifact, content: BinaryIO, out: IO[Any]) -> int:
    """Copy an artifact's bytes to `out`, checking its checksum at the end (BadInput when it
    no longer matches: inside `open_output` a new file is then not made)."""
    import hashlib  # OpenSSL's library: loaded where an artifact is saved, not by a read

    from jobdash.core.artifacts import CHUNK

    digest, size = hashlib.sha256(), 0
    while chunk := content.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
        out.write(chunk)
    if digest.hexdigest() != artifact.sha256 or size != artifact.size:
        raise BadInput(
            f"artifact {sanitize(artifact.name)!r} of job {artifact.job_id}: its content "
            f"({size} bytes) no longer matches what was kept ({artifact.size} bytes, sha256 "
            f"{artifact.sha256[:12]}…); not saved"
        )
    return size
