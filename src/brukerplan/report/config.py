"""The declarative parts of the reports: report.yaml (what a page shows, from which published table) and
labels.yaml (bokmål and English texts). Loaded once per run into frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPORT_YAML = HERE / "report.yaml"
LABELS_YAML = HERE / "labels.yaml"
TEMPLATES_DIR = HERE / "templates"
LANGUAGES = ("nb", "en")


class ConfigError(ValueError):
    """report.yaml or labels.yaml is inconsistent."""


@dataclass(frozen=True)
class CellRef:
    """One published cell: a table, the key values beyond geography and year, and a column."""

    table: str
    column: str
    group: str | None = None
    area: str | None = None
    colour: str | None = None


@dataclass(frozen=True)
class KeyFigure:
    label: str
    group: str
    kind: str  # count | rate | share | change
    cell: CellRef | None = None
    ratio: tuple[CellRef, CellRef] | None = None
    parts: tuple[CellRef, ...] = ()
    previous: bool = False


@dataclass(frozen=True)
class ReportConfig:
    tables: dict[str, tuple[str, ...]]
    groups: tuple[str, ...]
    key_figure_groups: tuple[str, ...]
    trend_groups: tuple[str, ...]
    living_condition_groups: tuple[str, ...]
    housing_groups: tuple[str, ...]
    service_groups: tuple[str, ...]
    areas: tuple[str, ...]
    colours: tuple[str, ...]
    key_figures: tuple[KeyFigure, ...]
    headline: tuple[str, ...]
    housing_columns: tuple[tuple[str, str], ...]
    largest_gaps: int
    data_quality_columns: tuple[str, ...]
    palette: dict[str, str]
    series: dict[str, str]


def _cell(raw: dict[str, Any], default_group: str | None = None) -> CellRef:
    return CellRef(
        table=raw["table"],
        column=raw["column"],
        group=raw.get("group", default_group),
        area=raw.get("area"),
        colour=raw.get("colour"),
    )


def _key_figure(raw: dict[str, Any]) -> KeyFigure:
    group = raw["group"]
    if "ratio" in raw:
        ratio = (_cell(raw["ratio"]["numerator"], group), _cell(raw["ratio"]["denominator"], group))
        return KeyFigure(label=raw["label"], group=group, kind=raw["kind"], ratio=ratio)
    if "sum" in raw:
        parts = tuple(_cell(p, group) for p in raw["sum"])
        return KeyFigure(label=raw["label"], group=group, kind=raw["kind"], parts=parts)
    return KeyFigure(
        label=raw["label"],
        group=group,
        kind=raw["kind"],
        cell=_cell(raw, group),
        previous=bool(raw.get("previous", False)),
    )


def load_config(path: Path = REPORT_YAML) -> ReportConfig:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    config = ReportConfig(
        tables={name: tuple(keys) for name, keys in raw["tables"].items()},
        groups=tuple(raw["groups"]),
        key_figure_groups=tuple(raw["key_figure_groups"]),
        trend_groups=tuple(raw["trend_groups"]),
        living_condition_groups=tuple(raw["living_condition_groups"]),
        housing_groups=tuple(raw["housing_groups"]),
        service_groups=tuple(raw["service_groups"]),
        areas=tuple(raw["areas"]),
        colours=tuple(raw["colours"]),
        key_figures=tuple(_key_figure(k) for k in raw["key_figures"]),
        headline=tuple(raw["headline"]),
        housing_columns=tuple((c["column"], c["kind"]) for c in raw["housing_columns"]),
        largest_gaps=int(raw["largest_gaps"]),
        data_quality_columns=tuple(raw["data_quality_columns"]),
        palette=dict(raw["palette"]),
        series=dict(raw["series"]),
    )
    used = {
        *config.key_figure_groups,
        *config.trend_groups,
        *config.living_condition_groups,
        *config.housing_groups,
        *config.service_groups,
    }
    for figure in config.key_figures:
        cells = [figure.cell] if figure.cell else [*(figure.ratio or ()), *figure.parts]
        for cell in cells:
            if cell is None:
                continue
            used.add(cell.group or figure.group)
            if cell.table not in config.tables:
                raise ConfigError(f"report.yaml: key figure {figure.label!r} reads unknown table {cell.table!r}")
    ids = {f"{k.label}/{k.group}" for k in config.key_figures}
    unknown = [h for h in config.headline if h not in ids]
    if unknown:
        raise ConfigError(f"report.yaml: headline {unknown} are not key figures (label/group)")
    missing = sorted(g for g in used if g not in config.groups)
    if missing:
        raise ConfigError(f"report.yaml: groups {missing} are shown but not listed under `groups`")
    return config


def load_labels(lang: str, path: Path = LABELS_YAML) -> dict[str, Any]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if lang not in raw:
        raise ConfigError(f"labels.yaml has no language {lang!r}; choose one of {sorted(raw)}")
    return raw[lang]
