"""The additive sets of the publish spec as a system of equations over count cells, built in DuckDB.

Every non-null count of every published table is a *cell*. Cells are numbered in blocks, one block per
(table, count column), a row's cell at the block's start plus the row number; a null count (or a repeated
count's copy) leaves a hole in the numbering that is no cell. Every additive set (tables.yaml) yields
*equations* total = sum of parts; an equation is stored as its member cells with a coefficient (-1 for the
total, +1 for a part). Absent rows are known zeros and take part in no equation. `build_equations` hands the
result to the solver (suppress.py) as numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from brukerplan.publish.spec import AdditiveSet, PublishSpec, TableSpec
from brukerplan.publish.suppress import System


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def source_table(table: str) -> str:
    """The in-memory copy of a published table, with a stable _row_id (ordered by the key columns)."""
    return quote(f"src_{table}")


@dataclass(frozen=True)
class CellIds:
    """Block numbering of the cells: block (table, column) starts at `starts[(table, column)]`."""

    starts: dict[tuple[str, str], int]
    blocks: tuple[tuple[str, str, int, int], ...]  # (table, column, start, rows) in order
    size: int

    @staticmethod
    def of(con: duckdb.DuckDBPyConnection, spec: PublishSpec) -> CellIds:
        starts: dict[tuple[str, str], int] = {}
        blocks = []
        position = 0
        for table in spec.tables:
            row = con.execute(f"select count(*) from {source_table(table.name)}").fetchone()
            rows = int(row[0]) if row else 0
            for column in table.counts:
                starts[(table.name, column)] = position
                blocks.append((table.name, column, position, rows))
                position += rows
        return CellIds(starts=starts, blocks=tuple(blocks), size=position)

    def sql(self, table: TableSpec, column: str, alias: str = "") -> str:
        return f"({self.starts[(table.name, column)]} + {cell_row(table, column, alias)})"


def cell_row(table: TableSpec, column: str, alias: str = "") -> str:
    """The row that holds a cell: the row itself, or for a repeated count the first row of its copies."""
    prefix = f"{alias}." if alias else ""
    return prefix + (quote(f"_cell_row_{column}") if column in table.repeated else "_row_id")


def add_cell_rows(con: duckdb.DuckDBPyConnection, spec: PublishSpec) -> None:
    """For each repeated count, a column _cell_row_<count> naming the first row of its copies; checks that the
    copies agree (a wrong `repeated` declaration would otherwise hide a difference)."""
    for table in spec.tables:
        src = source_table(table.name)
        for column, over in table.repeated.items():
            partition = ", ".join(quote(k) for k in table.keys if k not in over)
            name = quote(f"_cell_row_{column}")
            con.execute(
                f"create or replace temp table {src} as select *, "
                f"min(_row_id) over (partition by {partition}) as {name} from {src}"
            )
            row = con.execute(
                f"select count(*) from (select {partition} from {src} group by all "
                f"having count(distinct {quote(column)}) > 1 or (count({quote(column)}) between 1 and count(*) - 1))"
            ).fetchone()
            if row and row[0]:
                raise ValueError(
                    f"{table.name}.{column} is declared repeated over {list(over)} but differs between "
                    f"rows in {row[0]} groups"
                )


def height_sql(spec: PublishSpec, table: TableSpec) -> str:
    """How many levels of aggregation a row of the table is above the finest (summed over the hierarchies whose
    columns it has): 0 for a municipality row of a leaf group, 4 for the country row of `all`. The solver
    prefers low rows as complementary cells, so that totals stay shown."""
    terms = []
    for hierarchy in spec.hierarchies.values():
        if not set(hierarchy.columns) <= set(table.keys) or not hierarchy.heights:
            continue
        cases = " ".join(f"when {literal(k)} then {int(v)}" for k, v in hierarchy.heights.items())
        terms.append(f"coalesce(case {quote(hierarchy.columns[0])}::varchar {cases} end, 0)")
    return " + ".join(terms) or "0"


def _cell_arrays(con: duckdb.DuckDBPyConnection, spec: PublishSpec, ids: CellIds) -> tuple[np.ndarray, np.ndarray]:
    """Value (-1 for a hole) and height of every cell number."""
    value = np.full(ids.size, -1, dtype=np.int64)
    height = np.zeros(ids.size, dtype=np.int64)
    for table in spec.tables:
        if not table.counts:
            continue
        columns = ", ".join(
            f"coalesce(case when _row_id = {cell_row(table, c)} then {quote(c)} end, -1)::bigint as c{i}"
            for i, c in enumerate(table.counts)
        )
        data = con.execute(
            f"select ({height_sql(spec, table)})::bigint as h, {columns} from {source_table(table.name)} "
            "order by _row_id"
        ).fetchnumpy()
        for i, column in enumerate(table.counts):
            start = ids.starts[(table.name, column)]
            value[start : start + len(data["h"])] = data[f"c{i}"]
            height[start : start + len(data["h"])] = data["h"]
    return value, height


def _hierarchy_sql(spec: PublishSpec, ids: CellIds, table: TableSpec, s: AdditiveSet, set_index: int) -> list[str]:
    hierarchy = spec.hierarchies[s.hierarchy or ""]
    others = [quote(k) for k in table.keys if k not in hierarchy.columns]
    own = [f"{quote(c)}::varchar" for c in hierarchy.columns]
    if hierarchy.parent:
        (column,) = hierarchy.columns
        cases = " ".join(f"when {literal(k)} then {literal(v)}" for k, v in hierarchy.parent.items())
        parent = [f"(case {quote(column)}::varchar {cases} end)"]
    else:
        level_column = hierarchy.columns[0]
        parent = []
        for position in range(len(hierarchy.columns)):
            cases = " ".join(
                f"when {literal(level)} then ({exprs[position]})::varchar"
                for level, exprs in hierarchy.parent_sql.items()
            )
            parent.append(f"(case {quote(level_column)}::varchar {cases} end)")
    # one select per direction for all columns of the set: the row's key is hashed once, and each column's
    # equation id is that hash xor a constant of the column (unnest of one struct per column)
    src = source_table(table.name)
    items = ", ".join(
        f"{{'k': {(position + 1) * 0x9E3779B97F4A7C15 % 2**64}::ubigint, 'c': {ids.sql(table, column)}, "
        # one membership per cell: a repeated count takes part through its first row only
        f"'ok': {quote(column)} is not null and _row_id = {cell_row(table, column)}}}"
        for position, column in enumerate(s.columns)
    )
    key = ", ".join([literal(s.name), *others])
    statements = []
    for coef, values, condition in [(-1, own, "true"), (1, parent, f"{parent[0]} is not null")]:
        statements.append(
            f"select xor(h, x.k) as eq_id, x.c as cell_id, {set_index} as set_index, {coef} as coef from "
            f"(select hash({key}, {', '.join(values)}) as h, unnest([{items}]) as x from {src} where {condition}) "
            "where x.ok"
        )
    return statements


def _columns_sql(ids: CellIds, table: TableSpec, s: AdditiveSet, set_index: int) -> list[str]:
    return [
        f"select hash({literal(s.name)}, _row_id) as eq_id, {ids.sql(table, column)} as cell_id, "
        f"{set_index} as set_index, {-1 if column == s.total else 1} as coef "
        f"from {source_table(table.name)} where {quote(column)} is not null"
        for column in (s.total or "", *s.parts)
    ]


def _link_sql(spec: PublishSpec, ids: CellIds, table: TableSpec, s: AdditiveSet, set_index: int) -> list[str]:
    total = spec.table(s.total_table or table.name)
    parts = spec.table(s.parts_table or table.name)
    on = " and ".join(f"t.{quote(a)} = p.{quote(b)}" for a, b in s.parts_match.items())
    where = [
        f"t.{quote(s.total_column or '')} is not null",
        f"p.{quote(s.parts_column or '')} is not null",
        f"t._row_id = {cell_row(total, s.total_column or '', 't')}",
        f"p._row_id = {cell_row(parts, s.parts_column or '', 'p')}",
    ]
    where += [f"p.{quote(k)} = {literal(v)}" for k, v in s.parts_where.items()]
    where += [f"p.{quote(k)} != {literal(v)}" for k, v in s.parts_where_not.items()]
    total_row = cell_row(total, s.total_column or "", "t")
    key = ", ".join([literal(s.name), total_row, *[f"p.{quote(g)}" for g in s.parts_group_by]])
    joined = f"from {source_table(total.name)} t join {source_table(parts.name)} p on {on} where {' and '.join(where)}"
    return [
        f"select distinct hash({key}) as eq_id, {ids.sql(total, s.total_column or '', 't')} as cell_id, "
        f"{set_index} as set_index, -1 as coef {joined}",
        f"select hash({key}) as eq_id, {ids.sql(parts, s.parts_column or '', 'p')} as cell_id, "
        f"{set_index} as set_index, 1 as coef {joined}",
    ]


def build_equations(con: duckdb.DuckDBPyConnection, spec: PublishSpec) -> System:
    """The cells and equations of the published tables already loaded as src_<name>."""
    add_cell_rows(con, spec)
    ids = CellIds.of(con, spec)
    value, height = _cell_arrays(con, spec, ids)
    statements: list[str] = []
    for set_index, (table, s) in enumerate(spec.all_sets()):
        if s.kind == "hierarchy":
            statements += _hierarchy_sql(spec, ids, table, s, set_index)
        elif s.kind == "columns":
            statements += _columns_sql(ids, table, s, set_index)
        else:
            statements += _link_sql(spec, ids, table, s, set_index)
    if not statements:
        statements = ["select 0::ubigint as eq_id, 0::bigint as cell_id, 0 as set_index, 0 as coef where false"]
    con.execute(
        "create or replace temp table members as select eq_id, cell_id::integer as cell_id, coef::tinyint as coef, "
        "set_index::smallint as set_index from (" + "\nunion all\n".join(statements) + ")"
    )
    in_row = np.array([s.kind == "columns" for _, s in spec.all_sets()] + [False], dtype=bool)
    eq, cell, coef, row_member = _fetch_members(con, in_row)
    # an equation with a single member says nothing about other cells (and cannot be protected): dropped
    keep = np.bincount(eq)[eq] >= 2 if len(eq) else np.zeros(0, dtype=bool)
    eq, cell, coef, row_member = eq[keep], cell[keep], coef[keep], row_member[keep]
    eq = np.cumsum(np.concatenate([[False], eq[1:] != eq[:-1]]), dtype=np.int32) if len(eq) else eq
    row_eq = np.zeros(int(eq[-1]) + 1 if len(eq) else 0, dtype=bool)
    row_eq[eq[row_member]] = True
    return System(value=value, height=height, eq=eq, cell=cell, coef=coef, row_eq=row_eq, blocks=ids.blocks)


def _fetch_members(
    con: duckdb.DuckDBPyConnection, in_row: np.ndarray, batch_rows: int = 1_000_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Members ordered by equation, the equation hash replaced by a number, streamed in batches into arrays of
    the final size (the hashes are never all in memory at once)."""
    n = int(con.execute("select count(*) from members").fetchall()[0][0])
    eq = np.empty(n, dtype=np.int32)
    cell = np.empty(n, dtype=np.int32)
    coef = np.empty(n, dtype=np.int8)
    row_member = np.empty(n, dtype=bool)
    position, number, previous = 0, -1, None
    with con.sql("select * from members order by eq_id").to_arrow_reader(batch_size=batch_rows) as reader:
        for batch in reader:
            hashes = batch.column(0).to_numpy()
            k = len(hashes)
            if k == 0:
                continue
            changes = np.empty(k, dtype=np.int64)
            changes[0] = previous is None or hashes[0] != previous
            changes[1:] = hashes[1:] != hashes[:-1]
            eq[position : position + k] = number + np.cumsum(changes)
            number = int(eq[position + k - 1])
            previous = hashes[-1]
            cell[position : position + k] = batch.column(1).to_numpy()
            coef[position : position + k] = batch.column(2).to_numpy()
            row_member[position : position + k] = in_row[batch.column(3).to_numpy()]
            position += k
    con.execute("drop table members")
    return eq[:position], cell[:position], coef[:position], row_member[:position]


def cell_position(
    blocks: tuple[tuple[str, str, int, int], ...], cells: np.ndarray
) -> list[tuple[str, str, np.ndarray]]:
    """(table, column, rows) of the given cell numbers, block by block."""
    out = []
    for table, column, start, rows in blocks:
        here = cells[(cells >= start) & (cells < start + rows)]
        out.append((table, column, here - start))
    return out
