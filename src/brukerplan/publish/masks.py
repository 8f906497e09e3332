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
class ShownCells:
    """Per row of a count column's table: whether the row shows a cell (the count is not null), whether that
    cell is withheld, and its entry of the final null vector (0 where it is not withheld)."""

    shown: np.ndarray  # bool per row
    withheld: np.ndarray  # bool per row
    null: np.ndarray  # int64 per row

    @classmethod
    def empty(cls, rows: int) -> ShownCells:
        return cls(np.zeros(rows, dtype=bool), np.zeros(rows, dtype=bool), np.zeros(rows, dtype=np.int64))


def table_rows(con: duckdb.DuckDBPyConnection, spec: PublishSpec) -> dict[str, int]:
    """The number of rows of every published table (loaded as src_<name>)."""
    return {table.name: _rows(con, table) for table in spec.tables}


def shown_cells(
    con: duckdb.DuckDBPyConnection,
    blocks: list[Block],
    rows: dict[str, int],
    withheld: np.ndarray,
    null_vector: np.ndarray,
) -> dict[int, ShownCells]:
    """Per block (its number): the cells its rows show in cell_map (equations.py), with their withheld flag and
    null-vector entry; rows without a cell there are not shown."""
    out = {}
    for block in blocks:
        cells = cell_of_rows(con, block, rows[block.table])
        shown = cells >= 0
        result = ShownCells.empty(len(cells))
        result.shown = shown
        result.withheld[shown] = withheld[cells[shown]]
        if len(null_vector):
            result.null[shown] = null_vector[cells[shown]]
        out[block.number] = result
    return out


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
    cells: dict[int, ShownCells],
) -> MaskStats:
    """Register mask_<table> for every published table from the cells each count shows (per block number);
    returns the number of derived cells withheld."""
    rows = table_rows(con, spec)
    masks = {name: np.zeros(n, dtype=np.int64) for name, n in rows.items()}
    cells_of: dict[tuple[str, str], ShownCells] = {}
    for block in blocks:
        table = spec.table(block.table)
        shown = cells[block.number]
        cells_of[(block.table, block.column)] = shown
        masks[block.table][shown.shown & shown.withheld] |= np.int64(1) << bit(table, block.column)
    derived = 0
    for table in spec.tables:
        mask = masks[table.name]
        extra = np.zeros_like(mask)
        for column, sources in table.derived.items():
            hit = _any_withheld(con, spec, table, sources, masks)
            if column in table.alternatives:
                hit &= _any_withheld(con, spec, table, table.alternatives[column], masks)
            if column in table.differences:
                plus, minus = (cells_of[(table.name, c)] for c in table.differences[column])
                both = plus.shown & minus.shown
                value = np.zeros(len(mask), dtype=np.int64)
                value[both] = (plus.null[both] - minus.null[both]) % P
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
