"""No withheld cell can be recovered by the outside attacker (tests/publish/attack.py), neither by the "single
unknown, solve, substitute" loop nor by exact linear algebra, on several random small tables and at a higher
threshold; and it does recover cells, with their true values, when only primary suppression is applied (so it
is able to fail). The default fixture and the solvers on hand-made systems are tests/publish/test_attack.py."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from brukerplan.settings import Settings
from tests.publish.attack import AttackResult, attack, wrong_values
from tests.publish.conftest import build_and_publish
from tests.publish.warehouse_fixture import FIXTURE_ONLY_WRONG, FixtureShape

pytestmark = pytest.mark.slow


def _attack(settings: Settings) -> AttackResult:
    """Substitution and exact linear algebra on the published file (no LP sample)."""
    return attack(settings.published, lp_components=0, lp_largest=0)


def _nothing_recovered(result: AttackResult) -> bool:
    return result.recovered == 0 and result.exact_more == 0 and result.exact_cells_not_checked == 0


@pytest.mark.parametrize("seed", [2, 3, 4, 5, 6, 7])
def test_random_small_tables_recover_nothing_even_by_linear_algebra(tmp_path: Path, seed: int) -> None:
    shape = FixtureShape(seed=seed, max_persons=20, years=(2021,), municipalities=("5001", "5006", "1505"))
    settings, result = build_and_publish(tmp_path, shape)
    # the identities are true: they hold on the unsuppressed warehouse values
    unsuppressed = attack(settings.warehouse, schema="marts", lp_components=0, lp_largest=0)
    assert set(unsuppressed.wrong_kinds) <= FIXTURE_ONLY_WRONG
    attacked = _attack(settings)
    assert attacked.withheld > 0 and attacked.equations_used > 0
    assert _nothing_recovered(attacked)
    assert result.stats.primary > 0


def test_a_higher_threshold_withholds_more_and_still_recovers_nothing(tmp_path: Path) -> None:
    shape = FixtureShape(seed=7, max_persons=60, years=(2021,), municipalities=("5001", "5006", "1505"))
    _, low = build_and_publish(tmp_path / "low", shape, threshold=3)
    settings, high = build_and_publish(tmp_path / "high", shape, threshold=10)
    assert high.stats.primary > low.stats.primary
    attacked = _attack(settings)
    assert attacked.threshold == 10
    assert _nothing_recovered(attacked)
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
    attacked = _attack(settings)
    assert attacked.recovered, "primary suppression alone must be recoverable by subtraction"
    assert attacked.conflicts == attacked.inconsistent == attacked.exact_inconsistent == 0
    assert len(attacked.recovered_cells) + len(attacked.determined_cells) == attacked.determined
    assert wrong_values(attacked, settings.warehouse) == []
