"""The swap of `brukerplan build` (brukerplan.warehouse.build) with dbt replaced by a stand-in that writes a
small file and its build record: the file is replaced only when the record says green, readers keep their
version, a writer of the live file stops the swap (readers never do), a crashed writer's `.wal` and a killed
build's files are cleared, a `--select` build starts from the live file, and a second build waits for the first."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from brukerplan.settings import Settings
from brukerplan.warehouse import build as build_module
from brukerplan.warehouse.build import BuildBlocked, build_warehouse, building_path, wal_path
from brukerplan.warehouse.dbt_runner import DbtOutcome
from tests.publish.warehouse_fixture import write_build_record
from tests.support import settings_under
from tests.warehouse.conftest import leftovers, mode, read_record


def _value(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select v from t").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()


def _live(settings: Settings, value: int = 1) -> Path:
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse))
    con.execute("create table t as select ? as v", [value])
    con.close()
    write_build_record(settings.warehouse)
    return settings.warehouse


def _stand_in(value: int, status: str = "green", seen: list | None = None) -> Callable[..., DbtOutcome]:
    """A dbt run writing `t` = value and a build record with `status` into the file it is pointed at."""

    def run(args: list[str], settings: Settings, **_: object) -> DbtOutcome:
        if seen is not None:  # what the build started from
            con = duckdb.connect(str(settings.warehouse))
            seen.append(con.execute("select count(*) from duckdb_tables() where table_name = 't'").fetchone()[0])
            con.close()
        con = duckdb.connect(str(settings.warehouse))
        con.execute("create or replace table t as select ? as v", [value])
        con.close()
        write_build_record(settings.warehouse, status=status)
        return DbtOutcome(success=status == "green", seconds=0.0)

    return run


def _holder(path: Path, script: str) -> subprocess.Popen[str]:
    """A child process that runs `script` (with `p` the path), prints 'ready', and waits for its stdin to close."""
    code = f"import duckdb, fcntl, sys\np = {str(path)!r}\n{script}\nprint('ready', flush=True)\nsys.stdin.read()\n"
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


def _release(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None
    child.stdin.close()
    child.wait(timeout=60)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_under(tmp_path)


def test_a_green_build_replaces_the_file_and_a_held_reader_keeps_its_version(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = _live(settings, 1)
    reader = duckdb.connect(str(live), read_only=True)
    monkeypatch.setattr(build_module, "run_dbt", _stand_in(2))
    result = build_warehouse(settings)
    assert result.swapped and result.record is not None and result.record.is_green_build
    assert reader.execute("select v from t").fetchone() == (1,)
    reader.close()
    assert _value(live) == 2
    assert leftovers(live.parent) == [] and mode(live) == 0o600


def test_a_build_that_is_not_green_is_deleted_and_the_warehouse_untouched(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = _live(settings, 1)
    before, record = live.read_bytes(), read_record(live)
    monkeypatch.setattr(build_module, "run_dbt", _stand_in(2, status="not green"))
    result = build_warehouse(settings)
    assert not result.swapped and result.record is not None and result.record.status == "not green"
    assert result.previous == record
    assert live.read_bytes() == before and leftovers(live.parent) == []


def test_a_writer_of_the_warehouse_stops_the_swap_and_is_named(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = _live(settings, 1)
    writer = _holder(live, "c = duckdb.connect(p)")
    try:
        monkeypatch.setattr(build_module, "run_dbt", _stand_in(2))
        result = build_warehouse(settings)
    finally:
        _release(writer)
    assert not result.swapped and f"PID {writer.pid}" in result.reason and "open for writing" in result.reason
    assert _value(live) == 1 and leftovers(live.parent) == []


def test_a_select_build_starts_from_the_live_file_and_a_writer_stops_it_before_dbt(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = _live(settings, 1)
    seen: list[int] = []
    monkeypatch.setattr(build_module, "run_dbt", _stand_in(2, seen=seen))
    assert build_warehouse(settings, select="mart_trends").swapped
    assert seen == [1] and _value(live) == 2
    assert read_record(live).is_green_build  # type: ignore[union-attr]
    writer = _holder(live, "c = duckdb.connect(p)")
    try:
        with pytest.raises(BuildBlocked, match=f"PID {writer.pid}"):
            build_warehouse(settings, select="mart_trends")
    finally:
        _release(writer)
    assert seen == [1] and leftovers(live.parent) == []


def test_a_crashed_writers_wal_and_a_killed_builds_files_are_cleared(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = _live(settings, 1)
    # a writer that died with committed changes in its .wal: copy file and log while they are open
    crashed = tmp_path / "crashed.duckdb"
    con = duckdb.connect(str(crashed))
    con.execute("set wal_autocheckpoint = '1GB'")
    con.execute("create table t as select 7 as v")
    crashed.with_name("copy").write_bytes(crashed.read_bytes())
    wal = wal_path(crashed).read_bytes()
    con.close()
    live.write_bytes(crashed.with_name("copy").read_bytes())
    wal_path(live).write_bytes(wal)
    assert _value(live) == 7  # the log belongs to the file
    # a killed build's file and log, under today's name and under the per-process name of older versions
    killed = [building_path(live), live.with_name(f"{live.stem}.building-999999999{live.suffix}")]
    for path in killed:
        path.write_bytes(b"half a build")
        wal_path(path).write_bytes(b"its log")
    said: list[str] = []
    monkeypatch.setattr(build_module, "run_dbt", _stand_in(2))
    assert build_warehouse(settings, say=said.append).swapped
    assert _value(live) == 2 and leftovers(live.parent) == []
    assert all(any(path.name in line for line in said) for path in killed)


def test_a_second_build_waits_for_the_first(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    live = _live(settings, 1)
    lock = live.parent / f"{live.name}.build.lock"
    first = _holder(lock, "h = open(p, 'a+'); fcntl.flock(h, fcntl.LOCK_EX); h.write('4242'); h.flush()")
    said: list[str] = []

    def waiting(message: str) -> None:
        said.append(message)
        _release(first)  # the first build ends while the second waits

    monkeypatch.setattr(build_module, "run_dbt", _stand_in(2))
    try:
        assert build_warehouse(settings, say=waiting).swapped
    finally:
        if first.poll() is None:
            _release(first)
    assert said and "waiting for another `brukerplan build`" in said[0] and "4242" in said[0]
    assert _value(live) == 2
