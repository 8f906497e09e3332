"""The exact audit: which withheld cells does the published system of equations fix?

A withheld cell j is fixed (exactly recoverable) iff its unit vector lies in the row space of the equations
restricted to the withheld cells, i.e. iff x_j = 0 for every null vector x of that system. One *random* null
vector, computed exactly modulo a prime, answers this for every cell at once: x_j is a linear form in the free
unknowns, zero everywhere iff j is fixed, and a random point makes a non-zero form vanish with probability 1/P
(a cell reported fixed by that accident is protected once more: the error is on the safe side). The seed is
fixed, so the result is reproducible.

The null vector comes from sparse Gaussian elimination modulo P (compiled with numba): the equations in order
of length, each reduced by the pivot rows so far (a dense scratch row and a work list of the columns to
eliminate), its pivot the unknown that occurs in the fewest equations; then the free unknowns take random values
and the pivots follow in reverse order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

P = 2_147_483_647  # 2^31 - 1: products of two residues stay inside int64
SEED = 20240101


@dataclass
class ExactStats:
    unknowns: int = 0  # withheld cells in equations with two or more withheld cells
    equations: int = 0
    components: int = 0
    largest_component: int = 0
    pivots: int = 0
    fill: int = 0  # stored entries of the pivot rows
    fixed: int = 0


@numba.njit(cache=True, inline="always")
def _reduce(x):  # pragma: no cover - compiled
    """x modulo P = 2^31 - 1 for 0 <= x < 2^62 (a product of two residues) without a division: 2^31 = 1 mod P."""
    x = (x & 0x7FFFFFFF) + (x >> 31)
    x = (x & 0x7FFFFFFF) + (x >> 31)
    return x - P if x >= P else x


@numba.njit(cache=True)
def _null_vector(ptr, cols, vals, occurrences, n, rand, p):  # pragma: no cover - compiled
    pivot_start = np.full(n, -1, dtype=np.int64)
    pivot_len = np.zeros(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    n_pivots = 0
    capacity = max(1024, 4 * len(cols))
    pool_c = np.empty(capacity, dtype=np.int64)
    pool_v = np.empty(capacity, dtype=np.int64)
    used = 0
    scratch = np.zeros(n, dtype=np.int64)
    in_row = np.zeros(n, dtype=np.bool_)
    queued = np.zeros(n, dtype=np.bool_)
    nonzero = np.empty(n, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)
    for r in range(len(ptr) - 1):
        count = 0
        top = 0
        for j in range(ptr[r], ptr[r + 1]):
            c = cols[j]
            total = scratch[c] + vals[j]
            scratch[c] = total - p if total >= p else total
            if not in_row[c]:
                in_row[c] = True
                nonzero[count] = c
                count += 1
            if pivot_start[c] >= 0 and not queued[c]:
                queued[c] = True
                stack[top] = c
                top += 1
        while top > 0:
            top -= 1
            c = stack[top]
            queued[c] = False
            factor = scratch[c]
            if factor == 0:
                continue
            start = pivot_start[c]
            for j in range(start, start + pivot_len[c]):
                c2 = pool_c[j]
                difference = scratch[c2] - _reduce(factor * pool_v[j])
                scratch[c2] = difference + p if difference < 0 else difference
                if not in_row[c2]:
                    in_row[c2] = True
                    nonzero[count] = c2
                    count += 1
                if c2 != c and pivot_start[c2] >= 0 and not queued[c2] and scratch[c2] != 0:
                    queued[c2] = True
                    stack[top] = c2
                    top += 1
        best = -1
        length = 0
        for i in range(count):
            c = nonzero[i]
            if scratch[c] != 0:
                length += 1
                if best < 0 or occurrences[c] < occurrences[best] or (occurrences[c] == occurrences[best] and c < best):
                    best = c
        if best >= 0:
            if used + length > capacity:
                capacity = max(2 * capacity, used + length)
                grown_c = np.empty(capacity, dtype=np.int64)
                grown_v = np.empty(capacity, dtype=np.int64)
                grown_c[:used] = pool_c[:used]
                grown_v[:used] = pool_v[:used]
                pool_c = grown_c
                pool_v = grown_v
            # inverse of the pivot's coefficient by Fermat: a^(p-2)
            a = scratch[best]
            inverse = 1
            e = p - 2
            while e > 0:
                if e & 1:
                    inverse = _reduce(inverse * a)
                a = _reduce(a * a)
                e >>= 1
            pivot_start[best] = used
            for i in range(count):
                c = nonzero[i]
                if scratch[c] != 0:
                    pool_c[used] = c
                    pool_v[used] = _reduce(scratch[c] * inverse)
                    used += 1
            pivot_len[best] = length
            order[n_pivots] = best
            n_pivots += 1
        for i in range(count):
            c = nonzero[i]
            scratch[c] = 0
            in_row[c] = False
    x = np.zeros(n, dtype=np.int64)
    for c in range(n):
        if pivot_start[c] < 0:
            x[c] = rand[c]
    for i in range(n_pivots - 1, -1, -1):
        piv = order[i]
        total = 0
        for j in range(pivot_start[piv], pivot_start[piv] + pivot_len[piv]):
            if pool_c[j] != piv:
                total += _reduce(pool_v[j] * x[pool_c[j]])
                if total >= p:
                    total -= p
        x[piv] = p - total if total else 0
    return x, n_pivots, used


def dense_numbers(values: np.ndarray, bound: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """values (non-negative ints below bound) renumbered 0..k-1 in order, and the k distinct values (a mask and
    a cumulative sum: no sort, no hash table)."""
    size = int(values.max()) + 1 if bound is None else bound
    present = np.zeros(size, dtype=bool)
    present[values] = True
    local = np.cumsum(present, dtype=np.int64) - 1
    return local[values], np.flatnonzero(present)


def gather_ranges(ptr: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ptr[i]..ptr[i+1]-1 for every i in items, and for each position the index (into items) of
    the item it belongs to."""
    starts = ptr[items]
    lengths = ptr[items + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets, np.repeat(np.arange(len(items), dtype=np.int64), lengths)


def sorted_distinct(values: np.ndarray) -> np.ndarray:
    """np.unique(values) by a sort and a comparison of neighbours: numpy 2.4's hash-based np.unique takes about
    40 times as long on the millions of (cell, neighbour) keys of the complementary search."""
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])]


