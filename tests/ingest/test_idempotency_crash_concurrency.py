"""The same folder twice lands nothing; a run killed (SIGKILL) at any point leaves no partial submission visible
and the next run lands everything; two concurrent runs land each file exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brukerplan.ingest.landing import PAUSE_AT_ENV, PAUSE_FILE_ENV
from tests.ingest.conftest import read_landed
from tests.ingest.fixtures import rows_of, write_csv, write_xlsx

BRUKERPLAN = str(Path(sys.executable).parent / "brukerplan")


def _folder(extracts: Path) -> dict[str, int]:
    """Three files that land (one with two rejects) and one that is quarantined; name -> rows landed."""
    v2 = rows_of("v2", 30)
    v2[3]["Kjønn"] = "?"
    v2[4]["Pseudonym"] = ""
    write_csv(extracts / "BP2016_K0301_20161201.csv", v2)
    write_csv(extracts / "BP2021_F03_20211201.csv", rows_of("v3", 25), delimiter=",")
    write_xlsx(extracts / "BP2013_K0301_20131201.xlsx", rows_of("v1", 20, with_municipality=False))
    write_csv(extracts / "BP2019_K0301_20191201.csv", rows_of("v3", 10, year=2019))  # Q06
    return {"BP2016_K0301_20161201.csv": 28, "BP2021_F03_20211201.csv": 25, "BP2013_K0301_20131201.xlsx": 20}


def _records(landing: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((landing / "submissions").glob("*.json"))]


def _assert_consistent(landing: Path) -> None:
    """Every record has both partitions and its validation result; rows visible match the records."""
    rows = read_landed(landing)
    for record in _records(landing):
        sid, year = record["submission_id"], record["mapping_year"]
        for table in ("registrations", "rejects"):
            assert (landing / table / f"year={year}" / f"submission_id={sid}" / "part-0.parquet").exists()
        assert (landing / "validation" / f"{sid}.json").exists()
        assert sum(1 for r in rows if r["submission_id"] == sid) == record["rows_landed"]
    assert len(rows) == sum(r["rows_landed"] for r in _records(landing))


def _assert_everything_landed_once(landing: Path, expected: dict[str, int]) -> None:
    records = _records(landing)
    assert sorted(r["original_name"] for r in records) == sorted(expected)
    for record in records:
        assert record["rows_landed"] == expected[record["original_name"]]
    assert len(read_landed(landing)) == sum(expected.values())
    assert len(list((landing / "quarantine").iterdir())) == 1
    assert list((landing / "_tmp").iterdir()) == []
    _assert_consistent(landing)


def test_same_folder_twice_lands_nothing_the_second_time(extracts, run_ingest, tmp_settings):
    expected = _folder(extracts)
    first = run_ingest([extracts])
    assert sorted(f.status for f in first.files) == ["landed", "landed", "landed", "quarantined"]
    before = sorted(p.relative_to(tmp_settings.landing) for p in tmp_settings.landing.rglob("*"))
    second = run_ingest([extracts])
    assert sorted(f.status for f in second.files) == ["already landed"] * 3 + ["already quarantined"]
    assert sum(f.rows_landed for f in second.files) == 0
    after = sorted(p.relative_to(tmp_settings.landing) for p in tmp_settings.landing.rglob("*"))
    assert before == after
    _assert_everything_landed_once(tmp_settings.landing, expected)


def test_resubmission_adds_and_never_replaces(extracts, run_ingest, tmp_settings):
    write_csv(extracts / "BP2016_K0301_20161201.csv", rows_of("v2", 10))
    run_ingest([extracts])
    later = extracts.parent / "later"
    later.mkdir()
    write_csv(later / "BP2016_K0301_20170115.csv", rows_of("v2", 12))
    run_ingest([later])
    assert len(_records(tmp_settings.landing)) == 2
    assert len(read_landed(tmp_settings.landing)) == 22


def _start(extracts: Path, landing: Path, pause_at: str | None, marker: Path | None) -> subprocess.Popen:
    env = dict(os.environ, BRUKERPLAN_LANDING=str(landing), COLUMNS="200")
    env.pop(PAUSE_AT_ENV, None)
    if pause_at:
        env[PAUSE_AT_ENV] = pause_at
        env[PAUSE_FILE_ENV] = str(marker)
    return subprocess.Popen(
        [BRUKERPLAN, "ingest", str(extracts)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _wait_and_kill(pid: int, alive, marker: Path, output) -> None:
    deadline = time.monotonic() + 400
    while not (marker.exists() and marker.read_text().strip()):  # the run writes the marker atomically
        assert alive(), output()
        assert time.monotonic() < deadline, "the run never reached the checkpoint"
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _check_after_kill(point: str, landing: Path, marker: Path) -> None:
    # What a reader that follows the rules sees: only complete submissions.
    _assert_consistent(landing)
    assert marker.read_text().split() == [point]
    visible = {r["original_name"] for r in _records(landing)}
    if point == "after_record":
        assert visible == {"BP2013_K0301_20131201.xlsx"}  # first in landing order, completely landed
    elif point != "before_quarantine":
        assert visible == set()  # the first file was interrupted before its record


@pytest.mark.slow
@pytest.mark.parametrize(
    "point",
    ["after_tmp_write", "after_rejects_partition", "before_record", "after_record", "before_quarantine"],
)
def test_sigkill_at_any_point_leaves_nothing_partial(point, extracts, run_ingest, tmp_settings, tmp_path):
    """`brukerplan ingest` in a subprocess, paused at a named point by the test hook, then killed (SIGKILL)."""
    expected = _folder(extracts)
    landing = tmp_settings.landing
    marker = tmp_path / "paused"
    proc = _start(extracts, landing, point, marker)
    _wait_and_kill(proc.pid, lambda: proc.poll() is None, marker, lambda: proc.stdout.read().decode())
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    _check_after_kill(point, landing, marker)
    if point == "before_record":
        # leftovers are there (data renamed into place, no record) until the next run cleans them up
        assert list((landing / "registrations").rglob("part-0.parquet"))
    # The next run cleans up and lands everything, each file once.
    result = run_ingest([extracts])
    assert {f.status for f in result.files} <= {"landed", "already landed", "quarantined", "already quarantined"}
    if point in ("before_record", "after_tmp_write", "after_rejects_partition"):
        assert result.cleaned
        assert sorted(f.status for f in result.files) == ["already quarantined", "landed", "landed", "landed"]
    _assert_everything_landed_once(landing, expected)


@pytest.mark.slow
def test_two_concurrent_runs_land_each_file_exactly_once(extracts, tmp_settings):
    expected = _folder(extracts)
    landing = tmp_settings.landing
    procs = [_start(extracts, landing, None, None) for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0].decode() for p in procs]
    # each run: 1 because the Q06 file is quarantined (by the first) or already quarantined (second: still 0/1)
    assert all(p.returncode in (0, 1) for p in procs), outputs
    assert sorted(p.returncode for p in procs) == [0, 1]
    _assert_everything_landed_once(landing, expected)
    assert sum("already landed" in out for out in outputs) == 1
