"""The project foundation: settings precedence, the dbt harness, reference seeds and their tests."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from brukerplan.cli import app
from brukerplan.settings import PROJECT_DIR, Settings, SettingsError
from tests.conftest import SHARED_DIR


def test_defaults_live_under_the_project_directory() -> None:
    settings = Settings.load(environ={})
    assert settings.landing == PROJECT_DIR / "data" / "landing"
    assert settings.warehouse == PROJECT_DIR / "warehouse" / "brukerplan.duckdb"
    assert settings.published == PROJECT_DIR / "published" / "brukerplan.duckdb"
    assert settings.reports == PROJECT_DIR / "reports"
    assert settings.reject_threshold == pytest.approx(0.10)
    assert settings.suppression_threshold == 5


def test_option_wins_over_environment_which_wins_over_default(tmp_path: Path) -> None:
    env = {"BRUKERPLAN_LANDING": str(tmp_path / "env"), "BRUKERPLAN_SUPPRESSION_THRESHOLD": "3"}
    from_env = Settings.load(environ=env)
    assert from_env.landing == tmp_path / "env"
    assert from_env.suppression_threshold == 3
    from_option = Settings.load(environ=env, landing=tmp_path / "opt", suppression_threshold=7)
    assert from_option.landing == tmp_path / "opt"
    assert from_option.suppression_threshold == 7


@pytest.mark.parametrize("bad", ["1.5", "-0.1", "ten"])
def test_bad_reject_threshold_is_a_usage_error(bad: str) -> None:
    with pytest.raises(SettingsError):
        Settings.load(environ={"BRUKERPLAN_REJECT_THRESHOLD": bad})


@pytest.mark.parametrize(
    ("environ", "overrides", "named"),
    [
        ({"BRUKERPLAN_SUPPRESSION_THRESHOLD": "five"}, {}, "BRUKERPLAN_SUPPRESSION_THRESHOLD"),
        ({"BRUKERPLAN_REJECT_THRESHOLD": "2"}, {}, "BRUKERPLAN_REJECT_THRESHOLD"),
        ({"BRUKERPLAN_SUPPRESSION_THRESHOLD": "5"}, {"suppression_threshold": "0"}, "--suppression-threshold"),
    ],
)
def test_a_bad_setting_names_where_it_came_from_and_its_value(
    environ: dict[str, str], overrides: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(environ=environ, **overrides)
    assert named in str(caught.value)
    bad = overrides.get("suppression_threshold") or next(iter(environ.values()))
    assert bad in str(caught.value)


def test_a_bad_setting_breaks_only_the_commands_that_use_it(tmp_path: Path) -> None:
    env = {"BRUKERPLAN_SUPPRESSION_THRESHOLD": "five", "BRUKERPLAN_LANDING": str(tmp_path / "landing")}
    (tmp_path / "extracts").mkdir()
    (tmp_path / "extracts" / "not_an_extract.csv").write_text("a;b\n1;2\n", encoding="utf-8")  # quarantined
    ingest = CliRunner().invoke(app, ["ingest", str(tmp_path / "extracts")], env=env)
    assert ingest.exit_code == 1 and "BRUKERPLAN_SUPPRESSION_THRESHOLD" not in ingest.output, ingest.output
    publish = CliRunner().invoke(app, ["publish", "--warehouse", str(tmp_path / "none.duckdb")], env=env)
    assert publish.exit_code == 2
    assert "BRUKERPLAN_SUPPRESSION_THRESHOLD" in publish.output and "five" in publish.output
    bad_reject = {**env, "BRUKERPLAN_SUPPRESSION_THRESHOLD": "5", "BRUKERPLAN_REJECT_THRESHOLD": "2"}
    assert CliRunner().invoke(app, ["ingest", str(tmp_path / "extracts")], env=bad_reject).exit_code == 2


def test_cli_usage_error_exits_2() -> None:
    result = CliRunner().invoke(app, ["build", "--no-such-option"])
    assert result.exit_code == 2


def test_cli_help_lists_only_commands_that_exist() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name, command in ((c.name, c) for c in app.registered_commands):
        assert command.callback is not None, name
        assert (name or command.callback.__name__) in result.output


def test_seed_files_are_the_shared_reference_data() -> None:
    for name in ("municipalities", "counties", "municipality_changes", "municipality_map_2024", "population"):
        ours = (PROJECT_DIR / "seeds" / "reference" / f"{name}.csv").read_bytes()
        theirs = (SHARED_DIR / "reference" / f"{name}.csv").read_bytes()
        assert ours == theirs, f"seeds/reference/{name}.csv differs from ../shared/reference"


def test_code_values_cover_every_service_and_agency_label() -> None:
    with open(PROJECT_DIR / "seeds" / "codes" / "code_values.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    v2_agencies = {r["raw_value"] for r in rows if r["code_list"] == "agency" and r["layout"] == "v2"}
    assert "psykisk helsetjeneste" in v2_agencies
    assert len(v2_agencies) == 10
    for row in rows:
        assert row["raw_value"] == row["raw_value"].strip().lower()


@pytest.mark.slow
def test_dbt_builds_reference_seeds_into_a_temporary_warehouse(dbt, tmp_settings: Settings) -> None:
    outcome = dbt(["build", "--select", "resource_type:seed", "--indirect-selection", "eager"])
    assert outcome.success, outcome.failures
    assert outcome.counts.get("success", 0) >= 10 and outcome.counts.get("pass", 0) >= 30
    assert tmp_settings.warehouse.exists()
    con = duckdb.connect(str(tmp_settings.warehouse), read_only=True)
    try:
        in_force_2020 = con.execute(
            "select count(*) from reference.municipalities where valid_from <= date '2020-01-01' "
            "and (valid_to is null or valid_to > date '2020-01-01')"
        ).fetchone()
        schemas = {r[0] for r in con.execute("select schema_name from information_schema.schemata").fetchall()}
        code_type = con.execute(
            "select data_type from information_schema.columns where table_schema = 'reference' "
            "and table_name = 'municipalities' and column_name = 'municipality_code'"
        ).fetchone()
        oslo = con.execute("select count(*) from reference.municipalities where municipality_code = '0301'").fetchone()
    finally:
        con.close()
    assert in_force_2020 == (356,)
    assert "reference" in schemas
    assert code_type == ("VARCHAR",)
    assert oslo == (1,)
