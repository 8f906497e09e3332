"""Protection intervals: what an attacker who knows the published cells, the declared identities and that
counts are never negative can derive about a withheld small count. For a primary cell (a count 1 .. threshold-1)
the interval [min, max] of its value over all non-negative solutions must reach 0 or the threshold, so that
"between 1 and threshold - 1" cannot be concluded.

* Bound propagation (any size, vectorised): a sound detector of pinned cells, not a certificate.
* Linear programming (HiGHS, warm-started) on every component of withheld cells up to MAX_COMPONENT cells,
  smallest first, several components per program: a solution with the cell at 0 or at the threshold is the
  certificate that the cell is protected; one vertex certifies many cells (minimise the sum of the open small
  cells: most go to 0; maximise it with them capped at the threshold: others reach it); the few left get their
  own two programs. A primary cell without a certificate is failing and is protected (suppress.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csc_matrix

from brukerplan.publish.exact import components, dense_numbers, sorted_distinct

SEED = 20240102
DEFAULT_LP_BUDGET = 20_000  # linear programs per audit pass (one program certifies many cells)
MAX_COMPONENT = 2_000  # withheld cells: larger components are not checked by LP (counted in the stats)
BATCH_CELLS = 2_000  # withheld cells per linear program (whole components, block-diagonal)
_TOLERANCE = 1e-6


@dataclass
class IntervalStats:
    components: int = 0  # components with a primary cell
    checked_components: int = 0
    checked_cells: int = 0  # primary cells whose interval was computed
    programs: int = 0
    too_large: int = 0  # components over MAX_COMPONENT cells
    failing: int = 0  # primary cells whose interval lay inside 1 .. threshold-1 (then protected)
    lp_failed: int = 0  # programs HiGHS could not solve (their open cells count as failing: protected)


def _members_with_unknowns(eq: np.ndarray, cell: np.ndarray, withheld: np.ndarray) -> np.ndarray:
    """Positions of the members of the equations that hold a withheld cell (the others constrain nothing)."""
    has_unknown = np.zeros(int(eq.max()) + 1 if len(eq) else 0, dtype=bool)
    has_unknown[eq[withheld[cell]]] = True
    return np.flatnonzero(has_unknown[eq])


class _Batch:
    """One linear program over several components at once (block-diagonal; they share nothing): the unknowns
    are >= 0 and at most `ceiling` (a bound far above every count, so that no program is unbounded)."""

    def __init__(self, a: csc_matrix, rhs: np.ndarray, ceiling: float) -> None:
        import highspy

        self.n = a.shape[1]
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n, a.shape[0]
        lp.col_cost_ = np.zeros(self.n)
        lp.col_lower_ = np.zeros(self.n)
        lp.col_upper_ = np.full(self.n, ceiling)
        lp.row_lower_ = rhs
        lp.row_upper_ = rhs
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        self.highs.passModel(lp)
        self.columns = np.arange(self.n, dtype=np.int32)
        self.programs = 0
        self.ceiling = ceiling

    def point(self, cost: np.ndarray, capped: np.ndarray | None = None, cap: float = 0.0) -> np.ndarray | None:
        """An optimal vertex for the cost (warm-started from the previous one), or None if HiGHS failed. The
        `capped` columns are held at most `cap` for this program (a maximum against a cap is a far easier program
        than a maximum against the ceiling, and any solution with the cap is a solution without it)."""
        import highspy

        self.highs.changeColsCost(self.n, self.columns, cost)
        if capped is not None and len(capped):
            self._bounds(capped, cap)
        self.highs.run()
        self.programs += 1
        optimal = self.highs.getModelStatus() == highspy.HighsModelStatus.kOptimal
        x = np.asarray(self.highs.getSolution().col_value) if optimal else None
        if capped is not None and len(capped):  # (a change of the model resets its status: read it first)
            self._bounds(capped, self.ceiling)
        return x

    def _bounds(self, columns: np.ndarray, upper: float) -> None:
        k = len(columns)
        self.highs.changeColsBounds(k, columns.astype(np.int32), np.zeros(k), np.full(k, upper))


def _uncertified(batch: _Batch, targets: np.ndarray, threshold: int) -> tuple[np.ndarray, bool]:
    """The targets for which no non-negative solution was found with the target at 0 or at least the threshold
    (such a solution is the certificate that "between 1 and threshold - 1" cannot be concluded), and whether
    every program succeeded. Many at once first: the vertex that minimises (maximises) the sum of the open
    targets puts many of them at 0 (high); then one target at a time, both directions."""

    def certified(x: np.ndarray, cells: np.ndarray) -> np.ndarray:
        return (x[cells] <= _TOLERANCE) | (x[cells] >= threshold - _TOLERANCE)

    todo = targets
    progress = True
    while progress and len(todo):
        progress = False
        for sense in (1.0, -1.0):
            cost = np.zeros(batch.n)
            cost[todo] = sense
            x = batch.point(cost, todo if sense < 0 else None, float(threshold))
            if x is None:
                return todo, False
            done = certified(x, todo)
            progress |= bool(done.any())
            todo = todo[~done]
            if len(todo) == 0:
                break
    left: list[int] = []
    for target in todo.tolist():
        for sense in (1.0, -1.0):
            cost = np.zeros(batch.n)
            cost[target] = sense
            x = batch.point(cost, np.asarray([target]) if sense < 0 else None, float(threshold))
            if x is None:
                return np.asarray([target, *left], dtype=np.int64), False
            if certified(x, np.asarray([target]))[0]:
                break
        else:
            left.append(target)
    return np.asarray(left, dtype=np.int64), True


def failing_cells(
    eq: np.ndarray,
    cell: np.ndarray,
    coef: np.ndarray,
    value: np.ndarray,
    withheld: np.ndarray,
    primary: np.ndarray,
    threshold: int,
    budget: int = DEFAULT_LP_BUDGET,
    stats: IntervalStats | None = None,
    dirty: np.ndarray | None = None,
) -> np.ndarray:
    """Primary cells whose protection interval lies inside 1 .. threshold-1, among the components checked: every
    component with a primary cell and at most MAX_COMPONENT withheld cells, smallest first, several per linear
    program, until `budget` programs are spent. eq, cell, coef: all members of the equations (by equation).
    With `dirty` (bool per cell), only the components holding a dirty cell: withholding more only widens the
    intervals, so a component that passed and did not change still passes."""
    stats = stats if stats is not None else IntervalStats()
    members = _members_with_unknowns(eq, cell, withheld)
    if len(members) == 0:
        return np.zeros(0, dtype=np.int64)
    m_eq, m_cell, m_coef = eq[members], cell[members], coef[members]
    unknown = withheld[m_cell]
    lcell, cell_ids = dense_numbers(m_cell[unknown])
    leq, eq_ids = dense_numbers(m_eq)
    # the shown members are constants: the right-hand side of each equation
    rhs = -np.bincount(leq[~unknown], weights=m_coef[~unknown] * value[m_cell[~unknown]], minlength=len(eq_ids))
    labels = components(leq[unknown], lcell, len(cell_ids))
    sizes = np.bincount(labels, minlength=len(cell_ids))
    with_primary = sorted_distinct(labels[primary[cell_ids]])
    stats.components = len(with_primary)
    if dirty is not None:
        is_dirty = np.zeros(len(cell_ids), dtype=bool)
        is_dirty[labels[dirty[cell_ids]]] = True
        with_primary = with_primary[is_dirty[with_primary]]
    small = with_primary[sizes[with_primary] <= MAX_COMPONENT]
    stats.too_large = len(with_primary) - len(small)
    order = small[np.lexsort((small, sizes[small]))]  # smallest first, then by lowest cell
    # consecutive components fill a program up to BATCH_CELLS cells (a larger component is a program alone)
    filled = np.cumsum(sizes[order]) // BATCH_CELLS  # non-decreasing: a batch number where it steps up
    batch_number = np.cumsum(np.concatenate([[0], filled[1:] != filled[:-1]])) if len(filled) else filled
    batch_of_label = np.full(len(cell_ids), -1, dtype=np.int64)
    batch_of_label[order] = batch_number
    batch_of = batch_of_label[labels]
    eq_batch = np.full(len(eq_ids), -1, dtype=np.int64)
    eq_batch[leq[unknown]] = batch_of[lcell]
    u_eq, u_cell, u_coef = leq[unknown], lcell, m_coef[unknown].astype(np.float64)
    by_batch = np.argsort(batch_of[u_cell], kind="stable")
    cell_order = np.argsort(batch_of, kind="stable")
    ceiling = float(2 * max(int(value.max()), 1) + threshold)
    failing: list[np.ndarray] = []
    n_batches = int(batch_number[-1]) + 1 if len(batch_number) else 0
    member_bounds = np.searchsorted(batch_of[u_cell][by_batch], np.arange(n_batches + 1))
    cell_bounds = np.searchsorted(batch_of[cell_order], np.arange(n_batches + 1))
    for number in range(n_batches):
        if stats.programs >= budget:
            break
        rows = by_batch[member_bounds[number] : member_bounds[number + 1]]
        cols = cell_order[cell_bounds[number] : cell_bounds[number + 1]]
        row_local, row_ids = dense_numbers(u_eq[rows])
        col_position = np.full(len(cell_ids), -1, dtype=np.int64)
        col_position[cols] = np.arange(len(cols))
        a = csc_matrix((u_coef[rows], (row_local, col_position[u_cell[rows]])), shape=(len(row_ids), len(cols)))
        a.sum_duplicates()
        batch = _Batch(a, rhs[row_ids], ceiling)
        targets = np.flatnonzero(primary[cell_ids[cols]])
        left, solved = _uncertified(batch, targets, threshold)
        stats.programs += batch.programs
        stats.checked_components += len(sorted_distinct(labels[cols]))
        stats.checked_cells += len(targets)
        if not solved:
            stats.lp_failed += 1
        stats.failing += len(left)
        failing.append(cell_ids[cols[left]])
    return np.sort(np.concatenate(failing)) if failing else np.zeros(0, dtype=np.int64)


def propagated_failing(
    eq: np.ndarray,
    cell: np.ndarray,
    coef: np.ndarray,
    value: np.ndarray,
    withheld: np.ndarray,
    primary: np.ndarray,
    threshold: int,
    rounds: int = 30,
) -> np.ndarray:
    """Primary cells that bound propagation alone pins inside 1 .. threshold-1: every equation bounds each of
    its members by the bounds of the others (non-negativity to start with), repeated. Propagated bounds enclose
    the linear-programming interval, so a cell pinned here is pinned for the attacker too (the converse need not
    hold: the sampled LP audit looks for the rest). Vectorised over all equations at once."""
    keep = _members_with_unknowns(eq, cell, withheld)
    eq, cell, coef = eq[keep], cell[keep], coef[keep]
    if len(eq) == 0:
        return np.zeros(0, dtype=np.int64)
    leq, _ = dense_numbers(eq)
    n_eq = int(leq.max()) + 1
    low = np.where(withheld, 0.0, value.astype(np.float64))
    high = np.where(withheld, np.inf, value.astype(np.float64))
    a = coef.astype(np.float64)
    unknown = withheld[cell]
    order = np.argsort(cell[unknown], kind="stable")  # the unknown members grouped by cell, for reduceat
    u_cell = cell[unknown][order]
    starts = np.flatnonzero(np.concatenate([[True], u_cell[1:] != u_cell[:-1]]))
    cells_u = u_cell[starts]
    for _ in range(rounds):
        lo_c = np.where(a > 0, a * low[cell], a * high[cell])
        hi_c = np.where(a > 0, a * high[cell], a * low[cell])
        lo_inf, hi_inf = np.isinf(lo_c), np.isinf(hi_c)
        lo_f, hi_f = np.where(lo_inf, 0.0, lo_c), np.where(hi_inf, 0.0, hi_c)
        lo_sum = np.bincount(leq, weights=lo_f, minlength=n_eq)
        hi_sum = np.bincount(leq, weights=hi_f, minlength=n_eq)
        lo_n = np.bincount(leq, weights=lo_inf, minlength=n_eq)
        hi_n = np.bincount(leq, weights=hi_inf, minlength=n_eq)
        # the others' sum S = total - own contribution; a * x = -S
        others_lo = np.where(lo_n[leq] - lo_inf > 0, -np.inf, lo_sum[leq] - lo_f)
        others_hi = np.where(hi_n[leq] - hi_inf > 0, np.inf, hi_sum[leq] - hi_f)
        x_lo = np.where(a > 0, -others_hi / a, -others_lo / a)
        x_hi = np.where(a > 0, -others_lo / a, -others_hi / a)
        best_lo = np.maximum.reduceat(x_lo[unknown][order], starts)
        best_hi = np.minimum.reduceat(x_hi[unknown][order], starts)
        new_low = np.maximum(low[cells_u], np.maximum(best_lo, 0.0))
        new_high = np.minimum(high[cells_u], best_hi)
        changed = (new_low > low[cells_u] + 1e-9) | (new_high < high[cells_u] - 1e-9)
        low[cells_u], high[cells_u] = new_low, new_high
        if not changed.any():
            break
    pinned = primary & withheld & (low >= 1 - 1e-9) & (high <= threshold - 1 + 1e-9)
    return np.flatnonzero(pinned)
