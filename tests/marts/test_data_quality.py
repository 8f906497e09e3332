"""mart_data_quality on the generator's malformed files (synth --bad-inputs, expected outcomes in
DIR/bad/expected.json): rejected rows per file and rule, and quarantined files attributed to their scope."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from brukerplan.warehouse.dbt_runner import run_dbt
from tests.support import built_once, run_cli, settings_under

pytestmark = pytest.mark.slow

RULES = ["R01", "R02", "R03", "R04", "R05", "R06", "R07"]


def _build(root: Path) -> dict:
    settings = settings_under(root)
    synth = run_cli("synth", "--out", str(root / "synth"), "--scale", "0.01", "--years", "2019-2020", "--bad-inputs")
    assert synth.returncode == 0, synth.stdout + synth.stderr
    ingest = run_cli("ingest", str(root / "synth" / "bad"), "--landing", str(settings.landing))
    assert ingest.returncode == 1, ingest.stdout + ingest.stderr  # some files are quarantined by design
    paths = {"target_path": root / "dbt_target", "log_path": root / "dbt_logs"}
    for step in (["seed"], ["run", "--select", "+mart_data_quality"]):
        outcome = run_dbt(step, settings, **paths)
        assert outcome.success, outcome.failures
    return {"built": True}


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path, dict]]:
    root, _ = built_once(tmp_path_factory, "marts_bad_inputs", _build)
    bad = root / "synth" / "bad"
    expected = json.loads((bad / "expected.json").read_text(encoding="utf-8"))
    con = duckdb.connect(str(settings_under(root).warehouse), read_only=True)
    yield con, bad, expected
    con.close()


def test_rejected_rows_per_file_and_rule(bad_run: tuple[duckdb.DuckDBPyConnection, Path, dict]) -> None:
    con, _bad, expected = bad_run
    landed = [f for f in expected["files"] if f["outcome"] == "landed"]
    assert landed
    for spec in landed:
        row = con.execute(
            f"""select sum(registrations_raw), sum(registrations_landed), sum(rejected),
                       {", ".join(f"sum(rejected_{r.lower()})" for r in RULES)}
                from marts.mart_data_quality where source_file = ? and not is_quarantined""",
            [spec["file"]],
        ).fetchone()
        by_rule = Counter(r["rule_id"] for r in spec["rejected"])
        assert row[0:3] == (spec["data_rows"], spec["rows_landed"], spec["rows_rejected"]), spec["file"]
        assert list(row[3:]) == [by_rule.get(r, 0) for r in RULES], spec["file"]


def test_quarantined_files_are_attributed_to_their_scope(bad_run: tuple[duckdb.DuckDBPyConnection, Path, dict]) -> None:
    con, bad, expected = bad_run
    quarantined = [f for f in expected["files"] if f["outcome"] == "quarantined"]
    assert quarantined
    for spec in quarantined:
        submission_id = hashlib.sha256((bad / spec["file"]).read_bytes()).hexdigest()[:16]
        rows = con.execute(
            """select municipality_code_registered, mapping_year, quarantine_rule_id, quarantined_files,
                      registrations_raw, persons
               from marts.mart_data_quality where submission_id = ?""",
            [submission_id],
        ).fetchall()
        name = spec["file"].upper()
        if not name.startswith("BP"):
            assert rows == [], f"{spec['file']}: a file without year and scope in its name is attributable to none"
            continue
        year, scope = int(name[2:6]), name.split("_")[1]
        in_scope = con.execute(
            """select count(*) from intermediate.int_population
               where year = ? and (? = 'NO' or municipality_code_registered like ? || '%')""",
            [year, scope, scope[1:] if scope != "NO" else ""],
        ).fetchone()[0]
        assert in_scope > 0
        assert len(rows) == in_scope, spec["file"]
        for code, row_year, rule_id, files, raw, persons in rows:
            assert (row_year, rule_id, files, raw, persons) == (year, spec["rule_id"], 1, 0, 0), spec["file"]
            if scope.startswith("K"):
                assert code == scope[1:]
            elif scope.startswith("F"):
                assert code[:2] == scope[1:]
