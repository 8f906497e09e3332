"""The project's structural rules, read from dbt's manifest: only staging models call source(), every model has a
primary-key test (unique + not_null on one column, or unique_combination_of_columns), and a column name used in
three or more models has one description (its doc block in models/_docs.md) unless listed as model-specific."""

from __future__ import annotations

import json

import pytest

from brukerplan.warehouse.dbt_runner import run_dbt
from tests.support import RULE_MODELS, settings_under

pytestmark = pytest.mark.slow  # the manifest fixture parses the dbt project

PK_COMBINATION = "unique_combination_of_columns"
CONSTRAINTS_TEST = "column_constraints"

# A column name used in at least this many models is documented once, by a doc block in models/_docs.md.
SHARED_NAME_MIN_MODELS = 3

# (column, model) pairs whose column shares its name with other models but means something else there, so the
# model keeps its own description instead of the doc block. Each needs a reason; nothing else may differ.
MODEL_SPECIFIC_DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("municipality_code", "stg_reference__municipalities"): "reference code with its validity period, not harmonised",
    ("municipality_code", "stg_reference__municipality_map_2024"): "the map's source code (any year), not harmonised",
    ("municipality_code", "stg_reference__municipality_name_changes"): "the code whose name changed, not harmonised",
    ("municipality_code", "stg_reference__population"): "code in force in the population year, not harmonised",
    ("municipality_code", "stg_reference__trondelag_participation"): "code in force in that year, not harmonised",
    ("municipality_code_registered", "stg_landing__rejects"): "raw value as read, may be invalid or null",
    ("municipality_code_registered", "mart_data_quality"): "rejects attributed to the file's municipality or 9999",
    ("person_id", "stg_landing__rejects"): "raw value as read, may be blank or malformed",
    ("registration_id", "stg_landing__rejects"): "raw value as read, may be blank",
    ("is_approximate", "stg_reference__municipality_changes"): "a change link whose territory is estimated (splits and "
    "boundary adjustments), not the harmonisation flag",
    ("population_16plus", "mart_participation"): "all registered municipalities in force in the geography, not only "
    "the participating ones (that is population_16plus_covered)",
}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("manifest")
    settings = settings_under(root)
    outcome = run_dbt(["parse"], settings, target_path=root / "target", log_path=root / "logs")
    assert outcome.success, outcome.failures
    return json.loads((root / "target" / "manifest.json").read_text(encoding="utf-8"))


def _models(manifest: dict) -> dict[str, dict]:
    return {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}


def primary_key_tests(manifest: dict) -> dict[str, set[str]]:
    """Per model: the kinds of primary-key test found ('combination', or 'column:<name>' when a single column has
    a unique test and a not_null constraint that the model's column_constraints test checks)."""
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
        elif name == "unique" and node.get("column_name"):
            single.setdefault((model, node["column_name"]), set()).add(name)
        elif name == CONSTRAINTS_TEST:
            for column, spec in manifest["nodes"][model].get("columns", {}).items():
                if any(c.get("type") == "not_null" for c in spec.get("constraints", [])):
                    single.setdefault((model, column), set()).add("not_null")
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
    fake["nodes"]["model.p.a"]["columns"] = {"id": {"constraints": [{"type": "not_null"}]}}
    assert primary_key_tests(fake) == {}, "a not_null constraint no test checks is no primary key"
    fake["nodes"]["test.p.n"] = {
        "resource_type": "test",
        "test_metadata": {"name": CONSTRAINTS_TEST},
        "attached_node": "model.p.a",
    }
    assert primary_key_tests(fake) == {"model.p.a": {"column:id"}}


def untested_constraints(manifest: dict) -> list[str]:
    """Models and seeds that declare column constraints without the column_constraints test that checks them
    (dbt enforces constraints only under an enforced contract, which this project does not use)."""
    tested = {
        node.get("attached_node")
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test" and node.get("test_metadata", {}).get("name") == CONSTRAINTS_TEST
    }
    return sorted(
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed")
        and any(spec.get("constraints") for spec in node.get("columns", {}).values())
        and uid not in tested
    )


