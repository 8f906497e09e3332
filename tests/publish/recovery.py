"""An attacker's view of the published file, written independently of brukerplan.publish: the additive sets of
warehouse.md ("Publishing for BI") as equations over the published cells, and two ways to solve for withheld
cells: the "single unknown in an equation, solve, substitute" loop, and exact linear algebra (null space)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import duckdb
import numpy as np

Cell = tuple[str, tuple, str]  # (table, key values, column)
Equation = list[tuple[Cell, int]]  # sum(coef * value) = 0

GROUP_PARENT = {
    "rus_only": "rus",
    "rop_less_serious": "rus",
    "rop_serious": "rus",
    "rus_mental_unknown": "rus",
    "rus": "all",
    "mental": "all",
}
KEYS = {
    "mart_trends": ["geo_level", "geo_code", "mapping_year", "user_group"],
    "mart_living_conditions": ["geo_level", "geo_code", "mapping_year", "user_group", "area", "colour"],
    "mart_housing": ["geo_level", "geo_code", "mapping_year", "user_group"],
    "mart_services": ["geo_level", "geo_code", "mapping_year", "user_group", "service_code"],
    "mart_participation": ["geo_level", "geo_code", "mapping_year"],
    "mart_data_quality": ["municipality_code_registered", "mapping_year", "submission_id"],
}
# counts that add up over groups and geography (warehouse.md: counts at county and country level are sums)
ADDITIVE = {
    "mart_trends": ["persons", "persons_18plus", "men", "persons_approximate"],
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
        "received_set_known",
        "received_in_known_set",
        "recommended_set_known",
        "recommended_in_known_set",
        # the "at the next mapping" counts are not sums over geography or groups (each level has its own next
        # mapping), so they take part in no set here
    ],
    "mart_participation": ["registrations", "persons"],
}
# within a row: total, parts
ROW_SETS = {
    "mart_services": [
        ("received", ["status_continue", "status_end"]),
        ("recommended", ["status_continue", "status_new"]),
        ("persons_status_known", ["status_continue", "status_new", "status_end", "status_none"]),
    ],
    "mart_housing": [
        ("housing_red_yellow", ["housing_red", "housing_yellow"]),
        ("persons_housing_known", ["housing_green", "housing_yellow", "housing_red"]),
    ],
    # the fixture has three reject rules
    "mart_data_quality": [
        ("registrations_raw", ["registrations_landed", "rejected"]),
        ("rejected", ["rejected_r01", "rejected_r02", "rejected_r03"]),
    ],
}


class Published:
    """Cell values of a published file: None for a withheld cell (null and named in withheld_columns)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, tables: Iterable[str] = KEYS) -> None:
        self.rows: dict[str, list[dict]] = {}
        self.values: dict[Cell, int | None] = {}
        for table in tables:
            cursor = con.execute(f"select * from {table}")
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
            self.rows[table] = rows
            for row in rows:
                key = tuple(row[k] for k in KEYS[table])
                withheld = set(filter(None, (row.get("withheld_columns") or "").split(",")))
                for column, value in row.items():
                    if column in withheld:
                        assert value is None, f"{table} {key}: {column} is listed as withheld but has {value}"
                        self.values[(table, key, column)] = None
                    elif isinstance(value, int) and not isinstance(value, bool):
                        self.values[(table, key, column)] = value

    def has(self, cell: Cell) -> bool:
        return cell in self.values


def _parent_geo(level: str, code: str) -> tuple[str, str] | None:
    return {"municipality": ("county", code[:2]), "county": ("country", "NO")}.get(level)


