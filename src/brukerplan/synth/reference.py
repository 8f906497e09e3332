"""Reference data the generator needs: municipalities in force, counties, population 16+, the map to the
2024 structure (to follow a municipality through reforms) and the real Trøndelag participation."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from brukerplan.codes import REFERENCE_DIR


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    county: str
    pop16: int
    successor: str  # 2024 code with the largest weight: the "entity" followed through reforms


@dataclass(frozen=True)
class Reference:
    in_force: dict[int, tuple[Municipality, ...]]  # year -> municipalities in force on 1 January
    trondelag: dict[int, frozenset[str]]  # year -> codes that mapped (real pattern)

    def national_pop16(self, year: int) -> int:
        return sum(m.pop16 for m in self.in_force[year])


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load_reference(reference_dir: Path = REFERENCE_DIR) -> Reference:
    municipalities = _rows(reference_dir / "municipalities.csv")
    population = {
        (int(r["year"]), r["municipality_code"]): int(r["population_16plus"])
        for r in _rows(reference_dir / "population.csv")
    }
    successor: dict[str, tuple[float, str]] = {}
    for row in _rows(reference_dir / "municipality_map_2024.csv"):
        weight = float(row["weight"])
        code = row["municipality_code"]
        if code not in successor or weight > successor[code][0]:
            successor[code] = (weight, row["code_2024"])
    in_force: dict[int, tuple[Municipality, ...]] = {}
    for year in range(2013, 2025):
        day = date(year, 1, 1).isoformat()
        found = [
            Municipality(
                code=r["municipality_code"],
                name=r["name"],
                county=r["county_code"],
                pop16=population[(year, r["municipality_code"])],
                successor=successor[r["municipality_code"]][1],
            )
            for r in municipalities
            if r["valid_from"] <= day and (not r["valid_to"] or r["valid_to"] > day)
        ]
        in_force[year] = tuple(sorted(found, key=lambda m: m.code))
    trondelag: dict[int, set[str]] = {}
    for row in _rows(reference_dir / "trondelag_participation.csv"):
        trondelag.setdefault(int(row["mapping_year"]), set()).add(row["municipality_code"])
    return Reference(in_force=in_force, trondelag={y: frozenset(c) for y, c in trondelag.items()})
