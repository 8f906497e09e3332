"""No withheld cell can be recovered by subtraction within the additive sets of warehouse.md, neither by the
"single unknown, solve, substitute" loop nor by exact linear algebra; on the default fixture, on several
random small tables, and at a higher threshold."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from brukerplan.publish import PublishResult
from brukerplan.settings import Settings
from tests.publish.conftest import build_and_publish
from tests.publish.recovery import (
    KEYS,
    Published,
    attack,
    check_equations_hold,
    determined_by_linear_algebra,
    determined_by_svd,
    solve_by_substitution,
)
from tests.publish.warehouse_fixture import FixtureShape


def _attack(settings: Settings) -> tuple[Published, list, dict]:
    return attack(settings.published)


def _complete_values(settings: Settings, pub: Published) -> dict:
    """The warehouse's values of the same cells (to prove that the equations are true ones)."""
    values: dict = {}
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        for table in pub.rows:
            cursor = con.execute(f"select * from marts.{table}")
            names = [d[0] for d in cursor.description]
            for record in cursor.fetchall():
                row = dict(zip(names, record, strict=True))
                key = tuple(row[k] for k in KEYS[table])
                for column, value in row.items():
                    if isinstance(value, int) and not isinstance(value, bool):
                        values[(table, key, column)] = value
    finally:
        con.close()
    return values


def test_default_fixture_recovers_nothing(published_default: tuple[Settings, PublishResult]) -> None:
    settings, _ = published_default
    pub, equations, recovered = _attack(settings)
    withheld = [c for c, v in pub.values.items() if v is None]
    assert len(withheld) > 1000
    assert len(equations) > 5000
    # the equations are true: they hold on the unsuppressed warehouse values
    assert check_equations_hold(equations, _complete_values(settings, pub)) == []
    assert recovered == {}
    assert determined_by_linear_algebra(equations, pub.values) == []


@pytest.mark.parametrize("seed", [2, 3, 4, 5, 6, 7])
def test_random_small_tables_recover_nothing_even_by_linear_algebra(tmp_path: Path, seed: int) -> None:
    shape = FixtureShape(seed=seed, max_persons=20, years=(2021,), municipalities=("5001", "5006", "1505"))
    settings, result = build_and_publish(tmp_path, shape)
    pub, equations, recovered = _attack(settings)
    assert check_equations_hold(equations, _complete_values(settings, pub)) == []
    assert recovered == {}
    assert determined_by_linear_algebra(equations, pub.values) == []
    assert result.stats.primary > 0


def test_a_higher_threshold_withholds_more_and_still_recovers_nothing(tmp_path: Path) -> None:
    shape = FixtureShape(seed=7, max_persons=60, years=(2021,), municipalities=("5001", "5006", "1505"))
    _, low = build_and_publish(tmp_path / "low", shape, threshold=3)
    settings, high = build_and_publish(tmp_path / "high", shape, threshold=10)
    assert high.stats.primary > low.stats.primary
    pub, equations, recovered = _attack(settings)
    assert recovered == {}
    assert determined_by_linear_algebra(equations, pub.values) == []
    con = duckdb.connect(str(settings.published), read_only=True)
    try:
        for table, column in [("mart_trends", "persons"), ("mart_living_conditions", "persons")]:
            assert con.execute(f"select count(*) from {table} where {column} between 1 and 9").fetchone()[0] == 0
    finally:
        con.close()


def test_the_attack_does_find_an_unprotected_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The attack is able to fail: withhold only the small counts (no complementary cells) and it recovers
    them, with their true values."""
    from brukerplan.publish import suppress as suppress_module

    nothing = np.zeros(0, dtype=np.int64)
    monkeypatch.setattr(suppress_module, "_singleton_rounds", lambda *args, **kwargs: (nothing, 0))
    monkeypatch.setattr(suppress_module, "fixed_unknowns", lambda *args, **kwargs: nothing)
    monkeypatch.setattr(suppress_module, "failing_cells", lambda *args, **kwargs: nothing)
    shape = FixtureShape(seed=2, max_persons=25, years=(2019,), municipalities=("5001", "5006", "1505"))
    settings, _ = build_and_publish(tmp_path, shape)
    pub, equations, recovered = _attack(settings)
    assert recovered, "primary suppression alone must be recoverable by subtraction"
    complete = _complete_values(settings, pub)
    assert all(complete[cell] == value for cell, value in recovered.items())
    assert set(recovered) <= set(determined_by_linear_algebra(equations, pub.values))


def test_singleton_protection_is_not_enough_and_the_exact_check_sees_it() -> None:
    """received = continue + end, recommended = continue + new, known = continue + new + end + none with
    continue, new and end withheld: every equation has two or more unknowns, yet three independent equations
    fix all three: continue = 38 + 20 - (59 - 14) = 13, new = 7, end = 25."""
    row = ("t", (), "")
    cells = {name: (row[0], (), name) for name in ["received", "recommended", "known", "c", "n", "e", "none"]}
    values = {cells["received"]: 38, cells["recommended"]: 20, cells["known"]: 59, cells["none"]: 14}
    values |= {cells[k]: None for k in "cne"}
    equations = [
        [(cells["received"], -1), (cells["c"], 1), (cells["e"], 1)],
        [(cells["recommended"], -1), (cells["c"], 1), (cells["n"], 1)],
        [(cells["known"], -1), (cells["c"], 1), (cells["n"], 1), (cells["e"], 1), (cells["none"], 1)],
    ]
    assert solve_by_substitution(equations, values) == {}
    fixed = sorted([cells["c"], cells["n"], cells["e"]], key=repr)
    assert determined_by_linear_algebra(equations, values) == fixed
    assert sorted(determined_by_svd(equations, values), key=repr) == fixed


@pytest.mark.parametrize("seed", range(40))
def test_the_exact_solver_agrees_with_svd_on_random_systems(seed: int) -> None:
    import random

    rng = random.Random(seed)
    cells = [("t", (i,), "x") for i in range(rng.randint(2, 14))]
    values = {c: (None if rng.random() < 0.6 else rng.randint(0, 9)) for c in cells}
    equations = [
        [(c, rng.choice([-1, 1])) for c in rng.sample(cells, rng.randint(2, min(5, len(cells))))]
        for _ in range(rng.randint(1, 12))
    ]
    assert determined_by_linear_algebra(equations, values) == sorted(determined_by_svd(equations, values), key=repr)