def build_equations(pub: Published) -> list[Equation]:
    equations: list[Equation] = []
    # groups and geography: a total cell minus the sum of the cells of its children
    for table, columns in ADDITIVE.items():
        keys = KEYS[table]
        gi, li, ci = keys.index("user_group") if "user_group" in keys else None, 0, 1
        for kind in ("group", "geo"):
            if kind == "group" and gi is None:
                continue
            children: dict[Cell, list[Cell]] = defaultdict(list)
            for row in pub.rows[table]:
                key = tuple(row[k] for k in keys)
                if kind == "group":
                    parent_value = GROUP_PARENT.get(key[gi])
                    if parent_value is None:
                        continue
                    parent = (*key[:gi], parent_value, *key[gi + 1 :])
                else:
                    up = _parent_geo(key[li], key[ci])
                    if up is None:
                        continue
                    parent = (*up, *key[2:])
                for column in columns:
                    children[(table, parent, column)].append((table, key, column))
            for total, parts in children.items():
                if pub.has(total) and any(pub.has(p) for p in parts):
                    equations.append([(total, -1), *[(p, 1) for p in parts if pub.has(p)]])
    # within a row
    for table, sets in ROW_SETS.items():
        for row in pub.rows[table]:
            key = tuple(row[k] for k in KEYS[table])
            for total, parts in sets:
                cells = [(table, key, c) for c in (total, *parts)]
                if all(pub.has(c) for c in cells):
                    equations.append([(cells[0], -1), *[(c, 1) for c in cells[1:]]])
    # colours within an area: every colour row's persons_in_area (and persons_known) is the total
    areas: dict[tuple, list[dict]] = defaultdict(list)
    for row in pub.rows["mart_living_conditions"]:
        areas[tuple(row[k] for k in KEYS["mart_living_conditions"][:5])].append(row)
    for (level, code, year, group, area), rows in areas.items():
        colour_cells = [
            ("mart_living_conditions", (level, code, year, group, area, r["colour"]), "persons") for r in rows
        ]
        known_cells = [c for c, r in zip(colour_cells, rows, strict=True) if r["colour"] != "unknown"]
        trends = ("mart_trends", (level, code, year, group), "persons")
        for r in rows:
            key = (level, code, year, group, area, r["colour"])
            equations.append(
                [(("mart_living_conditions", key, "persons_in_area"), -1), *[(c, 1) for c in colour_cells]]
            )
            equations.append([(("mart_living_conditions", key, "persons_known"), -1), *[(c, 1) for c in known_cells]])
            if pub.has(trends):
                equations.append([(trends, -1), (("mart_living_conditions", key, "persons_in_area"), 1)])
        if area == "housing" and pub.has(("mart_housing", (level, code, year, group), "persons")):
            housing = (level, code, year, group)
            equations.append([(("mart_housing", housing, "persons"), -1), (trends, 1)])
            for r, cell in zip(rows, colour_cells, strict=True):
                if r["colour"] in ("green", "yellow", "red"):
                    equations.append([(("mart_housing", housing, f"housing_{r['colour']}"), -1), (cell, 1)])
    # previous mapping: previous_persons repeats persons of the previous mapping year
    for row in pub.rows["mart_trends"]:
        if row["previous_mapping_year"] is None:
            continue
        key = tuple(row[k] for k in KEYS["mart_trends"])
        previous = (row["geo_level"], row["geo_code"], row["previous_mapping_year"], row["user_group"])
        equations.append([(("mart_trends", key, "previous_persons"), -1), (("mart_trends", previous, "persons"), 1)])
    # participation: persons are the persons of group all
    for row in pub.rows["mart_participation"]:
        key = tuple(row[k] for k in KEYS["mart_participation"])
        trends = ("mart_trends", (*key, "all"), "persons")
        if pub.has(trends):
            equations.append([(("mart_participation", key, "persons"), -1), (trends, 1)])
    return [e for e in equations if all(pub.has(c) for c, _ in e)]


def check_equations_hold(equations: list[Equation], values: dict[Cell, int | None]) -> list[Equation]:
    """Equations whose cells are all known but do not add up (should be none on complete data)."""
    return [e for e in equations if all(values[c] is not None for c, _ in e) and sum(values[c] * k for c, k in e)]


