"""Report files, kept as they arrived under RECONCILIATION_REPORTS_DIR/<sha256>: the evidence
behind a run, and what a retried run reads again. A file is written under a temporary name while
it is hashed, then renamed into place, so a stored file is always whole, and storing the same
content twice keeps one file."""

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TextIO

from django.conf import settings

ENCODING = "latin-1"  # every byte is a character: the layouts are ASCII, and nothing is refused here


def report_path(sha256: str) -> Path:
    return Path(settings.RECONCILIATION_REPORTS_DIR) / sha256


def open_report(sha256: str) -> TextIO:
    """The stored file as text, line endings kept, for a layout's reader."""
    return open(report_path(sha256), encoding=ENCODING, newline="")


def file_chunks(path: Path, size: int = 1024 * 1024) -> Iterator[bytes]:
    with open(path, "rb") as file:
        while chunk := file.read(size):
            yield chunk


class IncomingFile:
    """`with IncomingFile() as incoming: incoming.write(chunk)...`, then `incoming.sha256` and
    `incoming.size` name the stored file. Nothing is kept if the block fails."""

    def __init__(self) -> None:
        self.folder = Path(settings.RECONCILIATION_REPORTS_DIR)
        self.sha256 = ""
        self.size = 0
        self._digest = hashlib.sha256()

    def __enter__(self) -> "IncomingFile":
        self.folder.mkdir(parents=True, exist_ok=True)
        descriptor, self._temporary = tempfile.mkstemp(dir=self.folder, prefix=".incoming-")
        self._file = os.fdopen(descriptor, "wb")
        return self

    def write(self, chunk: bytes) -> int:
        self._digest.update(chunk)
        self.size += len(chunk)
        return self._file.write(chunk)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                self._file.flush()
                os.fsync(self._file.fileno())
            self._file.close()
            if kind is None:
                self.sha256 = self._digest.hexdigest()
                os.replace(self._temporary, report_path(self.sha256))
        finally:
            Path(self._temporary).unlink(missing_ok=True)
