"""An outside reader's attack on a published file, written from the column documentation of the marts
(models/marts/_marts__models.yml) and warehouse.md, independently of brukerplan.publish (nothing is imported
from it; the published DuckDB file is the only input).

The reader states every identity between published numbers as linear equations over *cells* (table, row,
column; a number repeated on several rows is one cell per row, tied by equations), checks each kind of
identity on the instances whose cells are all shown (a kind that fails once is reported as wrong and not
used), and then tries to recover withheld cells:

* substitution: an equation with a single withheld cell gives it; substitute and repeat until stable;
* exact linear algebra: a withheld cell is fixed iff its unit vector lies in the row space of the equations
  restricted to the withheld cells. Sparse elimination modulo a prime (smallest degree first), then random
  vectors of the null space (two independent ones) show which cells can still move;
* LP protection intervals (HiGHS) on sampled connected components of what substitution left: the smallest and
  largest value of every withheld cell under the equations and non-negativity.

    python -m tests.publish.attack published/brukerplan.duckdb [--lp-components N] [--seed S]
"""

from __future__ import annotations

import argparse
import heapq
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

GEO = ["geo_level", "geo_code", "mapping_year"]
KEYS: dict[str, list[str]] = {
    "mart_trends": [*GEO, "user_group"],
    "mart_living_conditions": [*GEO, "user_group", "area", "colour"],
    "mart_housing": [*GEO, "user_group"],
    "mart_services": [*GEO, "user_group", "service_code"],
    "mart_participation": GEO,
    "mart_data_quality": ["municipality_code_registered", "mapping_year", "submission_id"],
}
# the counts of the column documentation (a difference such as gap may be negative); "rejected_r*" stands for
# every rejected_rNN column the file has
COUNTS: dict[str, list[str]] = {
    "mart_trends": ["persons", "persons_18plus", "men", "previous_persons", "change_persons", "persons_approximate"],
    "mart_living_conditions": ["persons", "persons_known", "persons_in_area"],
    "mart_housing": [
        "persons",
        "persons_housing_known",
        "housing_green",
        "housing_yellow",
        "housing_red",
        "housing_red_yellow",
        "persons_with_children_red_yellow",
        "children_red_yellow",
        "persons_with_children_red_yellow_number_unknown",
    ],
    "mart_services": [
        "persons_status_known",
        "persons_status_unknown",
        "received",
        "recommended",
        "status_continue",
        "status_new",
        "status_end",
        "status_none",
        "gap",
        "received_set_known",
        "received_in_known_set",
        "recommended_set_known",
        "recommended_in_known_set",
        "mapped_again_at_next_mapping",
        "received_at_next_mapping",
        "recommended_mapped_again_at_next_mapping",
        "recommended_received_at_next_mapping",
    ],
    "mart_participation": ["registrations", "persons"],
    "mart_data_quality": [
        "registrations_raw",
        "registrations_landed",
        "rejected",
        "rejected_r*",
        "superseded",
        "duplicates_removed",
        "duplicates_cross_municipality",
        "persons",
    ],
}
SIGNED = {("mart_trends", "change_persons"), ("mart_services", "gap")}
# rates, shares and means computed from counts of the same row: shown while a source is withheld is a leak
DERIVED: dict[str, dict[str, list[str]]] = {
    "mart_trends": {
        "share_men": ["men", "persons"],
        "mean_age": ["persons"],
        "rate_per_1000_16plus": ["persons"],
        "rate_per_1000_18plus": ["persons_18plus"],
        "previous_rate_per_1000_16plus": ["previous_persons"],
        "change_rate_per_1000_16plus": ["persons", "previous_persons"],
        "change_rate_per_1000_18plus": ["persons_18plus"],
    },
    "mart_living_conditions": {"share": ["persons", "persons_known"], "share_of_all": ["persons", "persons_in_area"]},
    "mart_housing": {
        "share_red": ["housing_red", "persons_housing_known"],
        "share_yellow": ["housing_yellow", "persons_housing_known"],
        "share_red_yellow": ["housing_red_yellow", "persons_housing_known"],
    },
    "mart_services": {
        "share_received": ["received_in_known_set", "received_set_known"],
        "share_recommended": ["recommended_in_known_set", "recommended_set_known"],
    },
}
GROUP_PARENT = {
    "rus_only": "rus",
    "rop_less_serious": "rus",
    "rop_serious": "rus",
    "rus_mental_unknown": "rus",
    "rus": "all",
    "mental": "all",
}
# rows that repeat the same number: the first row (smallest rid) of each partition is the reference
REF_PARTITION = {
    "mart_living_conditions": [*GEO, "user_group", "area"],
    "mart_services": [*GEO, "user_group"],
}
SHOWN, WITHHELD, ABSENT = 0, 1, 2
# a withheld cell is NULL and its row's flag `<column>_withheld` is true (docs/publishing.md, "Withheld cells")
FLAG = "_withheld"
PRIME = 2_147_483_647


# ---------------------------------------------------------------------------------------------------------
# identities


@dataclass(frozen=True)
class Variant:
    """One identity kind: sum(coef * a-cell) + sum(coef * b-cell) = 0 per instance (anchor)."""

    name: str
    a_cols: tuple[tuple[str, int], ...]
    b_cols: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Family:
    """Identity kinds sharing the rows they join: table a (one row per instance), table b joined to it (`on`;
    none: the same row). `anchor` numbers the instances (unique per instance within the family)."""

    a: str
    variants: tuple[Variant, ...]
    b: str | None = None
    on: str = ""
    where: str = "true"
    anchor: str = "a.rid"


def _hier_on(table: str, dimension: str) -> tuple[str, str]:
    keys = KEYS[table]
    if dimension == "groups":
        same = [k for k in keys if k != "user_group"]
        cases = " ".join(f"when '{c}' then '{p}'" for c, p in GROUP_PARENT.items())
        parent = f"a.user_group = (case b.user_group {cases} end)"
        where = "b.user_group in ({})".format(", ".join(f"'{c}'" for c in GROUP_PARENT))
    else:
        same = [k for k in keys if k not in ("geo_level", "geo_code")]
        parent = (
            "a.geo_level = (case b.geo_level when 'municipality' then 'county' else 'country' end) and "
            "a.geo_code = (case b.geo_level when 'municipality' then left(b.geo_code, 2) else 'NO' end)"
        )
        where = "b.geo_level in ('municipality', 'county')"
    return " and ".join([*(f"a.{k} = b.{k}" for k in same), parent]), where


def _same(keys: list[str]) -> str:
    return " and ".join(f"a.{k} = b.{k}" for k in keys)


