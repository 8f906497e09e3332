"""File quarantines Q01-Q09 (extract-format.md §5): nothing lands, the file is kept byte for byte with a report;
the same bytes again are recognised before any other rule."""

from __future__ import annotations

import json

import pyarrow as pa

from brukerplan.codes import load_codebook
from brukerplan.ingest.validation import ValidationOutcome
from tests.ingest.conftest import read_landed
from tests.ingest.fixtures import headers, rows_of, write_csv, write_xlsx

N = 20


def _quarantined(run_ingest, path, landing, rule):
    [f] = run_ingest([path]).files
    assert (f.status, f.rule_id) == ("quarantined", rule), f.message
    folder = landing / "quarantine"
    [q] = [p for p in folder.iterdir()]
    assert (q / path.name).read_bytes() == path.read_bytes()
    report = json.loads((q / "report.json").read_text(encoding="utf-8"))
    assert report["rule_id"] == rule and report["original_name"] == path.name and report["sha256"] == q.name
    assert rule in (q / "report.md").read_text(encoding="utf-8")
    assert read_landed(landing) == [] and list((landing / "submissions").iterdir()) == []
    return f, report


def test_q01_not_an_xlsx(extracts, run_ingest, tmp_settings):
    path = extracts / "BP2016_K0301_20161201.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    _quarantined(run_ingest, path, tmp_settings.landing, "Q01")


def test_q01_binary_csv(extracts, run_ingest, tmp_settings):
    path = extracts / "BP2016_K0301_20161201.csv"
    path.write_bytes(bytes(range(256)) * 4)
    f, _ = _quarantined(run_ingest, path, tmp_settings.landing, "Q01")
    assert "BP2016_K0301_20161201.csv" in f.message


def test_q01_undecodable_text(extracts, run_ingest, tmp_settings):
    path = extracts / "BP2016_K0301_20161201.csv"
    # 0x81 and 0x8d are undefined in Windows-1252 and invalid in UTF-8
    path.write_bytes(b"RegNr;Pseudonym\n" + b"\x81\x8d;x\n")
    _quarantined(run_ingest, path, tmp_settings.landing, "Q01")


def test_q02_no_header_in_first_20_non_empty_rows(extracts, run_ingest, tmp_settings):
    rows = rows_of("v2", N)
    titles = [f"tittel {i}" for i in range(20)] + [""]  # 20 non-empty rows before the header
    path = write_csv(extracts / "BP2016_K0301_20161201.csv", rows, title_lines=titles)
    _quarantined(run_ingest, path, tmp_settings.landing, "Q02")


def test_header_after_19_title_rows_and_empty_rows_is_found(extracts, run_ingest, tmp_settings):
    rows = rows_of("v2", N)
    titles = [x for i in range(19) for x in (f"tittel {i}", "")]  # empty rows count nowhere
    path = write_csv(extracts / "BP2016_K0301_20161201.csv", rows, title_lines=titles)
    [f] = run_ingest([path]).files
    assert (f.status, f.rows_landed) == ("landed", N)
    assert min(r["source_row"] for r in read_landed(tmp_settings.landing)) == 2 * 19 + 2


def test_q02_tie_between_layouts(extracts, run_ingest, tmp_settings):
    book = load_codebook()
    r1, r2, r3 = (book.layouts[n].required_headers for n in ("v1", "v2", "v3"))
    assert len(r2) == len(r3)
    # the same number of v2 and v3 required headers (over half of each): equal shares, a tie
    v2_first = sorted(r2, key=lambda h: h in r1)  # headers v1 lacks first, so v1 stays below
    take = len(r2) // 2 + 1
    header = v2_first[:take] + list(r3)[:take]
    rows = [dict.fromkeys(header, "1") for _ in range(3)]
    path = write_csv(extracts / "BP2016_K0301_20161201.csv", rows, header=header)
    f, _ = _quarantined(run_ingest, path, tmp_settings.landing, "Q02")
    assert "several layouts" in f.message


def test_q03_required_column_missing(extracts, run_ingest, tmp_settings):
    rows = rows_of("v2", N)
    for r in rows:
        del r["Fødselsår"]
    path = write_csv(extracts / "BP2016_K0301_20161201.csv", rows)
    f, report = _quarantined(run_ingest, path, tmp_settings.landing, "Q03")
    assert "'Fødselsår'" in f.message and report["details"]["missing"] == ["Fødselsår"]


def test_q03_v1_kommunenr_required_outside_municipal_scope(extracts, run_ingest, tmp_settings):
    rows = rows_of("v1", N, with_municipality=False)
    path = write_csv(extracts / "BP2013_F03_20131201.csv", rows)
    f, _ = _quarantined(run_ingest, path, tmp_settings.landing, "Q03")
    assert "'Kommunenr'" in f.message


