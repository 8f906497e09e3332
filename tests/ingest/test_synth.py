"""Everything `brukerplan synth` writes lands (zero rejects), and each bad input gives the outcome in its
expected.json (rows, rules and columns of the rejects, quarantine rules, duplicates)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from brukerplan.settings import Settings
from tests.ingest.conftest import read_landed
from tests.support import run_cli, settings_under

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def synth_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    done = run_cli("synth", "--out", str(out), "--scale", "0.01", "--years", "2013-2024", "--bad-inputs")
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_every_synthetic_extract_lands_without_rejects(synth_out, run_ingest, tmp_settings):
    files = sorted(p.name for p in (synth_out / "extracts").iterdir())
    result = run_ingest([synth_out / "extracts"])
    assert len(result.files) == len(files) > 100
    assert {f.status for f in result.files} == {"landed"}
    assert sum(f.rows_rejected for f in result.files) == 0
    landed = read_landed(tmp_settings.landing)
    assert len(landed) == sum(f.rows_read for f in result.files)
    assert {r["layout"] for r in landed} == {"v1", "v2", "v3"}


def test_each_bad_input_gives_its_expected_outcome(synth_out, run_ingest, tmp_settings: Settings, tmp_path: Path):
    expected = json.loads((synth_out / "bad" / "expected.json").read_text(encoding="utf-8"))
    settings = settings_under(tmp_path, reject_threshold=expected["reject_threshold"])
    assert settings.landing == tmp_settings.landing
    result = run_ingest([synth_out / "bad"], settings=settings)
    got = {f.name: f for f in result.files}
    rejects: dict[str, list[tuple]] = {}
    for part in tmp_settings.landing.glob("rejects/year=*/submission_id=*/part-0.parquet"):
        for row in pq.read_table(part).to_pylist():
            rejects.setdefault(row["source_file"], []).append((row["source_row"], row["rule_id"], row["column_name"]))
    assert sorted(got) == sorted(e["file"] for e in expected["files"])
    for e in expected["files"]:
        f = got[e["file"]]
        if e["outcome"] == "landed":
            assert (f.status, f.rows_read, f.rows_landed, f.rows_rejected) == (
                "landed",
                e["data_rows"],
                e["rows_landed"],
                e["rows_rejected"],
            ), e["file"]
            want = sorted((r["row"], r["rule_id"], r["column"]) for r in e["rejected"])
            assert sorted(rejects.get(e["file"], [])) == want, e["file"]
        elif e["outcome"] == "quarantined":
            assert (f.status, f.rule_id) == ("quarantined", e["rule_id"]), (e["file"], f.message)
        else:
            assert e["outcome"] == "duplicate"
            first = got[e["duplicate_of"]]
            assert f.status == ("already landed" if first.status == "landed" else "already quarantined"), e["file"]
