"""The generator's person table: one row per person and mapping year (the registration that the
de-duplication keeps). Persons recur across years in the same municipality (or its successor) with evolving
living conditions; all values follow params.yaml."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import polars as pl

from brukerplan.codes import load_codebook
from brukerplan.synth.config import by_year, load_params
from brukerplan.synth.participation import Participants
from brukerplan.synth.rng import rng_for

AREAS: tuple[str, ...] = tuple(area.code for area in load_codebook().areas)  # code-list order (areas.csv)
COLOURS = ("unknown", "green", "yellow", "red", "blue")  # int codes 0..4
EDUCATION = ("primary", "secondary", "higher", "unknown")
INCOME = ("work", "benefits", "social_assistance", "other")
CUSTODY = ("care", "visitation", "none")
SUBSTANCES = ("alcohol", "cannabis", "heroin", "other_opioids", "amphetamines", "benzodiazepines")
_ND = NormalDist()


def _correlation(params: dict) -> np.ndarray:
    spec = params["areas"]["correlation"]
    order = list(params["areas"]["order"])
    corr = np.full((len(order), len(order)), float(spec["base"]))
    for a, b, r in spec["pairs"]:
        i, j = order.index(a), order.index(b)
        corr[i, j] = corr[j, i] = float(r)
    np.fill_diagonal(corr, 1.0)
    return np.linalg.cholesky(corr)


def _new_keys(rng: np.random.Generator, n: int, seen: set[int]) -> np.ndarray:
    """n new 64-bit person keys (the person_id is their 16-digit hex), never seen before."""
    out: list[int] = []
    while len(out) < n:
        raw = rng.integers(0, 2**64, size=n - len(out), dtype=np.uint64)
        for value in raw.tolist():
            if value not in seen:
                seen.add(value)
                out.append(value)
    return np.array(out, dtype=np.uint64)


def hex_ids(keys: np.ndarray) -> list[str]:
    return [f"{k:016x}" for k in keys.tolist()]


def _gather(values: list[str], index: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(index)


def _colour_from_latent(z: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """shares: (n, 3) green/yellow/red per row -> colour codes 1..3."""
    g = np.clip(shares[:, 0], 1e-9, 1 - 1e-9)
    gy = np.clip(shares[:, 0] + shares[:, 1], 1e-9, 1 - 1e-9)
    t1 = _ndtri(g)
    t2 = _ndtri(gy)
    return np.where(z < t1, 1, np.where(z < t2, 2, 3)).astype(np.int8)


def _ndtri(p: np.ndarray) -> np.ndarray:
    """Normal quantiles of p, which holds few distinct values (computed once each, mapped by hash)."""
    values = pl.Series(p, dtype=pl.Float64)
    unique = values.unique().to_list()
    quantiles = [_ND.inv_cdf(u) for u in unique]
    return values.replace_strict(unique, quantiles, return_dtype=pl.Float64).to_numpy()


def _threshold(p: float) -> float:
    return _ND.inv_cdf(min(max(p, 1e-9), 1 - 1e-9))


class PersonGenerator:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.params = load_params()
        self.chol = _correlation(self.params)
        self.book = load_codebook()
        self.service_codes = tuple(s.code for s in self.book.services)
        self.seen: set[int] = set()
        self.pool: dict[tuple[str, str], dict[str, np.ndarray]] = {}

    def new_ids(self, rng: np.random.Generator, n: int) -> list[str]:
        """n person ids never used before (for registrations that a correction later withdrew)."""
        return hex_ids(_new_keys(rng, n, self.seen))

    def _latent(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.standard_normal((n, len(AREAS))) @ self.chol.T

    def year(self, participants: Participants) -> pl.DataFrame:
        """Person-years of one mapping year and group."""
        year, group = participants.year, participants.group
        rng = rng_for(self.seed, "persons", year, group)
        p = self.params["persons"]
        phi = float(p["latent_persistence"])
        munis = participants.municipalities
        counts = participants.persons
        # recurrence: take returning persons from the entity's pool, the rest are new
        chunks: list[dict[str, np.ndarray]] = []
        used: dict[tuple[str, str], int] = {}
        shuffled: dict[tuple[str, str], np.ndarray] = {}
        for m, n in zip(munis, counts.tolist(), strict=True):
            key = (m.successor, group)
            pool = self.pool.get(key)
            k = 0
            if pool is not None:
                if key not in shuffled:
                    ok = (year - pool["birth_year"] <= p["age_max"]) & (pool["last_year"] >= year - 3)
                    idx = np.flatnonzero(ok)
                    rng.shuffle(idx)
                    shuffled[key] = idx
                start = used.get(key, 0)
                available = len(shuffled[key]) - start
                k = min(int(rng.binomial(n, p["retention"])), available)
                take = shuffled[key][start : start + k]
                used[key] = start + k
                z_old = pool["z"][take]
                chunks.append(
                    {
                        "person_id": pool["person_id"][take],
                        "sex_male": pool["sex_male"][take],
                        "birth_year": pool["birth_year"][take],
                        "z": phi * z_old + np.sqrt(1 - phi**2) * self._latent(rng, k),
                    }
                )
            new = n - k
            share_men = p[group]["share_men"]
            drawn = np.round(rng.normal(by_year(p[group]["age_mean"], year), p[group]["age_sd"], size=new))
            # below the minimum age: spread over the youngest ten years (no pile-up at 16)
            young = p["age_min"] + rng.integers(0, 10, size=new)
            age = np.minimum(np.where(drawn < p["age_min"], young, drawn), p["age_max"]).astype(np.int64)
            chunks.append(
                {
                    "person_id": _new_keys(rng, new, self.seen),
                    "sex_male": rng.random(new) < share_men,
                    "birth_year": year - age,
                    "z": self._latent(rng, new),
                }
            )
        person_id = np.concatenate([c["person_id"] for c in chunks]) if chunks else np.zeros(0, dtype=np.uint64)
        sex_male = np.concatenate([c["sex_male"] for c in chunks]) if chunks else np.zeros(0, dtype=bool)
        birth_year = np.concatenate([c["birth_year"] for c in chunks]) if chunks else np.zeros(0, dtype=np.int64)
        z = np.concatenate([c["z"] for c in chunks]) if chunks else np.zeros((0, len(AREAS)))
        muni_rows = np.repeat(np.arange(len(munis)), counts)  # row -> index into munis
        self._update_pool(year, group, munis, counts, person_id, sex_male, birth_year, z)
        return self._attributes(rng, year, group, person_id, sex_male, birth_year, z, munis, muni_rows)

    def _update_pool(self, year, group, munis, counts, person_id, sex_male, birth_year, z) -> None:
        ends = np.cumsum(counts)
        starts = ends - counts
        by_entity: dict[str, list[np.ndarray]] = {}
        for m, s, e in zip(munis, starts.tolist(), ends.tolist(), strict=True):
            by_entity.setdefault(m.successor, []).append(np.arange(s, e))
        for entity, parts in by_entity.items():
            idx = np.concatenate(parts)
            key = (entity, group)
            fresh = {
                "person_id": person_id[idx],
                "sex_male": sex_male[idx],
                "birth_year": birth_year[idx],
                "z": z[idx],
                "last_year": np.full(len(idx), year),
            }
            old = self.pool.get(key)
            if old is not None:
                keep = (old["last_year"] >= year - 3) & ~np.isin(old["person_id"], fresh["person_id"])
                fresh = {k: np.concatenate([fresh[k], old[k][keep]]) for k in fresh}
            self.pool[key] = fresh

    def _shares(self, group: str, year: int, munis, muni_rows: np.ndarray) -> dict[str, np.ndarray]:
        spec = self.params["areas"]
        n = len(muni_rows)
        counties = np.array([m.county for m in munis], dtype=str)
        shares = {a: np.tile(np.array(spec[group][a], dtype=float), (n, 1)) for a in AREAS}
        if group == "rus":
            green = by_year(spec["rus_only_share"], year)
            base = np.array(spec["rus"]["mental_health"], dtype=float)
            rest = base[1:] / base[1:].sum() * (1 - green)
            shares["mental_health"] = np.tile(np.array([green, *rest]), (n, 1))
        for region in spec["regions"].values():
            mask = np.isin(counties, region["counties"])[muni_rows]
            for area, values in region.get(group, {}).items():
                shares[area][mask] = np.array(values, dtype=float)
        return shares

    def _attributes(self, rng, year, group, person_id, sex_male, birth_year, z, munis, muni_rows) -> pl.DataFrame:
        params = self.params
        n = len(person_id)
        shares = self._shares(group, year, munis, muni_rows)
        colours = {}
        for i, area in enumerate(AREAS):
            c = _colour_from_latent(z[:, i], shares[area])
            unknown = params["areas"]["unknown_share"]
            if group == "rus" and area == "mental_health":
                unknown = params["areas"]["mental_unknown_share_rus"]
            c[rng.random(n) < unknown] = 0
            colours[area] = c
        # living index: mean points over known areas; blue also needs red housing or substance use
        li = params["living_index"]
        points = np.zeros(n)
        known = np.zeros(n)
        for area in AREAS:
            c = colours[area]
            weight = float(li["weights"].get(area, 1.0))
            points += weight * np.where(c > 0, c - 1, 0)
            known += weight * (c > 0)
        mean = np.divide(points, known, out=np.zeros(n), where=known > 0)
        severe = (colours["housing"] == 3) | (colours["substance_use"] == 3)
        index = np.where(
            (mean >= li["blue"]) & severe, 4, np.where(mean >= li["red"], 3, np.where(mean >= li["yellow"], 2, 1))
        ).astype(np.int8)
        index[(known == 0) | (rng.random(n) < li["unknown_share"])] = 0
        age = year - birth_year
        # children, custody, pregnancy
        ch = params["children"][group]
        age_factor = np.where(age < 22, 0.3, np.where(age <= 50, 1.3, 0.6))
        has_children = (rng.random(n) < ch["has_children"] * age_factor).astype(np.int8)
        n_children = np.where(has_children == 1, 1 + rng.poisson(ch["n_children_extra_mean"], n), 0)
        n_children = np.minimum(n_children, 20)
        custody_p = np.array(list(ch["custody"].values()))
        custody = np.where(has_children == 1, rng.choice(3, size=n, p=custody_p / custody_p.sum()), 2).astype(np.int8)
        unknown_children = rng.random(n) < params["children"]["unknown_share"]
        has_children[unknown_children] = -1
        n_children = np.where(unknown_children, -1, n_children)
        custody[unknown_children] = -1
        fertile = ~sex_male & (age <= 45)
        pregnant = (fertile & (rng.random(n) < params["children"]["pregnant_share_women_16_45"])).astype(np.int8)
        pregnant[rng.random(n) < params["children"]["unknown_share"]] = -1
        other = params["other"][group]
        unknown_other = params["other"]["unknown_share"]
        edu_p = np.array([other["education"][k] for k in EDUCATION])
        education = rng.choice(len(EDUCATION), size=n, p=edu_p / edu_p.sum()).astype(np.int8)
        education[rng.random(n) < unknown_other] = -1
        inc_p = np.array([other["income_source"][k] for k in INCOME])
        # economy latent orders income: the better the economy, the likelier work
        order = np.argsort(np.argsort(z[:, 2] + rng.normal(0, 1.0, n)))
        cum = np.cumsum(inc_p / inc_p.sum())
        income = np.searchsorted(cum, (order + 0.5) / max(n, 1)).astype(np.int8)
        income = np.minimum(income, len(INCOME) - 1)
        income[rng.random(n) < unknown_other] = -1
        violence = (rng.random(n) < other["violence_exposed"]).astype(np.int8)
        violence[rng.random(n) < unknown_other] = -1
        # substances (rus only)
        subst = {}
        if group == "rus":
            zs = z[:, AREAS.index("substance_use")]
            for s in SUBSTANCES:
                spec = params["substances"][s]
                use = spec["use"] if not isinstance(spec["use"], dict) else by_year(spec["use"], year)
                v = 0.5 * zs + np.sqrt(0.75) * rng.standard_normal(n)
                user = v > _threshold(1 - use)
                ext = rng.random(n) < spec["extensive"] * np.where(colours["substance_use"] == 3, 1.4, 0.85)
                lvl = np.where(user, np.where(ext, 2, 1), 0).astype(np.int8)
                lvl[rng.random(n) < unknown_other] = -1
                subst[s] = lvl
            heavy = (subst["heroin"] > 0) | (subst["other_opioids"] > 0) | (subst["amphetamines"] > 0)
            p_inj = np.where(subst["heroin"] > 0, 0.55, np.where(heavy, 0.15, 0.01))
            injects = (rng.random(n) < p_inj).astype(np.int8)
            injects[rng.random(n) < unknown_other] = -1
        else:
            for s in SUBSTANCES:
                subst[s] = np.full(n, -1, dtype=np.int8)
            injects = np.zeros(n, dtype=np.int8)
            injects[rng.random(n) < unknown_other] = -1
        received, recommended = self._services(rng, group, z, colours, has_children)
        sv = params["services"]
        recv_known = rng.random(n) >= sv["unknown_share"]
        rec_known = rng.random(n) >= sv["unknown_share"]
        data = {
            "person_id": hex_ids(person_id),
            "mapping_year": np.full(n, year, dtype=np.int16),
            # text columns are gathered from their few values (no Python object or numpy string per row)
            "municipality_code": _gather([m.code for m in munis], muni_rows),
            "county_code": _gather([m.county for m in munis], muni_rows),
            "target_group": _gather([group], np.zeros(n, dtype=np.int64)),
            "sex": _gather(["F", "M"], sex_male.astype(np.int64)),
            "birth_year": birth_year.astype(np.int16),
            "has_children": has_children,
            "n_children": n_children.astype(np.int8),
            "custody": custody,
            "pregnant": pregnant,
            "education": education,
            "income_source": income,
            "injects": injects,
            "violence_exposed": violence,
            **{f"substance_{s}": subst[s] for s in SUBSTANCES},
            **{f"area_{a}": colours[a] for a in AREAS},
            "living_index": index,
            "received_mask": np.where(recv_known, received, 0).astype(np.int32),
            "recommended_mask": np.where(rec_known, recommended, 0).astype(np.int32),
            "received_known": recv_known,
            "recommended_known": rec_known,
        }
        for i in range(len(AREAS)):
            data[f"z{i}"] = z[:, i].astype(np.float32)
        return pl.DataFrame(data)

    def _services(self, rng, group, z, colours, has_children) -> tuple[np.ndarray, np.ndarray]:
        sv = self.params["services"]
        n = z.shape[0]
        rho = float(sv["rho"])
        received = np.zeros(n, dtype=np.int64)
        recommended = np.zeros(n, dtype=np.int64)
        rules = {}
        for rule in sv["rules"]:
            rules.setdefault(rule["service"], []).append(rule)
        colour_index = {"green": 1, "yellow": 2, "red": 3}
        for bit, code in enumerate(self.service_codes):
            spec = sv["table"][code]
            need = z[:, AREAS.index(spec["driver"])]
            p = float(spec[group])
            eligible = has_children == 1 if spec.get("requires_children") else np.ones(n, dtype=bool)
            v = rho * need + np.sqrt(1 - rho**2) * rng.standard_normal(n)
            got = eligible & (v > _threshold(1 - p)) if p > 0 else np.zeros(n, dtype=bool)
            v2 = rho * need + np.sqrt(1 - rho**2) * rng.standard_normal(n)
            rec = np.where(
                got,
                rng.random(n) < sv["continue_share"],
                eligible & (v2 > _threshold(1 - spec["new"])) & (p > 0 or spec["new"] > 0),
            )
            for rule in rules.get(code, []):
                hit = eligible & ~got & (colours[rule["area"]] == colour_index[rule["colour"]])
                rec |= hit & (rng.random(n) < rule["recommend"])
            received |= got.astype(np.int64) << bit
            recommended |= rec.astype(np.int64) << bit
        return received, recommended
