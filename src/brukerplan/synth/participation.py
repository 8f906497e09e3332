"""Which municipalities map in which year, and how many persons each maps.

Every municipality is followed through the reforms by its 2024 successor (its "entity"), which carries a
pattern: every year, every second year (odd or even years) or sporadic. Each year the required number of
municipalities is chosen by a score (size, pattern, noise) whose size weight is solved so that the population
covered gives the published rate per 1 000. Trøndelag 2013-2018 uses the real pattern."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brukerplan.synth.config import load_params
from brukerplan.synth.reference import Municipality, Reference
from brukerplan.synth.rng import rng_for

GROUPS = ("rus", "mental")


@dataclass(frozen=True)
class Participants:
    """Participating municipalities of one year and group, with the persons each maps (after dedup)."""

    year: int
    group: str
    municipalities: tuple[Municipality, ...]
    persons: np.ndarray  # int64, aligned with municipalities


def _largest_remainder(weights: np.ndarray, total: int, minimum: int = 1) -> np.ndarray:
    n = len(weights)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    total = max(total, n * minimum)
    share = weights / weights.sum() * (total - n * minimum)
    base = np.floor(share).astype(np.int64)
    remainder = total - n * minimum - int(base.sum())
    order = np.argsort(-(share - base), kind="stable")
    base[order[:remainder]] += 1
    return base + minimum


def _choose(
    score_parts: np.ndarray, size: np.ndarray, pop: np.ndarray, n: int, covered_target: float, lo: float, hi: float
) -> np.ndarray:
    """Indices of the n best scores, with the size weight solved by bisection to approach the covered population."""
    n = min(max(n, 0), len(pop))

    def pick(beta: float) -> np.ndarray:
        return np.argsort(-(beta * size + score_parts), kind="stable")[:n]

    best = pick(lo)
    for _ in range(40):
        mid = (lo + hi) / 2
        chosen = pick(mid)
        if pop[chosen].sum() < covered_target:
            lo = mid
        else:
            hi = mid
        best = chosen
    return np.sort(best)


def _entity_traits(ref: Reference, seed: int) -> dict[str, tuple[str, int, float, float]]:
    """entity -> (pattern, parity, propensity, mental propensity); independent of the years generated."""
    params = load_params()["participation"]
    entities = sorted({m.successor for year in ref.in_force for m in ref.in_force[year]})
    rng = rng_for(seed, "entities")
    names = list(params["patterns"])
    probs = np.array([params["patterns"][k] for k in names], dtype=float)
    pattern_idx = rng.choice(len(names), size=len(entities), p=probs / probs.sum())
    parity = rng.integers(0, 2, size=len(entities))
    propensity = rng.normal(0, 0.5, size=len(entities))
    mental = rng.normal(0, 1.0, size=len(entities))
    return {
        e: (names[pattern_idx[i]], int(parity[i]), float(propensity[i]), float(mental[i]))
        for i, e in enumerate(entities)
    }


def choose_participants(ref: Reference, years: range, scale: float, seed: int) -> dict[tuple[int, str], Participants]:
    params = load_params()
    part = params["participation"]
    bonus = float(part["pattern_bonus"])
    traits = _entity_traits(ref, seed)
    trond = params["trondelag"]
    out: dict[tuple[int, str], Participants] = {}
    for year in years:
        spec = params["years"][year]
        munis = ref.in_force[year]
        rng = rng_for(seed, "participation", year)
        pop = np.array([m.pop16 for m in munis], dtype=float)
        logpop = np.log(pop)
        size = (logpop - logpop.mean()) / logpop.std()
        pattern_term = np.empty(len(munis))
        for i, m in enumerate(munis):
            pattern, parity, propensity, _ = traits[m.successor]
            if pattern == "every_year":
                term = bonus
            elif pattern == "every_second_year":
                term = bonus if year % 2 == parity else -bonus
            else:
                term = -0.5 * bonus + rng.normal(0, part["sporadic_noise"])
            pattern_term[i] = term + propensity
        noise = rng.normal(0, part["yearly_noise"], size=len(munis))
        fixed = np.zeros(len(munis), dtype=bool)
        candidate = np.ones(len(munis), dtype=bool)
        if year <= trond["last_year"]:
            in_trond = np.array([m.county in trond["counties"] for m in munis])
            fixed = np.array([m.code in ref.trondelag.get(year, frozenset()) for m in munis])
            candidate = ~in_trond
        national = pop.sum()
        covered = spec["rus_persons"] / spec["rus_rate"] * 1000
        cand_idx = np.flatnonzero(candidate)
        n_needed = spec["rus_municipalities"] - int(fixed.sum())
        chosen = cand_idx[
            _choose(
                pattern_term[cand_idx] + noise[cand_idx],
                size[cand_idx],
                pop[cand_idx],
                n_needed,
                covered - pop[fixed].sum(),
                -2.0,
                8.0,
            )
        ]
        rus_idx = np.sort(np.concatenate([np.flatnonzero(fixed), chosen]))
        assert covered <= national
        out[(year, "rus")] = _with_persons(year, "rus", munis, rus_idx, spec["rus_persons"], scale, rng)
        if year >= params["mental_group_from"] and "mental_persons" in spec:
            mental_score = np.array([traits[munis[i].successor][3] for i in rus_idx]) + rng.normal(
                0, 0.5, size=len(rus_idx)
            )
            covered_m = spec["mental_persons"] / spec["mental_rate"] * 1000
            sub = _choose(mental_score, size[rus_idx], pop[rus_idx], spec["mental_municipalities"], covered_m, -8, 8)
            out[(year, "mental")] = _with_persons(
                year, "mental", munis, rus_idx[sub], spec["mental_persons"], scale, rng
            )
    return out


def _with_persons(
    year: int,
    group: str,
    munis: tuple[Municipality, ...],
    idx: np.ndarray,
    persons: int,
    scale: float,
    rng: np.random.Generator,
) -> Participants:
    spec = load_params()["persons"]
    pop = np.array([munis[i].pop16 for i in idx], dtype=float)
    weights = pop * np.exp(rng.normal(0, spec["local_rate_sd"], size=len(idx)))
    for rule in spec["regional_rates"]:
        if rule["group"] == group and year in rule.get("years", [year]):
            weights *= np.where([munis[i].county in rule["counties"] for i in idx], rule["factor"], 1.0)
    counts = _largest_remainder(weights, round(persons * scale))
    return Participants(year=year, group=group, municipalities=tuple(munis[i] for i in idx), persons=counts)
