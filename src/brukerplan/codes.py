"""Code lists and layouts, loaded from the declarative files: seeds/codes/*.csv (shared with dbt) and
ingest/layouts.yaml. The readers and the synthetic generator both use this module, so a code or header is
written down exactly once."""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from brukerplan.settings import PROJECT_DIR

LAYOUTS_DIR = PROJECT_DIR / "ingest"
CODES_DIR = PROJECT_DIR / "seeds" / "codes"
REFERENCE_DIR = PROJECT_DIR / "seeds" / "reference"


def normalise(value: str) -> str:
    """How headers and codes are compared: trimmed, Unicode NFC, lower-case."""
    return unicodedata.normalize("NFC", value).strip().lower()


@dataclass(frozen=True)
class Area:
    code: str
    v12_header: str
    v3_suffix: str
    label_nb: str
    label_en: str


@dataclass(frozen=True)
class Service:
    code: str
    level: str
    v1_column: str | None
    v2_label: str | None
    v3_code: str
    label_nb: str
    label_en: str


@dataclass(frozen=True)
class Substance:
    code: str
    v2_label: str
    v3_suffix: str


@dataclass(frozen=True)
class Agency:
    code: str
    v2_label: str
    label_en: str


@dataclass(frozen=True)
class ColumnSpec:
    """One canonical column as one layout delivers it."""

    canonical: str
    header: str
    kind: str
    required: bool = False
    optional_for_municipal_scope: bool = False


@dataclass(frozen=True)
class ServiceColumn:
    """A v1/v2 yes/no column for one service and one set (received or recommended)."""

    service_code: str
    which: str  # "received" | "recommended"
    header: str


@dataclass(frozen=True)
class Layout:
    name: str
    years: tuple[int, ...] | None
    years_from: int | None
    columns: tuple[ColumnSpec, ...]
    constants: dict[str, str]
    service_kind: str  # "flags" | "list"
    service_columns: tuple[ServiceColumn, ...] = ()
    services_asked: tuple[str, ...] = ()
    list_none_token: str = "ingen"
    list_separator: str = ";"

    def covers_year(self, year: int) -> bool:
        if self.years is not None:
            return year in self.years
        return self.years_from is not None and year >= self.years_from

    @property
    def required_headers(self) -> tuple[str, ...]:
        """Headers counted for layout recognition (extract-format.md §6)."""
        return tuple(c.header for c in self.columns if c.required)

    def column(self, canonical: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.canonical == canonical), None)


@dataclass(frozen=True)
class CodeBook:
    """Every code list, per layout: raw value (normalised) -> canonical value."""

    values: dict[tuple[str, str], dict[str, str]]
    areas: tuple[Area, ...]
    services: tuple[Service, ...]
    substances: tuple[Substance, ...]
    agencies: tuple[Agency, ...]
    layouts: dict[str, Layout] = field(default_factory=dict)

    def lookup(self, code_list: str, layout: str, raw: str) -> str | None:
        """Canonical value of a raw value, or None when it is outside the code list."""
        return self.values.get((code_list, layout), {}).get(normalise(raw))

    def encode(self, code_list: str, layout: str, canonical: str) -> list[str]:
        """Raw spellings (normalised) of a canonical value in a layout, first = preferred."""
        return [raw for raw, canon in self.values.get((code_list, layout), {}).items() if canon == canonical]

    def layout_for_year(self, year: int) -> Layout:
        for layout in self.layouts.values():
            if layout.covers_year(year):
                return layout
        raise KeyError(f"no layout covers mapping year {year}")


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _build_layout(name: str, spec: dict, book_parts: dict) -> Layout:
    areas: tuple[Area, ...] = book_parts["areas"]
    services: tuple[Service, ...] = book_parts["services"]
    substances: tuple[Substance, ...] = book_parts["substances"]
    columns = [
        ColumnSpec(
            canonical=canonical,
            header=column["header"],
            kind=column["kind"],
            required=bool(column.get("required", False)),
            optional_for_municipal_scope=bool(column.get("optional_for_municipal_scope", False)),
        )
        for canonical, column in spec["columns"].items()
    ]
    for area in areas:
        header = spec["area_header"].format(v12_header=area.v12_header, v3_suffix=area.v3_suffix)
        columns.append(ColumnSpec(canonical=f"area_{area.code}", header=header, kind="colour", required=True))
    if spec.get("substance_header"):
        for substance in substances:
            header = spec["substance_header"].format(v2_label=substance.v2_label, v3_suffix=substance.v3_suffix)
            columns.append(
                ColumnSpec(canonical=f"substance_{substance.code}", header=header, kind="code:substance_level")
            )
    service_spec = spec["services"]
    label_field = service_spec["label_field"]
    asked = tuple(s.code for s in services if getattr(s, label_field))
    service_columns: list[ServiceColumn] = []
    if service_spec["kind"] == "flags":
        for service in services:
            label = getattr(service, label_field)
            if not label:
                continue
            fmt = {"v1_column": service.v1_column, "v2_label": service.v2_label}
            service_columns.append(
                ServiceColumn(service.code, "received", service_spec["received_header"].format(**fmt))
            )
            service_columns.append(
                ServiceColumn(service.code, "recommended", service_spec["recommended_header"].format(**fmt))
            )
    return Layout(
        name=name,
        years=tuple(spec["years"]) if "years" in spec else None,
        years_from=spec.get("years_from"),
        columns=tuple(columns),
        constants=dict(spec.get("constants", {})),
        service_kind=service_spec["kind"],
        service_columns=tuple(service_columns),
        services_asked=asked,
        list_none_token=service_spec.get("none_token", "ingen"),
        list_separator=service_spec.get("separator", ";"),
    )


@cache
def load_codebook(codes_dir: Path = CODES_DIR, layouts_dir: Path = LAYOUTS_DIR) -> CodeBook:
    values: dict[tuple[str, str], dict[str, str]] = {}
    for row in _read_csv(codes_dir / "code_values.csv"):
        values.setdefault((row["code_list"], row["layout"]), {})[normalise(row["raw_value"])] = row["canonical_value"]
    areas = tuple(
        Area(r["area_code"], r["v12_header"], r["v3_suffix"], r["label_nb"], r["label_en"])
        for r in _read_csv(codes_dir / "areas.csv")
    )
    services = tuple(
        Service(
            r["service_code"],
            r["level"],
            r["v1_column"] or None,
            r["v2_label"] or None,
            r["v3_code"],
            r["label_nb"],
            r["label_en"],
        )
        for r in _read_csv(codes_dir / "services.csv")
    )
    substances = tuple(
        Substance(r["substance_code"], r["v2_label"], r["v3_suffix"]) for r in _read_csv(codes_dir / "substances.csv")
    )
    agencies = tuple(
        Agency(r["agency_code"], r["v2_label"], r["label_en"]) for r in _read_csv(codes_dir / "agencies.csv")
    )
    # v3 service lists use the v3 codes: register them as a code list so lookups are uniform.
    values[("service", "v3")] = {normalise(s.v3_code): s.code for s in services}
    parts = {"areas": areas, "services": services, "substances": substances}
    with open(layouts_dir / "layouts.yaml", encoding="utf-8") as handle:
        layout_specs = yaml.safe_load(handle)["layouts"]
    layouts = {name: _build_layout(name, spec, parts) for name, spec in layout_specs.items()}
    return CodeBook(
        values=values, areas=areas, services=services, substances=substances, agencies=agencies, layouts=layouts
    )
