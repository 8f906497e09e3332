"""dbt build over a hand-made landing zone: rules 1-6 and the core models give the figures worked out by hand."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from brukerplan.settings import Settings
from brukerplan.warehouse.dbt_runner import DbtOutcome, run_dbt
from tests.core.landing_fixture import Submission, registration, write_submission
from tests.support import CORE_SELECTION, RULE_MODELS, settings_under

pytestmark = pytest.mark.slow

D = dt.date
# Person pseudonyms: 16 hex characters.
P = {n: f"{n:016x}" for n in range(1, 20)}
UNKNOWN_MENTAL = {"area_mental_health": "unknown"}


def _scenario() -> tuple[list[Submission], list[Submission]]:
    """Visible submissions and one partial (no record, must stay invisible)."""
    county_2016 = Submission(
        "f16000000000000a",
        2016,
        "F16",
        D(2016, 12, 1),
        layout="v2",
        rows=[
            registration(P[1], "1", "1601"),  # superseded by the municipal file
            registration(P[2], "2", "1601"),  # superseded
            registration(P[3], "3", "1613", area_mental_health="red", area_substance_use="red"),
            registration(P[4], "4", "1662", target_group="mental"),
            registration(P[5], "5", "1662"),  # kept: more complete than its duplicate in 1601
        ],
        rejects=[{"registration_id": "6", "municipality_code": "1662"}],
    )
    municipal_2016 = Submission(
        "c16010000000000b",
        2016,
        "K1601",
        D(2017, 1, 10),
        layout="v2",
        rows=[
            registration(P[1], "1", "1601", area_mental_health="yellow", area_substance_use="yellow"),
            registration(P[5], "2", "1601", services_received=None),  # dropped: completeness
            registration(P[6], "3", "1601", **UNKNOWN_MENTAL),
        ],
    )
    national_2016 = Submission(
        "a0000000000000c0",
        2016,
        "NO",
        D(2017, 1, 10),
        layout="v2",
        rows=[
            registration(P[7], "1", "1601"),  # same date and seq as K1601: the municipal file wins
            registration(P[8], "2", "0301"),
        ],
    )
    klaebu_2019 = Submission(
        "c50300000000000d",
        2019,
        "K5030",
        D(2019, 11, 1),
        layout="v2",
        rows=[registration(P[10], "1", "5030", mapped_on=D(2019, 9, 1))],
    )
    trondheim_2019 = Submission(
        "c50010000000000e",
        2019,
        "K5001",
        D(2019, 11, 2),
        layout="v2",
        rows=[
            registration(P[10], "1", "5001", mapped_on=D(2019, 8, 1)),  # dropped: date
            registration(P[11], "2", "5001", agency_code="03"),  # dropped: agency
            registration(P[11], "3", "5001", agency_code="01"),
            registration(P[12], "9", "5001"),  # dropped: delivery_or_id ("10" < "9" as text)
            registration(P[12], "10", "5001"),
        ],
    )
    snillfjord_2019 = Submission(
        "c50120000000000f", 2019, "K5012", D(2019, 12, 1), layout="v2", rows=[registration(P[13], "1", "5012")]
    )
    alesund_2023 = Submission(
        "c150700000000010",
        2023,
        "K1507",
        D(2023, 12, 1),
        layout="v3",
        rows=[
            registration(
                P[14], "1", "1507", services_received=["lar", "ips"], services_recommended=["lar", "day_activity"]
            ),
            registration(P[15], "2", "1507", services_received=None),
        ],
    )
    oslo_2014 = Submission(
        "c030100000000011",
        2014,
        "K0301",
        D(2014, 12, 1),
        layout="v1",
        rows=[registration(P[16], "1", "0301", birth_year=1998)],
    )
    partial = Submission(
        "c161300000000012", 2016, "K1613", D(2017, 2, 1), layout="v2", rows=[registration(P[9], "1", "1613")]
    )
    visible = [
        county_2016,
        municipal_2016,
        national_2016,
        klaebu_2019,
        trondheim_2019,
        snillfjord_2019,
        alesund_2023,
        oslo_2014,
    ]
    return visible, [partial]


@pytest.fixture(scope="module")
def build_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("core_build")


@pytest.fixture(scope="module")
def built(build_root: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    root = build_root
    settings = settings_under(root)
    visible, partial = _scenario()
    for sub in visible:
        write_submission(settings.landing, sub)
    for sub in partial:
        write_submission(settings.landing, sub, with_record=False)
    paths = {"target_path": root / "target", "log_path": root / "logs"}
    outcome = run_dbt(["build", *CORE_SELECTION], settings, **paths)
    assert outcome.success, outcome.failures
    docs = run_dbt(["docs", "generate", *CORE_SELECTION[:4]], settings, **paths)
    assert docs.success, docs.failures
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    yield con
    con.close()


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> set[tuple]:
    return set(con.execute(sql).fetchall())


def test_partial_submissions_are_invisible_and_rejects_are_read(built: duckdb.DuckDBPyConnection) -> None:
    assert built.execute("select count(*) from staging.stg_landing__registrations").fetchone() == (20,)
    assert _rows(built, "select distinct person_id from staging.stg_landing__registrations") >= {(P[8],)}
    assert (P[9],) not in _rows(built, "select person_id from staging.stg_landing__registrations")
    assert _rows(built, "select submission_id, rule_id from staging.stg_landing__rejects") == {
        ("f16000000000000a", "R04")
    }


def test_current_submission_per_municipality_and_year(built: duckdb.DuckDBPyConnection) -> None:
    superseded = _rows(
        built,
        "select submission_id, registration_id, superseded_by_submission_id "
        "from intermediate.int_current_submission where not is_current",
    )
    assert superseded == {
        ("f16000000000000a", "1", "c16010000000000b"),
        ("f16000000000000a", "2", "c16010000000000b"),
        ("a0000000000000c0", "1", "c16010000000000b"),
    }
    assert built.execute("select count(*) from intermediate.int_current_submission where is_current").fetchone() == (
        17,
    )


def test_persons_per_year_municipality_and_group(built: duckdb.DuckDBPyConnection) -> None:
    persons = _rows(
        built,
        "select mapping_year, municipality_code_registered, user_group, count(*) "
        "from core.fct_person_year group by all",
    )
    assert persons == {
        (2014, "0301", "rus_only", 1),
        (2016, "1601", "rop_less_serious", 1),
        (2016, "1601", "rus_mental_unknown", 1),
        (2016, "1613", "rop_serious", 1),
        (2016, "1662", "mental", 1),
        (2016, "1662", "rus_only", 1),
        (2016, "0301", "rus_only", 1),
        (2019, "5030", "rus_only", 1),
        (2019, "5001", "rus_only", 2),
        (2019, "5012", "rus_only", 1),
        (2023, "1507", "rus_only", 2),
    }


def test_dedup_audit_names_the_deciding_tiebreak(built: duckdb.DuckDBPyConnection) -> None:
    audit = _rows(
        built,
        "select submission_id, registration_id, kept_submission_id, kept_registration_id, deciding_tiebreak, "
        "is_cross_municipality, kept_municipality_code_registered from core.dedup_audit",
    )
    assert audit == {
        ("c16010000000000b", "2", "f16000000000000a", "5", "completeness", True, "1662"),
        ("c50010000000000e", "1", "c50300000000000d", "1", "date", True, "5030"),
        ("c50010000000000e", "2", "c50010000000000e", "3", "agency", False, "5001"),
        ("c50010000000000e", "9", "c50010000000000e", "10", "delivery_or_id", False, "5001"),
    }


def test_harmonisation_to_2024(built: duckdb.DuckDBPyConnection) -> None:
    harmonised = _rows(
        built,
        "select distinct municipality_code_registered, municipality_code, county_code, is_approximate "
        "from core.fct_person_year",
    )
    assert harmonised == {
        ("0301", "0301", "03", False),
        ("1601", "5001", "50", False),
        ("1613", "5059", "50", True),
        ("1662", "5001", "50", False),
        ("5030", "5001", "50", False),
        ("5001", "5001", "50", False),
        ("5012", "5059", "50", True),
        ("1507", "1508", "15", True),
    }


def test_service_rows_only_for_services_asked_in_the_layout(built: duckdb.DuckDBPyConnection) -> None:
    per_person = dict(
        built.execute("select person_id, count(*) from core.fct_person_year_service group by all").fetchall()
    )
    assert per_person[P[16]] == 16  # v1: no act_team, ips, voluntary_sector
    assert per_person[P[8]] == 18  # v2: no ips
    assert per_person[P[14]] == 19  # v3: every service
    statuses = dict(
        built.execute(
            "select service_code, status from core.fct_person_year_service where person_id = ?", [P[14]]
        ).fetchall()
    )
    assert statuses["lar"] == "continue"
    assert statuses["ips"] == "end"
    assert statuses["day_activity"] == "new"
    assert statuses["home_nursing"] == "none"
    unknown = _rows(built, f"select distinct status from core.fct_person_year_service where person_id = '{P[15]}'")
    assert unknown == {("unknown",)}


def test_dbt_build_on_an_empty_landing_zone(tmp_settings: Settings, dbt: Callable[..., DbtOutcome]) -> None:
    assert not Path(tmp_settings.landing).exists()
    outcome = dbt(["build", *CORE_SELECTION])
    assert outcome.success, outcome.failures
    con = duckdb.connect(str(tmp_settings.warehouse), read_only=True)
    try:
        assert con.execute("select count(*) from core.fct_person_year").fetchone() == (0,)
        assert con.execute("select count(*) from core.dim_municipality").fetchone()[0] > 800
    finally:
        con.close()


def test_every_model_and_column_of_this_area_is_documented(built: duckdb.DuckDBPyConnection, build_root: Path) -> None:
    """dbt docs generate worked, and every column that exists in the warehouse has a description."""
    target = build_root / "target"
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    catalog = json.loads((target / "catalog.json").read_text(encoding="utf-8"))
    ours = ("models/staging/", "models/core/", *(f"models/intermediate/rules/{m}.sql" for m in RULE_MODELS))
    checked = 0
    undocumented = []
    for uid, entry in catalog["nodes"].items():
        node = manifest["nodes"].get(uid)
        if node is None or node["resource_type"] != "model" or not node["original_file_path"].startswith(ours):
            continue
        checked += 1
        if not node["description"].strip():
            undocumented.append(node["name"])
        described = {name.lower() for name, col in node["columns"].items() if col["description"].strip()}
        undocumented += [f"{node['name']}.{col}" for col in entry["columns"] if col.lower() not in described]
    assert checked >= 30
    assert undocumented == []
