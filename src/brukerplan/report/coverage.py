"""Partial coverage (warehouse.md "What the figures may mean", issue 14): a harmonised municipality M in a year
where only some of the registered municipalities that now form M mapped (Trondheim 2016: only Klæbu of
Trondheim and Klæbu). Its figures cover those municipalities only, and the pages say so ("delvis kartlagt:
Klæbu") instead of showing them as if they covered today's M.

From the published file only, with the definitions of the marts (rule 7, int_participation):
* whether: `mart_participation` at geo level municipality, 0 < `municipalities_participating` <
  `municipalities_in_force` (registered municipalities in force on 1 January that harmonise to M, and those of
  them with at least one current registration);
* which: the registered municipalities with a current submission in `mart_data_quality` (`is_current`), named
  by `dim_municipality` (the name of the code in force that year). When those do not add up to
  `municipalities_participating` (an older file), the notice gives the counts instead of names."""

from __future__ import annotations

from dataclasses import dataclass

from brukerplan.report.published import Published, in_force


@dataclass(frozen=True)
class Coverage:
    """Who of the registered municipalities that now form a municipality mapped in a year (only when partial)."""

    code: str
    year: int
    in_force: int
    participating: int
    mapped: tuple[str, ...]  # names of the registered municipalities that mapped; () when not known
    not_mapped: tuple[str, ...]  # names of those in force that did not; () when not known


def _flag(value: object) -> bool:
    return value is True or (isinstance(value, int | float) and bool(value)) or str(value).lower() == "true"


def registered_in_force(published: Published, code: str, year: int) -> dict[str, str]:
    """Registered code -> name of every municipality in force on 1 January `year` that harmonises to `code`."""
    found = {}
    for registered, entries in published.municipalities.items():
        for entry in entries:
            if str(entry.get("municipality_code")) == code and in_force(entry, year):
                found[registered] = str(entry.get("name") or registered)
    return found


def delivered(published: Published, code: str, year: int) -> set[str]:
    """Registered codes of `code` with a current submission in `year` (mart_data_quality.is_current; without
    that column, any submission that is not quarantined)."""
    codes = set()
    for row in published.data_quality.get(("municipality", code, year), []):
        if "is_current" in row.values:
            if not _flag(row.get("is_current")):
                continue
        elif _flag(row.get("is_quarantined")):
            continue
        codes.add(str(row.get("municipality_code_registered")))
    return codes


def partial_coverage(published: Published, code: str, year: int) -> Coverage | None:
    """The coverage of municipality `code` in `year` when only some of its registered municipalities mapped;
    None when all of them did, none did, or the published file does not say."""
    row = published.row("mart_participation", geo_level="municipality", geo_code=code, mapping_year=year)
    if row is None:
        return None
    total, participating = row.get("municipalities_in_force"), row.get("municipalities_participating")
    if total is None or participating is None or not 0 < int(participating) < int(total):
        return None
    names = registered_in_force(published, code, year)
    mapped = delivered(published, code, year) & set(names)
    if len(mapped) != int(participating) or len(names) != int(total):
        return Coverage(code, year, int(total), int(participating), (), ())
    return Coverage(
        code,
        year,
        int(total),
        int(participating),
        tuple(sorted(names[c] for c in mapped)),
        tuple(sorted(names[c] for c in names if c not in mapped)),
    )
