"""The landing contract as Arrow schemas, read from its one declaration: the dbt sources of the landing zone
(models/staging/landing/_landing__sources.yml: columns, DuckDB types, nullability, where the files lie)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa
import yaml

from brukerplan.settings import PROJECT_DIR

SOURCES_FILE = PROJECT_DIR / "models" / "staging" / "landing" / "_landing__sources.yml"

# DuckDB type of the contract -> Arrow type written to Parquet (DuckDB reads each back as the declared type).
ARROW_TYPES: dict[str, pa.DataType] = {
    "varchar": pa.string(),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "varchar[]": pa.list_(pa.string()),
    "map(varchar, varchar)": pa.map_(pa.string(), pa.string()),
}


@dataclass(frozen=True)
class LandingTable:
    name: str
    glob: str  # relative to the landing root
    file_format: str  # parquet | json
    schema: pa.Schema


@cache
def landing_tables(sources_file: Path = SOURCES_FILE) -> dict[str, LandingTable]:
    """Every table of the landing contract by name."""
    with open(sources_file, encoding="utf-8") as handle:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when there: ~10 times faster, same result
        (source,) = (s for s in yaml.load(handle, Loader=loader)["sources"] if s["name"] == "landing")
    tables = {}
    for table in source["tables"]:
        fields = []
        for column in table["columns"]:
            data_type = column["data_type"]
            if data_type not in ARROW_TYPES:
                raise ValueError(f"{sources_file}: {table['name']}.{column['name']}: unknown data_type {data_type!r}")
            nullable = (column.get("meta") or {}).get("nullable", True)
            fields.append(pa.field(column["name"], ARROW_TYPES[data_type], nullable=nullable))
        meta = table["meta"]
        tables[table["name"]] = LandingTable(
            table["name"], meta["landing_glob"], meta["landing_format"], pa.schema(fields)
        )
    return tables


def registrations_schema() -> pa.Schema:
    return landing_tables()["registrations"].schema


def rejects_schema() -> pa.Schema:
    return landing_tables()["rejects"].schema
