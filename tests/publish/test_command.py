"""`brukerplan publish`: refuses without marts (exit 1, old file untouched; the build gate: test_gate.py), usage
errors exit 2, a crash half-way leaves the old file and no temporary files, the summary names what was done."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from brukerplan.cli import app
from brukerplan.publish import PublishError, publish
from brukerplan.publish import writer as writer_module
from brukerplan.settings import Settings
from tests.publish.warehouse_fixture import FixtureShape, make_warehouse, write_build_record
from tests.support import settings_under

SMALL = FixtureShape(seed=11, max_persons=25, years=(2021,), municipalities=("5001", "5006", "1505"))


@pytest.fixture
def small(tmp_path: Path) -> Settings:
    settings = settings_under(tmp_path)
    make_warehouse(settings.warehouse, SMALL)
    return settings


def _args(settings: Settings, *extra: str) -> list[str]:
    return ["publish", "--warehouse", str(settings.warehouse), "--published", str(settings.published), *extra]


def _publication_id(settings: Settings) -> str:
    con = duckdb.connect(str(settings.published), read_only=True)
    try:
        return con.execute("select publication_id from publication_metadata").fetchone()[0]
    finally:
        con.close()


def _leftovers(settings: Settings) -> list[str]:
    return sorted(p.name for p in settings.published.parent.iterdir() if ".tmp-" in p.name or ".link-" in p.name)


def test_publish_command_summary_and_exit_0(small: Settings) -> None:
    result = CliRunner().invoke(app, _args(small), terminal_width=200)
    assert result.exit_code == 0, result.output
    flat = "".join(result.output.split())  # rich wraps long lines
    assert "published15tables" in flat
    assert "withheldcells" in flat and "".join(str(small.published).split()) in flat
    assert small.published.exists() and _leftovers(small) == []


def test_refuses_when_the_warehouse_has_no_marts(tmp_path: Path) -> None:
    settings = settings_under(tmp_path)
    settings.warehouse.parent.mkdir(parents=True)
    duckdb.connect(str(settings.warehouse)).close()
    write_build_record(settings.warehouse)
    result = CliRunner().invoke(app, _args(settings), terminal_width=200)
    assert result.exit_code == 1
    assert "marts.mart_trends" in result.output and "brukerplan build" in result.output


def test_refuses_a_mart_whose_columns_the_spec_does_not_know(small: Settings) -> None:
    con = duckdb.connect(str(small.warehouse))
    con.execute("alter table marts.mart_trends add column persons_secret integer default 3")
    con.close()
    with pytest.raises(PublishError, match=r"persons_secret"):
        publish(small)


def test_usage_error_for_a_threshold_below_one(small: Settings) -> None:
    result = CliRunner().invoke(app, [*_args(small), "--suppression-threshold", "0"], terminal_width=200)
    assert result.exit_code == 2


def test_lp_budget_usage_error_and_the_summary_names_both_audits(small: Settings) -> None:
    assert CliRunner().invoke(app, [*_args(small), "--lp-budget", "-1"], terminal_width=200).exit_code == 2
    default = CliRunner().invoke(app, _args(small), terminal_width=200)
    assert default.exit_code == 0
    text = " ".join(default.output.split())
    assert "checked in full" in text and "linear programming" in text
    off = CliRunner().invoke(app, _args(small), env={"BRUKERPLAN_LP_BUDGET": "0"}, terminal_width=200)
    assert off.exit_code == 0
    assert "(0 programs;" in " ".join(off.output.split())


def test_the_threshold_comes_from_the_environment_and_the_option_wins(small: Settings) -> None:
    env = {"BRUKERPLAN_SUPPRESSION_THRESHOLD": "3"}
    assert CliRunner().invoke(app, _args(small), env=env).exit_code == 0
    con = duckdb.connect(str(small.published), read_only=True)
    assert con.execute("select suppression_threshold from publication_metadata").fetchone()[0] == 3
    con.close()
    assert CliRunner().invoke(app, [*_args(small), "--suppression-threshold", "7"], env=env).exit_code == 0
    con = duckdb.connect(str(small.published), read_only=True)
    assert con.execute("select suppression_threshold from publication_metadata").fetchone()[0] == 7
    assert con.execute("select count(*) from mart_trends where persons between 1 and 6").fetchone()[0] == 0
    con.close()


@pytest.mark.slow
def test_a_crash_before_the_rename_leaves_the_old_file_and_no_temporary_files(
    small: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = publish(small)

    def crash(tmp: Path, published: Path) -> None:
        assert tmp.exists()  # the new file was complete up to here
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(writer_module, "commit_file", crash)
    with pytest.raises(OSError, match="simulated"):
        publish(small)
    assert _publication_id(small) == first.publication_id
    assert _leftovers(small) == []
    meta = first.parquet_dir / "publication_metadata.parquet"
    con = duckdb.connect()
    assert con.execute(f"select publication_id from '{meta}'").fetchone()[0] == first.publication_id
    con.close()
    hidden = [p.name for p in small.published.parent.iterdir() if p.name.startswith(".")]
    assert hidden == []  # the new Parquet version was written aside and removed
