"""Primary and complementary small-cell suppression on the system of equations of equations.py, in numpy.

Deterministic: the same marts give the same withheld cells, whatever the machine's load (no time budgets).

1. Primary: a count from 1 to threshold - 1 is withheld.
2. Complementary (the singleton rule): an equation with exactly one withheld member would give it away by
   subtraction, so one more member is withheld: the *cheapest* shown member. Cheapest = a non-zero count
   before a zero (zero is shown), then the lowest row (fewest levels of aggregation: a municipality before its
   county, a leaf group before `rus` and `all`), then the smallest count, then the lowest cell number. Keeping
   totals shown matters: a withheld country or county total forces more withheld cells in every equation it
   is a part of. All equations with one withheld member pick at once; only the equations touched by the picks
   are looked at again, until none has exactly one withheld member.
3. Exact audit (exact.py, always on, complete): no combination of equations may fix a withheld cell. For each
   fixed cell the cheapest shown member of one of its equations is withheld too; 2-3 repeat until the audit
   finds nothing.
4. Protection intervals (intervals.py): what an attacker can derive with non-negativity: bound propagation on
   the components that changed, then linear programming on every changed component up to MAX_COMPONENT cells.
   Withholding more never fixes or pins a cell that was free: each audit looks only at the components that
   changed since it last ran (the `dirty` cells).
5. Derived (masks.py): every rate, share, mean or difference with a withheld source is withheld.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numba
import numpy as np

from brukerplan.publish.exact import (
    ExactStats,
    components,
    dense_numbers,
    fixed_unknowns,
    gather_ranges,
)
from brukerplan.publish.intervals import DEFAULT_LP_BUDGET, IntervalStats, failing_cells, propagated_failing

# A bound on the passes of complementary cells and exact audit, not a tuning: the loop ends when a pass adds nothing,
# and stops with the publish refused only here. Measured: up to 31 passes in a mapping year at scale 1, 79 at scale 5
# (decisions P20; 50 refused the scale-5 publish).
MAX_AUDIT_PASSES = 500
MAX_STEPS = 6  # how far from a fixed cell a complementary cell is looked for
PROPAGATION_ROUNDS = 6  # rounds of bound propagation (4 found 87 of the 92 pinned cells of a scale-1 run)


def is_small(value: np.ndarray, threshold: int) -> np.ndarray:
    """Per count: whether it is small (1 to threshold - 1), i.e. withheld for its own sake (primary)."""
    return (value >= 1) & (value <= int(threshold) - 1)


@dataclass
class System:
    """Cells (by cell number) and the members of the equations (ordered by equation number)."""

    value: np.ndarray  # int64 per cell number; -1 for a hole in the numbering (no cell)
    height: np.ndarray  # int64 per cell: levels of aggregation above the finest
    eq: np.ndarray  # int64 per member, non-decreasing
    cell: np.ndarray  # int64 per member
    coef: np.ndarray  # int8 per member: -1 total, +1 part
    group: np.ndarray | None = None  # int64 per cell: its value of the spec's solve_apart_by, numbered (parts.py)

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
    audit_added: int = 0  # added because a combination of equations fixed a withheld cell
    rounds: int = 0
    audit_passes: int = 0
    audit_complete: bool = True  # False if fixed cells remained after MAX_AUDIT_PASSES
    exact: ExactStats = field(default_factory=ExactStats)  # the first (complete) pass of the exact audit
    intervals: IntervalStats = field(default_factory=IntervalStats)  # the last pass of the interval audit
    interval_added_for: int = 0  # primary cells protected further because of their LP interval
    propagation_added_for: int = 0  # primary cells that bound propagation pinned inside 1 .. threshold-1
    audited_unknowns: int = 0  # over all passes (later passes audit only the components that changed)
    largest_component: int = 0
    derived: int = 0
    seconds: float = 0.0
    phase_seconds: dict[str, float] = field(default_factory=dict)
    null_vector: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    per_table: dict[str, int] = field(default_factory=dict)

    def lap(self, phase: str, started: float) -> float:
        now = time.perf_counter()
        self.phase_seconds[phase] = self.phase_seconds.get(phase, 0.0) + now - started
        return now


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


def _distinct(values: np.ndarray, bound: int) -> np.ndarray:
    """The distinct values (ints below bound), sorted: a mask, not a sort."""
    mask = np.zeros(bound, dtype=bool)
    mask[values] = True
    return np.flatnonzero(mask)


def _touched(eqs: np.ndarray, cells: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Per member: whether its connected component (equations and withheld cells) holds a new cell."""
    if len(eqs) == 0:
        return np.zeros(0, dtype=bool)
    lcell, cell_ids = dense_numbers(cells, len(new))
    labels = components(eqs, lcell, len(cell_ids))
    dirty = np.zeros(len(cell_ids), dtype=bool)
    dirty[labels[new[cell_ids]]] = True
    return dirty[labels[lcell]]


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
        positions, owners = gather_ranges(index.eq_ptr, todo)
        cells = system.cell[positions]
        shown = ~withheld[cells]
        picked = _distinct(_cheapest_per_group(cells[shown], owners[shown], rank), system.n_cells)
        withheld[picked] = True
        added.append(picked)
        rounds += 1
        positions, _ = gather_ranges(index.cell_ptr, picked)
        touched = index.cell_eqs[positions]
        np.add.at(n_withheld, touched, 1)
        todo = _distinct(touched[n_withheld[touched] == 1], system.n_eqs)
    return (np.concatenate(added) if added else np.zeros(0, dtype=np.int64)), rounds


