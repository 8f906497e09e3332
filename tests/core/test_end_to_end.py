"""End to end on generated data: synth -> ingest -> dbt build (this area's models) -> persons per mapping year,
registered municipality and finest user group, and the de-duplication audit, equal the generator's ground truth
(docs/truth.md) exactly. Scale and years can be raised from the environment:

    BRUKERPLAN_TEST_SCALE=0.05 BRUKERPLAN_TEST_YEARS=2013-2024 .venv/bin/pytest tests/core/test_end_to_end.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from brukerplan.settings import PROJECT_DIR, Settings
from brukerplan.warehouse.dbt_runner import run_dbt
from tests.core.test_core_build import CORE_SELECTION, module_settings

DEFAULT_SCALE = "0.02"
DEFAULT_YEARS = "2019-2020"

pytestmark = pytest.mark.slow


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "brukerplan", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    scale = os.environ.get("BRUKERPLAN_TEST_SCALE", DEFAULT_SCALE)
    years = os.environ.get("BRUKERPLAN_TEST_YEARS", DEFAULT_YEARS)
    root = tmp_path_factory.mktemp("core_chain")
    settings: Settings = module_settings(root)
    synth = _cli("synth", "--out", str(root / "synth"), "--scale", scale, "--years", years)
    assert synth.returncode == 0, synth.stdout + synth.stderr
    ingest = _cli("ingest", str(root / "synth" / "extracts"), "--landing", str(settings.landing))
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    outcome = run_dbt(["build", *CORE_SELECTION], settings, target_path=root / "target", log_path=root / "logs")
    assert outcome.success, outcome.failures
    con = duckdb.connect(":memory:")
    con.execute(f"attach '{settings.warehouse}' as wh (read_only)")
    truth = root / "synth" / "truth"
    for name in ("persons", "dedup", "audit"):
        con.execute(
            f"create view truth_{name} as select * from read_csv('{truth / (name + '.csv')}', header = true, "
            "all_varchar = true)"
        )
    yield con, truth
    con.close()


def _difference(con: duckdb.DuckDBPyConnection, ours: str, theirs: str) -> tuple[list[tuple], list[tuple]]:
    only_ours = con.execute(f"({ours}) except all ({theirs})").fetchall()
    only_truth = con.execute(f"({theirs}) except all ({ours})").fetchall()
    return only_ours, only_truth


def test_persons_per_year_municipality_and_group_equal_the_truth(chain) -> None:
    con, _ = chain
    ours = (
        "select mapping_year::varchar, municipality_code_registered, user_group, count(*)::varchar "
        "from wh.core.fct_person_year group by all"
    )
    theirs = "select mapping_year, municipality_code_registered, user_group, persons from truth_persons"
    assert con.execute(f"select count(*) from ({theirs})").fetchone()[0] > 0, "empty truth"
    assert _difference(con, ours, theirs) == ([], [])


def test_dedup_audit_equals_the_truth(chain) -> None:
    con, _ = chain
    columns = (
        "mapping_year::varchar, person_id, submission_id, registration_id, municipality_code_registered, "
        "kept_submission_id, kept_registration_id, kept_municipality_code_registered, deciding_tiebreak, "
        "lower(is_cross_municipality::varchar)"
    )
    ours = f"select {columns} from wh.core.dedup_audit"
    theirs = f"select {columns} from truth_dedup"
    assert con.execute("select count(*) from truth_dedup").fetchone()[0] > 0, "no duplicates in the truth"
    assert _difference(con, ours, theirs) == ([], [])


def test_audit_figures_per_municipality_and_year_equal_the_truth(chain) -> None:
    con, _ = chain
    ours = """
        with registrations as (select * from wh.intermediate.int_current_submission),
        dropped as (select * from wh.core.dedup_audit),
        persons as (select * from wh.core.fct_person_year),
        raw as (
            select mapping_year, municipality_code_registered, count(*) as registrations_raw,
                count(*) filter (where not is_current) as superseded
            from registrations group by all
        ),
        dup as (
            select mapping_year, municipality_code_registered, count(*) as duplicates_removed,
                count(*) filter (where is_cross_municipality) as duplicates_cross_municipality
            from dropped group by all
        ),
        kept as (select mapping_year, municipality_code_registered, count(*) as persons from persons group by all)
        select raw.mapping_year::varchar, raw.municipality_code_registered, raw.registrations_raw::varchar,
            raw.superseded::varchar, coalesce(dup.duplicates_removed, 0)::varchar,
            coalesce(dup.duplicates_cross_municipality, 0)::varchar, coalesce(kept.persons, 0)::varchar
        from raw
        left join dup using (mapping_year, municipality_code_registered)
        left join kept using (mapping_year, municipality_code_registered)
    """
    theirs = (
        "select mapping_year, municipality_code_registered, registrations_raw, superseded, duplicates_removed, "
        "duplicates_cross_municipality, persons from truth_audit"
    )
    assert _difference(con, ours, theirs) == ([], [])
