"""Primary and complementary small-cell suppression, vectorised in DuckDB.

Model: every non-null count of every published table is a *cell*. Every additive set of the publish spec
(tables.yaml) yields *equations* total = sum of parts; an equation is stored as its member cells with a
coefficient (-1 for the total, +1 for a part). Absent rows are known zeros and take part in no equation.

1. Primary: a count from 1 to threshold - 1 is withheld.
2. Complementary: an equation with exactly one withheld member would give it away by subtraction, so one more
   member is withheld: the smallest shown count, non-zero counts first, then the lowest cell id (stable).
   Repeated over all equations until none has exactly one withheld member (the sets interlock, so this runs
   to a fixpoint). Only equations touched by newly withheld cells are re-examined in each round.
3. Linear-algebra audit: the singleton rule does not exclude every exact disclosure (e.g. a cell bridging two
   otherwise protected groups of equations). For each connected group of withheld cells (linked by the
   equations they share) up to `audit_limit` cells, the null space of the equation system restricted to the
   withheld cells is computed; a withheld cell on which every null vector vanishes is determined, and the
   smallest shown member of one of its equations is withheld too. Steps 2-3 repeat until stable.
4. Derived: every rate, share, mean or difference with a withheld source is withheld.

The outcome is the table `withheld` (tbl, row_id, col, reason) in the given connection.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import numpy as np

from brukerplan.publish.spec import AdditiveSet, PublishSpec, TableSpec

ROW_SHIFT = 4096  # cell_id = row_id * ROW_SHIFT + table_index * 64 + column_index


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


@dataclass
class SuppressionStats:
    cells: int = 0
    equations: int = 0
    primary: int = 0
    complementary: int = 0
    audit_added: int = 0
    derived: int = 0
    rounds: int = 0
    audited_groups: int = 0
    unaudited_groups: int = 0
    largest_group: int = 0
    seconds: float = 0.0
    audit_complete: bool = True
    phase_seconds: dict[str, float] = field(default_factory=dict)
    per_table: dict[str, int] = field(default_factory=dict)

    def lap(self, phase: str, started: float) -> float:
        now = time.perf_counter()
        self.phase_seconds[phase] = self.phase_seconds.get(phase, 0.0) + now - started
        return now


@dataclass(frozen=True)
class CellIds:
    """Numbering of tables and count columns, so a cell is one BIGINT."""

    spec: PublishSpec

    def table_index(self, table: str) -> int:
        return [t.name for t in self.spec.tables].index(table)

    def column_index(self, table: TableSpec, column: str) -> int:
        return table.counts.index(column)

    def sql(self, table: TableSpec, column: str, alias: str = "") -> str:
        offset = self.table_index(table.name) * 64 + self.column_index(table, column)
        return f"({cell_row(table, column, alias)} * {ROW_SHIFT} + {offset})"


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


def _check_sizes(spec: PublishSpec) -> None:
    if len(spec.tables) > ROW_SHIFT // 64:
        raise ValueError("too many published tables for the cell numbering")
    for table in spec.tables:
        if len(table.counts) > 64:
            raise ValueError(f"{table.name}: more than 64 count columns")


def _cells_sql(spec: PublishSpec, ids: CellIds) -> str:
    parts = []
    for table in spec.tables:
        for column in table.counts:
            parts.append(
                f"select {ids.sql(table, column)} as cell_id, {literal(table.name)} as tbl, _row_id as row_id, "
                f"{literal(column)} as col, {quote(column)}::bigint as value "
                f"from {source_table(table.name)} where {quote(column)} is not null "
                f"and _row_id = {cell_row(table, column)}"
            )
    return "\nunion all\n".join(parts)


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
    statements = []
    for column in s.columns:
        key = ", ".join([literal(s.name), literal(column), *others])
        cell = ids.sql(table, column)
        src = source_table(table.name)
        # one membership per cell: a repeated count takes part through its first row only
        not_null = f"{quote(column)} is not null and _row_id = {cell_row(table, column)}"
        statements.append(
            f"select hash({key}, {', '.join(own)}) as eq_id, {cell} as cell_id, {set_index} as set_index, "
            f"-1 as coef from {src} where {not_null}"
        )
        statements.append(
            f"select hash({key}, {', '.join(parent)}) as eq_id, {cell} as cell_id, {set_index} as set_index, "
            f"1 as coef from {src} where {not_null} and {parent[0]} is not null"
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


def build_equations(con: duckdb.DuckDBPyConnection, spec: PublishSpec) -> None:
    """Tables `cells` (cell_id, tbl, row_id, col, value, withheld, reason) and `members` (eq_id, cell_id,
    set_index) for the published tables already loaded as src_<name>."""
    _check_sizes(spec)
    add_cell_rows(con, spec)
    ids = CellIds(spec)
    con.execute(
        "create or replace temp table cells as select *, false as withheld, null::varchar as reason from ("
        + _cells_sql(spec, ids)
        + ")"
    )
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
        "create or replace temp table members_raw as select eq_id, cell_id, set_index, coef from ("
        + "\nunion all\n".join(statements)
        + ")"
    )
    # An equation with a single member says nothing about other cells (and cannot be protected): dropped.
    con.execute(
        """
        create or replace temp table members as
        select m.eq_id, m.cell_id, m.set_index, m.coef::tinyint as coef
        from members_raw m
        join (select eq_id from members_raw group by eq_id having count(*) >= 2) e using (eq_id)
        """
    )
    con.execute("drop table members_raw")


def _withhold(con: duckdb.DuckDBPyConnection, new_table: str, reason: str) -> int:
    """Mark the cells listed in new_table as withheld and update the per-equation counts."""
    con.execute(
        f"update cells set withheld = true, reason = {literal(reason)} "
        f"where cell_id in (select cell_id from {new_table}) and not withheld"
    )
    con.execute(
        f"""
        create or replace temp table eq_delta as
        select m.eq_id, count(*) as added from members m join {new_table} n using (cell_id) group by m.eq_id
        """
    )
    con.execute(
        """
        update eq_state set n_withheld = n_withheld + d.added
        from eq_delta d where eq_state.eq_id = d.eq_id
        """
    )
    row = con.execute(f"select count(*) from {new_table}").fetchone()
    return int(row[0]) if row else 0


def _singleton_rounds(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Withhold the smallest shown member of every equation with exactly one withheld member, until none."""
    added = rounds = 0
    while True:
        con.execute(
            """
            create or replace temp table picked as
            select distinct min_by(c.cell_id, struct_pack(z := c.value = 0, v := c.value, id := c.cell_id))
                as cell_id
            from eq_state s
            join members m using (eq_id)
            join cells c using (cell_id)
            where s.n_withheld = 1 and not c.withheld
            group by s.eq_id
            """
        )
        n = _withhold(con, "picked", "complementary")
        if n == 0:
            return added, rounds
        added += n
        rounds += 1