def test_q04_no_data_rows(extracts, run_ingest, tmp_settings):
    rows = [dict.fromkeys(headers("v3"), "")]
    path = write_xlsx(extracts / "BP2021_K0301_20211201.xlsx", rows, title_rows=["BrukerPlan 2021"])
    _quarantined(run_ingest, path, tmp_settings.landing, "Q04")


def test_q05_bad_name_lands_nothing_and_comes_last(extracts, run_ingest, tmp_settings):
    good = write_csv(extracts / "BP2016_K0301_20161201.csv", rows_of("v2", N))
    bad = write_csv(extracts / "Kartlegging Oslo 2016.csv", rows_of("v2", N + 1))
    result = run_ingest([extracts])
    assert [(f.name, f.status, f.rule_id) for f in result.files] == [
        (good.name, "landed", None),
        (bad.name, "quarantined", "Q05"),
    ]


def test_q06_layout_not_of_the_year(extracts, run_ingest, tmp_settings):
    path = write_csv(extracts / "BP2016_K0301_20161201.csv", rows_of("v3", N, year=2016))
    _f, report = _quarantined(run_ingest, path, tmp_settings.landing, "Q06")
    assert report["details"] == {"layout": "v3", "expected_layout": "v2"}


class FailingValidator:
    def validate(self, table: pa.Table) -> ValidationOutcome:
        return ValidationOutcome(False, {"success": False, "why": "forced by the test"}, ["forced(failure)"])


def test_q08_failed_suite_quarantines_with_the_result(extracts, run_ingest, tmp_settings):
    path = write_csv(extracts / "BP2016_K0301_20161201.csv", rows_of("v2", N))
    [f] = run_ingest([path], validator=FailingValidator()).files
    assert (f.status, f.rule_id) == ("quarantined", "Q08")
    [q] = list((tmp_settings.landing / "quarantine").iterdir())
    assert json.loads((q / "validation.json").read_text())["why"] == "forced by the test"
    assert read_landed(tmp_settings.landing) == []


def test_real_suite_result_is_kept_beside_the_submission(extracts, run_ingest, tmp_settings):
    path = write_csv(extracts / "BP2016_K0301_20161201.csv", rows_of("v2", N))
    [f] = run_ingest([path]).files
    result = json.loads((tmp_settings.landing / "validation" / f"{f.submission_id}.json").read_text())
    assert result["success"] is True and result["schema_matches_contract"] is True
    kinds = {r["expectation_config"]["type"] for r in result["results"]}
    assert {
        "expect_column_values_to_be_in_set",
        "expect_compound_columns_to_be_unique",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_table_columns_to_match_ordered_list",
    } <= kinds


def test_real_suite_fails_on_bad_data(gx_validator, extracts, run_ingest, tmp_settings):
    import pyarrow.parquet as pq

    path = write_csv(extracts / "BP2016_K0301_20161201.csv", rows_of("v2", N))
    [_f] = run_ingest([path]).files
    table = pq.read_table(next((tmp_settings.landing / "registrations").rglob("part-0.parquet")))
    doubled = pa.concat_tables([table, table])  # lineage key (submission_id, source_row) no longer unique
    outcome = gx_validator.validate(doubled)
    assert not outcome.success
    assert any("compound_columns_to_be_unique" in x for x in outcome.failed)


def test_q09_same_delivery_key_different_bytes(extracts, run_ingest, tmp_settings):
    first = write_csv(extracts / "BP2016_K0301_20161201.csv", rows_of("v2", N))
    run_ingest([first])
    later = extracts / "again"
    later.mkdir()
    second = write_csv(later / "bp2016_k0301_20161201.CSV", rows_of("v2", N + 1))
    [f] = run_ingest([second]).files
    assert (f.status, f.rule_id) == ("quarantined", "Q09")
    assert len(read_landed(tmp_settings.landing)) == N


def test_q09_within_one_run_first_in_order_lands(extracts, run_ingest, tmp_settings):
    a = write_csv(extracts / "BP2016_K0301_20161201_1.csv", rows_of("v2", N))
    sub = extracts / "sub"
    sub.mkdir()
    b = write_csv(sub / "bp2016_K0301_20161201_1.csv", rows_of("v2", N + 2))
    result = run_ingest([extracts])
    statuses = {f.path: (f.status, f.rule_id) for f in result.files}
    assert statuses[a] == ("landed", None) and statuses[b] == ("quarantined", "Q09")


def test_same_bytes_again_is_a_no_op_even_after_quarantine(extracts, run_ingest, tmp_settings):
    path = write_csv(extracts / "BP2016_K0301_20161201.csv", rows_of("v3", N, year=2016))  # Q06
    copy = extracts / "other" / "renamed.csv"
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())  # also a bad name: but same bytes is checked first
    result = run_ingest([extracts])
    assert [(f.status, f.rule_id) for f in result.files] == [("quarantined", "Q06"), ("already quarantined", "Q06")]
    assert len(list((tmp_settings.landing / "quarantine").iterdir())) == 1
