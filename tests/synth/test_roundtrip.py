"""The files say exactly what the ground truth claims: an independent reader applies rules 1, 3 and 4 to the
files and must find the truth's persons, values, de-duplication decisions and audit figures."""

from __future__ import annotations

import polars as pl
import pytest

from brukerplan.codes import load_codebook
from tests.synth.conftest import Generated
from tests.synth.reference_reader import apply_rules, canonical

pytestmark = pytest.mark.slow

VALUE_COLUMNS = (
    "municipality_code_registered",
    "registration_id",
    "source_file",
    "user_group",
    "sex",
    "birth_year",
    "agency_code",
    "mapped_on",
    "target_group",
    *(f"area_{a}" for a in ("housing", "activity", "economy", "physical_health", "mental_health")),
    *(f"area_{a}" for a in ("substance_use", "social_functioning", "network")),
    "living_index",
    "has_children",
    "n_children",
    "custody",
    "pregnant",
    "education",
    "income_source",
    "injects",
    "violence_exposed",
    "substance_cannabis",
    "substance_heroin",
    "services_received",
    "services_recommended",
)


@pytest.fixture(scope="module")
def read_back(small: Generated) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    book = load_codebook()
    frames = [canonical(small.out / "extracts" / f["name"], book) for f in small.manifest["files"]]
    regs = pl.concat(frames, how="diagonal_relaxed")
    ids = {f["name"]: f["submission_id"] for f in small.manifest["files"]}
    return apply_rules(regs, ids)


def test_rows_read_back_equal_manifest(small: Generated, read_back) -> None:
    _, _, regs = read_back
    counts = dict(regs.group_by("source_file").len().iter_rows())
    for f in small.manifest["files"]:
        assert counts.get(f["name"]) == f["rows"], f["name"]


def test_kept_registrations_and_values_match_truth(small: Generated, read_back) -> None:
    kept, _, _ = read_back
    truth = small.truth("person_year")
    mine = kept.rename({"municipality_code": "municipality_code_registered"}).with_columns(
        pl.col("services_received").list.sort(), pl.col("services_recommended").list.sort()
    )
    truth = truth.with_columns(pl.col("services_received").list.sort(), pl.col("services_recommended").list.sort())
    assert mine.height == truth.height
    joined = truth.join(mine, on=["mapping_year", "person_id"], how="full", suffix="_read", coalesce=True)
    assert joined.filter(pl.col("registration_id").is_null() | pl.col("registration_id_read").is_null()).height == 0
    for column in VALUE_COLUMNS:
        left = joined[column].cast(pl.String) if joined[column].dtype != pl.List(pl.String) else joined[column]
        right = joined[f"{column}_read"]
        right = right.cast(pl.String) if right.dtype != pl.List(pl.String) else right
        differs = joined.filter(~left.eq_missing(right))
        assert differs.height == 0, f"{column}: {differs.select('person_id', column, f'{column}_read').head(5)}"


def test_dedup_decisions_match_truth(small: Generated, read_back) -> None:
    _, dropped, _ = read_back
    truth = small.truth("dedup")
    mine = dropped.select(
        pl.col("source_file"),
        "registration_id",
        "kept_registration_id",
        "kept_file",
        "deciding_tiebreak",
        "is_cross_municipality",
    ).sort("source_file", "registration_id")
    expected = truth.select(mine.columns).sort("source_file", "registration_id")
    assert mine.equals(expected)
    # every tie-break criterion decides for some duplicates, and some duplicates cross municipalities
    assert set(truth["deciding_tiebreak"]) == {"completeness", "date", "agency", "delivery_or_id"}
    assert truth["is_cross_municipality"].sum() > 0


def test_audit_matches_truth(small: Generated, read_back) -> None:
    kept, dropped, regs = read_back
    dropped_keys = dropped.select("source_file", "registration_id").with_columns(pl.lit(True).alias("dropped"))
    flagged = regs.join(dropped_keys, on=["source_file", "registration_id"], how="left")
    kept_keys = kept.select("source_file", "registration_id").with_columns(pl.lit(True).alias("kept"))
    flagged = flagged.join(kept_keys, on=["source_file", "registration_id"], how="left")
    mine = (
        flagged.group_by("mapping_year", "municipality_code", "source_file")
        .agg(
            pl.len().alias("registrations_raw"),
            (~pl.col("is_current")).sum().alias("superseded"),
            pl.col("dropped").fill_null(False).sum().alias("duplicates_removed"),
            pl.col("kept").fill_null(False).sum().alias("persons"),
        )
        .rename({"municipality_code": "municipality_code_registered"})
        .sort("mapping_year", "municipality_code_registered", "source_file")
    )
    truth = (
        small.truth("audit_submissions")
        .select(mine.columns)
        .sort("mapping_year", "municipality_code_registered", "source_file")
    )
    assert mine.with_columns(pl.col("mapping_year").cast(pl.Int64)).equals(
        truth.with_columns(pl.col("mapping_year").cast(pl.Int64)), null_equal=True
    )
    assert truth["superseded"].sum() > 0
