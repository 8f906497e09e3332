"""Primary and complementary small-cell suppression on the system of equations of equations.py, in numpy.

Deterministic: the same marts give the same withheld cells, whatever the machine's load (no time budgets).

1. Primary: a count from 1 to threshold - 1 is withheld.
2. Complementary (the singleton rule): an equation with exactly one withheld member would give it away by
   subtraction, so one more member is withheld: the *cheapest* shown member. Cheapest = a non-zero count
   before a zero (zero is shown), then the lowest row (fewest levels of aggregation: a municipality before its
   county, a leaf group before `rus` and `all`), then the smallest count, then the lowest cell number. Keeping
   totals shown matters: a withheld country or county total forces more withheld cells in every equation it
   is a part of. All equations with one withheld member pick at once; only the equations touched by the picks
   are looked at again, until none has exactly one withheld member (the sets interlock, so this takes a few
   rounds). After this, no withheld cell can be recovered by subtraction, not even by repeating it.
3. Exact audit, bounded by work: the singleton rule does not exclude every disclosure by a combination of
   equations (e.g. received = continue + end, recommended = continue + new, known = continue + new + end + none
   with continue, new and end withheld fixes all three). The withheld cells and the equations with two or more
   of them fall into independent groups; a group of at most `audit_cells` cells is checked exactly (a cell is
   fixed iff every vector of the null space of the group's equations vanishes on it: eigenvalues of AᵀA,
   batched by size). A larger group is split by leaving out its largest equations until the pieces are small
   enough: a cell fixed by part of the equations is fixed by all of them, so whatever a piece reveals is real;
   what only the left-out equations would reveal is not seen (the stats count those pieces). For each fixed
   cell the cheapest shown member of one of its equations is withheld too; 2-3 repeat until nothing changes.
4. Derived (masks.py): every rate, share, mean or difference with a withheld source is withheld.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

DEFAULT_AUDIT_CELLS = 0
MAX_AUDIT_PASSES = 25
_BATCH_BYTES = 64 * 1024 * 1024
_EIGEN_TOLERANCE = 1e-8
_DENSE_CELLS = 128  # pieces up to this many cells: batched dense eigh; larger: sparse exact elimination


@dataclass
class System:
    """Cells (by cell number) and the members of the equations (ordered by equation number)."""

    value: np.ndarray  # int64 per cell number; -1 for a hole in the numbering (no cell)
    height: np.ndarray  # int64 per cell: levels of aggregation above the finest
    eq: np.ndarray  # int64 per member, non-decreasing
    cell: np.ndarray  # int64 per member
    coef: np.ndarray  # int8 per member: -1 total, +1 part
    row_eq: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # per equation: within one row
    blocks: tuple[tuple[str, str, int, int], ...] = ()  # (table, column, first cell number, rows)

    @property
    def n_cells(self) -> int:
        return len(self.value)

    @property
    def n_eqs(self) -> int:
        return int(self.eq[-1]) + 1 if len(self.eq) else 0


@dataclass
class Index:
    """Both directions of the membership: members of an equation, and equations of a cell (CSR pointers)."""

    eq_ptr: np.ndarray
    cell_ptr: np.ndarray
    cell_eqs: np.ndarray  # equation numbers (int32), grouped by cell

    @staticmethod
    def of(system: System) -> Index:
        from scipy.sparse import csr_matrix

        eq_ptr = np.concatenate([[0], np.cumsum(np.bincount(system.eq, minlength=system.n_eqs))])
        # the transpose of the membership by a counting sort (scipy's CSR construction), not a comparison sort
        by_cell = csr_matrix(
            (np.ones(len(system.eq), dtype=np.int8), system.cell.astype(np.int32), eq_ptr),
            shape=(system.n_eqs, system.n_cells),
        ).tocsc()
        return Index(
            eq_ptr=eq_ptr,
            cell_ptr=by_cell.indptr.astype(np.int64),
            cell_eqs=by_cell.indices,
        )


@dataclass
class SuppressionStats:
    cells: int = 0
    equations: int = 0
    primary: int = 0
    complementary: int = 0
    audit_added: int = 0
    row_audit_added: int = 0  # added because the equations of one row (columns sets) fixed a withheld cell
    row_pieces: int = 0
    rounds: int = 0
    audit_passes: int = 0
    audited_cells: int = 0
    audited_pieces: int = 0
    split_groups: int = 0  # groups larger than audit_cells, checked in pieces
    unaudited_cells: int = 0  # withheld cells in pieces that stayed too large (only the singleton rule)
    largest_group: int = 0
    audit_cells: int = DEFAULT_AUDIT_CELLS
    audit_complete: bool = True  # False if fixed cells remained after MAX_AUDIT_PASSES
    derived: int = 0
    seconds: float = 0.0
    phase_seconds: dict[str, float] = field(default_factory=dict)
    per_table: dict[str, int] = field(default_factory=dict)

    def lap(self, phase: str, started: float) -> float:
        now = time.perf_counter()
        self.phase_seconds[phase] = self.phase_seconds.get(phase, 0.0) + now - started
        return now


def _gather(ptr: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ptr[i]..ptr[i+1]-1 for every i in items, and for each position the index (into items) of
    the item it belongs to."""
    starts = ptr[items]
    lengths = ptr[items + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets, np.repeat(np.arange(len(items), dtype=np.int64), lengths)


@dataclass(frozen=True)
class Priority:
    """Every cell's rank as a complementary choice (0 = cheapest; see the module docs), and its inverse."""

    rank: np.ndarray
    by_rank: np.ndarray

    @staticmethod
    def of(system: System) -> Priority:
        n = system.n_cells
        order = np.lexsort((np.arange(n), system.value, system.height, system.value == 0))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n, dtype=np.int64)
        return Priority(rank=rank, by_rank=order)


