"""Files are mapped in batches (decisions I14), read ahead in threads and validated in the background (I15): none of
it may change an outcome. A run whose files are mapped one at a time and a run that maps them all together land
the same rows, rejects, records, validation results and quarantine reports, and report the same statuses; an
earlier file of the same batch is settled before a later one is compared with it (same bytes, same delivery key)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from brukerplan.ingest.pipeline import Ingestor, RunResult
from brukerplan.ingest.validation import ValidationOutcome
from brukerplan.settings import Settings
from tests.ingest.fixtures import rows_of, write_csv, write_xlsx
from tests.support import settings_under

N = 30


class Accepting:
    """A validator that passes every table (the suite itself is not what these tests are about)."""

    def validate(self, table: pa.Table) -> ValidationOutcome:
        return ValidationOutcome(True, {"success": True, "rows": table.num_rows})


def _folder(extracts: Path) -> None:
    """Every layout and format, rejects, extra columns, blank rows, and the rules that compare files of one run."""
    v2 = rows_of("v2", N)
    v2[2]["Kjønn"] = "X"  # R04
    v2[7]["Fødselsår"] = "2010"  # R03
    for row in v2:
        row["Kommentar"] = "sjekk" if row["RegNr"] == "R4" else ""
    write_csv(extracts / "BP2016_K0301_20161201.csv", v2)
    (extracts / "copy").mkdir()
    (extracts / "copy" / "kopi.csv").write_bytes((extracts / "BP2016_K0301_20161201.csv").read_bytes())
    later = rows_of("v2", N + 1)
    later[4] = {k: "" for k in later[4]}  # a fully empty row
    write_xlsx(
        extracts / "BP2016_K0301_20161202.xlsx",
        later,
        title_rows=["BrukerPlan 2016", None],
        numeric=["Kommunenr", "Fødselsår"],
        dates={"Kartleggingsdato": "typed"},
    )
    write_csv(extracts / "bp2016_k0301_20161201.CSV", rows_of("v2", N + 2))  # same key, other bytes: Q09
    too_many = rows_of("v2", N)
    for row in too_many[:10]:
        row["Kjønn"] = "?"  # a third of the rows: Q07
    write_csv(extracts / "BP2016_K0301_20161203.CSV", too_many, delimiter="\t")
    (extracts / "copy" / "kopi_q07.csv").write_bytes((extracts / "BP2016_K0301_20161203.CSV").read_bytes())
    write_csv(extracts / "BP2016_K0301_20161203.csv", rows_of("v2", N - 1))  # same key as the Q07 file: lands
    v3 = rows_of("v3", N)
    v3[0]["kommunenummer"] = "1103"  # R02: not in county 03
    v3[1]["registrering_id"] = "R1"  # R06
    write_csv(extracts / "BP2021_F03_20211201.csv", v3, delimiter=",", encoding="utf-8-sig")
    write_xlsx(
        extracts / "BP2013_K0301_20131201.xlsx",
        rows_of("v1", N, with_municipality=False),
        dates={"Dato": "serial"},
        numeric=["Instans"],
    )
    write_csv(extracts / "BP2021_K0301_20211201.csv", [dict.fromkeys(rows_of("v3", 1)[0], "")] * 3)  # Q04


def _run(extracts: Path, settings: Settings, **batches: int) -> RunResult:
    return Ingestor(settings, validator=Accepting(), **batches).run([extracts], lock_timeout=30)


def _landed(landing: Path) -> dict[str, object]:
    """Everything the run left in the zone, with its own times (ingested_at, quarantined_at) left out."""
    out: dict[str, object] = {}
    for path in sorted(p for p in landing.rglob("*") if p.is_file() and p.name != ".lock"):
        name = path.relative_to(landing).as_posix()
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            out[name] = (str(table.schema), table.drop_columns(["ingested_at"]).to_pylist())
        elif path.suffix == ".json":
            payload = json.loads(path.read_text(encoding="utf-8"))
            payload.pop("ingested_at", None)
            payload.pop("quarantined_at", None)
            out[name] = payload
        elif path.name == "report.md":
            out[name] = [line for line in path.read_text(encoding="utf-8").splitlines() if "Quarantined at" not in line]
        else:
            out[name] = path.read_bytes()
    return out


def test_batches_change_no_outcome(extracts, tmp_path):
    _folder(extracts)
    alone = _run(extracts, settings_under(tmp_path / "alone"), map_rows=1, map_files=1)
    together = _run(extracts, settings_under(tmp_path / "together"), map_rows=10**9, map_files=10**9)
    statuses = [(f.name, f.status, f.rule_id, f.rows_read, f.rows_landed, f.rows_rejected) for f in alone.files]
    assert statuses == [
        (f.name, f.status, f.rule_id, f.rows_read, f.rows_landed, f.rows_rejected) for f in together.files
    ]
    by_name = {f.path.relative_to(extracts).as_posix(): (f.status, f.rule_id) for f in together.files}
    assert by_name == {
        "BP2013_K0301_20131201.xlsx": ("landed", None),
        "BP2016_K0301_20161201.csv": ("landed", None),
        "bp2016_k0301_20161201.CSV": ("quarantined", "Q09"),
        "BP2016_K0301_20161202.xlsx": ("landed", None),
        "BP2016_K0301_20161203.CSV": ("quarantined", "Q07"),
        "BP2016_K0301_20161203.csv": ("landed", None),  # the earlier file with its key was quarantined
        "BP2021_F03_20211201.csv": ("landed", None),
        "BP2021_K0301_20211201.csv": ("quarantined", "Q04"),
        "copy/kopi.csv": ("already landed", None),
        "copy/kopi_q07.csv": ("already quarantined", "Q07"),
    }
    assert _landed(settings_under(tmp_path / "alone").landing) == _landed(settings_under(tmp_path / "together").landing)


@pytest.mark.parametrize("map_files", [1, 3, 100])
def test_rejects_and_extra_cells_are_each_files_own(extracts, tmp_path, map_files):
    _folder(extracts)
    settings = settings_under(tmp_path / "zone")
    _run(extracts, settings, map_files=map_files)
    rejects = [row for part in settings.landing.glob("rejects/**/*.parquet") for row in pq.read_table(part).to_pylist()]
    got = sorted((r["source_file"], r["source_row"], r["rule_id"], r["column_name"], r["value"]) for r in rejects)
    assert got == [
        ("BP2016_K0301_20161201.csv", 4, "R04", "Kjønn", "X"),
        ("BP2016_K0301_20161201.csv", 9, "R03", "Fødselsår", "2010"),
        ("BP2021_F03_20211201.csv", 2, "R02", "kommunenummer", "1103"),
        ("BP2021_F03_20211201.csv", 3, "R06", "registrering_id", "R1"),
    ]
    message = next(r["message"] for r in rejects if r["rule_id"] == "R02")
    assert message == (
        "BP2021_F03_20211201.csv, row 2, column 'kommunenummer': value '1103' is not in county 03 "
        "(the file's scope F03)"
    )
    registrations = [
        row for part in settings.landing.glob("registrations/**/*.parquet") for row in pq.read_table(part).to_pylist()
    ]
    extra = {(r["source_file"], r["registration_id"]): dict(r["extra"]) for r in registrations if r["extra"]}
    assert extra == {("BP2016_K0301_20161201.csv", "R4"): {"Kommentar": "sjekk"}}
    xlsx_rows = sorted(r["source_row"] for r in registrations if r["source_file"] == "BP2016_K0301_20161202.xlsx")
    assert xlsx_rows == [*range(4, 8), *range(9, 35)]  # two title rows, header in row 3; row 8 is empty