def families(rejected: list[str]) -> dict[str, Family]:
    """Every identity the column documentation states, by family name (kind = family name + variant)."""
    fam: dict[str, Family] = {}
    T, L, H, S, P, D = (
        "mart_trends",
        "mart_living_conditions",
        "mart_housing",
        "mart_services",
        "mart_participation",
        "mart_data_quality",
    )
    additive = {
        T: ["persons", "persons_18plus", "men", "persons_approximate"],
        L: ["persons", "persons_known", "persons_in_area"],
        H: COUNTS[H],
        # the "at the next mapping" counts are not sums over geography or groups
        S: COUNTS[S][:8] + COUNTS[S][9:13],
        P: ["registrations", "persons"],
    }
    short = {T: "trends", L: "living", H: "housing", S: "services", P: "participation"}
    for table, columns in additive.items():
        for dimension in ("groups", "geography"):
            if dimension == "groups" and "user_group" not in KEYS[table]:
                continue
            on, where = _hier_on(table, dimension)
            variants = tuple(Variant(f"[{c}]", ((c, -1),), ((c, 1),)) for c in columns)
            fam[f"{short[table]}.{dimension}"] = Family(a=table, b=table, on=on, where=where, variants=variants)

    def row(table: str, name: str, total: str, parts: list[tuple[str, int]], where: str = "true") -> None:
        fam[name] = Family(a=table, variants=(Variant("", ((total, -1), *parts)),), where=where)

    group_keys = [*GEO, "user_group"]
    # trends: previous_persons is persons at previous_mapping_year; change_persons = persons - previous_persons
    fam["trends.previous"] = Family(
        a=T,
        b=T,
        on=_same(["geo_level", "geo_code", "user_group"]) + " and b.mapping_year = a.previous_mapping_year",
        variants=(Variant("", (("previous_persons", -1),), (("persons", 1),)),),
    )
    row(T, "trends.change", "change_persons", [("persons", 1), ("previous_persons", -1)])
    # living conditions: colours add up to persons_in_area (all) and persons_known (not unknown), both repeated
    # on every colour row; persons_in_area = mart_trends.persons
    fam["living.repeat"] = Family(
        a=L,
        b=L,
        on="b.rid = a.ref",
        where="a.rid <> a.ref",
        variants=tuple(Variant(f"[{c}]", ((c, -1),), ((c, 1),)) for c in ("persons_in_area", "persons_known")),
    )

    def area_colours(name: str, colours: str, variant: Variant) -> None:
        """The colour rows (b) of an area (`colours`: which) against the area's first row (a)."""
        fam[name] = Family(a=L, b=L, on="b.ref = a.rid", where=f"a.rid = a.ref{colours}", variants=(variant,))

    area_colours("living.colours", "", Variant("[persons_in_area]", (("persons_in_area", -1),), (("persons", 1),)))
    area_colours(
        "living.colours_known",
        " and b.colour <> 'unknown'",
        Variant("[persons_known]", (("persons_known", -1),), (("persons", 1),)),
    )
    area_colours(
        "living.unknown",
        " and b.colour = 'unknown'",
        Variant("", (("persons_in_area", -1), ("persons_known", 1)), (("persons", 1),)),
    )
    fam["living.in_area_is_trends"] = Family(
        a=T,
        b=L,
        on=_same(group_keys),
        where="b.rid = b.ref",
        anchor="b.rid",
        variants=(Variant("", (("persons", -1),), (("persons_in_area", 1),)),),
    )
    fam["living.colours_are_trends"] = Family(
        a=T, b=L, on=_same(group_keys), anchor="b.ref", variants=(Variant("", (("persons", -1),), (("persons", 1),)),)
    )
    # housing: within the row, and the same persons as mart_trends and the housing area of living conditions
    row(H, "housing.red_yellow", "housing_red_yellow", [("housing_red", 1), ("housing_yellow", 1)])
    row(H, "housing.known", "persons_housing_known", [("housing_green", 1), ("housing_yellow", 1), ("housing_red", 1)])
    fam["housing.persons_is_trends"] = Family(
        a=H, b=T, on=_same(group_keys), variants=(Variant("", (("persons", -1),), (("persons", 1),)),)
    )

    def housing_is_living(name: str, rows: str, housing: tuple[tuple[str, int], ...], living: str) -> None:
        """A housing row against the housing area's rows of living conditions (`rows`: which)."""
        fam[name] = Family(
            a=H,
            b=L,
            on=_same(group_keys),
            where=f"b.area = 'housing' and {rows}",
            variants=(Variant("", housing, ((living, 1),)),),
        )

    for colour in ("green", "yellow", "red"):
        housing_is_living(
            f"housing.{colour}_is_living", f"b.colour = '{colour}'", ((f"housing_{colour}", -1),), "persons"
        )
    housing_is_living("housing.known_is_living", "b.rid = b.ref", (("persons_housing_known", -1),), "persons_known")
    housing_is_living(
        "housing.known_is_living_colours", "b.colour <> 'unknown'", (("persons_housing_known", -1),), "persons"
    )
    housing_is_living(
        "housing.unknown_is_living",
        "b.colour = 'unknown'",
        (("persons", -1), ("persons_housing_known", 1)),
        "persons",
    )
    # services: the status sets within the row; the persons by status known/unknown are all persons of the
    # group; the numbers about persons (not services) repeat on every service row
    row(S, "services.received", "received", [("status_continue", 1), ("status_end", 1)])
    row(S, "services.recommended", "recommended", [("status_continue", 1), ("status_new", 1)])
    row(
        S,
        "services.known",
        "persons_status_known",
        [("status_continue", 1), ("status_new", 1), ("status_end", 1), ("status_none", 1)],
    )
    row(S, "services.gap", "gap", [("recommended", 1), ("received", -1)])
    # the same sets stated through the totals (implied, but each is one more equation a reader can solve)
    row(
        S,
        "services.known_by_received",
        "persons_status_known",
        [("received", 1), ("status_new", 1), ("status_none", 1)],
    )
    row(
        S,
        "services.known_by_recommended",
        "persons_status_known",
        [("recommended", 1), ("status_end", 1), ("status_none", 1)],
    )
    row(S, "services.gap_by_status", "gap", [("status_new", 1), ("status_end", -1)])
    fam["services.persons_is_trends"] = Family(
        a=T,
        b=S,
        on=_same(group_keys),
        anchor="b.rid",
        variants=(Variant("", (("persons", -1),), (("persons_status_known", 1), ("persons_status_unknown", 1))),),
    )
    repeated = [
        "persons_status_known",
        "persons_status_unknown",
        "received_set_known",
        "recommended_set_known",
        "mapped_again_at_next_mapping",
    ]
    fam["services.repeat"] = Family(
        a=S,
        b=S,
        on="b.rid = a.ref",
        where="a.rid <> a.ref",
        variants=tuple(Variant(f"[{c}]", ((c, -1),), ((c, 1),)) for c in repeated),
    )
    # participation: persons of group all
    fam["participation.persons_is_trends"] = Family(
        a=P,
        b=T,
        on=_same(GEO),
        where="b.user_group = 'all'",
        variants=(Variant("", (("persons", -1),), (("persons", 1),)),),
    )
    # data quality: within the row, and its rows summed over the registered municipalities that harmonise to
    # a municipality (dim_municipality) give that municipality's persons and registrations
    row(D, "data_quality.raw", "registrations_raw", [("registrations_landed", 1), ("rejected", 1)])
    if rejected:
        row(D, "data_quality.rejected", "rejected", [(c, 1) for c in rejected])
    row(
        D,
        "data_quality.landed",
        "registrations_landed",
        [("superseded", 1), ("duplicates_removed", 1), ("persons", 1)],
    )
    row(D, "data_quality.not_current_superseded", "superseded", [("registrations_landed", 1)], "not a.is_current")
    harmonised = "a.geo_level = 'municipality' and a.geo_code = b.harmonised and a.mapping_year = b.mapping_year"
    fam["data_quality.persons_is_trends"] = Family(
        a=T,
        b=D,
        on=harmonised,
        where="a.user_group = 'all'",
        variants=(Variant("", (("persons", -1),), (("persons", 1),)),),
    )
    fam["data_quality.is_participation"] = Family(
        a=P,
        b=D,
        on=harmonised,
        variants=(
            Variant("[persons]", (("persons", -1),), (("persons", 1),)),
            Variant("[registrations]", (("registrations", -1),), (("persons", 1), ("duplicates_removed", 1))),
        ),
    )
    return fam