def _cheapest_per_group(cells: np.ndarray, groups: np.ndarray, rank: Priority) -> np.ndarray:
    """The cheapest cell of each run of equal `groups` values (cells grouped contiguously by group)."""
    if len(cells) == 0:
        return cells
    starts = np.flatnonzero(np.concatenate([[True], groups[1:] != groups[:-1]]))
    return rank.by_rank[np.minimum.reduceat(rank.rank[cells], starts)]


def _withheld_per_eq(system: System, withheld: np.ndarray) -> np.ndarray:
    return np.bincount(system.eq[withheld[system.cell]], minlength=system.n_eqs)


def _singleton_rounds(
    system: System,
    index: Index,
    withheld: np.ndarray,
    rank: Priority,
    frontier: np.ndarray | None = None,
    n_withheld: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Withhold the cheapest shown member of every equation with exactly one withheld member, until none.
    Returns (cells added, rounds). n_withheld (withheld members per equation) is kept up to date in place."""
    n_withheld = _withheld_per_eq(system, withheld) if n_withheld is None else n_withheld
    todo = np.flatnonzero(n_withheld == 1) if frontier is None else frontier[n_withheld[frontier] == 1]
    added: list[np.ndarray] = []
    rounds = 0
    while len(todo):
        positions, owners = _gather(index.eq_ptr, todo)
        cells = system.cell[positions]
        shown = ~withheld[cells]
        picked = np.unique(_cheapest_per_group(cells[shown], owners[shown], rank))
        withheld[picked] = True
        added.append(picked)
        rounds += 1
        positions, _ = _gather(index.cell_ptr, picked)
        touched = index.cell_eqs[positions]
        np.add.at(n_withheld, touched, 1)
        todo = np.unique(touched[n_withheld[touched] == 1])
    return (np.concatenate(added) if added else np.zeros(0, dtype=np.int64)), rounds


def _components(eqs: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Connected component of every member (equations and cells linked by membership)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    _, local_eq = np.unique(eqs, return_inverse=True)
    _, local_cell = np.unique(cells, return_inverse=True)
    n_eq = int(local_eq.max()) + 1
    n = n_eq + int(local_cell.max()) + 1
    graph = coo_matrix((np.ones(len(eqs)), (local_eq, n_eq + local_cell)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels[local_eq]


def _split_by_label(labels: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(labels, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)


def _pieces(eqs: np.ndarray, cells: np.ndarray, members: np.ndarray, limit: int, stats: SuppressionStats) -> list:
    """Pieces of one group (member positions) of at most `limit` cells, by leaving out the largest equations."""
    if len(np.unique(cells[members])) <= limit:
        return [members]
    _, local_eq, sizes = np.unique(eqs[members], return_inverse=True, return_counts=True)
    member_sizes = sizes[local_eq]
    kept = members[member_sizes < member_sizes.max()]
    if member_sizes.max() <= 2 or len(kept) == 0:
        stats.unaudited_cells += len(np.unique(cells[members]))
        return []
    out: list[np.ndarray] = []
    labels = _components(eqs[kept], cells[kept])
    for sub in _split_by_label(labels):
        out += _pieces(eqs, cells, kept[sub], limit, stats)
    return out


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


def fixed_cells(pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """For each piece (local equation index, local cell index, coefficient per member), the local cells whose
    value the equations fix: e_j in the row space of A, i.e. every null vector of AᵀA vanishes on j.
    Small pieces are padded to a power-of-two size and solved in batches (numpy's batched eigh); large ones
    by sparse elimination modulo a prime (determined_unknowns)."""
    out: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(pieces)
    buckets: dict[int, list[int]] = {}
    for number, (local_eq, local_cell, coef) in enumerate(pieces):
        n = int(local_cell.max()) + 1
        if n > _DENSE_CELLS:  # large and sparse: exact elimination
            equations: dict[int, dict[int, int]] = {}
            for e, c, k in zip(local_eq.tolist(), local_cell.tolist(), coef.tolist(), strict=True):
                equations.setdefault(e, {})[c] = int(k)
            out[number] = np.asarray(determined_unknowns(list(equations.values())), dtype=np.int64)
            continue
        buckets.setdefault(max(8, 1 << (n - 1).bit_length()), []).append(number)
    for size, numbers in sorted(buckets.items()):
        batch = max(1, _BATCH_BYTES // (size * size * 8 * 3))
        for start in range(0, len(numbers), batch):
            chunk = numbers[start : start + batch]
            gram = np.zeros((len(chunk), size, size))
            for slot, number in enumerate(chunk):
                local_eq, local_cell, coef = pieces[number]
                matrix = np.zeros((int(local_eq.max()) + 1, size))
                np.add.at(matrix, (local_eq, local_cell), coef.astype(np.float64))
                gram[slot] = matrix.T @ matrix
            values, vectors = np.linalg.eigh(gram)
            null = values < _EIGEN_TOLERANCE * np.maximum(1.0, values[:, -1:])
            weight = np.einsum("bij,bj->bi", vectors**2, null.astype(np.float64))
            for slot, number in enumerate(chunk):
                n = int(pieces[number][1].max()) + 1
                out[number] = np.flatnonzero(weight[slot, :n] < 1e-9)
    return out


def _audit(
    system: System,
    index: Index,
    withheld: np.ndarray,
    rank: Priority,
    limit: int,
    stats: SuppressionStats,
    clean: set,
    n_withheld: np.ndarray | None = None,
) -> np.ndarray:
    """Cells to withhold because a combination of equations fixes a withheld cell (see the module docs)."""
    n_withheld = _withheld_per_eq(system, withheld) if n_withheld is None else n_withheld
    selected = withheld[system.cell] & (n_withheld[system.eq] >= 2)
    eqs, cells, coefs = system.eq[selected], system.cell[selected], system.coef[selected]
    if len(eqs) == 0 or limit <= 0:
        if limit <= 0:
            stats.unaudited_cells = int(withheld.sum())
        return np.zeros(0, dtype=np.int64)
    stats.unaudited_cells = stats.split_groups = stats.largest_group = 0
    pieces: list[np.ndarray] = []
    for group in _split_by_label(_components(eqs, cells)):
        size = len(np.unique(cells[group]))
        stats.largest_group = max(stats.largest_group, size)
        if size > limit:
            stats.split_groups += 1
        pieces += _pieces(eqs, cells, group, limit, stats)
    todo: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    todo_cells: list[np.ndarray] = []
    signatures: list[int] = []
    for piece in pieces:
        piece_cells, local_cell = np.unique(cells[piece], return_inverse=True)
        piece_eqs, local_eq = np.unique(eqs[piece], return_inverse=True)
        signature = hash((piece_cells.tobytes(), piece_eqs.tobytes()))
        if signature in clean:
            continue  # unchanged since an audit that found nothing
        todo.append((local_eq, local_cell, coefs[piece]))
        todo_cells.append(piece_cells)
        signatures.append(signature)
    stats.audited_pieces += len(todo)
    stats.audited_cells += sum(len(c) for c in todo_cells)
    fixed = []
    for piece_cells, local, signature in zip(todo_cells, fixed_cells(todo), signatures, strict=True):
        if len(local):
            fixed.append(piece_cells[local])
        else:
            clean.add(signature)
    if not fixed:
        return np.zeros(0, dtype=np.int64)
    determined = np.unique(np.concatenate(fixed))
    picks = _complement_of(system, index, withheld, rank, determined)
    return picks if len(picks) else _complement_of(system, index, withheld, rank, determined, zeros=True)


def _complement_of(
    system: System,
    index: Index,
    withheld: np.ndarray,
    rank: Priority,
    determined: np.ndarray,
    allowed: np.ndarray | None = None,
    depth: int = 0,
    zeros: bool = False,
) -> np.ndarray:
    """For each fixed cell: the cheapest shown member of its equations (only `allowed` equations, when given:
    those of the piece that fixed it); if all of them are withheld, the same for the withheld cells it shares
    an equation with (and so on, a few steps out). Zeros are candidates only with `zeros` (zero is shown)."""
    positions, owner_index = _gather(index.cell_ptr, determined)
    eqs = index.cell_eqs[positions]
    if allowed is not None:
        owner_index, eqs = owner_index[allowed[eqs]], eqs[allowed[eqs]]
    members, eq_index = _gather(index.eq_ptr, eqs)
    owner = determined[owner_index[eq_index]]  # contiguous by fixed cell
    cells = system.cell[members]
    shown = ~withheld[cells] & (zeros | (system.value[cells] != 0))
    picks = _cheapest_per_group(cells[shown], owner[shown], rank)
    stuck = np.setdiff1d(determined, owner[shown])
    if len(stuck) and depth < 4:
        neighbours = np.setdiff1d(np.unique(cells[np.isin(owner, stuck)]), stuck)
        if len(neighbours):
            more = _complement_of(system, index, withheld, rank, neighbours, allowed, depth + 1, zeros)
            picks = np.concatenate([picks, more])
    return np.unique(picks)


def _local_numbers(piece: np.ndarray, items: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Number the items of each piece 0, 1, ...: (local number per member, piece and item of each distinct
    (piece, item))."""
    distinct, inverse = np.unique(piece * n_items + items, return_inverse=True)
    owner = distinct // n_items
    first = np.searchsorted(owner, owner, side="left")
    return (np.arange(len(distinct)) - first)[inverse], owner, distinct % n_items


def _near(system: System, index: Index, cells: np.ndarray, steps: int = 2) -> np.ndarray:
    """Within-row equations reachable from the cells in `steps` hops (equation -> its cells -> equations)."""
    eqs = np.zeros(0, dtype=np.int64)
    for _ in range(steps):
        positions, _ = _gather(index.cell_ptr, cells)
        eqs = np.unique(index.cell_eqs[positions])
        eqs = eqs[system.row_eq[eqs]]
        positions, _ = _gather(index.eq_ptr, eqs)
        cells = np.unique(system.cell[positions])
    return eqs


def _row_audit(
    system: System,
    index: Index,
    withheld: np.ndarray,
    rank: Priority,
    stats: SuppressionStats,
    changed: np.ndarray | None = None,
    n_withheld: np.ndarray | None = None,
) -> np.ndarray:
    """Exact check of the equations within one row (the `columns` sets, e.g. received = continue + end,
    recommended = continue + new, known = continue + new + end + none), all rows at once (or only the rows
    near the `changed` cells): cells to withhold."""
    if not system.row_eq.any():
        return np.zeros(0, dtype=np.int64)
    n_withheld = _withheld_per_eq(system, withheld) if n_withheld is None else n_withheld
    selected = system.row_eq[system.eq] & withheld[system.cell] & (n_withheld[system.eq] >= 2)
    if changed is not None:
        dirty = np.zeros(system.n_eqs, dtype=bool)
        dirty[_near(system, index, changed)] = True
        selected &= dirty[system.eq]
    eqs, cells, coefs = system.eq[selected], system.cell[selected], system.coef[selected]
    if len(eqs) == 0:
        return np.zeros(0, dtype=np.int64)
    _, piece = np.unique(_components(eqs, cells), return_inverse=True)
    local_cell, cell_piece, piece_cell = _local_numbers(piece, cells, system.n_cells)
    local_eq, _, _ = _local_numbers(piece, eqs, system.n_eqs)
    n_pieces = int(piece.max()) + 1
    stats.row_pieces += n_pieces
    sizes = np.bincount(cell_piece, minlength=n_pieces)
    m_sizes = np.bincount(piece, minlength=n_pieces)  # members: an upper bound of the equations
    fixed = np.zeros(len(piece_cell), dtype=bool)
    padded = np.maximum(8, 1 << np.ceil(np.log2(np.maximum(sizes, 1))).astype(np.int64))
    for size in np.unique(padded):
        chosen = np.flatnonzero(padded == size)
        slot = np.full(n_pieces, -1, dtype=np.int64)
        slot[chosen] = np.arange(len(chosen))
        batch = max(1, _BATCH_BYTES // (int(size) * int(size) * 8 * 3))
        for start in range(0, len(chosen), batch):
            part = chosen[start : start + batch]
            here = (slot[piece] >= start) & (slot[piece] < start + len(part))
            rows = int(m_sizes[part].max())
            matrix = np.zeros((len(part), rows, int(size)))
            np.add.at(matrix, (slot[piece[here]] - start, local_eq[here], local_cell[here]), coefs[here].astype(float))
            gram = np.einsum("bij,bik->bjk", matrix, matrix)
            values, vectors = np.linalg.eigh(gram)
            null = values < _EIGEN_TOLERANCE * np.maximum(1.0, values[:, -1:])
            weight = np.einsum("bij,bj->bi", vectors**2, null.astype(np.float64))
            mine = (slot[cell_piece] >= start) & (slot[cell_piece] < start + len(part))
            positions = np.flatnonzero(mine)
            local = positions - np.searchsorted(cell_piece, cell_piece[positions], side="left")
            fixed[positions] = weight[slot[cell_piece[positions]] - start, local] < 1e-9
    determined = np.unique(piece_cell[fixed])
    if len(determined) == 0:
        return determined
    picks = _complement_of(system, index, withheld, rank, determined, allowed=system.row_eq)
    return picks if len(picks) else _complement_of(system, index, withheld, rank, determined, system.row_eq, zeros=True)


def suppress_system(
    system: System,
    threshold: int,
    audit_cells: int = DEFAULT_AUDIT_CELLS,
    progress: Callable[[str], None] | None = None,
    stats: SuppressionStats | None = None,
) -> tuple[np.ndarray, np.ndarray, SuppressionStats]:
    """Withheld cells (bool per cell) and the primary ones among them, with the statistics."""
    say = progress or (lambda _msg: None)
    stats = stats or SuppressionStats()
    stats.audit_cells = audit_cells
    lap = time.perf_counter()
    stats.cells, stats.equations = int((system.value >= 0).sum()), system.n_eqs
    index = Index.of(system)
    rank = Priority.of(system)
    primary = (system.value >= 1) & (system.value <= int(threshold) - 1)
    withheld = primary.copy()
    stats.primary = int(primary.sum())
    lap = stats.lap("index", lap)
    clean: set = set()
    frontier: np.ndarray | None = None
    changed: np.ndarray | None = None  # None: every row
    n_withheld = _withheld_per_eq(system, withheld)
    for _ in range(MAX_AUDIT_PASSES * 4):
        say(f"complementary cells ({int(withheld.sum()) - stats.primary:,} so far)")
        picked, rounds = _singleton_rounds(system, index, withheld, rank, frontier, n_withheld)
        stats.rounds += rounds
        lap = stats.lap("singleton", lap)
        if changed is not None:
            changed = np.concatenate([changed, picked])
        extra = _row_audit(system, index, withheld, rank, stats, changed, n_withheld)
        extra = extra[~withheld[extra]]
        lap = stats.lap("row audit", lap)
        if len(extra):
            stats.row_audit_added += len(extra)
        elif audit_cells > 0 and stats.audit_passes < MAX_AUDIT_PASSES:
            say(f"exact audit, pass {stats.audit_passes + 1}")
            extra = _audit(system, index, withheld, rank, audit_cells, stats, clean, n_withheld)
            extra = extra[~withheld[extra]]
            stats.audit_passes += 1
            stats.audit_added += len(extra)
            lap = stats.lap("audit", lap)
        if len(extra) == 0:
            break
        withheld[extra] = True
        changed = extra
        positions, _ = _gather(index.cell_ptr, extra)
        np.add.at(n_withheld, index.cell_eqs[positions], 1)
        frontier = np.unique(index.cell_eqs[positions])
    else:
        stats.audit_complete = False
    if audit_cells <= 0:
        stats.unaudited_cells = int(withheld.sum())
    stats.complementary = int(withheld.sum()) - stats.primary
    return withheld, primary, stats
