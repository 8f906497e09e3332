"""The restricted stores hold person-level rows: every folder ingest and dbt create in them is 0700 and every
file 0600 (issue 15 item 8, docs/security.md), whatever the caller's umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from brukerplan.warehouse.dbt_runner import run_dbt
from tests.ingest.fixtures import YEAR_OF, layout, rows_of, write_csv


def _modes(root: Path) -> dict[str, int]:
    paths = [root, *root.rglob("*")]
    return {str(p.relative_to(root.parent)): stat.S_IMODE(p.stat().st_mode) for p in paths}


def _wrong(modes: dict[str, int], root: Path) -> dict[str, str]:
    return {
        name: oct(mode) for name, mode in modes.items() if mode != (0o700 if (root.parent / name).is_dir() else 0o600)
    }


@pytest.fixture
def open_umask():
    previous = os.umask(0o022)  # a typical umask: without care, folders 0755 and files 0644
    yield
    os.umask(previous)


def test_landing_zone_folders_0700_files_0600(open_umask, extracts, run_ingest, tmp_settings):
    year = YEAR_OF["v3"]
    rows = rows_of("v3", 20)
    [sex] = (c.header for c in layout("v3").columns if c.canonical == "sex")
    rows[0][sex] = "X"  # a reject too
    good = write_csv(extracts / f"BP{year}_F03_{year}1201.csv", rows)
    bad = extracts / f"BP{year}_F03_{year}1202.csv"
    bad.write_bytes(b"\x00 binary")
    os.chmod(bad, 0o644)
    run_ingest([good, bad])
    landing = tmp_settings.landing
    modes = _modes(landing)
    assert len(modes) > 10 and any(name.endswith(".parquet") for name in modes)
    assert _wrong(modes, landing) == {}
    assert os.umask(0o022) == 0o022, "the run left its private umask behind"


@pytest.mark.slow
def test_warehouse_folder_0700_files_0600(open_umask, tmp_settings):
    outcome = run_dbt(["seed", "--select", "agencies"], tmp_settings)
    assert outcome.success, outcome.failures
    folder = tmp_settings.warehouse.parent
    modes = _modes(folder)
    assert tmp_settings.warehouse.name in {Path(name).name for name in modes}
    assert _wrong(modes, folder) == {}
