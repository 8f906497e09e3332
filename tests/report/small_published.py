"""Tiny published files for unit tests of the guide and the partial-coverage notice: every table the reports
read (the names and key columns of the published file, warehouse.md "Interfaces"), with only the rows a test
gives, and only the measure columns the rows use. A NULL given for a measure publish can withhold is a withheld
cell: its `<column>_withheld` flag is true (false elsewhere) and `withheld_cells` counts the true flags
(docs/publishing.md "Withheld cells"); any other NULL is no figure."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb

from brukerplan.publish.layout import FLAG_SUFFIX
from tests.report.published_fixture import suppressible

KEYS = {
    "mart_trends": ("geo_level", "geo_code", "mapping_year", "user_group"),
    "mart_living_conditions": ("geo_level", "geo_code", "mapping_year", "user_group", "area", "colour"),
    "mart_housing": ("geo_level", "geo_code", "mapping_year", "user_group"),
    "mart_services": ("geo_level", "geo_code", "mapping_year", "user_group", "service_code"),
    "mart_participation": ("geo_level", "geo_code", "mapping_year"),
    "mart_data_quality": ("municipality_code_registered", "mapping_year", "submission_id"),
}
INTEGER = {
    "mapping_year",
    "previous_mapping_year",
    "next_mapping_year",
    "withheld_cells",
    "persons",
    "persons_known",
    "persons_housing_known",
    "housing_red",
    "received",
    "recommended",
    "received_set_known",
    "recommended_mapped_again_at_next_mapping",
    "recommended_received_at_next_mapping",
    "municipalities_in_force",
    "municipalities_participating",
    "submissions",
    "agencies",
    "registrations_raw",
    "change_persons",
}
TEXT = {
    "geo_level",
    "geo_code",
    "geo_name",
    "user_group",
    "area",
    "colour",
    "service_code",
    "municipality_code_registered",
    "submission_id",
}
BOOLEAN = {"is_current", "is_quarantined", "is_asked_at_next_mapping"}
# the measure columns the tests may set (anything else is a typo in a test)
MEASURES = {
    "mart_trends": ("persons", "rate_per_1000_16plus", "previous_mapping_year", "change_persons"),
    "mart_living_conditions": ("persons", "persons_known", "share"),
    "mart_housing": ("persons", "housing_red", "persons_housing_known", "share_red", "share_red_yellow"),
    "mart_services": (
        "received",
        "recommended",
        "received_set_known",
        "share_received",
        "gap",
        "next_mapping_year",
        "is_asked_at_next_mapping",
        "recommended_mapped_again_at_next_mapping",
        "recommended_received_at_next_mapping",
    ),
    "mart_participation": ("municipalities_in_force", "municipalities_participating", "submissions", "agencies"),
    "mart_data_quality": ("is_current", "is_quarantined", "registrations_raw", "persons"),
}
NAMES = {"5001": "Trondheim", "5035": "Stjørdal", "50": "Trøndelag", "0301": "Oslo", "03": "Oslo", "NO": "Norge"}


def _type(column: str) -> str:
    if column in INTEGER:
        return "integer"
    if column in TEXT:
        return "varchar"
    if column in BOOLEAN:
        return "boolean"
    return "double"


def geo(level: str, code: str, year: int, **values: Any) -> dict[str, Any]:
    """A row's geography and year (and any other columns)."""
    return {"geo_level": level, "geo_code": code, "geo_name": NAMES.get(code, code), "mapping_year": year, **values}


def write_published(
    path: Path,
    rows: dict[str, list[dict[str, Any]]],
    municipalities: list[dict[str, Any]],
    threshold: int = 5,
) -> Path:
    """Write a published-like file with `rows` per table and `municipalities` as dim_municipality."""
    con = duckdb.connect(str(path))
    try:
        for table, keys in KEYS.items():
            measures = MEASURES[table]
            given = rows.get(table, [])
            for row in given:
                unknown = set(row) - {*keys, *measures, "geo_name"}
                assert not unknown, f"{table}: unknown columns {sorted(unknown)}"
            given_measures = [m for m in measures if any(m in row for row in given)]
            flagged = suppressible(table, given_measures)
            columns = [*keys, *(["geo_name"] if "geo_level" in keys else []), *given_measures, "withheld_cells"]
            types = {c: _type(c) for c in columns} | {c + FLAG_SUFFIX: "boolean not null" for c in flagged}
            con.execute(f"create table {table} ({', '.join(f'{c} {t}' for c, t in types.items())})")
            for row in given:
                flags = {c + FLAG_SUFFIX: c in row and row[c] is None for c in flagged}
                full = {c: row.get(c) for c in columns} | {"withheld_cells": sum(flags.values())} | flags
                con.execute(f"insert into {table} values ({', '.join('?' for _ in types)})", list(full.values()))
        con.execute(
            "create table dim_municipality (municipality_code_registered varchar, valid_from date, valid_to date, "
            "name varchar, municipality_code varchar, county_code varchar)"
        )
        for m in municipalities:
            con.execute(
                "insert into dim_municipality values (?, ?, ?, ?, ?, ?)",
                [
                    m["registered"],
                    dt.date.fromisoformat(m.get("valid_from", "1971-01-01")),
                    dt.date.fromisoformat(m["valid_to"]) if m.get("valid_to") else None,
                    m["name"],
                    m["code"],
                    m["code"][:2],
                ],
            )
        con.execute("create table dim_county (county_code varchar, name varchar)")
        con.execute("insert into dim_county values ('50', 'Trøndelag'), ('03', 'Oslo')")
        con.execute("create table publication_metadata (published_at timestamptz, suppression_threshold integer)")
        con.execute(
            "insert into publication_metadata values (?, ?)",
            [dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC), threshold],
        )
    finally:
        con.close()
    return path
