"""Descriptions of every published table and column (docs/decisions.md P13). One source each: the marts' and
dimensions' own tables and columns are described in the dbt YAML beside the models, which dbt's persist_docs
writes into the warehouse as COMMENT ON (doc blocks rendered); publish reads them there (duckdb_tables(),
duckdb_columns()). What publish adds itself (mapping_date, withheld_cells, the *_withheld flags, its own tables
and the README rows) is described in descriptions.yaml. Both go into the published file as COMMENT ON and into
every Parquet copy as key-value metadata: `description` (the table), `description:<column>`, `table` and
`publication_id`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from brukerplan.publish.equations import literal, quote
from brukerplan.publish.layout import OutColumn

DESCRIPTIONS_PATH = Path(__file__).resolve().parent / "descriptions.yaml"
SHOWN = 5  # undescribed columns named in a warning


class DescriptionError(KeyError):
    """descriptions.yaml lacks the description of something publish writes itself."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class OwnTable:
    """A table that publish writes itself, described in descriptions.yaml."""

    name: str
    text: str
    columns: dict[str, str]

    def column(self, name: str) -> str:
        if name not in self.columns:
            raise DescriptionError(f"{DESCRIPTIONS_PATH.name}: no description of {self.name}.{name}")
        return self.columns[name]


@dataclass(frozen=True)
class Descriptions:
    added_columns: dict[str, str]
    suppressible_note: str
    tables: dict[str, OwnTable]
    readme: dict[str, str]

    def table(self, name: str) -> OwnTable:
        if name not in self.tables:
            raise DescriptionError(f"{DESCRIPTIONS_PATH.name}: no description of the table {name}")
        return self.tables[name]

    def added(self, column: OutColumn) -> str:
        key = column.added or ""
        if key not in self.added_columns:
            raise DescriptionError(f"{DESCRIPTIONS_PATH.name}: no description of the added column {key!r}")
        return self.added_columns[key].format(column=column.about or "")


def load_descriptions(path: Path = DESCRIPTIONS_PATH) -> Descriptions:
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Descriptions(
        added_columns={str(k): str(v).strip() for k, v in raw["added_columns"].items()},
        suppressible_note=str(raw["suppressible_note"]).strip(),
        tables={
            str(name): OwnTable(
                name=str(name),
                text=str(item["description"]).strip(),
                columns={str(k): str(v).strip() for k, v in item["columns"].items()},
            )
            for name, item in raw["tables"].items()
        },
        readme={str(k): str(v).strip() for k, v in raw["readme"].items()},
    )


@dataclass
class TableDescription:
    """A published table's description and its columns' (None: the warehouse has none), in column order."""

    name: str
    text: str | None
    columns: dict[str, str | None] = field(default_factory=dict)

    def undescribed(self) -> list[str]:
        missing = [] if self.text else [self.name]
        return missing + [f"{self.name}.{c}" for c, text in self.columns.items() if not text]


def _text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def warehouse_description(
    con: duckdb.DuckDBPyConnection, catalog: str, source: str
) -> tuple[str | None, dict[str, str | None]]:
    """The COMMENT ON of a warehouse table (schema.table) and of its columns, as dbt's persist_docs wrote them."""
    schema, name = source.split(".", 1)
    row = con.execute(
        "select comment from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ?",
        [catalog, schema, name],
    ).fetchone()
    columns = con.execute(
        "select column_name, comment from duckdb_columns() where database_name = ? and schema_name = ? "
        "and table_name = ? order by column_index",
        [catalog, schema, name],
    ).fetchall()
    return _text(row[0] if row else None), {column: _text(comment) for column, comment in columns}


def describe_table(
    name: str,
    columns: list[OutColumn],
    source: tuple[str | None, dict[str, str | None]],
    descriptions: Descriptions,
) -> TableDescription:
    """A mart's or dimension's description: the warehouse's for its own columns (a measure that suppression can
    withhold says so), descriptions.yaml's for the columns publish adds."""
    text, of_source = source
    described = TableDescription(name, text)
    for column in columns:
        if column.source is None:
            described.columns[column.name] = descriptions.added(column)
            continue
        own = of_source.get(column.source)
        if own and column.suppressible:
            own = f"{own} {descriptions.suppressible_note.format(column=column.name)}"
        described.columns[column.name] = own
    return described


def describe_own_table(name: str, columns: list[str], descriptions: Descriptions) -> TableDescription:
    own = descriptions.table(name)
    return TableDescription(name, own.text, {c: own.column(c) for c in columns})


def write_comments(con: duckdb.DuckDBPyConnection, catalog: str, table: TableDescription) -> None:
    """COMMENT ON the table and every described column of it in `catalog`."""
    target = f"{quote(catalog)}.main.{quote(table.name)}"
    if table.text:
        con.execute(f"comment on table {target} is {literal(table.text)}")
    for column, text in table.columns.items():
        if text:
            con.execute(f"comment on column {target}.{quote(column)} is {literal(text)}")


def parquet_metadata(table: TableDescription, publication_id: str) -> str:
    """The KV_METADATA option of COPY … TO parquet: the table's and its columns' descriptions."""
    pairs = {"table": table.name, "publication_id": publication_id}
    if table.text:
        pairs["description"] = table.text
    pairs |= {f"description:{column}": text for column, text in table.columns.items() if text}
    return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in pairs.items()) + "}"


def undescribed_warning(tables: list[TableDescription]) -> str | None:
    """One warning naming the published tables and columns without a description (none: None)."""
    missing = [name for table in tables for name in table.undescribed()]
    if not missing:
        return None
    more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
    return (
        f"{len(missing)} published tables or columns have no description in the warehouse "
        f"({', '.join(missing[:SHOWN])}{more}): document them in the dbt YAML beside the model and rebuild "
        "(persist_docs writes the descriptions into the warehouse)"
    )