def _pieces(
    members: np.ndarray, eq_index: np.ndarray, cell_index: np.ndarray, limit: int, stats: SuppressionStats
) -> list[np.ndarray]:
    """Sub-systems of at most `limit` unknowns to check exactly. A group that is too large is split by leaving
    out its largest equations (a cell fixed by part of the equations is fixed by all of them, so whatever the
    pieces reveal is real; what only the left-out equations would reveal is not seen)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(np.unique(cell_index[members])) <= limit:
        return [members]
    _, local_eq, sizes = np.unique(eq_index[members], return_inverse=True, return_counts=True)
    member_sizes = sizes[local_eq]
    if member_sizes.max() <= 2:
        stats.unaudited_groups += 1
        return []
    kept = members[member_sizes < member_sizes.max()]
    if len(kept) == 0:
        return []
    _, k_eq = np.unique(eq_index[kept], return_inverse=True)
    _, k_cell = np.unique(cell_index[kept], return_inverse=True)
    n_eq, n_cell = int(k_eq.max()) + 1, int(k_cell.max()) + 1
    graph = coo_matrix((np.ones(len(kept)), (k_eq, n_eq + k_cell)), shape=(n_eq + n_cell, n_eq + n_cell))
    _, labels = connected_components(graph, directed=False)
    member_labels = labels[k_eq]
    order = np.argsort(member_labels, kind="stable")
    boundaries = np.flatnonzero(np.diff(member_labels[order])) + 1
    out: list[np.ndarray] = []
    for sub in np.split(order, boundaries):
        out += _pieces(kept[sub], eq_index, cell_index, limit, stats)
    return out


def _peel(con: duckdb.DuckDBPyConnection) -> None:
    """Shrink the system in audit_members without changing what it fixes: an equation with two or more withheld
    cells that occur in no other equation can always be satisfied by trading between them, so those cells are
    not fixed and the equation constrains nothing else; drop it. Repeat until none is left."""
    while True:
        con.execute(
            """
            create or replace temp table peel as
            with occurrences as (select cell_id, count(*) as n from audit_members group by cell_id)
            select a.eq_id from audit_members a join occurrences o using (cell_id)
            group by a.eq_id having count(*) filter (where o.n = 1) >= 2
            """
        )
        row = con.execute("select count(*) from peel").fetchone()
        if not row or row[0] == 0:
            return
        con.execute("delete from audit_members where eq_id in (select eq_id from peel)")


def _audit(
    con: duckdb.DuckDBPyConnection,
    audit_limit: int,
    stats: SuppressionStats,
    clean: set[int] | None = None,
    deadline: float | None = None,
) -> int:
    """Exact check of every connected group of withheld cells; withholds more where a cell is determined.
    `clean` remembers the sub-systems already found sound (they cannot change without a new withheld cell).
    Returns the number of cells added."""
    clean = set() if clean is None else clean
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    con.execute(
        """
        create or replace temp table audit_members as
        select m.eq_id, m.cell_id, m.coef
        from members m join cells c using (cell_id) join eq_state s using (eq_id)
        where c.withheld and s.n_withheld >= 2
        """
    )
    _peel(con)
    rows = con.execute("select eq_id, cell_id, coef from audit_members").fetchnumpy()
    if len(rows["eq_id"]) == 0:
        return 0
    eq_codes, eq_index = np.unique(rows["eq_id"], return_inverse=True)
    cell_codes, cell_index = np.unique(rows["cell_id"], return_inverse=True)
    coefs = np.asarray(rows["coef"], dtype=np.int64)
    n_eq, n_cell = len(eq_codes), len(cell_codes)
    # bipartite graph equations + cells; its components are independent sub-systems
    graph = coo_matrix((np.ones(len(eq_index)), (eq_index, n_eq + cell_index)), shape=(n_eq + n_cell, n_eq + n_cell))
    _, labels = connected_components(graph, directed=False)
    member_labels = labels[eq_index]
    order = np.argsort(member_labels, kind="stable")
    boundaries = np.flatnonzero(np.diff(member_labels[order])) + 1
    determined_cells: list[int] = []
    determined_groups: list[tuple[int, int]] = []  # (group number, equation id) of groups with a fixed cell
    for group in np.split(order, boundaries):
        size = len(np.unique(cell_index[group]))
        stats.largest_group = max(stats.largest_group, size)
        if deadline is not None and time.perf_counter() > deadline:
            stats.audit_complete = False
            break
        for piece in _pieces(group, eq_index, cell_index, audit_limit, stats):
            cells_here, local_cell = np.unique(cell_index[piece], return_inverse=True)
            eqs_here, local_eq = np.unique(eq_index[piece], return_inverse=True)
            signature = hash((cells_here.tobytes(), eqs_here.tobytes()))
            if signature in clean:
                continue  # unchanged since an audit that found nothing
            stats.audited_groups += 1
            equations: dict[int, dict[int, int]] = {}
            for e, c, k in zip(local_eq.tolist(), local_cell.tolist(), coefs[piece].tolist(), strict=True):
                equations.setdefault(e, {})[c] = int(k)
            fixed = [int(cell_codes[cells_here[j]]) for j in determined_unknowns(list(equations.values()))]
            if fixed:
                determined_cells += fixed
                number = len({g for g, _ in determined_groups})
                determined_groups += [(number, int(e)) for e in eq_codes[eqs_here]]
            else:
                clean.add(signature)
    if not determined_cells:
        return 0
    con.execute("create or replace temp table determined as select unnest(?::bigint[]) as cell_id", [determined_cells])
    con.execute(
        """
        create or replace temp table picked_for as
        select d.cell_id as fixed,
            min_by(c.cell_id, struct_pack(z := c.value = 0, v := c.value, id := c.cell_id)) as picked
        from determined d
        join members md on md.cell_id = d.cell_id
        join members m on m.eq_id = md.eq_id
        join cells c on c.cell_id = m.cell_id
        where not c.withheld
        group by d.cell_id
        """
    )
    con.execute("create or replace temp table picked as select picked as cell_id from picked_for")
    con.execute("alter table picked_for rename column fixed to cell_id")
    # a fixed cell whose own equations are all withheld already: the smallest shown cell of every equation of
    # its withheld neighbours (cells sharing an equation with it); failing that, of any equation of its group
    con.execute(
        """
        create or replace temp table stuck as
        select d.cell_id from determined d
        where d.cell_id not in (select cell_id from picked_for)
        """
    )
    con.execute(
        """
        create or replace temp table neighbour_pick as
        select s.cell_id as fixed,
            min_by(c.cell_id, struct_pack(z := c.value = 0, v := c.value, id := c.cell_id)) as cell_id
        from stuck s
        join members m1 on m1.cell_id = s.cell_id
        join members mn on mn.eq_id = m1.eq_id
        join members m2 on m2.cell_id = mn.cell_id and m2.eq_id != m1.eq_id
        join members m on m.eq_id = m2.eq_id
        join cells c on c.cell_id = m.cell_id
        where not c.withheld
        group by s.cell_id, m2.eq_id
        """
    )
    con.execute("insert into picked select cell_id from neighbour_pick")
    con.execute(
        "create or replace temp table determined_groups as select unnest(?::bigint[]) as grp, "
        "unnest(?::ubigint[]) as eq_id",
        [[g for g, _ in determined_groups], [e for _, e in determined_groups]],
    )
    con.execute(
        """
        insert into picked
        select min_by(c.cell_id, struct_pack(z := c.value = 0, v := c.value, id := c.cell_id))
        from determined_groups g
        join members m on m.eq_id = g.eq_id
        join cells c on c.cell_id = m.cell_id
        where not c.withheld and g.grp in (
            select g2.grp from determined_groups g2 join members m2 on m2.eq_id = g2.eq_id
            join stuck s on s.cell_id = m2.cell_id
            where s.cell_id not in (select fixed from neighbour_pick)
        )
        group by g.grp
        """
    )
    return _withhold(con, "(select distinct cell_id from picked)", "complementary")


PRIME = (1 << 61) - 1  # exact elimination modulo a large prime (ranks agree with the rationals' in practice)


def determined_unknowns(equations: list[dict[int, int]], seed: int = 20240101) -> list[int]:
    """Unknowns whose value the equations fix (e_j in the row space), by exact arithmetic modulo a prime.

    equations: each a {unknown: coefficient} map (the known cells moved to the right-hand side, which does not
    matter for which unknowns are fixed). Forward elimination to a row echelon form (sparse, shortest equations
    first, pivot on the unknown that occurs least), then one null-space vector from random values of the free
    unknowns: an unknown that is zero in it is zero in every null vector, i.e. fixed (the chance that a free
    one is zero by accident is 1 in 2^61 per unknown)."""
    occurrences: dict[int, int] = {}
    for equation in equations:
        for c in equation:
            occurrences[c] = occurrences.get(c, 0) + 1
    pivots: dict[int, dict[int, int]] = {}
    order: list[int] = []
    for equation in sorted(equations, key=len):
        row = {k: v % PRIME for k, v in equation.items() if v % PRIME}
        while True:
            hits = [c for c in row if c in pivots]
            if not hits:
                break
            for col in hits:
                factor = row.get(col)
                if not factor:
                    continue
                for c, v in pivots[col].items():
                    value = (row.get(c, 0) - factor * v) % PRIME
                    if value:
                        row[c] = value
                    else:
                        row.pop(c, None)
        if not row:
            continue
        pivot = min(row, key=lambda c: (occurrences[c], c))
        inverse = pow(row[pivot], PRIME - 2, PRIME)
        pivots[pivot] = {c: v * inverse % PRIME for c, v in row.items()}
        order.append(pivot)
    rng = random.Random(seed)
    x = {c: rng.randrange(1, PRIME) for c in occurrences if c not in pivots}
    for pivot in reversed(order):
        total = sum(v * x[c] for c, v in pivots[pivot].items() if c != pivot)
        x[pivot] = -total % PRIME
    return sorted(c for c in occurrences if x[c] == 0)


def suppress(
    con: duckdb.DuckDBPyConnection,
    spec: PublishSpec,
    threshold: int,
    audit_limit: int = 10000,
    audit_seconds: float = 120.0,
    progress: Callable[[str], None] | None = None,
) -> SuppressionStats:
    """Decide which cells are withheld; leaves the table `withheld` (tbl, row_id, col, reason).

    audit_limit: the largest group of withheld cells checked exactly in one piece (larger ones are split);
    audit_seconds: time budget for the exact audit, after which only the singleton rule runs (the stats
    record whether the audit finished)."""
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    stats = SuppressionStats()
    lap = started
    build_equations(con, spec)
    stats.cells = int(con.execute("select count(*) from cells").fetchone()[0])  # type: ignore[index]
    con.execute(
        "create or replace temp table eq_state as select eq_id, 0::bigint as n_withheld from members group by eq_id"
    )
    stats.equations = int(con.execute("select count(*) from eq_state").fetchone()[0])  # type: ignore[index]
    con.execute(
        f"create or replace temp table primary_cells as select cell_id from cells "
        f"where value between 1 and {int(threshold) - 1}"
    )
    stats.primary = _withhold(con, "primary_cells", "primary")
    lap = stats.lap("equations", lap)
    clean: set[int] = set()
    deadline: float | None = None
    while True:
        say(f"complementary cells ({stats.complementary:,} so far)")
        added, rounds = _singleton_rounds(con)
        stats.complementary += added
        stats.rounds += rounds
        lap = stats.lap("singleton", lap)
        if not stats.audit_complete:
            break  # out of time: the singleton rule above has restored "no equation with one withheld cell"
        deadline = deadline or time.perf_counter() + audit_seconds
        say(f"exact audit ({stats.audit_added:,} cells added so far)")
        extra = _audit(con, audit_limit, stats, clean, deadline)
        lap = stats.lap("audit", lap)
        stats.audit_added += extra
        stats.complementary += extra
        if extra == 0 and stats.audit_complete:
            break
    stats.derived = _derive(con, spec)
    stats.lap("derived", lap)
    for table, n in con.execute("select tbl, count(*) from withheld group by tbl").fetchall():
        stats.per_table[str(table)] = int(n)
    stats.seconds = time.perf_counter() - started
    return stats


def _derive(con: duckdb.DuckDBPyConnection, spec: PublishSpec) -> int:
    """The table `withheld`: withheld counts plus every derived column with a withheld source."""
    set_index = {s.name: i for i, (_, s) in enumerate(spec.all_sets())}
    ids = CellIds(spec)
    expand = [
        f"select {literal(table.name)} as tbl, r._row_id as row_id, c.col, c.reason from {source_table(table.name)} r "
        f"join cells c on c.cell_id = {ids.sql(table, column, 'r')} where c.withheld"
        for table in spec.tables
        for column in table.counts
    ]
    con.execute("create or replace temp table withheld as " + "\nunion all\n".join(expand))
    con.execute(
        """
        create or replace temp table withheld_eqs as
        select distinct m.eq_id, m.set_index
        from members m join cells c using (cell_id) where c.withheld
        """
    )
    statements = []
    for table in spec.tables:
        src = source_table(table.name)
        for column, sources in table.derived.items():
            conditions = []
            joins = []
            for n, source in enumerate(sources):
                if source.set is not None:
                    counts = [c for c in table.counts]
                    in_set = " or ".join(
                        f"{ids.sql(table, c, 'r')} in (select m.cell_id from members m join withheld_eqs w "
                        f"using (eq_id) where w.set_index = {set_index[source.set]})"
                        for c in counts
                    )
                    conditions.append(f"({in_set})")
                elif source.table is not None:
                    other = spec.table(source.table)
                    match = source.match or {k: k for k in other.keys}
                    on = " and ".join(f"r.{quote(a)} = o{n}.{quote(b)}" for a, b in match.items())
                    joins.append(f"left join {source_table(other.name)} o{n} on {on}")
                    conditions.append(
                        f"{ids.sql(other, source.column or '', f'o{n}')} in (select cell_id from cells where withheld)"
                    )
                else:
                    conditions.append(
                        f"{ids.sql(table, source.column or '', 'r')} in (select cell_id from cells where withheld)"
                    )
            statements.append(
                f"select distinct {literal(table.name)} as tbl, r._row_id as row_id, {literal(column)} as col, "
                f"'derived' as reason from {src} r {' '.join(joins)} where {' or '.join(conditions)}"
            )
    if not statements:
        return 0
    con.execute("create or replace temp table derived_cells as " + "\nunion all\n".join(statements))
    con.execute("insert into withheld select * from derived_cells")
    return int(con.execute("select count(*) from derived_cells").fetchone()[0])  # type: ignore[index]
