"""Withheld cells -> one bit mask per published row (bit i = the i-th count, then the derived columns), with the
derived rule applied: a rate, share, mean or difference is withheld when any of its sources is. The masks go
back into DuckDB as tables `mask_<table>` (row_id, mask) for the final select of the published tables."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from brukerplan.publish.equations import cell_position, cell_row, quote, source_table
from brukerplan.publish.spec import PublishSpec, TableSpec
from brukerplan.publish.suppress import System


def mask_table(table: str) -> str:
    return quote(f"mask_{table}")


def bit(table: TableSpec, column: str) -> int:
    """The bit of a count or derived column in the row mask."""
    columns = [*table.counts, *table.derived]
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


def build_masks(con: duckdb.DuckDBPyConnection, spec: PublishSpec, system: System, withheld: np.ndarray) -> MaskStats:
    """Register mask_<table> for every published table; returns the number of derived cells withheld."""
    masks = {table.name: np.zeros(_rows(con, table), dtype=np.int64) for table in spec.tables}
    for name, column, rows in cell_position(system.blocks, np.flatnonzero(withheld)):
        table = spec.table(name)
        masks[name][rows] |= np.int64(1) << bit(table, column)
    for table in spec.tables:
        mask = masks[table.name]
        # a repeated count is one cell held by the first row of its copies: every copy takes its bit
        for column in table.repeated:
            first = _column(
                con, f"select {cell_row(table, column)} as v from {source_table(table.name)} order by _row_id"
            )
            flag = np.int64(1) << bit(table, column)
            mask |= mask[first] & flag
        masks[table.name] = mask
    derived = 0
    for table in spec.tables:
        mask = masks[table.name]
        extra = np.zeros_like(mask)
        for column, sources in table.derived.items():
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
