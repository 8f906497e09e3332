"""Reference data the row rules need: which municipality codes are in force on 1 January of a year."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from brukerplan.codes import REFERENCE_DIR


@dataclass(frozen=True)
class MunicipalityPeriod:
    code: str
    county_code: str
    valid_from: date
    valid_to: date | None  # exclusive; None = still in force


@dataclass(frozen=True)
class Municipalities:
    periods: tuple[MunicipalityPeriod, ...]

    def in_force(self, year: int) -> frozenset[str]:
        """Codes in force on 1 January of `year` (valid_from <= day < valid_to)."""
        day = date(year, 1, 1)
        return frozenset(
            p.code for p in self.periods if p.valid_from <= day and (p.valid_to is None or day < p.valid_to)
        )


@cache
def load_municipalities(path: Path = REFERENCE_DIR / "municipalities.csv") -> Municipalities:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return Municipalities(
        tuple(
            MunicipalityPeriod(
                code=r["municipality_code"],
                county_code=r["county_code"],
                valid_from=date.fromisoformat(r["valid_from"]),
                valid_to=date.fromisoformat(r["valid_to"]) if r["valid_to"] else None,
            )
            for r in rows
        )
    )
