"""A run folder as a tar archive, read on a cluster node for ``ecomrel jobs fetch`` and handed over in chunks.

Standard library only: ``ecomrel jobs fetch`` ships this module to the cluster by value (cloudpickle), so the node
needs nothing of the project installed to run it.
"""

from __future__ import annotations

import socket
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

CHUNK_BYTES = 8 * 2**20

#: Folders left behind unless everything is asked for: stage datasets (``data``, ``quarantine``, ``rejects``), Ray
#: Train checkpoints (``train/ray``), self-validation's fold models and the trained copy of the served adapter.
SKIPPED = ("data", "quarantine", "rejects", "train/ray", "selfval/models", "train/adapter")


def skipped(rel: PurePosixPath) -> bool:
    """Whether the folder at ``rel`` (relative to the run folder, or an ablation arm's folder inside it) stays
    behind: its name, or its parent's and its own, is in ``SKIPPED``."""
    return rel.name in SKIPPED or (len(rel.parts) >= 2 and "/".join(rel.parts[-2:]) in SKIPPED)


class RunFolderArchive:
    """Tars ``folder`` into a temporary file on this node (deleted with the object) and serves it chunk by chunk."""

    def __init__(self, folder: str, everything: bool = False) -> None:
        root = Path(folder)
        if not root.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder on {socket.gethostname()}")

        def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
            return None if info.isdir() and not everything and skipped(PurePosixPath(info.name)) else info

        self._file = tempfile.TemporaryFile()
        with tarfile.open(fileobj=self._file, mode="w") as tar:  # adapters and Parquet barely compress
            for child in sorted(root.iterdir()):
                tar.add(child, arcname=child.name, filter=keep)
        self._size = self._file.tell()

    def chunks(self) -> int:
        return -(-self._size // CHUNK_BYTES)

    def chunk(self, index: int) -> bytes:
        self._file.seek(index * CHUNK_BYTES)
        return self._file.read(CHUNK_BYTES)
