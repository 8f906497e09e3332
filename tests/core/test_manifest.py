"""The project's structural rules, read from dbt's manifest: only staging models call source(), and every model
has a primary-key test (unique + not_null on one column, or unique_combination_of_columns)."""

from __future__ import annotations

import json

import pytest

from brukerplan.settings import Settings
from brukerplan.warehouse.dbt_runner import run_dbt

PK_COMBINATION = "unique_combination_of_columns"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("manifest")
    settings = Settings.load(
        environ={},
        landing=root / "landing",
        warehouse=root / "warehouse" / "brukerplan.duckdb",
        published=root / "published" / "brukerplan.duckdb",
        reports=root / "reports",
    )
    outcome = run_dbt(["parse"], settings, target_path=root / "target", log_path=root / "logs")
    assert outcome.success, outcome.failures
    return json.loads((root / "target" / "manifest.json").read_text(encoding="utf-8"))


def _models(manifest: dict) -> dict[str, dict]:
    return {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}


def primary_key_tests(manifest: dict) -> dict[str, set[str]]:
    """Per model: the kinds of primary-key test found ('combination', or 'column:<name>' when a single column has
    both unique and not_null)."""
    single: dict[tuple[str, str], set[str]] = {}
    found: dict[str, set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or not node.get("test_metadata"):
            continue
        name = node["test_metadata"]["name"]
        model = node.get("attached_node")
        if not model:
            continue
        if name == PK_COMBINATION:
            found.setdefault(model, set()).add("combination")
        elif name in ("unique", "not_null") and node.get("column_name"):
            single.setdefault((model, node["column_name"]), set()).add(name)
    for (model, column), kinds in single.items():
        if kinds == {"unique", "not_null"}:
            found.setdefault(model, set()).add(f"column:{column}")
    return found


def test_only_staging_models_call_source(manifest: dict) -> None:
    models = _models(manifest)
    assert models, "no models in the manifest"
    callers = {uid: node for uid, node in models.items() if node["sources"]}
    assert callers, "no model calls source(): the landing zone is not read"
    offenders = sorted(
        node["original_file_path"]
        for node in callers.values()
        if not node["original_file_path"].startswith("models/staging/")
    )
    assert offenders == [], f"models outside staging call source(): {offenders}"
    for node in models.values():
        if not node["original_file_path"].startswith("models/staging/"):
            assert not any(dep.startswith("source.") for dep in node["depends_on"]["nodes"]), node["unique_id"]


def test_every_model_has_a_primary_key_test(manifest: dict) -> None:
    found = primary_key_tests(manifest)
    missing = sorted(node["original_file_path"] for uid, node in _models(manifest).items() if uid not in found)
    assert missing == [], f"models without a primary-key test: {missing}"


def test_the_primary_key_check_can_fail() -> None:
    fake = {
        "nodes": {
            "model.p.a": {"resource_type": "model"},
            "test.p.u": {
                "resource_type": "test",
                "test_metadata": {"name": "unique"},
                "attached_node": "model.p.a",
                "column_name": "id",
            },
        }
    }
    assert primary_key_tests(fake) == {}
    fake["nodes"]["test.p.n"] = {
        "resource_type": "test",
        "test_metadata": {"name": "not_null"},
        "attached_node": "model.p.a",
        "column_name": "id",
    }
    assert primary_key_tests(fake) == {"model.p.a": {"column:id"}}


def test_contract_models_exist(manifest: dict) -> None:
    names = {node["name"] for node in _models(manifest).values()}
    expected = {
        "stg_landing__registrations",
        "stg_landing__rejects",
        "stg_landing__submissions",
        "int_current_submission",
        "int_age",
        "int_deduplication",
        "int_classification",
        "int_harmonisation",
        "int_population",
        "fct_person_year",
        "fct_person_year_service",
        "dedup_audit",
        "dim_municipality",
        "dim_service",
        "dim_agency",
        "dim_area",
        "dim_county",
    }
    assert expected <= names, sorted(expected - names)
    unit_tested = {node["model"] for node in manifest.get("unit_tests", {}).values()}
    rules = {"int_current_submission", "int_age", "int_deduplication", "int_classification", "int_harmonisation"}
    assert rules | {"int_population"} <= unit_tested
