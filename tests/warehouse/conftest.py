"""Fixtures of the warehouse tests: one green `brukerplan build` of the chain's landing zone less one submission
(built once per test run, shared by the pytest-xdist workers), copied into each test's own folder with the held
back submission beside it, so that a test can add it to the landing zone after the build."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from brukerplan.restricted import private_dir
from brukerplan.settings import Settings
from brukerplan.warehouse.record import BuildRecord, last_build_record
from tests.conftest import ChainRun
from tests.support import built_once, run_cli, settings_under

PROJECT_PARTS = ("models", "macros", "seeds", "analyses", "tests/dbt", "dbt_project.yml", "profiles.yml")


@dataclass(frozen=True)
class Built:
    """A copy of the green build in a test's folder."""

    settings: Settings
    held: str  # the submission the build did not read
    held_dir: Path  # its record and partitions, laid out as in the landing zone
    built_from: Path  # the landing zone the build read (this test's landing zone is a copy of it)

    def add_held_submission(self) -> None:
        """Land the held-back submission as ingest does: the partitions first, the record last."""
        for part in sorted(self.held_dir.rglob("*")):
            target = self.settings.landing / part.relative_to(self.held_dir)
            if part.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            elif part.parent.name != "submissions":
                shutil.copy2(part, target)
        record = self.held_dir / "submissions" / f"{self.held}.json"
        shutil.copy2(record, self.settings.landing / "submissions" / record.name)


def read_record(warehouse: Path) -> BuildRecord | None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return last_build_record(con)
    finally:
        con.close()


def _hold_back(landing: Path, held_dir: Path) -> str:
    """Move the latest municipal submission (partitions and record) out of the landing zone."""
    records = [json.loads(p.read_text(encoding="utf-8")) for p in (landing / "submissions").glob("*.json")]
    municipal = [r for r in records if r["scope_type"] == "municipality"]
    held = max(municipal, key=lambda r: (r["delivered_on"], r["delivery_seq"], r["submission_id"]))["submission_id"]
    for path in [*sorted(landing.rglob(f"submission_id={held}")), landing / "submissions" / f"{held}.json"]:
        target = held_dir / path.relative_to(landing)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
    return held


def _build_base(root: Path, chain: ChainRun) -> dict:
    settings = settings_under(root)
    shutil.copytree(chain.settings.landing, settings.landing)
    held = _hold_back(settings.landing, root / "held")
    result = run_cli("build", "--landing", str(settings.landing), "--warehouse", str(settings.warehouse))
    assert result.returncode == 0, result.stdout + result.stderr
    return {"held": held}


@pytest.fixture(scope="session")
def base_build(tmp_path_factory: pytest.TempPathFactory, chain: ChainRun) -> tuple[Path, str]:
    root, result = built_once(tmp_path_factory, "warehouse_base", lambda root: _build_base(root, chain))
    return root, result["held"]


@pytest.fixture
def built(base_build: tuple[Path, str], tmp_path: Path) -> Built:
    """This test's own copy of the green build: warehouse file, landing zone (without the held submission)."""
    root, held = base_build
    base = settings_under(root)
    settings = settings_under(tmp_path)
    shutil.copytree(base.landing, settings.landing)
    private_dir(settings.warehouse.parent)
    shutil.copy2(base.warehouse, settings.warehouse)
    shutil.copytree(root / "held", tmp_path / "held")
    return Built(settings=settings, held=held, held_dir=tmp_path / "held", built_from=base.landing)


def copy_project(source: Path, target: Path) -> Path:
    """The dbt project (models, macros, seeds, tests/dbt, …) copied to `target`, to add a model or test there."""
    for part in PROJECT_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)
    return target


def leftovers(folder: Path) -> list[str]:
    """Files a build must not leave: new files being built and write-ahead logs."""
    return sorted(p.name for p in folder.iterdir() if ".building" in p.name or p.name.endswith(".wal"))


def mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777
