"""Suppression part by part (parts.py): the parts solved apart give exactly what the solver gives on the whole
system; a stored part is reused only when nothing of it changed, and reuse gives what a fresh solve gives."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest

from brukerplan.publish import publish
from brukerplan.publish.parts import PartCache, part_labels, solve_parts, split
from brukerplan.publish.publisher import solved_parts_store
from brukerplan.publish.suppress import System, suppress_system
from brukerplan.settings import PROJECT_DIR
from tests.publish.conftest import build_and_publish, describe_like_persist_docs
from tests.publish.warehouse_fixture import FixtureShape, make_warehouse

THRESHOLD = 5
LP_BUDGET = 20_000


def _years(seed: int, n_years: int = 4, municipalities: int = 9, joined: tuple[int, int] | None = None) -> System:
    """Per year (group): persons per municipality x user group (rus, mental, all = rus + mental), with county
    and country totals (three counties), mostly small counts; optionally one equation joining two years."""
    rng = np.random.default_rng(seed)
    values: list[int] = []
    heights: list[int] = []
    groups: list[int] = []
    members: list[tuple[int, int, int]] = []  # (equation, cell, coef)

    def add(value: int, height: int, group: int) -> int:
        values.append(value)
        heights.append(height)
        groups.append(group)
        return len(values) - 1

    def equation(total: int, parts: list[int]) -> None:
        number = len({m[0] for m in members})
        members.extend([(number, total, -1), *((number, p, 1) for p in parts)])

    country_all = []
    for year in range(n_years):
        p = [0.1, 0.2, 0.2, 0.15, 0.1, 0.1, 0.1, 0.05]
        leaf = rng.choice([0, 1, 2, 3, 4, 5, 8, 13], size=(municipalities, 2), p=p)
        county_of = np.arange(municipalities) % 3
        cells: dict[tuple[str, int, int], int] = {}  # (level, geo, group 0 rus 1 mental 2 all) -> cell
        for m in range(municipalities):
            for u in range(2):
                cells["m", m, u] = add(int(leaf[m, u]), 0, year)
            cells["m", m, 2] = add(int(leaf[m].sum()), 1, year)
        for c in range(3):
            for u in range(3):
                total = int(leaf[county_of == c].sum()) if u == 2 else int(leaf[county_of == c, u].sum())
                cells["c", c, u] = add(total, 1 + (u == 2), year)
        for u in range(3):
            total = int(leaf.sum()) if u == 2 else int(leaf[:, u].sum())
            cells["n", 0, u] = add(total, 2 + (u == 2), year)
        country_all.append(cells["n", 0, 2])
        for u in range(3):
            for c in range(3):
                equation(cells["c", c, u], [cells["m", m, u] for m in range(municipalities) if county_of[m] == c])
            equation(cells["n", 0, u], [cells["c", c, u] for c in range(3)])
        for level, count in (("m", municipalities), ("c", 3), ("n", 1)):
            for g in range(count):
                equation(cells[level, g, 2], [cells[level, g, 0], cells[level, g, 1]])
    # a quantity without the year: a few small counts and their total, in no year's part
    extra = [add(int(v), 0, -1) for v in rng.integers(1, 6, size=4)]
    equation(add(int(sum(values[c] for c in extra)), 1, -1), extra)
    if joined is not None:  # a total over two years' country totals joins the two
        a, b = country_all[joined[0]], country_all[joined[1]]
        equation(add(values[a] + values[b], 4, joined[0]), [a, b])
    members.sort()
    eq, cell, coef = (np.asarray(column) for column in zip(*members, strict=True))
    return System(
        value=np.asarray(values, dtype=np.int64),
        height=np.asarray(heights, dtype=np.int64),
        eq=eq.astype(np.int64),
        cell=cell.astype(np.int64),
        coef=coef.astype(np.int8),
        group=np.asarray(groups, dtype=np.int64),
    )


def big_years(n_years: int, municipalities: int, counties: int, seed: int = 0) -> System:
    """Like _years, vectorised and large (seconds per year): persons per municipality x group (rus, mental,
    all), county and country totals, every year a group."""
    rng = np.random.default_rng(seed)
    p = [0.1, 0.2, 0.2, 0.15, 0.1, 0.1, 0.1, 0.05]
    values, heights, groups, eqs, cells, coefs = [], [], [], [], [], []
    n = e = 0

    def equation(total: int, parts: np.ndarray) -> None:
        nonlocal e
        eqs.append(np.full(len(parts) + 1, e))
        cells.append(np.concatenate([[total], parts]))
        coefs.append(np.concatenate([[-1], np.ones(len(parts))]))
        e += 1

    for year in range(n_years):
        leaf = rng.choice([0, 1, 2, 3, 4, 5, 8, 13], size=(municipalities, 2), p=p)
        county = rng.integers(0, counties, municipalities)
        by_muni = np.column_stack([leaf, leaf.sum(1)])
        by_county = np.stack([np.bincount(county, weights=by_muni[:, u], minlength=counties) for u in range(3)], 1)
        mid = n + np.arange(municipalities * 3).reshape(municipalities, 3)
        cid = mid.max() + 1 + np.arange(counties * 3).reshape(counties, 3)
        nid = cid.max() + 1 + np.arange(3)
        n = int(nid.max()) + 1
        values += [by_muni.ravel(), by_county.ravel(), by_county.sum(0)]
        heights += [np.tile([0, 0, 1], municipalities), np.tile([1, 1, 2], counties), np.array([2, 2, 3])]
        groups.append(np.full(municipalities * 3 + counties * 3 + 3, year))
        for u in range(3):
            for c in range(counties):
                equation(cid[c, u], mid[county == c, u])
            equation(nid[u], cid[:, u])
        for ids in (mid, cid, nid[None, :]):
            for row in ids:
                equation(row[2], row[:2])
    return System(
        value=np.concatenate(values).astype(np.int64),
        height=np.concatenate(heights).astype(np.int64),
        eq=np.concatenate(eqs).astype(np.int64),
        cell=np.concatenate(cells).astype(np.int64),
        coef=np.concatenate(coefs).astype(np.int8),
        group=np.concatenate(groups).astype(np.int64),
    )


@pytest.mark.parametrize("seed", range(6))
def test_parts_solved_apart_give_what_the_whole_system_gives(seed: int) -> None:
    system = _years(seed)
    whole, whole_primary, whole_stats = suppress_system(system, THRESHOLD, lp_budget=LP_BUDGET)
    assert whole_stats.audit_passes >= 2 or whole_stats.audit_added > 0 or whole_stats.rounds > 1, "too easy"
    for workers in (1, 2) if seed == 0 else (1,):  # in processes once: the pool is slow to start
        withheld, primary, stats, summary = solve_parts(system, THRESHOLD, LP_BUDGET, workers=workers)
        assert summary.parts == 5 and summary.solved == 5
        assert np.array_equal(withheld, whole)
        assert np.array_equal(primary, whole_primary)
        assert stats.primary == whole_stats.primary
        assert stats.complementary == whole_stats.complementary
        assert stats.audit_complete
        # the parts' null vectors together are a null vector of the whole system's withheld cells
        assert np.count_nonzero(stats.null_vector[withheld]) > 0
        selected = withheld[system.cell]
        residual = np.bincount(
            system.eq[selected],
            weights=(system.coef[selected].astype(np.int64) * stats.null_vector[system.cell[selected]]) % 2_147_483_647,
            minlength=system.n_eqs,
        )
        assert np.all(np.mod(residual, 2_147_483_647) == 0), "not a null vector of the published equations"


def test_the_parts_are_the_years_and_years_joined_by_an_equation_are_one_part() -> None:
    apart = _years(1)
    labels = part_labels(apart)
    assert len(set(labels.tolist())) == 5
    for year in range(4):
        assert len(set(labels[apart.group == year].tolist())) == 1
    joined = _years(1, joined=(1, 3))
    labels = part_labels(joined)
    assert len(set(labels.tolist())) == 4
    assert labels[joined.group == 1][0] == labels[joined.group == 3][0]
    # every equation lies inside one part
    assert np.all(labels[joined.cell] == labels[joined.cell][np.searchsorted(joined.eq, joined.eq)])


def test_a_reused_part_gives_what_a_fresh_solve_gives_and_only_changed_parts_are_solved(tmp_path: Path) -> None:
    cache = PartCache(tmp_path / "cache")
    system = _years(3)
    first, _, _, summary = solve_parts(system, THRESHOLD, LP_BUDGET, cache=cache, workers=1)
    assert (summary.solved, summary.reused) == (5, 0)
    again, _, _, summary = solve_parts(system, THRESHOLD, LP_BUDGET, cache=cache, workers=1)
    assert (summary.solved, summary.reused) == (0, 5)
    assert np.array_equal(again, first)
    # a resubmission changes one year: that part alone is solved again
    changed = System(**{**system.__dict__, "value": system.value.copy()})
    year_two = np.flatnonzero(system.group == 2)
    leaf = year_two[0]
    delta = 3
    changed.value[leaf] += delta
    for total in _totals_above(system, leaf):
        changed.value[total] += delta
    reused, _, stats, summary = solve_parts(changed, THRESHOLD, LP_BUDGET, cache=cache, workers=1)
    assert (summary.solved, summary.reused) == (1, 4)
    fresh, _, fresh_stats, _ = solve_parts(changed, THRESHOLD, LP_BUDGET, workers=1)
    assert np.array_equal(reused, fresh)
    assert np.array_equal(stats.null_vector, fresh_stats.null_vector)
    assert stats.complementary == fresh_stats.complementary
    # another threshold or LP budget is another part: nothing reused
    _, _, _, summary = solve_parts(changed, THRESHOLD + 1, LP_BUDGET, cache=cache, workers=1)
    assert summary.reused == 0


def _totals_above(system: System, cell: int) -> list[int]:
    """The totals a leaf adds up to (transitively), each once."""
    out: list[int] = []
    todo = [cell]
    while todo:
        current = todo.pop()
        for e in np.unique(system.eq[(system.cell == current) & (system.coef == 1)]):
            totals = system.cell[(system.eq == e) & (system.coef == -1)]
            for total in totals.tolist():
                if total not in out:
                    out.append(total)
                    todo.append(total)
    return out


def test_an_unreadable_stored_part_is_solved_again(tmp_path: Path) -> None:
    cache = PartCache(tmp_path / "cache")
    system = _years(4)
    first, _, _, _ = solve_parts(system, THRESHOLD, LP_BUDGET, cache=cache, workers=1)
    stored = sorted(cache.directory.glob("*.npz"))
    assert len(stored) == 5
    stored[0].write_bytes(b"not a stored part")
    stored[1].write_bytes(stored[1].read_bytes()[:40])
    again, _, _, summary = solve_parts(system, THRESHOLD, LP_BUDGET, cache=cache, workers=1)
    assert (summary.solved, summary.reused) == (2, 3)
    assert np.array_equal(again, first)
    assert all(p.stat().st_mode & 0o077 == 0 for p in [cache.directory, *cache.directory.glob("*.npz")])


def test_forgetting_keeps_only_the_parts_of_the_last_publication(tmp_path: Path) -> None:
    cache = PartCache(tmp_path / "cache")
    system = _years(5)
    solve_parts(system, THRESHOLD, LP_BUDGET, cache=cache, workers=1)
    solve_parts(system, THRESHOLD + 1, LP_BUDGET, cache=cache, workers=1)
    assert len(list(cache.directory.glob("*.npz"))) == 10
    dead, running = cache.directory / ".x.npz.999999999.tmp", cache.directory / f".y.npz.{os.getpid()}.tmp"
    dead.write_bytes(b"left by a killed publish")
    running.write_bytes(b"being written by a publish running now")
    cache.keep_only({part.fingerprint for part in split(system, THRESHOLD + 1, LP_BUDGET)})
    assert not dead.exists() and running.exists()
    _, _, _, summary = solve_parts(system, THRESHOLD + 1, LP_BUDGET, cache=cache, workers=1)
    assert (summary.solved, summary.reused) == (0, 5)
    assert len(list(cache.directory.glob("*.npz"))) == 5


def _published_tables(path: Path) -> dict[str, list[tuple]]:
    """Every mart and dimension of a published file, rows sorted (the publication's own tables left out: they
    name the publication and its timings)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("select table_name from duckdb_tables() order by 1").fetchall()]
        return {
            name: sorted(con.execute(f'select * from "{name}"').fetchall(), key=repr)
            for name in names
            if not name.startswith("publication_") and name != "README"
        }
    finally:
        con.close()