def test_every_declared_constraint_is_tested(manifest: dict) -> None:
    assert untested_constraints(manifest) == []
    fake = {
        "nodes": {"model.p.a": {"resource_type": "model", "columns": {"x": {"constraints": [{"type": "not_null"}]}}}}
    }
    assert untested_constraints(fake) == ["model.p.a"]


def description_conflicts(
    manifest: dict, model_specific: dict[tuple[str, str], str] = MODEL_SPECIFIC_DESCRIPTIONS
) -> dict[str, dict[str, list[str]]]:
    """Per column name used in SHARED_NAME_MIN_MODELS or more models that has more than one description (leaving
    out the model-specific pairs): each distinct description with the models that use it. A missing description
    counts as the empty text."""
    uses: dict[str, dict[str, str]] = {}
    for node in _models(manifest).values():
        for name, column in node["columns"].items():
            uses.setdefault(name, {})[node["name"]] = (column.get("description") or "").strip()
    conflicts: dict[str, dict[str, list[str]]] = {}
    for name, by_model in uses.items():
        if len(by_model) < SHARED_NAME_MIN_MODELS:
            continue
        texts: dict[str, list[str]] = {}
        for model, text in sorted(by_model.items()):
            if (name, model) not in model_specific:
                texts.setdefault(text, []).append(model)
        if len(texts) > 1:
            conflicts[name] = texts
    return conflicts


def _describe(conflicts: dict[str, dict[str, list[str]]]) -> str:
    lines = []
    for name, texts in sorted(conflicts.items()):
        lines.append(f"{name}: {len(texts)} descriptions (use {{{{ doc('{name}') }}}} from models/_docs.md)")
        for text, models in texts.items():
            lines.append(f"    {text!r}: {', '.join(models)}")
    return "\n".join(lines)


def test_shared_column_names_have_one_description(manifest: dict) -> None:
    conflicts = description_conflicts(manifest)
    assert conflicts == {}, "column names with more than one description:\n" + _describe(conflicts)


def test_model_specific_descriptions_exist_and_differ(manifest: dict) -> None:
    """Each listed exception exists, has a description, and that text really differs from the shared one."""
    columns = {
        (name, node["name"]): column for node in _models(manifest).values() for name, column in node["columns"].items()
    }
    for name, model in MODEL_SPECIFIC_DESCRIPTIONS:
        assert (name, model) in columns, f"{model}.{name} is listed as model-specific but does not exist"
        shared = {
            (column.get("description") or "").strip()
            for (other_name, other_model), column in columns.items()
            if other_name == name and (other_name, other_model) not in MODEL_SPECIFIC_DESCRIPTIONS
        }
        own = (columns[(name, model)].get("description") or "").strip()
        assert own and own not in shared, f"{model}.{name} no longer needs its own description: use the doc block"


def test_the_description_check_can_fail() -> None:
    def model(name: str, description: str) -> dict:
        return {"resource_type": "model", "name": name, "columns": {"x": {"description": description}}}

    fake = {"nodes": {f"model.p.m{i}": model(f"m{i}", "One meaning.") for i in range(3)}}
    assert description_conflicts(fake, {}) == {}
    fake["nodes"]["model.p.m2"] = model("m2", "Another meaning.")
    assert description_conflicts(fake, {}) == {"x": {"One meaning.": ["m0", "m1"], "Another meaning.": ["m2"]}}
    assert description_conflicts(fake, {("x", "m2"): "means something else there"}) == {}
    del fake["nodes"]["model.p.m0"]
    assert description_conflicts(fake, {}) == {}, "a name in two models only is not checked"


def test_contract_models_exist(manifest: dict) -> None:
    names = {node["name"] for node in _models(manifest).values()}
    expected = {
        "stg_landing__registrations",
        "stg_landing__rejects",
        "stg_landing__submissions",
        *RULE_MODELS,
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
    assert set(RULE_MODELS) <= unit_tested
