"""Writing one municipality's package atomically: every file goes into a private folder beside the target, then
the folder is renamed into place (returns/<municipality>/<year>/); a package is complete or absent. Folders are
0700 and files 0600 (brukerplan.restricted). A crashed run leaves only `.partial-*` folders, removed next time."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from brukerplan.durable import fsync_dir
from brukerplan.restricted import private_dir, private_files

PARTIAL_PREFIX = ".partial-"


@dataclass
class PackageFile:
    name: str
    data: bytes
    encrypted: bool


@dataclass
class Package:
    municipality_code: str
    municipality_name: str
    year: int
    years: list[int]
    submissions: list[dict[str, object]]
    files: list[PackageFile] = field(default_factory=list)
    name: str = ""  # the folder under <municipality>/: the year, or one-user/<pseudonym> for a one-user sheet

    @property
    def folder(self) -> str:
        return self.name or str(self.year)

    def manifest(self, created_at: datetime, version: str) -> dict[str, object]:
        """Plain metadata, no person data."""
        return {
            "municipality_code": self.municipality_code,
            "municipality_name": self.municipality_name,
            "year": self.year,
            "mapping_years": self.years,
            "submissions": self.submissions,
            "files": [
                {
                    "name": f.name,
                    "sha256": hashlib.sha256(f.data).hexdigest(),
                    "bytes": len(f.data),
                    "encrypted": f.encrypted,
                }
                for f in self.files
            ],
            "created_at": created_at.isoformat(timespec="seconds"),
            "brukerplan_version": version,
        }


def clean_partials(root: Path) -> list[str]:
    """Remove what a killed run left (folders named .partial-*)."""
    removed = []
    if root.is_dir():
        for path in root.rglob(f"{PARTIAL_PREFIX}*"):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(str(path))
    return removed


def write_package(root: Path, package: Package, created_at: datetime, version: str) -> Path:
    """Write the package to root/<municipality>/<folder>/, replacing an older one in the same place."""
    with private_files():
        target = private_dir(root) / package.municipality_code / package.folder
        parent = private_dir(target.parent)
        private_dir(root / package.municipality_code)
        work = parent / f"{PARTIAL_PREFIX}{target.name}-{os.getpid()}"
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(mode=0o700)
        for item in package.files:
            path = work / item.name
            with open(path, "wb") as handle:
                handle.write(item.data)
                handle.flush()
                os.fsync(handle.fileno())
        manifest = json.dumps(package.manifest(created_at, version), indent=2, ensure_ascii=False, default=str)
        (work / "manifest.json").write_text(manifest + "\n", encoding="utf-8")
        fsync_dir(work)
        if target.exists():
            old = parent / f"{PARTIAL_PREFIX}old-{target.name}-{os.getpid()}"
            os.replace(target, old)
            os.replace(work, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, target)
        fsync_dir(parent)
    return target
