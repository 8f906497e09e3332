"""Protection intervals: what an attacker who knows the published cells, the declared identities and that
counts are never negative can derive about a withheld small count. For a primary cell (a count 1 .. threshold-1)
the interval [min, max] of its value over all non-negative solutions must reach 0 or the threshold, so that
"between 1 and threshold - 1" cannot be concluded. Linear programming (HiGHS through SciPy) per connected
component of withheld cells; the components are taken in a seeded random order until the budget of linear
programs is spent (deterministic: the same marts give the same checks). A primary cell whose interval fails gets
the cheapest shown member of one of its equations withheld (suppress.py), and the audits run again."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brukerplan.publish.exact import components, dense_numbers

SEED = 20240102
DEFAULT_LP_BUDGET = 2000  # linear programs per publish (two per primary cell checked)
MAX_COMPONENT = 200  # withheld cells: larger components are not checked (counted in the stats)
_TOLERANCE = 1e-6


@dataclass
class IntervalStats:
    components: int = 0  # components with a primary cell
    checked_components: int = 0
    checked_cells: int = 0  # primary cells whose interval was computed
    programs: int = 0
    too_large: int = 0  # components over MAX_COMPONENT cells
    failing: int = 0  # primary cells whose interval lay inside 1 .. threshold-1 (then protected)
    zero_width: int = 0


def _members_with_unknowns(eq: np.ndarray, cell: np.ndarray, withheld: np.ndarray) -> np.ndarray:
    """Positions of the members of the equations that hold a withheld cell (the others constrain nothing)."""
    has_unknown = np.zeros(int(eq.max()) + 1 if len(eq) else 0, dtype=bool)
    has_unknown[eq[withheld[cell]]] = True
    return np.flatnonzero(has_unknown[eq])


def _interval_lp(a_unknown: np.ndarray, rhs: np.ndarray, j: int) -> tuple[float, float] | None:
    from scipy.optimize import linprog

    n = a_unknown.shape[1]
    c = np.zeros(n)
    bounds = [(0, None)] * n
    out = []
    for sign in (1.0, -1.0):
        c[:] = 0
        c[j] = sign
        res = linprog(c, A_eq=a_unknown, b_eq=rhs, bounds=bounds, method="highs")
        if res.status == 3:  # unbounded above
            out.append(float("inf") if sign < 0 else 0.0)
            continue
        if res.status != 0:
            return None
        out.append(sign * float(res.fun))
    return out[0], out[1]


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
) -> np.ndarray:
    """Primary cells whose protection interval lies inside 1 .. threshold-1 (or has zero width), among the
    components checked within the budget. eq, cell, coef: all members of the equations (sorted by equation)."""
    stats = stats if stats is not None else IntervalStats()
    members = _members_with_unknowns(eq, cell, withheld)
    if len(members) == 0:
        return np.zeros(0, dtype=np.int64)
    m_eq, m_cell, m_coef = eq[members], cell[members], coef[members]
    unknown = withheld[m_cell]
    lcell, cell_ids = dense_numbers(m_cell[unknown])
    local = np.full(len(m_cell), -1, dtype=np.int64)
    local[unknown] = lcell
    # components over the unknowns; an equation joins the unknowns it holds
    labels = components(m_eq[unknown], lcell, len(cell_ids))
    comp_of_eq = np.full(int(eq.max()) + 1, -1, dtype=np.int64)
    comp_of_eq[m_eq[unknown]] = labels[lcell]
    member_comp = comp_of_eq[m_eq]
    sizes = np.bincount(labels, minlength=len(cell_ids))
    with_primary = np.unique(labels[primary[cell_ids]])
    stats.components = len(with_primary)
    order = np.random.default_rng(SEED).permutation(with_primary)
    by_comp = np.argsort(member_comp, kind="stable")
    starts = np.searchsorted(member_comp[by_comp], order)
    ends = np.searchsorted(member_comp[by_comp], order, side="right")
    cells_by_label = np.argsort(labels, kind="stable")
    first = np.searchsorted(labels[cells_by_label], order)
    failing: list[int] = []
    for number, (comp, start, end) in enumerate(zip(order.tolist(), starts.tolist(), ends.tolist(), strict=True)):
        if sizes[comp] > MAX_COMPONENT:
            stats.too_large += 1
            continue
        rows = by_comp[start:end]
        comp_cells = np.sort(cells_by_label[first[number] : first[number] + sizes[comp]])
        targets = comp_cells[primary[cell_ids[comp_cells]]]
        if stats.programs + 2 * len(targets) > budget:
            break
        position = np.full(len(cell_ids), -1, dtype=np.int64)
        position[comp_cells] = np.arange(len(comp_cells))
        _, row_of = np.unique(m_eq[rows], return_inverse=True)
        a = np.zeros((int(row_of.max()) + 1, len(comp_cells)))
        rhs = np.zeros(a.shape[0])
        is_unknown = local[rows] >= 0
        np.add.at(a, (row_of[is_unknown], position[local[rows][is_unknown]]), m_coef[rows][is_unknown])
        np.add.at(rhs, row_of[~is_unknown], -m_coef[rows][~is_unknown] * value[m_cell[rows][~is_unknown]])
        stats.checked_components += 1
        for target in targets.tolist():
            bounds = _interval_lp(a, rhs, int(position[target]))
            stats.programs += 2
            stats.checked_cells += 1
            if bounds is None:
                continue
            low, high = bounds
            zero_width = high - low < 0.5
            inside = low >= 1 - _TOLERANCE and high <= threshold - 1 + _TOLERANCE
            if zero_width or inside:
                stats.zero_width += int(zero_width)
                stats.failing += 1
                failing.append(int(cell_ids[target]))
    return np.asarray(sorted(failing), dtype=np.int64)


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
