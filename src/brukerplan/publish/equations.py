"""The declaration of tables.yaml as a system of equations over quantity cells, built in DuckDB.

A *cell* is one quantity at one value of its dimensions. Every non-null count of every published table shows
one cell (`CountColumn`: which quantity, at which key); a cell shown in several places (a per-area total on every
colour row, the same count in two tables, last year's persons) is one cell, and its copies must agree — publish
stops with the table and column if they do not. Cells are numbered quantity by quantity. Equations: for every
additive quantity and hierarchy, parent = sum of children; for every identity, total = sum of parts. An equation
is stored as its member cells with a coefficient (-1 for the total, +1 for a part). Absent cells are known zeros
and take part in no equation. `build_equations` hands the result to the solver (suppress.py) as numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from brukerplan.publish.spec import Hierarchy, Identity, Part, PublishSpec, Quantity, SpecError, TableSpec
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


def cell_table(index: int) -> str:
    """The cells of the index-th quantity: cell_id, one varchar column per dimension, value, height."""
    return quote(f"qcells_{index}")


CELL_MAP = "cell_map"  # (block, row_id, cell_id): which cell each published count shows


@dataclass(frozen=True)
class Block:
    """One count column of one published table: its cells are in cell_map under `number`."""

    number: int
    table: str
    column: str


def _as_text(value: object) -> str:
    """A dimension value as the text the cell tables hold (dimensions are varchar; booleans 'true'/'false')."""
    return literal(str(value).lower() if isinstance(value, bool) else str(value))


def _condition(alias: str, values: dict[str, tuple[object, ...]], negate: bool = False) -> list[str]:
    out = []
    for dim, options in values.items():
        inside = f"{alias}{quote(dim)} in ({', '.join(_as_text(v) for v in options)})"
        out.append(f"not ({inside})" if negate else inside)
    return out


def _height_sql(spec: PublishSpec, quantity: Quantity) -> str:
    """Levels of aggregation above the finest, summed over the hierarchies whose columns the quantity has: 0 for
    a municipality cell of a leaf group, 4 for the country cell of `all`. The solver withholds low cells first."""
    terms = []
    for hierarchy in spec.hierarchies.values():
        if not set(hierarchy.columns) <= set(quantity.dims) or not hierarchy.heights:
            continue
        cases = " ".join(f"when {literal(k)} then {int(v)}" for k, v in hierarchy.heights.items())
        terms.append(f"coalesce(case {quote(hierarchy.columns[0])} {cases} end, 0)")
    return " + ".join(terms) or "0"


def blocks_of(spec: PublishSpec) -> list[Block]:
    """Every count column of every published table, numbered in the order of the spec."""
    blocks: list[Block] = []
    for table in spec.tables:
        for count in table.counts:
            blocks.append(Block(len(blocks), table.name, count.column))
    return blocks


def apart_sql(spec: PublishSpec, table: TableSpec, column: str) -> str | None:
    """SQL over a row of the table: the value of `solve_apart_by` (the mapping year) of the cell that the count
    column shows (`previous_persons` shows a cell of the previous mapping year); None when the quantity has no
    such dimension."""
    count = table.count(column)
    quantity = spec.quantities[count.quantity]
    if spec.solve_apart_by is None or spec.solve_apart_by not in quantity.dims:
        return None
    return count.key_sql(quantity)[quantity.dims.index(spec.solve_apart_by)]


def apart_hash_sql(spec: PublishSpec, table: TableSpec, column: str) -> str:
    """The hash (ubigint) of the text of the column's cell's `solve_apart_by` value: names a mapping year."""
    return _text_hash(apart_sql(spec, table, column) or "null")


def _text_hash(sql: str) -> str:
    return f"hash(({sql})::varchar)"


def _build_cells(
    con: duckdb.DuckDBPyConnection, spec: PublishSpec, only: list[int] | None = None
) -> tuple[list[str], list[Block], int]:
    """qcells_<i> for every quantity shown, and cell_map; returns (quantity names, blocks, number of cells). With
    `only`, just the cells whose `solve_apart_by` value has one of these hashes (apart_hash_sql) or is null."""
    shown: dict[str, list[tuple[Block, TableSpec]]] = {}
    blocks = blocks_of(spec)
    for block in blocks:
        table = spec.table(block.table)
        shown.setdefault(table.count(block.column).quantity, []).append((block, table))
    names = sorted(shown)
    con.execute(f"create or replace temp table {CELL_MAP} (block integer, row_id bigint, cell_id integer)")
    sources = {table.name: source_table(table.name) for table in spec.tables}
    hashes = ", ".join(f"{h}::ubigint" for h in only or []) or "null"
    if only is not None:  # each table's rows that show a cell of those values, once (not once per block)
        for table in spec.tables:
            years = {apart_sql(spec, table, count.column) for count in table.counts}
            if not years or None in years:
                continue
            where = " or ".join(f"({y}) is null or {_text_hash(y)} in ({hashes})" for y in sorted(years))
            sources[table.name] = quote(f"only_{table.name}")
            con.execute(
                f"create or replace temp table {sources[table.name]} as "
                f"select * from {source_table(table.name)} where {where}"
            )
    offset = 0
    for index, name in enumerate(names):
        quantity = spec.quantities[name]
        dims = [quote(d) for d in quantity.dims]
        selects = []
        for block, table in shown[name]:
            count = table.count(block.column)
            keys = ", ".join(
                f"({sql})::varchar as {quote(d)}" for d, sql in zip(quantity.dims, count.key_sql(quantity), strict=True)
            )
            where = f"{quote(block.column)} is not null"
            if only is not None:
                year = apart_sql(spec, table, block.column) or "null"
                where += f" and (({year}) is null or {apart_hash_sql(spec, table, block.column)} in ({hashes}))"
            selects.append(
                f"select {block.number} as block, _row_id, {keys}, {quote(block.column)}::bigint as value "
                f"from {sources[table.name]} where {where}"
            )
        # one number per distinct key, in key order (the cells of the quantity), given to every row that shows it
        order = ", ".join(dims)
        con.execute(
            f"create or replace temp table shown_cells as select *, "
            f"({offset} + dense_rank() over (order by {order}) - 1)::integer as cell_id "
            f"from ({' union all '.join(selects)})"
        )
        con.execute(
            f"create or replace temp table {cell_table(index)} as select cell_id, {order}, min(value) as value, "
            f"max(value) as top, ({_height_sql(spec, quantity)})::bigint as height "
            f"from shown_cells group by all"
        )
        conflict = con.execute(
            f"select {order}, value, top from {cell_table(index)} where value != top order by cell_id limit 1"
        ).fetchone()
        if conflict:
            key = ", ".join(f"{d}={v}" for d, v in zip(quantity.dims, conflict[:-2], strict=True))
            columns = sorted(f"{b.table}.{b.column}" for b, _ in shown[name])
            raise SpecError(
                f"{' and '.join(columns)} are declared as the same quantity {name!r} but differ at {key}: "
                f"{conflict[-2]} and {conflict[-1]}"
            )
        con.execute(f"insert into {CELL_MAP} select block, _row_id, cell_id from shown_cells")
        row = con.execute(f"select count(*) from {cell_table(index)}").fetchone()
        offset += int(row[0]) if row else 0
    con.execute("drop table if exists shown_cells")
    for name in set(sources.values()) - {source_table(t.name) for t in spec.tables}:
        con.execute(f"drop table {name}")
    return names, blocks, offset


def _hierarchy_sql(name: str, index: int, quantity: Quantity, hierarchy: Hierarchy) -> list[str]:
    others = [quote(k) for k in quantity.dims if k not in hierarchy.columns]
    own = [quote(c) for c in hierarchy.columns]
    if hierarchy.parent:
        (column,) = hierarchy.columns
        cases = " ".join(f"when {literal(k)} then {literal(v)}" for k, v in hierarchy.parent.items())
        parent = [f"(case {quote(column)} {cases} end)"]
    else:
        level_column = hierarchy.columns[0]
        parent = []
        for position in range(len(hierarchy.columns)):
            cases = " ".join(
                f"when {literal(level)} then ({exprs[position]})::varchar"
                for level, exprs in hierarchy.parent_sql.items()
            )
            parent.append(f"(case {quote(level_column)} {cases} end)")
    key = ", ".join([literal(f"{name}/{hierarchy.name}"), *others])
    return [
        f"select hash({key}, {', '.join(own)}) as eq_id, cell_id, -1 as coef from {cell_table(index)}",
        f"select hash({key}, {', '.join(parent)}) as eq_id, cell_id, 1 as coef "
        f"from {cell_table(index)} where {parent[0]} is not null",
    ]


def _part_sql(identity: Identity, part: Part, index: int, coef: int) -> str:
    by = ", ".join(quote(part.dim_of(d)) for d in identity.by)
    where = _condition("", part.where) + _condition("", part.where_not, negate=True) or ["true"]
    return (
        f"select hash({literal(identity.name)}, {by}) as eq_id, cell_id, {coef} as coef "
        f"from {cell_table(index)} where {' and '.join(where)}"
    )


def _identity_sql(spec: PublishSpec, identity: Identity, index_of: dict[str, int]) -> list[str]:
    parts = [p for p in identity.parts if p.quantity in index_of]
    if identity.total.quantity not in index_of or not parts:
        return []
    statements = [_part_sql(identity, part, index_of[part.quantity], 1) for part in parts]
    # the total, once in every equation of the parts (by the values of `by` that the parts have)
    total = identity.total
    total_dims = spec.quantities[total.quantity].dims
    by_parts = " union ".join(
        f"select distinct {', '.join(quote(p.dim_of(d)) + ' as ' + quote(d) for d in identity.by)} "
        f"from {cell_table(index_of[p.quantity])} where "
        + " and ".join(_condition("", p.where) + _condition("", p.where_not, negate=True) or ["true"])
        for p in parts
    )
    on = [f"t.{quote(total.dim_of(d))} = p.{quote(d)}" for d in identity.by if total.dim_of(d) in total_dims]
    on += _condition("t.", total.where) + _condition("t.", total.where_not, negate=True)
    statements.append(
        f"select hash({literal(identity.name)}, {', '.join('p.' + quote(d) for d in identity.by)}) as eq_id, "
        f"t.cell_id, -1 as coef from ({by_parts}) p join {cell_table(index_of[total.quantity])} t "
        f"on {' and '.join(on) or 'true'}"
    )
    return statements


def build_equations(
    con: duckdb.DuckDBPyConnection, spec: PublishSpec, only: list[int] | None = None
) -> tuple[System, list[Block], np.ndarray]:
    """The cells and equations of the published tables already loaded as src_<name>; with `only`, of the cells of
    those `solve_apart_by` values (by hash, apart_hash_sql) and of a null value only. Also returns, per group
    number of system.group, the hash of its value."""
    names, blocks, n_cells = _build_cells(con, spec, only)
    index_of = {name: i for i, name in enumerate(names)}
    value = np.full(n_cells, -1, dtype=np.int64)
    height = np.zeros(n_cells, dtype=np.int64)
    group = np.full(n_cells, -1, dtype=np.int64)
    apart = spec.solve_apart_by
    with_key = [i for name, i in index_of.items() if apart in spec.quantities[name].dims]
    # the values of solve_apart_by, numbered in order (-1: a quantity without that dimension)
    keys = " union ".join(f"select distinct {quote(apart or '')} as k from {cell_table(i)}" for i in with_key)
    con.execute(
        "create or replace temp table group_keys as "
        + (f"select k, (row_number() over (order by k) - 1)::bigint as g from ({keys})" if keys else "select 1")
    )
    statements: list[str] = []
    for name, index in index_of.items():
        part_sql = "-1::bigint"
        join = ""
        if index in with_key:
            part_sql, join = "k.g", f" join group_keys k on c.{quote(apart or '')} = k.k"
        data = con.execute(
            f"select c.cell_id, c.value, c.height, {part_sql} as g from {cell_table(index)} c{join}"
        ).fetchnumpy()
        value[data["cell_id"]] = data["value"]
        height[data["cell_id"]] = data["height"]
        group[data["cell_id"]] = data["g"]
        quantity = spec.quantities[name]
        for hierarchy in quantity.additive:
            statements += _hierarchy_sql(name, index, quantity, spec.hierarchies[hierarchy])
    for identity in spec.identities:
        statements += _identity_sql(spec, identity, index_of)
    if not statements:
        statements = ["select 0::ubigint as eq_id, 0 as cell_id, 0 as coef where false"]
    con.execute(
        "create or replace temp table members as select eq_id, cell_id::integer as cell_id, coef::tinyint as coef "
        "from (" + "\nunion all\n".join(statements) + ")"
    )
    eq, cell, coef = _fetch_members(con)
    # a cell twice in one equation (not in the shipped declaration, possible in another): one member
    twice = np.flatnonzero((eq[1:] == eq[:-1]) & (cell[1:] == cell[:-1])) + 1
    if len(twice):
        coef = coef.astype(np.int64)
        keep = np.ones(len(eq), dtype=bool)
        keep[twice] = False
        groups = np.cumsum(keep) - 1
        coef = np.bincount(groups, weights=coef).astype(np.int64)
        eq, cell = eq[keep], cell[keep]
        nonzero = coef != 0
        eq, cell, coef = eq[nonzero], cell[nonzero], coef[nonzero].astype(np.int8)
    # an equation with a single member says nothing about other cells (and cannot be protected): dropped
    keep = np.bincount(eq)[eq] >= 2 if len(eq) else np.zeros(0, dtype=bool)
    eq, cell, coef = eq[keep], cell[keep], coef[keep]
    eq = np.cumsum(np.concatenate([[False], eq[1:] != eq[:-1]]), dtype=np.int32) if len(eq) else eq
    for index in index_of.values():
        con.execute(f"drop table {cell_table(index)}")
    group_hashes = np.zeros(0, dtype=np.uint64)
    if keys:
        data = con.execute("select hash(k::varchar) as h from group_keys order by g").fetchnumpy()
        group_hashes = np.asarray(data["h"], dtype=np.uint64)
    con.execute("drop table group_keys")
    return System(value=value, height=height, eq=eq, cell=cell, coef=coef, group=group), blocks, group_hashes


def _fetch_members(
    con: duckdb.DuckDBPyConnection, batch_rows: int = 1_000_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Members ordered by equation, the equation hash replaced by a number, streamed in batches into arrays of
    the final size (the hashes are never all in memory at once)."""
    n = int(con.execute("select count(*) from members").fetchall()[0][0])
    eq = np.empty(n, dtype=np.int32)
    cell = np.empty(n, dtype=np.int32)
    coef = np.empty(n, dtype=np.int8)
    position, number, previous = 0, -1, None
    with con.sql("select * from members order by eq_id, cell_id").to_arrow_reader(batch_size=batch_rows) as reader:
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
            position += k
    con.execute("drop table members")
    return eq[:position], cell[:position], coef[:position]


def cell_of_rows(con: duckdb.DuckDBPyConnection, block: Block, rows: int) -> np.ndarray:
    """For every row of the block's table: the cell its count shows, -1 where the count is null."""
    out = np.full(rows, -1, dtype=np.int64)
    data = con.execute(f"select row_id, cell_id from {CELL_MAP} where block = ?", [block.number]).fetchnumpy()
    out[data["row_id"]] = data["cell_id"]
    return out
