"""Row rejects R01-R07 (extract-format.md §5, §6) with the exact file rows, one rule per row (the lowest)."""

from __future__ import annotations

import pytest

from tests.ingest.conftest import read_landed
from tests.ingest.fixtures import rows_of, write_csv, write_xlsx

N = 100  # ten rejects are exactly 10 %: the file still lands


def _rejects(landing):
    return sorted(
        (r["source_row"], r["rule_id"], r["column_name"], r["value"]) for r in read_landed(landing, "rejects")
    )


def _land(run_ingest, path):
    [f] = run_ingest([path]).files
    assert f.status == "landed", f.message
    return f


def test_v2_every_rule_at_its_row(extracts, run_ingest, tmp_settings):
    rows = rows_of("v2", N)
    # csv: header is row 1, rows[i] is file row i + 2
    rows[0]["Pseudonym"] = ""  # row 2: R01
    rows[1]["Pseudonym"] = "XYZ"  # row 3: R01 not 16 hex
    rows[2]["Kommunenr"] = "0101"  # row 4: R02 Halden ended 2020, but this is a K0301 file -> scope
    rows[3]["Fødselsår"] = "2010"  # row 5: R03 age 6
    rows[4]["Kjønn"] = "X"  # row 6: R04
    rows[5]["Kartleggingsdato"] = "15.03.2015"  # row 7: R05 other year
    rows[6]["RegNr"] = "R1"  # row 8: R06 repeat of row 2's id
    rows[7]["Gravid"] = "J"  # row 9: R07 pregnant man
    rows[8]["Kjønn"] = "X"  # row 10: R04 and R03 -> R03 (lowest)
    rows[8]["Fødselsår"] = ""
    rows[9]["Barn under 18"] = "N"  # row 11: R07 two children but no children
    path = write_csv(extracts / "BP2016_K0301_20161201.csv", rows)
    f = _land(run_ingest, path)
    assert (f.rows_read, f.rows_landed, f.rows_rejected) == (N, N - 10, 10)
    assert _rejects(tmp_settings.landing) == [
        (2, "R01", "Pseudonym", None),
        (3, "R01", "Pseudonym", "XYZ"),
        (4, "R02", "Kommunenr", "0101"),
        (5, "R03", "Fødselsår", "2010"),
        (6, "R04", "Kjønn", "X"),
        (7, "R05", "Kartleggingsdato", "15.03.2015"),
        (8, "R06", "RegNr", "R1"),
        (9, "R07", "Gravid", "J"),
        (10, "R03", "Fødselsår", None),
        (11, "R07", "Antall barn", "2"),
    ]
    messages = {r["source_row"]: r["message"] for r in read_landed(tmp_settings.landing, "rejects")}
    assert messages[6] == (
        "BP2016_K0301_20161201.csv, row 6, column 'Kjønn': value 'X' is not a valid sex (expected m/k in layout v2)"
    )
    assert "also breaks R04" in messages[10]
    landed_rows = {r["source_row"] for r in read_landed(tmp_settings.landing)}
    assert landed_rows.isdisjoint(range(2, 12)) and len(landed_rows) == N - 10
    rejects = read_landed(tmp_settings.landing, "rejects")
    raw = dict(next(r for r in rejects if r["source_row"] == 6)["raw"])
    assert raw["Kjønn"] == "X" and raw["RegNr"] == "R5"


def test_r02_county_in_force_and_unknown(extracts, run_ingest, tmp_settings):
    rows = rows_of("v3", N)
    rows[0]["kommunenummer"] = "1103"  # Stavanger: in force, but not in county 03
    rows[1]["kommunenummer"] = "9999"  # unknown
    rows[2]["kommunenummer"] = "0101"  # Halden 0101 ended 1 January 2020: not in force in 2021
    rows[3]["kommunenummer"] = ""  # blank municipality
    rows[4]["kommunenummer"] = "301"  # zero-padded: fine
    path = write_csv(extracts / "BP2021_F03_20211201.csv", rows, delimiter=",")
    _land(run_ingest, path)
    assert [(r, rule) for r, rule, _, _ in _rejects(tmp_settings.landing)] == [
        (2, "R02"),
        (3, "R02"),
        (4, "R02"),
        (5, "R02"),
    ]


def test_r02_not_in_force_in_national_file(extracts, run_ingest, tmp_settings):
    rows = rows_of("v3", N)
    rows[0]["kommunenummer"] = "0101"
    rows[1]["kommunenummer"] = "3001"  # Halden from 2020: in force
    path = write_csv(extracts / "BP2021_NO_20211201.csv", rows)
    _land(run_ingest, path)
    assert [(r, rule) for r, rule, _, _ in _rejects(tmp_settings.landing)] == [(2, "R02")]