def test_republishing_a_resubmission_a_new_municipality_and_a_new_year_equals_a_fresh_publish(tmp_path: Path) -> None:
    """The previous publication (2017 and 2019) is kept; then 2019 has a resubmission and 2021 comes with a new
    municipality. Republished with the stored parts (2017's reused) = published afresh, table by table."""
    before = FixtureShape(years=(2017, 2019), seed_per_submission=True, absent=((2017, "3403"), (2019, "3403")))
    after = FixtureShape(
        years=(2017, 2019, 2021),
        seed_per_submission=True,
        absent=before.absent,
        resubmitted=((2019, "5006"),),
    )
    settings, first = build_and_publish(tmp_path / "incremental", before)
    assert (first.parts.parts, first.parts.solved) == (2, 2)
    make_warehouse(settings.warehouse, after)
    describe_like_persist_docs(settings.warehouse)
    again = publish(settings)
    assert (again.parts.parts, again.parts.reused, again.parts.solved) == (3, 1, 2)
    fresh_settings, fresh = build_and_publish(tmp_path / "fresh", after, reuse=False)
    assert (fresh.parts.reused, fresh.parts.solved) == (0, 3)
    incremental, full = _published_tables(settings.published), _published_tables(fresh_settings.published)
    assert set(incremental) == set(full) and len(full) >= 6
    for name, rows in full.items():
        assert incremental[name] == rows, f"{name} differs between the incremental and the fresh publication"
    assert again.withheld_cells == fresh.withheld_cells > first.withheld_cells
    # only the parts of the last publication are kept
    assert len(list(PartCache(solved_parts_store(settings)).directory.glob("*.npz"))) == 3


KILLED_PUBLISH = """
import sys
from pathlib import Path
from brukerplan.publish.parts import solve_parts
from tests.publish.test_parts import big_years
system = big_years(4, 20000, 40)
Path(sys.argv[1]).write_text("solving")
solve_parts(system, 5, 20000, workers=2)
Path(sys.argv[1]).write_text("done")
"""


def _running_children(parent: int) -> set[int]:
    """The solver processes (multiprocessing's spawned workers) whose parent is `parent`, zombies left out."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z" and b"spawn_main" in cmdline:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_killed_publish_leaves_no_solver_running(tmp_path: Path) -> None:
    marker = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_PUBLISH, str(marker)],
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
    )
    try:
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            if marker.exists():
                workers = _running_children(proc.pid)
            time.sleep(0.05)
        assert len(workers) == 2, "the two solver processes never started"
        proc.kill()
        proc.wait(timeout=30)
        assert marker.read_text() == "solving", "the parts were solved before the kill: nothing was tested"
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), "solver processes outlived the killed publish"
    finally:
        proc.kill()
        proc.wait(timeout=30)
        for pid in _running_children(1) | workers:  # the orphans of a failed run, if any
            if _alive(pid):
                os.kill(pid, 9)
