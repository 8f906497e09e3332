"""The suppression solver on hand-made systems of equations and on the fixture with its default settings: the
singleton rule, the row audit, the choice of complementary cells, and that a publication is reproducible."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from brukerplan.publish.suppress import System, suppress_system
from tests.publish.attack import attack, solve
from tests.publish.conftest import build_and_publish
from tests.publish.warehouse_fixture import FixtureShape


def _system(values: list[int], heights: list[int], equations: list[list[tuple[int, int]]]) -> System:
    eq, cell, coef = [], [], []
    for number, equation in enumerate(equations):
        for c, k in sorted(equation):
            eq.append(number)
            cell.append(c)
            coef.append(k)
    return System(
        value=np.asarray(values, dtype=np.int64),
        height=np.asarray(heights, dtype=np.int64),
        eq=np.asarray(eq, dtype=np.int64),
        cell=np.asarray(cell, dtype=np.int64),
        coef=np.asarray(coef, dtype=np.int8),
    )


def _recoverable(system: System, withheld: np.ndarray) -> tuple[list[int], list[int]]:
    """The withheld cells that the attacker's substitution recovers and the ones its linear algebra fixes."""
    recovered, fixed = solve(system.eq, system.cell, system.coef, system.value, withheld)
    return recovered.tolist(), fixed.tolist()


# received = continue + end, recommended = continue + new, known = continue + new + end + none
RECEIVED, RECOMMENDED, KNOWN, CONTINUE, NEW, END, NONE = range(7)
SERVICE_ROW = [
    [(RECEIVED, -1), (CONTINUE, 1), (END, 1)],
    [(RECOMMENDED, -1), (CONTINUE, 1), (NEW, 1)],
    [(KNOWN, -1), (CONTINUE, 1), (NEW, 1), (END, 1), (NONE, 1)],
]
SERVICE_VALUES = [10, 11, 32, 3, 8, 7, 14]  # continue 3 is small


def test_singleton_rule_alone_leaves_a_combination_open_and_the_exact_audit_closes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from brukerplan.publish import suppress as suppress_module

    system = _system(SERVICE_VALUES, [0] * 7, SERVICE_ROW)
    nothing = np.zeros(0, dtype=np.int64)
    with monkeypatch.context() as patched:
        patched.setattr(suppress_module, "fixed_unknowns", lambda *args, **kwargs: nothing)
        withheld, primary, _ = suppress_system(system, threshold=5, lp_budget=0)
    assert primary.tolist() == [False, False, False, True, False, False, False]
    recovered, fixed = _recoverable(system, withheld)
    assert recovered == []
    assert CONTINUE in fixed  # what the exact audit is for
    withheld, _, stats = suppress_system(system, threshold=5)
    recovered, fixed = _recoverable(system, withheld)
    assert recovered == []
    assert fixed == []
    assert stats.audit_added >= 1 and stats.audit_complete
    # the cells the last allowed pass added are not audited: the audit is incomplete, and publish refuses then
    _, _, stats = suppress_system(system, threshold=5, max_passes=stats.audit_passes - 1)
    assert stats.audit_added >= 1 and not stats.audit_complete


def test_complementary_cell_is_a_low_row_before_a_smaller_total() -> None:
    """x (small) = one of two candidates: a county-level cell of 6 or a municipality-level cell of 9. The
    municipality is withheld: totals stay shown."""
    x, county, municipality, total = range(4)
    system = _system([3, 6, 9, 18], [0, 1, 0, 1], [[(total, -1), (x, 1), (county, 1), (municipality, 1)]])
    withheld, _, _ = suppress_system(system, threshold=5)
    assert withheld.tolist() == [True, False, True, False]


def test_zero_is_never_the_complementary_cell_when_a_count_is_left() -> None:
    x, zero, other, total = range(4)
    system = _system([2, 0, 40, 42], [0, 0, 0, 1], [[(total, -1), (x, 1), (zero, 1), (other, 1)]])
    withheld, _, _ = suppress_system(system, threshold=5)
    assert withheld.tolist() == [True, False, True, False]


def _mart_rows(path: Path) -> dict[str, list[tuple]]:
    """Every mart's published rows (values, NULLs, withheld flags), in a fixed order."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute("select table_name from information_schema.tables where table_name like 'mart_%'")
        return {t: con.execute(f"select * from {t} order by all").fetchall() for (t,) in tables.fetchall()}
    finally:
        con.close()


@pytest.mark.slow
def test_default_settings_protect_every_combination_and_are_reproducible(tmp_path: Path) -> None:
    shape = FixtureShape(seed=3, max_persons=25, years=(2020, 2021), municipalities=("5001", "5006", "1505"))
    settings, first = build_and_publish(tmp_path / "a", shape)
    result = attack(settings.published, lp_components=0, lp_largest=0)
    assert result.equations > 1000
    assert result.recovered == 0
    assert result.exact_more == 0 and result.exact_cells_not_checked == 0
    assert first.stats.audit_complete and first.stats.audit_passes >= 1
    again, second = build_and_publish(tmp_path / "b", shape)
    assert second.stats.complementary == first.stats.complementary
    assert _mart_rows(again.published) == _mart_rows(settings.published)


def test_bound_propagation_finds_a_small_cell_pinned_between_one_and_four() -> None:
    """a + b = 5 (shown), b + c = 4 (shown), all of a, b, c withheld: b <= 4 gives a >= 1, and a <= 5 - 0; with
    a + d = 4 (d withheld too) a <= 4: a lies in [1, 4] although no equation fixes it."""
    from brukerplan.publish.intervals import propagated_failing

    a, b, c, d, t1, t2, t3 = range(7)
    system = _system(
        [2, 3, 1, 2, 5, 4, 4],
        [0] * 7,
        [[(t1, -1), (a, 1), (b, 1)], [(t2, -1), (b, 1), (c, 1)], [(t3, -1), (a, 1), (d, 1)]],
    )
    withheld = np.array([True, True, True, True, False, False, False])
    primary = withheld.copy()
    pinned = propagated_failing(system.eq, system.cell, system.coef, system.value, withheld, primary, 5)
    assert a in pinned.tolist()
    loose = np.array([True, True, True, True, True, False, False])  # a + b = 5 withheld: a may be 0
    assert a not in propagated_failing(system.eq, system.cell, system.coef, system.value, loose, primary, 5).tolist()
    # the solver protects it: afterwards nothing is pinned
    final, primary_cells, _ = suppress_system(system, threshold=5, lp_budget=0)
    assert propagated_failing(system.eq, system.cell, system.coef, system.value, final, primary_cells, 5).size == 0
