"""The restricted stores (landing zone, warehouse, returns) hold person-level rows: their folders are created
0700 and every file written into them 0600 (docs/security.md). Published files and reports are not restricted."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_UMASK = 0o077  # new folders 0700, new files 0600
PRIVATE_DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) and make the folder itself private to its owner."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR_MODE)
    return path


@contextmanager
def private_files() -> Iterator[None]:
    """Everything this process creates meanwhile is private to its owner (the umask, restored afterwards)."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def write_private_text(path: Path, text: str) -> Path:
    """Write `text` to `path` readable by its owner only (0600 from the moment the file exists, whatever the
    umask), through a temporary name renamed into place: never half written, never wider."""
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(partial, 0o600)
    os.replace(partial, path)
    return path
