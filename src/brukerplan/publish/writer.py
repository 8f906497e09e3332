"""Atomic replacement of the published DuckDB file and of its Parquet folder (docs/decisions.md P6).

* DuckDB file: written completely as `<published>.tmp-<pid>` in the same folder (same file system), with
  storage version v1.4.0, checkpointed, closed, fsynced, then `os.replace`d over the old file and the folder
  fsynced. A reader that has the old file open keeps reading the old inode; a reader that opens the path
  gets either the old or the new file, never a partial one.
* Parquet folder: `<stem>_parquet/` beside the file, a plain folder with one `<table>.parquet` per table. The
  new version is written completely into `.<stem>_parquet.new-<pid>`, fsynced, and exchanged with the current
  folder in one step (Linux `renameat2(RENAME_EXCHANGE)`), so the path always holds one complete version. The
  version it replaced is kept as `.<stem>_parquet.previous` until the next publish, for a reader that opened the
  folder before the exchange (it reads on through its directory handle). Where the exchange is not available
  (another system or file system) the current folder is renamed aside and the new one renamed into place: for
  that instant the folder is absent (a reader gets "not found", never a mix)."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STORAGE_VERSION = "v1.4.0"


def temp_file_for(published: Path) -> Path:
    return published.with_name(f"{published.name}.tmp-{os.getpid()}")


def parquet_dir_for(published: Path) -> Path:
    """The Parquet copies of a published file: `<stem>_parquet/` beside it."""
    return published.with_name(f"{published.stem}_parquet")


def _previous_dir(published: Path) -> Path:
    return published.with_name(f".{published.stem}_parquet.previous")


def _staging_prefix(published: Path) -> str:
    return f".{published.stem}_parquet.new-"


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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_staging(published: Path) -> None:
    """Staging folders of runs that were killed (their process is gone), and this process's own."""
    prefix = _staging_prefix(published)
    for path in published.parent.glob(prefix + "*"):
        pid = path.name.removeprefix(prefix)
        if not pid.isdigit() or int(pid) == os.getpid() or not _alive(int(pid)):
            remove_quietly(path)


@contextmanager
def staged_parquet_dir(published: Path) -> Iterator[Path]:
    """Yield a new, empty folder beside `published` for the next version's Parquet copies; it is removed unless
    commit_parquet_dir moved it into place."""
    published.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(published)
    path = published.with_name(f"{_staging_prefix(published)}{os.getpid()}")
    path.mkdir()
    try:
        yield path
    finally:
        remove_quietly(path)


def exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 with RENAME_EXCHANGE). False where the system or the file
    system cannot; an OSError for any other failure."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(first), None, str(second))


def _remove_symlinked_versions(published: Path) -> None:
    """Leftovers of the former layout (a `<stem>_parquet` symlink to hidden `.<stem>_parquet-<stamp>` folders)."""
    for old in published.parent.glob(f".{published.stem}_parquet-*"):
        remove_quietly(old)
    for link in published.parent.glob(f".{published.stem}_parquet.link-*"):
        remove_quietly(link)


def commit_parquet_dir(new_dir: Path, published: Path) -> Path:
    """Put the complete folder new_dir in place of `<stem>_parquet/` in one step; the version it replaces becomes
    `.<stem>_parquet.previous` (the one before is removed). Returns the folder's path."""
    for child in new_dir.iterdir():
        fsync_path(child)
    fsync_path(new_dir)
    target = parquet_dir_for(published)
    previous = _previous_dir(published)
    remove_quietly(previous)
    if not target.exists() and not target.is_symlink():
        os.rename(new_dir, target)
    elif exchange(new_dir, target):  # new_dir now holds the replaced version (or the former symlink)
        if new_dir.is_symlink():
            resolved = (published.parent / os.readlink(new_dir)).resolve()
            new_dir.unlink()
            if resolved.is_dir() and resolved.parent == published.parent.resolve():
                os.rename(resolved, previous)
        else:
            os.rename(new_dir, previous)
    else:
        if target.is_symlink():
            target.unlink()
        else:
            os.rename(target, previous)
        os.rename(new_dir, target)
    _remove_symlinked_versions(published)
    fsync_path(published.parent)
    return target
