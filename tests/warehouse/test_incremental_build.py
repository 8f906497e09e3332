"""An incremental build (decisions W6: only the mapping years of new submissions recomputed, in a copy of the live
warehouse) leaves the same tables as a full build of the same landing zone: after a resubmission, a municipality
new in a year and a whole new mapping year, and after a build with nothing new. Anything that makes the live
warehouse untrustworthy as a starting point makes the build full."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from brukerplan.settings import Settings
from tests.conftest import ChainRun
from tests.support import run_cli, settings_under

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Held:
    """The submissions kept out of the first build, by kind."""

    resubmission: str  # supersedes a delivery of the same municipality and year that the first build read
    new_municipality: list[str]  # every delivery covering a municipality in the first year
    new_year: list[str]  # every delivery of the last year
    first_year: int
    last_year: int


def _records(landing: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((landing / "submissions").glob("*.json"))]


def _choose(landing: Path) -> Held:
    records = _records(landing)
    years = sorted({r["mapping_year"] for r in records})
    assert len(years) >= 2, "the chain needs two mapping years"
    first, last = years[0], years[-1]
    municipal = [r for r in records if r["mapping_year"] == first and r["scope_type"] == "municipality"]
    by_scope: dict[str, list[dict]] = {}
    for r in municipal:
        by_scope.setdefault(r["scope"], []).append(r)
    resubmitted = [rs for rs in by_scope.values() if len(rs) > 1]
    assert resubmitted, "the chain has no resubmission in its first year"
    latest = max(resubmitted[0], key=lambda r: (r["delivered_on"], r["delivery_seq"]))
    covering: dict[str, set[str]] = {}
    for r in records:
        if r["mapping_year"] == first:
            for code in r["municipalities_covered"]:
                covering.setdefault(code, set()).add(r["submission_id"])
    own = [
        code
        for code, ids in sorted(covering.items())
        if all(r["scope"] == f"K{code}" for r in records if r["submission_id"] in ids) and f"K{code}" != latest["scope"]
    ]
    assert own, "no municipality is covered by its own deliveries only"
    return Held(
        resubmission=latest["submission_id"],
        new_municipality=sorted(covering[own[0]]),
        new_year=[r["submission_id"] for r in records if r["mapping_year"] == last],
        first_year=first,
        last_year=last,
    )


def _move(source: Path, target: Path, ids: list[str]) -> None:
    """Move submissions (partitions first, the record last, as ingest lands them) from one zone to another."""
    for sid in ids:
        for part in sorted(source.rglob(f"submission_id={sid}")):
            destination = target / part.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(part, destination)
    for sid in ids:
        (target / "submissions").mkdir(parents=True, exist_ok=True)
        shutil.move(source / "submissions" / f"{sid}.json", target / "submissions" / f"{sid}.json")


def _build(settings: Settings, *extra: str) -> str:
    result = run_cli("build", "--landing", str(settings.landing), "--warehouse", str(settings.warehouse), *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    return " ".join(result.stdout.split())


def _last_dbt_run(settings: Settings) -> tuple[str, str]:
    """(materialization of fct_person_year, dbt's log) of the last dbt invocation on the settings' warehouse."""
    folder = settings.warehouse.parent
    manifest = json.loads((folder / "dbt_target" / "manifest.json").read_text(encoding="utf-8"))
    log = (folder / "dbt_logs" / "dbt.log").read_text(encoding="utf-8")
    return manifest["nodes"]["model.brukerplan.fct_person_year"]["config"]["materialized"], log.split(
        "Running with dbt="
    )[-1]


def _last_results(settings: Settings) -> dict[str, str]:
    """unique_id -> compiled code of every node the last dbt invocation on the settings' warehouse ran."""
    results = json.loads((settings.warehouse.parent / "dbt_target" / "run_results.json").read_text(encoding="utf-8"))
    return {r["unique_id"]: r.get("compiled_code") or "" for r in results["results"]}


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[tuple]]:
    """Every base table outside meta (the build's own bookkeeping), and every view outside staging (whose views read
    the landing zone: compared through the tables built from them), with its columns, types and comments."""
    rows = con.execute(
        "select schema_name || '.' || table_name, column_name, data_type, comment from duckdb_columns() "
        "where database_name = ? and schema_name != 'meta' and table_name in (select table_name from "
        "duckdb_tables() where database_name = ? union all select view_name from duckdb_views() where "
        "database_name = ? and not internal and schema_name != 'staging') order by all",
        [catalog, catalog, catalog],
    ).fetchall()
    tables: dict[str, list[tuple]] = {}
    for name, *column in rows:
        tables.setdefault(name, []).append(tuple(column))
    return tables


