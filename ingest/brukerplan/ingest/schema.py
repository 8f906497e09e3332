"""The landing contract (spec/landing_schema.yaml) as Arrow schemas."""

from __future__ import annotations

from functools import cache

import pyarrow as pa
import yaml

from brukerplan.codes import SPEC_DIR

_SIMPLE = {
    "string": pa.string(),
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "bool": pa.bool_(),
    "date32": pa.date32(),
    "timestamp[us, UTC]": pa.timestamp("us", tz="UTC"),
    "list<string>": pa.list_(pa.string()),
    "map<string,string>": pa.map_(pa.string(), pa.string()),
}


@cache
def landing_spec() -> dict:
    with open(SPEC_DIR / "landing_schema.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _schema(table: str) -> pa.Schema:
    return pa.schema(
        [pa.field(c["name"], _SIMPLE[c["type"]], nullable=c.get("nullable", True)) for c in landing_spec()[table]]
    )


@cache
def registrations_schema() -> pa.Schema:
    return _schema("registrations")


@cache
def rejects_schema() -> pa.Schema:
    return _schema("rejects")
