"""The search for complementary cells around a fixed cell (publish/suppress.py `_complement_of`, decisions P22)
against a plain reference written from its definition: the cheapest candidate (a shown cell; a non-zero one unless
zeros are allowed) among the members of the fixed cell's equations; if there is none, step by step further out
(equations -> their members -> those members' equations), up to MAX_STEPS steps, the cheapest candidate in the
equations of the cells first reached at the first step that has any."""

from __future__ import annotations

import numpy as np
import pytest

from brukerplan.publish.suppress import MAX_STEPS, Index, Priority, System, _complement_of


def _random_system(rng: np.random.Generator, n_cells: int, n_eqs: int) -> System:
    members = [rng.choice(n_cells, size=int(rng.integers(2, 6)), replace=False) for _ in range(n_eqs)]
    eq = np.concatenate([np.full(len(m), e, dtype=np.int64) for e, m in enumerate(members)])
    cell = np.concatenate(members).astype(np.int64)
    return System(
        value=rng.integers(0, 9, size=n_cells).astype(np.int64),
        height=rng.integers(0, 3, size=n_cells).astype(np.int64),
        eq=eq,
        cell=cell,
        coef=np.where(rng.random(len(eq)) < 0.2, -1, 1).astype(np.int8),
    )


def _reference(
    system: System, withheld: np.ndarray, rank: Priority, determined: np.ndarray, zeros: bool
) -> tuple[set[int], set[int], list[int | None]]:
    """(picks, fixed cells without a candidate, per fixed cell the step its candidate was found at or None)."""
    equations: dict[int, list[int]] = {}
    of_cell: dict[int, list[int]] = {}
    for e, c in zip(system.eq.tolist(), system.cell.tolist(), strict=True):
        equations.setdefault(e, []).append(c)
        of_cell.setdefault(c, []).append(e)

    def cheapest(cells: set[int]) -> int | None:
        found = [
            c
            for cell in cells
            for e in of_cell.get(cell, [])
            for c in equations[e]
            if not withheld[c] and (zeros or system.value[c] != 0)
        ]
        return min(found, key=lambda c: rank.rank[c]) if found else None

    picks: set[int] = set()
    stuck: set[int] = set()
    steps: list[int | None] = []
    for fixed in determined.tolist():
        seen, frontier = {fixed}, {fixed}
        pick, step = cheapest(frontier), 0
        while pick is None and frontier and step < MAX_STEPS:
            frontier = {c for cell in frontier for e in of_cell.get(cell, []) for c in equations[e]} - seen
            seen |= frontier
            pick, step = cheapest(frontier), step + 1
        if pick is None:
            stuck.add(fixed)
        else:
            picks.add(pick)
        steps.append(None if pick is None else step)
    return picks, stuck, steps


SEEDS = range(12)


def _case(seed: int) -> tuple[System, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_cells = int(rng.integers(30, 400))
    system = _random_system(rng, n_cells, int(rng.integers(10, n_cells)))
    # mostly withheld, as in a sparse year, so that many searches go several steps out (or find nothing)
    withheld = rng.random(n_cells) < rng.uniform(0.6, 0.97)
    return system, withheld, np.flatnonzero(withheld)[: int(rng.integers(1, 40))]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("zeros", [False, True])
def test_the_search_equals_the_reference(seed: int, zeros: bool) -> None:
    system, withheld, determined = _case(seed)
    index, rank = Index.of(system), Priority.of(system)
    picks, stuck = _complement_of(system, index, withheld, rank, determined, zeros=zeros)
    expected_picks, expected_stuck, _ = _reference(system, withheld, rank, determined, zeros)
    assert set(picks.tolist()) == expected_picks
    assert set(stuck.tolist()) == expected_stuck


def test_the_cases_find_at_once_several_steps_out_and_not_at_all() -> None:
    steps: list[int | None] = []
    for seed in SEEDS:
        system, withheld, determined = _case(seed)
        steps += _reference(system, withheld, Priority.of(system), determined, False)[2]
    assert None in steps and 0 in steps
    assert any(step is not None and step >= 2 for step in steps), steps


@pytest.mark.parametrize("position", range(1, MAX_STEPS + 4))
def test_along_a_chain_the_search_reaches_max_steps_and_no_further(position: int) -> None:
    """Equations {i, i+1} along a chain of withheld cells with one shown cell at `position`: the fixed cell 0 finds
    it at step position - 1, so only while that is at most MAX_STEPS."""
    n_cells = MAX_STEPS + 6
    eq = np.repeat(np.arange(n_cells - 1, dtype=np.int64), 2)
    cell = np.stack([np.arange(n_cells - 1), np.arange(1, n_cells)], axis=1).ravel().astype(np.int64)
    system = System(
        value=np.full(n_cells, 3, dtype=np.int64),
        height=np.zeros(n_cells, dtype=np.int64),
        eq=eq,
        cell=cell,
        coef=np.ones(len(eq), dtype=np.int8),
    )
    withheld = np.ones(n_cells, dtype=bool)
    withheld[position] = False
    determined = np.array([0])
    picks, stuck = _complement_of(system, Index.of(system), withheld, Priority.of(system), determined)
    expected = _reference(system, withheld, Priority.of(system), determined, False)
    assert expected[2] == [position - 1 if position - 1 <= MAX_STEPS else None]
    assert (set(picks.tolist()), set(stuck.tolist())) == expected[:2]
