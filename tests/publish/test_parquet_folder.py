"""The Parquet copies live in a plain, visible folder `<stem>_parquet/` beside the published file, replaced in one
step per publish (docs/decisions.md P6): the path always holds one complete version, the replaced version stays
as `.<stem>_parquet.previous` until the next publish for a reader that opened the folder before, and the former
layout (a symlink to hidden timestamped folders) is cleaned up by the first publish."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from brukerplan.publish import publish
from brukerplan.publish import writer as writer_module
from brukerplan.publish.writer import commit_parquet_dir, parquet_dir_for, staged_parquet_dir
from brukerplan.settings import Settings
from tests.publish.conftest import describe_like_persist_docs
from tests.publish.warehouse_fixture import FixtureShape, make_warehouse
from tests.support import settings_under

TINY = FixtureShape(seed=5, max_persons=20, years=(2021,), municipalities=("5001", "5006"))


def _version(folder: Path, name: str, tables: tuple[str, ...] = ("a", "b")) -> Path:
    """A fake Parquet version: one small file per table holding the version's name."""
    folder.mkdir(parents=True)
    con = duckdb.connect()
    for table in tables:
        con.execute(f"copy (select '{name}' as version) to '{folder / f'{table}.parquet'}' (format parquet)")
    con.close()
    return folder


def _versions_in(folder: Path) -> set[str]:
    con = duckdb.connect()
    try:
        return {con.execute(f"select version from '{f}'").fetchone()[0] for f in sorted(folder.glob("*.parquet"))}
    finally:
        con.close()


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _commit(published: Path, name: str) -> Path:
    with staged_parquet_dir(published) as staged:
        staged.rmdir()
        _version(staged, name)
        return commit_parquet_dir(staged, published)


def test_each_commit_replaces_the_whole_folder_and_keeps_one_previous_version(tmp_path: Path) -> None:
    published = tmp_path / "brukerplan.duckdb"
    for name in ("v1", "v2", "v3"):
        folder = _commit(published, name)
        assert folder == tmp_path / "brukerplan_parquet" == parquet_dir_for(published)
        assert folder.is_dir() and not folder.is_symlink()
        assert _versions_in(folder) == {name}
    assert _hidden(tmp_path) == [".brukerplan_parquet.previous"]
    assert _versions_in(tmp_path / ".brukerplan_parquet.previous") == {"v2"}


def test_a_reader_that_opened_the_folder_reads_its_version_to_the_end(tmp_path: Path) -> None:
    published = tmp_path / "brukerplan.duckdb"
    _commit(published, "v1")
    handle = os.open(parquet_dir_for(published), os.O_RDONLY | os.O_DIRECTORY)
    try:
        _commit(published, "v2")  # replaced while the reader holds the folder
        assert _versions_in(Path(f"/proc/self/fd/{handle}")) == {"v1"}
    finally:
        os.close(handle)
    assert _versions_in(parquet_dir_for(published)) == {"v2"}


def test_without_an_atomic_exchange_the_folder_is_renamed_aside_then_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "exchange", lambda first, second: False)
    published = tmp_path / "brukerplan.duckdb"
    for name in ("v1", "v2"):
        _commit(published, name)
    assert _versions_in(parquet_dir_for(published)) == {"v2"}
    assert _hidden(tmp_path) == [".brukerplan_parquet.previous"]


def test_the_former_symlinked_layout_is_replaced_by_a_plain_folder(tmp_path: Path) -> None:
    published = tmp_path / "brukerplan.duckdb"
    _version(tmp_path / ".brukerplan_parquet-20260101T000000-000000001-11", "old")
    current = _version(tmp_path / ".brukerplan_parquet-20260102T000000-000000002-12", "current")
    (tmp_path / ".brukerplan_parquet.link-12").symlink_to(current.name)
    (tmp_path / "brukerplan_parquet").symlink_to(current.name)
    folder = _commit(published, "new")
    assert folder.is_dir() and not folder.is_symlink()
    assert _versions_in(folder) == {"new"}
    # the version the link pointed to is kept one cycle, like any replaced version; the rest is gone
    assert _hidden(tmp_path) == [".brukerplan_parquet.previous"]
    assert _versions_in(tmp_path / ".brukerplan_parquet.previous") == {"current"}


def test_staging_folders_of_killed_runs_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    published = tmp_path / "brukerplan.duckdb"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = _version(tmp_path / f".brukerplan_parquet.new-{int(dead.stdout)}", "killed")
    running = _version(tmp_path / f".brukerplan_parquet.new-{os.getppid()}", "running")
    with staged_parquet_dir(published) as staged:
        assert staged.name == f".brukerplan_parquet.new-{os.getpid()}"
        assert not killed.exists() and running.exists()
    assert not staged.exists()  # not committed: removed


@pytest.mark.slow
def test_publish_writes_every_table_once_per_version(tmp_path: Path) -> None:
    settings: Settings = settings_under(tmp_path)
    make_warehouse(settings.warehouse, TINY)
    describe_like_persist_docs(settings.warehouse)
    results = [publish(settings) for _ in range(2)]
    folder = settings.published.with_name("brukerplan_parquet")
    assert all(r.parquet_dir == folder for r in results)
    con = duckdb.connect()
    try:
        ids = con.execute(
            f"select distinct value::varchar from parquet_kv_metadata('{folder}/*.parquet') "
            "where key = 'publication_id'"
        ).fetchall()
        files = sorted(p.stem for p in folder.glob("*.parquet"))
        assert files == sorted(t.name for t in results[-1].tables)
        previous = con.execute(
            f"select publication_id from '{tmp_path / 'published' / '.brukerplan_parquet.previous'}"
            "/publication_metadata.parquet'"
        ).fetchone()
    finally:
        con.close()
    assert ids == [(results[-1].publication_id,)]
    assert previous == (results[0].publication_id,)
    assert _hidden(settings.published.parent) == [".brukerplan_parquet.previous"]