def _differences(incremental: Path, full: Path) -> list[str]:
    """What differs between the two warehouses' tables (rows compared as multisets)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{incremental}' as inc (read_only)")
        con.execute(f"attach '{full}' as ful (read_only)")
        left, right = _tables(con, "inc"), _tables(con, "ful")
        found = [f"tables only in one: {sorted(set(left) ^ set(right))}"] if set(left) != set(right) else []
        for name in sorted(set(left) & set(right)):
            if left[name] != right[name]:
                found.append(f"{name}: columns differ")
                continue
            for a, b in (("inc", "ful"), ("ful", "inc")):
                extra = con.execute(
                    f"select count(*) from (select * from {a}.{name} except all select * from {b}.{name})"
                ).fetchone()[0]  # type: ignore[index]
                if extra:
                    found.append(f"{name}: {extra} row(s) in {a} only")
        assert len(right) > 20, f"too few tables compared: {sorted(right)}"
        return found
    finally:
        con.close()


def _regrouped(before: Path, after: Path, year: int) -> tuple[int, int]:
    """Groups of the returns (a municipality and a person, fct_return_person_year) with rows of other years on both
    sides that lost their row of `year` from `before` to `after`, and those that gained one: the groups an
    incremental build must rebuild across years (decisions W11)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{before}' as old (read_only)")
        con.execute(f"attach '{after}' as new (read_only)")
        counts = []
        group = (
            "{0}.returns.fct_return_person_year as in_{0} where in_{0}.municipality_code = g.municipality_code "
            "and in_{0}.person_id = g.person_id and in_{0}.mapping_year {1} " + str(year)
        )
        for a, b in (("old", "new"), ("new", "old")):
            sql = (
                f"select count(distinct (municipality_code, person_id)) from {a}.returns.fct_return_person_year as g "
                f"where mapping_year = {year} and not exists (select 1 from {group.format(b, '=')}) "
                f"and exists (select 1 from {group.format('old', '!=')}) "
                f"and exists (select 1 from {group.format('new', '!=')})"
            )
            counts.append(con.execute(sql).fetchone()[0])  # type: ignore[index]
        return counts[0], counts[1]
    finally:
        con.close()


def test_incremental_builds_equal_full_builds(tmp_path: Path, chain: ChainRun) -> None:
    settings = settings_under(tmp_path / "live")
    shutil.copytree(chain.settings.landing, settings.landing)
    held = _choose(settings.landing)
    aside = tmp_path / "aside"
    every_held = [held.resubmission, *held.new_municipality, *held.new_year]
    _move(settings.landing, aside, every_held)
    assert "full build (there is no warehouse yet)" in _build(settings)

    # a resubmission, a municipality new in the first year and the whole last year, in one incremental build
    _move(aside, settings.landing, every_held)
    said = _build(settings)
    assert f"incremental build: mapping years {held.first_year}, {held.last_year} " in said, said
    # the build years reached dbt, and without parsing the project again (decisions W8)
    materialized, log = _last_dbt_run(settings)
    assert materialized == "incremental"
    assert "Unable to do partial parsing" not in log and "Partial parsing enabled" in log, log[:2000]
    # the live seeds kept, the person-service view's tests on the build years only (decisions W13)
    ran = _last_results(settings)
    assert not [node for node in ran if node.startswith("seed.")]
    view_tests = {node: code for node, code in ran.items() if "_fct_person_year_service_" in node}
    assert view_tests and all(
        f"where mapping_year in ({held.first_year}, {held.last_year})" in code for code in view_tests.values()
    ), view_tests
    reference = settings_under(tmp_path / "reference", landing=settings.landing)
    assert "full build" in _build(reference)
    assert _last_dbt_run(reference)[0] == "table"
    assert [node for node in _last_results(reference) if node.startswith("seed.")]
    assert _differences(settings.warehouse, reference.warehouse) == []

    # nothing new: every per-year model keeps its rows, everything else is rebuilt
    said = _build(settings)
    assert "incremental build: mapping years none (0 new submission(s))" in said, said
    assert _differences(settings.warehouse, reference.warehouse) == []

    # a resubmission that withdraws persons the municipality registered in another year too, then one that brings
    # them back: their returns groups lose and regain a year, and are rebuilt in every year (decisions W11)
    for step, resubmission in enumerate(_withdrawn_and_back(settings, chain.root / "synth" / "extracts", tmp_path)):
        before = shutil.copyfile(settings.warehouse, tmp_path / f"before-{step}.duckdb")
        landed = run_cli("ingest", str(resubmission), "--landing", str(settings.landing))
        assert landed.returncode == 0, landed.stdout + landed.stderr
        said = _build(settings)
        assert f"incremental build: mapping years {held.first_year} (1 new submission(s))" in said, said
        moved = _regrouped(before, settings.warehouse, held.first_year)[step]
        assert moved > 0, f"step {step}: no returns group {('lost', 'regained')[step]} a year"
        assert "full build" in _build(reference, "--full")
        assert _differences(settings.warehouse, reference.warehouse) == []


