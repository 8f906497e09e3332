"""Every layout in every format lands, whatever the file's encoding, delimiter, title rows or cell types."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest

from tests.ingest.conftest import read_landed
from tests.ingest.fixtures import YEAR_OF, rows_of, write_csv, write_xlsx

N = 12

CSV_VARIANTS = {
    "utf8-semicolon": {"delimiter": ";", "encoding": "utf-8"},
    "bom-comma-quoted": {"delimiter": ",", "encoding": "utf-8-sig", "quote": True},
    "cp1252-tab-title": {"delimiter": "\t", "encoding": "cp1252", "title_lines": ["BrukerPlan eksport", ""]},
}


def _expected_agency(layout: str) -> str:
    return {"v1": "01", "v2": "03", "v3": "03"}[layout]


@pytest.mark.parametrize("layout", ["v1", "v2", "v3"])
@pytest.mark.parametrize("variant", sorted(CSV_VARIANTS))
def test_csv_lands_every_row(layout, variant, extracts, run_ingest, tmp_settings):
    year = YEAR_OF[layout]
    rows = rows_of(layout, N)
    options = CSV_VARIANTS[variant]
    path = write_csv(extracts / f"BP{year}_F03_{year}1201.csv", rows, **options)
    result = run_ingest([path])
    [f] = result.files
    assert (f.status, f.layout, f.fmt, f.rows_read, f.rows_landed, f.rows_rejected) == (
        "landed",
        layout,
        "csv",
        N,
        N,
        0,
    )
    landed = read_landed(tmp_settings.landing)
    assert len(landed) == N
    first = min(landed, key=lambda r: r["source_row"])
    header_row = 1 + len(options.get("title_lines", []))
    assert first["source_row"] == header_row + 1
    assert first["registration_id"] == "R1"
    assert first["municipality_code"] == "0301"
    assert first["agency_code"] == _expected_agency(layout)
    assert first["mapped_on"] == date(year, 3, 15)
    assert first["sex"] == "M" and first["target_group"] == "rus"
    assert first["area_housing"] == "green" and first["living_index"] == "yellow"
    assert first["source_sheet"] is None and first["layout"] == layout and first["mapping_year"] == year


def test_v1_xlsx_municipal_without_kommunenr_numeric_cells_serial_dates(extracts, run_ingest, tmp_settings):
    rows = rows_of("v1", N, with_municipality=False)
    for i, row in enumerate(rows):
        row["Løpenr"] = str(1000 + i)
    path = write_xlsx(
        extracts / "BP2013_K0301_20131201.xlsx",
        rows,
        sheet="Ark1",
        title_rows=["BrukerPlan 2013 – 0301 Oslo", None, "Kartlegging"],
        numeric=["Løpenr", "Instans", "Kjønn", "Fødselsår", "Bosituasjon", "T01 mottatt"],
        dates={"Dato": "serial"},
    )
    [f] = run_ingest([path]).files
    assert (f.status, f.rows_landed, f.rows_rejected, f.layout, f.fmt) == ("landed", N, 0, "v1", "xlsx")
    landed = sorted(read_landed(tmp_settings.landing), key=lambda r: r["source_row"])
    assert landed[0]["source_row"] == 5  # three title rows, header in row 4
    assert landed[0]["registration_id"] == "1000"  # a numeric cell is written without decimals
    assert landed[0]["municipality_code"] == "0301"  # from the file scope
    assert landed[0]["agency_code"] == "01"  # 1 -> 01
    assert landed[0]["mapped_on"] == date(2013, 3, 15)  # Excel serial number
    assert landed[0]["source_sheet"] == "Ark1"
    assert landed[0]["services_received"][0] == "home_nursing"


def test_v2_xlsx_typed_dates_lost_zeros_extra_columns_blank_rows(extracts, run_ingest, tmp_settings):
    rows = rows_of("v2", N)
    for row in rows:
        row["Kommunenr"] = "301"
        row["Kommentar"] = "ok"
    rows[3]["Kommentar"] = ""
    rows[5] = {k: "" for k in rows[5]}  # a fully empty row: skipped, counts nowhere
    path = write_xlsx(
        extracts / "BP2016_K0301_20161201.xlsx",
        rows,
        sheet="Data",
        title_rows=["BrukerPlan 2016"],
        numeric=["Kommunenr", "Fødselsår"],
        dates={"Kartleggingsdato": "typed"},
    )
    [f] = run_ingest([path]).files
    assert (f.status, f.rows_read, f.rows_landed) == ("landed", N - 1, N - 1)
    landed = sorted(read_landed(tmp_settings.landing), key=lambda r: r["source_row"])
    assert [r["source_row"] for r in landed] == [3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14]
    assert {r["municipality_code"] for r in landed} == {"0301"}
    assert {r["mapped_on"] for r in landed} == {date(2016, 3, 15)}
    assert dict(landed[0]["extra"]) == {"Kommentar": "ok"}
    assert dict(landed[3]["extra"]) == {}  # blank unmapped cell: not in the map
    assert landed[0]["education"] == "higher" and landed[0]["income_source"] == "benefits"


def test_v3_xlsx_and_text_dates_in_the_other_form(extracts, run_ingest, tmp_settings):
    rows = rows_of("v3", N)
    rows[0]["kartlagt_dato"] = "15.03.2021"  # dd.mm.yyyy is accepted in v3 too
    path = write_xlsx(extracts / "BP2021_K0301_20211201.xlsx", rows, sheet="Kartlegging")
    v2rows = rows_of("v2", N)
    v2rows[0]["Kartleggingsdato"] = "2016-03-15"  # ISO accepted in v2
    path2 = write_csv(extracts / "BP2016_K0301_20161201.csv", v2rows)
    result = run_ingest([path, path2])
    assert [(f.status, f.rows_landed) for f in result.files] == [("landed", N), ("landed", N)]
    landed = read_landed(tmp_settings.landing)
    assert {r["mapped_on"] for r in landed} == {date(2016, 3, 15), date(2021, 3, 15)}
    v3 = [r for r in landed if r["layout"] == "v3"]
    assert v3[0]["services_received"] == ["home_nursing", "lar"]
    assert v3[0]["services_recommended"] == []  # 'ingen' alone = none


def test_header_matching_ignores_case_whitespace_and_normal_form(extracts, run_ingest, tmp_settings):
    rows = rows_of("v2", N)
    header = list(rows[0].keys())
    decomposed = {h: " " + unicodedata.normalize("NFD", h.upper()) + " " for h in header}
    assert decomposed["Målgruppe"] != " MÅLGRUPPE "  # Å written as A + combining ring
    renamed = [{decomposed[h]: v for h, v in r.items()} for r in rows]
    path = write_csv(extracts / "BP2016_K0301_20161201.csv", renamed)
    [f] = run_ingest([path]).files
    assert (f.status, f.layout, f.rows_landed) == ("landed", "v2", N)


def test_services_unknown_only_when_every_cell_is_blank(extracts, run_ingest, tmp_settings):
    rows = rows_of("v2", N)
    flags = [h for h in rows[0] if h.endswith(" - mottatt")]
    for h in flags:
        rows[0][h] = ""  # all received cells blank: unknown
    for h in flags[1:]:
        rows[1][h] = ""  # first cell J, others blank: blank = not received
    rows[1][flags[0]] = "J"
    path = write_csv(extracts / "BP2016_K0301_20161201.csv", rows)
    run_ingest([path])
    landed = {r["registration_id"]: r for r in read_landed(tmp_settings.landing)}
    assert landed["R1"]["services_received"] is None
    assert landed["R2"]["services_received"] == ["home_nursing"]
    assert landed["R1"]["services_recommended"] is not None
