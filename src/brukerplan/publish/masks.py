"""Withheld cells -> one bit mask per published row (bit i = the i-th count, then the derived columns), with the
derived rule applied: a rate, share, mean or difference is withheld when any of its sources is. Every copy of a
cell takes its bit (the cell is withheld everywhere or nowhere). The masks go back into DuckDB as tables
`mask_<table>` (row_id, mask) for the final select of the published tables."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from brukerplan.publish.equations import Block, cell_of_rows, quote, source_table
from brukerplan.publish.exact import P
from brukerplan.publish.spec import PublishSpec, Source, TableSpec


def mask_table(table: str) -> str:
    return quote(f"mask_{table}")


def bit(table: TableSpec, column: str) -> int:
    """The bit of a count or derived column in the row mask."""
    columns = [*table.count_names, *table.derived]
    return columns.index(column)


@dataclass
class MaskStats:
    derived: int
    per_table: dict[str, int]


def _rows(con: duckdb.DuckDBPyConnection, table: TableSpec) -> int:
    row = con.execute(f"select count(*) from {source_table(table.name)}").fetchone()
    return int(row[0]) if row else 0


def _column(con: duckdb.DuckDBPyConnection, sql: str) -> np.ndarray:
    return np.asarray(con.execute(sql).fetchnumpy()["v"], dtype=np.int64)


def _any_withheld(
    con: duckdb.DuckDBPyConnection,
    spec: PublishSpec,
    table: TableSpec,
    sources: tuple[Source, ...],
    masks: dict[str, np.ndarray],
) -> np.ndarray:
    """Per row of the table: whether any of the sources (counts of the row, or of a matched row) is withheld."""
    mask = masks[table.name]
    hit = np.zeros(len(mask), dtype=bool)
    for source in sources:
        if source.table is None:
            hit |= (mask >> bit(table, source.column or "")) & 1 == 1
            continue
        other = spec.table(source.table)
        match = source.match or {k: k for k in other.keys}
        on = " and ".join(f"r.{quote(a)} = o.{quote(b)}" for a, b in match.items())
        matched = _column(
            con,
            f"select coalesce(o._row_id, -1) as v from {source_table(table.name)} r "
            f"left join {source_table(other.name)} o on {on} order by r._row_id",
        )
        found = matched >= 0
        other_bits = np.zeros(len(mask), dtype=np.int64)
        other_bits[found] = masks[other.name][matched[found]]
        hit |= found & ((other_bits >> bit(other, source.column or "")) & 1 == 1)
    return hit


def build_masks(
    con: duckdb.DuckDBPyConnection,
    spec: PublishSpec,
    blocks: list[Block],
    withheld: np.ndarray,
    null_vector: np.ndarray | None = None,
) -> MaskStats:
    """Register mask_<table> for every published table; returns the number of derived cells withheld."""
    rows = {table.name: _rows(con, table) for table in spec.tables}
    masks = {name: np.zeros(n, dtype=np.int64) for name, n in rows.items()}
    cells_of: dict[tuple[str, str], np.ndarray] = {}
    for block in blocks:
        table = spec.table(block.table)
        cells = cell_of_rows(con, block, rows[block.table])
        cells_of[(block.table, block.column)] = cells
        hit = cells >= 0
        hit[hit] = withheld[cells[hit]]
        masks[block.table][hit] |= np.int64(1) << bit(table, block.column)
    derived = 0
    for table in spec.tables:
        mask = masks[table.name]
        extra = np.zeros_like(mask)
        for column, sources in table.derived.items():
            hit = _any_withheld(con, spec, table, sources, masks)
            if column in table.alternatives:
                hit &= _any_withheld(con, spec, table, table.alternatives[column], masks)
            if column in table.differences and null_vector is not None and len(null_vector):
                plus, minus = (cells_of[(table.name, c)] for c in table.differences[column])
                both = (plus >= 0) & (minus >= 0)
                value = np.zeros(len(mask), dtype=np.int64)
                value[both] = (null_vector[plus[both]] - null_vector[minus[both]]) % P
                hit &= ~both | (value != 0)  # a difference the published cells fix is shown
            extra[hit] |= np.int64(1) << bit(table, column)
            derived += int(hit.sum())
        masks[table.name] = mask | extra
    per_table = {}
    for table in spec.tables:
        mask = masks[table.name]
        nonzero = np.flatnonzero(mask)
        per_table[table.name] = int(np.bitwise_count(mask).sum())
        con.register(
            f"mask_{table.name}", pa.table({"row_id": pa.array(nonzero, pa.int64()), "mask": pa.array(mask[nonzero])})
        )
    return MaskStats(derived=derived, per_table=per_table)