@numba.njit(cache=True)
def _farther(starts, cell_ptr, cell_eqs, eq_ptr, member_cell, eq_best, n, max_steps):  # pragma: no cover - compiled
    """Per start cell (a fixed cell whose own equations hold no candidate): a breadth-first search over equations and
    their members, step by step up to max_steps; at the first step whose newly reached cells have an equation
    with a candidate, the best (lowest) eq_best of those equations, else n. A cell reached at an earlier step
    is not looked at again: its equations held no candidate then. Per start cell, so a search stops as soon as
    it finds (the vectorised search it replaces sorted every (start, reached cell) pair at every step: seconds
    on the large components of a sparse year, decisions P22)."""
    n_eqs = len(eq_ptr) - 1
    best = np.full(len(starts), n, dtype=np.int64)
    cell_seen = np.full(n, -1, dtype=np.int64)  # the last start that reached the cell
    eq_seen = np.full(n_eqs, -1, dtype=np.int64)  # the last start that went through the equation
    frontier = np.empty(n, dtype=np.int64)
    reached = np.empty(n, dtype=np.int64)
    for o in range(len(starts)):
        cell_seen[starts[o]] = o
        frontier[0] = starts[o]
        n_frontier = 1
        for _ in range(max_steps):
            n_reached = 0
            for i in range(n_frontier):
                c = frontier[i]
                for p in range(cell_ptr[c], cell_ptr[c + 1]):
                    e = cell_eqs[p]
                    if eq_seen[e] == o:
                        continue
                    eq_seen[e] = o
                    for q in range(eq_ptr[e], eq_ptr[e + 1]):
                        m = member_cell[q]
                        if cell_seen[m] != o:
                            cell_seen[m] = o
                            reached[n_reached] = m
                            n_reached += 1
            found = n
            for i in range(n_reached):
                m = reached[i]
                for p in range(cell_ptr[m], cell_ptr[m + 1]):
                    if eq_best[cell_eqs[p]] < found:
                        found = eq_best[cell_eqs[p]]
            if found < n:
                best[o] = found
                break
            if n_reached == 0:
                break
            frontier, reached = reached, frontier
            n_frontier = n_reached
    return best


