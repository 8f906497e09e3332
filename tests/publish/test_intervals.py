"""The linear-programming audit of protection intervals (intervals.failing_cells: several components per program,
many cells per vertex) against an independent oracle: two SciPy programs per small cell, one cell at a time."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from brukerplan.publish.intervals import failing_cells
from brukerplan.publish.suppress import System, suppress_system

THRESHOLD = 5


def _tables(seed: int, n_tables: int = 6) -> tuple[System, np.ndarray]:
    """Independent two-way tables (cells, row totals, column totals, grand total), some cells withheld."""
    rng = np.random.default_rng(seed)
    values: list[int] = []
    eq: list[int] = []
    cell: list[int] = []
    coef: list[int] = []
    withheld: list[bool] = []

    def add(value: int, hidden: bool) -> int:
        values.append(value)
        withheld.append(hidden)
        return len(values) - 1

    def equation(total: int, parts: list[int]) -> None:
        number = eq[-1] + 1 if eq else 0
        for c, k in sorted([(total, -1), *((p, 1) for p in parts)]):
            eq.append(number)
            cell.append(c)
            coef.append(k)

    for _ in range(n_tables):
        rows, cols = rng.integers(2, 5, size=2)
        inner = rng.choice([0, 1, 2, 3, 4, 6, 9], size=(rows, cols), p=[0.1, 0.2, 0.2, 0.15, 0.15, 0.1, 0.1])
        ids = np.array([[add(int(v), bool(rng.random() < 0.6)) for v in row] for row in inner])
        row_ids = [add(int(inner[i].sum()), bool(rng.random() < 0.3)) for i in range(rows)]
        col_ids = [add(int(inner[:, j].sum()), bool(rng.random() < 0.3)) for j in range(cols)]
        grand = add(int(inner.sum()), False)
        for i in range(rows):
            equation(row_ids[i], ids[i].tolist())
        for j in range(cols):
            equation(col_ids[j], ids[:, j].tolist())
        equation(grand, row_ids)
    system = System(
        value=np.asarray(values, dtype=np.int64),
        height=np.zeros(len(values), dtype=np.int64),
        eq=np.asarray(eq, dtype=np.int64),
        cell=np.asarray(cell, dtype=np.int64),
        coef=np.asarray(coef, dtype=np.int8),
    )
    return system, np.asarray(withheld)


def _oracle(system: System, withheld: np.ndarray, primary: np.ndarray) -> set[int]:
    """Small withheld cells whose interval over the non-negative solutions lies strictly inside (0, threshold)."""
    unknowns = np.flatnonzero(withheld)
    position = {int(c): i for i, c in enumerate(unknowns)}
    n_eqs = int(system.eq.max()) + 1
    a = np.zeros((n_eqs, len(unknowns)))
    b = np.zeros(n_eqs)
    for e, c, k in zip(system.eq.tolist(), system.cell.tolist(), system.coef.tolist(), strict=True):
        if withheld[c]:
            a[e, position[c]] += k
        else:
            b[e] -= k * system.value[c]
    failing = set()
    for c in unknowns[primary[unknowns]].tolist():
        objective = np.zeros(len(unknowns))
        objective[position[c]] = 1.0
        low = linprog(objective, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        high = linprog(-objective, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        assert low.status == 0
        top = np.inf if high.status == 3 else -high.fun
        if low.fun > 1e-6 and top < THRESHOLD - 1e-6:
            failing.add(c)
    return failing


@pytest.mark.parametrize("seed", range(12))
def test_batched_programs_find_exactly_the_cells_one_program_per_cell_finds(seed: int) -> None:
    system, withheld = _tables(seed)
    primary = withheld & (system.value >= 1) & (system.value <= THRESHOLD - 1)
    found = failing_cells(system.eq, system.cell, system.coef, system.value, withheld, primary, THRESHOLD)
    assert set(found.tolist()) == _oracle(system, withheld, primary)


def test_the_random_tables_do_hold_cells_pinned_between_one_and_four() -> None:
    """The comparison above is not vacuous: some of its systems have pinned small cells."""
    pinned = 0
    for seed in range(12):
        system, withheld = _tables(seed)
        primary = withheld & (system.value >= 1) & (system.value <= THRESHOLD - 1)
        pinned += len(_oracle(system, withheld, primary))
    assert pinned >= 3


@pytest.mark.parametrize("seed", range(6))
def test_after_suppression_no_small_cell_is_pinned(seed: int) -> None:
    system, _ = _tables(100 + seed)
    withheld, primary, stats = suppress_system(system, threshold=THRESHOLD)
    assert stats.audit_complete
    assert _oracle(system, withheld, primary) == set()
