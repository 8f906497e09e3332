"""A small landing-zone writer for dbt tests: Parquet files and submission records exactly as the landing
contract describes them (the Arrow schemas of brukerplan.ingest.contract, read from the dbt sources)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from brukerplan.ingest.contract import landing_tables
from tests.support import AREAS

INGESTED_AT = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)


def landing_schema(table: str) -> pa.Schema:
    return landing_tables()[table].schema


def registration(person_id: str, registration_id: str, municipality_code: str, **values: Any) -> dict[str, Any]:
    """A complete, valid canonical registration; keyword arguments override any column."""
    row: dict[str, Any] = {
        "registration_id": registration_id,
        "person_id": person_id,
        "municipality_code": municipality_code,
        "agency_code": "01",
        "mapped_on": None,  # filled from the submission's year
        "sex": "M",
        "birth_year": 1980,
        "target_group": "rus",
        "has_children": False,
        "n_children": 0,
        "custody": "none",
        "pregnant": False,
        "education": None,
        "income_source": None,
        "injects": None,
        "violence_exposed": None,
        "living_index": "yellow",
        "services_received": [],
        "services_recommended": [],
        "extra": [],
    }
    for area in AREAS:
        row[f"area_{area}"] = "green"
    for substance in ("alcohol", "cannabis", "heroin", "other_opioids", "amphetamines", "benzodiazepines"):
        row[f"substance_{substance}"] = None
    row.update(values)
    return row


@dataclass
class Submission:
    submission_id: str
    mapping_year: int
    scope: str  # K1601, F50, NO
    delivered_on: dt.date
    delivery_seq: int = 0
    layout: str = "v3"
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)

    @property
    def scope_type(self) -> str:
        return {"K": "municipality", "F": "county", "N": "national"}[self.scope[0]]

    @property
    def original_name(self) -> str:
        seq = f"_{self.delivery_seq}" if self.delivery_seq else ""
        return f"BP{self.mapping_year}_{self.scope}_{self.delivered_on:%Y%m%d}{seq}.csv"


def _lineage(sub: Submission, source_row: int) -> dict[str, Any]:
    return {
        "submission_id": sub.submission_id,
        "source_file": sub.original_name,
        "source_sheet": None,
        "source_row": source_row,
        "layout": sub.layout,
        "delivered_on": sub.delivered_on,
        "delivery_seq": sub.delivery_seq,
        "ingested_at": INGESTED_AT,
    }


def write_submission(landing: Path, sub: Submission, with_record: bool = True) -> None:
    """Write one submission's Parquet partitions and (last) its record, as ingest does."""
    rows = []
    for index, row in enumerate(sub.rows, start=2):
        full = {"mapping_year": sub.mapping_year, **row, **_lineage(sub, index)}
        if full.get("mapped_on") is None:
            full["mapped_on"] = dt.date(sub.mapping_year, 10, 1)
        rows.append(full)
    part = f"year={sub.mapping_year}/submission_id={sub.submission_id}"
    if rows:
        schema = landing_schema("registrations")
        table = pa.Table.from_pylist(rows, schema=schema)
        target = landing / "registrations" / part
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target / "part-0.parquet")
    if sub.rejects:
        schema = landing_schema("rejects")
        rejects = [
            {
                "mapping_year": sub.mapping_year,
                "rule_id": "R04",
                "message": "value outside its code list",
                "raw": [],
                **r,
                **_lineage(sub, 100 + i),
            }
            for i, r in enumerate(sub.rejects)
        ]
        for reject in rejects:
            reject.pop("services_received", None)
        table = pa.Table.from_pylist(rejects, schema=schema)
        target = landing / "rejects" / part
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target / "part-0.parquet")
    if not with_record:
        return
    record = {
        "submission_id": sub.submission_id,
        "original_name": sub.original_name,
        "sha256": sub.submission_id * 4,
        "size_bytes": 1000,
        "layout": sub.layout,
        "format": "csv",
        "encoding": "utf-8",
        "delimiter": ";",
        "sheet": None,
        "mapping_year": sub.mapping_year,
        "scope": sub.scope,
        "scope_type": sub.scope_type,
        "delivered_on": sub.delivered_on.isoformat(),
        "delivery_seq": sub.delivery_seq,
        "municipalities_covered": sorted({r["municipality_code"] for r in sub.rows}),
        "rows_read": len(sub.rows) + len(sub.rejects),
        "rows_landed": len(sub.rows),
        "rows_rejected": len(sub.rejects),
        "ingested_at": INGESTED_AT.isoformat(),
        "software_version": "test",
    }
    (landing / "submissions").mkdir(parents=True, exist_ok=True)
    (landing / "submissions" / f"{sub.submission_id}.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
