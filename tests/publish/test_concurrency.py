"""Readers query the published file (and its Parquet copies) in a loop while publish runs again and again:
no reader sees an error or a half-written version, no publish fails because a reader has the file open, and a
reader that keeps its connection open keeps reading the version it opened."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brukerplan.publish import publish
from tests.publish.warehouse_fixture import FixtureShape, make_warehouse
from tests.support import settings_under

pytestmark = pytest.mark.slow

READER = r"""
import json, os, sys, time
import duckdb

path, parquet_dir, stop, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
errors, versions, iterations = [], set(), 0


def check(con, source):
    pid = con.execute(f"select publication_id from {source('publication_metadata')}").fetchone()[0]
    listed = con.execute(f"select table_name, row_count, publication_id from {source('publication_tables')}").fetchall()
    for table, rows, listed_pid in listed:
        if listed_pid != pid:
            errors.append(f"{table}: listed under {listed_pid}, metadata says {pid}")
        n = con.execute(f"select count(*) from {source(table)}").fetchone()[0]
        if n != rows:
            errors.append(f"{table}: {n} rows, publication_tables says {rows}")
    return pid


deadline = time.time() + 120
if mode == "hold":  # one connection for the whole run: must keep seeing the version it opened
    con = duckdb.connect(path, read_only=True)
    first = check(con, lambda t: f'"{t}"')
    while not os.path.exists(stop) and time.time() < deadline:
        if check(con, lambda t: f'"{t}"') != first:
            errors.append("an open connection changed version")
        iterations += 1
    versions.add(first)
else:
    while not os.path.exists(stop) and time.time() < deadline:
        try:
            if mode == "duckdb":
                con = duckdb.connect(path, read_only=True)
                versions.add(check(con, lambda t: f'"{t}"'))
            else:  # parquet: open the folder once per round, then read that version's files through the handle
                handle = os.open(parquet_dir, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    folder = f"/proc/self/fd/{handle}"
                    con = duckdb.connect()
                    versions.add(check(con, lambda t: f"'{folder}/{t}.parquet'"))
                finally:
                    os.close(handle)
            con.close()
        except Exception as exc:  # noqa: BLE001 - every failure is a finding
            errors.append(f"{type(exc).__name__}: {exc}")
        iterations += 1
print(json.dumps({"mode": mode, "errors": errors[:20], "versions": len(versions), "iterations": iterations}))
"""


def test_readers_see_only_complete_versions_while_publish_runs_repeatedly(tmp_path: Path) -> None:
    settings_a = settings_under(tmp_path / "a")
    settings_b = settings_under(tmp_path / "b").with_paths(published=settings_a.published)
    small = {"max_persons": 20, "years": (2021,), "municipalities": ("5001", "5006", "1505")}
    make_warehouse(settings_a.warehouse, FixtureShape(seed=21, **small))
    make_warehouse(settings_b.warehouse, FixtureShape(seed=22, **small))
    first = publish(settings_a)
    stop = tmp_path / "stop"
    modes = ["duckdb", "duckdb", "parquet", "hold"]
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(first.path), str(first.parquet_dir), str(stop), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode in modes
    ]
    publications = {first.publication_id}
    try:
        time.sleep(1.0)  # let every reader open the first version
        for round_number in range(6):
            result = publish(settings_b if round_number % 2 == 0 else settings_a)
            publications.add(result.publication_id)
            time.sleep(0.3)
    finally:
        stop.touch()
        outputs = [reader.communicate(timeout=180) for reader in readers]
    reports = []
    for (out, err), reader in zip(outputs, readers, strict=True):
        assert reader.returncode == 0, err
        reports.append(json.loads(out))
    assert len(publications) == 7
    for report in reports:
        assert report["errors"] == [], report
        assert report["iterations"] > 0, report
    assert max(r["versions"] for r in reports if r["mode"] == "duckdb") >= 2, reports
    assert next(r for r in reports if r["mode"] == "parquet")["versions"] >= 2, reports
    assert next(r for r in reports if r["mode"] == "hold")["versions"] == 1
