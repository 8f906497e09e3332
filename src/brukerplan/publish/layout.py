"""The published form of each table (docs/publishing.md, "What is published"): which columns, of which type, in
which order. A mart keeps the warehouse's columns (withheld cells NULL) and gets `mapping_date` beside
`mapping_year`, `withheld_cells`, and one NOT NULL boolean `<column>_withheld` per measure that suppression can
withhold. Counts are BIGINT whatever the warehouse made of them (DuckDB's sum() gives HUGEINT; pandas and BI
tools read that as a float): HUGEINT becomes BIGINT everywhere, and a count stored as DOUBLE or DECIMAL becomes
BIGINT when every value is whole (docs/decisions.md P14)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from brukerplan.publish.equations import quote, source_table
from brukerplan.publish.masks import bit, mask_table
from brukerplan.publish.spec import TableSpec

FLAG_SUFFIX = "_withheld"
WITHHELD_CELLS = "withheld_cells"
MAPPING_YEAR = "mapping_year"
MAPPING_DATE = "mapping_date"
WIDE_INTEGER = re.compile(r"(U?HUGEINT|UBIGINT|DECIMAL\(\d+,\s*0\))")
NOT_INTEGER = re.compile(r"(DOUBLE|FLOAT|REAL|DECIMAL\(\d+,\s*\d+\))")


class LayoutError(ValueError):
    """A warehouse column cannot take its published form (e.g. a count that is not a whole number)."""


@dataclass(frozen=True)
class OutColumn:
    """One column of a published table: its SQL over the source row `r` (and the row mask `m` of a mart), the
    warehouse column it shows (None when publish adds it), and for an added column what it is about."""

    name: str
    sql: str
    source: str | None = None
    suppressible: bool = False
    added: str | None = None  # mapping_date | withheld_cells | withheld_flag
    about: str | None = None  # the measure a withheld flag is about


def source_types(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> list[tuple[str, str]]:
    """(column, DuckDB type) of a warehouse table, in column order."""
    return con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = ? and schema_name = ? "
        "and table_name = ? order by column_index",
        [catalog, schema, table],
    ).fetchall()


def _cast(column: str, data_type: str, whole: bool) -> str:
    """r.column in its published type: BIGINT for a wide integer, and for a whole-number count stored otherwise."""
    if WIDE_INTEGER.fullmatch(data_type.upper()) or (whole and NOT_INTEGER.fullmatch(data_type.upper())):
        return f"r.{quote(column)}::bigint"
    return f"r.{quote(column)}"


def check_whole_counts(con: duckdb.DuckDBPyConnection, table: TableSpec, types: list[tuple[str, str]]) -> None:
    """A count (or a difference of counts) that the warehouse stores as DOUBLE or DECIMAL must hold whole numbers
    (it is published as BIGINT); the first value that is not one is named."""
    counts = {*table.count_names, *table.differences}
    for column, data_type in types:
        if column not in counts or not NOT_INTEGER.fullmatch(data_type.upper()):
            continue
        row = con.execute(
            f"select {quote(column)} from {source_table(table.name)} "
            f"where {quote(column)} is not null and {quote(column)} != round({quote(column)}) limit 1"
        ).fetchone()
        if row is not None:
            raise LayoutError(
                f"{table.source}.{column} is a count ({data_type}) but holds {row[0]!r}, not a whole number"
            )


def mart_columns(table: TableSpec, types: list[tuple[str, str]]) -> list[OutColumn]:
    """The published columns of a mart, read from its in-memory copy `r` and its row mask `m`."""
    names = {column for column, _ in types}
    suppressible = [c for c, _ in types if c in {*table.count_names, *table.derived}]
    added = [MAPPING_DATE, WITHHELD_CELLS, *(c + FLAG_SUFFIX for c in suppressible)]
    clash = sorted(names & set(added))
    if clash:
        raise LayoutError(f"{table.source} has columns {clash} that publish adds itself: rename them in the mart")
    mask = "coalesce(m.mask, 0)"
    whole = {*table.count_names, *table.differences}

    def withheld(column: str) -> str:
        return f"({mask} & {1 << bit(table, column)}) != 0"

    out = []
    for column, data_type in types:
        value = _cast(column, data_type, column in whole)
        if column in suppressible:
            out.append(
                OutColumn(column, f"case when {withheld(column)} then null else {value} end", column, suppressible=True)
            )
        else:
            out.append(OutColumn(column, value, column))
        if column == MAPPING_YEAR:
            out.append(OutColumn(MAPPING_DATE, f"make_date(r.{quote(column)}, 1, 1)", added=MAPPING_DATE))
    out.append(OutColumn(WITHHELD_CELLS, f"bit_count({mask})::integer", added=WITHHELD_CELLS))
    out += [
        OutColumn(column + FLAG_SUFFIX, withheld(column), added="withheld_flag", about=column)
        for column in suppressible
    ]
    return out


def mart_select(table: TableSpec, columns: list[OutColumn]) -> str:
    """The published rows of a mart: withheld cells NULL, in key order."""
    return (
        f"select {', '.join(f'{c.sql} as {quote(c.name)}' for c in columns)} from {source_table(table.name)} r "
        f"left join {mask_table(table.name)} m on m.row_id = r._row_id order by r._row_id"
    )


def dimension_columns(types: list[tuple[str, str]]) -> list[OutColumn]:
    return [OutColumn(column, _cast(column, data_type, whole=False), column) for column, data_type in types]


def dimension_select(catalog: str, source: str, columns: list[OutColumn]) -> str:
    schema, name = source.split(".", 1)
    return (
        f"select {', '.join(f'{c.sql} as {quote(c.name)}' for c in columns)} "
        f"from {quote(catalog)}.{quote(schema)}.{quote(name)} r"
    )
