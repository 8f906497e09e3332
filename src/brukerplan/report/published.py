"""Reading the published file (warehouse.md "Publishing for BI"): the marts, the dimensions and
`publication_metadata`, read-only, with a few large queries, then closed. Nothing else is ever read, so a
report cannot show what suppression withheld.

A withheld cell is NULL and its row's `<column>_withheld` flag is true (docs/publishing.md "Withheld cells"). A
NULL without a true flag is no figure (e.g. a rate with no population, no previous mapping), never withheld."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import duckdb

from brukerplan.report.config import ReportConfig

GEO_LEVELS = ("municipality", "county", "country")
WITHHELD_FLAG = "_withheld"  # `<column>_withheld`: true where that cell of the row is withheld
COUNTRY_CODE = "NO"


class PublishedError(RuntimeError):
    """The published file is missing or lacks a table or column the reports need."""


class _Layout:
    """The columns of one published table: names, position of each, and the columns with a withheld flag."""

    __slots__ = ("flag_positions", "names", "position", "withheld_cells")

    def __init__(self, names: list[str]) -> None:
        self.names = tuple(names)
        self.position = {name: i for i, name in enumerate(names)}
        self.withheld_cells = self.position.get("withheld_cells")
        self.flag_positions = tuple(
            (c, self.position[c + WITHHELD_FLAG]) for c in names if c + WITHHELD_FLAG in self.position
        )


class Row:
    """One row of a published table: `get(column)`, `values` (column -> value) and `withheld` (the columns whose
    `<column>_withheld` flag is true). Built from the fetched tuple when a page first asks for the row: a
    report reads a small part of the file's million rows (docs/decisions.md R12)."""

    __slots__ = ("_layout", "_raw", "_values", "_withheld")

    def __init__(self, layout: _Layout, raw: tuple[Any, ...]) -> None:
        self._layout = layout
        self._raw = raw
        self._values: dict[str, Any] | None = None
        self._withheld: frozenset[str] | None = None

    def get(self, column: str) -> Any:
        position = self._layout.position.get(column)
        return None if position is None else self._raw[position]

    @property
    def values(self) -> dict[str, Any]:
        if self._values is None:
            self._values = dict(zip(self._layout.names, self._raw, strict=True))
        return self._values

    @property
    def withheld(self) -> frozenset[str]:
        if self._withheld is None:
            self._withheld = _withheld_of(self._layout, self._raw)
        return self._withheld


class Table(Mapping[tuple[Any, ...], Row]):
    """The rows of one published table by their key columns' values (the last row wins, as in a dict)."""

    def __init__(self, names: list[str], keys: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        self._layout = _Layout(names)
        positions = [self._layout.position[k] for k in keys]
        if len(positions) == 1:
            only = positions[0]
            self._raw = {(r[only],): r for r in rows}
        else:
            self._raw = dict(zip(map(itemgetter(*positions), rows), rows, strict=True))
        self._rows: dict[tuple[Any, ...], Row] = {}

    def __getitem__(self, key: tuple[Any, ...]) -> Row:
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = Row(self._layout, self._raw[key])
        return row

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, key: object) -> bool:
        return key in self._raw

    def column(self, column: str) -> Iterator[tuple[tuple[Any, ...], Any]]:
        """(key, value of `column`) of every row, without building the rows."""
        position = self._layout.position.get(column)
        for key, raw in self._raw.items():
            yield key, (None if position is None else raw[position])


@dataclass
class Geography:
    level: str
    code: str
    name: str
    county_code: str | None
    years: set[int] = field(default_factory=set)

    @property
    def slug(self) -> str:
        return f"{self.level}-{self.code}"


@dataclass
class Published:
    path: Path
    threshold: int
    metadata: dict[str, Any]
    tables: dict[str, Table]
    keys: dict[str, tuple[str, ...]]
    geographies: dict[tuple[str, str], Geography]
    years: tuple[int, ...]
    labels: dict[str, dict[str, dict[str, str]]]  # dimension -> code -> {label_nb, label_en}
    service_order: tuple[str, ...]
    data_quality: dict[tuple[str, str, int], list[Row]]
    # dim_municipality by code as registered: one entry per validity period (valid_from, valid_to, name,
    # municipality_code = the harmonised code, county_code)
    municipalities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def row(self, table: str, **key: Any) -> Row | None:
        try:
            index = tuple(key[k] for k in self.keys[table])
        except KeyError as exc:
            raise PublishedError(f"{table}: key column {exc} not given") from exc
        return self.tables[table].get(index)

    def geography(self, level: str, code: str) -> Geography | None:
        return self.geographies.get((level, code))


EMPTY: frozenset[str] = frozenset()


def _withheld_of(layout: _Layout, raw: tuple[Any, ...]) -> frozenset[str]:
    """The columns of a row whose `<column>_withheld` flag is true."""
    if layout.withheld_cells is None or not raw[layout.withheld_cells]:
        return EMPTY
    return frozenset(c for c, position in layout.flag_positions if raw[position] is True)


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for table, column in con.execute(
        "select table_name, column_name from information_schema.columns where table_schema = 'main'"
    ).fetchall():
        found[table].add(column)
    return found


def _metadata(con: duckdb.DuckDBPyConnection, columns: set[str]) -> dict[str, Any]:
    rows = _fetch(con, "select * from publication_metadata")
    if {"key", "value"} <= columns:
        return {str(r["key"]): r["value"] for r in rows}
    return dict(rows[0]) if rows else {}