def solve_by_substitution(equations: list[Equation], values: dict[Cell, int | None]) -> dict[Cell, int]:
    """Repeat: an equation with a single unknown gives it; substitute. Returns the recovered cells."""
    known = dict(values)
    recovered: dict[Cell, int] = {}
    progress = True
    while progress:
        progress = False
        for equation in equations:
            unknown = [(c, k) for c, k in equation if known[c] is None]
            if len(unknown) == 1:
                cell, coef = unknown[0]
                rest = sum(known[c] * k for c, k in equation if known[c] is not None)  # type: ignore[operator]
                known[cell] = -rest // coef
                recovered[cell] = known[cell]  # type: ignore[assignment]
                progress = True
    return recovered


P = 2_147_483_647  # a prime: exact elimination in GF(P); for +-1 systems of this size ranks agree with Q


def _unknown_rows(equations: list[Equation], values: dict[Cell, int | None]) -> list[dict[Cell, int]]:
    rows = []
    for equation in equations:
        row: dict[Cell, int] = {}
        for cell, coef in equation:
            if values[cell] is None:
                row[cell] = (row.get(cell, 0) + coef) % P
        row = {c: v for c, v in row.items() if v}
        if row:
            rows.append(row)
    return rows


def determined_by_linear_algebra(equations: list[Equation], values: dict[Cell, int | None]) -> list[Cell]:
    """Withheld cells whose value the equations fix, whatever else is withheld: the unknown x_j is fixed iff
    e_j lies in the row space of the system over the unknowns. Forward elimination, then back substitution
    to the reduced row echelon form; a pivot whose reduced row has no other entry is fixed."""
    order: list[Cell] = []
    pivot_rows: dict[Cell, dict[Cell, int]] = {}
    for row in _unknown_rows(equations, values):
        while True:
            hit = next((c for c in row if c in pivot_rows), None)
            if hit is None:
                break
            factor = row[hit]
            for c, v in pivot_rows[hit].items():
                value = (row.get(c, 0) - factor * v) % P
                if value:
                    row[c] = value
                else:
                    row.pop(c, None)
        if not row:
            continue
        pivot = max(row, key=repr)
        inverse = pow(row[pivot], P - 2, P)
        pivot_rows[pivot] = {c: v * inverse % P for c, v in row.items()}
        order.append(pivot)
    for pivot in reversed(order):
        row = pivot_rows[pivot]
        for other in [c for c in row if c != pivot and c in pivot_rows]:
            factor = row.pop(other)
            for c, v in pivot_rows[other].items():
                if c == other:
                    continue
                value = (row.get(c, 0) - factor * v) % P
                if value:
                    row[c] = value
                else:
                    row.pop(c, None)
    return sorted((p for p, row in pivot_rows.items() if len(row) == 1), key=repr)


def determined_by_svd(equations: list[Equation], values: dict[Cell, int | None]) -> list[Cell]:
    """The same question answered with floating-point SVD (for small systems: checks the exact solver)."""
    rows = [{c: k for c, k in e if values[c] is None} for e in equations]
    rows = [r for r in rows if r]
    cells = sorted({c for r in rows for c in r}, key=repr)
    if not cells:
        return []
    index = {c: i for i, c in enumerate(cells)}
    matrix = np.zeros((len(rows), len(cells)))
    for i, row in enumerate(rows):
        for cell, coef in row.items():
            matrix[i, index[cell]] += coef
    _, singular, vt = np.linalg.svd(matrix, full_matrices=True)
    null = vt[int((singular > 1e-8).sum()) :]
    return [c for j, c in enumerate(cells) if null.shape[0] == 0 or np.abs(null[:, j]).max() < 1e-8]


def attack(published: Path) -> tuple[Published, list[Equation], dict[Cell, int]]:
    """Read a published file and try substitution on it: (its cells, the equations, what was recovered)."""
    con = duckdb.connect(str(published), read_only=True)
    try:
        pub = Published(con)
    finally:
        con.close()
    equations = build_equations(pub)
    return pub, equations, solve_by_substitution(equations, pub.values)