@numba.njit(cache=True)
def _union_find(eqs, cells, n_cell):  # pragma: no cover - compiled
    parent = np.arange(n_cell)
    first = -1
    previous_eq = -1
    for i in range(len(eqs)):
        c = cells[i]
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        if eqs[i] != previous_eq:
            previous_eq = eqs[i]
            first = c
            continue
        if c != first:
            if c < first:
                parent[first] = c
                first = c
            else:
                parent[c] = first
    for c in range(n_cell):
        root = c
        while parent[root] != root:
            root = parent[root]
        parent[c] = root
    return parent


def components(eqs: np.ndarray, cells: np.ndarray, n_cell: int) -> np.ndarray:
    """Connected component of every unknown (local numbers; `eqs` grouped by equation): the lowest unknown of
    its component (union-find)."""
    return _union_find(eqs.astype(np.int64), cells.astype(np.int64), n_cell)


def fixed_unknowns(
    eq: np.ndarray,
    cell: np.ndarray,
    coef: np.ndarray,
    stats: ExactStats | None = None,
    seed: int = SEED,
    with_components: bool = True,
    null_vector: np.ndarray | None = None,
) -> np.ndarray:
    """The cells (ids as in `cell`) that the equations fix. eq, cell, coef: one entry per member of an
    equation, restricted to the unknowns (withheld cells); the shown cells are constants and do not matter.
    null_vector, if given (one entry per cell id, zero for the shown cells), receives the random null vector:
    a linear combination of cells is fixed iff its value on it is 0 modulo P."""
    stats = stats if stats is not None else ExactStats()
    if len(eq) == 0:
        return np.zeros(0, dtype=np.int64)
    leq, eq_ids = dense_numbers(eq)
    lcell, cell_ids = dense_numbers(cell)
    n_eq, n_cell = len(eq_ids), len(cell_ids)
    stats.unknowns, stats.equations = n_cell, n_eq
    if len(leq) > 1 and np.any(leq[1:] < leq[:-1]):  # members grouped by equation, in their order
        grouped = np.argsort(leq, kind="stable")
        leq, lcell, coef = leq[grouped], lcell[grouped], coef[grouped]
    lengths = np.bincount(leq, minlength=n_eq)
    # equations shortest first, ties by their lowest unknown (then by equation number): consecutive equations then
    # touch nearby unknowns and pivot rows, which the elimination, bound by memory latency, reads about 40 % faster
    # than in equation order (decisions P21); members grouped by equation (eq non-decreasing), so the equations'
    # ranges are taken in that order
    eq_ptr = np.concatenate([[0], np.cumsum(lengths)])
    lowest = np.minimum.reduceat(lcell, eq_ptr[:-1])
    by_length = np.argsort(lengths.astype(np.int64) * n_cell + lowest, kind="stable")
    order, _ = gather_ranges(eq_ptr, by_length)
    ptr = np.concatenate([[0], np.cumsum(lengths[by_length])]).astype(np.int64)
    cols = lcell[order].astype(np.int64)
    vals = coef[order].astype(np.int64) % P
    occurrences = np.bincount(lcell, minlength=n_cell).astype(np.int64)
    rand = np.random.default_rng(seed).integers(1, P, size=n_cell, dtype=np.int64)
    x, pivots, fill = _null_vector(ptr, cols, vals, occurrences, n_cell, rand, P)
    if with_components:
        sizes = np.bincount(components(leq, lcell, n_cell))
        stats.components = int((sizes > 0).sum())
        stats.largest_component = int(sizes.max())
    stats.pivots, stats.fill = int(pivots), int(fill)
    fixed = cell_ids[x == 0]
    stats.fixed = len(fixed)
    if null_vector is not None:
        null_vector[cell_ids] = x
    return fixed