def _labels(con: duckdb.DuckDBPyConnection, table: str, key: str, columns: set[str]) -> dict[str, dict[str, str]]:
    if key not in columns:
        return {}
    wanted = [c for c in ("label_nb", "label_en", "name_nb", "name_en", "sort_order") if c in columns]
    if not wanted:
        return {}
    rows = _fetch(con, f"select {key}, {', '.join(wanted)} from {table}")
    return {str(r[key]): {c: r[c] for c in wanted} for r in rows}


def _harmonised_map(con: duckdb.DuckDBPyConnection, columns: set[str]) -> list[dict[str, Any]]:
    needed = {"municipality_code_registered", "municipality_code"}
    if not needed <= columns:
        return []
    extra = [c for c in ("valid_from", "valid_to", "name", "county_code") if c in columns]
    return _fetch(
        con,
        f"select municipality_code_registered, municipality_code{''.join(', ' + c for c in extra)} "
        "from dim_municipality",
    )


def in_force(entry: dict[str, Any], year: int) -> bool:
    """Whether a dim_municipality entry is in force on 1 January of `year` (valid_to is exclusive)."""
    first_of_year = dt.date(year, 1, 1)
    valid_from, valid_to = entry.get("valid_from"), entry.get("valid_to")
    if isinstance(valid_from, dt.datetime):
        valid_from = valid_from.date()
    if isinstance(valid_to, dt.datetime):
        valid_to = valid_to.date()
    return (valid_from is None or valid_from <= first_of_year) and (valid_to is None or first_of_year < valid_to)


def _harmonise(mapping: dict[str, list[dict[str, Any]]], registered: str, year: int) -> str:
    """The harmonised code of a municipality code as registered in a year (identity when unknown)."""
    for entry in mapping.get(registered, ()):
        if in_force(entry, year):
            return str(entry["municipality_code"])
    entries = mapping.get(registered)
    return str(entries[-1]["municipality_code"]) if entries else registered


def load_published(path: Path, config: ReportConfig, default_threshold: int) -> Published:
    """Read everything the reports need from the published file in a few queries, then close it."""
    if not path.exists():
        raise PublishedError(f"published file not found: {path} (run `brukerplan publish` first)")
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = _columns(con)
        missing = [t for t in (*config.tables, "publication_metadata") if t not in columns]
        if missing:
            raise PublishedError(f"{path}: missing table(s) {', '.join(missing)}")
        for table, keys in config.tables.items():
            absent = [k for k in keys if k not in columns[table]]
            if absent:
                raise PublishedError(f"{path}: table {table} lacks key column(s) {', '.join(absent)}")
        metadata = _metadata(con, columns["publication_metadata"])
        threshold = int(metadata.get("suppression_threshold") or default_threshold)
        groups = list(config.groups)
        tables: dict[str, Table] = {}
        for table, keys in config.tables.items():
            where = " where user_group in (select unnest(?))" if "user_group" in keys else ""
            cursor = con.execute(f"select * from {table}{where}", [groups] if where else [])
            names = [d[0] for d in cursor.description]
            tables[table] = Table(names, tuple(keys), cursor.fetchall())
        labels = {
            "service": _labels(con, "dim_service", "service_code", columns.get("dim_service", set())),
            "area": _labels(con, "dim_area", "area_code", columns.get("dim_area", set()))
            or _labels(con, "dim_area", "area", columns.get("dim_area", set())),
        }
        municipality_rows = _harmonised_map(con, columns.get("dim_municipality", set()))
        county_names = {}
        if {"county_code", "name"} <= columns.get("dim_county", set()):
            county_names = {str(r["county_code"]): str(r["name"]) for r in _fetch(con, "select * from dim_county")}
    finally:
        con.close()

    mapping: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in municipality_rows:
        mapping[str(entry["municipality_code_registered"])].append(entry)

    geographies: dict[tuple[str, str], Geography] = {}
    years: set[int] = set()
    for (level, code, year, group), row in tables["mart_trends"].items():
        years.add(int(year))
        name = row.get("geo_name") or county_names.get(code) or code
        geo = geographies.get((level, code))
        if geo is None:
            county = code[:2] if level == "municipality" else None
            geo = geographies[(level, code)] = Geography(level, code, str(name), county)
        if group == "all":
            geo.years.add(int(year))
    for (level, code, year), row in tables["mart_participation"].items():
        years.add(int(year))
        if (level, code) not in geographies:
            name = row.get("geo_name") or county_names.get(code) or code
            county = code[:2] if level == "municipality" else None
            geographies[(level, code)] = Geography(level, code, str(name), county)

    data_quality: dict[tuple[str, str, int], list[Row]] = defaultdict(list)
    for (registered, year, _submission), row in tables["mart_data_quality"].items():
        harmonised = _harmonise(mapping, str(registered), int(year))
        for level, code in (("municipality", harmonised), ("county", harmonised[:2]), ("country", COUNTRY_CODE)):
            data_quality[(level, code, int(year))].append(row)

    service_labels = labels["service"]
    order_in_mart = {str(k[4]): order for k, order in tables["mart_services"].column("service_order")}
    service_order = tuple(
        sorted(
            order_in_mart,
            key=lambda s: (int(order_in_mart[s] or service_labels.get(s, {}).get("sort_order") or 999), s),
        )
    )
    return Published(
        path=path,
        threshold=threshold,
        metadata=metadata,
        tables=tables,
        keys=dict(config.tables),
        geographies=geographies,
        years=tuple(sorted(years)),
        labels=labels,
        service_order=service_order,
        data_quality=dict(data_quality),
        municipalities=dict(mapping),
    )
