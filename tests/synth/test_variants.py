"""A default run (all years; a small scale, since the file plan does not depend on volume) has every layout,
format, encoding and delimiter variant, the delivery patterns that exercise rule 1, and files that a plain
reader parses with the headers of their layout."""

from __future__ import annotations

import io
import re
from itertools import product

import polars as pl
import pytest

from brukerplan.codes import load_codebook, normalise
from tests.synth.conftest import Generated
from tests.synth.reference_reader import decode_bytes, read_raw, sniff_delimiter

pytestmark = pytest.mark.slow

NAME = re.compile(r"^BP(\d{4})_(K\d{4}|F\d{2}|NO)_(\d{8})(?:_(\d{1,2}))?\.(xlsx|csv)$")


def test_every_layout_format_encoding_delimiter_occurs(small: Generated) -> None:
    files = small.manifest["files"]
    csv_variants = {(f["layout"], f["encoding"], f["delimiter"]) for f in files if f["format"] == "csv"}
    expected = set(product(("v1", "v2", "v3"), ("utf-8", "utf-8-sig", "cp1252"), (";", ",", "\t")))
    assert expected <= csv_variants, sorted(expected - csv_variants)
    xlsx = [f for f in files if f["format"] == "xlsx"]
    assert {f["layout"] for f in xlsx} == {"v1", "v2", "v3"}
    assert {(f["layout"], f["xlsx_style"]) for f in xlsx} == set(
        product(("v1", "v2", "v3"), ("typed", "serial", "text"))
    )
    assert {f["title_rows"] for f in xlsx} == {0, 1, 2, 3}
    assert {f["sheet"] for f in xlsx} == {"Kartlegging", "Data", "Ark1"}
    assert {x for f in files for x in f["extra_columns"]} == {"Kommentar", "Saksbehandler", "Bydel"}
    assert any(f["quote_all"] for f in files if f["format"] == "csv")
    assert any(f["upper_case_person_ids"] for f in files)
    assert {f["header_style"] for f in files} == {"plain", "upper", "padded", "nfd"}
    assert any(f["v2_ascii_colours"] for f in files if f["layout"] == "v2")
    assert any(f["blank_service_zeros"] for f in files if f["layout"] in ("v1", "v2"))
    # v1 per-municipality xlsx never has Kommunenr; county and national files always have it
    assert all(not f["has_municipality_column"] for f in xlsx if f["layout"] == "v1")
    assert all(f["has_municipality_column"] for f in files if not f["scope"].startswith("K"))
    # layout follows the year
    for f in files:
        assert f["layout"] == ("v1" if f["year"] <= 2014 else "v2" if f["year"] <= 2019 else "v3")


def test_delivery_patterns(small: Generated) -> None:
    files = small.manifest["files"]
    scopes = {f["scope"][0] for f in files}
    assert scopes == {"K", "F", "N"}
    assert any(f["delivery_seq"] for f in files)
    keys = {(f["year"], f["scope"], f["delivered_on"], f["delivery_seq"]) for f in files}
    assert len(keys) == len(files), "two files share year, scope, date and seq (Q09)"
    # a municipal file on the same day and seq as the county or national file it corrects (narrower wins)
    shared = {(f["year"], f["delivered_on"], f["delivery_seq"]) for f in files if not f["scope"].startswith("K")}
    assert any((f["year"], f["delivered_on"], f["delivery_seq"]) in shared for f in files if f["scope"][0] == "K")
    audit = small.truth("audit_submissions")
    superseded_files = set(audit.filter(pl.col("superseded") > 0)["source_file"])
    assert any(name.startswith("BP") and "_K" in name for name in superseded_files)
    assert any("_F" in name for name in superseded_files)
    assert any("_NO_" in name for name in superseded_files)
    # xlsx is a minority of the rows
    rows = sum(f["rows"] for f in files)
    assert 0.02 < sum(f["rows"] for f in files if f["format"] == "xlsx") / rows < 0.15


def test_files_parse_with_plain_readers_and_have_their_headers(small: Generated) -> None:
    book = load_codebook()
    extras_inside = 0
    for f in small.manifest["files"]:
        path = small.out / "extracts" / f["name"]
        assert NAME.match(f["name"]), f["name"]
        layout = book.layouts[f["layout"]]
        expected = [c.header for c in layout.columns] + [s.header for s in layout.service_columns]
        if not f["has_municipality_column"]:
            expected.remove("Kommunenr")
        expected += f["extra_columns"]
        if f["format"] == "csv":
            data = path.read_bytes()
            text, encoding = decode_bytes(data)
            assert encoding == f["encoding"] or (f["encoding"] == "cp1252" and text.isascii()), f["name"]
            assert sniff_delimiter(text.splitlines()[0]) == f["delimiter"]
            frame = pl.read_csv(io.StringIO(text), separator=f["delimiter"], infer_schema=False)
        else:
            frame, info = read_raw(path)
            # calamine skips empty rows: the header is the first non-empty row after the title lines
            assert info["header_index"] <= f["title_rows"]
        columns = [normalise(c) for c in frame.columns]
        assert [c for c in columns if c not in map(normalise, f["extra_columns"])] == list(
            map(normalise, expected[: len(expected) - len(f["extra_columns"])])
        ), f["name"]
        assert set(columns) == set(map(normalise, expected)), f["name"]
        extras_inside += any(normalise(x) in columns[:-1] for x in f["extra_columns"])
        assert frame.height == f["rows"], f["name"]
        assert set(map(normalise, layout.required_headers)) - {"kommunenr"} <= set(map(normalise, frame.columns))
    assert extras_inside > 0


def test_no_row_breaks_a_row_rule(small: Generated) -> None:
    """The person table respects R03/R05/R07 and the code lists; ids are unique within files (R06)."""
    py = small.truth("person_year")
    assert py["age"].min() >= 16 and py["age"].max() <= 105
    assert (py["mapped_on"].dt.year() == py["mapping_year"]).all()
    assert py.filter((pl.col("sex") == "M") & (pl.col("pregnant") == True)).height == 0  # noqa: E712
    assert py.filter((pl.col("n_children") > 0) & (pl.col("has_children") == False)).height == 0  # noqa: E712
    assert py["n_children"].drop_nulls().max() <= 20
    assert py["person_id"].str.contains(r"^[0-9a-f]{16}$").all()
    assert py.filter((pl.col("mapping_year") < 2015) & (pl.col("target_group") == "mental")).height == 0
    dedup = small.truth("audit_submissions")
    assert dedup["registrations_raw"].sum() == sum(f["rows"] for f in small.manifest["files"])