# ---------------------------------------------------------------------------------------------------------
# results


@dataclass
class KindStats:
    name: str
    instances: int = 0
    shown: int = 0  # instances whose cells are all shown (checked)
    with_withheld: int = 0
    violations: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def wrong(self) -> bool:
        return self.violations > 0


@dataclass
class Cell:
    table: str
    key: tuple
    column: str
    value: int | None = None  # recovered / determined value


@dataclass
class AttackResult:
    path: str
    threshold: int
    rows: dict[str, int] = field(default_factory=dict)
    cells: int = 0
    withheld: int = 0
    withheld_by_table: dict[str, int] = field(default_factory=dict)
    withheld_listed_but_shown: int = 0
    kinds: list[KindStats] = field(default_factory=list)
    skipped_kinds: list[str] = field(default_factory=list)
    equations: int = 0
    memberships: int = 0
    equations_used: int = 0  # of kinds that hold, with at least one withheld cell
    # substitution
    recovered: int = 0
    recovered_small: int = 0  # 1 .. threshold-1
    recovered_differences: int = 0  # of them gap / change_persons (differences, not counts)
    recovered_by_column: dict[str, int] = field(default_factory=dict)
    recovered_by_kind: dict[str, int] = field(default_factory=dict)  # kind of the equation that gave the cell
    rounds: int = 0
    conflicts: int = 0
    negative: int = 0
    inconsistent: int = 0
    recovered_cells: list[Cell] = field(default_factory=list)
    recovered_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # cell ids (Attack)
    recovered_values: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # exact linear algebra on what substitution left
    residual_cells: int = 0
    residual_equations: int = 0
    components: int = 0
    component_sizes: list[int] = field(default_factory=list)  # the largest few
    exact_components_checked: int = 0
    exact_cells_checked: int = 0
    exact_cells_not_checked: int = 0
    exact_more: int = 0  # determined beyond substitution
    exact_more_small: int = 0
    exact_inconsistent: int = 0
    determined_cells: list[Cell] = field(default_factory=list)
    determined_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    determined_values: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # LP
    lp_components: int = 0
    lp_cells: int = 0
    lp_programs: int = 0
    lp_zero_width: int = 0
    lp_primary_inside: int = 0
    lp_failed: int = 0
    lp_examples: list[str] = field(default_factory=list)
    derived_exposed: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def determined(self) -> int:
        """Cells exactly determined: by substitution, plus what linear algebra adds on checked components."""
        return self.recovered + self.exact_more

    @property
    def determined_small(self) -> int:
        return self.recovered_small + self.exact_more_small

    @property
    def wrong_kinds(self) -> list[str]:
        return [k.name for k in self.kinds if k.wrong]

    def found_nothing(self) -> bool:
        return (
            self.recovered == 0
            and self.exact_more == 0
            and self.lp_zero_width == 0
            and self.lp_primary_inside == 0
            and not any(self.derived_exposed.values())
        )

    def summary(self) -> str:
        out = [
            f"published file: {self.path} (threshold {self.threshold})",
            "rows: " + ", ".join(f"{t} {n}" for t, n in self.rows.items()),
            f"count cells {self.cells:,}, withheld {self.withheld:,} ("
            + ", ".join(f"{t} {n:,}" for t, n in self.withheld_by_table.items())
            + ")",
            f"equations {self.equations:,} ({self.memberships:,} memberships), used {self.equations_used:,}",
            "",
            f"{'identity kind':58} {'instances':>10} {'checked':>10} {'withheld':>10} {'violations':>10}",
        ]
        for k in self.kinds:
            flag = "  WRONG: excluded" if k.wrong else ""
            out.append(
                f"{k.name:58} {k.instances:>10,} {k.shown:>10,} {k.with_withheld:>10,} {k.violations:>10,}{flag}"
            )
            out.extend(f"{'':6}e.g. {e}" for e in k.examples[:3] if k.wrong)
        if self.skipped_kinds:
            out.append("skipped (columns or tables absent): " + ", ".join(self.skipped_kinds))
        out += [
            "",
            f"substitution: {self.recovered:,} withheld cells recovered ({self.recovered_small:,} counts 1.."
            f"{self.threshold - 1}, {self.recovered_differences:,} differences) in {self.rounds} rounds; "
            f"conflicts {self.conflicts}, negative {self.negative}, inconsistent equations {self.inconsistent}",
        ]
        if self.recovered_by_column:
            out.append("  by column: " + ", ".join(f"{c} {n:,}" for c, n in self.recovered_by_column.items()))
            out.append("  by identity kind: " + ", ".join(f"{c} {n:,}" for c, n in self.recovered_by_kind.items()))
        out += [
            f"left: {self.residual_cells:,} withheld cells in {self.residual_equations:,} equations, "
            f"{self.components:,} connected components (largest {self.component_sizes[:5]})",
            f"exact (mod p): {self.exact_components_checked:,} components / {self.exact_cells_checked:,} cells "
            f"checked, {self.exact_cells_not_checked:,} not checked; {self.exact_more:,} more determined "
            f"({self.exact_more_small:,} of them 1..{self.threshold - 1}); inconsistent {self.exact_inconsistent}",
            f"exactly determined in all: {self.determined:,} ({self.determined_small:,} of them 1.."
            f"{self.threshold - 1})",
            f"LP: {self.lp_components} components, {self.lp_cells:,} cells, {self.lp_programs:,} programs: "
            f"zero-width {self.lp_zero_width:,}, interval inside [1, {self.threshold - 1}] {self.lp_primary_inside:,}"
            f", failed {self.lp_failed}",
        ]
        out.extend(f"  e.g. {e}" for e in self.lp_examples[:5])
        exposed = {k: v for k, v in self.derived_exposed.items() if v}
        out.append(f"derived shown with a withheld source: {exposed or 'none'}")
        out.append("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items()))
        return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------
# reading the file


@dataclass
class _Table:
    name: str
    base: int
    rows: int
    columns: list[str]

    @property
    def k(self) -> int:
        return len(self.columns)

    def cell(self, rid: str, column: str) -> str:
        return f"({self.base} + {rid} * {self.k} + {self.columns.index(column)})"


def _quote(path: Path | str) -> str:
    return str(path).replace("'", "''")


class Attack:
    """The published cells in an in-memory DuckDB (tables t_<mart>, with a row id) and numpy arrays:
    cell id = base of the table + rid * columns + column index."""

    def __init__(self, path: Path | str, schema: str | None = None, threshold: int | None = None) -> None:
        self.path = str(path)
        self.con = duckdb.connect()
        self.con.execute("set preserve_insertion_order = false")
        self.con.execute(f"attach '{_quote(path)}' as src (read_only)")
        found: dict[str, list[str]] = {}
        for sch, name in self.con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'src'"
        ).fetchall():
            found.setdefault(name, []).append(sch)

        def where(name: str) -> str | None:
            schemas = found.get(name, [])
            for s in (schema, "main", "marts", "core"):
                if s in schemas:
                    return s
            return schemas[0] if schemas else None

        self.threshold = threshold or self._threshold(where("publication_metadata"))
        self.tables: dict[str, _Table] = {}
        self.listed_but_shown = 0
        values, states = [], []
        base = 0
        for name, keys in KEYS.items():
            sch = where(name) if schema is None else (schema if schema in found.get(name, []) else None)
            if sch is None:
                continue
            cols = [
                r[0]
                for r in self.con.execute(
                    "select column_name from duckdb_columns() where database_name = 'src' and schema_name = ? "
                    "and table_name = ? order by column_index",
                    [sch, name],
                ).fetchall()
            ]
            cells: list[str] = []
            for c in COUNTS[name]:
                if c == "rejected_r*":
                    cells += [x for x in cols if re.fullmatch(r"rejected_r\d+", x)]
                elif c in cols:
                    cells.append(c)
            extra = ""
            if name in REF_PARTITION:
                extra = ", min(rid) over (partition by {}) as ref".format(", ".join(REF_PARTITION[name]))
            self.con.execute(
                f"create table t_{name} as select *{extra} from (select row_number() over (order by "
                f"{', '.join(keys)}) - 1 as rid, * from src.{sch}.{name})"
            )
            if name == "mart_data_quality":
                self._harmonise(where("dim_municipality"))
            n = self.con.execute(f"select count(*) from t_{name}").fetchone()[0]
            table = _Table(name, base, n, cells)
            self.tables[name] = table
            base += n * table.k
            if not cells:
                continue
            parts = []
            for j, c in enumerate(cells):
                w = f"coalesce({c}{FLAG}, false)" if f"{c}{FLAG}" in cols else "false"
                parts.append(f"coalesce(try_cast({c} as bigint), 0) as v{j}, {c} is null as n{j}, {w} as w{j}")
            arr = self.con.execute(f"select {', '.join(parts)} from t_{name} order by rid").fetchnumpy()
            v = np.column_stack([np.asarray(arr[f"v{j}"], dtype=np.int64) for j in range(len(cells))]).ravel()
            null = np.column_stack([np.asarray(arr[f"n{j}"], dtype=bool) for j in range(len(cells))]).ravel()
            w = np.column_stack([np.asarray(arr[f"w{j}"], dtype=bool) for j in range(len(cells))]).ravel()
            state = np.full(v.shape, SHOWN, dtype=np.int8)
            state[null & w] = WITHHELD
            state[null & ~w] = ABSENT
            self.listed_but_shown += int((~null & w).sum())
            values.append(v)
            states.append(state)
        self.value = np.concatenate(values) if values else np.zeros(0, np.int64)
        self.state = np.concatenate(states) if states else np.zeros(0, np.int8)
        self.signed = np.zeros(self.value.shape, dtype=bool)
        for name, c in SIGNED:
            table = self.tables.get(name)
            if table is not None and c in table.columns:
                j = table.columns.index(c)
                self.signed[table.base + j : table.base + table.rows * table.k : table.k] = True
        self._keys: dict[str, list[np.ndarray]] = {}

    def _threshold(self, schema: str | None) -> int:
        if schema is None:
            return 5
        try:
            return int(
                self.con.execute(f"select suppression_threshold from src.{schema}.publication_metadata").fetchone()[0]
            )
        except duckdb.Error:
            return 5

    def _harmonise(self, dim_schema: str | None) -> None:
        """Each data-quality row gets the harmonised municipality of its registered code (dim_municipality;
        where the code has several rows, the one valid on 1 January of the mapping year)."""
        if dim_schema is None:
            self.con.execute("alter table t_mart_data_quality add column harmonised varchar")
            return
        cols = {
            r[0]
            for r in self.con.execute(
                "select column_name from duckdb_columns() where database_name = 'src' and schema_name = ? "
                "and table_name = 'dim_municipality'",
                [dim_schema],
            ).fetchall()
        }
        valid = "true"
        if {"valid_from", "valid_to"} <= cols:
            day = "make_date(q.mapping_year, 1, 1)"
            valid = f"(d.valid_from is null or d.valid_from <= {day}) and (d.valid_to is null or {day} < d.valid_to)"
        self.con.execute(
            "create table dq_harmonised as select q.rid, arg_max(d.municipality_code, "
            f"case when {valid} then 1 else 0 end) as harmonised from t_mart_data_quality q "
            f"join src.{dim_schema}.dim_municipality d using (municipality_code_registered) group by q.rid"
        )
        self.con.execute(
            "create or replace table t_mart_data_quality as select q.*, h.harmonised from t_mart_data_quality q "
            "left join dq_harmonised h using (rid)"
        )

    # cells ------------------------------------------------------------------------------------------------

    def _locate(self, ids: np.ndarray) -> Iterator[tuple[_Table, np.ndarray, np.ndarray, np.ndarray]]:
        """(table, positions in ids, rids, column indexes) per table."""
        for table in self.tables.values():
            if not table.k:
                continue
            sel = np.nonzero((ids >= table.base) & (ids < table.base + table.rows * table.k))[0]
            if sel.size:
                off = ids[sel] - table.base
                yield table, sel, off // table.k, off % table.k

    def table_of(self, ids: np.ndarray) -> np.ndarray:
        out = np.empty(ids.shape, dtype=object)
        for table, sel, _, cols in self._locate(ids):
            out[sel] = np.array(table.columns, dtype=object)[cols]
            out[sel] = table.name + "." + out[sel]
        return out

    def describe(self, ids: np.ndarray, values: np.ndarray | None = None) -> list[Cell]:
        out: list[Cell | None] = [None] * len(ids)
        for table, sel, rids, cols in self._locate(np.asarray(ids, dtype=np.int64)):
            if table.name not in self._keys:
                arr = self.con.execute(f"select {', '.join(KEYS[table.name])} from t_{table.name} order by rid")
                self._keys[table.name] = list(arr.fetchnumpy().values())
            keys = self._keys[table.name]
            for i, r, c in zip(sel.tolist(), rids.tolist(), cols.tolist(), strict=True):
                v = None if values is None else int(values[i])
                out[i] = Cell(
                    table.name, tuple(k[r].item() if hasattr(k[r], "item") else k[r] for k in keys), table.columns[c], v
                )
        return out  # type: ignore[return-value]

    # equations --------------------------------------------------------------------------------------------

    def equations(self, skipped: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """All identity instances: (eq, cell, coef) memberships, the kind of each equation, kind names."""
        rejected = [
            c for c in self.tables.get("mart_data_quality", _Table("", 0, 0, [])).columns if c.startswith("rejected_r")
        ]
        eqs, cells, coefs, kinds, names = [], [], [], [], []
        n_eq = 0
        for fname, fam in families(rejected).items():
            if fam.a not in self.tables or (fam.b is not None and fam.b not in self.tables):
                skipped.extend(fname + v.name for v in fam.variants)
                continue
            a, b = self.tables[fam.a], self.tables[fam.b] if fam.b else None
            join = f"from t_{fam.a} a join t_{fam.b} b on {fam.on}" if b else f"from t_{fam.a} a"
            brid = "b.rid" if b else "a.rid"
            try:
                self.con.execute(
                    f"create or replace temp table pairs as select {fam.anchor} as anchor, a.rid as arid, "
                    f"{brid} as brid {join} where {fam.where}"
                )
            except duckdb.Error:
                skipped.extend(fname + v.name for v in fam.variants)
                continue
            for var in fam.variants:
                needed = [(a, c) for c, _ in var.a_cols] + [(b or a, c) for c, _ in var.b_cols]
                if any(c not in t.columns for t, c in needed) or not var.a_cols:
                    skipped.append(fname + var.name)
                    continue
                selects = [
                    f"select distinct anchor, {a.cell('arid', c)} as cell, {k} as coef from pairs"
                    for c, k in var.a_cols
                ]
                selects += [
                    f"select anchor, {(b or a).cell('brid', c)} as cell, {k} as coef from pairs" for c, k in var.b_cols
                ]
                res = self.con.execute(" union all ".join(selects)).fetchnumpy()
                anchor = np.asarray(res["anchor"], dtype=np.int64)
                if not anchor.size:
                    names.append(fname + var.name)
                    continue
                _, eq = np.unique(anchor, return_inverse=True)
                cell = np.asarray(res["cell"], dtype=np.int64)
                coef = np.asarray(res["coef"], dtype=np.int64)
                # an instance with a structurally empty cell (no previous mapping, ...) is no equation
                bad = np.zeros(eq.max() + 1, dtype=bool)
                bad[eq[self.state[cell] == ABSENT]] = True
                keep = ~bad[eq]
                good = np.cumsum(~bad) - 1
                eq = good[eq[keep]]
                m = int((~bad).sum())
                eqs.append(eq + n_eq)
                cells.append(cell[keep])
                coefs.append(coef[keep])
                kinds.append(np.full(m, len(names), dtype=np.int32))
                names.append(fname + var.name)
                n_eq += m
        if not eqs:
            z = np.zeros(0, np.int64)
            return z, z, z, np.zeros(0, np.int32), names
        return np.concatenate(eqs), np.concatenate(cells), np.concatenate(coefs), np.concatenate(kinds), names

    def derived_exposed(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for name, derived in DERIVED.items():
            if name not in self.tables:
                continue
            cols = {r[0] for r in self.con.execute(f"select column_name from (describe t_{name})").fetchall()}
            for column, sources in derived.items():
                if column not in cols:
                    continue
                withheld = " or ".join(f"{s}{FLAG}" for s in sources if f"{s}{FLAG}" in cols)
                if not withheld:
                    continue
                n = self.con.execute(
                    f"select count(*) from t_{name} where {column} is not null and ({withheld})"
                ).fetchone()[0]
                out[f"{name}.{column}"] = int(n)
        return out


# ---------------------------------------------------------------------------------------------------------
# solving


def _substitute(A: sp.csr_matrix, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Repeat: every equation with a single unknown gives it; substitute. Returns the known mask, the values,
    the equation that gave each recovered unknown (-1: none), rounds, conflicts (two values for one cell)."""
    n_eq, n = A.shape
    known = np.zeros(n, dtype=bool)
    x = np.zeros(n, dtype=np.int64)
    source = np.full(n, -1, dtype=np.int64)
    pattern = A.copy()
    pattern.data = np.ones_like(pattern.data)
    index = np.arange(n, dtype=np.int64)
    active = np.arange(n_eq)
    rounds = conflicts = 0
    while active.size:
        unknown = (~known).astype(np.int64)
        count = pattern[active] @ unknown
        single = active[count == 1]
        active = active[count >= 2]
        if not single.size:
            break
        rounds += 1
        sub = A[single]
        cell = pattern[single] @ (index * unknown)
        coef = sub @ unknown
        num = rhs[single] - sub @ (x * known)
        exact = (coef != 0) & (num % np.where(coef == 0, 1, coef) == 0)
        conflicts += int((~exact).sum())
        cell, value, eq = cell[exact], num[exact] // coef[exact], single[exact]
        order = np.lexsort((eq, cell))
        cell, value, eq = cell[order], value[order], eq[order]
        first = np.r_[True, cell[1:] != cell[:-1]]
        group = np.cumsum(first) - 1
        differs = value != value[first][group]
        conflicts += int(np.unique(cell[differs]).size)
        cell, value, eq = cell[first], value[first], eq[first]
        known[cell] = True
        x[cell] = value
        source[cell] = eq
    return known, x, source, rounds, conflicts


def _eliminate(rows: list[dict[int, int]]) -> tuple[list[tuple[int, dict[int, int]]], int]:
    """Forward elimination modulo PRIME, pivoting on the column in the fewest rows (a column in one row costs
    nothing: peeling), the shortest row. Key -1 of a row is its right-hand side. Coefficients are kept as
    residues in (-PRIME/2, PRIME/2] (so the usual +-1 are Python's shared small integers). Returns the pivots
    (column, normalised row at pivot time) and the number of rows that reduced to 0 = non-zero
    (inconsistent)."""
    half = PRIME // 2
    col_rows: dict[int, set[int]] = {}
    for i, row in enumerate(rows):
        for c in row:
            if c != -1:
                col_rows.setdefault(c, set()).add(i)
    heap = [(len(s), c) for c, s in col_rows.items()]
    heapq.heapify(heap)
    pivots: list[tuple[int, dict[int, int]]] = []
    inconsistent = 0
    live: list[dict[int, int] | None] = list(rows)
    del rows
    while heap:
        d, c = heapq.heappop(heap)
        s = col_rows.get(c)
        if s is None or len(s) != d:
            continue
        if d == 0:
            del col_rows[c]
            continue
        ri = min(s, key=lambda i: len(live[i]))  # type: ignore[arg-type]
        prow = live[ri]
        live[ri] = None
        assert prow is not None
        pc = prow[c]
        if pc != 1:
            inverse = pow(pc, PRIME - 2, PRIME)
            prow = {k: (w if (w := v * inverse % PRIME) <= half else w - PRIME) for k, v in prow.items()}
        for k in prow:
            if k != -1:
                col_rows[k].discard(ri)
        for i in list(s):
            row = live[i]
            assert row is not None
            f = row[c]
            for k, v in prow.items():
                nv = (row.get(k, 0) - f * v) % PRIME
                if nv:
                    if nv > half:
                        nv -= PRIME
                    if k not in row and k != -1:
                        col_rows[k].add(i)
                    row[k] = nv
                elif k in row:
                    del row[k]
                    if k != -1:
                        col_rows[k].discard(i)
            if len(row) <= 1 and (not row or -1 in row):
                inconsistent += bool(row)
                live[i] = None
        del col_rows[c]
        pivots.append((c, prow))
        for k in prow:
            if k != -1 and k != c:
                heapq.heappush(heap, (len(col_rows[k]), k))
    return pivots, inconsistent


def _determined(pivots: list[tuple[int, dict[int, int]]], rng: np.random.Generator) -> dict[int, int]:
    """Pivot columns that take the same value in every solution, with that value. Two random vectors of the null
    space (free columns random, pivots by back substitution): a column that is not fixed is non-zero in such a
    vector with probability 1 - 1/PRIME; a fixed one is zero in all. The value from a particular solution."""
    x: dict[int, tuple[int, int, int]] = {}
    seeds = iter(rng.integers(1, PRIME, size=(2 * sum(len(r) for _, r in pivots) + 2, 2)).tolist())
    for c, prow in reversed(pivots):
        s1 = s2 = s0 = 0
        for k, v in prow.items():
            if k == c or k == -1:
                continue
            xk = x.get(k)
            if xk is None:
                r1, r2 = next(seeds)
                xk = x[k] = (r1, r2, 0)
            s1 += v * xk[0]
            s2 += v * xk[1]
            s0 += v * xk[2]
        x[c] = (-s1 % PRIME, -s2 % PRIME, (prow.get(-1, 0) - s0) % PRIME)
    out = {}
    for c, _ in pivots:
        n1, n2, v = x[c]
        if n1 == 0 and n2 == 0:
            out[c] = v if v <= PRIME // 2 else v - PRIME
    return out


def _merge_equal(R: sp.csr_matrix, rhs: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, int]:
    """The same system, smaller: unknowns that an equation x - y = 0 says are equal become one (a repeated
    number), and equations that are then the same (up to sign) are kept once. Returns the equations over the
    merged unknowns, their right-hand sides, the merged unknown of each column, and the number of equations
    that reduced to 0 = non-zero (inconsistent)."""
    n_rows, n = R.shape
    R = R.tocsr()
    start = R.indptr[:-1]
    pair = (np.diff(R.indptr) == 2) & (rhs == 0)
    pair[pair] = R.data[start[pair]] == -R.data[start[pair] + 1]
    a, b = R.indices[start[pair]], R.indices[start[pair] + 1]
    graph = sp.coo_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(n, n))
    k, label = connected_components(graph, directed=False)
    M = R.tocoo()
    R2 = sp.csr_matrix((M.data, (M.row, label[M.col])), shape=(n_rows, k), dtype=np.int64)
    R2.sum_duplicates()
    R2.eliminate_zeros()
    nnz = np.diff(R2.indptr)
    inconsistent = int(((nnz == 0) & (rhs != 0)).sum())
    keep = np.nonzero(nnz > 0)[0]
    R2, rhs2 = R2[keep], rhs[keep]
    if not keep.size:
        return R2, rhs2, label, inconsistent
    # one row per distinct equation: two random 64-bit hashes of (columns, coefficients, rhs), sign-normalised
    rng = np.random.default_rng(12345)
    w1, w2 = rng.integers(0, 2**63, size=(2, k + 1), dtype=np.uint64)
    with np.errstate(over="ignore"):
        data = R2.data.astype(np.uint64)
        h1 = np.add.reduceat(data * w1[R2.indices], R2.indptr[:-1]) + rhs2.astype(np.uint64) * w1[k]
        h2 = np.add.reduceat(data * w2[R2.indices], R2.indptr[:-1]) + rhs2.astype(np.uint64) * w2[k]
        flip = (np.uint64(0) - h1) < h1
        h1 = np.where(flip, np.uint64(0) - h1, h1)
        h2 = np.where(flip, np.uint64(0) - h2, h2)
    _, first = np.unique(np.stack([h1, h2], axis=1), axis=0, return_index=True)
    first.sort()
    return R2[first], rhs2[first], label, inconsistent


def _exact(R: sp.csr_matrix, rhs: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The columns of R that every solution of R x = rhs fixes, with their values, and the number of
    inconsistent equations (0 when the identities are true)."""
    if not R.shape[0]:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    M, b, label, inconsistent = _merge_equal(R, rhs)
    rows = []
    indices, data, indptr = M.indices.tolist(), M.data.tolist(), M.indptr.tolist()
    for i, r in enumerate(b.tolist()):
        row = dict(zip(indices[indptr[i] : indptr[i + 1]], data[indptr[i] : indptr[i + 1]], strict=True))
        if r:
            row[-1] = r
        rows.append(row)
    del M, indices, data
    pivots, more = _eliminate(rows)
    fixed = _determined(pivots, np.random.default_rng(seed))
    merged = np.zeros(int(label.max()) + 1, dtype=bool)
    value = np.zeros(merged.size, dtype=np.int64)
    if fixed:
        keys = np.fromiter(fixed.keys(), dtype=np.int64, count=len(fixed))
        merged[keys] = True
        value[keys] = np.fromiter(fixed.values(), dtype=np.int64, count=len(fixed))
    in_rows = np.zeros(R.shape[1], dtype=bool)
    in_rows[R.indices] = True
    cols = np.nonzero(merged[label] & in_rows)[0]
    return cols, value[label[cols]], inconsistent + more


def _components(A: sp.csr_matrix) -> tuple[int, np.ndarray, np.ndarray]:
    """Connected components of the unknowns (columns) through the equations: (count, label per column, label
    per row)."""
    n_eq = A.shape[0]
    B = A.copy().tocsr()
    B.data = np.ones_like(B.data)
    graph = sp.bmat([[None, B], [B.T, None]], format="csr")
    count, labels = connected_components(graph, directed=False)
    return count, labels[n_eq:], labels[:n_eq]


# ---------------------------------------------------------------------------------------------------------
# the attack


def _describe_equation(at: Attack, cells: np.ndarray, coefs: np.ndarray) -> str:
    described = at.describe(cells)
    parts = []
    for d, k, c in zip(described, coefs.tolist(), cells.tolist(), strict=True):
        v = "withheld" if at.state[c] == WITHHELD else str(int(at.value[c]))
        parts.append(f"{'+' if k > 0 else '-'}{abs(k) if abs(k) != 1 else ''}{d.table}{list(d.key)}.{d.column}={v}")
    return " ".join(parts) + " != 0"


def attack(
    path: Path | str,
    *,
    schema: str | None = None,
    threshold: int | None = None,
    seed: int = 0,
    lp_components: int = 20,
    lp_largest: int = 3,
    lp_max_cells: int = 150,
    exact_max_cells: int | None = None,
    exact_total_cells: int = 5_000_000,
    keep_cells: bool = True,
) -> AttackResult:
    """Run the whole attack on a published file (or, with schema="marts", on the warehouse: nothing is withheld
    there and the identities are checked on every instance)."""
    clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = now - clock
        clock = now

    at = Attack(path, schema=schema, threshold=threshold)
    t = at.threshold
    res = AttackResult(path=str(path), threshold=t, seconds=seconds)
    res.rows = {n: tb.rows for n, tb in at.tables.items()}
    res.cells = int((at.state != ABSENT).sum())
    withheld = at.state == WITHHELD
    res.withheld = int(withheld.sum())
    for tb in at.tables.values():
        res.withheld_by_table[tb.name] = int(withheld[tb.base : tb.base + tb.rows * tb.k].sum())
    res.withheld_listed_but_shown = at.listed_but_shown
    res.derived_exposed = at.derived_exposed()
    lap("read")

    eq, cell, coef, kind_of_eq, names = at.equations(res.skipped_kinds)
    n_eq = int(eq.max()) + 1 if eq.size else 0
    res.equations, res.memberships = n_eq, int(eq.size)
    lap("equations")

    # check every kind on its fully shown instances
    cw = withheld[cell]
    n_withheld = np.bincount(eq, weights=cw, minlength=n_eq).astype(np.int64)
    shown_part = np.where(cw, 0, coef * at.value[cell])
    residual = np.zeros(n_eq, dtype=np.int64)
    np.add.at(residual, eq, shown_part)
    fully_shown = n_withheld == 0
    violated = fully_shown & (residual != 0)
    nk = len(names)
    instances = np.bincount(kind_of_eq, minlength=nk)
    shown = np.bincount(kind_of_eq[fully_shown], minlength=nk)
    bad = np.bincount(kind_of_eq[violated], minlength=nk)
    order = np.argsort(eq, kind="stable")
    starts = np.searchsorted(eq[order], np.arange(n_eq + 1))
    for k, name in enumerate(names):
        ks = KindStats(name, int(instances[k]), int(shown[k]), int(instances[k] - shown[k]), int(bad[k]))
        if ks.violations:
            for e in np.nonzero(violated & (kind_of_eq == k))[0][:3]:
                members = order[starts[e] : starts[e + 1]]
                ks.examples.append(_describe_equation(at, cell[members], coef[members]))
        res.kinds.append(ks)
    good_kind = bad == 0
    use = good_kind[kind_of_eq] & (n_withheld > 0)
    res.equations_used = int(use.sum())
    lap("check")

    # the system over the withheld cells
    wid = np.nonzero(withheld)[0]
    umap = np.full(at.state.shape, -1, dtype=np.int64)
    umap[wid] = np.arange(wid.size)
    used_eq = np.nonzero(use)[0]
    emap = np.full(n_eq, -1, dtype=np.int64)
    emap[used_eq] = np.arange(used_eq.size)
    m = use[eq] & cw
    A = sp.csr_matrix((coef[m], (emap[eq[m]], umap[cell[m]])), shape=(used_eq.size, wid.size), dtype=np.int64)
    A.sum_duplicates()
    A.eliminate_zeros()
    rhs = -residual[used_eq]
    eq_kind = kind_of_eq[used_eq]
    del eq, cell, coef, cw, shown_part, residual, order, starts, m, kind_of_eq, n_withheld

    known, x, source, res.rounds, res.conflicts = _substitute(A, rhs)
    rec = np.nonzero(known)[0]
    signed = at.signed[wid]
    res.recovered = int(rec.size)
    res.recovered_small = int(((x[rec] >= 1) & (x[rec] <= t - 1) & ~signed[rec]).sum())
    res.negative = int(((x[rec] < 0) & ~signed[rec]).sum())
    res.recovered_differences = int(signed[rec].sum())
    if rec.size:
        labels, counts = np.unique(at.table_of(wid[rec]), return_counts=True)
        res.recovered_by_column = {
            str(a): int(b) for a, b in sorted(zip(labels, counts, strict=True), key=lambda p: -p[1])
        }
        labels, counts = np.unique(eq_kind[source[rec]], return_counts=True)
        res.recovered_by_kind = {
            names[a]: int(b) for a, b in sorted(zip(labels, counts, strict=True), key=lambda p: -p[1])
        }
    res.recovered_ids, res.recovered_values = wid[rec], x[rec]
    if keep_cells:
        res.recovered_cells = at.describe(wid[rec], x[rec])
    rhs_left = rhs - A[:, known] @ x[known]
    R = A[:, ~known].tocsr()
    per_eq = np.diff(R.indptr)
    res.inconsistent = int(((per_eq == 0) & (rhs_left != 0)).sum())
    keep = per_eq > 0
    R, rhs_left = R[keep], rhs_left[keep]
    left = np.nonzero(~known)[0]  # residual column -> unknown index
    res.residual_cells, res.residual_equations = int(left.size), int(R.shape[0])
    lap("substitution")

    # components of what is left
    n_comp, col_label, row_label = _components(R)
    in_eq = np.diff(R.tocsc().indptr) > 0
    sizes = np.bincount(col_label[in_eq], minlength=n_comp)
    live = np.nonzero(sizes)[0]
    res.components = int(live.size)
    res.component_sizes = sorted(sizes[live].tolist(), reverse=True)[:10]
    lap("components")

    # exact: components by size, smallest first, within the budget
    by_size = live[np.argsort(sizes[live], kind="stable")]
    chosen = np.zeros(n_comp, dtype=bool)
    total = 0
    for c in by_size:
        if (exact_max_cells is not None and sizes[c] > exact_max_cells) or total + sizes[c] > exact_total_cells:
            break
        chosen[c] = True
        total += int(sizes[c])
    res.exact_components_checked = int(chosen.sum())
    res.exact_cells_checked = total
    res.exact_cells_not_checked = int(in_eq.sum()) - total
    rows_sel = np.nonzero(chosen[row_label])[0]
    cols, vals, res.exact_inconsistent = _exact(R[rows_sel], rhs_left[rows_sel], seed)
    ids = left[cols] if cols.size else cols
    res.exact_more = int(cols.size)
    res.exact_more_small = int(((vals >= 1) & (vals <= t - 1) & ~signed[ids]).sum()) if cols.size else 0
    res.determined_ids, res.determined_values = wid[ids], vals
    if keep_cells:
        res.determined_cells = at.describe(wid[ids], vals)
    lap("exact")

    # LP intervals on sampled components
    rng = np.random.default_rng(seed)
    candidates = live[(sizes[live] >= 2) & (sizes[live] <= lp_max_cells)]
    picked: list[int] = []
    if candidates.size:
        picked = rng.choice(candidates, size=min(lp_components, candidates.size), replace=False).tolist()
        for c in candidates[np.argsort(-sizes[candidates], kind="stable")][:lp_largest].tolist():
            if c not in picked:
                picked.append(c)
    Rc = R.tocsc()
    for comp in picked:
        ccols = np.nonzero((col_label == comp) & in_eq)[0]
        crows = np.nonzero(row_label == comp)[0]
        M = Rc[:, ccols].tocsr()[crows].toarray().astype(float)
        b = rhs_left[crows].astype(float)
        bounds = [(None, None) if s else (0, None) for s in signed[left[ccols]].tolist()]
        res.lp_components += 1
        res.lp_cells += int(ccols.size)
        for j in range(ccols.size):
            cost = np.zeros(ccols.size)
            cost[j] = 1.0
            lo = linprog(cost, A_eq=M, b_eq=b, bounds=bounds, method="highs")
            hi = linprog(-cost, A_eq=M, b_eq=b, bounds=bounds, method="highs")
            res.lp_programs += 2
            if lo.status != 0 or hi.status not in (0, 3):
                res.lp_failed += 1
                continue
            low = lo.fun
            high = np.inf if hi.status == 3 else -hi.fun
            cid = wid[left[ccols[j]]]
            zero = high - low < 0.5
            inside = not signed[left[ccols[j]]] and low >= 1 - 1e-6 and high <= t - 1 + 1e-6
            res.lp_zero_width += zero
            res.lp_primary_inside += inside
            if (zero or inside) and len(res.lp_examples) < 20:
                d = at.describe(np.array([cid]))[0]
                res.lp_examples.append(f"{d.table}{list(d.key)}.{d.column} in [{low:.2f}, {high:.2f}]")
    lap("lp")
    seconds["total"] = sum(seconds.values())
    at.con.close()
    return res


# ---------------------------------------------------------------------------------------------------------
# checking the attacker (used by the tests): the true values, and the solvers on a system given directly


def true_values(warehouse: Path | str) -> dict[tuple[str, tuple, str], int]:
    """Every count of the unsuppressed marts of a warehouse file (schema marts), by (table, key, column)."""
    values = {}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for table, keys in KEYS.items():
            cursor = con.execute(f"select * from marts.{table}")
            names = [d[0] for d in cursor.description]
            for record in cursor.fetchall():
                row = dict(zip(names, record, strict=True))
                key = tuple(row[k] for k in keys)
                for column, value in row.items():
                    if isinstance(value, int) and not isinstance(value, bool):
                        values[(table, key, column)] = value
    finally:
        con.close()
    return values


def wrong_values(result: AttackResult, warehouse: Path | str) -> list[Cell]:
    """The cells the attack recovered or determined with a value other than the warehouse's (kept cells only)."""
    truth = true_values(warehouse)
    return [c for c in result.recovered_cells + result.determined_cells if truth[(c.table, c.key, c.column)] != c.value]


def solve(
    eq: np.ndarray, cell: np.ndarray, coef: np.ndarray, value: np.ndarray, withheld: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The attack's two solvers on a system given directly: equations sum(coef * value of cell) = 0 as memberships
    (eq, cell, coef), cell values `value`, the cells in `withheld` unknown. Returns the withheld cells that
    substitution recovers and the ones exact linear algebra fixes (substitution's among them)."""
    wid = np.nonzero(withheld)[0]
    if not wid.size:
        return wid, wid
    n_eq = int(eq.max()) + 1
    column = np.full(withheld.shape, -1, dtype=np.int64)
    column[wid] = np.arange(wid.size)
    unknown = withheld[cell]
    A = sp.csr_matrix(
        (coef[unknown].astype(np.int64), (eq[unknown], column[cell[unknown]])), shape=(n_eq, wid.size), dtype=np.int64
    )
    A.sum_duplicates()
    A.eliminate_zeros()
    rhs = np.zeros(n_eq, dtype=np.int64)
    np.add.at(rhs, eq[~unknown], -coef[~unknown].astype(np.int64) * value[cell[~unknown]])
    known, *_ = _substitute(A, rhs)
    fixed, _, _ = _exact(A, rhs, seed)
    return wid[known], wid[fixed]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--schema", help="schema of the marts (default: main, as in a published file)")
    parser.add_argument("--threshold", type=int, help="default: publication_metadata.suppression_threshold")
    parser.add_argument("--lp-components", type=int, default=20)
    parser.add_argument("--lp-largest", type=int, default=3)
    parser.add_argument("--lp-max-cells", type=int, default=150)
    parser.add_argument("--exact-max-cells", type=int, help="largest component checked exactly (default: any)")
    parser.add_argument(
        "--exact-total-cells", type=int, default=5_000_000, help="cells checked exactly, smallest components first"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = attack(
        args.path,
        schema=args.schema,
        threshold=args.threshold,
        seed=args.seed,
        lp_components=args.lp_components,
        lp_largest=args.lp_largest,
        lp_max_cells=args.lp_max_cells,
        exact_max_cells=args.exact_max_cells,
        exact_total_cells=args.exact_total_cells,
        keep_cells=False,
    )
    print(result.summary())
    if args.schema is None and not result.found_nothing():
        print("the attack recovered or pinned down withheld cells: the publication does not keep its promise")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
