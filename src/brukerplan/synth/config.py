"""Arguments of one generation and the declarative calibration parameters (params.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

PARAMS_PATH = Path(__file__).resolve().parent / "params.yaml"
DEFAULT_SEED = 20261125
DEFAULT_YEARS = (2013, 2024)
ALL_YEARS = f"{DEFAULT_YEARS[0]}-{DEFAULT_YEARS[1]}"  # every mapping year of the reference data, as --years takes it


@dataclass(frozen=True)
class SynthConfig:
    out: Path
    first_year: int = DEFAULT_YEARS[0]
    last_year: int = DEFAULT_YEARS[1]
    scale: float = 1.0
    seed: int = DEFAULT_SEED
    bad_inputs: bool = False

    @property
    def years(self) -> range:
        return range(self.first_year, self.last_year + 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "years": f"{self.first_year}-{self.last_year}",
            "scale": self.scale,
            "seed": self.seed,
            "bad_inputs": self.bad_inputs,
        }


def parse_years(text: str) -> tuple[int, int]:
    """'2013-2024' or '2019' -> (first, last); ValueError with a plain message otherwise."""
    parts = text.strip().split("-")
    if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"--years must look like 2013-2024 or 2019, got {text!r}")
    first, last = int(parts[0]), int(parts[-1])
    if first > last:
        raise ValueError(f"--years: first year {first} is after last year {last}")
    if first < DEFAULT_YEARS[0] or last > DEFAULT_YEARS[1]:
        raise ValueError(f"--years must lie within {ALL_YEARS} (the reference data), got {text!r}")
    return first, last


@cache
def load_params(path: Path = PARAMS_PATH) -> dict[str, Any]:
    import yaml  # here, not at the top: the command line imports this module for its defaults

    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def by_year(table: dict[int, float], year: int) -> float:
    """Piecewise-linear interpolation of a {year: value} table, constant outside its range."""
    points = sorted((int(k), float(v)) for k, v in table.items())
    if year <= points[0][0]:
        return points[0][1]
    for (y0, v0), (y1, v1) in pairwise(points):
        if y0 <= year <= y1:
            return v0 + (v1 - v0) * (year - y0) / (y1 - y0)
    return points[-1][1]
