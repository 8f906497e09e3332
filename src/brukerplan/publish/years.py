"""Which mapping years are unchanged since the last publication, decided before any equation is built, and the
withheld cells of an unchanged year taken row by row from the store (decisions P19).

A year's suppression (parts.py) is a function of its part of the system of equations, and that part is built
from nothing but the declaration and the counts that show a cell of the year: for every count column (a
*block*) of every published table, the rows whose cell lies in the year (the row's `mapping_year`; for
`previous_persons` its `previous_mapping_year`), each with its key, its cell's key and its value. The year's
*input fingerprint* is the SHA-256 of, per block, the number of such rows and two sums of 64-bit hashes of them
(DuckDB `hash()`, summed as HUGEINT: one hash aggregate per block over the in-memory marts, no sort, no join),
together with the threshold, the LP budget, the publish spec and the source of the solver, of the equation
builder and of this module. A year whose input fingerprint has a record in the store is taken from it: per
block, the withheld flag of each of the year's rows in row order (and the null-vector entries the `gap` rule
needs), with the year's statistics. Only the other years' cells and equations are built and solved; their
results become the new records. A year that some equation joins with another (not in the shipped declaration)
gets no record and is built and solved every time, as are cells whose year is null.

Two kinds of block are left out of the fingerprints and records: *free* blocks (quantities in no equation, e.g.
the counts "at the next mapping", which a later year's submission recomputes) are withheld exactly when small,
row by row, as the solver withholds a cell in no equation; *copies* (`previous_persons`, a cell of another year
than its row) take the flags of the row of `mart_trends.persons` that shows the same cell with the same value
(a copy with a row that has no such anchor is fingerprinted like any other block).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

from brukerplan.publish.equations import (
    Block,
    apart_hash_sql,
    apart_sql,
    blocks_of,
    build_equations,
    cell_of_rows,
    quote,
    source_table,
)
from brukerplan.publish.exact import sorted_distinct
from brukerplan.publish.masks import ShownCells, shown_cells, table_rows
from brukerplan.publish.parts import (
    CACHE_SUFFIX,
    Part,
    PartCache,
    PartResult,
    PartsSummary,
    merge_stats,
    solve_parts,
    solver_version,
    stats_from_json,
    stats_to_json,
    write_npz,
)
from brukerplan.publish.spec import PublishSpec, SpecError
from brukerplan.publish.suppress import SuppressionStats, System, is_small

YEARS_DIR = "years"  # inside the parts store
RECORD_SUFFIX = CACHE_SUFFIX  # keep_only() below is PartCache's, which knows its files by this suffix
FORMAT = "P19 year record 1"
INPUT_MODULES = ("equations.py", "spec.py", "years.py")


@dataclass(frozen=True)
class BlockYears:
    """The rows of one block that show a cell (its count is not null), ascending, with the hash of the text of
    their cell's year (apart_hash_sql) and whether that year is null."""

    row_id: np.ndarray  # int64
    year: np.ndarray  # uint64
    null_year: np.ndarray  # bool

    def rows_of(self, year: int) -> np.ndarray:
        return self.row_id[(self.year == np.uint64(year)) & ~self.null_year]


@dataclass
class YearRecord:
    """What a year's solve left for the next publication: per block the withheld flags of its rows (row order)
    and, for the blocks of a difference (`gap`), the null-vector entries of its withheld rows; the statistics
    of its part(s) and its counts of cells, equations, primary and withheld cells."""

    rows: dict[int, int]  # block -> rows of the year
    withheld: dict[int, np.ndarray]  # block -> bool per row
    null: dict[int, np.ndarray]  # block (difference blocks only) -> int64 per withheld row
    parts: list[tuple[str, SuppressionStats]]  # part fingerprint, statistics
    cells: int = 0
    equations: int = 0
    primary: int = 0
    withheld_cells: int = 0


