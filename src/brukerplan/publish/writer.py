"""Atomic replacement of the published DuckDB file and of its Parquet folder.

* DuckDB file: written completely as `<published>.tmp-<pid>` in the same folder (same file system), with
  storage version v1.4.0, checkpointed, closed, fsynced, then `os.replace`d over the old file and the folder
  fsynced. A reader that has the old file open keeps reading the old inode; a reader that opens the path
  gets either the old or the new file, never a partial one.
* Parquet folder: `<stem>_parquet` beside the file is a symbolic link to a versioned folder
  `.<stem>_parquet-<stamp>`; the new version is written completely, then a new link is `os.replace`d over the
  old link (atomic), and versions older than the previous one are removed (the previous one is kept so that
  a reader that resolved the old link can finish)."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STORAGE_VERSION = "v1.4.0"


def temp_file_for(published: Path) -> Path:
    return published.with_name(f"{published.name}.tmp-{os.getpid()}")


def parquet_link_for(published: Path) -> Path:
    return published.with_name(f"{published.stem}_parquet")


def fsync_path(path: Path) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


@contextmanager
def staged_file(published: Path) -> Iterator[Path]:
    """Yield a temporary path beside `published`; remove it (and its WAL) unless it was committed."""
    published.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_file_for(published)
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        remove_quietly(leftover)
    try:
        yield tmp
    finally:
        remove_quietly(tmp)
        remove_quietly(tmp.with_name(tmp.name + ".wal"))


def commit_file(tmp: Path, published: Path) -> None:
    """fsync the finished temporary file, rename it over the published one, fsync the folder."""
    wal = tmp.with_name(tmp.name + ".wal")
    if wal.exists():
        raise RuntimeError(f"{tmp} still has a write-ahead log after closing: not committing it")
    fsync_path(tmp)
    os.replace(tmp, published)
    fsync_path(published.parent)


def new_parquet_dir(published: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}-{os.getpid()}"
    path = published.with_name(f".{published.stem}_parquet-{stamp}")
    path.mkdir(parents=True)
    return path


def commit_parquet_dir(new_dir: Path, published: Path) -> Path:
    """Point `<stem>_parquet` at new_dir atomically; keep the previous version, remove older ones."""
    for child in new_dir.iterdir():
        fsync_path(child)
    fsync_path(new_dir)
    link = parquet_link_for(published)
    previous = link.resolve() if link.is_symlink() else None
    if link.exists() and not link.is_symlink():
        # a plain folder from elsewhere: move it aside (kept as the previous version)
        aside = published.with_name(f".{published.stem}_parquet-replaced-{os.getpid()}")
        os.replace(link, aside)
        previous = aside
    tmp_link = link.with_name(f".{link.name}.link-{os.getpid()}")
    remove_quietly(tmp_link)
    os.symlink(new_dir.name, tmp_link)
    os.replace(tmp_link, link)
    fsync_path(published.parent)
    keep = {new_dir.name, previous.name if previous else ""}
    for old in published.parent.glob(f".{published.stem}_parquet-*"):
        if old.name not in keep:
            remove_quietly(old)
    return link
