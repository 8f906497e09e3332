"""Reading ahead: the next files of a run are hashed, read and matched to their layout in background threads while
the pipeline works on the current one (decisions I14). The readers (fastexcel, polars, hashlib) release the GIL, so
on two cores reading mostly overlaps with mapping, landing and the rest.

What is read ahead depends on the file alone, never on the run's state: whether the file is needed at all (same
bytes as an earlier one) and every outcome are still decided by the pipeline, in landing order. An error is kept
with the file's read and raised when the pipeline reaches the point where reading the file raised it."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from brukerplan.codes import CodeBook
from brukerplan.ingest.filenames import ExtractName
from brukerplan.ingest.mapping import resolve_columns
from brukerplan.ingest.readers import RawSheet, read_file

READ_AHEAD = 4
"""Files read ahead of the one the pipeline is at."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class FileRead:
    """A file's content hash and, as far as reading got: its sheet, which columns its layout maps, and the mapping
    date column read typed (xlsx); `error` is what stopped it (a Quarantine or anything else)."""

    sha: str
    sheet: RawSheet | None = None
    source_of: dict[str, int] | None = None
    typed_dates: pl.Series | None = None
    error: BaseException | None = None

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def read(path: Path, name: ExtractName | None, book: CodeBook) -> FileRead:
    """Hash, read (Q01, Q02) and resolve the columns (Q03) of one file, stopping where the pipeline would: at a bad
    name (Q05) nothing is read, and at a layout that is not the year's (Q06) the columns are not resolved."""
    result = FileRead(sha256_of(path))
    if name is None:
        return result
    try:
        result.sheet = read_file(path, name.fmt, list(book.layouts.values()), path.name)
        layout = book.layouts[result.sheet.layout]
        if not layout.covers_year(name.year):
            return result
        result.source_of = resolve_columns(result.sheet, layout, name)
        if result.sheet.typed_dates is not None and "mapped_on" in result.source_of:
            result.typed_dates = result.sheet.typed_dates(result.source_of["mapped_on"])
    except Exception as exc:
        result.error = exc
    return result


class ReadAhead:
    """The reads of `files`, in order, each started up to READ_AHEAD files before it is asked for."""

    def __init__(self, executor: Executor, files: Iterable[tuple[Path, ExtractName | None]], book: CodeBook) -> None:
        self._executor = executor
        self._files: Iterator[tuple[Path, ExtractName | None]] = iter(files)
        self._book = book
        self._started: deque[Future[FileRead]] = deque()

    def _fill(self) -> None:
        while len(self._started) <= READ_AHEAD:
            item = next(self._files, None)
            if item is None:
                return
            self._started.append(self._executor.submit(read, item[0], item[1], self._book))

    def next(self) -> FileRead:
        """The read of the next file (waiting for it if it is not done)."""
        self._fill()
        read_ = self._started.popleft()
        self._fill()
        return read_.result()
