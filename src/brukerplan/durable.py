"""Durability for the stages that write atomically (ingest's landing zone, the return packages): a folder's
entries are on disk before the rename that makes them visible is trusted."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """fsync a folder, so renames and new entries in it survive a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