def test_v3_codes_lists_and_dates(extracts, run_ingest, tmp_settings):
    rows = rows_of("v3", N)
    rows[0]["tjenester_mottatt"] = "ingen;lar"  # R04: ingen only alone
    rows[1]["tjenester_anbefalt"] = "lar;teleportering"  # R04: unknown service code
    rows[2]["kartlagt_dato"] = "44000"  # R05: an all-digit text is not a date
    rows[3]["kartlagt_dato"] = "2021-02-30"  # R05: unparsable
    rows[4]["instans_kode"] = "11"  # R04 agency
    rows[5]["antall_barn"] = "21"  # R04 n_children
    rows[6]["levekar_bolig"] = ""  # blank colour = unknown: lands
    rows[7]["instans_kode"] = "3"  # zero-padded: lands
    rows[8]["pseudo_id"] = "0123456789ABCDEF"  # lower-cased: lands
    rows[9]["malgruppe"] = ""  # R04: blank target group
    path = write_csv(extracts / "BP2021_K0301_20211201.csv", rows)
    _land(run_ingest, path)
    assert [(r, rule, col) for r, rule, col, _ in _rejects(tmp_settings.landing)] == [
        (2, "R04", "tjenester_mottatt"),
        (3, "R04", "tjenester_anbefalt"),
        (4, "R05", "kartlagt_dato"),
        (5, "R05", "kartlagt_dato"),
        (6, "R04", "instans_kode"),
        (7, "R04", "antall_barn"),
        (11, "R04", "malgruppe"),
    ]
    landed = {r["source_row"]: r for r in read_landed(tmp_settings.landing)}
    assert landed[8]["area_housing"] == "unknown"
    assert landed[9]["agency_code"] == "03"
    assert landed[10]["person_id"] == "0123456789abcdef"


def test_v1_xlsx_digit_text_date_is_r05_but_serial_number_lands(extracts, run_ingest, tmp_settings):
    rows = rows_of("v1", N, with_municipality=False)
    rows[0]["Dato"] = "41348"  # written as TEXT below: R05
    rows[1]["Dato"] = "15.03.2013"  # written as a serial number: lands
    rows[2]["T01 mottatt"] = "2"  # R04 service flag
    rows[3]["Levekårsindeks"] = "5"  # R04 index (v1 knows 1-4)
    rows[4]["Levekårsindeks"] = "4"  # blue: lands
    rows[5]["Instans"] = ""  # R04 blank agency
    path = write_xlsx(
        extracts / "BP2013_K0301_20131201.xlsx",
        rows,
        title_rows=["BrukerPlan 2013"],
        dates={"Dato": "serial"},
        numeric=["Instans"],
    )
    _land(run_ingest, path)
    # one title row: header in row 2, rows[i] in row i + 3
    assert [(r, rule, col) for r, rule, col, _ in _rejects(tmp_settings.landing)] == [
        (3, "R05", "Dato"),
        (5, "R04", "T01 mottatt"),
        (6, "R04", "Levekårsindeks"),
        (8, "R04", "Instans"),
    ]
    landed = {r["source_row"]: r for r in read_landed(tmp_settings.landing)}
    assert landed[7]["living_index"] == "blue"
    assert all(r["municipality_code"] == "0301" for r in landed.values())


def test_r06_rejects_every_repeat_whatever_became_of_the_first(extracts, run_ingest, tmp_settings):
    rows = rows_of("v2", N)
    rows[0]["Kjønn"] = "X"  # first R1 is rejected (R04)
    rows[1]["RegNr"] = "R1"  # still a repeat
    rows[2]["RegNr"] = " R1 "  # trimmed: a repeat
    rows[3]["RegNr"] = "r1"  # case-sensitive: not a repeat
    path = write_csv(extracts / "BP2016_K0301_20161201.csv", rows)
    _land(run_ingest, path)
    assert [(r, rule) for r, rule, _, _ in _rejects(tmp_settings.landing)] == [(2, "R04"), (3, "R06"), (4, "R06")]


@pytest.mark.parametrize(("rejected", "status"), [(10, "landed"), (11, "quarantined")])
def test_q07_threshold_is_strictly_above(rejected, status, extracts, run_ingest, tmp_settings):
    rows = rows_of("v2", N)
    for i in range(rejected):
        rows[i]["Kjønn"] = "?"
    path = write_csv(extracts / "BP2016_K0301_20161201.csv", rows)
    [f] = run_ingest([path]).files
    assert f.status == status
    if status == "quarantined":
        assert f.rule_id == "Q07"
        assert read_landed(tmp_settings.landing) == []
    else:
        assert f.rows_rejected == 10


def test_reject_threshold_is_a_setting(extracts, run_ingest, tmp_settings):
    rows = rows_of("v2", N)
    for i in range(5):
        rows[i]["Kjønn"] = "?"
    path = write_csv(extracts / "BP2016_K0301_20161201.csv", rows)
    strict = tmp_settings.__class__.load(environ={"BRUKERPLAN_REJECT_THRESHOLD": "0.04"}, landing=tmp_settings.landing)
    [f] = run_ingest([path], settings=strict).files
    assert (f.status, f.rule_id) == ("quarantined", "Q07")