def _withdrawn_and_back(settings: Settings, extracts: Path, folder: Path) -> tuple[Path, Path]:
    """Two resubmissions of the first year's municipal CSV extract (the current one of its municipality) whose persons
    the same municipality registered in most other years (fct_return_person_year): the first without those
    persons' rows, the second with every row again (in reverse order, so that its content is new)."""
    records = _records(settings.landing)
    year = min(r["mapping_year"] for r in records)
    current: dict[str, dict] = {}
    for r in sorted(records, key=lambda r: (r["delivered_on"], r["delivery_seq"])):
        if r["mapping_year"] == year and r["scope_type"] == "municipality":
            current[r["scope"]] = r  # the latest delivery of the municipality
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        followed = {
            r["submission_id"]: [
                row[0]
                for row in con.execute(
                    "select person_id from returns.fct_return_person_year as g where submission_id = ? and exists "
                    "(select 1 from returns.fct_return_person_year as other where other.municipality_code = "
                    "g.municipality_code and other.person_id = g.person_id and other.mapping_year != g.mapping_year)",
                    [r["submission_id"]],
                ).fetchall()
            ]
            for r in current.values()
            if r["format"] == "csv"
        }
    finally:
        con.close()
    chosen = max(current.values(), key=lambda r: (len(followed.get(r["submission_id"], [])), r["scope"]))
    persons = followed.get(chosen["submission_id"], [])
    assert persons, "no first-year municipal CSV holds a person its municipality registered in another year"
    header, *rows = (extracts / chosen["original_name"]).read_bytes().splitlines(keepends=True)
    kept = [row for row in rows if not any(p.encode() in row for p in persons)]
    assert 0 < len(kept) < len(rows), (chosen["original_name"], len(rows), len(kept))
    stem = f"BP{year}_{chosen['scope']}_{chosen['delivered_on'].replace('-', '')}"
    withdrawn, back = (folder / f"{stem}_{chosen['delivery_seq'] + seq}.csv" for seq in (1, 2))
    withdrawn.write_bytes(header + b"".join(kept))
    back.write_bytes(header + b"".join(reversed(rows)))
    return withdrawn, back


def test_an_untrusted_live_warehouse_gives_a_full_build(tmp_path: Path, chain: ChainRun) -> None:
    settings = settings_under(tmp_path / "live")
    shutil.copytree(chain.settings.landing, settings.landing)
    held = _choose(settings.landing)
    assert "full build (asked for with --full)" in _build(settings, "--full")
    # a submission the live warehouse read is gone: not the landing zone it was built from
    _move(settings.landing, tmp_path / "aside", [held.resubmission])
    assert "1 submission(s) the live warehouse read are not in the landing zone" in _build(settings)
    # the last dbt invocation on the live warehouse built only a selection
    result = run_cli(
        "build", "--landing", str(settings.landing), "--warehouse", str(settings.warehouse), "--select", "dim_area"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "last dbt invocation was not a green build of everything" in _build(settings)