@dataclass(frozen=True)
class YearStore:
    """Year records under their input fingerprints (one file each, written whole: temp file + rename)."""

    directory: Path

    def path(self, fingerprint: str) -> Path:
        return self.directory / f"{fingerprint}{RECORD_SUFFIX}"

    def get(self, fingerprint: str) -> YearRecord | None:
        """The record, or None when absent or unreadable (then the year is built and solved)."""
        try:
            with np.load(self.path(fingerprint), allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("format") != FORMAT:
                    return None
                rows = {int(b): int(n) for b, n in meta["rows"].items()}
                withheld = {b: np.unpackbits(data[f"w{b}"], count=n).astype(bool) for b, n in rows.items()}
                null = {int(b): data[f"z{b}"].astype(np.int64) for b in meta["null"]}
                parts = [(str(fp), stats_from_json(text)) for fp, text in meta["parts"]]
                return YearRecord(rows, withheld, null, parts, *(int(meta[k]) for k in _COUNTS))
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
            return None

    def put(self, fingerprint: str, record: YearRecord) -> bool:
        """Store the record; False when the store cannot be written (the publication goes on without it)."""
        meta = {
            "format": FORMAT,
            "rows": {str(b): n for b, n in record.rows.items()},
            "null": [str(b) for b in record.null],
            "parts": [(fp, stats_to_json(stats)) for fp, stats in record.parts],
            **{k: getattr(record, k) for k in _COUNTS},
        }
        arrays = {f"w{b}": np.packbits(w) for b, w in record.withheld.items()}
        arrays |= {f"z{b}": z for b, z in record.null.items()}
        try:
            write_npz(self.path(fingerprint), meta=np.str_(json.dumps(meta)), **arrays)
        except OSError:
            return False
        return True

    def keep_only(self, fingerprints: set[str]) -> bool:
        """Forget every record but these (the years of the publication just written)."""
        return PartCache(self.directory).keep_only(fingerprints)


_COUNTS = ("cells", "equations", "primary", "withheld_cells")


@dataclass(frozen=True)
class RecordingCache(PartCache):
    """The parts store, noting every part that solve_parts takes from it or puts into it: its cells and result."""

    seen: dict[str, tuple[np.ndarray, SuppressionStats]] = field(default_factory=dict)

    def get(self, part: Part) -> PartResult | None:
        result = super().get(part)
        if result is not None:
            self.seen[part.fingerprint] = (part.cells, result.stats)
        return result

    def put(self, part: Part, result: PartResult) -> bool:
        self.seen[part.fingerprint] = (part.cells, result.stats)
        return super().put(part, result)


@dataclass
class YearsSolved:
    """The suppression of every block's rows, its statistics, what was reused, and the year records in use."""

    cells: dict[int, ShownCells]
    stats: SuppressionStats
    parts: PartsSummary
    years: int = 0
    years_reused: int = 0
    records: set[str] = field(default_factory=set)
    equations_seconds: float = 0.0


def applicable(spec: PublishSpec) -> bool:
    """Whether every published count shows a cell with a `solve_apart_by` value (else no year is reused)."""
    return all(apart_sql(spec, spec.table(b.table), b.column) is not None for b in blocks_of(spec))


def input_base(spec: PublishSpec, threshold: int, lp_budget: int) -> bytes:
    """What every year's input fingerprint starts with: the code and the settings its result depends on."""
    digest = hashlib.sha256(f"{FORMAT}|{solver_version()}|duckdb {duckdb.__version__}".encode())
    here = Path(__file__).parent
    for name in INPUT_MODULES:
        digest.update((here / name).read_bytes())
    # the spec in a canonical form (some of its dicts are filled in set order, which varies between processes)
    canonical = json.dumps(dataclasses.asdict(spec), sort_keys=True, default=str)
    digest.update(f"|threshold={int(threshold)}|lp_budget={int(lp_budget)}|{canonical}".encode())
    return digest.digest()


def block_years(con: duckdb.DuckDBPyConnection, spec: PublishSpec, blocks: list[Block]) -> dict[int, BlockYears]:
    out = {}
    for block in blocks:
        table = spec.table(block.table)
        year = apart_sql(spec, table, block.column) or "null"
        data = con.execute(
            f"select _row_id, {apart_hash_sql(spec, table, block.column)} as y, ({year}) is null as n "
            f"from {source_table(table.name)} where {quote(block.column)} is not null order by _row_id"
        ).fetchnumpy()
        out[block.number] = BlockYears(
            np.asarray(data["_row_id"], dtype=np.int64),
            np.asarray(data["y"], dtype=np.uint64),
            np.asarray(data["n"], dtype=bool),
        )
    return out


def input_fingerprints(
    con: duckdb.DuckDBPyConnection, spec: PublishSpec, blocks: list[Block], base: bytes
) -> dict[int, str]:
    """Per year (the hash of its text): the SHA-256 of `base` and, per block, the number of rows showing a cell
    of the year and two sums of hashes over their keys, cell keys and values."""
    sums: dict[int, list[tuple[int, int, int, int]]] = {}
    for block in blocks:
        table = spec.table(block.table)
        count = table.count(block.column)
        quantity = spec.quantities[count.quantity]
        keys = [*(quote(k) for k in table.keys), *(f"({sql})" for sql in count.key_sql(quantity))]
        items = ", ".join([*keys, f"{quote(block.column)}::bigint"])
        rows = con.execute(
            f"select {apart_hash_sql(spec, table, block.column)} as y, count(*), "
            f"sum(hash({items}))::hugeint::varchar, sum(hash('{FORMAT}', {items}))::hugeint::varchar "
            f"from {source_table(table.name)} where {quote(block.column)} is not null "
            f"and ({apart_sql(spec, table, block.column)}) is not null group by 1"
        ).fetchall()
        for year, n, first, second in rows:
            sums.setdefault(int(year), []).append((block.number, int(n), int(first), int(second)))
    out = {}
    for year, items in sums.items():
        digest = hashlib.sha256(base)
        digest.update(json.dumps(sorted(items)).encode())
        out[year] = digest.hexdigest()
    return out


def free_blocks(spec: PublishSpec, blocks: list[Block]) -> set[int]:
    """The blocks of quantities in no equation (no additive hierarchy, in no identity: the counts "at the next
    mapping"): their cells are in no part, withheld exactly when small, and their values (which a later year's
    submission changes) are left out of the fingerprints."""
    in_identity = {p.quantity for i in spec.identities for p in (i.total, *i.parts)}
    free = {n for n, q in spec.quantities.items() if not q.additive and n not in in_identity}
    return {b.number for b in blocks if spec.table(b.table).count(b.column).quantity in free}


@dataclass(frozen=True)
class Copy:
    """A block whose rows show cells of another year (`previous_persons`: of the previous mapping), every one of
    them shown with the same value by a row of the `anchor` block in its own year: it adds no cell to that year,
    and each row takes the flags of its anchor row."""

    anchor: int
    row_id: np.ndarray  # rows of the block that show a cell
    anchor_row_id: np.ndarray  # the anchor's row that shows the same cell


def _shown_keys(spec: PublishSpec, block: Block) -> str:
    """The rows of a block that show a cell: _row_id, the cell's key (k0, k1, ... as text) and the value v."""
    table = spec.table(block.table)
    count = table.count(block.column)
    keys = ", ".join(
        f"({sql})::varchar as k{i}" for i, sql in enumerate(count.key_sql(spec.quantities[count.quantity]))
    )
    return (
        f"select _row_id, {keys}, {quote(block.column)}::bigint as v from {source_table(block.table)} "
        f"where {quote(block.column)} is not null"
    )


def copies(con: duckdb.DuckDBPyConnection, spec: PublishSpec, blocks: list[Block], free: set[int]) -> dict[int, Copy]:
    """The blocks whose cell lies in another year than their row (`at` gives `solve_apart_by`) and whose every
    cell is shown with the same value by a block of the same quantity in its own year (the first such block in
    spec order). Such a block is left out of the fingerprints: a new or dropped row of a later year does not
    change the earlier year's system."""
    apart = spec.solve_apart_by
    out = {}
    for block in blocks:
        count = spec.table(block.table).count(block.column)
        if block.number in free or apart is None or apart not in count.at:
            continue
        anchors = [
            b
            for b in blocks
            if spec.table(b.table).count(b.column).quantity == count.quantity
            and apart not in spec.table(b.table).count(b.column).at
        ]
        if not anchors:
            continue
        anchor = anchors[0]
        n_keys = len(spec.quantities[count.quantity].dims)
        on = " and ".join(f"a.k{i} = f.k{i}" for i in range(n_keys))
        data = con.execute(
            f"select f._row_id as f, min(a._row_id) as a, coalesce(bool_and(f.v = a.v), false) as same "
            f"from ({_shown_keys(spec, block)}) f left join ({_shown_keys(spec, anchor)}) a on {on} "
            "group by f._row_id order by f._row_id"
        ).fetchnumpy()
        if np.asarray(data["same"], dtype=bool).all():
            row_id = np.asarray(data["f"], dtype=np.int64)
            out[block.number] = Copy(anchor.number, row_id, np.asarray(data["a"], dtype=np.int64))
    return out


def fingerprinted(
    con: duckdb.DuckDBPyConnection, spec: PublishSpec, blocks: list[Block]
) -> tuple[list[Block], set[int], dict[int, Copy]]:
    """Of `blocks` (blocks_of(spec)): those a year's input fingerprint and record cover (all but the free blocks
    and the copies), the free blocks and the copies."""
    free = free_blocks(spec, blocks)
    copied = copies(con, spec, blocks, free)
    return [b for b in blocks if b.number not in free and b.number not in copied], free, copied


def difference_blocks(spec: PublishSpec, blocks: list[Block]) -> set[int]:
    """The blocks whose null-vector entries the difference rule of masks.py reads."""
    named = {(t.name, c) for t in spec.tables for pair in t.differences.values() for c in pair}
    return {b.number for b in blocks if (b.table, b.column) in named}


def _year_counts(system: System, withheld: np.ndarray, threshold: int, mask: np.ndarray) -> dict[str, int]:
    in_year = mask & (system.value >= 0)
    small = is_small(system.value, threshold)
    members = system.eq[mask[system.cell]]  # non-decreasing (System.eq is): its distinct values are its runs
    return {
        "cells": int(in_year.sum()),
        "equations": int(np.count_nonzero(members[1:] != members[:-1])) + 1 if len(members) else 0,
        "primary": int((small & in_year).sum()),
        "withheld_cells": int((withheld & in_year).sum()),
    }


def solve_by_year(
    con: duckdb.DuckDBPyConnection,
    spec: PublishSpec,
    threshold: int,
    lp_budget: int,
    cache: PartCache,
    reuse: bool = True,
    progress: Callable[[str], None] | None = None,
) -> YearsSolved:
    """The withheld cells of every block's rows: unchanged years from their records, the others built and solved
    (parts.py, which may still take a part from the parts store), and their records stored."""
    say = progress or (lambda _msg: None)
    blocks = blocks_of(spec)
    rows = table_rows(con, spec)
    store = YearStore(cache.directory / YEARS_DIR)
    bound, free, copied = fingerprinted(con, spec, blocks)
    by_block = block_years(con, spec, bound)
    fingerprints = input_fingerprints(con, spec, bound, input_base(spec, threshold, lp_budget))
    records: dict[int, YearRecord] = {}
    for year, fingerprint in fingerprints.items():
        record = store.get(fingerprint) if reuse else None
        if record is not None and all(
            len(by_block[b.number].rows_of(year)) == record.rows.get(b.number, -1) for b in bound
        ):
            records[year] = record
    changed = sorted(set(fingerprints) - set(records))
    has_null = any(years.null_year.any() for years in by_block.values())
    say(f"{len(records)} of {len(fingerprints)} mapping years unchanged since the last publication")
    cells = {b.number: ShownCells.empty(rows[b.table]) for b in blocks}
    recording = RecordingCache(cache.directory)
    summary = PartsSummary()
    solved_stats = SuppressionStats()
    equations_seconds = 0.0
    new_records: dict[str, YearRecord] = {}
    if changed or has_null:
        say("building the equations of the declaration" + (f" for {len(changed)} mapping years" if records else ""))
        started = time.perf_counter()
        system, _, group_hashes = build_equations(con, spec, only=changed)
        equations_seconds = time.perf_counter() - started
        say(f"suppressing: {system.n_cells:,} cells, {system.n_eqs:,} equations")
        withheld, _, solved_stats, summary = solve_parts(
            system, threshold, lp_budget, cache=recording, progress=say, reuse=reuse
        )
        cells = shown_cells(con, blocks, rows, withheld, solved_stats.null_vector)
        new_records = _records(
            spec,
            bound,
            by_block,
            cells,
            system,
            group_hashes,
            withheld,
            threshold,
            recording,
            fingerprints,
            _free_cells(con, blocks, free, rows, system.n_cells),
        )
    stored = {fp for fp, record in new_records.items() if store.put(fp, record)}
    nulls = difference_blocks(spec, blocks)
    for year, record in records.items():
        for block in bound:
            positions = by_block[block.number].rows_of(year)
            shown = cells[block.number]
            flags = record.withheld.get(block.number, np.zeros(0, dtype=bool))
            shown.shown[positions] = True
            shown.withheld[positions] = flags
            if block.number in nulls:
                shown.null[positions[flags]] = record.null.get(block.number, np.zeros(0, dtype=np.int64))
    free_counts = _free_cell_counts(con, spec, blocks, free, threshold, records)
    for number in free:  # withheld exactly when small (a cell in no equation), in every year
        cells[number] = _small(con, blocks[number], rows, threshold)
    for number, copy in copied.items():  # the flags of the anchor row that shows the same cell
        anchor, shown = cells[copy.anchor], ShownCells.empty(rows[blocks[number].table])
        shown.shown[copy.row_id] = True
        shown.withheld[copy.row_id] = anchor.withheld[copy.anchor_row_id]
        shown.null[copy.row_id] = anchor.null[copy.anchor_row_id]
        cells[number] = shown
    stats = _merged(solved_stats, recording, list(records.values()), free_counts)
    reused_parts = [fp for record in records.values() for fp, _ in record.parts]
    parts = dataclasses.replace(
        summary,
        parts=summary.parts + len(reused_parts),
        reused=summary.reused + len(reused_parts),
        fingerprints=summary.fingerprints | set(reused_parts),
    )
    return YearsSolved(
        cells=cells,
        stats=stats,
        parts=parts,
        years=len(fingerprints),
        years_reused=len(records),
        records={fingerprints[y] for y in records} | stored,
        equations_seconds=equations_seconds,
    )


def _records(
    spec: PublishSpec,
    blocks: list[Block],
    by_block: dict[int, BlockYears],
    shown: dict[int, ShownCells],
    system: System,
    group_hashes: np.ndarray,
    withheld: np.ndarray,
    threshold: int,
    recording: RecordingCache,
    fingerprints: dict[int, str],
    free_cells: np.ndarray,
) -> dict[str, YearRecord]:
    """The records of the years just built: a year whose part(s) hold its cells alone (none joined with another
    year or with cells of a null year)."""
    group = system.group if system.group is not None else np.full(system.n_cells, -1, dtype=np.int64)
    parts_of: dict[int, list[tuple[str, SuppressionStats]]] = {}
    joined: set[int] = set()
    for fingerprint, (part_cells, part_stats) in recording.seen.items():
        groups = sorted_distinct(group[part_cells])
        if len(groups) == 1 and groups[0] >= 0:
            parts_of.setdefault(int(groups[0]), []).append((fingerprint, part_stats))
        else:
            joined.update(int(g) for g in groups)
    nulls = difference_blocks(spec, blocks)
    records = {}
    for number, year_hash in enumerate(group_hashes.tolist()):
        if number in joined or int(year_hash) not in fingerprints:
            continue
        parts = sorted(parts_of.get(number, []), key=lambda item: item[0])
        record = YearRecord(rows={}, withheld={}, null={}, parts=parts)
        for key, value in _year_counts(system, withheld, threshold, (group == number) & ~free_cells).items():
            setattr(record, key, value)
        for block in blocks:
            positions = by_block[block.number].rows_of(int(year_hash))
            flags = shown[block.number].withheld[positions]
            record.rows[block.number] = len(positions)
            record.withheld[block.number] = flags
            if block.number in nulls:
                record.null[block.number] = shown[block.number].null[positions[flags]]
        records[fingerprints[int(year_hash)]] = record
    return records


def _merged(
    solved: SuppressionStats, recording: RecordingCache, records: list[YearRecord], free: tuple[int, int]
) -> SuppressionStats:
    """The statistics of the years built (solve_parts') and of the years taken from their records (with their
    cells of free quantities counted afresh, `free`: cells, small ones), as one."""
    reused = [stats for record in records for _, stats in record.parts]
    for stats in reused:
        stats.phase_seconds = {}  # the seconds are this run's: a reused year took none
    out = merge_stats([*(stats for _, stats in recording.seen.values()), *reused])
    out.cells = solved.cells + sum(r.cells for r in records) + free[0]
    out.equations = solved.equations + sum(r.equations for r in records)
    out.primary = solved.primary + sum(r.primary for r in records) + free[1]
    withheld = solved.primary + solved.complementary + sum(r.withheld_cells for r in records) + free[1]
    out.complementary = withheld - out.primary
    out.null_vector = solved.null_vector
    out.seconds = solved.seconds
    return out


def _free_cells(
    con: duckdb.DuckDBPyConnection, blocks: list[Block], free: set[int], rows: dict[str, int], n_cells: int
) -> np.ndarray:
    """Per cell of the system just built: whether it is a cell of a free quantity (shown by a free block)."""
    out = np.zeros(n_cells, dtype=bool)
    for number in free:
        block = blocks[number]
        cells = cell_of_rows(con, block, rows[block.table])
        out[cells[cells >= 0]] = True
    return out


def _small(con: duckdb.DuckDBPyConnection, block: Block, rows: dict[str, int], threshold: int) -> ShownCells:
    """A free block's rows: shown where the count is not null, withheld where it is from 1 to threshold - 1."""
    data = con.execute(
        f"select _row_id, {quote(block.column)}::bigint as v from {source_table(block.table)} "
        f"where {quote(block.column)} is not null"
    ).fetchnumpy()
    out = ShownCells.empty(rows[block.table])
    row_id, value = np.asarray(data["_row_id"], dtype=np.int64), np.asarray(data["v"], dtype=np.int64)
    out.shown[row_id] = True
    out.withheld[row_id] = is_small(value, threshold)
    return out


def _free_cell_counts(
    con: duckdb.DuckDBPyConnection,
    spec: PublishSpec,
    blocks: list[Block],
    free: set[int],
    threshold: int,
    records: dict[int, YearRecord],
) -> tuple[int, int]:
    """The cells of free quantities in the years taken from their records, and the small ones among them (the
    records count no such cell: their values are not in the fingerprint)."""
    if not records or not free:
        return 0, 0
    hashes = ", ".join(f"{year}::ubigint" for year in records)
    by_quantity: dict[str, list[str]] = {}
    for number in free:
        block = blocks[number]
        table = spec.table(block.table)
        count = table.count(block.column)
        quantity = spec.quantities[count.quantity]
        keys = ", ".join(
            f"({sql})::varchar as {quote(d)}" for d, sql in zip(quantity.dims, count.key_sql(quantity), strict=True)
        )
        by_quantity.setdefault(count.quantity, []).append(
            f"select {keys}, {quote(block.column)}::bigint as v from {source_table(table.name)} "
            f"where {quote(block.column)} is not null and {apart_hash_sql(spec, table, block.column)} in ({hashes})"
        )
    total, small = 0, 0
    for name, selects in by_quantity.items():
        dims = ", ".join(quote(d) for d in spec.quantities[name].dims)
        row = con.execute(
            f"select count(*), count(*) filter (where v between 1 and {int(threshold) - 1}), "
            f"count(*) - count(distinct ({dims})) from (select distinct * from ({' union all '.join(selects)}))"
        ).fetchall()[0]
        if row[2]:  # as the equations refuse copies that disagree (equations.py)
            raise SpecError(f"the counts that show quantity {name!r} differ at {row[2]} of its cells")
        total, small = total + int(row[0]), small + int(row[1])
    return total, small