def _complement_of(
    system: System,
    index: Index,
    withheld: np.ndarray,
    rank: Priority,
    determined: np.ndarray,
    zeros: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """For each fixed cell: the cheapest shown member of its equations; if all of them are withheld, the
    cheapest shown member of the equations of the cells it shares an equation with. Zeros are candidates only
    with `zeros` (zero is shown). Per equation its cheapest candidate first, then per fixed cell the cheapest of
    its equations' (never a list of all members of all equations of all fixed cells). Returns the picks and
    the fixed cells without a candidate."""
    n = system.n_cells
    candidate = ~withheld[system.cell] & (zeros | (system.value[system.cell] != 0))
    member_rank = np.where(candidate, rank.rank[system.cell], n)
    eq_best = np.minimum.reduceat(member_rank, index.eq_ptr[:-1]) if len(member_rank) else member_rank
    positions, owner = gather_ranges(index.cell_ptr, determined)
    best = np.full(len(determined), n, dtype=np.int64)
    np.minimum.at(best, owner, eq_best[index.cell_eqs[positions]])
    # further out, step by step: equations -> their (withheld) members -> those members' equations
    stuck = np.flatnonzero(best >= n)
    if len(stuck):
        best[stuck] = _farther(
            determined[stuck], index.cell_ptr, index.cell_eqs, index.eq_ptr, system.cell, eq_best, n, MAX_STEPS
        )
    picks = np.zeros(n, dtype=bool)
    picks[rank.by_rank[best[best < n]]] = True
    return np.flatnonzero(picks), determined[best >= n]


def suppress_system(
    system: System,
    threshold: int,
    progress: Callable[[str], None] | None = None,
    stats: SuppressionStats | None = None,
    lp_budget: int = DEFAULT_LP_BUDGET,
    max_passes: int = MAX_AUDIT_PASSES,
) -> tuple[np.ndarray, np.ndarray, SuppressionStats]:
    """Withheld cells (bool per cell) and the primary ones among them, with the statistics (audit_complete is false
    when recoverable cells remained after `max_passes` passes)."""
    say = progress or (lambda _msg: None)
    stats = stats or SuppressionStats()
    lap = time.perf_counter()
    stats.cells, stats.equations = int((system.value >= 0).sum()), system.n_eqs
    index = Index.of(system)
    rank = Priority.of(system)
    primary = is_small(system.value, threshold)
    withheld = primary.copy()
    stats.primary = int(primary.sum())
    lap = stats.lap("index", lap)
    frontier: np.ndarray | None = None
    n_withheld = _withheld_per_eq(system, withheld)
    # withheld (or found fixed / pinned) since the last complete check of their component, per audit: only such
    # components can have changed, because withholding more never fixes or pins a cell that was free before
    dirty_exact, dirty_propagation, dirty_lp = withheld.copy(), withheld.copy(), withheld.copy()
    for _ in range(max_passes):
        say(f"complementary cells ({int(withheld.sum()) - stats.primary:,} so far)")
        picked, rounds = _singleton_rounds(system, index, withheld, rank, frontier, n_withheld)
        dirty_exact[picked] = dirty_propagation[picked] = dirty_lp[picked] = True
        stats.rounds += rounds
        lap = stats.lap("singleton", lap)
        say(f"exact audit, pass {stats.audit_passes + 1}")
        selected = np.flatnonzero(withheld[system.cell] & (n_withheld[system.eq] >= 2))
        exact = ExactStats()
        audited = selected[_touched(system.eq[selected], system.cell[selected], dirty_exact)]
        fixed = fixed_unknowns(
            system.eq[audited],
            system.cell[audited],
            system.coef[audited],
            exact,
            with_components=stats.audit_passes == 0,
        )
        say(f"exact audit pass {stats.audit_passes + 1}: {exact.unknowns:,} unknowns, {exact.fixed:,} fixed")
        dirty_exact[:] = False
        stats.audit_passes += 1
        stats.audited_unknowns += exact.unknowns
        stats.largest_component = max(stats.largest_component, exact.largest_component)
        if stats.audit_passes == 1:
            stats.exact = exact
        lap = stats.lap("exact audit", lap)
        if len(fixed) == 0:
            say("protection intervals (bound propagation)")
            touched = selected[_touched(system.eq[selected], system.cell[selected], dirty_propagation)]
            in_touched = np.zeros(system.n_eqs, dtype=bool)
            in_touched[system.eq[touched]] = True
            members = np.flatnonzero(in_touched[system.eq])
            fixed = propagated_failing(
                system.eq[members],
                system.cell[members],
                system.coef[members],
                system.value,
                withheld,
                primary,
                threshold,
                PROPAGATION_ROUNDS,
            )
            dirty_propagation[:] = False
            stats.propagation_added_for += len(fixed)
            lap = stats.lap("intervals", lap)
        if len(fixed) == 0 and lp_budget > 0:
            say("protection intervals (linear programming)")
            intervals = IntervalStats()
            fixed = failing_cells(
                system.eq,
                system.cell,
                system.coef,
                system.value,
                withheld,
                primary,
                threshold,
                lp_budget,
                intervals,
                dirty=dirty_lp,
            )
            dirty_lp[:] = False
            if stats.intervals.programs == 0:  # the first, complete pass
                stats.intervals = intervals
            stats.interval_added_for += len(fixed)
            lap = stats.lap("intervals", lap)
        if len(fixed) == 0:
            break
        extra, stuck = _complement_of(system, index, withheld, rank, fixed)
        if len(stuck):  # nothing but zeros left around them: a zero is withheld then
            more, stuck = _complement_of(system, index, withheld, rank, stuck, zeros=True)
            extra = np.union1d(extra, more)
        dirty_exact[fixed] = dirty_propagation[fixed] = dirty_lp[fixed] = True  # their components are audited again
        if len(extra) == 0:
            stats.audit_complete = False
            break
        stats.audit_added += len(extra)
        withheld[extra] = True
        dirty_exact[extra] = dirty_propagation[extra] = dirty_lp[extra] = True
        positions, _ = gather_ranges(index.cell_ptr, extra)
        np.add.at(n_withheld, index.cell_eqs[positions], 1)
        frontier = _distinct(index.cell_eqs[positions], system.n_eqs)
        lap = stats.lap("complement", lap)
    else:
        stats.audit_complete = False
    stats.complementary = int(withheld.sum()) - stats.primary
    # one random null vector of the final system: tells which combinations of withheld cells are fixed (a
    # difference such as gap = recommended - received may be, although neither cell is)
    selected = withheld[system.cell] & (n_withheld[system.eq] >= 2)
    stats.null_vector = np.zeros(system.n_cells, dtype=np.int64)
    fixed_unknowns(
        system.eq[selected],
        system.cell[selected],
        system.coef[selected],
        ExactStats(),
        with_components=False,
        null_vector=stats.null_vector,
    )
    lap = stats.lap("exact audit", lap)
    return withheld, primary, stats
